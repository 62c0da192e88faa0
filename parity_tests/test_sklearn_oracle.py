"""scikit-learn as a third oracle: its gradients on refmlp's weights, and its SGD runs."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import refmlp.sklearn_oracle as oracle
import refmlp.trajectory as trajectory
from refmlp.data import load_dataset
from refmlp.network import MLP, Layer, Spec
from refmlp.optim import SGD, gradients, parameters
from refmlp.sklearn_oracle import SklearnRunner, Unavailable, check_applicable, sklearn_parity
from refmlp.tolerance import TRAINING_RTOL as TOLERANCE
from refmlp.trajectory import batch_sequence, relative_deviation, run

CASES = oracle.AGREEMENT_CASES


def problem(dataset, loss, activation, hidden=(12, 8), dtype=np.float64, n=None):
    data = load_dataset(dataset)
    kind = "class" if loss == "cross_entropy" else "vector"
    spec = Spec.build(data.X.shape[1], hidden, data.n_outputs(kind), activation=activation, loss=loss)
    X, y = data.X[:n], data.targets(kind)[:n]
    return MLP(spec, init="torch", seed=0, dtype=dtype), X, y


@pytest.mark.parametrize("alpha", [0.0, 0.01])
@pytest.mark.parametrize("dataset,loss,activation", CASES, ids=[c[0] for c in CASES])
def test_sklearn_gradients_match_refmlp_and_torch_layer_by_layer(dataset, loss, activation, alpha):
    net, X, y = problem(dataset, loss, activation, n=64)
    reports = sklearn_parity(net, X, y, alpha=alpha)
    assert set(reports) == {"refmlp", "torch"}
    for side, report in reports.items():
        assert report.passed, report.message()
        labels = [row.label for row in report.rows]
        assert labels[:3] == ["h_1", "h_2", "h_3"] and labels[3] == "loss" and labels[4] == "g_3"
        assert labels[-3:] == ["g_1", "b_derivs_1", "W_derivs_1"]


def test_the_halved_squared_loss_must_be_doubled(monkeypatch):
    # without c = 2 scikit-learn's squared-loss gradients are half of refmlp's: the report says so
    net, X, y = problem("diabetes", "squared", "tanh", n=32)
    monkeypatch.setitem(oracle.PAIRS, ("squared", "identity"), ("MLPRegressor", 1.0))
    report = sklearn_parity(net, X, y, against=("refmlp",))["refmlp"]
    assert report.first_divergence == {"layer": None, "quantity": "loss"}
    g3 = next(r for r in report.rows if r.label == "g_3")
    assert g3.verdict == "fail" and g3.actual_at_worst == pytest.approx(2 * g3.expected_at_worst)


def test_alpha_is_an_l2_term_on_the_weights_only(monkeypatch):
    net, X, y = problem("moons", "logistic", "tanh", n=32)
    monkeypatch.setattr(oracle, "with_l2", lambda trace, *args: trace)  # forget the L2 gradient
    report = sklearn_parity(net, X, y, alpha=0.5, against=("refmlp",))["refmlp"]
    verdicts = {row.label: row.verdict for row in report.rows}
    assert verdicts["W_derivs_3"] == verdicts["W_derivs_1"] == "fail"
    assert verdicts["b_derivs_3"] == verdicts["b_derivs_1"] == verdicts["g_1"] == "pass"


@pytest.mark.parametrize(
    "spec,fragment",
    [
        (Spec.build(2, [4], 1, activation="leaky_relu", loss="logistic"),
         "no leaky_relu hidden activation; it has identity, logistic, tanh, relu"),
        (Spec.build(2, [4], 1, activation="tanh", loss="absolute"),
         "no identity output with the absolute loss"),
        (Spec.build(2, [4], 3, activation="tanh", loss="logistic"), "multi-label"),
        (Spec(2, (Layer(4, "tanh"), Layer(4, "relu"), Layer(1, "logistic")), "logistic"),
         "one activation for every hidden layer"),
    ],
    ids=["leaky_relu", "absolute-loss", "multilabel", "mixed-hidden"],
)
def test_networks_scikit_learn_does_not_have_are_unavailable_with_the_reason(spec, fragment):
    with pytest.raises(Unavailable) as err:
        check_applicable(MLP(spec))
    assert fragment in str(err.value)


def test_an_unknown_backprop_signature_is_unavailable_not_a_crash(monkeypatch):
    monkeypatch.setattr(oracle, "KNOWN_BACKPROP", {("X", "y", "something_else"): True})
    net, X, y = problem("moons", "logistic", "tanh", n=8)
    with pytest.raises(Unavailable, match=r"_backprop takes \('X', 'y', 'sample_weight'"):
        sklearn_parity(net, X, y)


def test_no_scikit_learn_is_unavailable(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(Unavailable, match="scikit-learn is not installed"):
        oracle.backprop_form()
    assert oracle.main() == 2  # python -m refmlp.sklearn_oracle: the reason, not a traceback
    assert "unavailable: scikit-learn is not installed: pip install scikit-learn" in capsys.readouterr().err


@pytest.mark.parametrize("options", [{}, dict(momentum=0.9), dict(momentum=0.9, nesterov=True)],
                         ids=["plain", "momentum", "nesterov"])
@pytest.mark.parametrize("dataset,loss,activation", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_one_epoch_of_sklearns_own_sgd_loop_matches_refmlp(dataset, loss, activation, options):
    # scikit-learn's own epoch (one partial_fit over the permuted data, its batches in order)
    # against refmlp's SGD over the same batches; torch's SGD rule in scikit-learn's form
    net, X, y = problem(dataset, loss, activation)
    Xn, Y = net.forward(X).h[0], net.targets(y, len(X))
    runner = SklearnRunner(MLP(net.spec, net.W, net.b), Xn, Y, "sgd", 0.05, options, "mean")
    runner.est.batch_size = 32
    batches = next(batch_sequence(len(X), 32, 1, seed=0))
    runner.epoch(np.concatenate(batches))
    opt = SGD(lr=0.05, **options)
    for idx in batches:
        opt.step(parameters(net), gradients(net.backward(Xn[idx], Y[idx], "mean")))
    deviation = relative_deviation(*runner.weights(), net.W, net.b)
    # the same tolerance as torch's: the same rule, and gradients that agree to ~1e-15
    assert deviation.max() <= TOLERANCE["float64"], deviation
    start = MLP(net.spec, init="torch", seed=0)
    assert relative_deviation(*runner.weights(), start.W, start.b).max() > 1e-3  # it did train


def test_sklearn_runs_side_by_side_within_tolerance_for_sgd_and_reported_for_adam():
    net, X, y = problem("moons", "logistic", "tanh")
    traj = run(net, X, y, optimizer="sgd", lr=0.1, options=dict(momentum=0.9, nesterov=True),
               batch_size=32, steps=100, compare=("torch", "sklearn"))
    assert traj.within("sklearn") and traj.within("torch") and "sklearn" not in traj.notes
    net, X, y = problem("moons", "logistic", "tanh")
    traj = run(net, X, y, optimizer="adam", lr=0.01, batch_size=32, steps=30, compare=("sklearn",))
    assert "eps before the bias correction" in traj.notes["sklearn"]
    assert traj.max_deviation("sklearn") > TOLERANCE["float64"]  # measured 7.6e-5: not exact


def test_sklearns_adam_is_torchs_with_eps_before_the_bias_correction(monkeypatch):
    # the note's explanation, checked: move eps in refmlp's Adam and the two agree to rounding
    # (measured 4.4e-16 over 30 steps, against 7.6e-5 with torch's placement)
    from test_trajectory import EpsBeforeBiasCorrection

    monkeypatch.setattr(trajectory, "make_optimizer",
                        lambda name, lr, **o: EpsBeforeBiasCorrection(lr=lr, **o))
    net, X, y = problem("moons", "logistic", "tanh")
    traj = run(net, X, y, optimizer="adam", lr=0.01, batch_size=32, steps=30, compare=("sklearn",))
    assert traj.max_deviation("sklearn") <= TOLERANCE["float64"], traj.max_deviation("sklearn")


@pytest.mark.parametrize(
    "optimizer,options,reduction,fragment",
    [
        ("sgd", dict(dampening=0.1, momentum=0.9), "mean", "no dampening"),
        ("sgd", dict(weight_decay=0.1), "mean", "no weight_decay"),
        ("adam", dict(amsgrad=True), "mean", "no amsgrad"),
        ("adamw", {}, "mean", "no 'adamw' optimizer"),
        ("sgd", {}, "sum", "reduction 'mean'"),
    ],
)
def test_runs_outside_sklearn_are_unavailable(optimizer, options, reduction, fragment):
    net, X, y = problem("moons", "logistic", "tanh", n=40)
    with pytest.raises(Unavailable) as err:
        SklearnRunner(net, net.forward(X).h[0], net.targets(y, 40), optimizer, 0.1, options, reduction)
    assert fragment in str(err.value)


def test_module_main_prints_every_case_and_passes(capsys):
    assert oracle.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + len(CASES) * 2 * 2 and all(line.endswith("pass") for line in lines[2:])
