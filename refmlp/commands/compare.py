"""``refmlp compare``: refmlp (or your implementation, ``--impl``) against torch on one batch."""

from __future__ import annotations

import argparse

from . import network
from .options import EXIT_MISMATCH, EXIT_PASS, UsageError, emit, needs_torch, positive_int, seed

HELP = "compare refmlp (or your implementation) and torch on one batch, every quantity at every layer"
DESCRIPTION = (
    "Build the network in numpy and in torch with the same weights, run one batch of a dataset "
    "forward and backward through both, and compare a_k, h_k, the loss, g_k = dLoss/da_k, "
    "b_derivs_k and W_derivs_k at every layer k = 1..L. With --impl, your implementation takes "
    "refmlp's place: it runs in a process of its own, and its weights build the torch twin. Exit "
    "code 0 when every quantity is within tolerance, 1 on a mismatch, 2 on a usage error."
)
EPILOG = (
    "examples: refmlp compare --dataset digits --layers 32,16 --activation tanh --loss "
    "cross_entropy --dtype float32 --reduction mean --json;  refmlp compare --impl mynet:Net "
    "--layout in_out --data mine.npz --layers 16 --activation relu --loss half_squared "
    "--reduction mean. --impl module:factory (or file.py:factory): factory(sizes) (and "
    "factory(sizes, dtype='float32')) returns an object with .params, the list of (W_k, b_k), and "
    ".grads(X, y), the list of (dW_k, db_k) or a dict with 'grads' and optionally 'a', 'h', 'g', "
    "'loss' (each judged when given); the module is imported from the current folder."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..losses import REDUCTIONS

    parser.description, parser.epilog = DESCRIPTION, EPILOG
    network.add_arguments(parser)
    parser.add_argument("--batch", type=positive_int, default=64, metavar="N",
                        help="samples in the batch, drawn from the data with --seed (default: 64)")
    parser.add_argument("--reduction", choices=tuple(REDUCTIONS), default="sum",
                        help="what the batch loss divides the sum over samples by: "
                             + "; ".join(f"{name}: {text}" for name, text in REDUCTIONS.items())
                             + " (default: sum)")
    parser.add_argument("--seed", type=seed, default=0, help="seed of the weights and the batch (default: 0)")
    parser.add_argument("--impl", default=None, metavar="MODULE:FACTORY",
                        help="compare your implementation instead of refmlp's (see below)")
    parser.add_argument("--layout", choices=("out_in", "in_out"), default="out_in",
                        help="with --impl: W_k stored (out, in), a = W h + b (torch's), or (in, "
                             "out), a = h W + b (default: out_in)")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="with --impl: how long its process may take (default: 120)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")


def run(args) -> int:
    data, loss, spec = network.build_problem(args)
    name = network.data_name(args)
    network.check_reduction(loss, args.reduction)
    if args.batch > data.n_samples:
        raise UsageError(f"--batch {args.batch} is larger than dataset {name!r}, which has "
                         f"{data.n_samples} samples")
    if args.impl is None and args.layout != "out_in":
        raise UsageError("--layout describes the weights of --impl; without --impl it does not apply")
    if args.impl and (args.path != "batched" or args.init != "course"):
        raise UsageError("--path and --init choose refmlp's backward and weights; with --impl your "
                         "implementation computes, from its own weights: drop them")
    batch = data.subset(args.batch, args.seed)
    try:
        import torch  # noqa: F401  (the oracle)
    except ModuleNotFoundError:
        raise needs_torch("compare") from None
    if args.impl:
        report = compare_implementation(args, spec, batch.X, batch.targets(loss.target))
    else:
        from ..oracle import parity

        report = parity(spec, batch.X, batch.targets(loss.target), dtype=args.dtype,
                        reduction=args.reduction, path=args.path, init=args.init, seed=args.seed)
    report.meta.update(dataset=name, seed=args.seed)
    if not args.impl:
        report.meta.update(init=args.init)
    emit(report.to_json() if args.json else report.to_table())
    return EXIT_PASS if report.passed else EXIT_MISMATCH


def compare_implementation(args, spec, X, y):
    """--impl's numbers, from its own process, against the torch twin of its own weights."""
    import numpy as np

    from ..external import gradients_report
    from ..implementation import ImplementationError
    from ..implementation import run as run_implementation

    X = np.asarray(X, dtype=args.dtype)
    if np.issubdtype(np.asarray(y).dtype, np.floating):  # targets in the dtype the run is in
        y = np.asarray(y, dtype=args.dtype)
    try:
        params, given = run_implementation(args.impl, spec.sizes, args.dtype, X, y, args.timeout)
        report = gradients_report(params, lambda X_, y_: given, X, y,
                                  activations=[layer.activation for layer in spec.layers],
                                  loss=spec.loss, reduction=args.reduction, layout=args.layout,
                                  name=args.impl)
    except (ImplementationError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return report
