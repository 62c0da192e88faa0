"""Grading a class: a pure function per student, a pool of processes for many, nothing lost.

``grade_one(submission, rubric, settings) -> Graded`` checks one student (a Submission from
refmlp.check.find) and scores the report with the rubric; it depends on nothing else, so a batch
system can run it once per student (see the README's "Grading past one machine").
``grade_class`` runs it for a whole class: in this process (``jobs=1``) or in a pool of ``jobs``
processes, each importing torch and the judge once (``_start_worker``); as each student finishes
its report is written to ``out/<student>/`` (report.txt, report.json: a temporary file renamed
into place, so a report on disk is always whole) and handed to ``on_done``. With ``resume``, a
student whose report.json holds the same digest of the student's files and the same settings is
not checked again. SIGINT and SIGTERM stop the workers (each kills its sandbox on the way out),
and ``grade_class`` returns what finished, with the signal, so that the caller writes the summary
and exits with EXIT_INTERRUPTED[signal].
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..compare import json_safe
from . import find, rubric as rubrics
from .report import EXIT, CheckReport

DEFAULT_STUDENT_TIMEOUT = 15.0
"""Seconds one student may take in all, on top of each check's --timeout: a right submission of
the course's networks takes ~0.75 s of CPU (3.3 s wall measured on 2 cores at a load average
of 13: a margin of 4.5); an endless loop, which runs in every check, would otherwise cost a timeout
per check (5 scenarios x (10 s + 6 x 2.5 s))."""
EXIT_INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal, as shells do
REPORT_VERSION = 1  # of report.json's layout: a report of another version is checked again


@dataclass(frozen=True)
class Settings:
    """How every student is checked (the same for the whole class)."""

    scenarios: tuple = ()  # Scenario objects (refmlp.check.scenarios.select)
    seed: int = 0
    helpers: str = "apart"  # the student's own layers.py / losses.py: refmlp.check.helpers.MODES
    timeout: float | None = None  # per check (None: the runner's default)
    student_timeout: float = DEFAULT_STUDENT_TIMEOUT
    adapter: str | None = None  # for every student without an adapter.py of their own
    parallel: int = 2  # checks at once inside one student's sandbox

    def fingerprint(self) -> str:
        """What a stored report must have been checked with to be reused, refmlp's version
        included (not the rubric: a stored report is scored again; not parallel: it changes no
        verdict)."""
        from .. import __version__ as refmlp_version

        adapter = None
        if self.adapter:
            try:
                adapter = hashlib.sha256(Path(self.adapter).read_bytes()).hexdigest()
            except OSError:
                adapter = "unreadable"
        doc = {"scenarios": [repr(s) for s in self.scenarios], "seed": self.seed,
               "timeout": self.timeout, "student_timeout": self.student_timeout,
               "adapter": adapter, "helpers": self.helpers, "version": REPORT_VERSION,
               "refmlp": refmlp_version}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Graded:
    """One student's result: the report (as its JSON dict and as text), the score, the time."""

    student: str
    verdict: str
    score: float
    max_score: float
    seconds: float
    report: dict
    text: str
    digest: str = ""
    fingerprint: str = ""
    points: list = field(default_factory=list)
    resumed: bool = False  # read back from an earlier run's report.json

    @property
    def first_divergence(self) -> str:
        fd = self.report.get("first_divergence")
        if not fd:
            return "-"
        where = f"layer {fd['layer']} {fd['quantity']}" if fd.get("layer") else fd["quantity"]
        scen = self.report.get("first_divergence_scenario")
        return where + (f" ({scen})" if scen else "")

    @property
    def diagnosis(self) -> str:
        return (self.report.get("diagnosis") or {}).get("key") or "-"

    @property
    def message(self) -> str | None:
        return self.report.get("message")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("resumed")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Graded:
        return cls(**{k: d[k] for k in ("student", "verdict", "score", "max_score", "seconds",
                                        "report", "text", "digest", "fingerprint", "points")})

    def rescored(self, rubric: rubrics.Rubric, scenarios) -> Graded:
        s = rubrics.score(self.report, rubric, scenarios)
        self.score, self.max_score, self.points = s.score, s.max_score, s.items
        self.text = with_score(self.text.split("\n\nscore: ")[0], s)
        return self


def with_score(text: str, s: rubrics.Score) -> str:
    """The student report followed by the score and what each check earned."""
    lines = [text, "", f"score: {s.score:g} / {s.max_score:g}"]
    for it in s.items:
        if it["charged"] != "pass":
            where = f"{it['scenario']}.{it['check']}" if it["scenario"] else it["check"]
            lines.append(f"  {where}: {it['points']:g} of {it['max']:g} ({it['charged']})")
    return "\n".join(lines)


