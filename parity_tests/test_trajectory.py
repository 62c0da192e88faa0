"""Whole runs side by side: refmlp and torch.optim stay together step after step."""

from __future__ import annotations

import numpy as np
import pytest

import refmlp.trajectory as trajectory
from refmlp.losses import DEFAULT_FOR_TASK as DEFAULT_LOSS
from refmlp.data import load_dataset
from refmlp.network import MLP, Spec, train
from refmlp.optim import SGD, Adam
from refmlp.tolerance import TRAINING_RTOL as TOLERANCE
from refmlp.trajectory import PRESETS, batch_sequence, run

OPTIMIZERS = PRESETS


def problem(name, dtype=np.float64, hidden=(8, 8), activation="tanh"):
    data = load_dataset(name)
    loss = DEFAULT_LOSS[data.task]
    kind = "class" if loss == "cross_entropy" else "vector"
    spec = Spec.build(data.X.shape[1], hidden, data.n_outputs(kind), activation=activation, loss=loss)
    return MLP(spec, init="torch", seed=0, dtype=dtype), data.X, data.targets(kind)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("dataset", ["moons", "digits", "diabetes"])
def test_float64_runs_stay_within_1e9_for_200_steps(dataset, optimizer):
    name, lr, options = OPTIMIZERS[optimizer]
    net, X, y = problem(dataset)
    traj = run(net, X, y, optimizer=name, lr=lr, options=options, batch_size=32, steps=200)
    assert traj.steps == 200 and len(traj.loss["torch"]) == 200
    assert TOLERANCE["float64"] == 1e-9
    assert traj.within("torch"), (traj.first_exceeding, traj.max_deviation("torch"))
    # the run did learn something: the comparison is over a moving trajectory
    first, last = traj.epochs[0]["refmlp"]["loss"], traj.epochs[-1]["refmlp"]["loss"]
    assert last < 0.9 * first


@pytest.mark.parametrize("dataset,optimizer", [("moons", "sgd-nesterov"), ("digits", "adam"),
                                               ("diabetes", "adamw-amsgrad")])
def test_float32_runs_stay_within_their_tolerance(dataset, optimizer):
    name, lr, options = OPTIMIZERS[optimizer]
    net, X, y = problem(dataset, np.float32)
    traj = run(net, X, y, optimizer=name, lr=lr, options=options, batch_size=32, steps=200)
    assert traj.dtype == "float32" and traj.tolerance == TOLERANCE["float32"]
    assert traj.within("torch"), (traj.first_exceeding, traj.max_deviation("torch"))
    assert traj.max_deviation("torch") > 0  # float32 rounding does show: the figure is measured


class DampedFirstBuffer(SGD):
    """A plausible misreading of torch's SGD: b_1 = (1 - tau) g_1 instead of g_1."""

    def step(self, params, grads):
        if not self.buffers:
            for i, g in enumerate(grads):
                self.buffers[i] = np.zeros_like(g)
        super().step(params, grads)


class EpsBeforeBiasCorrection(Adam):
    """The Adam paper's epsilon-hat (and scikit-learn's): (sqrt(v) + eps) / sqrt(1 - beta2^t)."""

    def step(self, params, grads):
        beta2 = self.betas[1]
        self.eps = self.eps / (1 - beta2 ** (self.t + 1)) ** 0.5
        try:
            super().step(params, grads)
        finally:
            self.eps = self.eps * (1 - beta2 ** self.t) ** 0.5


class CoupledDecay(Adam):
    """AdamW's decay folded into the gradient (Adam with L2) instead of decoupled."""

    def __post_init__(self):
        super().__post_init__()
        self.decoupled = False


@pytest.mark.parametrize(
    "mutant,optimizer,options",
    [
        (lambda lr, **o: DampedFirstBuffer(lr=lr, **o), "sgd", dict(momentum=0.9, dampening=0.5)),
        (lambda lr, **o: EpsBeforeBiasCorrection(lr=lr, **o), "adam", {}),
        (lambda lr, **o: CoupledDecay(lr=lr, decoupled=True, **o), "adamw", dict(weight_decay=0.1)),
    ],
    ids=["sgd-damped-first-buffer", "adam-eps-before-bias-correction", "adamw-coupled-decay"],
)
def test_a_wrong_update_rule_is_caught_in_the_first_steps(monkeypatch, mutant, optimizer, options):
    monkeypatch.setattr(trajectory, "make_optimizer", lambda name, lr, **o: mutant(lr, **o))
    net, X, y = problem("moons")
    traj = run(net, X, y, optimizer=optimizer, lr=0.01, options=options, batch_size=32, steps=20)
    # measured after step 1: deviations 2e-3, 4e-5 (even with the default eps = 1e-8) and 6e-2,
    # against the tolerance 1e-9
    assert traj.first_exceeding["torch"] == 1


