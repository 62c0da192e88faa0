"""What each check asks the submission to do: the sequence of public calls, and its inputs.

Every check starts from a fresh network (``new``: MLP(d, est_lossderiv) and add_layer for every
layer, after seeding numpy's and Python's global generators with the seed), so no check depends on
what another left behind, and every check reads the weights it started from (the judge computes
its expectations from those). Before every ``backward(x, y)`` the checks call ``forward(x)`` on the
same x, except stale_forward, whose point is ``forward(x1); backward(x2, y2)``.

Alphas are powers of two, so alpha * gradient and (change) / alpha are exact in binary floating
point: the only rounding in a recovered gradient is that of the subtraction W - alpha dW. Seed 0
uses the alphas below; any other seed draws them (:func:`alphas_for`), as it draws the samples
and the weights, so that a grading run's answers cannot be computed before it starts. Each check
kind's own calls and samples are its entry in refmlp.check.kinds; the judge reads each step's
alpha from the check's own operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenarios import Scenario

ALPHA = 0.5  # the gradient check's step: large, so W's rounding is small next to alpha dW
STEP_ALPHAS = (0.125, 2.0)  # two more: a step with alpha ignored or squared moves differently
SGD_ALPHA = 2.0 ** -5
SGD_STEPS = 6
N_GRADIENT_SAMPLES = 2


@dataclass(frozen=True)
class Alphas:
    """The step sizes of one run's checks."""

    grad: float = ALPHA  # gradients, accumulation, zero_grad, stale_forward
    steps: tuple = STEP_ALPHAS  # the step check's two
    sgd: float = SGD_ALPHA  # every step of sgd_run


def alphas_for(seed: int) -> Alphas:
    """Seed 0: the alphas above. Any other: drawn from the seed among powers of two, with the
    properties the checks rely on: the gradient check's alpha large (2^-3..2^-1, W's rounding
    small next to alpha dW); the step check's two different from it, one below 1 and one above
    (a step ignoring alpha, or squaring it, moves differently at each); sgd_run's small
    (2^-6..2^-4: six steps stay near the start)."""
    if seed == 0:
        return Alphas()
    rng = np.random.default_rng([seed, 0xA1FA])
    grad = 2.0 ** -int(rng.integers(1, 4))
    below = [a for a in (2.0 ** -4, 2.0 ** -3, 2.0 ** -2, 2.0 ** -1) if a != grad]
    steps = (float(rng.choice(below)), 2.0 ** int(rng.integers(1, 3)))
    return Alphas(grad, steps, 2.0 ** -int(rng.integers(4, 7)))


def inputs_for(sc: Scenario, seed: int) -> dict:
    """The arrays a scenario's checks use, keyed "<scenario>.<name>".

    x0..x9 with targets y0..y9 from the scenario's data; "xzero" (all zeros: a_1 = b_1),
    "xlarge" (30 x0: saturates logistic units, many negative pre-activations), and for each layer
    k > 1 an input "z<k>" of size n_{k-1} for ``forward(z, start=name_k)``.
    """
    X, Y = sc.samples(10 + SGD_STEPS, seed)
    out = {}
    for i in range(X.shape[0]):
        out[f"{sc.name}.x{i}"], out[f"{sc.name}.y{i}"] = X[i], Y[i]
    out[f"{sc.name}.xzero"] = np.zeros(sc.d)
    out[f"{sc.name}.xlarge"] = 30.0 * X[0]
    rng = np.random.default_rng(seed + 1)
    for k in range(2, sc.L + 1):
        out[f"{sc.name}.z{k}"] = rng.standard_normal(sc.sizes[k - 1])
    return out


def ops_for(kind: str, sc: Scenario, api: str, alphas: Alphas = Alphas()) -> list | None:
    """The operations of one check (the worker's vocabulary: new, read, forward, backward, step,
    zero_grad, descent), from the kind's entry in refmlp.check.kinds; None where the API has no
    such check (NeuralNet: no accumulation, no zero_grad)."""
    from .kinds import KINDS

    if kind not in KINDS:
        raise ValueError(f"unknown check {kind!r}")
    entry = KINDS[kind]
    build = entry.neuralnet_ops if api == "NeuralNet" else entry.ops
    return None if build is None else build(sc, entry, alphas)


def build_checks(scenarios, api: str, cls: str, seed: int) -> tuple[list, dict]:
    """(checks for the worker, their inputs): a load check first, then every kind per scenario."""
    inputs, checks = {}, []
    alphas = alphas_for(seed)
    for sc in scenarios:
        inputs.update(inputs_for(sc, seed))
    base = lambda sc: {  # noqa: E731
        "api": api, "class": cls, "d": sc.d, "seed": seed, "loss_deriv": sc.loss_deriv,
        "layers": [{"m": m, "act": act, "name": name} for m, act, name in sc.layers],
        "probe": [f"{sc.name}.x8", f"{sc.name}.y8"],
    }
    first = scenarios[0]
    checks.append(dict(base(first), id="load", kind="load", scenario=first.name, ops=[]))
    from .kinds import KINDS

    for sc in scenarios:
        for kind in KINDS:
            ops = ops_for(kind, sc, api, alphas)
            if ops is not None:
                checks.append(dict(base(sc), id=f"{sc.name}.{kind}", kind=kind, scenario=sc.name,
                                   ops=ops))
    return checks, inputs
