"""The tolerance from both sides: correct results that cancel or saturate pass, small real errors
fail. Each case is one a review found against the earlier, coarser floors (refmlp.rounding)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest

from refmlp import MLP, Spec, compare_traces, make_leaky_relu, parity, train
from refmlp.mirror import torch_trace, twin
from refmlp.compare import POLICY
from refmlp.rounding import error_scales

DTYPES = ["float64", "float32"]


# ---- correct results that must pass -------------------------------------------------------------

def test_a_well_fitted_regression_passes():
    """g_L = 2 (h - y) and the loss subtract nearly equal numbers once the fit is good."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 3))
    y = X @ np.array([2.0, -1.0, 0.5]) + 1.0
    net = MLP(Spec.build(3, [], 1, loss="squared"), seed=0)
    train(net, X, y, epochs=30, lr=0.05, batch_size=32, reduction="mean")
    report = parity(net, X[:64], y[:64], reduction="mean")
    assert report.passed, report.message()


@pytest.mark.parametrize("noise", [1e-4, 1e-6])
def test_targets_next_to_the_output_pass_in_float32(noise):
    spec = Spec.build(4, [8], 2, activation="tanh", loss="squared")
    net = MLP(spec, seed=2, dtype=np.float32)
    X = np.random.default_rng(1).standard_normal((32, 4))
    y = net.predict(X) + noise * np.random.default_rng(2).standard_normal((32, 2))
    report = parity(net, X, y)
    assert report.passed, report.message()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["squared", "absolute"])
def test_a_saturated_tanh_output_passes(dtype, loss):
    """f' = 1 - tanh^2 cancels when |a| is 8..12: a last-place difference in tanh is all of it."""
    spec = Spec.build(1, [], 1, loss=loss, output_activation="tanh")
    X = np.linspace(8, 12, 64)[:, None] * np.where(np.arange(64) % 2, 1, -1)[:, None]
    net = MLP(spec, [None, np.ones((1, 1))], [None, np.zeros(1)], dtype=np.dtype(dtype))
    report = parity(net, X, np.full(64, 0.5))
    assert report.passed, report.message()