def test_same_batches_as_network_train():
    net, X, y = problem("moons")
    reference = MLP(net.spec, net.W, net.b)
    train(reference, X, y, epochs=2, lr=0.05, batch_size=50, reduction="mean", seed=3)
    traj = run(net, X, y, optimizer="sgd", lr=0.05, batch_size=50, epochs=2, seed=3, compare=())
    for k in range(1, net.L + 1):
        np.testing.assert_array_equal(net.W[k], reference.W[k])
    assert traj.names == ["refmlp"] and traj.steps == 2 * 4  # 200 samples, batches of 50


def test_batch_sequence_covers_every_sample_once_per_epoch():
    epochs = list(batch_sequence(10, 4, 2, seed=0))
    assert [len(b) for b in epochs[0]] == [4, 4, 2]
    for batches in epochs:
        assert sorted(np.concatenate(batches)) == list(range(10))
    assert not np.array_equal(np.concatenate(epochs[0]), np.concatenate(epochs[1]))


@pytest.mark.parametrize("dataset,metric", [("moons", "accuracy"), ("diabetes", "r2")])
def test_epochs_record_loss_and_metric_for_each_implementation(dataset, metric):
    net, X, y = problem(dataset)
    traj = run(net, X, y, optimizer="adam", lr=0.01, batch_size=64, epochs=3)
    assert [row["epoch"] for row in traj.epochs] == [0, 1, 2, 3]
    assert traj.metric == metric
    for row in traj.epochs:
        assert row["refmlp"]["loss"] == pytest.approx(row["torch"]["loss"], rel=1e-9)
        assert row["refmlp"][metric] == pytest.approx(row["torch"][metric], rel=1e-9)
    assert traj.epochs[-1]["refmlp"][metric] > traj.epochs[0]["refmlp"][metric]


def test_steps_cut_the_last_epoch_short():
    net, X, y = problem("moons")
    traj = run(net, X, y, optimizer="sgd", lr=0.1, batch_size=64, steps=6)  # 4 batches an epoch
    assert traj.steps == 6 and len(traj.epochs) == 3
    assert traj.deviation["torch"].shape == (6, net.L)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(epochs=1, steps=5), "give exactly one of epochs and steps"),
        (dict(epochs=1, compare=("jax",)), "unknown implementation to compare 'jax'"),
        (dict(epochs=1, reduction="max"), "unknown reduction 'max'"),
        (dict(epochs=1, batch_size=0), "batch size must be a positive integer; got 0"),
        (dict(steps=2.5), "steps must be a positive integer; got 2.5"),
    ],
)
def test_bad_arguments_are_refused(kwargs, fragment):
    net, X, y = problem("moons")
    with pytest.raises(ValueError) as err:
        run(net, X, y, **kwargs)
    assert fragment in str(err.value)


def test_a_diverging_run_is_stopped_and_fails_instead_of_comparing_nans():
    # warnings are errors in this suite: the run must detect the overflow itself, quietly
    net, X, y = problem("diabetes", hidden=(16, 16), activation="relu")
    traj = run(net, X, y, optimizer="sgd", lr=1.0, batch_size=32, epochs=3, reduction="sum")
    assert traj.diverged_at is not None and traj.steps == traj.diverged_at
    assert trajectory.verdict(traj) == "fail"
    assert "training diverged at step" in trajectory.render_table(traj, [])


def test_the_notes_per_sample_algorithm_stays_on_torchs_trajectory_too():
    # refmlp's backward as Algorithm 2 on each sample, the gradients summed (the course's loop)
    net, X, y = problem("moons", hidden=(6, 6))
    traj = run(net, X, y, optimizer="sgd", lr=0.01, options={"momentum": 0.9}, batch_size=16,
               steps=60, reduction="sum", path="per_sample")
    assert traj.within("torch"), traj.max_deviation("torch")
    assert traj.epochs[-1]["refmlp"]["loss"] < traj.epochs[0]["refmlp"]["loss"]


def test_importing_the_run_modules_imports_no_oracle():
    import subprocess
    import sys

    code = ("import sys, refmlp.trajectory, refmlp.sklearn_oracle, refmlp.plots; "
            "print(sorted({'torch', 'sklearn', 'matplotlib'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
