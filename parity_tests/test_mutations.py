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
from refmlp.bugs import BUGS, with_mutations
from refmlp.compare import compare_traces
from refmlp.mirror import torch_trace, twin

L = 3
MUTANTS = [(bug.key, m) for bug, m in with_mutations()]
"""(bug key, mutation) for every mutation of the bug catalogue (refmlp.bugs)."""


def expected_divergence(first: str) -> tuple[str, int]:
    """ "g_L-1" -> ("g", L - 1) for this file's network of L layers."""
    quantity, _, layer = first.rpartition("_")
    return quantity, eval(layer, {"L": L})  # noqa: S307 -- our own registry's "L", "L-1", "1"


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
@pytest.mark.parametrize("key,mutation", [pytest.param(key, m, id=f"{PATH[m.function]}-{key}")
                                          for key, m in MUTANTS])
def test_broken_line_is_found_where_it_is(key, mutation, dtype):
    report = run_mutant(mutation.function, mutation.old, mutation.new, mutation.reduction, dtype)
    assert not report.passed
    quantity, layer = expected_divergence(mutation.first)
    assert report.first_divergence == {"quantity": quantity, "layer": layer}, report.message()
    assert f"layer {layer}, {quantity}" in report.message()
    # the parity hint is the catalogue's: the bug put in is among the ones it names
    at = "g_L" if (quantity, layer) == ("g", L) else quantity
    assert at in BUGS[key].shows_at, (key, at)
    assert BUGS[key].hint_at(layer) in report.hint, report.hint


def test_every_mutation_sits_in_one_function_once():
    """Each mutation's line occurs exactly once in its function (mutant_module asserts it), so the
    mutant is the bug and nothing else; and every catalogued bug with a hint is exercised."""
    for _, m in MUTANTS:
        mutant_module(m.function, m.old, m.new)
    hinted = {b.key for b in BUGS.values() if b.hint}
    assert hinted <= {key for key, _ in MUTANTS}, hinted - {key for key, _ in MUTANTS}


if __name__ == "__main__":
    for name, m in MUTANTS:
        report = run_mutant(m.function, m.old, m.new, m.reduction)
        print(f"== {PATH[m.function]} ({m.function}), reduction {m.reduction}: {name}: "
              f"{m.old!r} -> {m.new!r}")
        print(report.message(), end="\n\n")
    sys.exit(0)
