"""Trace against trace: every quantity at every layer, the tolerance policy, the first divergence.

Two traces (refmlp against torch, or any two) are compared quantity by quantity in the order the
data flows: forward, a_1, h_1, ..., a_L, h_L and the loss; then backward, g_L, W_derivs_L,
b_derivs_L, g_{L-1}, ... down to layer 1. The first quantity out of tolerance in that order is the
*first divergence*: what goes wrong after it may only be its consequence.

**Tolerance.** An element of the actual value x passes against the expected value y when

    |x - y| <= rtol * (|y| + M) + 1024 * tiny

``M`` is the element's *error scale*. Two correct implementations add in different orders (BLAS
blocking, pairwise sums), and a computed value carries a rounding error of order eps times the
magnitudes of the terms it was made from and of the errors they brought in, which can be far larger
than the value itself when terms cancel. When the comparison knows the network (``parity`` and the
CLI always do), M comes from :func:`refmlp.rounding.error_scales`, a running error analysis element
by element. Traces compared on their own get coarser floors read off the expected trace:

- a_k, h_k and g_k: M = max|Y| over the whole quantity;
- W_derivs_k = sum over the batch of g_k h_{k-1}^T: M = (|g_k| + max|g_k|)^T (|h_{k-1}| +
  max|h_{k-1}|), the magnitudes of its summands with the floors g_k and h_{k-1} were allowed;
- b_derivs_k: M = sum over the batch of (|g_k| + max|g_k|);
- the loss: M = the trace's ``loss_scale`` (:meth:`refmlp.losses.Loss.scale`).

``tiny`` is the dtype's smallest normal number (1.2e-38 in float32): an implementation may flush a
subnormal result to zero (torch's float32 sigmoid gives 0 below -88, where numpy keeps 4e-44), and
1024 such flushes are still far below anything a bug produces. Identical values always pass, exact
zeros included; inf or nan fail wherever they stand, since nothing can be judged through them.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass, field

import numpy as np

from .bugs import hints
from .network import Trace

FORWARD = ("a", "h")
UNDERFLOW_ROUNDINGS = 1024  # flushes to zero allowed per element: see the module docstring
BACKWARD = ("g", "W_derivs", "b_derivs")


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    reason: str


POLICY: dict[str, Tolerance] = {
    "float64": Tolerance(
        rtol=1e-10,
        reason=(
            "float64 carries eps = 2.2e-16; a parity quantity is a few hundred accumulated "
            "roundings at most away from the exact value in networks of the test matrix's size "
            "(fan-in <= 64, depth <= 4), far below 1e-10 of its scale (measured over the matrix "
            "by scripts/tolerance_margins.py: the worst element uses 3.6e-6 of this tolerance), "
            "while a wrong line of backprop changes it at the first significant digits."
        ),
    ),
    "float32": Tolerance(
        rtol=1e-4,
        reason=(
            "float32 carries eps = 1.2e-7. A sum of n terms may be off by up to n eps times the "
            "magnitudes of its terms (the error scale M), n the fan-in or the batch size; "
            "1e-4 = about 840 eps covers that worst case for the widths and batches in use "
            "(measured: the test matrix uses at most 1.8e-3 of it, 784-256-256-10 networks on "
            "batches of 512 at most 0.0023 away from relu's kink), and a gradient 0.07% off "
            "still fails (scripts/tolerance_sensitivity.py)."
        ),
    ),
}
"""The tolerance for each dtype, with its reason; both are written into every report."""


@dataclass
class Row:
    """One quantity at one layer (layer None for the loss)."""

    quantity: str
    layer: int | None
    verdict: str  # "pass" | "fail"
    shape: list
    expected_shape: list
    dtype: str
    expected_dtype: str
    rtol: float
    max_abs_diff: float | None = None
    max_abs_index: list | None = None
    max_rel_diff: float | None = None
    max_rel_index: list | None = None
    n_mismatch: int | None = None
    n_total: int | None = None
    tolerance_used: float | None = None  # max |x - y| / allowed: how close to failing (> 1 fails)
    expected_max_abs: float | None = None  # max |y|, the scale of the quantity
    actual_at_worst: float | None = None
    expected_at_worst: float | None = None
    problem: str | None = None  # shape, dtype, non-finite values, or missing on one side

    @property
    def label(self) -> str:
        return self.quantity if self.layer is None else f"{self.quantity}_{self.layer}"


@dataclass
class Report:
    """The comparison of two traces; ``verdict`` is "pass" when every row passes."""

    verdict: str
    rows: list[Row]
    first_divergence: dict | None
    hint: str | None
    tolerance: dict
    names: tuple[str, str]
    meta: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "first_divergence": self.first_divergence,
            "hint": self.hint,
            "actual": self.names[0],
            "expected": self.names[1],
            "tolerance": self.tolerance,
            "meta": self.meta,
            "rows": [asdict(r) for r in self.rows],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON: an infinite or undefined figure (a relative difference where the expected
        value is 0, say) is written as the string "inf", "-inf" or "nan"."""
        return json.dumps(json_safe(self.to_dict()), indent=indent, allow_nan=False)

    def to_table(self) -> str:
        return render_table(self)

    def message(self) -> str:
        """A short failure message: the first divergence with its figures and what it means."""
        if self.passed:
            return f"{self.names[0]} matches {self.names[1]} on every quantity at every layer"
        row = next(r for r in self.rows if r.verdict == "fail")
        where = "the loss" if row.layer is None else f"layer {row.layer}, {row.quantity}"
        lines = [f"first divergence: {where} ({self.names[0]} vs {self.names[1]})"]
        lines.append("  " + describe_mismatch(row))
        if self.hint:
            lines.append(f"  likely: {self.hint}")
        return "\n".join(lines)


