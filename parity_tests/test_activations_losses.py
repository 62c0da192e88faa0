"""The registries one by one: every activation and every loss against torch, and every formula its
docstring states, in float64, from 0 and small negatives up to |u| = 1e4.

Each registry entry is compared with the torch counterpart it names (``torch_class`` with its
``torch_kwargs``, built through ``getattr(torch.nn, ...)``), values with values and derivatives with
torch autograd. Every numpy call runs under :func:`strict`, so an overflow, a 0/0 or a warning fails
the test even where the result would have come out finite.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import torch

from refmlp import ACTIVATIONS, LOSSES, MLP, Spec, get_activation, get_loss, make_leaky_relu, parity
from refmlp.activations import log_softmax, logistic, softmax
from refmlp.losses import as_one_hot, bce_value, softplus

EPS = np.finfo(np.float64).eps  # 2.2e-16
TINY = np.finfo(np.float64).tiny  # 2.2e-308, the smallest normal float64

# f and f' against torch: numpy's libm and torch's vectorised (SLEEF) exp and tanh are each within
# about one ulp of the exact value, so the two sides differ by a few ulps at most (measured: 2 ulps
# on 1e5 random points). 8 eps allows for that and nothing else: a wrong constant or formula misses
# at the first significant digit.
F_RTOL = 8 * EPS
# The absolute floor of f: torch's Sigmoid forms 1 / (1 + e^{-u}), whose e^{-u} overflows to inf for
# u < -709.8, so it returns 0 where refmlp's e^{u} / (1 + e^{u}) keeps the subnormal value
# (4.9e-324 at u = -745). Both are within the smallest normal float64 of the exact value.
F_ATOL = TINY
# The absolute floor of f': logistic' = f (1 - f) and tanh' = 1 - tanh^2 subtract from 1 a value
# near 1 whose ulp is eps / 2, so a one-ulp difference in f between the two libraries moves f' by
# about eps in absolute terms (f' <= 1 for every activation here).
FPRIME_ATOL = 4 * EPS

# Every point where something happens: 0 and -0, tiny, moderate and huge magnitudes of both signs,
# where e^{-u} overflows (u < -709.8) and where it goes subnormal (-745 < u < -708), where the
# logistic reaches 1 in float64 (u > 36.7), and 1e4.
SPECIAL = np.array(
    [-1e4, -1e3, -745.0, -740.0, -720.0, -710.0, -709.0, -700.0, -100.0, -37.0, -30.0, -20.0,
     -1.0, -1e-8, -1e-300, -0.0, 0.0, 1e-300, 1e-8, 1.0, 20.0, 30.0, 37.0, 100.0, 700.0, 710.0,
     1e3, 1e4]
)
GRID = np.concatenate(
    [SPECIAL, np.random.default_rng(0).uniform(-50, 50, 200),
     np.geomspace(1e-6, 1e4, 60), -np.geomspace(1e-6, 1e4, 60)]
)


@contextlib.contextmanager
def strict():
    """Any numpy floating-point overflow, division by zero or invalid operation raises, and so does
    any warning. Underflow to 0 (e^{-1e4}) is the intended behaviour and stays allowed."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        yield


def torch_module(entry):
    """The torch.nn module a registry entry names, with its keyword arguments."""
    return getattr(torch.nn, entry.torch_class)(**entry.torch_kwargs)


def t64(x, grad=False):
    return torch.tensor(np.asarray(x), dtype=torch.float64, requires_grad=grad)


# ---- activations ---------------------------------------------------------------------------------

# The registry as it is, plus leaky ReLUs of other slopes (0 is the ReLU, 0.2 a common choice).
ACTIVATION_CASES = list(ACTIVATIONS.values()) + [make_leaky_relu(0.2), make_leaky_relu(0.0)]
ELEMENTWISE = [act for act in ACTIVATION_CASES if not act.output_only]


