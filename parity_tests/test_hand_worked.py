"""A 2 -> 2 -> 1 network worked out on paper, checked against both backward paths.

Hidden layer leaky_relu (slope 0.01, the notes' f), chosen so that one pre-activation is negative
and the slope shows up in h_1, in f'_1 and so in g_1 and W_derivs_1; output layer identity with the
squared loss, then logistic with the logistic (BCE) loss. Weights are small round numbers so every
step below can be redone by hand. Notation and layout as in :mod:`refmlp.network`: lists indexed
1..L, per-sample vectors 1-D, batches one sample a row.

Exactness. x, W, b and the pre-activations a_1 are small dyadic numbers, so a_1 is exact in binary
floating point, and so is h_1: leaky_relu(-1) = -1 * double(0.01) is the double of -0.01 itself,
the same number the literal -0.01 denotes. Everything the slope touches afterwards is rounded,
because 0.01 has no finite binary expansion (double(0.01) = 0.01 + 2.1e-19); see REL.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from refmlp.network import MLP, PATHS, Spec

# Tolerance for the values rounded on the way: each operation after the slope enters adds a
# relative rounding of at most 2^-53 ~ 1.1e-16; fewer than ten operations, amplified at most ~6x by
# the cancellations a_2 - y (2.51 - 3) and sigmoid(a_2) - y (3/4 - 1), stay below ~1e-15. 1e-14
# keeps a margin of 10 and is still 1e11 times finer than any slip of the formulas (slope 0 for
# 0.01, a missing factor 2, a sign, a transpose) moves these values, 1e-3 relative or more.
REL = 1e-14


def grads(trace):
    """backprop's gradients, in the notes' order."""
    return trace.W_derivs, trace.b_derivs, trace.g


def check(what: str, actual, expected, *, exact: bool = False) -> None:
    """Shape first, then values: bit for bit when ``exact``, else to REL relative (no abs floor:
    an expected 0 must come out as 0, which it does when a factor is an exact 0)."""
    actual, expected = np.asarray(actual), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape}, expected {expected.shape}"
    )
    if exact:
        np.testing.assert_array_equal(actual, expected, err_msg=f"{what} (exact)")
    else:
        np.testing.assert_allclose(actual, expected, rtol=REL, atol=0, err_msg=what)


# ---- case 1: leaky_relu hidden, identity output, squared loss -----------------------------------
W1 = np.array([[1.0, -1.0], [-1.0, 0.5]])
b1 = np.array([0.0, 0.5])
W2 = np.array([[2.0, -1.0]])
b2 = np.array([0.5])
x = np.array([2.0, 1.0])
y = np.array([3.0])

# a_1 = W_1 x + b_1 = [1*2 + (-1)*1 + 0, (-1)*2 + 0.5*1 + 0.5] = [1, -1]          (exact)
A1 = [1.0, -1.0]
# h_1 = leaky_relu(a_1) = [1, 0.01*(-1)] = [1, -0.01]                                (exact)
H1 = [1.0, -0.01]
# a_2 = W_2 h_1 + b_2 = 2*1 + (-1)*(-0.01) + 0.5 = 2.51;  h_2 = a_2 (identity)
A2 = [2.51]
# loss = (y - h_2)^2 = (3 - 2.51)^2 = 0.49^2 = 0.2401
LOSS = 0.2401
# g_2 = dLoss/da_2 = 2 (h_2 - y) * f'_2(a_2) = 2 * (2.51 - 3) * 1 = -0.98
G2 = [-0.98]
# b_derivs_2 = g_2 = [-0.98]
B2_DERIVS = [-0.98]
# W_derivs_2 = g_2 h_1^T = -0.98 * [1, -0.01] = [[-0.98, 0.0098]]
W2_DERIVS = [[-0.98, 0.0098]]
# W_2^T g_2 = [2*(-0.98), (-1)*(-0.98)] = [-1.96, 0.98]
# g_1 = (W_2^T g_2) * f'_1(a_1) = [-1.96 * 1, 0.98 * 0.01] = [-1.96, 0.0098]
G1 = [-1.96, 0.0098]
# b_derivs_1 = g_1 = [-1.96, 0.0098]
B1_DERIVS = [-1.96, 0.0098]
# W_derivs_1 = g_1 x^T = [[-1.96*2, -1.96*1], [0.0098*2, 0.0098*1]]
#            = [[-3.92, -1.96], [0.0196, 0.0098]]
W1_DERIVS = [[-3.92, -1.96], [0.0196, 0.0098]]


def squared_net() -> MLP:
    spec = Spec.build(2, [2], 1, activation="leaky_relu", loss="squared")
    assert spec.layers[0].activation.params == {"slope": 0.01}  # the notes' slope, as worked above
    return MLP(spec, [None, W1, W2], [None, b1, b2])


def test_squared_forward_by_hand():
    a, h = squared_net().forward_sample(x)
    check("h_0", h[0], x, exact=True)
    check("a_1", a[1], A1, exact=True)
    check("h_1", h[1], H1, exact=True)
    check("a_2", a[2], A2)
    check("h_2", h[2], A2)


def test_squared_loss_by_hand():
    check("loss", squared_net().loss(x[None], y[None]), LOSS)


def test_squared_backprop_by_hand():
    W_derivs, b_derivs, g = grads(squared_net().backprop(x, y))
    check("g_2", g[2], G2)
    check("W_derivs_2", W_derivs[2], W2_DERIVS)
    check("b_derivs_2", b_derivs[2], B2_DERIVS)
    check("g_1", g[1], G1)
    check("W_derivs_1", W_derivs[1], W1_DERIVS)
    check("b_derivs_1", b_derivs[1], B1_DERIVS)


@pytest.mark.parametrize("reduction", ["sum", "mean"])  # one sample: the mean is the sum
@pytest.mark.parametrize("path", PATHS)
def test_squared_backward_by_hand(path, reduction):
    trace = squared_net().backward(x[None], y[None], reduction=reduction, path=path)
    check("a_1", trace.a[1], [A1], exact=True)
    check("h_1", trace.h[1], [H1], exact=True)
    check("a_2", trace.a[2], [A2])
    check("loss", trace.loss, LOSS)
    check("g_2", trace.g[2], [G2])
    check("W_derivs_2", trace.W_derivs[2], W2_DERIVS)
    check("b_derivs_2", trace.b_derivs[2], B2_DERIVS)
    check("g_1", trace.g[1], [G1])
    check("W_derivs_1", trace.W_derivs[1], W1_DERIVS)
    check("b_derivs_1", trace.b_derivs[1], B1_DERIVS)


# ---- a second sample for the batch of two ------------------------------------------------------
x_b = np.array([0.0, 2.0])
y_b = np.array([0.0])
# a_1 = [1*0 + (-1)*2 + 0, (-1)*0 + 0.5*2 + 0.5] = [-2, 1.5]                        (exact)
# h_1 = [0.01*(-2), 1.5] = [-0.02, 1.5]       (exact: -2 * double(0.01) is double(-0.02))
H1_B = [-0.02, 1.5]
# a_2 = 2*(-0.02) + (-1)*1.5 + 0.5 = -1.04
# loss = (0 - (-1.04))^2 = 1.0816
LOSS_B = 1.0816
# g_2 = 2 * (-1.04 - 0) = -2.08
G2_B = [-2.08]
# W_derivs_2 = -2.08 * [-0.02, 1.5] = [[0.0416, -3.12]];  b_derivs_2 = [-2.08]
W2_DERIVS_B = [[0.0416, -3.12]]
# W_2^T g_2 = [2*(-2.08), (-1)*(-2.08)] = [-4.16, 2.08]
# g_1 = [-4.16 * 0.01, 2.08 * 1] = [-0.0416, 2.08];  b_derivs_1 = g_1
G1_B = [-0.0416, 2.08]
# W_derivs_1 = g_1 x^T = [[-0.0416*0, -0.0416*2], [2.08*0, 2.08*2]] = [[0, -0.0832], [0, 4.16]]
W1_DERIVS_B = [[0.0, -0.0832], [0.0, 4.16]]

# The batch [x, x_b], "sum": the two per-sample figures added.
#   loss       = 0.2401 + 1.0816 = 1.3217
#   W_derivs_2 = [[-0.98 + 0.0416, 0.0098 + (-3.12)]] = [[-0.9384, -3.1102]]
#   b_derivs_2 = [-0.98 + (-2.08)] = [-3.06]
#   W_derivs_1 = [[-3.92 + 0, -1.96 + (-0.0832)], [0.0196 + 0, 0.0098 + 4.16]]
#              = [[-3.92, -2.0432], [0.0196, 4.1698]]
#   b_derivs_1 = [-1.96 + (-0.0416), 0.0098 + 2.08] = [-2.0016, 2.0898]
SUM = {
    "loss": 1.3217,
    "W_derivs_2": [[-0.9384, -3.1102]],
    "b_derivs_2": [-3.06],
    "W_derivs_1": [[-3.92, -2.0432], [0.0196, 4.1698]],
    "b_derivs_1": [-2.0016, 2.0898],
}
# "mean": the same halved (B = 2).
#   loss 0.66085; W_derivs_2 [[-0.4692, -1.5551]]; b_derivs_2 [-1.53];
#   W_derivs_1 [[-1.96, -1.0216], [0.0098, 2.0849]]; b_derivs_1 [-1.0008, 1.0449]
MEAN = {
    "loss": 0.66085,
    "W_derivs_2": [[-0.4692, -1.5551]],
    "b_derivs_2": [-1.53],
    "W_derivs_1": [[-1.96, -1.0216], [0.0098, 2.0849]],
    "b_derivs_1": [-1.0008, 1.0449],
}
X2 = np.stack([x, x_b])  # (2, 2), one sample a row
Y2 = np.stack([y, y_b])  # (2, 1)


def test_second_sample_by_hand():
    net = squared_net()
    a, h = net.forward_sample(x_b)
    check("h_1", h[1], H1_B, exact=True)
    check("loss", net.loss(x_b[None], y_b[None]), LOSS_B)
    W_derivs, b_derivs, g = grads(net.backprop(x_b, y_b))
    check("g_2", g[2], G2_B)
    check("W_derivs_2", W_derivs[2], W2_DERIVS_B)
    check("b_derivs_2", b_derivs[2], G2_B)
    check("g_1", g[1], G1_B)
    check("W_derivs_1", W_derivs[1], W1_DERIVS_B)
    check("b_derivs_1", b_derivs[1], G1_B)


@pytest.mark.parametrize("reduction, expected", [("sum", SUM), ("mean", MEAN)], ids=["sum", "mean"])
@pytest.mark.parametrize("path", PATHS)
def test_batch_of_two_by_hand(path, reduction, expected):
    trace = squared_net().backward(X2, Y2, reduction=reduction, path=path)
    check("loss", trace.loss, expected["loss"])
    for k in (1, 2):
        check(f"W_derivs_{k}", trace.W_derivs[k], expected[f"W_derivs_{k}"])
        check(f"b_derivs_{k}", trace.b_derivs[k], expected[f"b_derivs_{k}"])
    # g keeps one row per sample: that sample's own g, divided by B = 2 under "mean"
    per = 1.0 if reduction == "sum" else 0.5
    check("g_2", trace.g[2], per * np.array([G2, G2_B]))
    check("g_1", trace.g[1], per * np.array([G1, G1_B]))


@pytest.mark.parametrize("path", PATHS)
def test_batch_sum_is_the_sum_of_backprops_and_mean_is_half(path):
    net = squared_net()
    one, two = grads(net.backprop(x, y)), grads(net.backprop(x_b, y_b))
    summed = net.backward(X2, Y2, reduction="sum", path=path)
    mean = net.backward(X2, Y2, reduction="mean", path=path)
    for k in (1, 2):
        for i, name in ((0, "W_derivs"), (1, "b_derivs")):
            total = one[i][k] + two[i][k]
            check(f"{name}_{k} sum", getattr(summed, name)[k], total)
            # Halving is exact in binary floating point and commutes with every rounding, so on
            # the same path "mean" is bit for bit half of "sum", whichever order the sums run in.
            check(f"{name}_{k} mean", getattr(mean, name)[k], getattr(summed, name)[k] / 2,
                  exact=True)
    check("loss mean", mean.loss, summed.loss / 2, exact=True)


# ---- case 2: logistic output, logistic (BCE) loss ------------------------------------------------
# Same first layer and x, so a_1 = [1, -1] and h_1 = [1, -0.01] as above.
W2_BCE = np.array([[1.0, -2.0]])
b2_BCE = np.array([math.log(3) - 1.02])  # chosen so that a_2 = ln 3 and sigmoid(a_2) = 3/4
# a_2 = W_2 h_1 + b_2 = 1*1 + (-2)*(-0.01) + (ln 3 - 1.02) = 1.02 + ln 3 - 1.02 = ln 3
# h_2 = sigmoid(ln 3) = 1 / (1 + e^{-ln 3}) = 1 / (1 + 1/3) = 3/4


def bce_net() -> MLP:
    spec = Spec.build(2, [2], 1, activation="leaky_relu", loss="logistic")
    assert spec.layers[-1].activation.name == "logistic"
    return MLP(spec, [None, W1, W2_BCE], [None, b1, b2_BCE])


def bce_by_hand(p: float, t: float) -> float:
    """-[y log p + (1 - y) log(1 - p)], the loss of one output as the notes write it."""
    return -(t * math.log(p) + (1 - t) * math.log(1 - p))


# With y = 1:
#   loss = -[1 * ln(3/4) + 0 * ln(1/4)] = ln(4/3) = 0.28768...
#   g_2 = sigmoid(a_2) - y = 3/4 - 1 = -1/4                  (the fused form: no f'_2 needed)
#   W_derivs_2 = g_2 h_1^T = -1/4 * [1, -0.01] = [[-0.25, 0.0025]];  b_derivs_2 = [-0.25]
#   W_2^T g_2 = [1*(-0.25), (-2)*(-0.25)] = [-0.25, 0.5]
#   g_1 = [-0.25 * 1, 0.5 * 0.01] = [-0.25, 0.005];  b_derivs_1 = g_1
#   W_derivs_1 = g_1 x^T = [[-0.25*2, -0.25*1], [0.005*2, 0.005*1]] = [[-0.5, -0.25], [0.01, 0.005]]
BCE_Y = np.array([1.0])
BCE = {
    "a_2": [math.log(3)],
    "h_2": [0.75],
    "loss": math.log(4 / 3),
    "g_2": [-0.25],
    "W_derivs_2": [[-0.25, 0.0025]],
    "b_derivs_2": [-0.25],
    "g_1": [-0.25, 0.005],
    "W_derivs_1": [[-0.5, -0.25], [0.01, 0.005]],
    "b_derivs_1": [-0.25, 0.005],
}


def test_bce_loss_is_the_hand_formula():
    net = bce_net()
    a, h = net.forward_sample(x)
    check("a_2", a[2], BCE["a_2"])
    check("h_2", h[2], BCE["h_2"])
    check("loss", net.loss(x[None], BCE_Y[None]), bce_by_hand(0.75, 1.0))
    check("loss", net.loss(x[None], BCE_Y[None]), BCE["loss"])
    # y = 0 takes the other branch: -ln(1 - 3/4) = ln 4
    check("loss, y = 0", net.loss(x[None], [[0.0]]), bce_by_hand(0.75, 0.0))
    check("loss, y = 0", net.loss(x[None], [[0.0]]), math.log(4))


def test_bce_backprop_by_hand():
    W_derivs, b_derivs, g = grads(bce_net().backprop(x, BCE_Y))
    for name, got in (("g_2", g[2]), ("W_derivs_2", W_derivs[2]), ("b_derivs_2", b_derivs[2]),
                      ("g_1", g[1]), ("W_derivs_1", W_derivs[1]), ("b_derivs_1", b_derivs[1])):
        check(name, got, BCE[name])
    # with y = 0: g_2 = 3/4 - 0 = 3/4, W_derivs_2 = 3/4 * [1, -0.01] = [[0.75, -0.0075]]
    W_derivs, _, g = grads(bce_net().backprop(x, np.array([0.0])))
    check("g_2, y = 0", g[2], [0.75])
    check("W_derivs_2, y = 0", W_derivs[2], [[0.75, -0.0075]])


@pytest.mark.parametrize("path", PATHS)
def test_bce_backward_by_hand(path):
    trace = bce_net().backward(x[None], BCE_Y[None], reduction="sum", path=path)
    check("h_2", trace.h[2], [BCE["h_2"]])
    check("loss", trace.loss, BCE["loss"])
    for k in (1, 2):
        check(f"g_{k}", trace.g[k], [BCE[f"g_{k}"]])
        check(f"W_derivs_{k}", trace.W_derivs[k], BCE[f"W_derivs_{k}"])
        check(f"b_derivs_{k}", trace.b_derivs[k], BCE[f"b_derivs_{k}"])
