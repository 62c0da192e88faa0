"""The check kinds, one entry each: the calls a check makes, the samples it uses, its rows.

A check kind is one :class:`CheckKind`: the public calls it asks of the submission (``ops``, for
the released MLP API and for the older NeuralNet one, refmlp.check.plan's vocabulary), the
indices of the scenario's samples it uses (x_i, y_i of :func:`refmlp.check.plan.inputs_for`),
the rows it is judged by (``rows``, from what the sandbox read: refmlp.check.judge), and the name
its divergence takes when it is not a layer's quantity. Adding a kind touches this file only;
:data:`KINDS` lists them in the order of the contract's first divergence.

What a check read is a :class:`Reads` record (per operation: the weights, the input, what
forward returned, the arguments the checker's f, f' and est_lossderiv received); what a step
moved is a :class:`Step` record (the weights before and after, alpha, the samples, torch's trace,
the recovered gradients). The judge's rows and the diagnosis read both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import plan


class Reads(Mapping):
    """What the sandbox read during one check, by operation index (refmlp.check.sandbox.ops):
    the weights at each ``new`` / ``read``, each forward call's input and output, and what the
    recording f_k, f'_k and est_lossderiv received. A read-only mapping of the wire's names
    ("<op>.W<k>", "<op>.f<k>", ...) too, for readers of the raw arrays."""

    def __init__(self, arrays: Mapping):
        self.arrays = arrays.arrays if isinstance(arrays, Reads) else arrays

    def __getitem__(self, key):
        return self.arrays[key]

    def __iter__(self):
        return iter(self.arrays)

    def __len__(self):
        return len(self.arrays)

    def weight(self, op, kind: str, k: int):
        """W_k ("W") or b_k ("b") as stored, read at operation ``op``; None if not read."""
        return self.arrays.get(f"{op}.{kind}{k}")

    def x(self, op):
        """The input of the forward call at ``op`` (None: no forward call there)."""
        return self.arrays.get(f"{op}.x")

    def output(self, op):
        """What the forward call at ``op`` returned (None: nothing, or None itself)."""
        return self.arrays.get(f"{op}.out")

    def returned_none(self, op) -> bool:
        return f"{op}.none" in self.arrays

    def f_arg(self, op, k: int):
        """a_k as f_k received it at ``op`` (per-element calls assembled), or None."""
        return self.arrays.get(f"{op}.f{k}")

    def fd_arg(self, op, k: int):
        """What f'_k received at ``op`` (a_k when right), or None."""
        return self.arrays.get(f"{op}.fd{k}")

    def f_per_element_miscount(self, op, k: int) -> bool:
        """f_k was applied element by element a number of times that is not m_k: no a_k."""
        return f"{op}.f{k}" not in self.arrays and f"{op}.f{k}.percall" in self.arrays

    def lossderiv_arg(self, op):
        """The first argument est_lossderiv received at ``op`` (y_est when right), or None."""
        return self.arrays.get(f"{op}.lossderiv")

    def computed(self, op=None, upto=None) -> list:
        """The dtypes of what the submission computed (a_k for k <= ``upto``, forward's output,
        y_est), at ``op`` (every op when None)."""
        out = []
        for key, v in self.arrays.items():
            i, _, name = key.partition(".")
            if op is not None and i != str(op):
                continue
            if name in ("out", "lossderiv") or (name[:1] == "f" and name[1:].isdigit()
                                                and (upto is None or int(name[1:]) <= upto)):
                out.append(np.asarray(v).dtype)
        return out


@dataclass
class Step:
    """What one step moved: the weights read before and after it (W, b lists 1..L, (out, in) and
    (out,), float64), its alpha, the samples X, Y whose summed gradient it should be, torch's
    trace of them at the weights before, and the gradients recovered from the move
    (``W[k]``, ``b[k]``; None where the shapes changed). ``where`` names the calls in the
    report. Read as a mapping with the keys "P0", "P1", "alpha", "X", "Y", "trace", "W", "b",
    "where" too (the diagnosis's older reading)."""

    where: str
    before: tuple
    after: tuple
    alpha: float
    X: np.ndarray
    Y: np.ndarray
    trace: object
    W: list
    b: list

    _KEYS = {"P0": "before", "P1": "after", "alpha": "alpha", "X": "X", "Y": "Y",
             "trace": "trace", "W": "W", "b": "b", "where": "where"}

    def __getitem__(self, key):
        return getattr(self, self._KEYS[key])

    def keys(self):
        return self._KEYS.keys()

    def __iter__(self):
        return iter(self._KEYS)

    def __len__(self):
        return len(self._KEYS)

    def get(self, key, default=None):
        return self[key] if key in self._KEYS else default