@pytest.mark.parametrize("act", ELEMENTWISE, ids=repr)
def test_activation_value_matches_torch(act):
    with strict():
        mine = act.f(GRID.copy())
    assert mine.dtype == np.float64 and mine.shape == GRID.shape
    assert np.isfinite(mine).all()
    theirs = torch_module(act)(t64(GRID))
    torch.testing.assert_close(torch.from_numpy(mine), theirs, rtol=F_RTOL, atol=F_ATOL)


@pytest.mark.parametrize("act", ELEMENTWISE, ids=repr)
def test_activation_derivative_matches_torch_autograd(act):
    with strict():
        mine = act.fprime(GRID.copy())
    assert mine.dtype == np.float64 and mine.shape == GRID.shape
    assert np.isfinite(mine).all()
    u = t64(GRID, grad=True)
    torch_module(act)(u).sum().backward()  # an elementwise f: d(sum f(u))/du_i = f'(u_i)
    torch.testing.assert_close(torch.from_numpy(mine), u.grad, rtol=F_RTOL, atol=FPRIME_ATOL)


@pytest.mark.parametrize("act", ELEMENTWISE, ids=repr)
def test_activation_at_zero(act):
    """The value at the kink, exactly, on both sides: relu'(0) = 0, leaky'(0) = slope."""
    zero = np.zeros(1)
    expected_fprime = {
        "identity": 1.0, "logistic": 0.25, "tanh": 1.0, "relu": 0.0,
        "leaky_relu": act.params.get("slope"),
    }[act.name]
    assert act.f(zero)[0] == (0.5 if act.name == "logistic" else 0.0)
    assert act.fprime(zero)[0] == expected_fprime
    u = t64(zero, grad=True)
    torch_module(act)(u).sum().backward()
    assert u.grad.item() == expected_fprime


def test_leaky_relu_slope_is_configurable():
    assert ACTIVATIONS["leaky_relu"].params == {"slope": 0.01}  # the notes' and torch's default
    assert torch.nn.LeakyReLU().negative_slope == 0.01
    act = make_leaky_relu(0.2)
    assert act.params == {"slope": 0.2} and act.torch_kwargs == {"negative_slope": 0.2}
    u = np.array([-5.0, -1.0, -0.0, 0.0, 2.0, 1e4])
    np.testing.assert_array_equal(act.f(u), [-1.0, -0.2, 0.0, 0.0, 2.0, 1e4])
    np.testing.assert_array_equal(act.fprime(u), [0.2, 0.2, 0.2, 0.2, 1.0, 1.0])
    # and Spec.build hands the slope to every leaky layer, torch twin included
    spec = Spec.build(2, [3, 3], 1, activation="leaky_relu", loss="squared",
                      output_activation="leaky_relu", leaky_slope=0.2)
    assert all(layer.activation.params == {"slope": 0.2} for layer in spec.layers)


@pytest.mark.parametrize("loss,expected_g", [("squared", -0.08), ("absolute", -0.2)],
                         ids=["squared", "absolute"])
def test_leaky_output_keeps_its_configured_slope(loss, expected_g):
    spec = Spec.build(1, [], 1, loss=loss, output_activation="leaky_relu", leaky_slope=0.2)
    net = MLP(spec, W=[None, np.array([[1.0]])], b=[None, np.array([0.0])])
    X, y = np.array([[-1.0]]), np.array([[0.0]])
    trace = net.backward(X, y)
    # by hand: a = -1, h = 0.2 x -1 = -0.2, f'(a) = 0.2, so g_L = 2 (-0.2 - 0) x 0.2 = -0.08 for
    # the squared loss and sign(-0.2 - 0) x 0.2 = -0.2 for the absolute one
    np.testing.assert_array_equal(trace.h[1], [[-0.2]])
    np.testing.assert_allclose(trace.g[1], [[expected_g]], rtol=4 * EPS)
    report = parity(net, X, y)
    assert report.passed, report.message()


# The docstring formulas, each against its literal form where that form is finite.
MODERATE = GRID[np.abs(GRID) <= 700]  # where e^{u} and e^{-u} are finite