def test_a_wide_float32_network_on_raw_pixels_passes():
    """784 -> 256 -> 256 -> 10 on values 0..255: a_1 reaches ~1e3, and its error reaches h_1
    through f', not through the size of h_1."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (128, 784)).astype(float)
    y = rng.integers(0, 10, 128)
    spec = Spec.build(784, [256, 256], 10, activation="tanh", loss="cross_entropy")
    report = parity(spec, X, y, dtype="float32", reduction="mean", seed=1)
    assert report.passed, report.message()


def test_a_sigmoid_flushed_to_zero_passes():
    """torch's float32 sigmoid gives 0 below -88 where numpy keeps a subnormal; times weights of
    100 that is still rounding (the tolerance's 1024 tiny)."""
    spec = Spec.build(1, [2], 1, activation="relu", loss="course_squared_on_logistic")
    W = [None, np.array([[60.0], [-60.0]]), np.array([[100.0, -100.0]])]
    net = MLP(spec, W, [None, np.zeros(2), np.zeros(1)], dtype=np.float32)
    report = parity(net, np.array([[-1.0], [-1.5], [-2.0], [1.0]]), np.zeros(4))
    assert report.passed, report.message()


# ---- small real errors that must fail -----------------------------------------------------------

@pytest.fixture(scope="module")
def digits_case():
    from refmlp.data import load_dataset

    data = load_dataset("digits").subset(512, seed=0)
    spec = Spec.build(64, [16, 16], 1, activation="leaky_relu", loss="logistic")
    y = (data.labels >= 5).astype(float)
    out = {}
    for dtype in DTYPES:
        net = MLP(spec, init="torch", seed=0, dtype=np.dtype(dtype))
        mine = net.backward(data.X, y)
        Y = net.targets(y, 512)
        theirs = torch_trace(twin(net), data.X, Y)
        out[dtype] = (net, mine, theirs, error_scales(net, theirs, Y, POLICY[dtype].rtol))
    return out


# The smallest relative error each dtype is sure to catch on this batch of 512: rtol times the
# error scale. Measured on this case (scripts/tolerance_sensitivity.py), the largest factors that
# still pass: float32 W_derivs 1 + 3.3e-4, b_derivs 1 + 3.4e-4, g 1 + 5.1e-4; float64 W_derivs
# 1 + 3.3e-10, b_derivs 1 + 3.4e-10, g 1 + 5.1e-10. The factors below are several times those.
FACTOR = {"float64": 1 + 5e-9, "float32": 1.002}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("quantity", ["W_derivs", "b_derivs", "g"])
def test_a_gradient_slightly_off_fails(digits_case, dtype, quantity):
    net, mine, theirs, scales = digits_case[dtype]
    factor = FACTOR[dtype]
    assert compare_traces(mine, theirs, dtype, scales=scales).passed  # the control
    wrong = copy.deepcopy(mine)
    getattr(wrong, quantity)[2] *= factor
    report = compare_traces(wrong, theirs, dtype, scales=scales)
    assert report.first_divergence == {"layer": 2, "quantity": quantity}, report.message()


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_feature_losing_its_gradient_fails(digits_case, dtype):
    """A whole column of W_derivs_1 zeroed: a pixel whose gradient is small next to the layer's."""
    net, mine, theirs, scales = digits_case[dtype]
    column = np.abs(theirs.W_derivs[1]).max(axis=0)
    pixel = int(np.argmin(np.where(column > 0, column, np.inf)))  # the smallest non-zero column
    wrong = copy.deepcopy(mine)
    wrong.W_derivs[1][:, pixel] = 0
    report = compare_traces(wrong, theirs, dtype, scales=scales)
    assert report.first_divergence == {"layer": 1, "quantity": "W_derivs"}, report.message()


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_leaky_slope_off_by_half_a_percent_fails(dtype):
    spec = Spec.build(4, [8, 8], 1, activation="leaky_relu", loss="logistic")
    net = MLP(spec, init="torch", seed=4, dtype=np.dtype(dtype))
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((64, 4)), (rng.random(64) < 0.5).astype(float)
    Y = net.targets(y, 64)
    theirs = torch_trace(twin(net), X, Y)
    wrong_act = make_leaky_relu(0.01005)
    net.f[1], net.fprime[1] = wrong_act.f, wrong_act.fprime
    report = compare_traces(net.backward(X, Y), theirs, dtype, scales=error_scales(net, theirs, Y, POLICY[dtype].rtol))
    assert report.first_divergence == {"layer": 1, "quantity": "h"}, report.message()


def test_the_declared_dtype_must_be_the_expected_traces():
    spec = Spec.build(2, [3], 1)
    net = MLP(spec)
    X, y = np.zeros((2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match="the expected trace is float64, not the float32 declared"):
        compare_traces(net.backward(X, y), torch_trace(twin(net), X, y), "float32")


def test_error_scales_follow_their_docstring_on_a_small_network():
    """refmlp.rounding's formulas, written out for 2 -> 2 tanh -> 1 identity, squared loss."""
    spec = Spec.build(2, [2], 1, activation="tanh", loss="squared")
    W1, b1 = np.array([[1.0, -2.0], [0.5, 0.25]]), np.array([0.5, -1.0])
    W2, b2 = np.array([[3.0, -1.0]]), np.array([0.25])
    net = MLP(spec, [None, W1, W2], [None, b1, b2])
    X, Y = np.array([[1.0, 2.0], [-1.0, 0.5]]), np.array([[0.5], [-2.0]])
    t = net.backward(X, Y)
    rtol = 1e-10
    M = error_scales(net, t, Y, rtol)
    close = dict(rtol=1e-14, atol=0)
    M_a1 = np.abs(X) @ np.abs(W1).T + np.abs(b1)  # M_h0 = 0
    np.testing.assert_allclose(M["a"][1], M_a1, **close)
    # f'max of tanh over a +- r: f' at the end nearer 0 (no a here is within r of 0)
    r = rtol * M_a1
    near = t.a[1] - np.sign(t.a[1]) * r
    fmax1 = 1 - np.tanh(near) ** 2
    np.testing.assert_allclose(M["h"][1], fmax1 * M_a1, **close)
    M_a2 = np.abs(t.h[1]) @ np.abs(W2).T + np.sqrt(M["h"][1] ** 2 @ (W2 ** 2).T) + np.abs(b2)
    np.testing.assert_allclose(M["a"][2], M_a2, **close)
    # identity output: M_g_L = 2 (|h| + |y| + M_h) |f'| with f' = 1 and K = L = 0, plus the range of
    # g_L = 2 (a - y) over a +- r divided by rtol, 4 M_a, taken twice (JUMP_ROOM): 8 M_a. That range is a difference of two nearly
    # equal numbers divided by 1e-10: it keeps ~6 digits, hence rtol 1e-5 for this one check.
    np.testing.assert_allclose(M["g"][2], 2 * (np.abs(t.h[2]) + np.abs(Y) + M_a2) + 8 * M_a2, rtol=1e-5)
    p = t.g[2] @ W2
    M_p = np.abs(t.g[2]) @ np.abs(W2) + np.sqrt(M["g"][2] ** 2 @ W2 ** 2)
    tanh = spec.layers[0].activation
    # twice the range of tanh' over a +- r, / rtol: 2 x 2 |tanh''(a)| M_a to first order
    jump1 = 2 * 2 * np.abs(-2 * np.tanh(t.a[1]) * (1 - np.tanh(t.a[1]) ** 2)) * M_a1
    expected_g1 = M_p * fmax1 + np.abs(p) * (
        tanh.fprime_rounding + tanh.fprime_lipschitz * M_a1 + jump1
    )
    np.testing.assert_allclose(M["g"][1], expected_g1, rtol=1e-5)  # the range again: ~6 digits
    M_W1 = np.abs(t.g[1]).T @ np.abs(X) + np.sqrt((M["g"][1] ** 2).T @ X ** 2)  # M_h0 = 0
    np.testing.assert_allclose(M["W_derivs"][1], M_W1, **close)
    M_b1 = np.abs(t.g[1]).sum(axis=0) + np.sqrt((M["g"][1] ** 2).sum(axis=0))
    np.testing.assert_allclose(M["b_derivs"][1], M_b1, **close)
    # the kink: relu's f' jumps by 1 at 0, so a_1 = 1 x 1 - 1 = 0, computed from terms of size 1
    # (M_a = 2), gets J = 2 / rtol: |p| J = 4e10 dominates M_g_1 (M_p f'max adds ~10)
    relu_net = MLP(Spec.build(1, [1], 1, activation="relu", loss="squared"),
                   [None, np.ones((1, 1)), np.ones((1, 1))], [None, -np.ones(1), np.zeros(1)])
    tr = relu_net.backward(np.array([[1.0]]), np.array([[1.0]]))
    Mr = error_scales(relu_net, tr, np.array([[1.0]]), rtol)
    assert tr.a[1][0, 0] == 0 and abs(tr.g[2][0, 0]) == 2
    assert Mr["g"][1][0, 0] == pytest.approx(4 / rtol, rel=1e-8)
    # away from the kink (x = 0 gives a_1 = -1) there is no jump term
    tr0 = relu_net.backward(np.array([[0.0]]), np.array([[1.0]]))
    assert error_scales(relu_net, tr0, np.array([[1.0]]), rtol)["g"][1][0, 0] < 100
    value_scale = ((Y - t.h[2]) ** 2 + 2 * np.abs(Y - t.h[2]) * (np.abs(Y) + np.abs(t.h[2]))).sum()
    # squared loss on identity: |dL/da| = 2 |a - y| is largest at a +- r away from y
    gmax = 2 * (np.abs(t.a[2] - Y) + rtol * M_a2)
    assert M["loss"] == pytest.approx(value_scale + np.sqrt(((gmax * M_a2) ** 2).sum()), rel=1e-14)


# ---- the cases a review of the error analysis found ---------------------------------------------

REVIEW_W = np.array([[2.04, -2.56, 0.42, -0.57, -0.45, -0.22, -2.02, -0.23, -0.87, 3.32]])
REVIEW_X = np.array([[0.23, -0.35, -0.28, -0.67, -1.06, -0.39, 0.48, -0.24, 0.96, -0.2]])
# numpy and torch round X W^T differently here: -0.22130000000000016 and -0.22129999999999983


@pytest.mark.parametrize("path", ["batched", "per_sample"])
def test_a_loss_of_exactly_zero_on_one_side_passes(path):
    """Targets equal to torch's own output: torch's loss is 0.0, numpy's 1e-31."""
    net = MLP(Spec.build(10, [], 1, loss="squared"), [None, REVIEW_W], [None, np.zeros(1)])
    y = torch_trace(twin(net), REVIEW_X, np.zeros(1)).h[1]
    assert parity(net, REVIEW_X, y, path=path).passed


@pytest.mark.parametrize("path", ["batched", "per_sample"])
def test_relu_at_its_kink_passes_forward(path):
    """a_1 is -1.7e-16 on one side and +1.7e-16 on the other: h_1 = relu(a_1) differs by 1.7e-16,
    which relu's slope of 1 just right of 0 allows; only g, whose f' jumps, may legitimately differ."""
    spec = Spec.build(10, [1], 1, activation="relu", loss="squared")
    net = MLP(spec, [None, -REVIEW_W, np.ones((1, 1))], [None, np.array([-0.2213]), np.zeros(1)])
    report = parity(net, REVIEW_X, np.ones(1), path=path)
    forward = [r for r in report.rows if r.quantity in ("a", "h", "loss")]
    assert all(r.verdict == "pass" for r in forward), report.message()


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_ten_percent_error_fails_eight_layers_deep(dtype):
    """Errors carried in add in quadrature: eight layers of 512 leave the check sharp at layer 1."""
    spec = Spec.build(64, [512] * 7, 10, activation="tanh", loss="squared")
    net = MLP(spec, init="torch", seed=0, dtype=np.dtype(dtype))
    X = np.random.default_rng(0).standard_normal((16, 64))
    Y = net.targets(np.random.default_rng(1).standard_normal((16, 10)), 16)
    mine, theirs = net.backward(X, Y), torch_trace(twin(net), X, Y)
    scales = error_scales(net, theirs, Y, POLICY[dtype].rtol)
    assert compare_traces(mine, theirs, dtype, scales=scales).passed
    for quantity, layer in (("g", 1), ("W_derivs", 1), ("b_derivs", 1), ("a", 8), ("W_derivs", 8)):
        wrong = copy.deepcopy(mine)
        getattr(wrong, quantity)[layer] *= 1.1
        report = compare_traces(wrong, theirs, dtype, scales=scales)
        assert report.first_divergence == {"layer": layer, "quantity": quantity}, (quantity, layer)


# ---- one home for the policy --------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1] / "refmlp"
ALLOWANCES = ("PARITY_RTOL", "POLICY", "UNDERFLOW_ROUNDINGS", "JUMP_ROOM", "F32_RESULT_ULPS",
              "F32_UNDERFLOW_TINIES", "VARIANT_RTOL", "CLEARLY_CLOSER", "SIGNATURE_RTOL",
              "EXACT_RTOL", "INNER_STEP_RTOL", "INNER_STEP_FLOOR", "TRAINING_RTOL", "TRAINING", "RULE")


def package_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}


@pytest.mark.parametrize("name", ALLOWANCES)
def test_each_allowance_is_defined_once_in_the_tolerance_module(name):
    pattern = re.compile(rf"^\s*{name}\s*(:[^=\n]*)?=", re.MULTILINE)
    where = {path: len(pattern.findall(src)) for path, src in package_sources().items()}
    assert {path: n for path, n in where.items() if n} == {"tolerance.py": 1}


def test_the_rule_is_written_once():
    fragment = "rtol * (|expected| + M)"
    where = {path: src.count(fragment) for path, src in package_sources().items()}
    assert {path: n for path, n in where.items() if n} == {"tolerance.py": 1}


def test_every_report_states_the_rule_with_every_term_the_code_applies():
    from refmlp.tolerance import SCALES_SKLEARN, UNDERFLOW_ROUNDINGS, rule

    spec = Spec.build(2, [3], 1, loss="squared")
    X, y = np.random.default_rng(0).standard_normal((4, 2)), np.zeros(4)
    with_net, coarse = parity(spec, X, y), compare_traces(MLP(spec).backward(X, y),
                                                          torch_trace(twin(MLP(spec)), X, y))
    for report in (with_net, coarse):
        assert f"+ {UNDERFLOW_ROUNDINGS} tiny" in report.tolerance["rule"]
    assert "running error analysis" in with_net.tolerance["rule"]
    assert "coarse floors" in coarse.tolerance["rule"]
    assert f"+ {UNDERFLOW_ROUNDINGS} tiny" in rule(SCALES_SKLEARN)


def test_the_reasons_are_made_from_the_constants_the_code_uses():
    from refmlp import tolerance as t

    for dtype in DTYPES:
        assert t.fig(t.PARITY_RTOL[dtype]) in t.POLICY[dtype].reason
        assert t.fig(t.TRAINING_RTOL[dtype]) in t.TRAINING[dtype].reason
        assert t.fig(t.VARIANT_RTOL[dtype]) in t.REASONS["variant"]
    assert f"{t.UNDERFLOW_ROUNDINGS} tiny" in t.REASONS["underflow"]
    assert f"{t.fig(t.JUMP_ROOM)} x the jump" in t.REASONS["jump room"]
    assert f"{t.fig(t.CLEARLY_CLOSER)} times closer" in t.REASONS["clearly closer"]
    assert [t.fig(x) for x in (1e-4, 1.2e-7, 1e-10, 0.01, 1024.0, 2.0)] == [
        "1e-4", "1.2e-7", "1e-10", "0.01", "1024", "2"]


def test_the_underflow_allowance_is_what_the_comparison_applies():
    """Two tiny-sized values 1000 tiny apart pass; 2000 tiny apart fail (rtol plays no part)."""
    from refmlp.compare import compare_arrays
    from refmlp.tolerance import UNDERFLOW_ROUNDINGS

    tiny = np.finfo(np.float32).tiny
    zero = np.zeros(1, np.float32)
    near = np.array([(UNDERFLOW_ROUNDINGS - 24) * tiny], np.float32)
    far = np.array([2 * UNDERFLOW_ROUNDINGS * tiny], np.float32)
    assert compare_arrays("h", 1, near, zero, 1e-4, 0.0).verdict == "pass"
    assert compare_arrays("h", 1, far, zero, 1e-4, 0.0).verdict == "fail"


@pytest.mark.parametrize("name", ["CLEARLY", "TINY_ROOM", "TOLERANCE", "TOLERANCE_REASON"])
def test_the_allowances_old_homes_define_none(name):
    pattern = re.compile(rf"^\s*{name}\s*(:[^=\n]*)?=", re.MULTILINE)
    assert [path for path, src in package_sources().items() if pattern.search(src)] == []


def test_the_checker_takes_every_figure_from_the_policy():
    """No tolerance literal, and no eps or tiny of its own, in the judge or the diagnosis."""
    for path in ("check/judge.py", "check/diagnosis.py"):
        src = package_sources()[path]
        assert not re.search(r"rtol=\d|\d\.?\d*e-\d+ \*|1e-(3|4|5|6|12)\b|finfo\(", src), path
