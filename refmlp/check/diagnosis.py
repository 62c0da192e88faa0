"""Which bug the figures show: catalogued variants, direct signatures, then a derivation.

Entry point: :func:`diagnose` (first divergence -> {"key", "message"}), every key an entry of the
bug catalogue :mod:`refmlp.bugs`. It reads what the judge recorded for the check holding the first
divergence (``CheckResult.facts``: the arrays the sandbox sent back -- weights read at each
operation, the a_k each f received, what forward returned, the worker's call sites -- the
operations, the index of the one that raised, and one record per step, refmlp.check.kinds.Step)
and, where given, the submission's source text (read with ast, never imported). In this order:

1. **Direct signatures**: a timeout; an exception whose raising line is a transposition on
   non-square layers, or else located (which layers of the raising call were right, the layer
   whose forward step raised, the line); est_lossderiv called as (y, y_est) or fderiv given h_k
   (both recorded by the checker's own functions); a column bias broadcasting a_k to (m, m); the
   scale of the recovered gradients (a step that ascends, skips the biases, changes with alpha,
   moves inside backward); accumulation, zero_grad, stale forward passes; forward(z, start=)
   running earlier layers.
2. **Catalogued variants**: the numpy reference with each catalogued bug put in
   (:func:`refmlp.bugs.variant_trace`), named when the student's numbers match it within
   ``refmlp.tolerance.VARIANT_RTOL`` and sit ``CLEARLY_CLOSER`` times closer to it than to the
   reference (the values and their reasons: ``refmlp.tolerance.REASONS``).
3. **The derivation** (:mod:`refmlp.check.derivation`): which of the notes' quantities, or which
   simple combination, the first divergence equals; said in the notes' words, with the student's
   line where the worker saw the call. "no simple explanation found" (``unknown``), with the
   figures, only when it finds none.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace

import numpy as np

from .. import bugs
from ..tolerance import (CLEARLY_CLOSER, EXACT_RTOL, INNER_STEP_FLOOR, INNER_STEP_RTOL, POLICY,
                         SIGNATURE_RTOL, VARIANT_RTOL, step_rounding)


def message(key, **kw):
    """The diagnosis record of a catalogued bug (refmlp.bugs.message)."""
    return bugs.message(key, **kw)


def _close(x, y, rtol):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or not np.isfinite(x).all():
        return False
    return bool(np.all(np.abs(x - y) <= rtol * (np.abs(y) + np.abs(y).max(initial=0.0)) + 1e-300))


# ---- the reference with one bug put in ----------------------------------------------------------
def _fns(name):
    return bugs.activation_fns(name)


def variant(sc, W, b, x, y, bug):
    """(a list, W_derivs list, b_derivs list) of one sample with the catalogued bug ``bug`` in
    ("none": the reference), None where the bug raises instead (refmlp.bugs.variant_trace)."""
    v = bugs.REFERENCE if bug == "none" else bugs.get(bug).variant
    out = bugs.variant_trace(v, [name for _, name, _ in sc.layers], sc.loss, W, b, x, y)
    return None if out is None else (out[0], out[2], out[3])


BACKWARD_BUGS = tuple(key for key, bug in bugs.BUGS.items() if bug.variant is not None)
"""Every catalogued bug with a numpy variant, in catalogue order."""
FORWARD_BUGS = tuple(key for key in BACKWARD_BUGS
                     if bugs.BUGS[key].variant.forward_W != "W" or bugs.BUGS[key].variant.bias != "before"
                     or bugs.BUGS[key].variant.hidden_f)
"""The variants that change the forward pass."""


def _totals(sc, step, bug):
    """(W_derivs list, b_derivs list) of ``bug``'s variant summed over the step's samples, or None
    where the variant raises."""
    X, Y = np.atleast_2d(step["X"]), np.atleast_2d(step["Y"])
    W, b = step["P0"]
    total_W, total_b = None, None
    for x, y in zip(X, Y):
        v = variant(sc, W, b, x, y, bug)
        if v is None:
            return None
        total_W = v[1] if total_W is None else [None] + [s + t for s, t in zip(total_W[1:], v[1][1:])]
        total_b = v[2] if total_b is None else [None] + [s + t for s, t in zip(total_b[1:], v[2][1:])]
    return total_W, total_b


def _dev(got, want):
    """The largest deviation of the arrays ``got`` from ``want``, on _close's scale (inf where a
    shape differs or a value is missing or not finite)."""
    worst = 0.0
    for x, y in zip(got, want):
        if x is None or y is None or np.shape(x) != np.shape(y):
            return np.inf
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if not np.isfinite(x).all():
            return np.inf
        scale = np.abs(y) + np.abs(y).max(initial=0.0) + 1e-300
        worst = max(worst, float((np.abs(x - y) / scale).max(initial=0.0)))
    return worst




def clearly_closer(got, var, ref, rtol):
    """The student's arrays ``got`` match the variant ``var`` (within ``rtol``) and sit clearly
    closer to it than to the reference ``ref``."""
    dv = _dev(got, var)
    return dv <= rtol and _dev(got, ref) > CLEARLY_CLOSER * dv


def match_gradients(sc, step, rtol, bugs=BACKWARD_BUGS):
    """The first bug whose variant gives every recovered gradient of ``step`` (a judge record),
    clearly closer than the reference does ("none": the reference itself, within rtol)."""
    got = step["W"][1:] + step["b"][1:]
    ref = None
    for bug in bugs:
        v = _totals(sc, step, bug)
        if v is None:
            continue
        var = v[0][1:] + v[1][1:]
        if bug == "none":
            if _dev(got, var) <= rtol:
                return bug
            continue
        if ref is None:
            r = _totals(sc, step, "none")
            ref = r[0][1:] + r[1][1:]
        if clearly_closer(got, var, ref, rtol):
            return bug
    return None


# ---- signatures -----------------------------------------------------------------------------------
def _ratios(step):
    """Per parameter, the factor c with recovered = c x expected (least squares), or None."""
    out = {}
    for k in range(1, len(step["W"])):
        for q, got in (("W", step["W"][k]), ("b", step["b"][k])):
            exp = getattr(step["trace"], f"{q}_derivs")[k]
            if got is None or np.shape(got) != np.shape(exp):
                continue
            den = float((exp * exp).sum())
            if den > 0:
                c = float((got * exp).sum()) / den
                out[(q, k)] = c if np.allclose(got, c * exp, rtol=SIGNATURE_RTOL, atol=EXACT_RTOL * np.abs(exp).max()) else None
    return out


def step_signature(sc, results, step, source=None):
    """step_wrong_sign / step_skips_biases / step_wrong_scale / mean_vs_sum from the scale of the
    recovered gradients, read across the gradients and step checks (different alphas)."""
    r = _ratios(step)
    L = sc.L
    if not r or any(c is None for c in r.values()):
        bs = [c for (q, _), c in r.items() if q == "b"]
        # every bias unmoved (exactly) while the last layer's W moved right: the biases are
        # skipped, whatever else is wrong further down
        if bs and len(bs) == L and all(c is not None and abs(c) < EXACT_RTOL for c in bs) and \
                r.get(("W", L)) is not None and abs(r[("W", L)] - 1) < SIGNATURE_RTOL:
            return message("step_skips_biases")
        return None
    cs = np.array(list(r.values()))
    if np.allclose(cs, -1, rtol=SIGNATURE_RTOL):
        return message("step_wrong_sign")
    bs = [c for (q, _), c in r.items() if q == "b"]
    Ws = [c for (q, _), c in r.items() if q == "W"]
    for q, wrong, right in (("W", Ws, bs), ("b", bs, Ws)):  # one of the two lines adds
        if (wrong and right and np.allclose(wrong, -1, rtol=SIGNATURE_RTOL)
                and np.allclose(right, 1, rtol=SIGNATURE_RTOL)):
            d = message("step_wrong_sign")
            other = "b" if q == "W" else "W"
            d["message"] = (f"step ascends for {q}: every {q} moved by +alpha x its gradient ({other} "
                            f"moved the right way). Use {q} -= alpha * d{q}.")
            return d
    if all(abs(c) < EXACT_RTOL for c in bs) and np.allclose(Ws, 1, rtol=SIGNATURE_RTOL):
        return message("step_skips_biases")
    # the scale at the step check's other alphas
    step_check = next((c for c in results if c.name == "step"), None)
    step_steps = step_check.facts.get("steps", []) if step_check else []
    inside = _inner_step([step] + list(step_steps))
    if inside:
        alpha_s, reset = inside
        d = message("step_inside_backward", which=f"{alpha_s:g}")
        if reset:
            d["message"] += (" It then resets the gradients of " + ", ".join(sorted(reset))
                             + " (zero_grad inside backward), so step(alpha) moves those no more.")
        line = method_calls(source, ("backward", "backprop"), "step")
        if line:
            d["message"] += f" ({source[0]} line {line}: self.step(...) in backward.)"
        return d
    other = [_ratios(s) for s in step_steps]
    for o in other:
        for key, c in r.items():
            c2 = o.get(key)
            if c2 is not None and not np.isclose(c, c2, rtol=SIGNATURE_RTOL):
                which = ", ".join(sorted({f"{q}_{k}" for (q, k), c in r.items() if not np.isclose(c, 1, rtol=SIGNATURE_RTOL)}))
                return message("step_wrong_scale", which=f"{which} moved by a factor that changes with alpha")
    if np.allclose(cs, cs[0], rtol=SIGNATURE_RTOL):
        n_out = sc.layers[-1][0]
        if n_out > 1 and np.isclose(cs[0], 1 / n_out, rtol=SIGNATURE_RTOL):
            return message("mean_vs_sum", which=f"1/{n_out} of the reference, i.e. divided by "
                                                 "the number of outputs")
    return None


def _inner_step(steps):
    """(alpha_s, the parameters whose gradients backward resets) when every parameter moved by
    alpha_s + alpha (gradient kept) or alpha_s alone (gradient reset after the inner step) x its
    gradient, alpha_s the same for all, at two alphas or more; else None."""
    per = []
    for st in steps:
        r = _ratios(st)
        if not r or any(c is None for c in r.values()):
            return None
        per.append((st["alpha"], r))
    if len({alpha for alpha, _ in per}) < 2:
        return None
    alpha, r = per[0]
    first = next(iter(r.values()))
    for alpha_s in ((first - 1) * alpha, first * alpha):
        if alpha_s <= INNER_STEP_FLOOR * alpha:  # below it: the ratios' rounding
            continue
        reset = set()
        ok = True
        for alpha, r in per:
            for key, c in r.items():
                kept, zeroed = (c - 1) * alpha, c * alpha
                if np.isclose(kept, alpha_s, rtol=INNER_STEP_RTOL):
                    continue
                if np.isclose(zeroed, alpha_s, rtol=INNER_STEP_RTOL):
                    reset.add(f"{key[0]}_{key[1]}")
                    continue
                ok = False
        if ok:
            return alpha_s, reset
    return None


def fan_in_d(sc, error: str) -> bool:
    """numpy's shape error names the two sizes it could not match: d (the input size) where layer
    k >= 2 needs n_{k-1} means W_k was made (m_k, d): "shapes (10,64) and (20,) not aligned" (dot),
    "(size 20 is different from 64)" (matmul)."""
    d = sc.d
    shapes = [tuple(int(n) for n in re.findall(r"\d+", m)) for m in re.findall(r"\(([\d, ]+)\)", error)]
    pair = re.search(r"size (\d+) is different from (\d+)", error)
    sizes = {int(pair.group(1)), int(pair.group(2))} if pair else set()
    for k in range(2, sc.L + 1):
        n_prev, m = sc.sizes[k - 1], sc.sizes[k]
        if n_prev == d:
            continue
        if ((m, d) in shapes and (n_prev,) in shapes) or sizes == {n_prev, d}:
            return True
    return False


def exception_signature(sc, text, layer1_ran=False):
    """A transposition on non-square layers raises a shape error rather than giving wrong numbers;
    read the line of the student's code that raised (the last frame of the traceback) and its
    function: outer(h, g) is W_derivs transposed, W^T h in forward is a transposed forward pass,
    W @ g (no transpose) in backward passes g back with W instead of W^T; in forward, after layer
    1 ran (``layer1_ran``: its f was called in the raising call), a W_k made (m_k, d)."""
    if text and "'NoneType' object is not callable" in text.strip().splitlines()[-1] and re.search(
            r"in (backward|backprop\w*)\n[^\n]*\n[^\n]*$", text.strip()):
        return "fprime_at_last_layer"  # the only None the checker hands over: the last fderiv
    if not text or not re.search(r"shape|align|broadcast|dimension|size", text.splitlines()[-1]):
        return None
    frames = re.findall(r'File "[^"]*", line \d+, in (\w+)\n\s+(.*)', text)
    if not frames:
        return None
    func, line = frames[-1]
    code = line.replace(" ", "")
    outer = re.search(r"outer\(([^,]+),(.+)\)", code)
    if outer:
        first, second = outer.group(1), outer.group(2)
        if re.search(r"\b(g|delta|grad|d)\w*", second) and not re.search(r"\b(g|delta|grad)\b", first):
            return "W_derivs_transposed"
        if re.search(r"h\[k\]|h\[i\]|h\[-1\]|self\.h\[k\]", second):
            return "h_k_for_h_k_minus_1"
    if "forward" in func and re.search(r"\.T(@|\.dot)|dot\([^,]*\.T", code):
        return "forward_W_transposed"
    # a layer after the first raised (layer 1's f was called in the raising call) on d inputs
    if "forward" in func and layer1_ran and fan_in_d(sc, text.strip().splitlines()[-1]):
        return "add_layer_fan_in_d"
    if "backward" in func or "backprop" in func:
        if re.search(r"W\w*(\[[^\]]*\])*(@|\.dot\()", code) and ".T" not in code and "outer" not in code:
            return "W_instead_of_WT"
    return None


def method_calls(source, methods, callee):
    """The line where a method of the submission named ``methods`` (or starting so) calls
    self.<callee>(...), read with ast from ``source`` (file name, text); None if none or the text
    does not parse."""
    if not source:
        return None
    try:
        tree = ast.parse(source[1])
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(methods):
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == callee and isinstance(call.func.value, ast.Name)
                        and call.func.value.id == "self"):
                    return call.lineno
    return None


def diagnose(first, sc, results, inputs, source=None):
    """The diagnosis of the first divergence: ``first`` is the CheckResult holding it (its
    ``first_row`` the row it quotes), ``results`` every check of its scenario ``sc``, ``inputs``
    the checks' inputs, ``source`` (file name, text) of the submission's module, read, never
    imported (it places what the numbers show: a zero_grad or step call inside backward).
    Returns {"key": a refmlp.bugs key, "message": prose}."""
    q = first.first["quantity"] if first.first else None
    rtol = VARIANT_RTOL["float32" if first.facts.get("dtype") == "float32" else "float64"]
    steps = first.facts.get("steps", [])
    if q == "timeout":
        op = first.facts.get("op")
        return message("timeout", which=f"in {op}" if op else f"in the {first.name} check")
    if q == "exception":
        i = first.facts.get("op_index")
        layer1_ran = i is not None and f"{i}.f1" in first.facts.get("arrays", {})
        key = exception_signature(sc, first.traceback, layer1_ran)
        if key == "add_layer_fan_in_d":
            line = raising_line(first.traceback)
            return message(key, which=f" Your forward raised at {line}." if line else "")
        if key == "fprime_at_last_layer":  # seen as the call of the last layer's None
            d = message(key)
            line = raising_line(first.traceback)
            d["message"] += (f" Your backward called the last layer's fderiv (None) at {line}" if
                             line else " Your backward called the last layer's fderiv (None)") + (
                ": if your loop skips k = L already, that fderiv index is one layer off (layer "
                "k + 1's fderiv used at layer k).")
            return d
        if key:
            return message(key)
        text = first.message or f"your code raised in the {first.name} check"
        located = locate_exception(sc, first, inputs)
        text = f"{located}; {text}" if located else text
        line = raising_line(first.traceback)
        text = text[0].upper() + text[1:] + "."
        if line:
            text += f" It raised at {line}."
        elif first.traceback:
            text += " The traceback below shows the line of your code that raised."
        return message("exception", which=text)
    if q in ("a", "h"):
        return forward_signature(sc, first, rtol)
    if lossderiv_swapped(first.facts.get("arrays", {}), first.facts.get("ops", []), inputs):
        return message("lossderiv_arguments_swapped")
    if q in ("b_derivs", "W_derivs"):
        quoted = getattr(first, "first_quoted", None)  # the step of the first divergence's row
        step = next((s for s in steps if quoted and s["where"] == quoted[2]), None) or next(
            (s for s in steps if any(r.verdict == "fail" for _, r, w in first.rows
                                     if w == s["where"])), None)
        if step is None:
            return message("unknown", which=f"{first.name} differs")
        for lab, r, w in first.rows:  # step (or backward) turned b_k into (m, m): a column bias
            if r.verdict == "fail" and r.quantity == "b_derivs" and len(r.shape) == 2 and (
                    r.problem or "").startswith("shape"):
                m = sc.layers[r.layer - 1][0]
                if m > 1 and tuple(r.shape) == (m, m):  # (m, 1) + (m,) broadcasts to (m, m)
                    return message("bias_column_broadcast", k=r.layer, m=m, shape=tuple(r.shape),
                                   a="b")
        if fderiv_given_h(sc, first.facts.get("arrays", {}), first.facts.get("ops", [])):
            return message("fprime_of_h")
        bug = match_gradients(sc, step, rtol)
        if bug in bugs.SLOPE_KEYS:
            return message(bug, which=bug.partition("=")[2])
        return (step_signature(sc, results, step, source) or (message(bug) if bug else None)
                or derive_gradient(sc, first, steps)
                or message("unknown", which=_figures(first)))
    if q == "accumulation" and steps:
        s = steps[0]
        one = dict(s, X=s["X"][1:], Y=s["Y"][1:])
        if _matches_reference(sc, one, rtol):
            line = method_calls(source, ("backward", "backprop"), "zero_grad")
            if line:  # the same numbers; the source says which
                return message("zero_grad_inside_backward",
                               which=f" ({source[0]} line {line}: self.zero_grad() in backward)")
            return message("gradients_overwritten")
        half = dict(s, W=[None] + [2 * v for v in s["W"][1:]], b=[None] + [2 * v for v in s["b"][1:]])
        if _matches_reference(sc, half, rtol):
            return message("mean_vs_sum", which="halved over two backward calls: divided by the "
                                                "number of samples")
        last = overwritten_parameters(sc, s, rtol)
        if last:
            return message("gradients_overwritten", which=f" ({', '.join(last)})")
    if q == "zero_grad" and steps:
        moved = [lab for lab, r, w in first.rows if r.verdict == "fail" and "zero_grad" in w]
        if moved:
            return message("zero_grad_partial", which=", ".join(moved))
    if q == "stale_forward" and steps:
        s = steps[0]
        p = sc.name + "."
        from .kinds import KINDS

        previous = KINDS["stale_forward"].samples[0]  # the forward call before the backward
        if _stale_matches(sc, s, inputs[f"{p}x{previous}"], rtol):
            return message("stale_forward")
    if q == "sgd_run" and steps:
        scales = [_ratios(s) for s in steps]
        uniform = [set(round(c, 9) for c in r.values()) if r and None not in r.values() else None
                   for r in scales]
        if all(u is not None and len(u) == 1 for u in uniform) and len({u.pop() for u in uniform}) > 1:
            cs = ", ".join(f"{next(iter(r.values())):.4g}" for r in scales)
            return message("step_wrong_scale", which=f"the step size changes from one step to the "
                                                     f"next (alpha x {cs} at steps 1..{len(cs.split(','))})")
    if q == "step" and steps:
        for s in steps:
            d = step_signature(sc, results, s, source)
            if d:
                return d
        return message("step_wrong_scale", which="the recovered gradient depends on alpha")
    return message("unknown", which=_figures(first))


# ---- the derivation: which formula the numbers equal -------------------------------------------
def _policy_rtol(first) -> float:
    return POLICY[first.facts.get("dtype") or "float64"].rtol


def _step_err(step, dtype: str, q: str, k: int):
    """The rounding of the recovered gradient q_k ("W" or "b") of a step (the judge's record,
    refmlp.check.kinds.Step) per element, as refmlp.check.judge.recovered bounds it; None when
    the step changed its shape."""
    i = 0 if q == "W" else 1
    before, after = step["P0"][i][k], step["P1"][i][k]
    if np.shape(before) != np.shape(after):
        return None
    return step_rounding(after, before - after, step["alpha"], dtype)


def _single_sample_steps(first, steps):
    """The steps of ``first`` made on one sample (a sum of samples is no outer product), whose
    rows fail."""
    failing = {w for _, r, w in first.rows if r.verdict == "fail"}
    return [st for st in steps if np.ndim(st["X"]) == 1 and st["where"] in failing]


def derive_gradient(sc, first, steps):
    """The formula the first divergence's gradient equals (refmlp.check.derivation), said in the
    notes' words, or None when the search finds none."""
    from . import derivation

    q, k = first.first["quantity"], first.first["layer"]
    chosen = _single_sample_steps(first, steps)
    if not chosen or k is None:
        return None
    dtype = first.facts.get("dtype") or "float64"
    rtol = _policy_rtol(first)
    traces = []
    for st in chosen:
        try:
            traces.append(derivation.sample_trace(sc.spec(), st["P0"][0], st["P0"][1], st["X"],
                                                  st["Y"], rtol))
        except ValueError:
            return None
    g_obs = [(st["b"][k], derivation.g_candidates(t, k, rtol), _step_err(st, dtype, "b", k))
             for st, t in zip(chosen, traces)]
    if any(o[0] is None or o[2] is None for o in g_obs):
        return None
    g = derivation.explain(f"b_derivs_{k}", g_obs, rtol)
    if q == "b_derivs":
        if g is None or g.is_reference:
            return None
        found = g
        W_right = all(r.verdict == "pass" for _, r, w in first.rows
                      if r.quantity == "W_derivs" and r.layer == k and w in {st["where"] for st in chosen})
        if W_right and g.term.cost > 0 and g.term.key != "bias_grad_summed":
            # the g that W_derivs_k uses is right: only the bias gradient's is not
            found = replace(g, term=replace(g.term, key="b_derivs_before_fprime" if g.term.key ==
                            "fprime_missing" else None, advice=(
                f"W_derivs_{k} is right, so g_{k} is: take b_derivs_{k} = g from the same g, after "
                f"the step g *= f'_{k}(a_{k})" if "W_" in g.term.name else
                f"W_derivs_{k} is right, so g_{k} is: b_derivs_{k} = g_{k}")))
    else:
        W_obs = [(st["W"][k], derivation.W_candidates(t, k, rtol), _step_err(st, dtype, "W", k))
                 for st, t in zip(chosen, traces)]
        if any(o[0] is None or o[2] is None for o in W_obs):
            return None
        found = derivation.explain(f"W_derivs_{k}", W_obs, rtol)
        if found is None or found.is_reference:
            return None
    d = derived_message(found)
    where = backward_site(sc, first, k)
    if where:
        d["message"] += f" {where}"
    return d