Mapping.register(Step)


@dataclass
class Judging:
    """What one check's rows are computed from: the scenario, what the sandbox read (arrays keyed
    "<op index>.<name>"), the check's ops and inputs, the dtype whose tolerance applies, the
    square-W reading, where the check stopped (op index, None when it ran to the end); the rows
    append their :class:`Step` records to ``steps`` and their notes to ``notes``."""

    sc: object
    arrays: dict
    ops: list
    inputs: dict
    dtype: str
    transposed: bool
    stop: int | None = None
    steps: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def x(self, i: int):
        return self.inputs[f"{self.sc.name}.x{i}"]

    def y(self, i: int):
        return self.inputs[f"{self.sc.name}.y{i}"]

    @property
    def reads(self) -> list[int]:
        """The op indices at which the weights were read (each new network, each read)."""
        return [i for i, op in enumerate(self.ops) if op[0] in ("new", "read")]

    def alpha(self, n: int) -> float:
        """The alpha of the step between weight reads n and n + 1, as the check's own operations
        say (a grading seed draws the alphas: refmlp.check.plan.alphas_for)."""
        r = self.reads
        return next(op[-1] for op in self.ops[r[n] + 1:r[n + 1]] if op[0] in ("step", "descent"))

    def step(self, i0: int, i1: int, alpha: float, X, Y, where: str, zero: bool = False) -> list:
        from .judge import gradient_rows

        return gradient_rows(self.sc, self.arrays, i0, i1, alpha, X, Y, self.dtype,
                             self.transposed, where, zero=zero, store=self.steps) or []


@dataclass(frozen=True)
class CheckKind:
    """One check kind (module docstring). ``ops(sc, kind)`` / ``neuralnet_ops(sc, kind)`` give
    its calls (None: the API has no such check); ``rows(j, kind)`` its rows; ``own`` the quantity
    its first divergence is named by when it is not a layer's (None: the failing row's)."""

    name: str
    samples: tuple
    ops: Callable
    neuralnet_ops: Callable | None
    rows: Callable
    own: str | None


def _grad(sc, i):
    p = sc.name + "."
    return [["forward", f"{p}x{i}", None, None], ["backward", f"{p}x{i}", f"{p}y{i}"]]


def _descent(sc, i, alpha):
    p = sc.name + "."
    return ["descent", f"{p}x{i}", f"{p}y{i}", alpha]


# ---- forward ------------------------------------------------------------------------------------
def _forward_ops(sc, kind, alphas=None, named=True):
    p = sc.name + "."
    # the samples, 0 (a_1 = b_1), 30 x the first (saturated and negative pre-activations), and an
    # input that makes a pre-activation exactly 0 (the worker builds it: "zero")
    inputs = [p + f"x{i}" for i in kind.samples] + [p + "xzero", p + "xlarge", "zero"]
    ops = [["new"]] + [["forward", x, None, None] for x in inputs]
    if named:
        ops += [["forward", f"{p}x{kind.samples[0]}", None, name] for _, _, name in sc.layers[:-1]]
        ops += [["forward", f"{p}z{k}", sc.layers[k - 1][2], None] for k in range(2, sc.L + 1)]
    return ops


def _forward_rows(j, kind):
    from .judge import forward_rows

    return forward_rows(j.sc, j.arrays, j.ops, j.inputs, j.dtype, j.transposed, j.stop)


# ---- gradients ----------------------------------------------------------------------------------
def _gradients_ops(sc, kind, alphas):
    return [op for i in kind.samples
            for op in [["new"]] + _grad(sc, i) + [["step", alphas.grad], ["read"]]]


def _gradients_neuralnet(sc, kind, alphas):
    return [op for i in kind.samples
            for op in [["new"], _descent(sc, i, alphas.grad), ["read"]]]


def _gradients_rows(j, kind):
    r = j.reads
    return [row for n, i in enumerate(kind.samples)
            for row in j.step(r[2 * n], r[2 * n + 1], j.alpha(2 * n), j.x(i), j.y(i), f"sample x{i}")]


# ---- accumulation -------------------------------------------------------------------------------
def _accumulation_ops(sc, kind, alphas):
    return [["new"]] + [op for i in kind.samples for op in _grad(sc, i)] + [
        ["step", alphas.grad], ["read"]]


def _accumulation_rows(j, kind):
    xs = np.stack([j.x(i) for i in kind.samples])
    ys = np.stack([j.y(i) for i in kind.samples])
    where = " + ".join(f"backward(x{i})" for i in kind.samples) + ", one step"
    return j.step(j.reads[0], j.reads[1], j.alpha(0), xs, ys, where)