def test_identity_docstring():
    np.testing.assert_array_equal(ACTIVATIONS["identity"].f(GRID), GRID)
    np.testing.assert_array_equal(ACTIVATIONS["identity"].fprime(GRID), np.ones_like(GRID))


def test_logistic_docstring():
    """f(u) = 1 / (1 + e^{-u}) and f'(u) = f(u) (1 - f(u)), without the naive form's overflow."""
    naive = 1.0 / (1.0 + np.exp(-MODERATE))
    np.testing.assert_allclose(logistic(MODERATE), naive, rtol=F_RTOL, atol=F_ATOL)
    f = logistic(GRID)
    np.testing.assert_array_equal(ACTIVATIONS["logistic"].fprime(GRID), f * (1 - f))
    # the naive form overflows at -1e4; refmlp's form does not, and gets 0 and 1 at the ends
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        1.0 / (1.0 + np.exp(np.array([1e4])))
    with strict():
        np.testing.assert_array_equal(logistic(np.array([-1e4, 1e4])), [0.0, 1.0])


def test_tanh_docstring():
    t = np.tanh(GRID)
    np.testing.assert_array_equal(ACTIVATIONS["tanh"].f(GRID), t)
    np.testing.assert_array_equal(ACTIVATIONS["tanh"].fprime(GRID), 1 - t * t)


@pytest.mark.parametrize("act", [ACTIVATIONS["relu"], make_leaky_relu(0.01), make_leaky_relu(0.2)],
                         ids=repr)
def test_relu_family_docstring(act):
    """f(u) = u for u > 0, slope u for u <= 0; f'(u) = 1 for u > 0, slope for u <= 0 (slope 0 for
    relu)."""
    slope = act.params.get("slope", 0.0)
    np.testing.assert_array_equal(act.f(GRID), np.where(GRID > 0, GRID, slope * GRID))
    np.testing.assert_array_equal(act.fprime(GRID), np.where(GRID > 0, 1.0, slope))


# Rows of logits for softmax: moderate ones and rows holding +-1e4, ties and a single column.
SOFTMAX_ROWS = [
    np.random.default_rng(1).uniform(-5, 5, (6, 4)),
    np.array([[1e4, -1e4, 0.0, 3.0], [1e4, 1e4, -1e4, 0.0], [-1e4, -1e4, -1e4, -1e4],
              [710.0, 709.0, -745.0, 0.0], [0.0, 0.0, 0.0, 0.0]]),
    np.array([[1e4], [-3.0]]),
]
SOFTMAX_IDS = ["moderate", "extreme", "one-column"]


@pytest.mark.parametrize("u", SOFTMAX_ROWS, ids=SOFTMAX_IDS)
def test_softmax_matches_torch(u):
    act = ACTIVATIONS["softmax"]
    assert act.output_only and act.fprime is None  # no elementwise f'; see the fused g_L below
    with strict():
        mine = act.f(u)
    assert np.isfinite(mine).all()
    torch.testing.assert_close(torch.from_numpy(mine), torch_module(act)(t64(u)),
                               rtol=F_RTOL, atol=F_ATOL)


@pytest.mark.parametrize("u", SOFTMAX_ROWS, ids=SOFTMAX_IDS)
def test_softmax_sums_to_one_and_is_shift_invariant(u):
    with strict():
        s = softmax(u)
    # a sum of n <= 4 terms each within an ulp of exact: within 4 eps of 1
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=0, atol=4 * EPS)
    # Shifted by dyadic constants: u + c - max(u + c) is then exactly u - max(u) (the shifts are
    # exact in float64 for these values), so softmax(u + c) must equal softmax(u) bit for bit.
    base = np.round(u * 8) / 8
    for c in (-1e4, -3.0, 0.5, 1e4):
        with strict():
            np.testing.assert_array_equal(softmax(base + c), softmax(base))


def test_softmax_docstring_naive_form_overflows():
    """The docstring's claim: exp(u) / sum(exp(u)) overflows for u > ~709; refmlp's does not."""
    u = np.array([[1e4, 0.0]])
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        np.exp(u) / np.exp(u).sum()
    with strict():
        np.testing.assert_array_equal(softmax(u), [[1.0, 0.0]])


