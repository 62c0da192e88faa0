"""The ``refmlp`` command: ``main(argv) -> int`` returns the exit code.

Exit codes: 0 every quantity within tolerance, 1 a mismatch, 2 a usage error (including a dataset
snapshot that is missing or fails its checksum, or torch not installed), 3 an internal error (a
bug in refmlp: the traceback is printed), so that a crash is never taken for a mismatch.

Each command lives in a module of its own that declares its options (``add_arguments(parser)``)
and runs from them (``run(args) -> int``); this module only registers them. Declaring the options
imports no torch, so ``refmlp --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from .commands import bench, compare, datasets, train
from .commands.options import (EXIT_INTERNAL, EXIT_MISMATCH, EXIT_PASS, EXIT_USAGE,  # noqa: F401
                               UsageError, emit, guarded, positive_int, seed)

COMMANDS = {"compare": compare, "train": train, "datasets": datasets, "bench": bench}
"""Every command but check (registered below) by name: its module, with HELP, add_arguments, run."""


def build_parser(command: str | None = "*") -> argparse.ArgumentParser:
    """The parser, every command listed; the options declared for ``command`` only ("*": all), so
    that ``refmlp --help`` imports no command's registries."""
    parser = argparse.ArgumentParser(
        prog="refmlp",
        description=(
            "A numpy MLP that implements the backprop of the lecture notes literally, checked "
            "layer by layer against an equivalent torch.nn model with the same weights; and the "
            "same check for your own network (compare --impl) or a student's homework (check)."
        ),
        epilog="Run 'refmlp COMMAND --help' for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def register(name):
        parser_ = sub.add_parser(name, help=COMMANDS[name].HELP)
        if command in ("*", name):
            COMMANDS[name].add_arguments(parser_)

    for name in ("compare", "train"):
        register(name)

    from .check import command as check_command  # its options only: no torch at parse time

    check_command.add_arguments(sub.add_parser(
        "check", help="judge a student's backprop homework (mlp.py) against the reference"))
    from .check import autograder  # its options only, likewise

    autograder.add_arguments(sub.add_parser(
        "autograder", help="build the zip to upload as a Gradescope autograder"))

    for name in ("datasets", "bench"):
        register(name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message; --help exits 0
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command in ("check", "autograder"):
        return guarded(args.command, {"check": run_check, "autograder": run_autograder}[args.command],
                       args)
    return guarded(args.command, COMMANDS[args.command].run, args)


def run_check(args) -> int:
    from .check import command

    return command.run(args)


def run_autograder(args) -> int:
    from .check import autograder

    return autograder.run(args)
