"""The parity matrix: every dataset x hidden activation x valid loss pairing x dtype x depth 1..4,
each case run through every backward mode (per-sample and batched, every reduction the loss takes).

The test suite asserts it (parity_tests/test_parity_matrix.py); scripts/tolerance_margins.py
measures how much of the tolerance it uses. Imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from .activations import HIDDEN_ACTIVATIONS
from .compare import Report, compare_traces
from .tolerance import POLICY
from .data import list_datasets, load_dataset
from .losses import LOSSES
from .mirror import torch_trace, twin
from .network import DTYPES, MLP, PATHS, Spec
from .rounding import error_scales

# Unequal widths, so that a transposed matrix shows up as a wrong shape, not only wrong values.
HIDDEN_WIDTHS = (7, 5, 6)
BATCH = 16
DEPTHS = (1, 2, 3, 4)


@dataclass(frozen=True)
class Case:
    dataset: str
    loss: str
    output: str
    activation: str
    depth: int
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.dataset}-{self.loss}-{self.output}-{self.activation}-L{self.depth}-{self.dtype}"


def pairings(task: str) -> Iterator[tuple[str, str]]:
    """(loss, output activation) pairs that make sense for a task's labels."""
    for loss in LOSSES.values():
        if task not in loss.tasks:
            continue  # BCE and cross-entropy need labels in {0, 1} or classes
        for output in loss.outputs:
            yield loss.name, output


def cases() -> Iterator[Case]:
    for info in list_datasets():
        for loss, output in pairings(info.task):
            for depth in DEPTHS:
                # With depth 1 there is no hidden layer, so the hidden activation plays no part.
                for act in HIDDEN_ACTIVATIONS if depth > 1 else ("identity",):
                    for dtype in DTYPES:
                        yield Case(info.name, loss, output, act, depth, dtype)


def run_case(case: Case) -> dict[tuple[str, str], Report]:
    """The reports of one case, keyed by (path, reduction)."""
    data = load_dataset(case.dataset)
    kind = LOSSES[case.loss].target
    spec = Spec.build(
        data.X.shape[1], HIDDEN_WIDTHS[: case.depth - 1], data.n_outputs(kind),
        activation=case.activation, loss=case.loss, output_activation=case.output,
    )
    # Both init schemes take part: torch's uniform init gives larger activations than 0.1 * randn.
    init = "torch" if case.depth % 2 == 0 else "course"
    net = MLP(spec, init=init, seed=case.depth, dtype=DTYPES[case.dtype])
    batch = data.subset(BATCH, seed=case.depth)
    X, Y = batch.X, net.targets(batch.targets(kind), BATCH)
    model = twin(net)
    reports = {}
    for reduction in spec.loss.reductions:
        expected = torch_trace(model, X, Y, reduction)
        for path in PATHS:
            mine = net.backward(X, Y, reduction, path)
            reports[path, reduction] = compare_traces(
                mine, expected, case.dtype, scales=error_scales(net, expected, Y, POLICY[case.dtype].rtol)
            )
    return reports
