"""The batched path's workspace (buffers reused, work in place) against the notes' algebra written
plainly with fresh arrays, and train() against its own definition, backward then step.

Both comparisons are bit for bit: the workspace runs the same float operations as the plain
algebra, only into buffers, so anything short of equality is a change of arithmetic, not rounding
noise to be tolerated.
"""

from __future__ import annotations

import numpy as np
import pytest

from refmlp import MLP, Spec, train
from refmlp.activations import HIDDEN_ACTIVATIONS
from refmlp.losses import PAIRINGS
from refmlp.network import Workspace, sgd_epoch

DTYPES = [np.float64, np.float32]


def plain_batched(net: MLP, X, Y, reduction):
    """The notes' batched algebra with a new array for every result (the path before workspaces)."""
    L, a, h = net.L, [None], [X]
    for k in range(1, L + 1):
        a.append(h[k - 1] @ net.W[k].T + net.b[k])
        h.append(net.f[k](a[k]))
    W_derivs, b_derivs, gs = [None] * (L + 1), [None] * (L + 1), [None] * (L + 1)
    g = net._est_lossderiv(a[L], h[L], Y)
    if reduction == "mean":
        g = g / Y.shape[0]
    for k in range(L, 0, -1):
        if k < L:
            g = g * net.fprime[k](a[k])
        gs[k], b_derivs[k], W_derivs[k] = g, g.sum(axis=0), g.T @ h[k - 1]
        if k > 1:
            g = g @ net.W[k]
    return a, h, gs, W_derivs, b_derivs


def targets_for(spec, rng, B):
    if spec.loss.target == "class":
        return rng.integers(0, spec.layers[-1].size, B)
    return (rng.random((B, spec.layers[-1].size)) < 0.5).astype(float) * 2 - 0.5


CASES = [(act, loss, out) for act in HIDDEN_ACTIVATIONS for loss, out in PAIRINGS]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("act,loss,output", CASES, ids=[f"{a}-{l}-{o}" for a, l, o in CASES])
def test_backward_equals_the_plain_algebra_bit_for_bit(act, loss, output, dtype):
    spec = Spec.build(5, [7, 6], 3, activation=act, loss=loss, output_activation=output)
    net = MLP(spec, init="torch", seed=1, dtype=dtype)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((9, 5)).astype(dtype)
    X[0, :] = 0  # pre-activations equal to b, and the kinks' own inputs below
    net.b[1][:3] = 0
    for reduction in ("sum", "mean"):
        Y = net.targets(targets_for(spec, rng, 9), 9)
        trace = net.backward(X, Y, reduction)
        expected = plain_batched(net, X, Y, reduction)
        for name, got, want in zip(("a", "h", "g", "W_derivs", "b_derivs"),
                                   (trace.a, trace.h, trace.g, trace.W_derivs, trace.b_derivs), expected):
            for k in range(1, net.L + 1):
                assert got[k].dtype == dtype, (name, k)
                assert np.array_equal(got[k], want[k]), (name, k, reduction)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("act,loss", [("leaky_relu", "cross_entropy"), ("tanh", "squared"),
                                      ("relu", "logistic")])
def test_train_is_backward_then_step_bit_for_bit(act, loss, dtype):
    """train() gathers batches into one workspace and steps layer by layer inside backward; it
    must leave the weights exactly where backward() + step() batch by batch leave them,
    the smaller last batch (23 = 2 x 10 + 3) included."""
    spec = Spec.build(4, [8, 8], 3, activation=act, loss=loss)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((23, 4))
    y = targets_for(spec, rng, 23)
    fast, slow = MLP(spec, init="torch", seed=5, dtype=dtype), MLP(spec, init="torch", seed=5, dtype=dtype)
    history = train(fast, X, y, epochs=3, lr=0.1, batch_size=10, reduction="mean", seed=4)
    Xs, Ys = slow._inputs(X), slow.targets(y, 23)
    order_rng = np.random.default_rng(4)
    expected = [slow.loss(Xs, Ys, "mean")]
    for _ in range(3):
        order = order_rng.permutation(23)
        for start in range(0, 23, 10):
            idx = order[start:start + 10]
            t = slow.backward(Xs[idx], Ys[idx], "mean")
            slow.step(t.W_derivs, t.b_derivs, 0.1)
        expected.append(slow.loss(Xs, Ys, "mean"))
    assert history == expected
    for k in range(1, spec.L + 1):
        assert np.array_equal(fast.W[k], slow.W[k]) and np.array_equal(fast.b[k], slow.b[k])


def test_a_workspace_is_reused_across_batch_sizes_and_refuses_a_larger_one():
    spec = Spec.build(3, [4], 2, loss="squared")
    net = MLP(spec, seed=0)
    ws = Workspace(net, 5)
    rng = np.random.default_rng(0)
    for B in (5, 2, 5):
        X, Y = rng.standard_normal((B, 3)), rng.standard_normal((B, 2))
        got = ws.forward(X).backward(Y, "sum").trace()
        want = plain_batched(net, X, Y, "sum")
        assert got.a[1].shape == (B, 4) and np.array_equal(got.W_derivs[1], want[3][1])
    with pytest.raises(ValueError, match="a batch of 6 samples does not fit a workspace of 5"):
        ws.forward(np.zeros((6, 3)))


def test_sgd_epoch_reuses_the_workspace_it_is_given():
    spec = Spec.build(3, [4], 2, loss="cross_entropy")
    net = MLP(spec, seed=0, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    Y = net.targets(np.arange(10) % 2, 10)
    ws = sgd_epoch(net, X, Y, np.arange(10), 0.1, 4)
    buffers = [id(b) for b in ws._a[1:] + ws._h[1:] + ws.W_derivs[1:]]
    assert sgd_epoch(net, X, Y, np.arange(10)[::-1], 0.1, 4, workspace=ws) is ws
    assert [id(b) for b in ws._a[1:] + ws._h[1:] + ws.W_derivs[1:]] == buffers
    assert all(W.dtype == np.float32 for W in net.W[1:])


@pytest.mark.parametrize("slope", [0.0, 1.0, 2.5], ids=["slope0", "slope1", "slope2.5"])
def test_leaky_slopes_outside_the_max_trick_still_match_bit_for_bit(slope):
    """0 <= slope <= 1 runs max(a, slope a) and max(a > 0, slope); any other slope the registry's
    own functions. Both must give the plain algebra's bits."""
    spec = Spec.build(3, [5], 2, activation="leaky_relu", loss="squared", leaky_slope=slope)
    net = MLP(spec, init="torch", seed=0)
    X = np.random.default_rng(1).standard_normal((6, 3))
    X[0] = 0
    net.b[1][:2] = 0
    Y = np.random.default_rng(2).standard_normal((6, 2))
    trace = net.backward(X, Y, "sum")
    expected = plain_batched(net, X, Y, "sum")
    for got, want in zip((trace.a, trace.h, trace.g, trace.W_derivs, trace.b_derivs), expected):
        assert all(np.array_equal(got[k], want[k]) for k in (1, 2))
