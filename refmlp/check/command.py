"""``refmlp check``: its options (``add_arguments``) and its run (``run(args) -> int``).

Exit codes: 0 pass, 1 fail (a wrong number, an exception or a timeout in a check), 2 a usage
error or a submission that cannot be loaded. Declaring the options imports nothing heavy, so
``refmlp --help`` stays fast; torch is imported by ``run`` only.
"""

from __future__ import annotations

import argparse
import math

DESCRIPTION = (
    "Run a homework submission (a folder with mlp.py, optionally layers.py and losses.py, "
    "or the path to mlp.py / neuralnet.py) in a sandboxed subprocess on the course's "
    "networks, and compare every layer's output and every gradient, recovered through "
    "backward + step, with torch. The report gives a verdict per check, the first "
    "divergence (layer and quantity, in the order the data flows) and the likely bug. "
    "Exit code 0 pass, 1 fail (a wrong number, an exception or a timeout in a check), "
    "2 usage error or a submission that cannot be loaded."
)
EPILOG = (
    "scenarios: disc, digits, autoencoder, regression, square (all by default). "
    "A scenario file (TOML or JSON) adds networks: [[scenario]] name = \"wide\", "
    "input = 2, layers = [[64, \"leaky_relu\", \"h1\"], [1, \"logistic\", \"out\"]], "
    "loss_deriv = \"logistic_est_loss_deriv\", data = \"disc\" (or \"random\"). "
    "An adapter (--adapter FILE) defines class MLP with the released API around another "
    "implementation, and optionally params() -> [(W_k, b_k), ...]; see the README. "
    "example: refmlp check homework/ --scenario disc --json"
)


def check_seed(text: str) -> int | str:
    """An integer >= 0 below 2^32 (numpy's global seed), or 'random'."""
    from ..commands.options import seed

    if text == "random":
        return text
    value = seed(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer below 2^32 or 'random', got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description, parser.epilog = DESCRIPTION, EPILOG
    parser.add_argument("path", nargs="+",
                        help="the submission folder, or its mlp.py (or neuralnet.py); several paths "
                             "grade each in turn, one line each")
    parser.add_argument("--each", action="store_true",
                        help="each PATH is a class's folder: every immediate subfolder holding mlp.py "
                             "or neuralnet.py is one submission (sorted by name). Prints one line per "
                             "submission and a count; exit 0 if all pass, 1 if any fails, 2 if any "
                             "is an error (the worst verdict wins)")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="run this scenario (repeatable; default: all, plus the file's)")
    parser.add_argument("--scenario-file", metavar="FILE",
                        help="TOML or JSON file of extra scenarios (see the epilog)")
    parser.add_argument("--seed", type=check_seed, default=None,
                        help="seed of the samples, the checker's weights, the step sizes and numpy's "
                             "global generator before each network is built; 'random' draws one. "
                             "Default: 0 for one submission (the same report every run), random when "
                             "grading several (--each or several PATHs: no answer can be computed "
                             "before the run). The report gives the seed: --seed N repeats a run")
    parser.add_argument("--adapter", metavar="FILE",
                        help="a Python file defining class MLP with the released API (see README)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="wall-clock limit per check, at least 0.5 (default: 10)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--allow-unisolated", action="store_true",
                        help="let --each grade a class where the OS offers no isolation (not Linux, "
                             "or neither namespaces, Landlock nor seccomp: every report then says "
                             "'isolation: none' and a student's code can reach the others' files); "
                             "REFMLP_ISOLATION=namespaces|fallback|none forces a mode")
    parser.add_argument("--helpers", choices=("apart", "count"), default="apart",
                        help="the submission's own layers.py / losses.py are judged apart by their "
                             "values and, by default (apart), never change the verdict; 'count' "
                             "makes a failing helper fail the submission (students who wrote their "
                             "own helpers). The course's released files are named as such")
    parser.add_argument("--verbose", action="store_true",
                        help="every check's figures and notes, before the one-screen summary")
    parser.add_argument("--repro", metavar="FILE",
                        help="write a short numpy-only script reproducing the first divergence "
                             "(the check's weights, x, y, the reference's numbers and yours)")


def run(args) -> int:
    from ..commands.options import UsageError, emit
    from .scenarios import SCENARIOS, ScenarioError, load_scenario_file, select
    from .submission import check_submission

    import os
    import sys

    from .sandbox import confine

    try:
        isolation, _ = confine.choose()  # $REFMLP_ISOLATION checked before anything runs
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.each and isolation == "none" and not args.allow_unisolated:
        raise UsageError(
            "--each runs every student's code next to the others' files, and this machine offers "
            "no isolation (" + (f"{confine.ENV}=none" if os.environ.get(confine.ENV) else
                                f"{sys.platform}: no user namespaces, Landlock or seccomp")
            + "): grade in a container or VM, or pass --allow-unisolated to accept the risk")
    # a finite floor: inf cannot become the sandbox's CPU limit, and below half a second even a
    # right submission cannot start (numpy's import alone takes ~0.1-0.3 s)
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout >= 0.5):
        raise UsageError(f"--timeout must be a positive number of seconds, finite and at least "
                         f"0.5; got {args.timeout}")
    try:
        extra = load_scenario_file(args.scenario_file) if args.scenario_file else []
        clash = [s.name for s in extra if s.name in SCENARIOS]
        if clash:
            raise ScenarioError(f"scenario file redefines built-in scenario {clash[0]!r}; rename it")
        names = args.scenario or [*SCENARIOS, *(s.name for s in extra)]
        chosen = select(names, extra)
    except ScenarioError as exc:
        raise UsageError(str(exc)) from None
    grading = args.each or len(args.path) > 1
    seed = args.seed if args.seed is not None else "random" if grading else 0
    if seed == "random":
        import secrets

        seed = secrets.randbelow(2**32)
    options = dict(scenarios=chosen, seed=seed, timeout=args.timeout, adapter=args.adapter,
                   helpers=args.helpers)
    try:
        if grading:
            return run_batch(args, options)
        report = check_submission(args.path[0], **options)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise UsageError("refmlp check needs torch, the oracle, and it is not installed: "
                         "pip install torch") from None
    if args.repro:
        import sys

        from .repro import write_repro

        print(write_repro(report, args.repro), file=sys.stderr)
    # the report says why it is an error (text and JSON alike): said once, not again on stderr
    emit(report.to_json() if args.json else report.to_text(verbose=args.verbose))
    return report.exit_code


def run_batch(args, options) -> int:
    """Several submissions (the PATHs, or with --each their subfolders): a line each, a count."""
    from ..commands.options import UsageError, emit
    from . import batch

    paths = []
    for parent in args.path if args.each else ():
        found = batch.submissions_in(parent)
        if isinstance(found, str):
            raise UsageError(found)
        paths += found
    results = batch.check_each(paths or args.path, **options)
    emit(batch.to_json(results) if args.json else batch.to_text(results))
    return batch.batch_exit([r for r, _ in results])