def backward_site(sc, first, k):
    """Where the submission's backward calls fderiv for layer k (est_lossderiv for k = L): the
    line next to the wrong one, read from the worker's call sites."""
    arrays, ops = first.facts.get("arrays", {}), first.facts.get("ops", [])
    key, what = (("lossderiv", "est_lossderiv") if k == sc.L
                 else (f"fd{k}", f"layer {k}'s fderiv"))
    for i, op in enumerate(ops):
        if op[0] in ("backward", "descent"):
            where = site(arrays, f"{i}.{key}")
            if where:
                return f"(Your backward calls {what} at {where.replace(':', ' line ')}.)"
    return None


def derived_message(found):
    """A catalogued bug's message with the formula found, or the formula itself ("derived")."""
    said = found.say()
    if found.term.key in bugs.SLOPE_KEYS and found.factor == 1.0:
        d = message(found.term.key, which=found.term.key.partition("=")[2])
        d["message"] += f" ({found.equation()}.)"
        return d
    if found.term.cost == 0 and found.factor != 1.0:
        d = message("gradient_scaled", which=f"{found.target} = {found.formula()}")
        if found.factor == -1.0:  # the checks read gradients through what step moves
            d["message"] += (" A factor -1 is also what a step that adds the gradient gives "
                             "(W += alpha * dW): step must subtract it, W -= alpha * dW.")
        return d
    if found.term.key and found.factor == 1.0:
        d = message(found.term.key, k=found.target.rpartition("_")[2])
        d["message"] += f" ({found.equation()}.)"
        return d
    return message("derived", which=said[0].upper() + said[1:] + ".")


