"""What every command shares: exit codes, the usage error, printing, and option types."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_PASS, EXIT_MISMATCH, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input from the command line: said on stderr, exit code 2."""


def emit(text: str) -> None:
    """Print to stdout; a reader that went away (``refmlp datasets | head``) is not an error, and
    the exit code still says what the command found."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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


def float_pair(text: str) -> tuple[float, float]:
    try:
        first, second = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers such as 0.9,0.999, got {text!r}") from None
    return first, second


def comma_list(text: str) -> list[str]:
    """'a, b,' -> ['a', 'b']."""
    return [part.strip() for part in text.split(",") if part.strip()]


def choice_list(choices: tuple, allow_empty: bool = False):
    """'a,b' -> ['a', 'b'], each among ``choices``, none twice."""
    def parse(text: str) -> list[str]:
        items = comma_list(text)
        if (not items and not allow_empty) or any(t not in choices for t in items) \
                or len(set(items)) != len(items):
            empty = " (or '' for none)" if allow_empty else ""
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list of {', '.join(choices)}{empty}; got {text!r}")
        return items
    return parse


def positive_ints(text: str) -> list[int]:
    """'1,2' -> [1, 2]."""
    try:
        return [positive_int(t) for t in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 1,2; got {text!r}") from None


def needs_torch(command: str):
    """A UsageError for a command whose oracle, torch, is not installed."""
    return UsageError(f"refmlp {command} needs torch, the oracle, and it is not installed: pip install torch")


def guarded(command: str, run, args) -> int:
    """``run(args)``: a UsageError said on stderr (exit 2), any other exception a bug in refmlp,
    its traceback printed (exit 3), so that a crash is never taken for a mismatch."""
    import traceback

    try:
        return run(args)
    except UsageError as exc:
        print(f"refmlp {command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        traceback.print_exc()
        print(f"refmlp {command}: internal error (the traceback above); please report it",
              file=sys.stderr)
        return EXIT_INTERNAL


def run_command(command: str, parser: argparse.ArgumentParser, run, argv) -> int:
    """Parse ``argv`` with ``parser`` and run the command, with :func:`guarded`'s exit codes."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message; --help exits 0
        return int(exc.code or 0)
    return guarded(command, run, args)