def json_safe(obj):
    if isinstance(obj, float) and not np.isfinite(obj):
        return str(obj)  # 'inf', '-inf', 'nan'
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def describe_mismatch(row: Row) -> str:
    if row.problem:
        return row.problem
    return (
        f"{row.n_mismatch} / {row.n_total} elements ({row.n_mismatch / row.n_total:.1%}) out of "
        f"tolerance; greatest absolute difference {row.max_abs_diff:.3g} at index "
        f"{tuple(row.max_abs_index)} (actual {row.actual_at_worst:.10g}, expected "
        f"{row.expected_at_worst:.10g}); greatest relative difference {row.max_rel_diff:.3g} at "
        f"index {tuple(row.max_rel_index)}; allowed rtol {row.rtol:g} (see the tolerance policy)"
    )


def compare_arrays(quantity, layer, actual, expected, rtol, floor=None) -> Row:
    """One row: shape and dtype first, then the values against rtol * (|expected| + floor).

    ``floor`` defaults to max|expected| (see the module docstring).
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    row = Row(
        quantity=quantity,
        layer=layer,
        verdict="fail",
        shape=list(actual.shape),
        expected_shape=list(expected.shape),
        dtype=str(actual.dtype),
        expected_dtype=str(expected.dtype),
        rtol=rtol,
    )
    if actual.shape != expected.shape:
        row.problem = f"shape {actual.shape} where {expected.shape} was expected"
        return row
    if actual.dtype != expected.dtype:
        row.problem = f"dtype {actual.dtype} where {expected.dtype} was expected"
        return row
    x, y = actual.astype(np.float64), expected.astype(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        i = tuple(int(v) for v in np.argwhere(~np.isfinite(x) | ~np.isfinite(y))[0])
        both = not (np.isfinite(x[i]) or np.isfinite(y[i]))
        row.problem = (
            f"non-finite values: actual {float(x[i])}, expected {float(y[i])} at index {i}"
            + (" (on both sides: nothing can be judged through them)" if both else "")
        )
        return row
    diff = np.abs(x - y)
    if floor is None:
        floor = np.abs(y).max(initial=0.0)
    tiny = np.finfo(expected.dtype).tiny if expected.dtype.kind == "f" else 0.0
    allowed = rtol * (np.abs(y) + floor) + UNDERFLOW_ROUNDINGS * tiny
    bad = diff > allowed
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / np.abs(y))
    worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.size else ()
    worst_rel = np.unravel_index(np.argmax(rel), rel.shape) if rel.size else ()
    row.max_abs_diff = float(diff.max(initial=0.0))
    row.max_abs_index = [int(i) for i in worst]
    row.max_rel_diff = float(rel.max(initial=0.0))
    row.max_rel_index = [int(i) for i in worst_rel]
    row.n_mismatch = int(bad.sum())
    row.n_total = int(diff.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(diff == 0, 0.0, diff / allowed)
    row.tolerance_used = float(used.max(initial=0.0))
    row.expected_max_abs = float(np.abs(y).max(initial=0.0))
    row.actual_at_worst = float(x[worst]) if diff.size else 0.0
    row.expected_at_worst = float(y[worst]) if diff.size else 0.0
    row.verdict = "fail" if row.n_mismatch else "pass"
    return row


def compare_traces(
    actual: Trace,
    expected: Trace,
    dtype: str = "float64",
    names: tuple[str, str] = ("refmlp", "torch"),
    meta: dict | None = None,
    scales: dict | None = None,
) -> Report:
    """Every quantity of ``actual`` against ``expected``, in data-flow order (module docstring).

    ``scales`` are the error scales of :func:`refmlp.rounding.error_scales`; without them the
    coarser floors of the module docstring are used.
    """
    if dtype not in POLICY:
        raise ValueError(f"no tolerance policy for dtype {dtype!r}; expected one of {list(POLICY)}")
    if actual.L != expected.L:
        raise ValueError(f"the traces have {actual.L} and {expected.L} layers")
    if expected.a[1].dtype != np.dtype(dtype):
        raise ValueError(f"the expected trace is {expected.a[1].dtype}, not the {dtype} declared: "
                         "the tolerance must be the expected side's")
    tol = POLICY[dtype]
    L, rows = actual.L, []

    def floor(q, k):
        if scales is not None:
            return scales[q] if k is None else scales[q][k]
        if q == "loss":
            return expected.loss_scale or 0.0
        if q in ("W_derivs", "b_derivs"):
            return batch_sum_floors(expected, k).get(q)
        return None  # max|expected| of the quantity

    for k in range(1, L + 1):
        for q in FORWARD:
            rows.append(compare_arrays(q, k, getattr(actual, q)[k], getattr(expected, q)[k],
                                       tol.rtol, floor(q, k)))
    if actual.loss is not None or expected.loss is not None:
        if actual.loss is None or expected.loss is None:
            rows.append(missing_row("loss", None, actual.loss is None, tol.rtol))
        else:
            rows.append(compare_arrays("loss", None, float(actual.loss), float(expected.loss),
                                       tol.rtol, floor("loss", None)))
    if actual.g or expected.g:
        for k in range(L, 0, -1):
            if not (actual.g and expected.g):
                rows += [missing_row(q, k, not actual.g, tol.rtol) for q in BACKWARD]
                continue
            for q in BACKWARD:
                rows.append(compare_arrays(q, k, getattr(actual, q)[k], getattr(expected, q)[k],
                                           tol.rtol, floor(q, k)))
    failed = [r for r in rows if r.verdict == "fail"]
    first = None
    if failed:
        first = {"layer": failed[0].layer, "quantity": failed[0].quantity}
    return Report(
        verdict="fail" if failed else "pass",
        rows=rows,
        first_divergence=first,
        hint=diagnose(rows, L) if failed else None,
        tolerance={"dtype": dtype, "rtol": tol.rtol, "reason": tol.reason,
                   "rule": "|actual - expected| <= rtol * (|expected| + M) + 1024 tiny; M the element's "
                           "error scale (" + ("refmlp.rounding: a running error analysis"
                           if scales is not None else "coarse floors from the expected trace")
                           + "), tiny the dtype's smallest normal number"},
        names=names,
        meta=meta or {},
    )


def missing_row(quantity, layer, on_actual: bool, rtol: float) -> Row:
    """A quantity one side computed and the other did not: a failure, never a silent skip."""
    side = "actual" if on_actual else "expected"
    return Row(quantity, layer, "fail", [], [], "", "", rtol, problem=f"missing on the {side} side")


def with_floor(v: np.ndarray) -> np.ndarray:
    v = np.abs(np.asarray(v, dtype=np.float64))
    return v + v.max(initial=0.0)


def batch_sum_floors(expected: Trace, k: int) -> dict:
    """The magnitudes of the summands of W_derivs_k and b_derivs_k (module docstring)."""
    if not expected.g:
        return {}
    g, h = expected.g[k], expected.h[k - 1]
    if np.shape(g)[:1] != np.shape(h)[:1] or np.ndim(g) != 2:
        return {}  # malformed trace: the shape check of the rows will say so
    g_mag = with_floor(g)
    return {"W_derivs": g_mag.T @ with_floor(h), "b_derivs": g_mag.sum(axis=0)}


def diagnose(rows: list[Row], L: int) -> str:
    """What the first divergence most likely means, read from the rows around it."""
    first = next(r for r in rows if r.verdict == "fail")
    q, k = first.quantity, first.layer
    if first.problem and first.problem.startswith("dtype"):
        return (f"{first.label} is computed in {first.dtype} where {first.expected_dtype} was "
                "expected: a cast, or an array of another dtype mixed into the computation")
    if first.problem and first.problem.startswith("missing"):
        return f"{first.label} is {first.problem}: one trace stops before the other"
    if first.problem and first.problem.startswith("non-finite"):
        return (f"{first.label} has inf or nan on one side only (or of another sign): an "
                "overflow, e.g. exp of a large pre-activation in a logistic, softmax or "
                "cross-entropy written without the stable forms, on the side that is not finite")
    if first.problem and first.problem.startswith("shape"):
        if q == "W_derivs":
            return (f"W_derivs_{k} has the transposed shape or the wrong one: it must be "
                    "g h_{k-1}^T, of shape (out, in) like W_k")
        return f"{q} at layer {k} has the wrong shape: check the layout conventions"
    if q == "a":
        return (("a_1 = W_1 x + b_1 is wrong: the weights or the input differ" if k == 1 else
                 f"a_{k} = W_{k} h_{k-1} + b_{k} is wrong although h_{k-1} matches: W_{k} or "
                 f"b_{k} differ") + _likely("a", k))
    if q == "h":
        return (f"h_{k} = f_{k}(a_{k}) is wrong although a_{k} matches: the activation f_{k} differs"
                + _likely("h", k))
    if q == "loss":
        return "every activation matches but the loss value does not: the loss or its reduction differs"
    if q == "g" and k == L:
        return ("g_L = dLoss/da_L is wrong although the forward pass matches: the loss derivative "
                "(est_lossderiv), its reduction (sum vs mean), or f'_L" + _likely("g_L", k))
    if q == "g":
        return (f"g_{k} is wrong although g_{k + 1} matches: g_{k} = f'_{k}(a_{k}) * "
                f"(W_{k + 1}^T g_{k + 1})" + _likely("g", k))
    if q == "W_derivs":
        return (f"W_derivs_{k} is wrong although g_{k} matches: it must be g h_{k - 1}^T, "
                f"the outer product with this layer's input" + _likely("W_derivs", k))
    if q == "b_derivs":
        return (f"b_derivs_{k} is wrong although g_{k} matches: it must be g itself (summed over "
                "the batch)" + _likely("b_derivs", k))
    return f"{q} differs at layer {k}"


def _likely(at: str, k: int) -> str:
    """The catalogued bugs that show first at ``at`` (refmlp.bugs), as the hint's question."""
    found = hints(at, k)
    return f" ({', or '.join(found)}?)" if found else ""