def lossderiv_swapped(arrays, ops, inputs):
    """Seen directly: during a backward (or backprop_descent) call, the est_lossderiv handed to the
    network received the target y as its first argument, where y_est (the output) was due. The
    checker's est_lossderiv records its first argument."""
    for i, op in enumerate(ops):
        if op[0] not in ("backward", "descent") or f"{i}.lossderiv" not in arrays:
            continue
        first = np.ravel(np.asarray(arrays[f"{i}.lossderiv"], dtype=float))
        y = np.ravel(np.asarray(inputs[op[2]], dtype=float))
        out = [np.ravel(arrays[k]) for k in (f"{j}.out" for j in range(i)) if k in arrays]
        if first.shape == y.shape and np.array_equal(first, y) and not any(
                o.shape == y.shape and np.array_equal(o, y) for o in out):
            return True
    return False


def fderiv_given_h(sc, arrays, ops):
    """Seen directly: during a backward call, the fderiv handed to add_layer received h_k = f(a_k)
    where a_k (what f received) was due, on a layer where f'(h_k) != f'(a_k). The checker's
    functions record both arguments."""
    for i, op in enumerate(ops):
        if op[0] != "backward":
            continue
        for k, (_, name, _) in enumerate(sc.layers[:-1], start=1):
            a, u = arrays.get(f"{i}.f{k}"), arrays.get(f"{i}.fd{k}")
            if a is None or u is None or np.shape(a) != np.shape(u):
                continue
            f, fprime = _fns(name)
            h = f(np.asarray(a, dtype=float))
            # named only where it changes the numbers: on a leaky layer f'(h) == f'(a)
            if not _close(u, a, EXACT_RTOL) and _close(u, h, EXACT_RTOL) and not _close(
                    fprime(h), fprime(np.asarray(a, dtype=float)), EXACT_RTOL):
                return True
    return False


