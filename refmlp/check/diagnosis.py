"""Which known bug the figures fit: variants of the reference, and direct signatures.

For a divergence in the forward pass or in a gradient, the judge computes here, in numpy from the
same starting weights, the reference with each known bug put in (f' dropped, f' at the last layer,
f' of h, W_derivs transposed, W instead of W^T, h_k for h_{k-1}, g_L divided by the number of
outputs, ReLU for leaky ReLU, W^T h or a missing bias in the forward pass) and names the variant
the student's numbers match (every gradient of the failing sample, or every a_k of the failing
forward call, within a relative 1e-6 in float64, 1e-3 in float32: far looser than the parity
tolerance, since the variant is only the likely bug, and far tighter than any two different bugs
sit apart), and only when the numbers sit clearly closer to the variant than to the reference (a
variant that coincides with the reference on the sample explains nothing: "unknown", with the
figures). Before that come direct signatures: of step (every recovered gradient scaled by -1,
or by a factor that changes with alpha; biases unmoved), of accumulation, zero_grad and stale
forward passes, of a column bias broadcasting a_k to (m, m), of an exception or a timeout.
"""

from __future__ import annotations

import re

import numpy as np

from .. import activations as act

MESSAGES = {
    "fprime_missing": "g is not multiplied by f'_k(a_k) at the hidden layers: in backward, after "
                      "passing g back to layer k < L, do g = g * fderiv_k(a_k) before using it.",
    "fprime_at_last_layer": "f' is applied at the last layer too: est_lossderiv already gives "
                            "dLoss/da_L (the course adds the last layer with fderiv=None), so "
                            "skip g *= f'_L(a_L) for k = L.",
    "fprime_of_h": "f' is evaluated at h_k instead of a_k: call fderiv on the pre-activation a_k "
                   "(it only shows where f'(h) != f'(a), e.g. the logistic 'latent' layer).",
    "W_derivs_transposed": "the W gradient is stored transposed, h_{k-1} g^T: it must be the outer "
                           "product g h_{k-1}^T, of shape (out, in) like W_k.",
    "W_instead_of_WT": "g is passed back with W_k instead of W_k^T: use g = W_k^T g (W.T @ g).",
    "h_k_for_h_k_minus_1": "W_derivs_k uses this layer's output h_k: it must use the layer's input "
                           "h_{k-1} (x for the first layer): W_derivs_k += g h_{k-1}^T.",
    "gradients_overwritten": "backward assigns the gradients (=) instead of accumulating them (+=): "
                             "two backward calls must add up, zero_grad is what resets them.",
    "zero_grad_partial": "zero_grad does not reset every gradient: {which} still moved after "
                         "zero_grad(); step(). Reset every W and b gradient of every layer.",
    "lossderiv_arguments_swapped": "est_lossderiv is called as est_lossderiv(y, y_est): the "
                                   "course's order is est_lossderiv(y_est, y) (the network's output "
                                   "first, the target second); swapped, every gradient changes sign.",
    "step_wrong_sign": "step ascends: the weights moved by +alpha x gradient. Use W -= alpha * dW "
                       "and b -= alpha * db.",
    "step_skips_biases": "step does not move the biases (or backward never accumulates their "
                         "gradient): b -= alpha * db for every layer.",
    "step_wrong_scale": "step does not move by exactly alpha x gradient: {which}. Use "
                        "W -= alpha * dW and b -= alpha * db, nothing else.",
    "stale_forward": "backward uses the a_k / h_k stored by the previous forward call instead of "
                     "running its own forward pass on x: call self.forward(x) at its start.",
    "bias_column_broadcast": "{a}_{k} has shape {shape} instead of ({m},): an (m, 1) array added to "
                             "an (m,) vector broadcasts to (m, m). Keep b 1-D (shape (m,)) or reshape "
                             "x to a column consistently.",
    "mean_vs_sum": "the gradient is {which}: a mean where the course sums (a sample's loss is a "
                   "sum over outputs, a batch gradient the sum over samples).",
    "relu_for_leaky": "the network uses plain ReLU (0 for u <= 0) where leaky ReLU is meant; use "
                      "the f / fderiv given to add_layer.",
    "wrong_leaky_slope": "the leaky ReLU derivative uses slope {which} for u <= 0 where the notes "
                         "(and torch) use 0.01; use the fderiv given to add_layer.",
    "forward_W_transposed": "the forward pass uses W^T h: a_k = W_k h_{k-1} + b_k with W_k of shape "
                            "(out, in).",
    "forward_bias_missing": "the forward pass drops the bias: a_k = W_k h_{k-1} + b_k.",
    "forward_returns_column": "{where} returned an array of shape {shape}: the course's forward "
                              "returns a 1-D array (h.ravel(), or keep h 1-D); a column breaks "
                              "y_est - y in the loss code, which broadcasts it to a matrix.",
    "exception": "{which}. The traceback below shows the line of your code that raised.",
    "timeout": "your code did not finish a check within the time limit: look for a loop that "
               "never ends {which}.",
    "unknown": "the figures fit no known bug: {which}",
}


