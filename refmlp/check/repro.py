"""``refmlp check --repro FILE``: a short numpy-only script reproducing the first divergence.

The script holds the weights the diverging check's network started from (W_k as (out, in), b_k
1-D, lists 1..L as in the notes), the sample(s) x and y, what refmlp's reference gives and what the
submission gave, and recomputes the reference with the notes' forward and backward in plain
numpy, so a student can step through it without refmlp or torch. When the checker found where the
network keeps its parameters, a commented block shows how to put these weights into the
student's own class.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .report import plain

TEMPLATE = '''"""refmlp check: the first divergence of {submission}, reproduced with numpy alone.

scenario {scenario}: {describe}
check {check}, {where}
first divergence: {words}

Layers are numbered from 1 as in the notes (layer 1 reads x = h_0); W[k] has shape (out, in),
b[k] is 1-D, and every list starts with an unused entry 0. Run: python {name}
"""
import numpy as np

np.set_printoptions(precision=10, linewidth=100)

LAYERS = {layers}  # (activation, name) of layers 1..L
LOSS_DERIV = {loss_deriv!r}  # est_lossderiv: dLoss/da_L from y_est = h_L and y
W = [None,
{W}]
b = [None,
{b}]
X = np.array({X})  # one sample a row
Y = {Y}


def f(name, u):
    if name == "leaky_relu":
        return np.where(u > 0, u, 0.01 * u)
    if name == "logistic":
        return 1 / (1 + np.exp(-u))
    if name == "softmax":
        e = np.exp(u - u.max())
        return e / e.sum()
    return u  # identity


def fprime(name, u):
    if name == "leaky_relu":
        return np.where(u > 0, 1.0, 0.01)
    if name == "logistic":
        s = f("logistic", u)
        return s * (1 - s)
    return np.ones_like(u)


def lossderiv(y_est, y):
    if LOSS_DERIV == "squared_loss_deriv":
        return 2 * (y_est - y)
    if LOSS_DERIV == "abs_loss_deriv":
        return np.sign(y_est - y)
    return y_est - y  # logistic_est_loss_deriv, softmax_est_crossentropy_deriv


def forward(x, start=1, end=len(LAYERS)):
    """a[k], h[k] for k = start..end; h[start - 1] = x."""
    a, h = {{}}, {{start - 1: x}}
    for k in range(start, end + 1):
        a[k] = W[k] @ h[k - 1] + b[k]
        h[k] = f(LAYERS[k - 1][0], a[k])
    return a, h


def gradients(x, y):
    """W_derivs[k], b_derivs[k] of one sample: the notes' backward (f'_L skipped, as the course)."""
    L = len(LAYERS)
    a, h = forward(x)
    g = lossderiv(h[L], y)
    W_derivs, b_derivs = [None] * (L + 1), [None] * (L + 1)
    for k in range(L, 0, -1):
        if k < L:
            g = g * fprime(LAYERS[k - 1][0], a[k])
        b_derivs[k] = g
        W_derivs[k] = np.outer(g, h[k - 1])
        g = W[k].T @ g
    return W_derivs, b_derivs


{compute}

expected = np.array({expected})  # refmlp's reference (torch, float64)
yours = np.array({actual})  # what your class gave
print("recomputed here:", reference)
print("expected:       ", expected)
print("yours:          ", yours)
{difference}
{yours_block}'''

COMPUTE = {
    "forward": '''a, h = forward(X[0], start={start}, end={end})
reference = {quantity}[{layer}]  # {label}''',
    "gradients": '''# a batch gradient is the sum of the per-sample gradients (the course sums)
per_sample = [gradients(x, y) for x, y in zip(X, Y)]
reference = sum(g[{which}][{layer}] for g in per_sample)  # {label}{scaled}''',
}


def _lit(v) -> str:
    return np.array2string(np.asarray(v, dtype=np.float64), separator=", ", threshold=10**7,
                           max_line_width=100, floatmode="unique").replace("\n", "\n    ")


def _param_paths(notes) -> dict:
    """{("W"|"b", k): "net.Ws[0]"} from discovery's note, or {} (an adapter, no discovery)."""
    note = next((n for n in notes if n.startswith("parameters: ")), "")
    return {(m.group(1), int(m.group(2))): m.group(3)
            for m in re.finditer(r"\b([Wb])_(\d+) = (net[^,]+?)(?=, [Wb]_\d+ = |$)",
                                 note[len("parameters: "):])}