@pytest.mark.parametrize("u", SOFTMAX_ROWS, ids=SOFTMAX_IDS)
def test_log_softmax_finite_and_matches_torch(u):
    with strict():
        mine = log_softmax(u)
    assert np.isfinite(mine).all()  # log(softmax) would give -inf at 1e4 vs -1e4
    # |log_softmax| reaches 2e4 here: the subtraction u - max(u) is exact, the log of the sum of
    # exps within a few ulps of its own (small) value, hence rtol on the result plus a few eps
    torch.testing.assert_close(torch.from_numpy(mine), torch.log_softmax(t64(u), dim=-1),
                               rtol=F_RTOL, atol=8 * EPS)
    # and it is the log of softmax wherever that is not 0
    s = softmax(u)
    where = s > 0
    np.testing.assert_allclose(mine[where], np.log(s[where]), rtol=F_RTOL, atol=8 * EPS)


def test_log_softmax_at_1e4():
    with strict():
        out = log_softmax(np.array([[1e4, -1e4, 0.0]]))
    np.testing.assert_array_equal(out, [[0.0, -2e4, -1e4]])


def test_softplus_docstring():
    """softplus(u) = log(1 + e^u): finite everywhere, the naive form wherever that is finite."""
    naive = np.log1p(np.exp(MODERATE))  # log1p: the exact log(1 + x), even for x = e^{-700}
    np.testing.assert_allclose(softplus(MODERATE), naive, rtol=F_RTOL, atol=F_ATOL)
    with strict():
        big = softplus(np.array([-1e4, -1e3, 1e3, 1e4]))
    np.testing.assert_array_equal(big, [0.0, 0.0, 1e3, 1e4])
    with pytest.raises(FloatingPointError), np.errstate(over="raise"):
        np.log1p(np.exp(np.array([1e4])))


# ---- losses --------------------------------------------------------------------------------------

PAIRS = [(loss, output) for loss in LOSSES.values() for output in loss.outputs]
PAIR_IDS = [f"{loss.name}-after-{output}" for loss, output in PAIRS]
N_OUT = 3