def message(key, **kw):
    """The diagnosis record; {which}, {k}, {m}, {shape} in the text are filled from ``kw`` (plain
    replacement: the notes' h_{k-1} stays as it is)."""
    text = MESSAGES[key]
    for name, value in {"which": "", **kw}.items():
        text = text.replace("{" + name + "}", str(value))
    return {"key": key, "message": text}


def _close(x, y, rtol):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or not np.isfinite(x).all():
        return False
    return bool(np.all(np.abs(x - y) <= rtol * (np.abs(y) + np.abs(y).max(initial=0.0)) + 1e-300))


# ---- the reference with one bug put in ----------------------------------------------------------
def _fns(name):
    if name == "softmax":
        return act.softmax, None
    a = act.get_activation(name)
    return a.f, a.fprime


def variant(sc, W, b, x, y, bug):
    """(a list, W_derivs list, b_derivs list) of one sample, with ``bug`` in; W_derivs_k is what a
    step would subtract from W_k (broadcast to its shape), None where the bug raises instead."""
    L = sc.L
    acts = [None] + [_fns(name) for _, name, _ in sc.layers]
    if bug == "relu_for_leaky":
        acts = [None] + [(act.relu, act.relu_deriv) if name == "leaky_relu" else _fns(name)
                         for _, name, _ in sc.layers]
    if bug.startswith("slope="):  # the forward pass right, f' of the hidden leaky layers hard-coded
        slope = float(bug[6:])
        acts = [None] + [(act.leaky_relu, lambda u, s=slope: np.where(u > 0, 1.0, s))
                         if name == "leaky_relu" else _fns(name) for _, name, _ in sc.layers]
    h, a = [np.asarray(x, dtype=float)], [None]
    for k in range(1, L + 1):
        Wk = W[k].T if bug == "forward_W_transposed" else W[k]
        if Wk.shape[1] != h[-1].shape[0]:
            return None
        a.append(Wk @ h[-1] + (0 if bug == "forward_bias_missing" else b[k]))
        h.append(acts[k][0](a[k]))
    y = np.asarray(y, dtype=float)
    loss = sc.loss
    g = 2 * (h[L] - y) if loss in ("squared", "course_squared_on_logistic") else (
        np.sign(h[L] - y) if loss == "absolute" else h[L] - y)
    if bug == "mean_vs_sum":
        g = g / g.size
    Wd, bd = [None] * (L + 1), [None] * (L + 1)
    for k in range(L, 0, -1):
        fprime = acts[k][1]
        if k < L and bug != "fprime_missing":
            g = g * fprime(h[k] if bug == "fprime_of_h" else a[k])
        if k == L and bug == "fprime_at_last_layer" and fprime is not None:
            g = g * fprime(a[k])
        bd[k] = g
        if bug == "W_derivs_transposed":
            dW = np.outer(h[k - 1], g)
        elif bug == "h_k_for_h_k_minus_1":
            dW = np.outer(g, h[k])
        else:
            dW = np.outer(g, h[k - 1])
        try:
            Wd[k] = np.broadcast_to(dW, W[k].shape)
        except ValueError:
            return None
        back = W[k] if bug == "W_instead_of_WT" else W[k].T
        if back.shape[1] != g.shape[0]:
            return None
        g = back @ g
    return a, Wd, bd


SLOPES = (0.0, 0.1, 0.001, 0.2, 0.02, 0.05, 0.3, 0.5, 1.0)
"""Leaky slopes tried for a hard-coded f' (0: ReLU's)."""
BACKWARD_BUGS = ("fprime_missing", "fprime_at_last_layer", "fprime_of_h", "W_derivs_transposed",
                 "W_instead_of_WT", "h_k_for_h_k_minus_1", "mean_vs_sum", "relu_for_leaky",
                 "forward_W_transposed", "forward_bias_missing") + tuple(f"slope={s}" for s in SLOPES)
FORWARD_BUGS = ("forward_W_transposed", "forward_bias_missing", "relu_for_leaky")


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


CLEARLY = 10.0
"""A variant is named only when the student's numbers sit at least this many times closer to it
than to the reference: a variant that coincides with the reference on the sample (f' of h on a
leaky layer, where sign(h) = sign(a)) or barely differs from it explains nothing."""


def clearly_closer(got, var, ref, rtol):
    """The student's arrays ``got`` match the variant ``var`` (within ``rtol``) and sit clearly
    closer to it than to the reference ``ref``."""
    dv = _dev(got, var)
    return dv <= rtol and _dev(got, ref) > CLEARLY * dv


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
                out[(q, k)] = c if np.allclose(got, c * exp, rtol=1e-6, atol=1e-12 * np.abs(exp).max()) else None
    return out


