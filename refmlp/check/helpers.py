"""The submission's own layers.py / losses.py, judged apart from its MLP class.

The MLP class is always judged with the checker's own (correct) helper functions, and by default
what the helper files do never changes the class's verdict (``mode="count"`` makes a failing helper
fail the submission: for a class whose students wrote their own helpers). When a submission ships
helper files, each function the course defines that the file defines too is run in the sandbox on
fixed inputs a network meets (0, negative values, |u| up to 1000, a softmax of large logits) and
compared with the reference here: refmlp's activations, and the course's loss formulas (a sample's
loss is a sum over outputs). Only values count: a wrong number, nan or inf. numpy's overflow
warning in 1 / (1 + exp(-u)) at u = -1000 is no defect (exp(1000) = inf gives exactly 0): it is
noted, never failed.

**The course's released files** are recognised by behaviour, not by text: a file is the released
one when it defines every function of the release and each behaves as the release does, its known
defects included (:data:`RELEASED`: leaky_relu's forward pass is a plain ReLU, leaky_relu_deriv is
0 at u == 0, softmax overflows for large inputs). Such a file is reported as the course's, its
defects listed, "not counted".

Known signatures named: relu_for_leaky (the released leaky_relu zero-fills, so its forward pass
is a plain ReLU), leaky_deriv_at_zero (0 at u == 0), wrong_leaky_slope, unstable_logistic,
unstable_softmax, mean_vs_sum (a loss or derivative divided by the number of outputs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import activations as act
from ..compare import POLICY, compare_arrays, describe_mismatch
from ..tolerance import EXACT_RTOL, HELPER_RATIO_RTOL

SLOPE = 0.01
U = np.array([-1000.0, -50.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 50.0, 1000.0])
INPUTS = {
    "helpers.u": U,
    "helpers.s_small": np.array([1.0, 2.0, 3.0, -1.0]),
    "helpers.s_large": np.array([1000.0, 999.0, 0.0, -5.0]),
    "helpers.p_est": np.array([0.2, 0.9, 0.5, 0.7]),
    "helpers.p": np.array([0.0, 1.0, 1.0, 0.0]),
    "helpers.q_est": act.softmax(np.array([1.0, 2.0, 3.0, -1.0])),
    "helpers.q": np.array([0.0, 0.0, 1.0, 0.0]),
    "helpers.r_est": np.array([0.5, -1.0, 2.0, 3.0]),
    "helpers.r": np.array([1.0, 0.0, 2.5, -1.0]),
    "helpers.logit": np.array([-1000.0, -2.0, 0.0, 3.0]),
}


def _xlogy(y, p):
    return np.where(y == 0, 0.0, y * np.log(np.where(y == 0, 1.0, p)))


# (label, module, function, args, reference value)
CASES = [
    ("logistic", "layers", "logistic", ["helpers.u"], act.logistic(U)),
    ("logistic_deriv", "layers", "logistic_deriv", ["helpers.u"], act.logistic_deriv(U)),
    ("leaky_relu", "layers", "leaky_relu", ["helpers.u"], act.leaky_relu(U, SLOPE)),
    ("leaky_relu_deriv", "layers", "leaky_relu_deriv", ["helpers.u"], act.leaky_relu_deriv(U, SLOPE)),
    ("softmax", "layers", "softmax", ["helpers.s_small"], act.softmax(INPUTS["helpers.s_small"])),
    ("softmax@large", "layers", "softmax", ["helpers.s_large"], act.softmax(INPUTS["helpers.s_large"])),
]
_pe, _p = INPUTS["helpers.p_est"], INPUTS["helpers.p"]
_qe, _q = INPUTS["helpers.q_est"], INPUTS["helpers.q"]
_re, _r = INPUTS["helpers.r_est"], INPUTS["helpers.r"]
_lg = INPUTS["helpers.logit"]
CASES += [
    ("logistic_est_loss", "losses", "logistic_est_loss", ["helpers.p_est", "helpers.p"],
     np.array(-(_xlogy(_p, _pe) + _xlogy(1 - _p, 1 - _pe)).sum())),
    ("logistic_est_loss_deriv", "losses", "logistic_est_loss_deriv", ["helpers.p_est", "helpers.p"], _pe - _p),
    ("softmax_est_crossentropy_loss", "losses", "softmax_est_crossentropy_loss",
     ["helpers.q_est", "helpers.q"], np.array(-_xlogy(_q, _qe).sum())),
    ("softmax_est_crossentropy_deriv", "losses", "softmax_est_crossentropy_deriv",
     ["helpers.q_est", "helpers.q"], _qe - _q),
    ("squared_loss", "losses", "squared_loss", ["helpers.r_est", "helpers.r"], np.array(((_r - _re) ** 2).sum())),
    ("squared_loss_deriv", "losses", "squared_loss_deriv", ["helpers.r_est", "helpers.r"], 2 * (_re - _r)),
    ("abs_loss", "losses", "abs_loss", ["helpers.r_est", "helpers.r"], np.array(np.abs(_r - _re).sum())),
    ("abs_loss_deriv", "losses", "abs_loss_deriv", ["helpers.r_est", "helpers.r"], np.sign(_re - _r)),
    ("logistic_loss_deriv", "losses", "logistic_loss_deriv", ["helpers.logit", "helpers.p"],
     act.logistic(_lg) - _p),
]
STABILITY = {"logistic": "unstable_logistic", "logistic_deriv": "unstable_logistic",
             "softmax": "unstable_softmax"}
MODES = ("apart", "count")
"""How helper failures weigh: apart (reported, the class's verdict stands) or count."""

RELEASED = {
    "layers": {"logistic": None, "logistic_deriv": None, "leaky_relu": "relu_for_leaky",
               "leaky_relu_deriv": "leaky_deriv_at_zero", "softmax": "unstable_softmax"},
    "losses": {fn: None for fn in (
        "logistic_est_loss", "logistic_est_loss_deriv", "logistic_loss_deriv",
        "softmax_est_crossentropy_loss", "softmax_est_crossentropy_deriv", "squared_loss",
        "squared_loss_deriv", "abs_loss", "abs_loss_deriv")},
}
"""The course's released helper files as they behave: per function, the known defect its values
show (a key of :data:`MESSAGES`) or None where it is right (COURSE_API.md)."""
DEFECTS = {
    "relu_for_leaky": "leaky_relu is a plain ReLU",
    "leaky_deriv_at_zero": "leaky_relu_deriv is 0 at u == 0",
    "unstable_softmax": "softmax overflows for large inputs",
}


def build(folder: Path, seed: int):
    """(worker checks, inputs) for the helper files the submission ships (none: no checks)."""
    shipped = {m for m in ("layers", "losses") if (Path(folder) / f"{m}.py").is_file()}
    cases = [[label, m, fn, args] for label, m, fn, args, _ in CASES if m in shipped]
    if not cases:
        return [], {}
    check = {"id": "helpers", "kind": "helpers", "api": "helpers", "class": None, "d": 1,
             "seed": seed, "loss_deriv": None, "layers": [], "scenario": None,
             "probe": ["helpers.u", "helpers.u"], "ops": [["helpers", cases]]}
    return [check], dict(INPUTS)


MESSAGES = {
    "relu_for_leaky": "{f} returns 0 (or slope 0) for negative inputs: that is a plain ReLU. Leaky "
                      "ReLU is u for u > 0 and 0.01 u for u <= 0 (the released helper zero-fills "
                      "the negatives and then scales the zeros, which leaves them 0).",
    "leaky_deriv_at_zero": "{f}(0) gives 0; the notes and torch take the slope 0.01 at u == 0 "
                           "(use u > 0 for the 1 branch, so that 0 gets alpha).",
    "wrong_leaky_slope": "{f} uses slope {s:g} for negative inputs where the notes use 0.01.",
    "unstable_logistic": "{f} overflows or warns for large |u| ({why}); compute it from "
                         "exp(-|u|), which never overflows: e / (1 + e) for u < 0.",
    "unstable_softmax": "{f} overflows for large inputs ({why}); subtract max(u) before exp, which "
                        "changes nothing mathematically.",
    "mean_vs_sum": "{f} is {s:g} times the reference: a mean over the outputs where the course "
                   "sums (a sample's loss is a sum over outputs).",
    "exception": "{f} raised: {why}",
    "unknown": "{f} differs from the reference: {why}",
}


def _diag(key, f, s=0.0, why=""):
    return {"key": key, "message": MESSAGES[key].format(f=f, s=s, why=why)}


def judge(checks, outcomes, inputs) -> list[dict]:
    """One entry per helper function the submission defines, in the contract's order, judged by
    its values only (module docstring)."""
    if not checks:
        return []
    out = outcomes.get("helpers")
    if out is None or out.status != "ok":
        why = (out.traceback or out.message or out.status) if out else "no report"
        return [{"module": "layers", "function": "*", "verdict": "error",
                 "details": {"summary": f"the helper files could not be run: {why}"},
                 "diagnosis": None}]
    notes = out.notes
    results = {}
    for label, module, fn, _, expected in CASES:
        key = f"{module}.{fn}"
        exc = next((n for n in notes if n.startswith(f"exception {key}:")), None)
        warn = next((n for n in notes if n.startswith(f"warning {key}:")), None)
        value = out.arrays.get(f"{module}.{label}")
        if value is None and exc is None:
            continue  # the file does not define it
        entry = results.setdefault(key, {"module": module, "function": fn, "verdict": "pass",
                                         "details": {"cases": []}, "diagnosis": None})
        if warn and warn not in entry["details"].setdefault("warnings", []):
            entry["details"]["warnings"].append(warn)
        if entry["verdict"] != "pass":
            continue
        if exc is not None:
            entry["verdict"] = "fail"
            entry["details"]["summary"] = exc
            entry["diagnosis"] = _diag("exception", fn, why=exc.split(":", 1)[1].strip()[-300:])
            continue
        exp = np.asarray(expected, dtype=np.float64)
        val = np.asarray(value, dtype=np.float64)
        if exp.ndim == 0:  # a loss value: per-output terms summed here (the course sums them)
            val = np.asarray(val.sum())
        # a 1-ulp difference between two correct formulas is ~1e-16 of the value; rtol 1e-10
        # (the float64 policy) with the function's largest value as the floor
        row = compare_arrays(fn, None, val, exp, POLICY["float64"].rtol)
        entry["details"]["cases"].append({"input": label, "verdict": row.verdict,
                                          "max_abs_diff": row.max_abs_diff, "problem": row.problem})
        if row.verdict == "pass":
            continue
        entry["verdict"] = "fail"
        entry["details"]["summary"] = f"on {label}: " + describe_mismatch(row)
        entry["diagnosis"] = helper_signature(fn, val, exp, inputs, row.problem or "")
    return list(results.values())


def summarize(functions: list[dict], mode: str = "apart") -> dict:
    """The helpers' own verdict: {"verdict", "counted", "files": [per file: "file", "released",
    "known_defects", "verdict", "failing"], "functions"}; verdict None when nothing was shipped."""
    if mode not in MODES:
        raise ValueError(f"helpers mode {mode!r}; expected one of {', '.join(MODES)}")
    files = []
    for module in dict.fromkeys(f["module"] for f in functions):
        mine = [f for f in functions if f["module"] == module]
        got = {f["function"]: (f["diagnosis"] or {}).get("key") if f["verdict"] != "pass" else None
               for f in mine}
        release = RELEASED.get(module, {})
        released = bool(release) and all(fn in got and got[fn] == key for fn, key in release.items())
        failing = [f["function"] for f in mine if f["verdict"] != "pass"]
        files.append({
            "file": f"{module}.py", "released": released,
            "known_defects": [DEFECTS[k] for k in release.values() if k] if released else [],
            "verdict": "error" if any(f["verdict"] == "error" for f in mine)
            else "fail" if failing else "pass",
            "failing": failing})
    verdicts = {f["verdict"] for f in files}
    verdict = None if not files else next(v for v in ("error", "fail", "pass") if v in verdicts
                                          or v == "pass")
    return {"verdict": verdict, "counted": mode == "count", "files": files,
            "functions": functions}


def helper_signature(fn, val, exp, inputs, why):
    """Which known defect the values show (module docstring)."""
    if fn in STABILITY:
        if why or not np.isfinite(val).all():
            return _diag(STABILITY[fn], fn, why=why or "non-finite values")
    if val.shape == exp.shape:
        if fn in ("leaky_relu", "leaky_relu_deriv"):
            neg = U < 0
            ref = U[neg] if fn == "leaky_relu" else np.ones(neg.sum())
            pos_ok = np.allclose(val[U > 0], exp[U > 0], rtol=EXACT_RTOL, atol=0)
            if pos_ok and np.allclose(val[neg], 0):
                return _diag("relu_for_leaky", fn)
            slope = val[neg] / ref
            if pos_ok and np.allclose(slope, slope[0], rtol=HELPER_RATIO_RTOL) and not np.isclose(slope[0], SLOPE):
                return _diag("wrong_leaky_slope", fn, s=float(slope[0]))
            if fn == "leaky_relu_deriv" and pos_ok and np.allclose(val[neg], SLOPE) and val[U == 0][0] == 0:
                return _diag("leaky_deriv_at_zero", fn)
        nz = np.abs(exp) > 0
        if nz.any():
            ratio = val[nz] / exp[nz]
            n = exp.size if exp.ndim else 4  # the loss cases have 4 outputs
            if np.allclose(ratio, 1.0 / n, rtol=HELPER_RATIO_RTOL):
                return _diag("mean_vs_sum", fn, s=1.0 / n)
    return _diag("unknown", fn, why=why or "values differ")