def loss_inputs(loss, extreme: bool, seed: int = 0):
    """a_L (B, 3) and targets (B, 3): moderate logits, or logits reaching +-1e4 in every row."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-3, 3, (6, N_OUT))
    if extreme:
        a[:, 0] = [1e4, -1e4, 1e3, -1e3, 5e3, 0.0]
        a[:, 1] = [-1e4, 1e4, 30.0, -745.0, 710.0, -1e4]
    if loss.target == "class":
        y = as_one_hot(rng.integers(0, N_OUT, 6), N_OUT, np.float64)
    elif loss.torch_class.startswith("BCE"):
        y = rng.integers(0, 2, (6, N_OUT)).astype(np.float64)
    else:
        y = rng.uniform(-2, 2, (6, N_OUT))
    return a, y


def torch_batch_loss(loss, output, a_t, y):
    """The loss in torch as refmlp defines it: reduction="sum", times torch_scale."""
    h_t = torch_module(get_activation(output))(a_t)
    inputs = a_t if loss.torch_on_logits else h_t
    return getattr(torch.nn, loss.torch_class)(reduction="sum")(inputs, t64(y)) * loss.torch_scale


# Loss values against torch: both sides add the same 18 terms ((y - h)^2, |y - h|, softplus(a) - y a
# or -y log softmax(a)), each within an ulp or two, in a different order. The totals here are all
# >= 16, far from any cancellation, so a relative test suffices; measured: at most 1.6 eps.
VALUE_RTOL = 16 * EPS
# dLoss/da_L against autograd: the same products in a different order, plus the cancellation in
# f' = 1 - tanh^2 or f (1 - f) near saturation, where one ulp of f moves f' by about eps in absolute
# terms, multiplied by dLoss/dh_L <= 2 (|h| + |y|). Measured: 15.75 eps relative on an element that
# is small for that reason, 2 eps in absolute terms.
GRAD_RTOL = 16 * EPS


def grad_atol(h, y):
    return 8 * EPS * (np.abs(h).max() + np.abs(y).max())


@pytest.mark.parametrize("extreme", [False, True], ids=["moderate", "extreme-1e4"])
@pytest.mark.parametrize("loss,output", PAIRS, ids=PAIR_IDS)
def test_loss_value_matches_torch(loss, output, extreme):
    a, y = loss_inputs(loss, extreme)
    act = get_activation(output)
    with strict():
        h = act.f(a)
        per_sample = loss.value(a, h, y)
    assert per_sample.shape == (a.shape[0],) and np.isfinite(per_sample).all()
    expected = torch_batch_loss(loss, output, t64(a), y)
    torch.testing.assert_close(torch.tensor(per_sample.sum(), dtype=torch.float64), expected,
                               rtol=VALUE_RTOL, atol=0)


@pytest.mark.parametrize("extreme", [False, True], ids=["moderate", "extreme-1e4"])
@pytest.mark.parametrize("loss,output", PAIRS, ids=PAIR_IDS)
def test_loss_derivative_matches_torch_autograd(loss, output, extreme):
    """est_lossderiv is dLoss/da_L per sample, which is torch's a_L.grad under reduction="sum"."""
    a, y = loss_inputs(loss, extreme)
    act = get_activation(output)
    with strict():
        h = act.f(a)
        mine = loss.est_lossderiv(ACTIVATIONS[output], a, h, y)
    assert mine.shape == a.shape and np.isfinite(mine).all()
    a_t = t64(a, grad=True)
    torch_batch_loss(loss, output, a_t, y).backward()
    torch.testing.assert_close(torch.from_numpy(mine), a_t.grad, rtol=GRAD_RTOL,
                               atol=grad_atol(h, y))


@pytest.mark.parametrize("output", ["identity", "relu", "leaky_relu", "tanh", "logistic"])
def test_chain_rule_derivatives_docstring(output):
    """dLoss/da_L = dLoss/dh_L * f'_L(a_L); after identity 2 (a_L - y) and sign(a_L - y)."""
    a, y = loss_inputs(LOSSES["squared"], extreme=False)
    act = get_activation(output)
    h = act.f(a)
    sq = LOSSES["squared"].est_lossderiv(ACTIVATIONS[output], a, h, y)
    ab = LOSSES["absolute"].est_lossderiv(ACTIVATIONS[output], a, h, y)
    np.testing.assert_array_equal(sq, 2 * (h - y) * act.fprime(a))
    np.testing.assert_array_equal(ab, np.sign(h - y) * act.fprime(a))
    if output == "identity":
        np.testing.assert_array_equal(sq, 2 * (a - y))
        np.testing.assert_array_equal(ab, np.sign(a - y))


def test_loss_value_docstrings():
    rng = np.random.default_rng(2)
    a, y = rng.uniform(-5, 5, (5, 3)), rng.uniform(-2, 2, (5, 3))
    h = logistic(a)
    y01 = (y > 0).astype(np.float64)
    np.testing.assert_array_equal(LOSSES["squared"].value(a, a, y), ((y - a) ** 2).sum(axis=-1))
    np.testing.assert_array_equal(LOSSES["absolute"].value(a, a, y), np.abs(y - a).sum(axis=-1))
    # BCE: sum softplus(a) - y a = -sum y log h + (1 - y) log(1 - h), at |a| <= 5 where neither
    # side loses digits (a few roundings of numbers <= 5)
    literal = -(y01 * np.log(h) + (1 - y01) * np.log(1 - h)).sum(axis=-1)
    np.testing.assert_allclose(bce_value(a, h, y01), literal, rtol=1e-14, atol=1e-14)
    # cross-entropy: -sum y log softmax(a)
    onehot = as_one_hot(np.array([0, 2, 1, 1, 0]), 3, np.float64)
    literal = -(onehot * np.log(softmax(a))).sum(axis=-1)
    np.testing.assert_allclose(LOSSES["cross_entropy"].value(a, softmax(a), onehot), literal,
                               rtol=1e-14, atol=1e-14)
    # course_squared_on_logistic reports 2 x BCE, the function its gradient belongs to
    np.testing.assert_array_equal(
        LOSSES["course_squared_on_logistic"].value(a, h, y01), 2 * bce_value(a, h, y01)
    )