def _yours_block(rep, sc, paths) -> str:
    if not paths:
        return ""
    cls = "NeuralNet" if rep.api == "NeuralNet" else "MLP"
    module = "neuralnet" if cls == "NeuralNet" else "mlp"
    lines = ["", "# To run your own class on these numbers (where the checker found your "
             "parameters):", f"# from {module} import {cls}", "# from layers import *",
             "# from losses import *", f"# net = {cls}({sc.d}, {sc.loss_deriv})"]
    for k, (m, name, lname) in enumerate(sc.layers, start=1):
        deriv = "None" if k == sc.L else f"{name}_deriv"
        named = "" if cls == "NeuralNet" else f", name={lname!r}"  # the older API has no names
        lines.append(f"# net.add_layer({m}, {name}, {deriv}{named})")
    lines += ["# def put(mine, v):  # v into your array in place, in your array's layout",
              "#     mine[...] = v if mine.shape == v.shape else (",
              "#         v.T if mine.shape == v.T.shape else v.reshape(mine.shape))"]
    for (kind, k), path in sorted(paths.items(), key=lambda t: (t[0][1], t[0][0])):
        lines.append(f"# put({path}, {kind}[{k}])")
    lines.append("# then call net.forward / net.backward / net.step as the check did: "
                 "net.forward(X[0]) ...")
    return "\n".join(lines) + "\n"


def write_repro(rep, path) -> str:
    """Write the script for ``rep``'s first divergence to ``path``; a sentence saying what was
    written (or why nothing could be)."""
    quoted = rep.first_row
    if quoted is None or getattr(quoted[1], "context", None) is None:
        return (f"--repro: no script written: the report has no first divergence in numbers "
                f"(verdict {rep.verdict}" + (f", {rep.first_divergence['quantity']}"
                                             if rep.first_divergence else "") + ")")
    label, row, where = quoted
    ctx = row.context
    sc = rep.specs[rep.first_scenario]
    k = row.layer
    if row.quantity in ("a", "h"):
        compute = COMPUTE["forward"].format(start=ctx["start"], end=ctx["end"],
                                            quantity=row.quantity, layer=k, label=label)
    else:
        scaled = ""
        if rep.first_check.name == "zero_grad" and "zero_grad(); step" in where:
            scaled = "\nreference = 0 * reference  # after zero_grad, step must move nothing"
        compute = COMPUTE["gradients"].format(which=0 if row.quantity == "W_derivs" else 1,
                                              layer=k, label=label, scaled=scaled)
    Y = "None  # forward only" if ctx["Y"] is None else \
        f"np.array({_lit(np.atleast_2d(ctx['Y']))})"
    same = row.actual_values is not None and np.shape(row.actual_values) == np.shape(
        row.expected_values)
    difference = ('print("largest difference:", np.abs(yours - expected).max())' if same else
                  f'print("shapes differ:", yours.shape, "where", expected.shape, "was expected")')
    actual = row.actual_values if row.actual_values is not None else np.array([])
    text = TEMPLATE.format(
        submission=rep.submission, scenario=sc.name, describe=sc.describe(),
        check=rep.first_check.name, where=where, words=plain(rep.first_divergence),
        name=Path(path).name, layers=[(a, n) for _, a, n in sc.layers], loss_deriv=sc.loss_deriv,
        W=",\n".join(f"    np.array({_lit(w)})" for w in ctx["W"][1:]),
        b=",\n".join(f"    np.array({_lit(v)})" for v in ctx["b"][1:]),
        X=_lit(np.atleast_2d(ctx["X"])), Y=Y, compute=compute,
        expected=_lit(row.expected_values), actual=_lit(actual), difference=difference,
        yours_block=_yours_block(rep, sc, _param_paths(rep.first_check.notes)))
    Path(path).write_text(text)
    return f"--repro: wrote {path} (python {path} reproduces {label} in {where})"
