"""The ``refmlp`` command: ``main(argv) -> int`` returns the exit code.

Exit codes: 0 every quantity within tolerance, 1 a mismatch, 2 a usage error (including a dataset
snapshot that is missing or fails its checksum, or torch not installed), 3 an internal error (a
bug in refmlp: the traceback is printed), so that a crash is never taken for a mismatch. torch is
imported only by ``compare``, so ``refmlp --help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import traceback

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .losses import LOSSES

EXIT_PASS, EXIT_MISMATCH, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

DEFAULT_LOSS = {"binary": "logistic", "multiclass": "cross_entropy", "regression": "squared"}


def emit(text: str) -> None:
    """Print to stdout; a reader that went away (``refmlp datasets | head``) is not an error, and
    the exit code still says what the command found."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class UsageError(Exception):
    """Bad input from the command line: said on stderr, exit code 2."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def layer_sizes(text: str) -> list[int]:
    """'16,16' -> [16, 16]; '' -> [] (no hidden layer: the output layer alone)."""
    if not text.strip():
        return []
    try:
        return [positive_int(part.strip()) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive layer sizes such as 16,16 (or '' for none), got {text!r}"
        ) from None


def comma_list(choices: tuple):
    """'a,b' -> ['a', 'b'], each among ``choices``."""
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items or any(t not in choices for t in items):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(choices)}; got {text!r}")
        return items
    return parse


def positive_ints(text: str) -> list[int]:
    """'1,2' -> [1, 2]."""
    try:
        return [positive_int(t) for t in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 1,2; got {text!r}") from None


BENCH_WORKLOADS = ("W1", "W2", "W3", "W4")  # refmlp.bench.WORKLOADS, named here so --help stays light


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refmlp",
        description=(
            "A numpy MLP that implements the backprop of the lecture notes literally, checked "
            "layer by layer against an equivalent torch.nn model with the same weights."
        ),
        epilog="Run 'refmlp COMMAND --help' for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    cmp = sub.add_parser(
        "compare",
        help="compare refmlp and torch on one batch, every quantity at every layer",
        description=(
            "Build the network in numpy and in torch with the same weights, run one batch of a "
            "dataset forward and backward through both, and compare a_k, h_k, the loss, "
            "g_k = dLoss/da_k, W_derivs_k and b_derivs_k at every layer k = 1..L. Exit code 0 when "
            "every quantity is within tolerance, 1 on a mismatch, 2 on a usage error."
        ),
        epilog=(
            "example: refmlp compare --dataset digits --layers 32,16 --activation tanh "
            "--loss cross_entropy --dtype float32 --reduction mean --json"
        ),
    )
    cmp.add_argument("--dataset", default="moons", help="a dataset from 'refmlp datasets' (default: moons)")
    cmp.add_argument("--layers", type=layer_sizes, default=[16, 16], metavar="N,N,...",
                     help="hidden layer sizes (default: 16,16; '' for none); the output size comes from the dataset and loss")
    cmp.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="leaky_relu",
                     help="activation of the hidden layers (default: leaky_relu)")
    cmp.add_argument("--leaky-slope", type=float, default=None, metavar="S",
                     help="slope of leaky_relu for u <= 0 (default: 0.01, as in the notes and torch)")
    cmp.add_argument("--loss", choices=("auto", *LOSSES), default="auto",
                     help="the loss (default: auto, i.e. logistic for binary, cross_entropy for multiclass, squared for regression datasets)")
    cmp.add_argument("--output-activation", choices=tuple(ACTIVATIONS), default=None,
                     help="the output layer's activation (default: the loss's own: logistic, softmax, or identity)")
    cmp.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                     help="the dtype of both implementations (default: float64)")
    cmp.add_argument("--batch", type=positive_int, default=64, metavar="N",
                     help="samples in the batch, drawn from the dataset with --seed (default: 64)")
    cmp.add_argument("--reduction", choices=("sum", "mean"), default="sum",
                     help="batch loss: sum (the course) or mean over samples (default: sum)")
    cmp.add_argument("--path", choices=("batched", "per_sample"), default="batched",
                     help="refmlp's backward: batched, or the notes' per-sample algorithm summed (default: batched)")
    cmp.add_argument("--init", choices=("course", "torch"), default="course",
                     help="weight init: course (0.1 * randn) or torch (nn.Linear's uniform) (default: course)")
    cmp.add_argument("--seed", type=seed, default=0, help="seed of the weights and the batch (default: 0)")
    cmp.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")

    ds = sub.add_parser("datasets", help="list the datasets with their shapes and tasks",
                        description="List the frozen dataset snapshots refmlp ships.")
    ds.add_argument("--json", action="store_true", help="print the listing as JSON")

    bn = sub.add_parser(
        "bench",
        help="time refmlp's training against torch, scikit-learn and the BLAS roofline",
        description=(
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
        ),
        epilog=("examples: refmlp bench --quick (a smoke run of a minute or two);  refmlp bench "
                "--workloads W2 --dtypes float32 --threads 1 --processes 3;  refmlp bench --profile "
                "--workloads W2 (where refmlp's time goes)"),
    )
    bn.add_argument("--workloads", type=comma_list(BENCH_WORKLOADS), default=list(BENCH_WORKLOADS),
                    metavar="W1,W2,...", help="workloads to run (default: all four)")
    bn.add_argument("--dtypes", type=comma_list(("float32", "float64")), default=["float32", "float64"],
                    metavar="float32,float64", help="dtypes to run (default: both)")
    bn.add_argument("--threads", type=positive_ints, default=[1, 2], metavar="1,2",
                    help="thread counts, each a separate run of every contender (default: 1,2; 1 is "
                         "the headline: 2-thread runs on 2-core virtual machines are erratic)")
    bn.add_argument("--processes", type=positive_int, default=5, metavar="N",
                    help="processes per contender and setting (default: 5)")
    bn.add_argument("--repeats", type=positive_int, default=3, metavar="N",
                    help="timed runs per process, after the warm-up (default: 3)")
    bn.add_argument("--warmup", type=positive_int, default=1, metavar="N",
                    help="untimed runs per process before them (default: 1)")
    bn.add_argument("--samples", type=positive_int, default=None, metavar="N",
                    help="at most N samples per workload (default: each workload's own)")
    bn.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time, or the process's CPU time (all its threads), steadier on a "
                         "machine shared with other work (default: wall)")
    bn.add_argument("--startup-runs", type=int, default=10, metavar="N",
                    help="runs of 'refmlp --help' and 'refmlp datasets' to time (default: 10; 0 skips)")
    bn.add_argument("--timeout", type=float, default=900, metavar="S",
                    help="seconds one child process may take (default: 900)")
    bn.add_argument("--quick", action="store_true",
                    help="a smoke run: 1 process, 1 repeat, 1 thread, at most 512 samples, 2 start-up runs")
    bn.add_argument("--profile", action="store_true",
                    help="instead, split refmlp's epoch of each chosen workload and dtype into phases "
                         "(GEMMs, activations, bias, loss derivative, update, gathering), 1 thread")
    bn.add_argument("--json", action="store_true",
                    help="print every figure as JSON (per workload, dtype and threads, each "
                         "contender's figures and refmlp's speed-up over it) instead of the table")
    bn.add_argument("--save", default=None, metavar="FILE",
                    help="also write that JSON to FILE (the table still prints)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message; --help exits 0
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return {"compare": run_compare, "datasets": run_datasets, "bench": run_bench}[args.command](args)
    except UsageError as exc:
        print(f"refmlp {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        traceback.print_exc()
        print(f"refmlp {args.command}: internal error (the traceback above); please report it",
              file=sys.stderr)
        return EXIT_INTERNAL


def run_datasets(args) -> int:
    import json

    from .data import DatasetIntegrityError, list_datasets

    try:
        infos = list_datasets()
    except (OSError, ValueError, DatasetIntegrityError) as exc:  # no folder, a broken manifest
        raise UsageError(str(exc)) from None
    if args.json:
        emit(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return EXIT_PASS
    lines = [f"{'name':<16}{'task':<12}{'samples':>8}{'features':>10}{'classes/targets':>17}  description"]
    for i in infos:
        outs = i.n_classes if i.task != "regression" else i.n_targets
        lines.append(f"{i.name:<16}{i.task:<12}{i.n_samples:>8}{i.n_features:>10}{outs:>17}  {i.description}")
    emit("\n".join(lines))
    return EXIT_PASS


def run_compare(args) -> int:
    from .data import DatasetIntegrityError, load_dataset
    from .network import Spec

    try:
        data = load_dataset(args.dataset)
    except (ValueError, OSError, DatasetIntegrityError) as exc:
        raise UsageError(str(exc)) from None
    loss = LOSSES[DEFAULT_LOSS[data.task] if args.loss == "auto" else args.loss]
    if data.task not in loss.tasks:
        raise UsageError(
            f"loss {loss.name!r} does not fit dataset {args.dataset!r}, a {data.task} task; it takes "
            f"{' or '.join(loss.tasks)} datasets. For {data.task} use --loss "
            + " or ".join(n for n, l in LOSSES.items() if data.task in l.tasks)
        )
    if args.batch > data.X.shape[0]:
        raise UsageError(
            f"--batch {args.batch} is larger than dataset {args.dataset!r}, which has "
            f"{data.X.shape[0]} samples"
        )
    try:
        spec = Spec.build(
            data.X.shape[1], args.layers, data.n_outputs(loss.target),
            activation=args.activation, loss=loss, output_activation=args.output_activation,
            leaky_slope=args.leaky_slope,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.leaky_slope is not None and not any(l.activation.name == "leaky_relu" for l in spec.layers):
        raise UsageError(
            f"--leaky-slope {args.leaky_slope} sets the slope of leaky_relu, but no layer of "
            f"{spec.describe()} uses it; drop it, or use --activation leaky_relu with hidden layers"
        )
    batch = data.subset(args.batch, args.seed)

    try:
        from .oracle import parity
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise UsageError("refmlp compare needs torch, the oracle, and it is not installed: "
                         "pip install torch") from None

    report = parity(spec, batch.X, batch.targets(loss.target), dtype=args.dtype,
                    reduction=args.reduction, path=args.path, init=args.init, seed=args.seed)
    report.meta.update(dataset=args.dataset, seed=args.seed, init=args.init)
    emit(report.to_json() if args.json else report.to_table())
    return EXIT_PASS if report.passed else EXIT_MISMATCH


def run_bench(args) -> int:
    from importlib.util import find_spec  # finds without importing: the children import them

    missing = [m for m in ("torch", "sklearn", "threadpoolctl") if find_spec(m) is None]
    if missing:
        raise UsageError(f"refmlp bench needs {', '.join(missing)}, not installed: "
                         "pip install 'refmlp[bench]'")
    from .bench import run

    return run(args)
