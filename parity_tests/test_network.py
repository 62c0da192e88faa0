"""The numpy network on its own: spec validation, init, dtypes, errors, the step and training."""

from __future__ import annotations

import numpy as np
import pytest

from refmlp import MLP, Spec, init_params, train
from refmlp.data import load_dataset


def test_spec_build_picks_the_losses_output_and_names_layers():
    spec = Spec.build(2, [100, 2], 1, activation="leaky_relu", loss="logistic",
                      names=["layer1", "layer2", "lastlayer"])
    assert [layer.activation.name for layer in spec.layers] == ["leaky_relu", "leaky_relu", "logistic"]
    assert [layer.name for layer in spec.layers] == ["layer1", "layer2", "lastlayer"]
    assert spec.sizes == [2, 100, 2, 1] and spec.L == 3
    assert Spec.build(4, [], 3, loss="cross_entropy").layers[-1].activation.name == "softmax"
    assert Spec.build(4, [3], 1, leaky_slope=0.2).layers[0].activation.params == {"slope": 0.2}


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(n_in=0, hidden=[3], n_out=1), "input size must be a positive integer; got 0"),
        (dict(n_in=2, hidden=[3, -1], n_out=1), "size of layer 2 must be a positive integer; got -1"),
        (dict(n_in=2, hidden=[3], n_out=1, loss="logistic", output_activation="tanh"),
         "loss 'logistic' cannot follow a 'tanh' output"),
        (dict(n_in=2, hidden=[3], n_out=2, activation="softmax", loss="cross_entropy"),
         "softmax can only be the output activation; got it at layer 1 of 2"),
        (dict(n_in=2, hidden=[3], n_out=1, names=["x", "x"]), "layer names must be unique"),
        (dict(n_in=2, hidden=[3], n_out=1, loss="hinge"), "unknown loss 'hinge'"),
        (dict(n_in=2, hidden=[3], n_out=1, activation="gelu"), "unknown activation 'gelu'"),
    ],
    ids=["input", "layer-size", "pairing", "softmax-hidden", "names", "loss", "activation"],
)
def test_spec_errors_say_what_was_received(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Spec.build(**kwargs)


def test_init_schemes_are_seeded_and_shaped():
    spec = Spec.build(50, [40], 3, loss="squared")
    W, b = init_params(spec, "torch", seed=0)
    assert W[0] is None and W[1].shape == (40, 50) and b[2].shape == (3,)
    # nn.Linear's default: uniform in +-1/sqrt(fan_in)
    assert np.abs(W[1]).max() <= 1 / np.sqrt(50) and np.abs(W[2]).max() <= 1 / np.sqrt(40)
    W2, _ = init_params(spec, "torch", seed=0)
    assert np.array_equal(W[1], W2[1])
    Wc, _ = init_params(spec, "course", seed=0)
    # 0.1 * N(0, 1) over 2000 draws: the sample std is within 10% of 0.1 with overwhelming odds
    assert 0.09 < Wc[1].std() < 0.11
    W32, _ = init_params(spec, "course", seed=0, dtype=np.float32)
    assert W32[1].dtype == np.float32 and np.array_equal(W32[1], Wc[1].astype(np.float32))
    with pytest.raises(ValueError, match="unknown init scheme 'xavier'"):
        init_params(spec, "xavier")


def test_float32_stays_float32_end_to_end():
    spec = Spec.build(3, [4], 2, activation="logistic", loss="cross_entropy")
    net = MLP(spec, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((5, 3))  # float64 in: cast once at the input
    for path in ("per_sample", "batched"):
        t = net.backward(X, [0, 1, 1, 0, 1], "mean", path)
        for lst in (t.a, t.h, t.g, t.W_derivs, t.b_derivs):
            assert all(v.dtype == np.float32 for v in lst[1:])


def test_input_errors_say_what_was_received():
    net = MLP(Spec.build(3, [4], 2, loss="squared"))
    with pytest.raises(ValueError, match=r"X must have shape \(B, 3\) with B >= 1; got shape \(5, 2\)"):
        net.backward(np.zeros((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"y must have shape \(5, 2\) for this network; got \(5,\)"):
        net.backward(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        net.backward(np.zeros((5, 3)), np.zeros((5, 2)), reduction="avg")
    with pytest.raises(ValueError, match="unknown path 'loop'"):
        net.backward(np.zeros((5, 3)), np.zeros((5, 2)), path="loop")
    with pytest.raises(ValueError, match=r"x must be one sample of shape \(3,\); got shape \(1, 3\)"):
        net.backprop(np.zeros((1, 3)), np.zeros(2))
    ce = MLP(Spec.build(3, [4], 3, loss="cross_entropy"))
    with pytest.raises(ValueError, match="labels must lie in 0..2 for 3 outputs; got labels from 0 to 3"):
        ce.backward(np.zeros((2, 3)), [0, 3])


def test_step_descends_by_lr_times_the_gradient():
    net = MLP(Spec.build(3, [4], 2, loss="squared"), seed=3)
    W0, b0 = [w.copy() for w in net.W[1:]], [v.copy() for v in net.b[1:]]
    t = net.backward(np.ones((2, 3)), np.zeros((2, 2)))
    net.step(t.W_derivs, t.b_derivs, 0.25)  # a power of 2: lr * grad is exact, so the check is too
    for k in (1, 2):
        assert np.array_equal(net.W[k], W0[k - 1] - 0.25 * t.W_derivs[k])
        assert np.array_equal(net.b[k], b0[k - 1] - 0.25 * t.b_derivs[k])


@pytest.mark.parametrize("path", ["per_sample", "batched"])
def test_training_on_moons_lowers_the_loss_and_is_deterministic(path):
    data = load_dataset("moons")
    spec = Spec.build(2, [16, 16], 1, activation="leaky_relu", loss="logistic")
    histories = []
    for _ in range(2):
        net = MLP(spec, init="torch", seed=0)
        histories.append(train(net, data.X, data.targets("vector"), epochs=30, lr=0.05,
                               batch_size=20, reduction="mean", path=path, seed=1))
    assert histories[0] == histories[1] and len(histories[0]) == 31
    # From chance level (log 2 = 0.69 per sample) to a clearly fitted network: moons is separable
    # enough that 30 epochs of this SGD reach well under half the starting loss.
    assert histories[0][-1] < 0.5 * histories[0][0]
    accuracy = ((net.predict(data.X)[:, 0] > 0.5) == data.labels).mean()
    assert accuracy > 0.85


def test_train_errors():
    net = MLP(Spec.build(2, [3], 1))
    with pytest.raises(ValueError, match="epochs must be a positive integer; got 0"):
        train(net, np.zeros((4, 2)), np.zeros(4), epochs=0, lr=0.1)
    with pytest.raises(ValueError, match="batch size must be a positive integer; got -2"):
        train(net, np.zeros((4, 2)), np.zeros(4), epochs=1, lr=0.1, batch_size=-2)


def test_non_finite_inputs_and_targets_are_refused():
    net = MLP(Spec.build(2, [3], 1, loss="squared"))
    X = np.zeros((3, 2))
    X[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite; got nan at index \(1, 0\)"):
        net.backward(X, np.zeros(3))
    with pytest.raises(ValueError, match=r"y must be finite; got inf at index \(2, 0\)"):
        net.backward(np.zeros((3, 2)), np.array([0.0, 1.0, np.inf]))
