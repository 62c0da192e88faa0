"""The options compare and train share: the data, the network on it, its dtype, path and init."""

from __future__ import annotations

import argparse

from .options import UsageError, layer_sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
    from ..losses import DEFAULT_FOR_TASK, LOSSES
    from ..network import DTYPES, INIT_SCHEMES, PATHS

    data = p.add_mutually_exclusive_group()
    data.add_argument("--dataset", default="moons", help="a dataset from 'refmlp datasets' (default: moons)")
    data.add_argument("--data", default=None, metavar="FILE.npz",
                      help="your own data instead: an .npz with X (n, d) and y (n,) of int class "
                           "labels or (n,) / (n, t) of float targets (np.savez(FILE, X=X, y=y))")
    p.add_argument("--layers", type=layer_sizes, default=[16, 16], metavar="N,N,...",
                   help="hidden layer sizes (default: 16,16; '' for none); the output size comes from the data and loss")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="leaky_relu",
                   help="activation of the hidden layers (default: leaky_relu)")
    p.add_argument("--leaky-slope", type=float, default=None, metavar="S",
                   help="slope of leaky_relu for u <= 0 (default: 0.01, as in the notes and torch)")
    auto = ", ".join(f"{loss} for {task}" for task, loss in DEFAULT_FOR_TASK.items())
    p.add_argument("--loss", choices=("auto", *LOSSES), default="auto",
                   help=f"the loss (default: auto, i.e. {auto} data)")
    p.add_argument("--output-activation", choices=tuple(ACTIVATIONS), default=None,
                   help="the output layer's activation (default: the loss's own: "
                        + ", ".join(sorted({loss.default_output for loss in LOSSES.values()})) + ")")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float64",
                   help="the dtype of every implementation (default: float64)")
    p.add_argument("--path", choices=PATHS[::-1], default="batched",
                   help="refmlp's backward: batched, or the notes' per-sample algorithm summed (default: batched)")
    p.add_argument("--init", choices=INIT_SCHEMES, default="course",
                   help="weight init: course (0.1 * randn) or torch (nn.Linear's uniform) (default: course)")


def data_name(args) -> str:
    return args.data if args.data else args.dataset


def load(args):
    """The dataset of --dataset or --data; UsageError with the reason otherwise."""
    from ..data import DatasetIntegrityError, load_dataset, load_npz

    try:
        return load_npz(args.data) if args.data else load_dataset(args.dataset)
    except (ValueError, OSError, DatasetIntegrityError) as exc:
        raise UsageError(str(exc)) from None


def build_problem(args):
    """The dataset, the loss and the spec the network options ask for; UsageError otherwise."""
    from ..losses import DEFAULT_FOR_TASK, LOSSES
    from ..network import Spec

    data = load(args)
    name = data_name(args)
    loss = LOSSES[DEFAULT_FOR_TASK[data.task] if args.loss == "auto" else args.loss]
    if data.task not in loss.tasks:
        raise UsageError(
            f"loss {loss.name!r} does not fit dataset {name!r}, a {data.task} task; it takes "
            f"{' or '.join(loss.tasks)} datasets. For {data.task} use --loss "
            + " or ".join(n for n, l in LOSSES.items() if data.task in l.tasks)
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
    return data, loss, spec


def check_reduction(loss, reduction: str) -> None:
    """--reduction against what the loss takes, as a UsageError."""
    from ..losses import check_reduction as check

    try:
        check(loss, reduction)
    except ValueError as exc:
        raise UsageError(f"--reduction {reduction}: {exc}") from None