def overwritten_parameters(sc, s, rtol):
    """The gradients that hold only the last backward's share while every other one holds the
    sum of both (some assigned with =, the rest accumulated with +=), or None."""
    W, b = s["P0"]
    both, last = _totals(sc, s, "none"), _totals(sc, dict(s, X=s["X"][1:], Y=s["Y"][1:]), "none")
    if both is None or last is None:
        return None
    assigned = []
    for k in range(1, sc.L + 1):
        for q, i in (("W", 0), ("b", 1)):
            got = s[q][k]
            if got is None:
                return None
            if _close(got, both[i][k], rtol):
                continue
            if not _close(got, last[i][k], rtol):
                return None
            assigned.append(f"{q}_derivs_{k}")
    return assigned or None


def _matches_reference(sc, s, rtol):
    return match_gradients(sc, s, rtol, bugs=("none",)) is not None


def _stale_matches(sc, s, x_prev, rtol):
    """backward(x7, y7) computed on the a/h of forward(x6): with h_0 = x6 or with h_0 = x7."""
    W, b = s["P0"]
    for h0 in (x_prev, s["X"]):
        v = variant(sc, W, b, x_prev, s["Y"], "none")
        if v is None:
            return False
        a, Wd, bd = v
        Wd = list(Wd)
        # W_derivs_1 = g_1 h_0^T: recompute with the chosen h_0
        Wd[1] = np.outer(bd[1], h0)
        if all(_close(s["W"][k], Wd[k], rtol) and _close(s["b"][k], bd[k], rtol)
               for k in range(1, sc.L + 1)):
            return True
    return False