def _stage_notebook(sub: find.Submission) -> tuple[Path, Path]:
    """(a temporary folder, the module in it) made from the student's notebook, beside copies of
    the .py files of the notebook's folder (their layers.py, losses.py)."""
    from .runner import submission_files

    tmp = Path(tempfile.mkdtemp(prefix="refmlp-notebook-"))
    source, written = find.notebook_to_module(sub.file)
    files = submission_files(sub.file.parent)
    for rel in files if isinstance(files, list) else ():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sub.file.parent / rel, tmp / rel)
    for name, text in written.items():  # %%writefile layers.py: the file the notebook writes
        if Path(name).name == name and name.endswith(".py"):
            (tmp / name).write_text(text)
    module = tmp / (find.module_name(sub.file) + ".py")
    module.write_text(source)
    return tmp, module


def grade_one(sub: find.Submission, rubric: rubrics.Rubric, settings: Settings) -> Graded:
    """Check one student and score the report: a pure function of the student's files, the
    rubric and the settings. Never raises for a student's sake: whatever goes wrong is the
    report's ``error`` verdict and message."""
    from .submission import check_submission

    t0 = time.perf_counter()
    digest = find.digest(sub.root)
    names = [s.name for s in settings.scenarios]
    if sub.problem:
        rep = CheckReport("error", str(sub.root), None, message=sub.problem)
    else:
        staged = None
        try:
            path = sub.file
            if sub.is_notebook:
                staged, path = _stage_notebook(sub)
            rep = check_submission(
                path, scenarios=list(settings.scenarios) or None, seed=settings.seed,
                timeout=settings.timeout, adapter=sub.adapter or settings.adapter,
                helpers=settings.helpers,
                deadline=time.monotonic() + settings.student_timeout, parallel=settings.parallel)
            if staged is not None:
                rep.message = ((rep.message + "\n") if rep.message else "") + (
                    f"checked the module made from the notebook {sub.file.name} (its imports, "
                    "definitions and constants; the cells' experiments left out)")
        except ModuleNotFoundError as exc:
            if exc.name == "torch":
                raise  # the same for every student: the whole run's usage error
            rep = CheckReport("error", str(sub.file), None, message=f"internal error: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - one student must not stop the class
            rep = CheckReport("error", str(sub.file), None, message=f"internal error: {exc!r}")
        finally:
            if staged is not None:
                shutil.rmtree(staged, ignore_errors=True)
        rep.submission = str(sub.file)
    s = rubrics.score(rep.to_dict(), rubric, names)
    return Graded(student=sub.name, verdict=rep.verdict, score=s.score, max_score=s.max_score,
                  seconds=round(time.perf_counter() - t0, 3),
                  report=json.loads(rep.to_json()), text=with_score(rep.to_text(), s),
                  digest=digest, fingerprint=settings.fingerprint(), points=s.items)


# ---- the output folder -----------------------------------------------------------------------
def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_result(out: Path, g: Graded) -> None:
    """out/<student>/report.txt and report.json; report.json is written last, so that its
    presence means both are whole (resume reads only it)."""
    from .pages import safe_name

    folder = out / safe_name(g.student)  # not the run's own files, never another student's
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / "report.txt", g.text + "\n")
    _atomic_write(folder / "report.json",
                  json.dumps(json_safe(g.to_dict()), indent=2, allow_nan=False) + "\n")


def stored(out: Path, sub: find.Submission, fingerprint: str) -> Graded | None:
    """The earlier run's result for ``sub`` when it still holds: same files, same settings."""
    try:
        from .pages import safe_name

        doc = json.loads((out / safe_name(sub.name) / "report.json").read_text())
        g = Graded.from_dict(doc)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if g.fingerprint != fingerprint or g.digest != find.digest(sub.root):
        return None
    g.resumed = True
    return g


# ---- the pool -----------------------------------------------------------------------------------
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_GRACE = 3.0  # seconds a stopped worker has to kill its sandbox (it takes well under one)


def _stop_worker(signum, frame):
    # the executor's loop catches the SystemExit of a task and waits for the next one, which a
    # dead coordinator never sends: the timer ends the process once the sandbox is cleaned up
    timer = threading.Timer(STOP_GRACE, os._exit, args=(128 + signum,))
    timer.daemon = True
    timer.start()
    raise SystemExit(128 + signum)  # unwinds grade_one: the runner's finally kills the sandbox


