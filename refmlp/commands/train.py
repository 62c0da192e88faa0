"""``refmlp train``: refmlp, torch (torch.optim) and scikit-learn trained side by side."""

from __future__ import annotations

import argparse
import os
import sys

from ..tolerance import TRAINING, fig
from . import network
from .options import (EXIT_MISMATCH, EXIT_PASS, UsageError, choice_list, emit, float_pair,
                      positive_int, seed)

HELP = "train refmlp, torch (torch.optim) and scikit-learn side by side and compare the runs"
DESCRIPTION = (
    "Train the network with refmlp and, from the same weights and on the same seeded "
    "mini-batches, with its torch twin and torch.optim's optimizer (and scikit-learn's MLP where "
    "it has the same network and optimizer). After every step the weights are compared layer by "
    "layer; at the end a table gives each implementation's final loss and accuracy (R^2 for "
    "regression) and the largest deviation seen. Exit code 0 when every compared run stayed "
    f"within the tolerance ({fig(TRAINING['float64'].rtol)} relative in float64, "
    f"{fig(TRAINING['float32'].rtol)} in float32), 1 when one left it, 2 on a usage error."
)
EPILOG = (
    "example: refmlp train --dataset moons --layers 16,16 --activation leaky_relu --loss logistic "
    "--optimizer adam --lr 1e-2 --epochs 50 --compare torch,sklearn --plot moons.png   (--plot "
    "needs matplotlib: pip install 'refmlp[plot]')"
)
PEERS = ("torch", "sklearn")
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def optimizer_flags() -> dict[str, dict]:
    """Every optimizer option as a flag: name -> {optimizer: (default, help)}, from optim's records."""
    from ..optim import OPTIMIZERS, hyper_parameters

    flags: dict[str, dict] = {}
    for name in OPTIMIZERS:
        for option, entry in hyper_parameters(name).items():
            flags.setdefault(option, {})[name] = entry
    return flags


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..losses import REDUCTIONS
    from ..optim import OPTIMIZERS, TORCH_NAMES

    parser.description, parser.epilog = DESCRIPTION, EPILOG
    network.add_arguments(parser)
    parser.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="sgd",
                        help="torch.optim's " + ", ".join(TORCH_NAMES.values())
                             + ", with their update rules (default: sgd)")
    parser.add_argument("--lr", type=float, default=0.01, help="the learning rate (default: 0.01)")
    for option, takers in optimizer_flags().items():
        defaults = {_shown(d) for d, _ in takers.values()}
        default = (_shown(next(iter(takers.values()))[0]) if len(defaults) == 1 else
                   "; ".join(f"{n} {_shown(d)}" for n, (d, _) in takers.items()))
        text = f"{', '.join(takers)}: {next(iter(takers.values()))[1]}"
        flag = "--" + option.replace("_", "-")
        sample = next(iter(takers.values()))[0]
        if isinstance(sample, bool):
            parser.add_argument(flag, action="store_true", default=None, help=text)
        elif isinstance(sample, tuple):
            parser.add_argument(flag, type=float_pair, default=None, metavar="B1,B2",
                                help=f"{text} (default: {default})")
        else:
            parser.add_argument(flag, type=float, default=None, help=f"{text} (default: {default})")
    parser.add_argument("--epochs", type=positive_int, default=20, help="epochs to train (default: 20)")
    parser.add_argument("--batch", type=positive_int, default=32, metavar="N",
                        help="mini-batch size; each epoch shuffles with --seed (default: 32)")
    parser.add_argument("--reduction", choices=tuple(REDUCTIONS), default="mean",
                        help="batch loss: mean over samples (torch's and scikit-learn's habit), "
                             "sum (the course), or element_mean (over samples x outputs) "
                             "(default: mean)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the weights and the shuffles (default: 0)")
    parser.add_argument("--compare", type=choice_list(PEERS, allow_empty=True), default=["torch"],
                        metavar="NAME,...",
                        help="implementations to run beside refmlp: torch, sklearn, both, or '' for none (default: torch)")
    parser.add_argument("--plot", default=None, metavar="PATH.png",
                        help="write the loss curves and, for 2-D datasets, the decision boundaries "
                             "to a .png (or .pdf, .svg) in an existing folder (needs matplotlib)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")


def optimizer_options(args) -> dict:
    """The options given on the command line, checked against the optimizer that takes them."""
    flags = optimizer_flags()
    given = {option: getattr(args, option) for option in flags if getattr(args, option) is not None}
    wrong = [option for option in given if args.optimizer not in flags[option]]
    if wrong:
        allowed = [o for o in flags if args.optimizer in flags[o]]
        names = ", ".join("--" + k.replace("_", "-") for k in wrong)
        raise UsageError(f"{names} {'does' if len(wrong) == 1 else 'do'} not apply to --optimizer "
                         f"{args.optimizer}, which takes "
                         + ", ".join("--" + k.replace("_", "-") for k in allowed))
    return given


class Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal (never into a log or a pipe)."""

    def __init__(self, enabled: bool, width: int = 30):
        self.enabled, self.width, self.shown = enabled and sys.stderr.isatty(), width, -1

    def __call__(self, t: int, total: int) -> None:
        filled = self.width * t // total
        if not self.enabled or (filled == self.shown and t != total):
            return
        self.shown = filled
        sys.stderr.write(f"\rtraining [{'#' * filled}{'.' * (self.width - filled)}] {t}/{total} steps")
        if t == total:
            self.wipe()
        sys.stderr.flush()

    def wipe(self) -> None:
        """Clear the bar's line, also when a run stops before its last step (it diverged)."""
        if self.enabled and self.shown >= 0:
            sys.stderr.write("\r" + " " * (self.width + 40) + "\r")
            sys.stderr.flush()
            self.shown = -1


def check_plot_path(path: str) -> None:
    """Refuse a --plot path that cannot be written before training, not after it."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in PLOT_SUFFIXES:
        raise UsageError(f"--plot {path!r}: expected a file name ending in "
                         f"{', '.join(PLOT_SUFFIXES)}; got {suffix or 'no extension'!r}")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise UsageError(f"--plot {path!r}: the folder {folder!r} does not exist")


def run(args) -> int:
    import json

    import numpy as np

    from ..compare import json_safe
    from ..network import DTYPES, MLP
    from ..optim import make_optimizer
    from ..trajectory import render_table, verdict
    from ..trajectory import run as run_side_by_side

    data, loss, spec = network.build_problem(args)
    name = network.data_name(args)
    network.check_reduction(loss, args.reduction)
    options = optimizer_options(args)
    try:
        make_optimizer(args.optimizer, args.lr, **options)  # refuse bad values before training
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.plot:
        check_plot_path(args.plot)
    if args.batch > data.n_samples:
        raise UsageError(f"--batch {args.batch} is larger than dataset {name!r}, which has "
                         f"{data.n_samples} samples")
    if "torch" in args.compare:
        try:
            import torch  # noqa: F401
        except ModuleNotFoundError:
            raise UsageError("--compare torch needs torch, and it is not installed: pip install "
                             "torch (or --compare sklearn, or --compare '')") from None
    net = MLP(spec, init=args.init, seed=args.seed, dtype=DTYPES[args.dtype])
    y = data.targets(loss.target)
    progress = Progress(not args.json)
    try:
        traj = run_side_by_side(net, data.X, y, optimizer=args.optimizer, lr=args.lr,
                                options=options, batch_size=args.batch, epochs=args.epochs,
                                reduction=args.reduction, path=args.path, seed=args.seed,
                                compare=tuple(args.compare), task=data.task, on_step=progress)
    finally:
        progress.wipe()
    per_epoch = -(-data.n_samples // args.batch)
    option_text = "".join(f", {k} {v}" for k, v in options.items())
    run_text = (f"{args.optimizer} (lr {args.lr:g}{option_text}), {args.epochs} epochs of {per_epoch} "
                f"batches of {args.batch} ({traj.steps} steps), reduction {args.reduction}, "
                f"{args.path} backward, {args.dtype}, init {args.init}, seed {args.seed}")
    header = [f"{name}: {spec.describe()}", run_text]
    plot_note = draw(args, traj, net, data, f"{name}: {spec.describe()}\n{run_text}") if args.plot else None
    if args.json:
        result = traj.to_dict({
            "dataset": name, "spec": spec.describe(), "optimizer": args.optimizer, "lr": args.lr,
            "options": options, "epochs": args.epochs, "batch": args.batch,
            "reduction": args.reduction, "path": args.path, "dtype": args.dtype,
            "init": args.init, "seed": args.seed,
        })
        result["plot"] = args.plot if plot_note and plot_note.startswith("figure") else None
        result["plot_note"] = plot_note
        emit(json.dumps(json_safe(result), indent=2, allow_nan=False))
    else:
        emit(render_table(traj, header) + (f"\n{plot_note}" if plot_note else ""))
    return EXIT_PASS if verdict(traj) == "pass" else EXIT_MISMATCH


def draw(args, traj, net, data, title: str) -> str:
    """The figure of --plot, and what became of it (written, or why not)."""
    import numpy as np

    from ..plots import PlotUnavailable, plot_run

    labels = data.labels if data.task != "regression" else None
    try:
        plot_run(traj, net, np.asarray(data.X), labels, args.plot, title)
        return f"figure written to {args.plot}"
    except PlotUnavailable as exc:
        return str(exc)
    except OSError as exc:  # e.g. no permission: the run's result still stands, said with it
        return f"could not write the figure to {args.plot}: {exc.strerror or exc}"