def step_signature(sc, results, step):
    """step_wrong_sign / step_skips_biases / step_wrong_scale / mean_vs_sum from the scale of the
    recovered gradients, read across the gradients and step checks (different alphas)."""
    r = _ratios(step)
    if not r or any(c is None for c in r.values()):
        bs = [c for (q, _), c in r.items() if q == "b"]
        Ws = [c for (q, _), c in r.items() if q == "W"]
        if bs and all(c is not None and abs(c) < 1e-12 for c in bs) and all(
                c is not None and abs(c - 1) < 1e-6 for c in Ws):
            return message("step_skips_biases")
        return None
    cs = np.array(list(r.values()))
    if np.allclose(cs, -1, rtol=1e-6):
        return message("step_wrong_sign")
    bs = [c for (q, _), c in r.items() if q == "b"]
    Ws = [c for (q, _), c in r.items() if q == "W"]
    if all(abs(c) < 1e-12 for c in bs) and np.allclose(Ws, 1, rtol=1e-6):
        return message("step_skips_biases")
    # the scale at the step check's other alphas
    step_check = next((c for c in results if c.name == "step"), None)
    other = [_ratios(s) for s in (step_check.facts.get("steps", []) if step_check else [])]
    for o in other:
        for key, c in r.items():
            c2 = o.get(key)
            if c2 is not None and not np.isclose(c, c2, rtol=1e-6):
                which = ", ".join(sorted({f"{q}_{k}" for (q, k), c in r.items() if not np.isclose(c, 1, rtol=1e-6)}))
                return message("step_wrong_scale", which=f"{which} moved by a factor that changes with alpha")
    if np.allclose(cs, cs[0], rtol=1e-6):
        n_out = sc.layers[-1][0]
        if n_out > 1 and np.isclose(cs[0], 1 / n_out, rtol=1e-6):
            return message("mean_vs_sum", which=f"1/{n_out} of the reference, i.e. divided by "
                                                 "the number of outputs")
    return None


def exception_signature(sc, text):
    """A transposition on non-square layers raises a shape error rather than giving wrong numbers;
    read the line of the student's code that raised (the last frame of the traceback) and its
    function: outer(h, g) is W_derivs transposed, W^T h in forward is a transposed forward pass,
    W @ g (no transpose) in backward passes g back with W instead of W^T."""
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
    if "backward" in func or "backprop" in func:
        if re.search(r"W\w*(\[[^\]]*\])*(@|\.dot\()", code) and ".T" not in code and "outer" not in code:
            return "W_instead_of_WT"
    return None


def diagnose(first, sc, results, inputs):
    """The diagnosis of a scenario's first failing check (``first``), a contract key and prose."""
    q = first.first["quantity"] if first.first else None
    rtol = 1e-3 if first.facts.get("dtype") == "float32" else 1e-6
    steps = first.facts.get("steps", [])
    if q == "timeout":
        op = first.facts.get("op")
        return message("timeout", which=f"in {op}" if op else f"in the {first.name} check")
    if q == "exception":
        key = exception_signature(sc, first.traceback)
        if key:
            return message(key)
        text = first.message or f"your code raised in the {first.name} check"
        d = message("exception", which=text[0].upper() + text[1:])
        if not first.traceback:
            d["message"] = d["message"].replace(". The traceback below shows the line of your code "
                                                "that raised.", ".")
        return d
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
                if m in r.shape:
                    return message("bias_column_broadcast", k=r.layer, m=m, shape=tuple(r.shape),
                                   a="b")
        if fderiv_given_h(sc, first.facts.get("arrays", {}), first.facts.get("ops", [])):
            return message("fprime_of_h")
        bug = match_gradients(sc, step, rtol)
        if bug and bug.startswith("slope="):
            slope = float(bug[6:])
            bug = "relu_for_leaky" if slope == 0 else bug
            if slope != 0:
                return message("wrong_leaky_slope", which=f"{slope:g}")
        return (step_signature(sc, results, step) or (message(bug) if bug else None)
                or message("unknown", which=_figures(first)))
    if q == "accumulation" and steps:
        s = steps[0]
        one = dict(s, X=s["X"][1:], Y=s["Y"][1:])
        if _matches_reference(sc, one, rtol):
            return message("gradients_overwritten")
        half = dict(s, W=[None] + [2 * v for v in s["W"][1:]], b=[None] + [2 * v for v in s["b"][1:]])
        if _matches_reference(sc, half, rtol):
            return message("mean_vs_sum", which="halved over two backward calls: divided by the "
                                                "number of samples")
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
            d = step_signature(sc, results, s)
            if d:
                return d
        return message("step_wrong_scale", which="the recovered gradient depends on alpha")
    return message("unknown", which=_figures(first))


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
            if not _close(u, a, 1e-12) and _close(u, h, 1e-12) and not _close(
                    fprime(h), fprime(np.asarray(a, dtype=float)), 1e-12):
                return True
    return False


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
            if len(r.shape) == 2 and m in r.shape:
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
                    return message(bug)
            break
    return message("unknown", which=_figures(first))


def _figures(res):
    from ..compare import describe_mismatch

    bad = [(lab, r, w) for lab, r, w in res.rows if r.verdict == "fail"]
    if not bad:
        return res.message or "no figures"
    lab, r, w = getattr(res, "first_quoted", None) or bad[0]  # the row of the first divergence
    return f"{lab} in {w}: {describe_mismatch(r)}"
