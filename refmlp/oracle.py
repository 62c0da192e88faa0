"""The parity check from Python: a report for a spec or a network, and a one-line assertion.

    from refmlp import Spec, parity, assert_parity
    spec = Spec.build(2, [16, 16], 1, activation="leaky_relu", loss="logistic")
    report = parity(spec, X, y, dtype="float64", reduction="sum")
    print(report.to_table())          # or report.to_json()
    assert_parity(spec, X, y)         # in a pytest test: fails with the report's message

This module imports torch (through :mod:`refmlp.mirror`); the numpy reference does not.
"""

from __future__ import annotations

import numpy as np

from .compare import Report, compare_traces
from .tolerance import POLICY
from .mirror import torch_trace, twin
from .network import DTYPES, MLP, Spec
from .rounding import error_scales


def parity(
    model: Spec | MLP,
    X,
    y,
    *,
    dtype: str | None = None,
    reduction: str = "sum",
    path: str = "batched",
    init: str | None = None,
    seed: int | None = None,
) -> Report:
    """Compare refmlp with its torch twin on one batch, every quantity at every layer.

    ``model`` is a :class:`~refmlp.network.Spec`, whose weights are drawn by ``init`` ("course"
    by default) and ``seed`` (0) in ``dtype`` ("float64"), or an :class:`~refmlp.network.MLP`,
    whose own weights and dtype are used (then ``dtype``, ``init`` and ``seed`` may not be given).
    The torch twin gets the same weights; X and y are one batch, y in the forms
    :meth:`~refmlp.network.MLP.backward` takes.
    """
    if isinstance(model, MLP):
        given = [name for name, v in (("dtype", dtype), ("init", init), ("seed", seed)) if v is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} given with an MLP, which has its own weights and dtype "
                f"({model.dtype}); pass a Spec to have them drawn, or build MLP(spec, ...) with them"
            )
        net = model
        dtype = str(net.dtype)
    else:
        dtype = "float64" if dtype is None else str(dtype) if isinstance(dtype, str) else np.dtype(dtype).name
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}")
        net = MLP(model, init=init or "course", seed=seed or 0, dtype=DTYPES[dtype])
    mine = net.backward(X, y, reduction=reduction, path=path)
    Y = net.targets(y, mine.h[0].shape[0])
    theirs = torch_trace(twin(net), mine.h[0], Y, reduction)
    meta = {
        "spec": net.spec.describe(),
        "dtype": dtype,
        "reduction": reduction,
        "path": path,
        "batch": int(np.shape(mine.h[0])[0]),
    }
    return compare_traces(mine, theirs, dtype, ("refmlp", "torch"), meta, error_scales(net, theirs, Y, POLICY[dtype].rtol))


def assert_parity(model: Spec | MLP, X, y, **kwargs) -> Report:
    """:func:`parity`, raising AssertionError with the first divergence when anything differs."""
    report = parity(model, X, y, **kwargs)
    if not report.passed:
        raise AssertionError(report.message())
    return report
