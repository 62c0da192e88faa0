"""Properties over random architectures (hypothesis): the two backward paths agree, refmlp agrees
with torch, each reduction is "sum" divided by its divisor, and nothing overflows or warns when
pre-activations reach 1e4. The cases are drawn by refmlp.strategies (its docstring says what a case
holds); the examples are derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from refmlp import MLP, Trace, compare_traces, parity
from refmlp.compare import POLICY, compare_arrays, describe_mismatch
from refmlp.losses import divisor
from refmlp.strategies import Case, cases

QUANTITIES = ("g", "W_derivs", "b_derivs")

# Sized so that the whole file runs in about 20 s on 2 cores (30 s with a slower CI machine): a
# case costs 3 to 10 ms, half of it drawing the case, the rest the torch twin and the per-sample
# loop. derandomize=True: the same cases every run, and no example database.
SETTINGS = settings(derandomize=True, deadline=None, max_examples=450)


@contextlib.contextmanager
def strict():
    """Overflow, division by zero, invalid operations and any warning raise. Underflow to 0
    (e^{-1e4} in the logistic and the softmax) is how these functions stay finite, so it may."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        yield


def max_preactivation(trace: Trace) -> float:
    return max(np.abs(a).max() for a in trace.a[1:])


# ---- (1) the two backward paths -----------------------------------------------------------------

@SETTINGS
@given(cases())
def test_per_sample_and_batched_backward_agree(case):
    per_sample = case.net.backward(case.X, case.y, case.reduction, path="per_sample")
    batched = case.net.backward(case.X, case.y, case.reduction, path="batched")
    # The same algebra in a different order: W_derivs_k as a sum of B outer products g h^T
    # against one product g^T H; g = W^T g as a matrix-vector product against g @ W; the forward
    # pass W x + b against x @ W^T + b. So they differ by rounding only, a few eps times the scale
    # of each quantity, and the package's own float64 tolerance (rtol 1e-10 of that scale, the
    # one the parity check uses, with its reason in refmlp.tolerance.POLICY) applies as it is.
    report = compare_traces(per_sample, batched, "float64", names=("per_sample", "batched"))
    assert report.passed, f"{report.message()}\n{case!r}"


# ---- (2) refmlp against torch -------------------------------------------------------------------


def assert_parity(case: Case, path: str = "batched") -> None:
    """refmlp.parity passes in float64 (the loss of confidently right samples, which cancels to
    ~1e-21 from logits of 1e3, is judged by the report's own floor: see refmlp.compare)."""
    report = parity(case.net, case.X, case.y, reduction=case.reduction, path=path)
    assert report.tolerance["rtol"] == POLICY["float64"].rtol
    assert report.passed, f"{path}: {report.message()}\n{case!r}"


@SETTINGS
@given(cases())
def test_parity_with_torch(case):
    assert_parity(case)


@settings(SETTINGS, max_examples=200)
@given(cases(scales=("unit", "pre-activations")), st.sampled_from(["batched", "per_sample"]))
def test_parity_with_torch_in_float32(case, path):
    """The same weights in float32 on both sides, judged by the float32 policy."""
    net32 = MLP(case.net.spec, case.net.W, case.net.b, dtype=np.float32)
    report = parity(net32, case.X, case.y, reduction=case.reduction, path=path)
    assert report.tolerance["rtol"] == POLICY["float32"].rtol
    assert report.passed, f"{path}: {report.message()}\n{case!r}"


@settings(SETTINGS, max_examples=250)
@given(cases(scales=("pre-activations",)))
def test_parity_with_torch_at_extreme_preactivations(case):
    trace = case.net.forward(case.X)
    assert 1e3 * (1 - 1e-12) <= max_preactivation(trace) <= 1e4 * (1 + 1e-12)
    for path in ("batched", "per_sample"):
        assert_parity(case, path)


# ---- (3) each reduction is "sum" / its divisor --------------------------------------------------

# "mean" and "element_mean" divide g_L before the recursion, "sum" / n divides the finished
# quantities: each entry then differs by a rounding or two per product along the way, relative to
# the scale of the quantity (refmlp.compare's rule), so 1e-13 (450 eps) covers the <= 4 layers and
# <= 9-sample sums, where a missing or doubled divisor (a factor 2 at least, unless it is 1) misses
# by far.
MEAN_RTOL = 1e-13


@SETTINGS
@given(cases(), st.sampled_from(["batched", "per_sample"]))
def test_each_reduction_is_the_sum_over_its_divisor(case, path):
    B, n_out = case.X.shape[0], case.net.spec.layers[-1].size
    total = case.net.backward(case.X, case.y, "sum", path)
    rows = []
    for reduction in case.net.spec.loss.reductions:
        n = divisor(reduction, B, n_out)
        reduced = case.net.backward(case.X, case.y, reduction, path)
        rows.append(compare_arrays("loss", None, reduced.loss, total.loss / n, MEAN_RTOL))
        for q in QUANTITIES:
            for k in range(1, case.net.L + 1):
                rows.append(compare_arrays(q, k, getattr(reduced, q)[k], getattr(total, q)[k] / n,
                                           MEAN_RTOL))
    failed = [row for row in rows if row.verdict == "fail"]
    assert not failed, "\n".join(
        f"{row.label}: {describe_mismatch(row)}" for row in failed) + f"\n{case!r}"


# ---- (4) finite and warning-free at extreme pre-activations -------------------------------------

@settings(SETTINGS, max_examples=300)
@given(cases(scales=("pre-activations", "inputs x1e4")), st.sampled_from(["batched", "per_sample"]))
def test_finite_and_warning_free_at_extreme_inputs(case, path):
    with strict():
        trace = case.net.backward(case.X, case.y, case.reduction, path)
    assert np.isfinite(trace.loss), case
    for name in ("a", "h", "g", "W_derivs", "b_derivs"):
        for k in range(1, case.net.L + 1):
            value = getattr(trace, name)[k]
            assert np.isfinite(value).all(), f"{name}_{k} = {value}\n{case!r}"