def forward_signature(sc, first, rtol):
    arrays, ops = first.facts.get("arrays", {}), first.facts.get("ops", [])
    from .judge import COLUMN_RETURNED

    quoted = getattr(first, "first_quoted", None)
    if quoted and (quoted[1].problem or "").startswith(COLUMN_RETURNED):
        return message("forward_returns_column", shape=tuple(quoted[1].shape), where=quoted[2])
    for lab, r, w in first.rows:
        if r.verdict == "fail" and r.quantity == "a" and r.problem and "shape" in r.problem:
            m = sc.layers[r.layer - 1][0]
            if m > 1 and tuple(r.shape) == (m, m):  # (m, 1) + (m,) broadcasts to (m, m)
                return message("bias_column_broadcast", k=r.layer, m=m, shape=tuple(r.shape),
                               a="a")
    from .judge import read_params

    P = read_params(arrays, "0", sc.sizes, first.facts.get("transposed", False))
    if P is None:
        return message("unknown", which=_figures(first))
    for i, op in enumerate(ops):
        if op[0] == "forward" and op[2] is None and op[3] is None and f"{i}.x" in arrays:
            got = [None if g is None else np.ravel(g)
                   for g in (arrays.get(f"{i}.f{k}") for k in range(1, sc.L + 1))]
            y = np.zeros(sc.layers[-1][0])
            r = variant(sc, P[0], P[1], arrays[f"{i}.x"], y, "none")
            ref = r[0][1:] if r is not None else [None] * sc.L
            for bug in FORWARD_BUGS:
                v = variant(sc, P[0], P[1], arrays[f"{i}.x"], y, bug)
                if v is not None and clearly_closer(got, v[0][1:], ref, rtol):
                    d = message(bug)
                    k = next((k for k in range(1, sc.L + 1) if got[k - 1] is not None
                              and not _close(got[k - 1], ref[k - 1], rtol)), 1)
                    where = site(arrays, f"{i}.f{k}")
                    if where:
                        d["message"] += (f" (Your forward applies layer {k}'s f at "
                                         f"{where.replace(':', ' line ')}.)")
                    return d
            break
    return derive_forward(sc, first, P) or message("unknown", which=_figures(first))