def render_table(report: Report) -> str:
    """A fixed-width table, one row per quantity and layer, the verdict and hint at the end."""
    a, e = report.names
    head = (f"{'quantity':<12}{'shape':<12}{'max abs diff':>14}{'max rel diff':>14}"
            f"{'tol used':>10}{'mismatch':>12}  verdict")
    meta = report.meta
    title = f"{a} vs {e}"
    if "spec" in meta:
        dataset = f"{meta['dataset']}: " if "dataset" in meta else ""
        title = f"{dataset}{meta['spec']}\n{title}, " + (
            f"{meta['dtype']}, reduction {meta['reduction']}, {meta['path']} backward, "
            f"batch of {meta['batch']}"
        )
    lines = [title, head, "-" * len(head)]
    for r in report.rows:
        shape = "x".join(map(str, r.shape)) or "scalar"
        if r.problem:
            lines.append(f"{r.label:<12}{shape:<12}  {r.problem}  FAIL")
            continue
        mism = f"{r.n_mismatch}/{r.n_total}"
        mark = "ok" if r.verdict == "pass" else "FAIL"
        lines.append(
            f"{r.label:<12}{shape:<12}{r.max_abs_diff:>14.3e}{r.max_rel_diff:>14.3e}"
            f"{r.tolerance_used:>10.2g}{mism:>12}  {mark}"
        )
    tol = report.tolerance
    lines.append("-" * len(head))
    lines.append(f"tolerance ({tol['dtype']}, rtol {tol['rtol']:g}):")
    lines += textwrap.wrap(tol["rule"], width=len(head), initial_indent="  ", subsequent_indent="  ")
    lines.append("  tol used: the worst element's |actual - expected| / allowed (above 1 fails)")
    lines.append(f"verdict: {report.verdict.upper()}")
    if not report.passed:
        lines.append(report.message())
    return "\n".join(lines)
