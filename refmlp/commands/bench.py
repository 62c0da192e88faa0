"""``refmlp bench``: its options and its run; the measurements are refmlp.bench's."""

from __future__ import annotations

import argparse

from .options import UsageError, choice_list, positive_int, positive_ints

HELP = "time refmlp's training against torch, scikit-learn and the BLAS roofline"
DESCRIPTION = (
    "Train the workloads W1 (digits 64-128-128-10, batch 128), W2 (784-256-256-10 on "
    "60,000 synthetic samples, batch 128) and W3 (the course's disc network 2-100-2-1, "
    "batch 1) for one epoch of plain SGD with refmlp, torch (nn.Sequential + "
    "torch.optim.SGD) and scikit-learn (MLPClassifier, sgd, relu: it has no leaky ReLU), "
    "and time W4, one full parity comparison. Every contender runs in processes of its own "
    "with its threads pinned (OpenBLAS, OpenMP, MKL, torch); figures are medians over "
    "processes of each one's median over its repeats. The roofline is the same epoch's "
    "GEMMs alone through numpy's BLAS. Also: peak memory per contender, refmlp's "
    "gradients against torch's at the end of each workload, and how long 'refmlp --help' "
    "and 'refmlp datasets' take to start. Exit code 1 if a gradient or parity check fails."
)
EPILOG = ("examples: refmlp bench --quick (a smoke run of a minute or two);  refmlp bench "
          "--workloads W2 --dtypes float32 --threads 1 --processes 3;  refmlp bench --profile "
          "--workloads W2 (where refmlp's time goes)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..bench import WORKLOADS

    parser.description, parser.epilog = DESCRIPTION, EPILOG
    parser.add_argument("--workloads", type=choice_list(tuple(WORKLOADS)), default=list(WORKLOADS),
                        metavar="W1,W2,...", help="workloads to run (default: all four)")
    parser.add_argument("--dtypes", type=choice_list(("float32", "float64")), default=["float32", "float64"],
                        metavar="float32,float64", help="dtypes to run (default: both)")
    parser.add_argument("--threads", type=positive_ints, default=[1, 2], metavar="1,2",
                        help="thread counts, each a separate run of every contender (default: 1,2; 1 is "
                             "the headline: 2-thread runs on 2-core virtual machines are erratic)")
    parser.add_argument("--processes", type=positive_int, default=5, metavar="N",
                        help="processes per contender and setting (default: 5)")
    parser.add_argument("--repeats", type=positive_int, default=3, metavar="N",
                        help="timed runs per process, after the warm-up (default: 3)")
    parser.add_argument("--warmup", type=positive_int, default=1, metavar="N",
                        help="untimed runs per process before them (default: 1)")
    parser.add_argument("--samples", type=positive_int, default=None, metavar="N",
                        help="at most N samples per workload (default: each workload's own)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or the process's CPU time (all its threads), steadier on a "
                             "machine shared with other work (default: wall)")
    parser.add_argument("--startup-runs", type=int, default=10, metavar="N",
                        help="runs of 'refmlp --help' and 'refmlp datasets' to time (default: 10; 0 skips)")
    parser.add_argument("--timeout", type=float, default=900, metavar="S",
                        help="seconds one child process may take (default: 900)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 process, 1 repeat, 1 thread, at most 512 samples, 2 start-up runs")
    parser.add_argument("--profile", action="store_true",
                        help="instead, split refmlp's epoch of each chosen workload and dtype into phases "
                             "(GEMMs, activations, bias, loss derivative, update, gathering), 1 thread")
    parser.add_argument("--json", action="store_true",
                        help="print every figure as JSON (per workload, dtype and threads, each "
                             "contender's figures and refmlp's speed-up over it) instead of the table")
    parser.add_argument("--save", default=None, metavar="FILE",
                        help="also write that JSON to FILE (the table still prints)")




def run(args) -> int:
    from importlib.util import find_spec  # finds without importing: the children import them

    missing = [m for m in ("torch", "sklearn", "threadpoolctl") if find_spec(m) is None]
    if missing:
        raise UsageError(f"refmlp bench needs {', '.join(missing)}, not installed: "
                         "pip install 'refmlp[bench]'")
    from ..bench import run as measure

    return measure(args)
