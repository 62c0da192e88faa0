"""The parity matrix: refmlp against torch, every quantity at every layer.

Every dataset x every hidden activation x every valid (loss, output activation) pairing x
float64/float32 x depth 1..4, and inside each case every backward mode: the per-sample algorithm of
the notes and the batched one, each with reduction "sum" and "mean". The tolerances are the report's
own policy (refmlp.compare.POLICY), whose reasons are written there.
"""

from __future__ import annotations

import numpy as np
import pytest

from refmlp.activations import ACTIVATIONS
from refmlp.compare import compare_traces
from refmlp.data import list_datasets, load_dataset
from refmlp.losses import LOSSES
from refmlp.mirror import torch_trace, twin
from refmlp.network import DTYPES, MLP, Spec

HIDDEN_ACTIVATIONS = [name for name, act in ACTIVATIONS.items() if not act.output_only]
# Unequal widths, so that a transposed matrix shows up as a wrong shape, not only wrong values.
HIDDEN_WIDTHS = [7, 5, 6]
BATCH = 16


def pairings(task: str):
    """(loss, output activation) pairs that make sense for a task's labels."""
    for loss in LOSSES.values():
        if task == "regression" and loss.name not in ("squared", "absolute"):
            continue  # BCE and cross-entropy need labels in {0, 1} or classes
        for output in loss.outputs:
            yield loss.name, output


def cases():
    for info in list_datasets():
        for loss, output in pairings(info.task):
            for depth in range(1, 5):
                # With depth 1 there is no hidden layer, so the hidden activation plays no part.
                for act in HIDDEN_ACTIVATIONS if depth > 1 else ["identity"]:
                    for dtype in DTYPES:
                        yield pytest.param(
                            info.name, loss, output, act, depth, dtype,
                            id=f"{info.name}-{loss}-{output}-{act}-L{depth}-{dtype}",
                        )


@pytest.mark.parametrize("dataset,loss,output,activation,depth,dtype", list(cases()))
def test_refmlp_matches_torch(dataset, loss, output, activation, depth, dtype):
    data = load_dataset(dataset)
    kind = LOSSES[loss].target
    spec = Spec.build(
        data.X.shape[1], HIDDEN_WIDTHS[: depth - 1], data.n_outputs(kind),
        activation=activation, loss=loss, output_activation=output,
    )
    # Both init schemes take part: torch's uniform init gives larger activations than 0.1 * randn.
    net = MLP(spec, init="torch" if depth % 2 == 0 else "course", seed=depth, dtype=DTYPES[dtype])
    batch = data.subset(BATCH, seed=depth)
    X, Y = batch.X, net.targets(batch.targets(kind), BATCH)
    model = twin(net)
    failures = []
    for reduction in ("sum", "mean"):
        expected = torch_trace(model, X, Y, reduction)
        for path in ("per_sample", "batched"):
            report = compare_traces(net.backward(X, Y, reduction, path), expected, dtype)
            if not report.passed:
                failures.append(f"[{path}, {reduction}] {report.message()}")
    assert not failures, "\n".join(failures)