def _quoted(first):
    """(label, Row, where) of the first divergence: the row the judge quotes, else the first
    failing row of the earliest kind."""
    n = getattr(first, "first_row", None)
    if n is not None:
        return first.rows[n]
    fd = first.first or {}
    return next(((lab, r, w) for lab, r, w in first.rows if r.verdict == "fail"
                 and r.quantity == fd.get("quantity") and r.layer == fd.get("layer")),
                next(((lab, r, w) for lab, r, w in first.rows if r.verdict == "fail"), None))


def _forward_where(op) -> str:
    """The 'where' the judge gives a forward op's rows (refmlp.check.judge.forward_rows)."""
    label = op[1].split(".", 1)[-1]
    return f"forward({label}" + (f", start={op[2]!r}" if op[2] else "") + (
        f", end={op[3]!r}" if op[3] else "") + ")"


def derive_forward(sc, first, P):
    """What a wrong a_k, or a wrong output of forward (also with start= or end=), equals: another
    layer's a or h, the pre-activation, another call's output, a placeholder (0, None), W^T, a
    dropped bias, another input (refmlp.check.derivation); with the line where that call applied
    the layer's f, when the worker saw it."""
    d = _derive_forward(sc, first, P)
    quoted = _quoted(first)
    if d is None or quoted is None:
        return d
    arrays, ops = first.facts.get("arrays", {}), first.facts.get("ops", [])
    i = next((i for i, op in enumerate(ops) if op[0] == "forward" and f"{i}.x" in arrays
              and _forward_where(op) == quoted[2]), None)
    k = quoted[1].layer
    where = site(arrays, f"{i}.f{k}") if i is not None and k else None
    if where:
        d["message"] += f" (Your forward applies layer {k}'s f at {where.replace(':', ' line ')}.)"
    return d


