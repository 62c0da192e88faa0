"""Trace against trace: every quantity at every layer, the tolerance policy, the first divergence.

Two traces (refmlp against torch, or any two) are compared quantity by quantity in the order the
data flows: forward, a_1, h_1, ..., a_L, h_L and the loss; then backward, g_L, b_derivs_L,
W_derivs_L, g_{L-1}, ... down to layer 1 (the notes' Step 2 computes b_derivs_k before
W_derivs_k, as the homework checker orders them). The first quantity out of tolerance in that
order is the *first divergence*: what goes wrong after it may only be its consequence.

**Tolerance**: the rule of :mod:`refmlp.tolerance`, with the error scales of
:func:`refmlp.rounding.error_scales` when the comparison knows the network (``parity``, the CLI,
and :func:`compare_traces` given ``net``), else the coarser floors of
:func:`refmlp.tolerance.coarse_floor`.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import asdict, dataclass, field

import numpy as np

from .bugs import hints
from .network import Trace
from .tolerance import POLICY, Tolerance  # noqa: F401  (re-exported: the policy's old home)
from .tolerance import SCALES_ANALYSIS, SCALES_COARSE, allowed, coarse_floor, parity_tolerance, rule

FORWARD = ("a", "h")
BACKWARD = ("g", "b_derivs", "W_derivs")  # the order of the notes' Step 2


@dataclass
class Row:
    """One quantity at one layer (layer None for the loss)."""

    quantity: str
    layer: int | None
    verdict: str  # "pass" | "fail" | "skip" (not given by an implementation allowed to omit it)
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

    @property
    def skipped(self) -> list[str]:
        """The labels of the quantities not judged (the implementation did not give them)."""
        return [r.label for r in self.rows if r.verdict == "skip"]

    def __repr__(self) -> str:
        """One line: a failing ``assert report.passed`` in pytest shows this, not every array."""
        where = ""
        if self.first_divergence:
            fd = self.first_divergence
            where = (", first divergence: the loss" if fd["layer"] is None
                     else f", first divergence: {fd['quantity']}_{fd['layer']}")
        judged = sum(r.verdict != "skip" for r in self.rows)
        return (f"<Report {self.verdict}: {self.names[0]} vs {self.names[1]}, {judged} quantities "
                f"judged, {len(self.skipped)} skipped, {self.tolerance.get('dtype')} rtol "
                f"{self.tolerance.get('rtol'):g}{where}>")

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
        skipped = f" (not given, so not judged: {skipped_summary(self)})" if self.skipped else ""
        if self.passed:
            what = "every quantity" if not skipped else "every quantity it gives"
            return f"{self.names[0]} matches {self.names[1]} on {what} at every layer{skipped}"
        row = next(r for r in self.rows if r.verdict == "fail")
        where = "the loss" if row.layer is None else f"layer {row.layer}, {row.quantity}"
        lines = [f"first divergence: {where} ({self.names[0]} vs {self.names[1]})"]
        lines.append("  " + describe_mismatch(row))
        if self.hint:
            lines.append(f"  likely: {self.hint}")
        if skipped:
            lines.append("  " + skipped.strip(" ()"))
        return "\n".join(lines)


def skipped_summary(report: Report) -> str:
    """The quantities not judged, a whole quantity's layers as one range: 'a_1..a_3, loss, g_2'."""
    parts = []
    for q in dict.fromkeys(r.quantity for r in report.rows if r.verdict == "skip"):
        layers = [r.layer for r in report.rows if r.quantity == q]
        skipped = [r.layer for r in report.rows if r.quantity == q and r.verdict == "skip"]
        if q == "loss":
            parts.append("loss")
        elif skipped == layers and len(layers) > 1:
            parts.append(f"{q}_{min(layers)}..{q}_{max(layers)}")
        else:
            parts += [f"{q}_{k}" for k in skipped]
    return ", ".join(parts)


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

    ``floor`` (M, the error scale) defaults to max|expected| (:mod:`refmlp.tolerance`).
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
    allowance = allowed(y, rtol, floor, expected.dtype)
    bad = diff > allowance
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
        used = np.where(diff == 0, 0.0, diff / allowance)
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
    *,
    net=None,
    y=None,
    optional: tuple[str, ...] = (),
) -> Report:
    """Every quantity of ``actual`` against ``expected``, in data-flow order (module docstring).

    ``scales`` are the error scales of :func:`refmlp.rounding.error_scales`; given the network
    ``net`` (an :class:`~refmlp.network.MLP` holding the weights both traces started from) and the
    targets ``y`` instead, they are computed here; with neither, the coarser floors of
    :func:`refmlp.tolerance.coarse_floor` are used. A quantity named in ``optional`` ("a", "h",
    "g", "loss") that the actual side does not give is skipped, with a row that says so; any
    other missing quantity fails.
    """
    tol = parity_tolerance(dtype)
    if actual.L != expected.L:
        raise ValueError(f"the traces have {actual.L} and {expected.L} layers")
    if expected.a[1].dtype != np.dtype(dtype):
        raise ValueError(f"the expected trace is {expected.a[1].dtype}, not the {dtype} declared: "
                         "the tolerance must be the expected side's")
    if scales is None and net is not None:
        from .rounding import error_scales

        if y is None:
            raise ValueError("compare_traces was given net but not y: the error scales need both")
        Y = net.targets(y, expected.h[0].shape[0])
        scales = error_scales(net, expected, Y, tol.rtol)
    L, rows = actual.L, []

    def floor(q, k):
        if scales is not None:
            return scales[q] if k is None else scales[q][k]
        return coarse_floor(q, expected, k)

    def row(q, k):
        mine = actual.loss if q == "loss" else (getattr(actual, q) or [None] * (L + 1))[k]
        theirs = expected.loss if q == "loss" else (getattr(expected, q) or [None] * (L + 1))[k]
        if mine is None and q in optional:
            return skipped_row(q, k, tol.rtol)
        if mine is None or theirs is None:
            return missing_row(q, k, mine is None, tol.rtol)
        if q == "loss":
            mine, theirs = float(mine), float(theirs)
        return compare_arrays(q, k, mine, theirs, tol.rtol, floor(q, k))

    for k in range(1, L + 1):
        rows += [row(q, k) for q in FORWARD]
    if actual.loss is not None or expected.loss is not None:
        rows.append(row("loss", None))
    if actual.g or expected.g or actual.W_derivs or expected.W_derivs:
        for k in range(L, 0, -1):
            rows += [row(q, k) for q in BACKWARD]
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
                   "rule": rule(SCALES_ANALYSIS if scales is not None else SCALES_COARSE)},
        names=names,
        meta=meta or {},
    )


