"""The judge's proof that every check ran on the checker's weights.

After building each network (``new``) the sandbox writes the checker's seeded weights into it
(refmlp/check/sandbox/seeding.py) and reads W_1, b_1, ..., W_L, b_L back through the network's
own attributes (or an adapter's params()). Here, in the judging process, those are regenerated
from the check's seed and the shapes and dtypes read back, and must be equal to what was read,
bit for bit. Anything else means the network does not run on the weights the checker chose: an
array type that ignores writes, weights reset after construction, a copy handed out by
params(), or a sandbox whose code the submission altered (its seeding disabled, its reads
forged). Such a submission cannot be judged, whatever its numbers: the verdict is ``error``.

The expectations of every check are computed from these weights (refmlp.check.judge), so a
check whose expectation does not depend on the bug (weights that make the math trivial) never
reaches the comparison.
"""

from __future__ import annotations

import numpy as np

from .sandbox.discovery import slot_shapes
from .sandbox.seeding import checker_weights



def problem(checks: list, outcomes: dict) -> str | None:
    """Why some check's network did not start from the checker's weights, or None."""
    for check in checks:
        outcome = outcomes.get(check["id"])
        if outcome is None or not check.get("layers"):
            continue
        for i, op in enumerate(check["ops"]):
            if op[0] == "new":
                why = _mismatch(check, outcome, i)
                if why:
                    return (f"the network did not keep the weights the checker wrote into it "
                            f"({check['id']}, operation {i}: right after MLP(...), add_layer and "
                            f"the checker writing its seeded weights): {why}. The checker "
                            "chooses the weights every check starts from and judges against "
                            "them; keep W_k and b_k as the float arrays (or lists) the network "
                            "computes with, written in place by the checker. Weights the "
                            "submission resets, copies or hides, or a sandbox it alters, cannot "
                            "be judged.")
    return None


def _mismatch(check: dict, outcome, i: int) -> str | None:
    L = len(check["layers"])
    names = [f"{kind}{k}" for k in range(1, L + 1) for kind in ("W", "b")]
    read = [outcome.arrays.get(f"{i}.{name}") for name in names]
    if any(v is None for v in read):
        if outcome.status == "ok":  # every operation ran, so this one read every array
            missing = [n for n, v in zip(names, read) if v is None]
            return f"{', '.join(missing)} were not read back"
        return None  # the check stopped before (or in) this operation: it fails on its own
    sizes = [check["d"]] + [layer["m"] for layer in check["layers"]]
    shapes = slot_shapes(sizes)
    for name, v in zip(names, read):
        allowed = shapes[(name[0], int(name[1:]))]
        if tuple(v.shape) not in allowed:
            return f"{name} was read back of shape {v.shape}, not one of {sorted(allowed)}"
        if v.dtype.kind != "f":
            return f"{name} was read back as {v.dtype}, which cannot hold the checker's weights"
    written = checker_weights(check["seed"], [v.shape for v in read])
    for name, v, w in zip(names, read, written):
        w = w.astype(v.dtype)
        if not np.array_equal(v, w):
            bad = np.argwhere(~(v == w))
            at = tuple(int(j) for j in bad[0])
            return (f"{name} differs in {len(bad)} of {v.size} elements, e.g. at {list(at)}: "
                    f"wrote {float(w[at]):.6g}, read back {float(v[at]):.6g}")
    return None