def _derive_forward(sc, first, P):
    from . import derivation
    from .judge import sub_spec

    quoted = _quoted(first)
    arrays, ops = first.facts.get("arrays", {}), first.facts.get("ops", [])
    if quoted is None:
        return None
    _, row, where = quoted
    found_op = next(((i, op) for i, op in enumerate(ops) if op[0] == "forward"
                     and f"{i}.x" in arrays and _forward_where(op) == where), None)
    if found_op is None:
        return None
    i, op = found_op
    names = {name: k for k, (_, _, name) in enumerate(sc.layers, start=1)}
    k0, k1 = names.get(op[2], 1), names.get(op[3], sc.L)
    W, b = P
    x = np.asarray(arrays[f"{i}.x"], dtype=np.float64)
    rtol = _policy_rtol(first)
    spec = sub_spec(sc, k0)
    n_out = spec.layers[-1].size
    y = np.eye(n_out)[0] if spec.loss.name == "cross_entropy" else np.zeros(n_out)
    try:
        s = derivation.sample_trace(spec, [None] + W[k0:], [None] + b[k0:], x, y, rtol)
    except ValueError:
        return None
    earlier = [(j, o) for j, o in enumerate(ops[:i]) if o[0] == "forward" and f"{j}.x" in arrays]
    call = where[len("forward"):]
    if op[2]:
        return derive_start(sc, P, arrays, i, op, k0, rtol)
    if row.quantity == "a" and f"{i}.f{row.layer}" not in arrays and f"{i}.out" in arrays \
            and f"{i}.f{row.layer}.percall" not in arrays:
        k = row.layer
        return message("derived", which=(
            f"forward{call} never calls the f given to add_layer for layer {k} (it returned an "
            f"output all the same): compute h_{k} = f_{k}(a_{k}) with the layer's own f, not a "
            "hard-coded activation."))
    if row.quantity == "a" and f"{i}.f{row.layer}" in arrays and \
            np.shape(arrays[f"{i}.f{row.layer}"]) == np.shape(W[row.layer]) and W[row.layer].ndim == 2 \
            and W[row.layer].shape[1] > 1:
        k = row.layer
        return message("derived", which=(
            f"a_{k} has the shape of W_{k}, {np.shape(W[k])}: W_{k} was multiplied elementwise (by "
            f"a scalar, or broadcast against its input) where the matrix product W_{k} @ h_{k - 1} "
            f"is due; check that h_{k - 1} is the previous layer's vector and that the product is @ "
            "(or np.dot), not *."))
    if row.quantity == "a" and k0 == 1 and f"{i}.f{row.layer}" in arrays:
        k = row.layer
        cands = derivation.a_candidates(s, k, others=[arrays[f"{j}.x"] for j, _ in earlier],
                                        target=arrays[f"{i}.f{k}"])
        found = derivation.explain(f"a_{k}", [(arrays[f"{i}.f{k}"], cands, 0.0)], rtol)
        if found is None or found.is_reference:
            return None
        if found.term.key == "forward_input_not_x":
            return message("forward_input_not_x", which=found.term.advice)
        return derived_message(found)
    if row.quantity != "h" or f"{i}.out" not in arrays:
        return None
    out = np.asarray(arrays[f"{i}.out"], dtype=np.float64)
    layer = f"{op[3]!r}" if op[3] else ""
    if out.ndim == 0 and np.isnan(out):
        what = "None"
    elif out.size and not np.any(out):
        what = "0" if out.ndim == 0 else "an array of zeros"
    else:
        what = None
    if what:
        if op[3]:
            return message("forward_end_placeholder", which=layer, got=what, k=k1)
        return message("derived", which=f"forward{call} returned {what} where h_{k1} is due.")
    offset = k0 - 1
    cands = {}
    if k0 == 1:
        cands["h_0"] = derivation.atom("h_0", x, 0.0, cost=1)
    for j in range(1, spec.L + 1):
        for q in ("h", "a"):
            name = f"{q}_{j + offset}"
            cands[name] = derivation.atom(name, getattr(s, q)[j], s.M[q][j], cost=1)
    for phi in derivation.OTHER_ACTIVATIONS + (derivation.act.ACTIVATIONS["softmax"],):
        if phi.name != spec.layers[k1 - offset - 1].activation.name:  # another activation at k1
            name = f"{phi.name}(a_{k1})"  # |phi'| <= 1 for these: M_a bounds phi(a)'s scale
            cands[name] = derivation.atom(name, phi.f(s.a[k1 - offset]), np.abs(s.M["a"][k1 - offset]),
                                          cost=1)
    for j, o in earlier:
        if f"{j}.out" in arrays:
            name = f"the output of an earlier call, forward{_forward_where(o)[len('forward'):]}"
            cands.setdefault(name, derivation.atom(name, arrays[f"{j}.out"], 0.0, cost=2))
    ref_name = f"h_{k1}"
    found = derivation.explain(f"the output of forward{call}", [(out, cands, 0.0)], rtol,
                               free_factor=False)
    if found is None or found.term.name == ref_name:
        return None
    got = found.term.name
    if got == f"a_{k1}":
        return message("forward_end_returns_a", which=call, k=k1)
    if got.startswith("the output of an earlier call"):
        key = "forward_end_placeholder" if op[3] else "derived"
        if key == "derived":
            return message(key, which=f"forward{call} returned {got}: a stale array, not h_{k1} "
                                      "of this call.")
        return message(key, which=layer, got=f"{got} (a stale array)", k=k1)
    if "(a_" in got:  # another activation applied to a_k1
        return message("derived", which=f"forward{call} returned {got} where h_{k1} = "
                                        f"f_{k1}(a_{k1}) is due: layer {k1}'s activation is the f "
                                        f"given to add_layer, not {got.split('(')[0]}.")
    j = int(got.split("_")[1].split(" ")[0])
    if op[3] and got == f"h_{sc.L}":
        ran = [m for m in range(k1 + 1, sc.L + 1) if f"{i}.f{m}" in arrays]
        why = f" (layers {k1 + 1}..{sc.L} ran too)" if ran else ""
        return message("forward_end_ignored", which=layer, why=why)
    got = "h_0 (the input x)" if got == "h_0" else got
    if op[3]:
        why = ("one layer off: a 0-based list index used as the 1-based layer number, or the "
               "reverse" if abs(j - k1) == 1 else "the wrong layer's output")
        if got.startswith("a_"):
            why = f"the pre-activation of layer {j}, " + why
        return message("forward_end_wrong_layer", which=layer, got=got, why=why, k=k1)
    return message("derived", which=f"forward{call} returned {got} where h_{k1} is due.")


def derive_start(sc, P, arrays, i, op, k0, rtol):
    """forward(z, start=name_k) that does not feed z into layer k: nothing computed (None), layers
    before k run (their f was called), or the output of the network from another layer on z."""
    from . import derivation
    from .judge import sub_spec

    call = _forward_where(op)[len("forward"):]
    ran = [j for j in range(1, sc.L + 1) if f"{i}.f{j}" in arrays]
    out = arrays.get(f"{i}.out")
    name = f"{op[2]!r}"
    if not ran and (out is None or (np.ndim(out) == 0 and np.isnan(out))):
        return message("unfinished", which=f"forward{call} computes nothing and returns None: the "
                                           "start= branch is not written yet.")
    early = [j for j in ran if j < k0]
    if early:
        return message("forward_start_ignored", which=name, k=k0,
                       why=f"layer {early[0]}'s f was called, so the pass started before layer "
                           f"{k0}" + (", at layer 1, feeding z into it" if early[0] == 1 else ""))
    if out is None:
        return None
    W, b = P
    z = np.asarray(arrays[f"{i}.x"], dtype=np.float64)
    out_z = not ran and np.shape(out) == z.shape and np.array_equal(out, z)
    if out_z or (ran and min(ran) > k0):  # a hard-coded f calls none and returns something else
        after = "it returned z itself, no layer ran" if out_z else f"layers {min(ran)}..{sc.L} ran"
        return message("forward_start_ignored", which=name, k=k0, why=(
            f"layer {k0}'s f was never called ({after}), so the pass started after layer {k0}: "
            "the start index is one too far (start at the named layer's own index)"))

    def run(j, v):  # (output, its error scale) of layers j..L on input v
        spec = sub_spec(sc, j)
        n_out = spec.layers[-1].size
        y = np.eye(n_out)[0] if spec.loss.name == "cross_entropy" else np.zeros(n_out)
        t = derivation.sample_trace(spec, [None] + W[j:], [None] + b[j:], v, y, rtol)
        return t

    cands = {}
    for j in range(1, sc.L + 1):
        if j != k0 and sc.sizes[j - 1] == z.shape[0]:
            t = run(j, z)
            why = f"it fed z into layer {j}"
            cands[why] = derivation.atom(why, t.h[-1], t.M["h"][-1], cost=1)
    # the h_{k-1} an earlier call left behind (the layers before k did not run in this call: their
    # f was not called, so this is no whole pass on an earlier x)
    for j, o in enumerate(ops_before(arrays, i)):
        stored = run(1, np.asarray(arrays[f"{o}.x"], dtype=np.float64)).h[k0 - 1]
        t = run(k0, stored)
        why = f"it read the h_{k0 - 1} an earlier call ({j + 1}) stored, not z"
        cands[why] = derivation.atom(why, t.h[-1], t.M["h"][-1], cost=2)
    found = derivation.explain("out", [(np.asarray(out, dtype=np.float64), cands, 0.0)], rtol,
                               free_factor=False)
    if found is None:
        return None
    return message("forward_start_ignored", which=name, k=k0, why=found.term.name)