@pytest.mark.parametrize("a,y", [(30.0, 1.0), (-30.0, 0.0), (700.0, 1.0), (-700.0, 0.0)],
                         ids=["30-right", "minus-30-right", "700-right", "minus-700-right"])
def test_bce_value_accurate_for_a_confident_right_answer(a, y):
    """The docstring's claim: max(a, 0) - y a cancels exactly for a confident right answer, so the
    loss keeps every digit of log(1 + e^{-|a|}) (9.36e-14 at |a| = 30), where softplus(a) - a
    would keep only the first one or two."""
    a, y = np.array([[a]]), np.array([[y]])
    exact = np.log1p(np.exp(-np.abs(a[0])))  # -log sigmoid(|a|)
    with strict():
        np.testing.assert_allclose(bce_value(a, logistic(a), y), exact, rtol=4 * EPS, atol=0)


def test_cross_entropy_int_labels_and_one_hot_rows_agree():
    spec = Spec.build(3, [4], N_OUT, activation="tanh", loss="cross_entropy")
    X = np.random.default_rng(3).normal(size=(5, 3))
    labels = np.array([0, 2, 1, 2, 0])
    net = MLP(spec, seed=3)
    by_int = net.backward(X, labels)
    by_rows = net.backward(X, np.eye(N_OUT)[labels])
    assert by_int.loss == by_rows.loss
    for k in range(1, spec.L + 1):
        for q in ("g", "W_derivs", "b_derivs"):
            np.testing.assert_array_equal(getattr(by_int, q)[k], getattr(by_rows, q)[k])
    for y in (labels, np.eye(N_OUT)[labels]):
        report = parity(net, X, y)
        assert report.passed, report.message()
    # torch's CrossEntropyLoss says the same of its own two target forms
    logits = t64(by_int.a[-1])
    ce = torch.nn.CrossEntropyLoss(reduction="sum")
    torch.testing.assert_close(ce(logits, torch.tensor(labels)),
                               ce(logits, t64(np.eye(N_OUT)[labels])))


@pytest.mark.parametrize(
    "y,received",
    [
        (np.array([0, 1, 3]), "from 0 to 3"),  # 3 is not a class of 3 outputs
        (np.array([-1, 0, 2]), "from -1 to 2"),
        (np.array([0.0, 1.0, 2.0]), "float64"),  # float labels: not class indices
        (np.array([[[0, 1, 0]]]), "(1, 1, 3)"),
        (np.eye(2)[[0, 1, 1]], "(3, 2)"),  # one-hot rows of the wrong width
        (np.array([0, 1]), "3 of them; got 2 (shape (2,))"),  # two labels for three samples
    ],
    ids=["label-too-big", "label-negative", "float-labels", "3d-labels", "one-hot-too-narrow",
         "too-few-labels"],
)
def test_bad_class_labels_raise(y, received):
    net = MLP(Spec.build(2, [], N_OUT, loss="cross_entropy"))
    X = np.zeros((3, 2))
    with pytest.raises(ValueError) as info:
        net.backward(X, y)
    assert received in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "row",
    [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.2, 0.0], [1.5, -0.5, 0.0]],
    ids=["two-ones", "all-zero", "not-summing-to-1", "negative-entry"],
)
def test_rows_that_are_not_probabilities_raise(row):
    """softmax(a) - y is the gradient of -sum y log softmax(a) only when y sums to 1 (otherwise it
    is softmax(a) sum(y) - y), so other rows must be refused, and the message shows the row."""
    net = MLP(Spec.build(2, [], N_OUT, loss="cross_entropy"))
    with pytest.raises(ValueError) as info:
        net.backward(np.zeros((2, 2)), np.array([[0.0, 1.0, 0.0], row]))
    assert f"row 1 is {row}" in str(info.value), str(info.value)


