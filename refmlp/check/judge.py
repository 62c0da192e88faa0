"""Judging what the sandbox sent back: expectations from torch, rows as in the parity report.

Everything expected is computed here, in the judging process, from the weights each check's
network *started from* (read back from the sandbox): refmlp's ``MLP(spec, W=, b=)`` in float64,
its torch twin (:func:`refmlp.mirror.twin`, :func:`refmlp.mirror.torch_trace`), and the error
scales of :func:`refmlp.rounding.error_scales`. The student's numbers are compared with
:func:`refmlp.compare.compare_arrays` under the tolerance policy of :mod:`refmlp.compare`, by the
dtype the student computes in (:func:`student_dtype`: float32 arithmetic gets float32's rtol,
float32 storage alone does not).

**Recovered gradients.** A gradient is read as (W before - W after step(alpha)) / alpha. alpha is a
power of two, so alpha dW and the division are exact, and the one rounding is the step's own
subtraction, W - alpha dW rounded to the student's dtype (at most eps_s |W after| / 2), plus ours,
W before - W after in float64 (at most eps_64 |change| / 2). That error, divided by alpha, is
added to each element's allowed error (with eps in place of eps / 2: a margin for a step that
rounds alpha dW itself), and nothing else: the figure is in every gradient row's details.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ..compare import Row, compare_arrays
from ..tolerance import POLICY, float32_result_floor, step_rounding
from ..network import MLP, Spec
from . import plan
from .kinds import KINDS, Judging, Reads, Step
from .scenarios import Scenario

MISSING_WEIGHTS = "not produced: the weights read before or after this step are missing"
COLUMN_RETURNED = "forward returned an array of shape"
"""How a forward output that is not 1-D is said (its row's problem; the diagnosis reads it)."""
VALUES_CAP = 4096
"""Elements of an array the JSON's first divergence carries (expected, actual); larger ones are
None there (a digit's 784-wide layers would make every report megabytes)."""


@dataclass
class Judged(Row):
    """A parity row plus the two arrays it compared (float64), for the report's first divergence
    and --repro; never written into a check's rows in the JSON."""

    actual_values: object = field(default=None, repr=False, compare=False)
    expected_values: object = field(default=None, repr=False, compare=False)
    # what the row was computed from: {"W", "b" (lists 1..L, float64, (out, in) and (out,)),
    # "X", "Y" (the sample or batch), "start", "end" (forward's layer range), "alpha"}
    context: dict | None = field(default=None, repr=False, compare=False)


ROW_FIELDS = tuple(f.name for f in fields(Row))
STOPS = ("exception", "timeout")
"""What a check that did not finish diverges by, after every kind's own quantity."""


def _own(kind):
    return KINDS[kind].own if kind in KINDS else None


def non_layer() -> tuple:
    """The quantities that are no layer's, in the contract's order: the kinds' own, then STOPS."""
    return tuple(k.own for k in KINDS.values() if k.own) + STOPS


@dataclass
class CheckResult:
    name: str
    scenario: str | None
    verdict: str  # pass | fail | error
    rows: list = field(default_factory=list)  # [(label, Row, where)]
    first: dict | None = None  # {"layer": k | None, "quantity": q}
    traceback: str | None = None
    message: str | None = None
    notes: list = field(default_factory=list)
    output: str = ""
    output_bytes: int = 0
    facts: dict = field(default_factory=dict)  # what the diagnosis reads
    first_row: int | None = None  # index in rows of the first divergence (the row it quotes)
    unjudged: bool = False  # it calls a method the submission has not written yet

    @property
    def first_quoted(self):
        """(label, Row, where) of the first divergence, or None (a check that raised first)."""
        return self.rows[self.first_row] if self.first_row is not None else None

    def to_dict(self) -> dict:
        rows = []
        for label, row, where in self.rows:
            d = {"row": label, "where": where}
            d.update({k: getattr(row, k) for k in ROW_FIELDS})
            rows.append(d)
        details = {"rows": rows, "notes": self.notes}
        if self.message:
            details["message"] = self.message
        if self.output_bytes:
            details["output"] = self.output
            details["output_bytes"] = self.output_bytes
        if self.first:
            details["first_divergence"] = self.first
        return {"name": self.name, "scenario": self.scenario, "verdict": self.verdict,
                "judged": not self.unjudged, "details": details, "traceback": self.traceback}


def rank(first: dict, L: int) -> tuple:
    """Position of a divergence in the contract's data-flow order."""
    q, k = first["quantity"], first["layer"]
    if q in ("a", "h"):
        return (0, k, 0 if q == "a" else 1)
    if q in ("b_derivs", "W_derivs"):
        return (1, L - k, 0 if q == "b_derivs" else 1)
    order = non_layer()
    return (2, order.index(q) if q in order else len(order), 0)


# ---- the reference ------------------------------------------------------------------------------
def as_vector(v, n: int):
    """A student's (n,), (n, 1) or (1, n) array as (n,) (a plain number when n = 1); anything else
    unchanged (a shape error)."""
    v = np.asarray(v)
    if v.shape in ((n,), (n, 1), (1, n)) or (n == 1 and v.shape == ()):
        return v.reshape(n)
    return v


def read_params(arrays: dict, prefix: str, sizes: list, square_transposed: bool):
    """W[1..L] as (out, in) and b[1..L] as (out,), float64, from what the sandbox read at an op;
    None when a slot is missing. A non-square W stored (in, out) is transposed (shape says so); a
    square one only when ``square_transposed``."""
    reads = Reads(arrays)
    W, b = [None], [None]
    for k in range(1, len(sizes)):
        Wk, bk = reads.weight(prefix, "W", k), reads.weight(prefix, "b", k)
        if Wk is None or bk is None:
            return None
        n, m = sizes[k - 1], sizes[k]
        Wk = np.asarray(Wk, dtype=np.float64)
        if Wk.shape == (n, m) and (n != m or square_transposed):
            Wk = Wk.T
        W.append(Wk)
        b.append(as_vector(np.asarray(bk, dtype=np.float64), m))
    return W, b


def student_dtype(arrays: dict, op: int | None = None, upto: int | None = None) -> str:
    """The dtype whose tolerance the student's numbers get: float32 when the submission computed in
    float32 (an a_k, an output or y_est it produced is float32: its errors flow downstream), else
    float64. A float32-stored W_k in a float64 computation adds no float32 error (the reference
    starts from the stored values; the step's rounding in W_k's own dtype is in
    :func:`recovered`). With nothing computed recorded, the dtype W_1 is stored in."""
    reads = Reads(arrays)
    seen = reads.computed(op, upto)
    if seen:
        return "float32" if any(d == np.float32 for d in seen) else "float64"
    W1 = reads.weight(0, "W", 1)
    return "float32" if W1 is not None and W1.dtype == np.float32 else "float64"


def sub_spec(sc: Scenario, start: int) -> Spec:
    """The layers start..L of a scenario as a network of their own (for forward(z, start=...))."""
    spec = sc.spec()
    return Spec(sc.sizes[start - 1], spec.layers[start - 1:], spec.loss)


def reference(spec: Spec, W, b, X, Y, rtol: float):
    """(torch trace, error scales) of one batch; W, b lists 1..L of that spec."""
    from ..mirror import torch_trace, twin
    from ..rounding import error_scales

    net = MLP(spec, W=W, b=b)
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    trace = torch_trace(twin(net), X, Y, "sum")
    return trace, error_scales(net, trace, Y, rtol)


# ---- rows ---------------------------------------------------------------------------------------
def _judged(row: Row, actual, expected) -> Judged:
    return Judged(**{k: getattr(row, k) for k in ROW_FIELDS}, actual_values=actual,
                  expected_values=expected)


def compare(quantity, layer, actual, expected, rtol, floor, returned=False):
    """compare_arrays on float64 copies (the student's dtype is judged by its rtol, not here).

    ``returned``: ``actual`` is what forward returned, which the course's contract makes 1-D: an
    (m, 1) column (or a (1, m) row) fails with that said, never reshaped into a pass (the
    student's own loss code would broadcast y_est - y to (m, m) with it)."""
    expected = np.asarray(expected, dtype=np.float64)
    if actual is None:
        return Judged(quantity, layer, "fail", [], list(expected.shape), "", "float64", rtol,
                      problem="not produced: the call that computes it did not happen or "
                              "returned nothing", expected_values=expected)
    if returned and np.ndim(actual) == 2 and expected.ndim == 1:
        shape = tuple(np.shape(actual))
        return Judged(quantity, layer, "fail", list(shape), list(expected.shape),
                      str(np.asarray(actual).dtype), "float64", rtol,
                      problem=f"{COLUMN_RETURNED} {shape}: the course's forward returns a 1-D "
                              f"array of shape ({expected.shape[0]},)",
                      actual_values=np.asarray(actual, dtype=np.float64), expected_values=expected)
    if np.asarray(actual).dtype == np.float32 and expected.size:
        floor = float32_result_floor(expected, floor, rtol)  # its representation error: see there
    actual = np.asarray(actual, dtype=np.float64)
    if expected.ndim == 1:
        actual = as_vector(actual, expected.shape[0])
    return _judged(compare_arrays(quantity, layer, actual, expected, rtol, floor), actual, expected)


def recovered(before, after, alpha, dtype):
    """(change / alpha, the rounding of that figure per element): module docstring."""
    change = before - after
    err = step_rounding(after, change, alpha, dtype)
    return change / alpha, err


def gradient_rows(sc, arrays, i0, i1, alpha, X, Y, dtype, transposed, where, zero=False,
                  store=None):
    """Rows b_derivs_k, W_derivs_k (k = L..1) for the step between reads at ops i0 and i1,
    against the batch gradient of X, Y at the weights of op i0 (against 0 when ``zero``: after
    zero_grad, step must not move anything)."""
    rtol = POLICY[dtype].rtol
    P0 = read_params(arrays, str(i0), sc.sizes, transposed)
    P1 = read_params(arrays, str(i1), sc.sizes, transposed)
    if P0 is None or P1 is None:  # never a silent pass: the weights this step needs are missing
        return [(f"{q}_{k}", Judged(q, k, "fail", [], [], "", "float64", rtol,
                                    problem=MISSING_WEIGHTS), where)
                for k in range(sc.L, 0, -1) for q in ("b_derivs", "W_derivs")]
    trace, M = reference(sc.spec(), P0[0], P0[1], X, Y, rtol)
    rows = []
    got = Step(where, P0, P1, alpha, X, Y, trace, W=[None] * (sc.L + 1), b=[None] * (sc.L + 1))
    if store is not None:
        store.append(got)
    context = {"W": P0[0], "b": P0[1], "X": X, "Y": Y, "start": 1, "end": sc.L, "alpha": alpha}
    for k in range(sc.L, 0, -1):
        for q, idx in (("b_derivs", 1), ("W_derivs", 0)):
            before, after = P0[idx][k], P1[idx][k]
            if before.shape != after.shape:
                rows.append((f"{q}_{k}", compare(q, k, after, getattr(trace, q)[k], rtol, None), where))
                continue
            stored = Reads(arrays).weight(i1, q[0], k)
            g, err = recovered(before, after, alpha,
                               "float32" if stored is not None and stored.dtype == np.float32
                               else "float64")
            (got.W if q == "W_derivs" else got.b)[k] = g
            expected = getattr(trace, q)[k]
            if zero:
                expected, floor = np.zeros_like(expected), err / rtol
            else:
                floor = M[q][k] + err / rtol
            rows.append((f"{q}_{k}", compare(q, k, g, expected, rtol, floor), where))
    for _, row, _ in rows:
        row.context = context
    return rows


def forward_rows(sc, arrays, ops, inputs, dtype, transposed, stop=None):
    """Rows a_k, h_k for every forward call before op ``stop`` (where the submission raised)."""
    reads = Reads(arrays)
    rtol = POLICY[dtype].rtol
    P = read_params(arrays, "0", sc.sizes, transposed)
    if P is None:
        return []
    W, b = P
    rows = []
    names = {name: k for k, (_, _, name) in enumerate(sc.layers, start=1)}
    for i, op in enumerate(ops):
        if op[0] != "forward" or reads.x(i) is None or (stop is not None and i >= stop):
            continue
        x, start, end = reads.x(i), op[2], op[3]
        k0 = names[start] if start else 1
        k1 = names[end] if end else sc.L
        returned_none = reads.returned_none(i)
        if (start or end) and reads.output(i) is None and not returned_none:
            continue  # no named layers in this API: nothing to judge
        spec = sub_spec(sc, k0)
        n_out = spec.layers[-1].size
        Y = np.eye(n_out)[0] if spec.loss.name == "cross_entropy" else np.zeros(n_out)
        trace, M = reference(spec, [None] + W[k0:], [None] + b[k0:], x, Y, rtol)
        label = op[1].split(".", 1)[-1]
        where = f"forward({label}" + (f", start={start!r}" if start else "") + (
            f", end={end!r}" if end else "") + ")"
        context = {"W": W, "b": b, "X": x, "Y": None, "start": k0, "end": k1, "alpha": None}
        n_before = len(rows)
        for k in range(k0, k1 + 1):
            j = k - k0 + 1
            # this call's a_1..a_k decide (a float32 W_1 alone in a float64 network does not)
            rtol_k = POLICY[student_dtype(arrays, i, k) if dtype == "float32" else dtype].rtol
            if reads.f_per_element_miscount(i, k):
                continue  # f applied per element a number of times that is not m_k: h_k is judged
            rows.append((f"a_{k}", compare("a", k, reads.f_arg(i, k), trace.a[j][0], rtol_k,
                                           M["a"][j][0]), where))
            if k == k1:
                rtol_h = POLICY[student_dtype(arrays, i) if dtype == "float32" else dtype].rtol
                row = compare("h", k, reads.output(i), trace.h[j][0], rtol_h,
                              M["h"][j][0], returned=True)
                if returned_none:
                    row.problem = f"{where} returned None, where h_{k} was due"
                rows.append((f"h_{k}", row, where))
        for _, row, _ in rows[n_before:]:
            row.context = context
    return rows


def trajectory_note(sc, arrays, reads, xs, ys, transposed, alpha):
    """torch's own SGD run from the same start, as a figure next to the per-step rows: the largest
    difference between its weights and the student's after the last step (informational: errors
    compound along a run, so the verdict is the per-step rows, each judged from the student's own
    weights)."""
    from ..mirror import torch_trace, twin

    P0 = read_params(arrays, str(reads[0]), sc.sizes, transposed)
    Pn = read_params(arrays, str(reads[-1]), sc.sizes, transposed)
    if P0 is None or Pn is None or len(reads) < 2:
        return "the SGD run stopped before its end: no trajectory figure"
    net = MLP(sc.spec(), W=P0[0], b=P0[1])
    for x, y in zip(xs, ys):
        tr = torch_trace(twin(net), np.atleast_2d(x), np.atleast_2d(y), "sum")
        net.step(tr.W_derivs, tr.b_derivs, alpha)
    pairs = list(zip(Pn[0][1:] + Pn[1][1:], net.W[1:] + net.b[1:]))
    if any(np.shape(p) != np.shape(q) for p, q in pairs):
        return "the SGD run changed the shape of a parameter: no trajectory figure"
    diff = max(float(np.abs(np.asarray(p, dtype=float) - q).max()) for p, q in pairs)
    return (f"after {len(xs)} SGD steps (alpha {alpha:g}) from the same start, the largest "
            f"difference between the weights and those of a run on torch's gradients is {diff:.3g}")


def first_failure(rows, L):
    """(divergence, index of its row): the earliest failing row in data-flow order, the earliest
    call first among equals; None when every row passes."""
    failed = [(rank({"layer": r.layer, "quantity": r.quantity}, L), n, r)
              for n, (_, r, _) in enumerate(rows) if r.verdict == "fail"]
    if not failed:
        return None
    _, n, r = min(failed, key=lambda t: (t[0], t[1]))
    return {"layer": r.layer, "quantity": r.quantity}, n


# ---- one check ----------------------------------------------------------------------------------
def judge_check(kind: str, sc: Scenario, outcome, ops: list, inputs: dict, transposed: bool):
    """A CheckResult for one check's outcome."""
    res = CheckResult(name=kind, scenario=sc.name, verdict="pass", notes=list(outcome.notes),
                      output=outcome.output, output_bytes=outcome.output_bytes)
    arrays = Reads(outcome.arrays)  # what the check read, by operation
    dtype = student_dtype(arrays)
    res.facts.update(dtype=dtype, transposed=transposed, arrays=arrays, ops=ops, op=outcome.op,
                     op_index=getattr(outcome, "op_index", None))
    if outcome.status == "discovery":
        res.verdict, res.message = "error", outcome.message
        return res
    if outcome.status == "load_error":
        res.verdict, res.traceback = "error", outcome.traceback
        res.message = "the submission could not be loaded"
        return res
    try:
        res.facts["steps"] = []
        stop = outcome.op_index if outcome.status != "ok" else None
        res.rows = rows_for(kind, sc, arrays, ops, inputs, dtype, transposed, res.facts["steps"],
                            stop, res.notes)
    except ValueError as exc:  # a shape the reference refuses: the student's arrays are malformed
        res.message = f"the weights read back cannot form the network: {exc}"
        res.verdict = "fail"
        res.first = {"layer": None, "quantity": "exception"}
    if outcome.status != "ok":  # the check stopped: the reads after that point never happened
        res.rows = [row for row in res.rows if row[1].problem != MISSING_WEIGHTS]
    if not res.rows and outcome.status == "ok" and res.verdict == "pass":
        # a check with nothing to compare is never a pass (a forged or empty result frame)
        res.verdict = "error"
        res.message = (f"the {kind} check sent back nothing to compare: no weights or outputs "
                       "reached the judge")
        return res
    found = first_failure(res.rows, sc.L) if res.rows else None
    first = None
    if found:
        first, res.first_row = found
    own = _own(kind)
    if first and own:
        first = {"layer": None, "quantity": own}
    if first:
        res.verdict, res.first = "fail", first
    if outcome.status != "ok":
        res.verdict = "fail"
        quantity = "timeout" if outcome.status == "timeout" else "exception"
        res.first = res.first or {"layer": None, "quantity": quantity}
        res.traceback = outcome.traceback
        res.message = describe_stop(outcome, ops)
    return res


def describe_stop(outcome, ops) -> str:
    call = {"new": "MLP(...) / add_layer", "descent": "backprop_descent",
            "read": "reading W and b back (its attributes)"}.get(outcome.op, outcome.op)
    if outcome.status == "timeout":
        where = f"{call}" if call else "this check"
        return (f"the submission did not finish {where} within the time limit of "
                f"{outcome.limit:g} s (an endless loop?)" if outcome.limit else
                f"the submission did not finish {where} within the time limit (an endless loop?)")
    if outcome.status == "exception":
        last = outcome.traceback.strip().splitlines()[-1] if outcome.traceback else ""
        return f"the submission raised in {call}: {last}"
    if outcome.message:  # the sandbox's own account (a malformed result, a stopped worker)
        return outcome.message
    if outcome.signal:
        return (f"the check's process was killed by signal {outcome.signal} (the CPU-time or "
                "memory limit, or the submission killed itself)")
    code = f" with exit code {outcome.exit_code}" if outcome.exit_code is not None else ""
    where = f" in {call}" if call else ""
    return f"the submission ended the process{code}{where} before the check finished (os._exit?)"


def rows_for(kind, sc, arrays, ops, inputs, dtype, transposed, store, stop=None, notes=None):
    """The rows of one check of ``kind`` (refmlp.check.kinds: each kind's own rows), its Step
    records appended to ``store``."""
    if kind not in KINDS:
        raise ValueError(f"unknown check kind {kind!r}; expected one of {', '.join(KINDS)}")
    j = Judging(sc, arrays, ops, inputs, dtype, transposed, stop, steps=store,
                notes=notes if notes is not None else [])
    return KINDS[kind].rows(j, KINDS[kind])