# ---- zero_grad ----------------------------------------------------------------------------------
def _zero_grad_ops(sc, kind, alphas):
    # two networks, one step each: after zero_grad, step moves nothing; and backward after
    # zero_grad accumulates from zero
    a, b = kind.samples
    return ([["new"]] + _grad(sc, a) + [["zero_grad"], ["step", alphas.grad], ["read"]]
            + [["new"]] + _grad(sc, a) + [["zero_grad"]] + _grad(sc, b)
            + [["step", alphas.grad], ["read"]])


def _zero_grad_rows(j, kind):
    a, b = kind.samples
    r = j.reads
    return (j.step(r[0], r[1], j.alpha(0), j.x(a), j.y(a), f"backward(x{a}); zero_grad(); step",
                   zero=True)
            + j.step(r[2], r[3], j.alpha(2), j.x(b), j.y(b),
                     f"backward(x{a}); zero_grad(); backward(x{b}); step"))


# ---- step ---------------------------------------------------------------------------------------
def _step_ops(sc, kind, alphas):
    (i,) = kind.samples
    return [op for alpha in alphas.steps
            for op in [["new"]] + _grad(sc, i) + [["step", alpha], ["read"]]]


def _step_neuralnet(sc, kind, alphas):
    (i,) = kind.samples
    return [op for alpha in alphas.steps for op in [["new"], _descent(sc, i, alpha), ["read"]]]


def _step_rows(j, kind):
    (i,) = kind.samples
    r = j.reads
    return [row for n in range(len(r) // 2)
            for alpha in [j.alpha(2 * n)]
            for row in j.step(r[2 * n], r[2 * n + 1], alpha, j.x(i), j.y(i), f"step({alpha})")]


# ---- sgd_run ------------------------------------------------------------------------------------
def _sgd_ops(sc, kind, alphas):
    return [["new"]] + [op for i in kind.samples
                        for op in _grad(sc, i) + [["step", alphas.sgd], ["zero_grad"],
                                                  ["read"]]]


def _sgd_neuralnet(sc, kind, alphas):
    return [["new"]] + [op for i in kind.samples
                        for op in [_descent(sc, i, alphas.sgd), ["read"]]]


def _sgd_rows(j, kind):
    from .judge import trajectory_note

    r = j.reads
    used = kind.samples[:len(r) - 1]  # a run that stopped early read fewer steps
    rows = [row for t, i in enumerate(used)
            for row in j.step(r[t], r[t + 1], j.alpha(t), j.x(i), j.y(i), f"SGD step {t + 1}")]
    j.notes.append(trajectory_note(j.sc, j.arrays, r, [j.x(i) for i in used],
                                   [j.y(i) for i in used], j.transposed,
                                   j.alpha(0) if len(r) > 1 else None))
    return rows


# ---- stale_forward ------------------------------------------------------------------------------
def _stale_ops(sc, kind, alphas):
    p = sc.name + "."
    a, b = kind.samples
    return [["new"], ["forward", f"{p}x{a}", None, None], ["backward", f"{p}x{b}", f"{p}y{b}"],
            ["step", alphas.grad], ["read"]]


def _stale_neuralnet(sc, kind, alphas):
    p = sc.name + "."
    a, b = kind.samples
    return [["new"], ["forward", f"{p}x{a}", None, None], _descent(sc, b, alphas.grad), ["read"]]


def _stale_rows(j, kind):
    a, b = kind.samples
    return j.step(j.reads[0], j.reads[1], j.alpha(0), j.x(b), j.y(b),
                  f"forward(x{a}); backward(x{b}, y{b}); step")


KINDS = {kind.name: kind for kind in (
    CheckKind("forward", (0, 1), _forward_ops, lambda sc, kind, alphas: _forward_ops(sc, kind, named=False),
              _forward_rows, None),
    CheckKind("gradients", tuple(range(plan.N_GRADIENT_SAMPLES)), _gradients_ops,
              _gradients_neuralnet, _gradients_rows, None),
    CheckKind("accumulation", (2, 3), _accumulation_ops, None, _accumulation_rows, "accumulation"),
    CheckKind("zero_grad", (4, 5), _zero_grad_ops, None, _zero_grad_rows, "zero_grad"),
    CheckKind("step", (0,), _step_ops, _step_neuralnet, _step_rows, "step"),
    CheckKind("sgd_run", tuple(range(10, 10 + plan.SGD_STEPS)), _sgd_ops, _sgd_neuralnet,
              _sgd_rows, "sgd_run"),
    CheckKind("stale_forward", (6, 7), _stale_ops, _stale_neuralnet, _stale_rows,
              "stale_forward"),
)}
"""The check kinds, in the order of the contract's first divergence."""
