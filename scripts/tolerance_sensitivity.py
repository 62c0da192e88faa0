"""Both sides of the tolerance, measured: how small an error it catches, how much of it correct
large networks use.

1. Detection: on batches of digits (64 -> 16 -> 16 -> 1, leaky_relu, logistic loss), the largest
   factor by which W_derivs_2, b_derivs_2 or g_2 can be scaled and still pass, found by bisection.
2. Room: for correct float32 networks wider and deeper than the test matrix's, the largest
   fraction of the tolerance any element uses (above 1 would be a false failure).

    python scripts/tolerance_sensitivity.py [--skip-large]
"""

from __future__ import annotations

import argparse
import copy
import sys

import numpy as np

from refmlp import MLP, Spec, compare_traces, parity
from refmlp.compare import POLICY
from refmlp.data import load_dataset
from refmlp.mirror import torch_trace, twin
from refmlp.rounding import error_scales


def largest_passing_factor(mine, theirs, dtype, scales, quantity, layer=2) -> float:
    lo, hi = 1.0, 1.1
    for _ in range(50):
        mid = (lo + hi) / 2
        wrong = copy.deepcopy(mine)
        getattr(wrong, quantity)[layer] *= mid
        if compare_traces(wrong, theirs, dtype, scales=scales).passed:
            lo = mid
        else:
            hi = mid
    return lo


def detection() -> None:
    print("1. largest factor that still passes (digits, 64 -> 16 -> 16 -> 1, layer 2)")
    print(f"{'dtype':<9}{'batch':>6}{'W_derivs':>14}{'b_derivs':>14}{'g':>14}")
    spec = Spec.build(64, [16, 16], 1, activation="leaky_relu", loss="logistic")
    for dtype in ("float64", "float32"):
        for B in (16, 64, 512):
            data = load_dataset("digits").subset(B, seed=0)
            y = (data.labels >= 5).astype(float)
            net = MLP(spec, init="torch", seed=0, dtype=np.dtype(dtype))
            Y = net.targets(y, B)
            mine, theirs = net.backward(data.X, Y), torch_trace(twin(net), data.X, Y)
            scales = error_scales(net, theirs, Y, POLICY[dtype].rtol)
            figures = [largest_passing_factor(mine, theirs, dtype, scales, q) - 1
                       for q in ("W_derivs", "b_derivs", "g")]
            print(f"{dtype:<9}{B:>6}" + "".join(f"{'1 + ' + format(f, '.2g'):>14}" for f in figures))


def room() -> None:
    print("\n2. largest fraction of the float32 tolerance used by correct large networks")
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (128, 784)).astype(float), rng.integers(0, 10, 128)
    wide = rng.standard_normal((512, 784)), rng.integers(0, 10, 512)
    deep = rng.standard_normal((1024, 64)), rng.standard_normal((1024, 3))
    cases = [("784-256-256-10 tanh, pixels 0..255, B 128",
              Spec.build(784, [256, 256], 10, activation="tanh", loss="cross_entropy"), pixels)]
    for act in ("relu", "leaky_relu", "logistic", "tanh", "identity"):
        cases.append((f"784-256-256-10 {act}, B 512",
                      Spec.build(784, [256, 256], 10, activation=act, loss="cross_entropy"), wide))
    cases.append(("64-128x6-3 tanh, squared, B 1024",
                  Spec.build(64, [128] * 6, 3, activation="tanh", loss="squared"), deep))
    cases.append(("64-512x4-3 relu, squared, B 1024",
                  Spec.build(64, [512] * 4, 3, activation="relu", loss="squared"), deep))
    for name, spec, (X, y) in cases:
        for init in ("course", "torch"):
            report = parity(spec, X, y, dtype="float32", reduction="mean", init=init, seed=1)
            worst = max(report.rows, key=lambda r: r.tolerance_used or 0.0)
            print(f"  {name:<42}{init:<8}{report.verdict:<6}{worst.tolerance_used:>8.2g} at {worst.label}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-large", action="store_true", help="skip part 2 (about 20 s)")
    args = parser.parse_args(argv)
    detection()
    if not args.skip_large:
        room()
    return 0


if __name__ == "__main__":
    sys.exit(main())