def ops_before(arrays, i):
    """The operations before ``i`` that were full forward calls with a recorded x and output."""
    return [j for j in range(i) if f"{j}.x" in arrays and f"{j}.out" in arrays
            and f"{j}.f1" in arrays]


def site(arrays, key):
    """ "file:line" the submission called a recording function from (the worker's "<key>.site")."""
    v = arrays.get(key + ".site")
    if v is None:
        return None
    text = bytes(np.asarray(v, dtype=np.uint8)[:300]).decode("utf-8", "replace")
    return text if re.fullmatch(r"[^\n]+:\d+", text) else None


def raising_line(tb):
    """ "file line N (in function): code" of the submission's last frame in a traceback (frames
    of numpy and of the checker's course helpers are skipped), or None."""
    if not tb:
        return None
    frames = re.findall(r'File "([^"]*)", line (\d+), in (\S+)\n\s+(.*)', tb)
    own = [f for f in frames if "site-packages" not in f[0] and "/numpy/" not in f[0]
           and "sandbox/course" not in f[0]]
    if not own:
        return None
    path, line, func, code = own[-1]
    return f"{path.rsplit('/', 1)[-1]} line {line} (in {func}): {code.strip()}"


def locate_exception(sc, first, inputs):
    """Which layers of the raising call ran right before it raised: "layer 1 is right (a_1 =
    W_1 x + b_1); layer 2 raised before its f was called", from the a_k the course's f received
    during that very call (the worker keeps what the raising operation recorded), each "right"
    within the variants' float64 VARIANT_RTOL (module docstring: this names a place, not a verdict)."""
    arrays, ops = first.facts.get("arrays", {}), first.facts.get("ops", [])
    i = first.facts.get("op_index")
    if i == -1:  # discovery's throwaway network: which layers ran, not whether they were right
        return _locate_in_discovery(sc, arrays, first.traceback)
    if i is None or not (0 <= i < len(ops)) or ops[i][0] not in ("forward", "backward", "descent"):
        return None
    op = ops[i]
    x = arrays.get(f"{i}.x")
    if x is None and op[0] != "forward":
        x = inputs.get(op[1])
    from .judge import read_params

    start = max((j for j in range(i) if ops[j][0] == "new"), default=None)
    P = read_params(arrays, str(start), sc.sizes, first.facts.get("transposed", False)) \
        if start is not None else None
    if x is None or P is None or (op[0] == "forward" and (op[2] or op[3])):
        return None
    ran = [k for k in range(1, sc.L + 1) if f"{i}.f{k}" in arrays]
    if ran != list(range(1, len(ran) + 1)):
        return None
    ref = variant(sc, P[0], P[1], x, np.zeros(sc.layers[-1][0]), "none")
    if ref is None:
        return None
    right = []
    for k in ran:
        if not _close(np.ravel(arrays[f"{i}.f{k}"]), ref[0][k], VARIANT_RTOL["float64"]):
            break
        right.append(k)
    call = {"forward": "forward(x)", "backward": "backward(x, y)",
            "descent": "backprop_descent(x, y, alpha)"}[op[0]]
    if len(right) < len(ran):
        k = len(right) + 1
        return (f"in {call}, a_{k} (what f_{k} received) is already wrong"
                + (f" although layers 1..{k - 1} are right" if k > 1 else ""))
    if len(ran) == sc.L:
        if op[0] == "forward":
            return f"in {call}, every layer's a_k is right: it raised after the last layer's f"
        return (f"in {call}, the forward pass is right (every a_k is): it raised in the backward "
                "pass")
    k = len(ran) + 1
    done = (f"layer 1 is right (a_1 = W_1 x + b_1)" if len(ran) == 1 else
            f"layers 1..{len(ran)} are right" if ran else "")
    return f"in {call}, " + (f"{done}; " if done else "") + (
        f"it raised in layer {k}'s forward step, before f_{k} was called (computing a_{k} = "
        f"W_{k} h_{k - 1} + b_{k} from h_{k - 1}: check its shape and where it comes from)")


def _locate_in_discovery(sc, arrays, tb):
    """The raising layer of a forward call on discovery's network (its weights are the student's
    own, never read back: the a_k are not judged, only which f were called and their shapes)."""
    ran = []
    for k in range(1, sc.L + 1):
        if f"-1.f{k}" not in arrays:
            break
        ran.append(k)
    if not ran or len(ran) == sc.L or "in forward" not in (tb or ""):
        return None
    k = len(ran) + 1
    shapes = all(np.shape(arrays[f"-1.f{j}"]) == (sc.sizes[j],) for j in ran)
    done = (f"layer 1 ran" if len(ran) == 1 else f"layers 1..{len(ran)} ran") + (
        " (their a_k of the right shapes)" if shapes and len(ran) > 1 else
        " (a_1 of the right shape)" if shapes else "")
    last = (tb or "").strip().splitlines()[-1] if tb else ""
    scalar = ("; its input was a scalar, not h_{0}".format(k - 1)
              if re.search(r"has 0,|0-d|scalar", last) else "")
    return (f"in forward(x), {done}; it raised in layer {k}'s forward step, before f_{k} was "
            f"called (computing a_{k} = W_{k} h_{k - 1} + b_{k}{scalar})")


def _figures(res):
    from ..compare import describe_mismatch

    bad = [(lab, r, w) for lab, r, w in res.rows if r.verdict == "fail"]
    if not bad:
        return res.message or "no figures"
    lab, r, w = getattr(res, "first_quoted", None) or bad[0]  # the row of the first divergence
    return f"{lab} in {w}: {describe_mismatch(r)}"