def _start_worker() -> None:
    """A pool process: the coordinator alone answers Ctrl-C (sent to the whole terminal's group);
    SIGTERM, the coordinator's stop, unwinds the current student. The judge's imports (torch
    above all, ~1 s) happen once here, not once per student."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # stopped while still importing: no student to unwind, and a SystemExit raised here would
    # reach the terminal as the executor's "Exception in initializer" traceback
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(128 + signum))
    try:  # Linux: a coordinator killed outright (SIGKILL runs no handler) still stops its workers
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    _import_judge()
    signal.signal(signal.SIGTERM, _stop_worker)


def _import_judge() -> None:
    import torch

    from .. import mirror, rounding  # noqa: F401
    from . import diagnosis, helpers, judge, submission  # noqa: F401

    torch.set_num_threads(1)  # for the worker's life: see one_torch_thread


def one_torch_thread():
    """torch on one thread while judging (refmlp.trajectory.one_torch_thread says why): here its
    thread pool waking for each tiny operation doubled the judge's CPU time per student (0.41 ->
    0.21 s, measured on 2 cores under load); the jobs fill the cores."""
    from ..trajectory import one_torch_thread as one_thread

    return one_thread(True)


class Interrupted(BaseException):  # not an Exception: grade_one must not take it for a student's
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    for s in EXIT_INTERRUPTED:  # a second Ctrl-C must not cut the workers' clean-up short
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@dataclass
class ClassRun:
    results: list  # Graded, in the order they finished (resumed ones first)
    interrupted: int | None = None  # the signal that stopped the run


def grade_class(submissions, rubric: rubrics.Rubric, settings: Settings, *, jobs: int = 1,
                out: Path | None = None, resume: bool = True, on_done=None) -> ClassRun:
    """Grade every submission (see the module docstring); ``on_done(graded)`` as each ends."""
    on_done = on_done or (lambda g: None)
    out = Path(out) if out is not None else None
    names = [s.name for s in settings.scenarios]
    run = ClassRun([])
    todo = []
    fingerprint = settings.fingerprint()
    for sub in submissions:
        g = stored(out, sub, fingerprint) if out is not None and resume else None
        if g is None:
            todo.append(sub)
            continue
        g.rescored(rubric, names)  # the rubric may have changed since: scoring is cheap
        write_result(out, g)
        run.results.append(g)
        on_done(g)

    def finish(g: Graded) -> None:
        if out is not None:
            write_result(out, g)
        run.results.append(g)
        on_done(g)

    previous = {s: signal.getsignal(s) for s in EXIT_INTERRUPTED}
    try:
        for s in EXIT_INTERRUPTED:
            signal.signal(s, _raise_interrupted)
    except ValueError:  # not the main thread: the caller handles signals
        previous = {}
    try:
        if jobs > 1:  # nothing to check: said at once, without waiting for a worker
            for sub in [s for s in todo if s.problem]:
                finish(grade_one(sub, rubric, settings))
            todo = [s for s in todo if not s.problem]
        if jobs <= 1 or len(todo) <= 1:
            with one_torch_thread():
                for sub in todo:
                    finish(grade_one(sub, rubric, settings))
        else:
            _grade_in_pool(todo, rubric, settings, jobs, finish)
    except Interrupted as exc:
        run.interrupted = exc.signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return run


def _grade_in_pool(todo, rubric, settings, jobs, finish) -> None:
    import multiprocessing

    # spawn: a fresh interpreter per worker, never a fork of a process holding torch's threads
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), initializer=_start_worker,
                               mp_context=multiprocessing.get_context("spawn"))
    futures = {pool.submit(grade_one, sub, rubric, settings): sub for sub in todo}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f].name):
                try:
                    g = fut.result()
                except BrokenProcessPool as exc:
                    sub = futures[fut]
                    g = grade_failed(sub, rubric, settings, f"the grading process died: {exc}")
                finish(g)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def grade_failed(sub, rubric, settings, why: str) -> Graded:
    rep = CheckReport("error", str(sub.file or sub.root), None, message=f"internal error: {why}")
    s = rubrics.score(rep.to_dict(), rubric, [x.name for x in settings.scenarios])
    return Graded(sub.name, "error", s.score, s.max_score, 0.0, rep.to_dict(), rep.to_text(),
                  find.digest(sub.root), "", s.items)


def _stop_pool(pool: ProcessPoolExecutor, grace: float = STOP_GRACE + 2) -> None:
    """Cancel what has not started, SIGTERM the workers (each kills its sandbox), and SIGKILL
    any still alive after ``grace`` seconds: no process of the run outlives it."""
    # the executor keeps its processes in a private mapping: Python 3.14 adds terminate_workers()
    procs = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    end = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def class_exit(results) -> int:
    """The worst verdict's exit code (pass 0 < fail 1 < error 2)."""
    return max((EXIT[g.verdict] for g in results), default=EXIT["pass"])
