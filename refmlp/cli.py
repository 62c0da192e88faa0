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

    chk = sub.add_parser(
        "check",
        help="judge a student's backprop homework (mlp.py) against the reference",
        description=(
            "Run a homework submission (a folder with mlp.py, optionally layers.py and losses.py, "
            "or the path to mlp.py / neuralnet.py) in a sandboxed subprocess on the course's "
            "networks, and compare every layer's output and every gradient, recovered through "
            "backward + step, with torch. The report gives a verdict per check, the first "
            "divergence (layer and quantity, in the order the data flows) and the likely bug. "
            "Exit code 0 pass, 1 fail (a wrong number, an exception or a timeout in a check), "
            "2 usage error or a submission that cannot be loaded."
        ),
        epilog=(
            "scenarios: disc, digits, autoencoder, regression, square (all by default). "
            "A scenario file (TOML or JSON) adds networks: [[scenario]] name = \"wide\", "
            "input = 2, layers = [[64, \"leaky_relu\", \"h1\"], [1, \"logistic\", \"out\"]], "
            "loss_deriv = \"logistic_est_loss_deriv\", data = \"disc\" (or \"random\"). "
            "An adapter (--adapter FILE) defines class MLP with the released API around another "
            "implementation, and optionally params() -> [(W_k, b_k), ...]; see the README. "
            "example: refmlp check homework/ --scenario disc --json"
        ),
    )
    chk.add_argument("path", help="the submission folder, or its mlp.py (or neuralnet.py)")
    chk.add_argument("--scenario", action="append", metavar="NAME",
                     help="run this scenario (repeatable; default: all, plus the file's)")
    chk.add_argument("--scenario-file", metavar="FILE",
                     help="TOML or JSON file of extra scenarios (see the epilog)")
    chk.add_argument("--seed", type=seed, default=0,
                     help="seed of the samples and of numpy's global generator before each network is built (default: 0)")
    chk.add_argument("--adapter", metavar="FILE",
                     help="a Python file defining class MLP with the released API (see README)")
    chk.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="wall-clock limit per check (default: 10)")
    chk.add_argument("--json", action="store_true", help="print the report as JSON")

    ds = sub.add_parser("datasets", help="list the datasets with their shapes and tasks",
                        description="List the frozen dataset snapshots refmlp ships.")
    ds.add_argument("--json", action="store_true", help="print the listing as JSON")
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
        return {"compare": run_compare, "datasets": run_datasets,
                "check": run_check}[args.command](args)
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


def run_check(args) -> int:
    from .check.scenarios import SCENARIOS, ScenarioError, load_scenario_file, select
    from .check.submission import check_submission

    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds; got {args.timeout}")
    try:
        extra = load_scenario_file(args.scenario_file) if args.scenario_file else []
        clash = [s.name for s in extra if s.name in SCENARIOS]
        if clash:
            raise ScenarioError(f"scenario file redefines built-in scenario {clash[0]!r}; rename it")
        names = args.scenario or [*SCENARIOS, *(s.name for s in extra)]
        chosen = select(names, extra)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    try:
        report = check_submission(args.path, scenarios=chosen, seed=args.seed,
                                  timeout=args.timeout, adapter=args.adapter)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise UsageError("refmlp check needs torch, the oracle, and it is not installed: "
                         "pip install torch") from None
    emit(report.to_json() if args.json else report.to_text())
    if report.verdict == "error" and not report.checks and not args.json:
        print(f"refmlp check: error: {report.message}", file=sys.stderr)
    return report.exit_code