def test_probability_rows_are_accepted_and_match_torch():
    """Rows of class probabilities are not one-hot but give a loss whose gradient is softmax - y."""
    net = MLP(Spec.build(2, [3], N_OUT, activation="tanh", loss="cross_entropy"), seed=5)
    X = np.random.default_rng(5).normal(size=(3, 2))
    y = np.array([[0.5, 0.5, 0.0], [0.1, 0.7, 0.2], [0.0, 0.0, 1.0]])
    report = parity(net, X, y)
    assert report.passed, report.message()


def test_torch_mean_divides_by_samples_times_outputs():
    """torch's MSELoss(reduction="mean") divides by B x n_outputs; refmlp's "mean" is over samples
    only, so it is torch's reduction="sum" / B, n_outputs times torch's own "mean"."""
    B, n_out = 4, 3
    spec = Spec.build(2, [5], n_out, activation="tanh", loss="squared")
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(B, 2)), rng.normal(size=(B, n_out))
    net = MLP(spec, seed=4)
    mine = net.backward(X, Y, reduction="mean")

    h_L, y = t64(mine.h[-1], grad=True), t64(Y)
    torch_sum = torch.nn.MSELoss(reduction="sum")(h_L, y)
    torch_mean = torch.nn.MSELoss(reduction="mean")(h_L, y)
    # fact 1: torch's mean is the sum over B x n_outputs entries
    torch.testing.assert_close(torch_mean, torch_sum / (B * n_out), rtol=4 * EPS, atol=0)
    # fact 2: refmlp's mean is the sum over B samples, hence n_outputs times torch's mean
    np.testing.assert_allclose(mine.loss, torch_sum.item() / B, rtol=4 * EPS)
    np.testing.assert_allclose(mine.loss, n_out * torch_mean.item(), rtol=4 * EPS)
    assert abs(mine.loss - torch_mean.item()) > 0.5 * mine.loss  # a factor 3 apart, not rounding
    # and the gradients carry the same factor: g_L of refmlp's mean = 2 (h - y) f'(a) / B
    torch_mean.backward()
    np.testing.assert_allclose(2 * (mine.h[-1] - Y) / B, n_out * h_L.grad.numpy(), rtol=8 * EPS)
    # the parity check uses sum / B and agrees
    report = parity(net, X, Y, reduction="mean")
    assert report.passed, report.message()


@pytest.mark.parametrize("loss_name, torch_loss, scale", [
    ("squared", torch.nn.MSELoss, 1.0), ("half_squared", torch.nn.MSELoss, 0.5),
    ("absolute", torch.nn.L1Loss, 1.0),
])
def test_element_mean_is_torchs_default_reduction(loss_name, torch_loss, scale):
    """reduction "element_mean" is torch's nn.MSELoss() (and L1Loss()) as constructed by default:
    the mean over B x n_outputs elements, loss and gradient."""
    B, n_out = 4, 3
    net = MLP(Spec.build(2, [5], n_out, activation="tanh", loss=loss_name), seed=4)
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(B, 2)), rng.normal(size=(B, n_out))
    mine = net.backward(X, Y, reduction="element_mean")
    a_L = t64(mine.a[-1], grad=True)
    theirs = scale * torch_loss()(a_L, t64(Y))  # identity output: h_L = a_L
    theirs.backward()
    np.testing.assert_allclose(mine.loss, theirs.item(), rtol=4 * EPS)
    np.testing.assert_allclose(mine.g[-1], a_L.grad.numpy(), rtol=8 * EPS, atol=0)
    report = parity(net, X, Y, reduction="element_mean")
    assert report.passed, report.message()


