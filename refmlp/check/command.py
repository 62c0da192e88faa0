"""``refmlp check``: its options (``add_arguments``) and its run (``run(args) -> int``).

Exit codes: 0 pass, 1 fail (a wrong number, an exception or a timeout in a check), 2 a usage
error or a submission that cannot be loaded; for a class, the worst verdict's, or 130 (SIGINT,
Ctrl-C) / 143 (SIGTERM) when the run was stopped (what finished is kept and summarised).
Declaring the options imports nothing heavy, so ``refmlp --help`` stays fast; torch is imported
by ``run`` only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

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
    "example: refmlp check homework/ --scenario disc --json. "
    "A class: refmlp check --each class/ --out graded/ --csv grades.csv (a line per student as "
    "it finishes; Ctrl-C keeps what finished, exit code 130; the same command again resumes)."
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


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..commands.options import positive_int

    parser.description, parser.epilog = DESCRIPTION, EPILOG
    parser.add_argument("path", nargs="+",
                        help="the submission folder, or its mlp.py (or neuralnet.py); several paths "
                             "are a class, one student each")
    who = parser.add_argument_group("the submission")
    who.add_argument("--scenario", action="append", metavar="NAME",
                     help="run this scenario (repeatable; default: all, plus the file's)")
    who.add_argument("--scenario-file", metavar="FILE",
                     help="TOML or JSON file of extra scenarios (see the epilog)")
    who.add_argument("--seed", type=check_seed, default=None,
                     help="seed of the samples, the checker's weights, the step sizes and numpy's "
                          "global generator before each network is built; 'random' draws one. "
                          "Default: 0 for one submission (the same report every run), random when "
                          "grading a class (no answer can be computed before the run; with --out "
                          "the class's seed is kept in DIR, so a resumed run uses it again). The "
                          "report gives the seed: --seed N repeats a run")
    who.add_argument("--adapter", metavar="FILE",
                     help="a Python file defining class MLP with the released API (see README); "
                          "for a class, each student's own adapter.py is used instead, and FILE "
                          "only with --adapter-for-all")
    who.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="wall-clock limit per check, at least 0.5 (default: 10; after a check "
                          "times out, the others of its scenario get a quarter of it)")
    who.add_argument("--student-timeout", type=float, default=None, metavar="SECONDS",
                     help="limit on one student's whole check, at least 1; the checks not done "
                          "by then are timeouts (default: 15; a right submission takes ~0.75 s of CPU)")
    who.add_argument("--json", action="store_true", help="print the report as JSON")
    who.add_argument("--helpers", choices=("apart", "count"), default="apart",
                     help="the submission's own layers.py / losses.py are judged apart by their "
                          "values and, by default (apart), never change the verdict; 'count' "
                          "makes a failing helper fail the submission (students who wrote their "
                          "own helpers). The course's released files are named as such")
    who.add_argument("--verbose", action="store_true",
                     help="every check's figures and notes, before the one-screen summary")
    who.add_argument("--repro", metavar="FILE",
                     help="write a short numpy-only script reproducing the first divergence "
                          "(the check's weights, x, y, the reference's numbers and yours)")
    who.add_argument("--gradescope", metavar="FILE",
                     help="write Gradescope's results.json for this one submission to FILE (the "
                          "rubric's score, a test per scored check, the report as the student's "
                          "output); written even when refmlp fails, with score 0 and the reason")
    who.add_argument("--gradescope-visibility", default="visible", metavar="WHEN",
                     choices=("hidden", "after_due_date", "after_published", "visible"),
                     help="when students see those results: hidden, after_due_date, "
                          "after_published or visible (default: visible)")
    cls = parser.add_argument_group("grading a class")
    cls.add_argument("--each", action="store_true",
                     help="each PATH is a class's folder: every immediate subfolder is one "
                          "student, named by it; inside it the submission is mlp.py or "
                          "neuralnet.py (any case, any depth), else the one .py or notebook "
                          "defining class MLP or NeuralNet; none or several: that student is an "
                          "error saying so. An adapter.py in a student's folder is theirs")
    cls.add_argument("--allow-unisolated", action="store_true",
                     help="let --each grade a class where the OS offers no isolation (not Linux, "
                          "or neither namespaces, Landlock nor seccomp: every report then says "
                          "'isolation: none' and a student's code can reach the others' files); "
                          "REFMLP_ISOLATION=namespaces|fallback|none forces a mode")
    cls.add_argument("--adapter-for-all", action="store_true",
                     help="use --adapter for every student who has no adapter.py of their own")
    cls.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                     help=f"students checked at once, each process importing torch once "
                          f"(default: the number of cores, {cores()} here)")
    cls.add_argument("--out", metavar="DIR",
                     help="write DIR/<student>/report.txt and report.json as each student "
                          "finishes, and DIR/summary.json; run again with the same DIR and the "
                          "students whose files and settings are unchanged are not checked again. "
                          "At the end, pages to open in a browser: DIR/index.html (the class) "
                          "and DIR/<student>/index.html")
    cls.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                     help="with --out, reuse the reports of unchanged students (default: on; "
                          "--no-resume checks everyone again)")
    cls.add_argument("--rubric", metavar="FILE",
                     help="points per scenario and check (TOML; default: the shipped rubric, "
                          "refmlp/check/rubric.toml, 100 points; see README)")
    cls.add_argument("--csv", metavar="FILE",
                     help="write the gradebook: student, score, max_score, verdict, "
                          "first_divergence, diagnosis, seconds ('-': on stdout, instead of the "
                          "lines)")


def run(args) -> int:
    from ..commands.options import UsageError
    from .sandbox import confine
    from .scenarios import SCENARIOS, ScenarioError, load_scenario_file, select

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
    if args.student_timeout is not None and not (math.isfinite(args.student_timeout)
                                                 and args.student_timeout >= 1):
        raise UsageError(f"--student-timeout must be a number of seconds, finite and at least 1; "
                         f"got {args.student_timeout}")
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
        if args.gradescope:
            return run_gradescope(args, chosen)
        if args.each or len(args.path) > 1 or args.out or args.csv or args.rubric:
            if args.repro:
                raise UsageError("--repro writes one submission's script: give one PATH")
            return run_class(args, chosen)
        if args.adapter_for_all or args.jobs or args.resume is not None:
            raise UsageError("--adapter-for-all, --jobs and --resume are for a class (--each, or "
                             "several paths)")
        return run_one(args, chosen)
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        raise UsageError("refmlp check needs torch, the oracle, and it is not installed: "
                         "pip install torch") from None


def run_one(args, chosen) -> int:
    from ..commands.options import UsageError, emit
    from .grade import DEFAULT_STUDENT_TIMEOUT, one_torch_thread
    from .submission import check_submission

    budget = args.student_timeout or DEFAULT_STUDENT_TIMEOUT
    seed = draw_seed() if args.seed == "random" else args.seed if args.seed is not None else 0
    with one_torch_thread():
        report = check_submission(args.path[0], scenarios=chosen, seed=seed,
                                  timeout=args.timeout, adapter=args.adapter, helpers=args.helpers,
                                  deadline=time.monotonic() + budget)
    if args.repro:
        from .repro import write_repro

        try:
            note = write_repro(report, args.repro)
        except OSError as exc:
            raise UsageError(f"--repro: cannot write {args.repro!r}: {exc.strerror}") from None
        print(note, file=sys.stderr)
    # the report says why it is an error (text and JSON alike): said once, not again on stderr
    emit(report.to_json() if args.json else report.to_text(verbose=args.verbose))
    return report.exit_code


def run_gradescope(args, chosen) -> int:
    """One submission, as Gradescope runs it: results.json, and the report on stdout (the
    instructor's log)."""
    from ..commands.options import UsageError, emit
    from . import gradescope, rubric as rubrics
    from .grade import DEFAULT_STUDENT_TIMEOUT, Settings
    from .report import EXIT

    if args.each or len(args.path) > 1 or args.out or args.csv:
        raise UsageError("--gradescope writes the results of one submission (Gradescope runs one "
                         f"container per submission); got {len(args.path)} path(s)"
                         + (" with --each" if args.each else "")
                         + (" with --out/--csv" if args.out or args.csv else ""))
    try:
        rubric = rubrics.load(args.rubric)
    except rubrics.RubricError as exc:
        raise UsageError(str(exc)) from None
    # a seed drawn for the run unless --seed N, as for a class: no answer can be computed before
    # the run (the report gives the seed, so --seed N repeats it)
    settings = Settings(scenarios=tuple(chosen), seed=args.seed if isinstance(args.seed, int)
                        else draw_seed(), timeout=args.timeout, helpers=args.helpers,
                        student_timeout=args.student_timeout or DEFAULT_STUDENT_TIMEOUT,
                        adapter=str(Path(args.adapter).resolve()) if args.adapter else None)
    graded = gradescope.grade(students(args)[0], args.gradescope, rubric, settings,
                              visibility=args.gradescope_visibility)
    emit(json.dumps(graded.report, indent=2) if args.json else graded.text)
    return EXIT[graded.verdict]


def draw_seed() -> int:
    import secrets

    return secrets.randbelow(2**32)


def class_seed(args, out: Path | None) -> int:
    """The seed of a class: --seed N, else (for more than one submission) a secret one drawn for
    the run (no answer can be computed before it), kept in DIR/seed with --out, so that resuming
    the run checks the remaining students on the same networks and reuses the finished ones."""
    if isinstance(args.seed, int):
        return args.seed
    if args.seed is None and not args.each and len(args.path) == 1:
        return 0  # one submission (with --out or --csv): the same report every run, as without
    kept = out / "seed" if out is not None else None
    if kept is not None and args.seed is None and args.resume is not False:
        try:
            return check_seed(kept.read_text().strip())
        except (OSError, argparse.ArgumentTypeError):
            pass
    seed = draw_seed()
    if kept is not None:
        _write(kept, f"{seed}\n")
    return seed


def students(args) -> list:
    """The class: with --each every subfolder of every PATH, else each PATH; names made unique."""
    from ..commands.options import UsageError
    from . import find

    subs = []
    for p in args.path:
        if args.each:
            found = find.find_class(p)
            if isinstance(found, str):
                raise UsageError(found)
            subs += found
        elif Path(p).is_dir():
            subs.append(find.locate_submission(p))
        elif Path(p).is_file():
            f = Path(p)
            subs.append(find.Submission(f.parent.name or f.stem, f.parent, file=f))
        else:
            subs.append(find.Submission(Path(p).name or p, Path(p), problem=f"{p} does not exist"))
    seen, unique = {}, []
    for s in subs:  # two PATHs may end in the same folder name (a/alice, b/alice)
        n = seen[s.name] = seen.get(s.name, 0) + 1
        unique.append(s if n == 1 else find.Submission(f"{s.name}-{n}", s.root, s.file, s.adapter,
                                                       s.problem))
    return unique


def run_class(args, chosen) -> int:
    from ..commands.options import UsageError, emit
    from . import batch, rubric as rubrics
    from .grade import DEFAULT_STUDENT_TIMEOUT, EXIT_INTERRUPTED, Settings, class_exit, grade_class

    if args.adapter and not args.adapter_for_all:
        raise UsageError(f"--adapter {args.adapter} with a class would wrap every student's code "
                         "in the same adapter; each student's own adapter.py is used instead. "
                         "Add --adapter-for-all to use it for every student without one")
    if args.adapter_for_all and not args.adapter:
        raise UsageError("--adapter-for-all needs --adapter FILE")
    if args.adapter and not Path(args.adapter).is_file():
        raise UsageError(f"--adapter {args.adapter}: no such file")
    if args.csv == "-" and args.json:
        raise UsageError("--csv - and --json would both write stdout: give --csv a FILE")
    if args.resume and not args.out:
        raise UsageError("--resume reuses the reports of an earlier run: give its --out DIR")
    try:
        rubric = rubrics.load(args.rubric)
    except rubrics.RubricError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.out) if args.out else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {args.out}: cannot create it ({exc.strerror})") from None
    if args.csv and args.csv != "-":  # said now, not after grading the whole class
        csv_path = Path(args.csv)
        if csv_path.is_dir():
            raise UsageError(f"--csv {args.csv}: a folder; expected the gradebook's file name, "
                             "such as grades.csv")
        try:
            csv_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--csv {args.csv}: cannot create its folder {csv_path.parent} "
                             f"({exc.strerror})") from None
    subs = students(args)
    jobs = args.jobs or cores()
    settings = Settings(scenarios=tuple(chosen), seed=class_seed(args, out), timeout=args.timeout,
                        helpers=args.helpers,
                        student_timeout=args.student_timeout or DEFAULT_STUDENT_TIMEOUT,
                        adapter=str(Path(args.adapter).resolve()) if args.adapter else None,
                        # the jobs already fill the cores: one check at a time per student
                        parallel=1 if jobs > 1 else 2)
    lines = not args.json and args.csv != "-"
    bar = batch.ProgressBar(len(subs), enabled=lines)
    if lines:
        emit(batch.header())
    bar.start()
    t0 = time.monotonic()
    try:
        # the ETA's rate counts the students checked now: not a stored report, nor one not found
        done = grade_class(subs, rubric, settings, jobs=jobs, out=out,
                           resume=args.resume is not False,
                           on_done=lambda g: bar.advance(
                               batch.line(g) if lines else None, emit,
                               timed=not g.resumed and bool(g.report.get("checks"))))
    finally:
        bar.close()
    results, stop = done.results, done.interrupted
    if out is not None:
        _write(out / "summary.json", batch.to_json(results, stop, len(subs)) + "\n")
        from .pages import write_pages

        write_pages(out, results)
    if args.csv == "-":
        emit(batch.to_csv(results).rstrip("\n"))
    elif args.csv:
        _write(Path(args.csv), batch.to_csv(results))
    if args.json:
        emit(batch.to_json(results, stop, len(subs)))
    else:
        text = batch.summary_text(results, stop, len(subs), time.monotonic() - t0)
        print(("\n" if lines else "") + text, file=sys.stdout if lines else sys.stderr, flush=True)
    return EXIT_INTERRUPTED[stop] if stop is not None else class_exit(results)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
