"""Break one line of either backward path: the parity check must fail and name the right place.

Each mutant is refmlp.network with exactly one line of one function changed, loaded as a module of
its own. The network is square (every layer 4 wide) so that a transposed or swapped matrix gives
wrong values rather than a shape error, its hidden activation is tanh (f'(h) != f'(a), and
f' != 1), and its output is logistic, so that f' applied at the last layer changes g_L.

Run this file directly to print every mutant's report message.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types

import numpy as np
import pytest

import refmlp.network
from refmlp.compare import compare_traces
from refmlp.mirror import torch_trace, twin

L = 3
# (id, function, line as written, line as broken, reduction, expected first divergence (quantity, layer))
MUTANTS = [
    ("W^T-in-forward", "forward_sample", "self.W[k] @ h[k - 1]", "self.W[k].T @ h[k - 1]", "sum", ("a", 1)),
    ("h-is-a", "forward_sample", "h.append(self.f[k](a[k]))", "h.append(a[k])", "sum", ("h", 1)),
    ("drop-fprime", "backprop", "g = g * self.fprime[k](a[k])", "g = g", "sum", ("g", L - 1)),
    ("fprime-at-last-layer", "backprop", "if k < L:", "if k <= L:", "sum", ("g", L)),
    ("fprime-of-h", "backprop", "self.fprime[k](a[k])", "self.fprime[k](h[k])", "sum", ("g", L - 1)),
    ("transpose-W_derivs", "backprop", "np.outer(g, h[k - 1])", "np.outer(h[k - 1], g)", "sum", ("W_derivs", L)),
    ("h_k-for-h_k-1", "backprop", "np.outer(g, h[k - 1])", "np.outer(g, h[k])", "sum", ("W_derivs", L)),
    ("W-for-W^T", "backprop", "g = self.W[k].T @ g", "g = self.W[k] @ g", "sum", ("g", L - 1)),
    ("b_derivs-scaled", "backprop", "b_derivs[k] = g", "b_derivs[k] = 2 * g", "sum", ("b_derivs", L)),
    ("W-in-forward", "Workspace.forward", "net.W[k].T, out=a[k]", "net.W[k], out=a[k]", "sum", ("a", 1)),
    ("bias-dropped", "Workspace.forward", "np.add(a[k], net.b[k], out=a[k])", "np.add(a[k], 0, out=a[k])", "sum", ("a", 1)),
    ("drop-fprime", "Workspace.backward", "self.fprime_mul[k](g[k], a[k], self.fprimes[k])", "pass", "sum", ("g", L - 1)),
    ("fprime-at-last-layer", "Workspace.backward", "if k < L:", "if k <= L:", "sum", ("g", L)),
    ("fprime-of-h", "Workspace.backward", "g[k], a[k], self.fprimes[k]", "g[k], h[k], self.fprimes[k]", "sum", ("g", L - 1)),
    ("transpose-W_derivs", "Workspace.backward", "np.matmul(g[k].T, h[k - 1]", "np.matmul(h[k - 1].T, g[k]", "sum", ("W_derivs", L)),
    ("h_k-for-h_k-1", "Workspace.backward", "h[k - 1], out=W_derivs[k]", "h[k], out=W_derivs[k]", "sum", ("W_derivs", L)),
    ("W-for-W^T", "Workspace.backward", "g[k], net.W[k], out=g[k - 1]", "g[k], net.W[k].T, out=g[k - 1]", "sum", ("g", L - 1)),
    ("b_derivs-mean", "Workspace.backward", "np.add.reduce(g[k], axis=0", "np.mean(g[k], axis=0", "sum", ("b_derivs", L)),
    ("mean-not-divided", "Workspace.backward", "np.divide(g[L], divisor(reduction, *Y.shape), out=g[L])", "pass", "mean", ("g", L)),
    ("mean-not-divided", "_backward_per_sample", "lst[k] /= n", "pass", "mean", ("g", L)),
]
PATH = {"backprop": "per_sample", "_backward_per_sample": "per_sample", "forward_sample": "per_sample",
        "Workspace.backward": "batched", "Workspace.forward": "batched"}


def mutant_module(function: str, old: str, new: str) -> types.ModuleType:
    """refmlp.network with ``old`` replaced by ``new`` once, inside ``function`` only
    (``Class.method`` for a method of a class other than the first that has one of that name)."""
    source = inspect.getsource(refmlp.network)
    owner, _, function = function.rpartition(".")
    start = source.index(f"    def {function}(", source.index(f"\nclass {owner}") if owner else 0)
    end = source.find("\n    def ", start + 1)
    end = len(source) if end < 0 else end
    body = source[start:end]
    assert body.count(old) == 1, f"{old!r} must occur exactly once in {function}"
    source = source[:start] + body.replace(old, new) + source[end:]
    spec = importlib.util.spec_from_loader("refmlp._mutant", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "refmlp"  # so that its relative imports resolve to the real package
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        exec(compile(source, f"<refmlp.network mutant: {function}: {new}>", "exec"), module.__dict__)
    finally:
        del sys.modules[spec.name]
    return module


def run_mutant(function, old, new, reduction, dtype="float64"):
    module = mutant_module(function, old, new)
    spec = module.Spec.build(4, [4] * (L - 1), 4, activation="tanh", loss="logistic")
    net = module.MLP(spec, init="torch", seed=3, dtype=module.DTYPES[dtype])
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 4)), (rng.random((8, 4)) < 0.5).astype(float)
    mine = net.backward(X, Y, reduction, PATH[function])
    return compare_traces(mine, torch_trace(twin(net), X, Y, reduction), dtype)


DTYPES = ["float64", "float32"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_unbroken_network_passes(dtype):
    """The control: the same harness with nothing changed passes, so failures below are the bug's."""
    for function in ("backprop", "Workspace.backward"):
        assert run_mutant(function, "if k < L:", "if k < L:", "sum", dtype).passed
        assert run_mutant(function, "if k < L:", "if k < L:", "mean", dtype).passed


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "function,old,new,reduction,expected",
    [pytest.param(*m[1:], id=f"{PATH[m[1]]}-{m[0]}") for m in MUTANTS],
)
def test_broken_line_is_found_where_it_is(function, old, new, reduction, expected, dtype):
    report = run_mutant(function, old, new, reduction, dtype)
    assert not report.passed
    quantity, layer = expected
    assert report.first_divergence == {"quantity": quantity, "layer": layer}, report.message()
    assert f"layer {layer}, {quantity}" in report.message()


if __name__ == "__main__":
    for name, function, old, new, reduction, _ in MUTANTS:
        report = run_mutant(function, old, new, reduction)
        print(f"== {PATH[function]} ({function}), reduction {reduction}: {name}: {old!r} -> {new!r}")
        print(report.message(), end="\n\n")
    sys.exit(0)