def test_half_squared_is_half_the_squared_loss():
    """.. math:: \\ell = \\frac{1}{2} \\sum_i (y_i - h_i)^2, derivative h - y after identity."""
    rng = np.random.default_rng(6)
    a, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    half, full = LOSSES["half_squared"], LOSSES["squared"]
    np.testing.assert_array_equal(half.value(a, a, y), 0.5 * ((y - a) ** 2).sum(axis=-1))
    np.testing.assert_array_equal(half.est_lossderiv(ACTIVATIONS["identity"], a, a, y), a - y)
    np.testing.assert_allclose(2 * half.value(a, a, y), full.value(a, a, y), rtol=2 * EPS)


def test_cross_entropy_refuses_the_element_mean():
    net = MLP(Spec.build(2, [], 3, loss="cross_entropy"))
    with pytest.raises(ValueError, match="'cross_entropy' does not take reduction 'element_mean'.*"
                                         "expected one of sum, mean"):
        net.backward(np.zeros((2, 2)), np.array([0, 1]), reduction="element_mean")


def test_course_squared_on_logistic_is_not_the_squared_loss_gradient():
    """g_L = 2 (sigmoid(a_L) - y), the gradient of 2 x BCE; the squared loss on a logistic output
    has g_L = 2 (sigmoid(a_L) - y) sigmoid'(a_L), smaller by the factor sigmoid' <= 1/4."""
    a, y = np.array([[0.3, -1.2]]), np.array([[1.0, 0.0]])
    h = logistic(a)
    course = LOSSES["course_squared_on_logistic"].est_lossderiv(ACTIVATIONS["logistic"], a, h, y)
    true_squared = LOSSES["squared"].est_lossderiv(ACTIVATIONS["logistic"], a, h, y)
    np.testing.assert_allclose(course, 2 * (h - y), rtol=4 * EPS)
    np.testing.assert_allclose(true_squared, 2 * (h - y) * h * (1 - h), rtol=4 * EPS)
    # by hand, first output: sigmoid(0.3) = 0.574443, so 2 (0.574443 - 1) = -0.851115 against
    # -0.851115 x 0.574443 x 0.425557 = -0.208062
    np.testing.assert_allclose(course[0, 0], -0.851115, atol=1e-6)
    np.testing.assert_allclose(true_squared[0, 0], -0.208062, atol=1e-6)
    assert np.all(np.abs(course - true_squared) > 0.1)
    # torch agrees on both: autograd of 2 x BCEWithLogits, and of MSE after Sigmoid
    a_t = t64(a, grad=True)
    (2 * torch.nn.BCEWithLogitsLoss(reduction="sum")(a_t, t64(y))).backward()
    torch.testing.assert_close(torch.from_numpy(course), a_t.grad)
    a_t = t64(a, grad=True)
    torch.nn.MSELoss(reduction="sum")(torch.sigmoid(a_t), t64(y)).backward()
    torch.testing.assert_close(torch.from_numpy(true_squared), a_t.grad)


# ---- registry errors -----------------------------------------------------------------------------

def test_unknown_activation_names_value_and_choices():
    with pytest.raises(ValueError) as info:
        get_activation("nope")
    msg = str(info.value)
    assert "'nope'" in msg and all(name in msg for name in ACTIVATIONS), msg


def test_unknown_loss_names_value_and_choices():
    with pytest.raises(ValueError) as info:
        get_loss("nope")
    msg = str(info.value)
    assert "'nope'" in msg and all(name in msg for name in LOSSES), msg


@pytest.mark.parametrize("name", [None, ["relu"]], ids=["None", "list"])
def test_unhashable_or_none_activation_is_a_value_error(name):
    with pytest.raises(ValueError, match="expected one of"):
        get_activation(name)


@pytest.mark.parametrize("slope", [-1, -0.5, float("nan"), float("inf"), "0.1"],
                         ids=["minus-one", "negative", "nan", "inf", "string"])
def test_bad_leaky_slope_names_value_and_range(slope):
    with pytest.raises(ValueError) as info:
        make_leaky_relu(slope)
    msg = str(info.value)
    assert repr(slope) in msg and ">= 0" in msg, msg