def missing_row(quantity, layer, on_actual: bool, rtol: float) -> Row:
    """A quantity one side computed and the other did not: a failure, never a silent skip."""
    side = "actual" if on_actual else "expected"
    return Row(quantity, layer, "fail", [], [], "", "", rtol, problem=f"missing on the {side} side")


def skipped_row(quantity, layer, rtol: float) -> Row:
    """A quantity the actual side was allowed not to give: not judged, and said so."""
    return Row(quantity, layer, "skip", [], [], "", "", rtol,
               problem="not given by the implementation: not judged")


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
                    f"g h_{{k-1}}^T, of W_{k}'s own shape {tuple(first.expected_shape)}")
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
    if q in ("W_derivs", "b_derivs") and any(r.label == f"g_{k}" and r.verdict == "skip" for r in rows):
        return (f"{q}_{k} is the first quantity given that differs; g_{k} = dLoss/da_{k} was not "
                f"given, so the error may be in g_{k} itself (the loss derivative or its "
                f"reduction, f'_{k}, or passing g back with W^T) as well as in "
                + (f"the outer product g h_{k - 1}^T" if q == "W_derivs" else "the sum of g over the batch"))
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
        path = f"{meta['path']} backward, " if "path" in meta else ""
        layout = f"layout {meta['layout']}, " if "layout" in meta else ""
        title = f"{dataset}{meta['spec']}\n{title}, " + (
            f"{meta['dtype']}, reduction {meta['reduction']}, {path}{layout}batch of {meta['batch']}"
        )
    lines = [title, head, "-" * len(head)]
    for r in report.rows:
        shape = "-" if r.verdict == "skip" else "x".join(map(str, r.shape)) or "scalar"
        if r.problem:
            lines.append(f"{r.label:<12}{shape:<12}  {r.problem}  {r.verdict.upper()}")
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
