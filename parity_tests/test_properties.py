"""Properties over random architectures (hypothesis): the two backward paths agree, refmlp agrees
with torch, "mean" is "sum" / B, and nothing overflows or warns when pre-activations reach 1e4.

A drawn case is a whole problem: input size 1..6, L = 1..4 layers of widths 1..7, a hidden
activation from the registry (softmax excepted, leaky slopes varied), a valid (loss, output
activation) pair from ``loss.outputs``, a batch of 1..9 samples, the reduction, the init scheme and
its seed, the inputs, the targets, and a scale:

- ``"unit"``: inputs in [-1, 1], the initialised weights as they are;
- ``"inputs x1e4"``: the same inputs times 1e4, so |a_1| reaches about 1e3 (course init) to 1e4
  (torch init) when an input is near +-1;
- ``"pre-activations"``: the weights and biases of each layer k rescaled in turn so that
  max |a_k| over the batch is a drawn magnitude between 1e3 and 1e4, at every layer.

The examples are derandomized, so CI runs the same cases every time.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refmlp import MLP, Spec, Trace, compare_traces, parity
from refmlp.activations import HIDDEN_ACTIVATIONS
from refmlp.losses import PAIRINGS
from refmlp.compare import POLICY, compare_arrays, describe_mismatch
from refmlp.network import INIT_SCHEMES

HIDDEN, PAIRS = HIDDEN_ACTIVATIONS, PAIRINGS
SCALES = ("unit", "inputs x1e4", "pre-activations")
QUANTITIES = ("g", "W_derivs", "b_derivs")
EPS = np.finfo(np.float64).eps

# Sized so that the whole file runs in about 20 s on 2 cores (30 s with a slower CI machine): a
# case costs 3 to 10 ms, half of it drawing the case, the rest the torch twin and the per-sample
# loop. derandomize=True: the same cases every run, and no example database.
SETTINGS = settings(derandomize=True, deadline=None, max_examples=450)


@dataclass
class Case:
    net: MLP
    X: np.ndarray
    y: np.ndarray
    reduction: str
    scale: str

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        W = {k: self.net.W[k].tolist() for k in range(1, self.net.L + 1)}
        b = {k: self.net.b[k].tolist() for k in range(1, self.net.L + 1)}
        return (f"Case({self.net.spec.describe()}, reduction={self.reduction!r}, "
                f"scale={self.scale!r},\n  X={self.X.tolist()},\n  y={self.y.tolist()},\n"
                f"  W={W},\n  b={b})")


def rescale_to(net: MLP, X: np.ndarray, magnitude: float) -> None:
    """Scale W_k and b_k, for k = 1..L in turn, so that max |a_k| over the batch is ``magnitude``.

    A layer whose pre-activations are all 0 (a dead ReLU layer feeding only zeros) is left alone.
    """
    h = X
    for k in range(1, net.L + 1):
        a = h @ net.W[k].T + net.b[k]
        peak = np.abs(a).max()
        if peak > 0:
            net.W[k] *= magnitude / peak
            net.b[k] *= magnitude / peak
            a = h @ net.W[k].T + net.b[k]
        h = net.f[k](a)


@st.composite
def cases(draw, scales=SCALES) -> Case:
    n_in = draw(st.integers(1, 6), label="n_in")
    L = draw(st.integers(1, 4), label="L")
    widths = draw(st.lists(st.integers(1, 7), min_size=L, max_size=L), label="widths")
    hidden = draw(st.sampled_from(HIDDEN), label="hidden activation")
    slope = draw(st.sampled_from([None, 0.0, 0.2, 1.0]), label="leaky slope")
    loss, output = draw(st.sampled_from(PAIRS), label="loss, output")
    B = draw(st.integers(1, 9), label="B")
    reduction = draw(st.sampled_from(["sum", "mean"]), label="reduction")
    init = draw(st.sampled_from(INIT_SCHEMES), label="init")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    scale = draw(st.sampled_from(scales), label="scale")

    spec = Spec.build(n_in, widths[:-1], widths[-1], activation=hidden, loss=loss,
                      output_activation=output, leaky_slope=slope)
    net = MLP(spec, init=init, seed=seed)
    X = draw(hnp.arrays(np.float64, (B, n_in),
                        elements=st.floats(-1, 1, allow_subnormal=False)), label="X")
    if scale == "inputs x1e4":
        X = X * 1e4
    elif scale == "pre-activations":
        rescale_to(net, X, draw(st.floats(1e3, 1e4), label="max |a_k|"))

    n_out = widths[-1]
    if spec.loss.target == "class":
        labels = np.array(draw(st.lists(st.integers(0, n_out - 1), min_size=B, max_size=B)))
        y = np.eye(n_out)[labels] if draw(st.booleans(), label="one-hot rows") else labels
    elif spec.loss.torch_class.startswith("BCE"):
        y = draw(hnp.arrays(np.float64, (B, n_out), elements=st.sampled_from([0.0, 1.0])))
    else:
        y = draw(hnp.arrays(np.float64, (B, n_out),
                            elements=st.floats(-2, 2, allow_subnormal=False)))
    return Case(net, X, y, reduction, scale)


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
    # one the parity check uses, with its reason in refmlp.compare.POLICY) applies as it is.
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


# ---- (3) "mean" is "sum" / B --------------------------------------------------------------------

# "mean" divides g_L by B before the recursion and "sum" / B divides the finished quantities:
# each entry then differs by a rounding or two per product along the way, relative to the scale of
# the quantity (refmlp.compare's rule), so 1e-13 (450 eps) covers the <= 4 layers and <= 9-sample
# sums, where a missing or doubled 1/B (at least a factor 2 apart for B >= 2) misses by far.
MEAN_RTOL = 1e-13


@SETTINGS
@given(cases(), st.sampled_from(["batched", "per_sample"]))
def test_mean_is_sum_over_batch_size(case, path):
    B = case.X.shape[0]
    mean = case.net.backward(case.X, case.y, "mean", path)
    total = case.net.backward(case.X, case.y, "sum", path)
    rows = [compare_arrays("loss", None, mean.loss, total.loss / B, MEAN_RTOL)]
    for q in QUANTITIES:
        for k in range(1, case.net.L + 1):
            rows.append(compare_arrays(q, k, getattr(mean, q)[k], getattr(total, q)[k] / B,
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
