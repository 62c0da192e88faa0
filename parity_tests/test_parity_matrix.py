"""The parity matrix (refmlp.matrix): refmlp against torch, every quantity at every layer.

Every dataset x every hidden activation x every valid (loss, output activation) pairing x
float64/float32 x depth 1..4, and inside each case every backward mode: the per-sample algorithm of
the notes and the batched one, each with every reduction the loss takes ("sum", "mean",
"element_mean"). The tolerances are the report's
own policy (refmlp.tolerance.POLICY), whose reasons are written there.
"""

from __future__ import annotations

import pytest

from refmlp.matrix import cases, run_case

CASES = list(cases())


def test_matrix_covers_every_dataset_activation_loss_dtype_and_depth():
    from refmlp.data import list_datasets
    from refmlp.losses import LOSSES
    from refmlp.matrix import DEPTHS, HIDDEN_ACTIVATIONS

    assert {c.dataset for c in CASES} == {i.name for i in list_datasets()}
    assert {c.activation for c in CASES if c.depth > 1} == set(HIDDEN_ACTIVATIONS)
    assert {(c.loss, c.output) for c in CASES} == {(n, o) for n, l in LOSSES.items() for o in l.outputs}
    assert {c.dtype for c in CASES} == {"float64", "float32"} and {c.depth for c in CASES} == set(DEPTHS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refmlp_matches_torch(case):
    failures = [
        f"[{path}, {reduction}] {report.message()}"
        for (path, reduction), report in run_case(case).items()
        if not report.passed
    ]
    assert not failures, "\n".join(failures)
