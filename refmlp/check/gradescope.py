"""Gradescope's results format: a checked submission as ``results.json``.

Gradescope's autograder harness runs ``run_autograder`` in a container and reads
``/autograder/results/results.json`` (its "Autograder Specifications" page):

- top level: ``score`` (it overrides the sum of the tests' scores), ``execution_time`` (seconds),
  ``output`` (text relevant to the whole submission), ``output_format`` and
  ``test_output_format`` (``text``, ``html``, ``simple_format``, ``md`` or ``ansi``),
  ``visibility`` and ``stdout_visibility`` (``hidden``, ``after_due_date``, ``after_published``
  or ``visible``), ``extra_data``, ``tests``;
- per test: ``name``, ``score``, ``max_score``, ``status`` (``passed`` or ``failed``),
  ``output`` (placed in a ``<pre>`` and collapsed by default), ``visibility``, ``tags``,
  ``number``, ``extra_data``.

The student reads the whole report in the top-level ``output``, and each scored test's part of it
in that test's ``output``. Points come from a list of :class:`ScoredTest` (the rubric decides
them); an error (a submission that cannot be loaded, or refmlp itself failing) is still a
results.json, of score 0 with the reason, never a missing file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
FORMATS = ("text", "html", "simple_format", "md", "ansi")


@dataclass(frozen=True)
class ScoredTest:
    """One line of the student's Gradescope page: a name, points earned of points possible, the
    text shown under it, and when the student may see it (one of :data:`VISIBILITIES`)."""

    name: str
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"
    passed: bool | None = None  # None: passed when it earned all its points

    def __post_init__(self):
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"visibility {self.visibility!r} of test {self.name!r} is not one "
                             f"of {', '.join(VISIBILITIES)}")
        for what in ("score", "max_score"):
            value = getattr(self, what)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{what} of test {self.name!r} must be a finite number >= 0; "
                                 f"got {value!r}")

    def to_dict(self) -> dict:
        return {"name": self.name, "score": float(self.score), "max_score": float(self.max_score),
                "status": "passed" if (self.score >= self.max_score if self.passed is None
                                       else self.passed) else "failed",
                "output": self.output, "visibility": self.visibility}


def check_output(check: dict) -> str:
    """A check's part of the report, from its ``to_dict()`` entry: its verdict, the first row out
    of tolerance with its figures, and the message (an exception, a timeout, a note)."""
    details = check.get("details") or {}
    rows = details.get("rows") or []
    n_ok = sum(1 for r in rows if r.get("verdict") == "pass")
    lines = [f"{check.get('verdict', '?').upper()}"
             + (f": {n_ok}/{len(rows)} comparisons within tolerance" if rows else "")]
    bad = next((r for r in rows if r.get("verdict") == "fail"), None)
    if bad is not None:
        where = f" in {bad['where']}" if bad.get("where") else ""
        lines.append(f"first mismatch: {bad.get('row', bad.get('quantity'))}{where}")
        lines.append("  " + _describe(bad))
    if details.get("message"):
        lines.append(details["message"])
    for note in details.get("notes") or ():
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _describe(row: dict) -> str:
    """The parity report's mismatch message for a row of ``to_dict()``."""
    from dataclasses import fields

    from ..compare import Row, describe_mismatch

    known = {f.name for f in fields(Row)}
    try:
        return describe_mismatch(Row(**{k: v for k, v in row.items() if k in known}))
    except (TypeError, ZeroDivisionError, ValueError):
        return row.get("problem") or f"{row.get('n_mismatch')} / {row.get('n_total')} elements out of tolerance"


def results(tests: list[ScoredTest], *, output: str = "", execution_time: float | None = None,
            visibility: str = "visible", stdout_visibility: str = "hidden",
            score: float | None = None, extra_data: dict | None = None) -> dict:
    """The results.json object. ``score`` defaults to the sum of the tests' scores;
    ``stdout_visibility`` defaults to hidden: the run's stdout is the instructor's log."""
    for what, value in (("visibility", visibility), ("stdout_visibility", stdout_visibility)):
        if value not in VISIBILITIES:
            raise ValueError(f"{what} {value!r} is not one of {', '.join(VISIBILITIES)}")
    total = sum(t.score for t in tests) if score is None else score
    out = {"score": float(total), "output": output, "output_format": "text",
           "test_output_format": "text", "visibility": visibility,
           "stdout_visibility": stdout_visibility, "tests": [t.to_dict() for t in tests]}
    if execution_time is not None:
        out["execution_time"] = max(0, round(execution_time))
    if extra_data is not None:
        out["extra_data"] = extra_data
    return out


def error_results(reason: str, *, max_score: float = 0.0, execution_time: float | None = None,
                  visibility: str = "visible") -> dict:
    """Score 0 with the reason, as the student's output and as the one failed test."""
    text = f"The autograder could not grade this submission: {reason}"
    return results([ScoredTest("grading the submission", 0.0, max_score, text, passed=False)],
                   output=text,
                   execution_time=execution_time, visibility=visibility, score=0.0)


def write(path, data: dict) -> Path:
    """Write results.json atomically (a reader never sees half a file); strict JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=".results-", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    os.replace(tmp, path)
    return path


def tests_from_points(items: list, max_score: float, outputs: dict,
                      visibility: str = "visible") -> list[ScoredTest]:
    """One test per item the rubric scored (``rubric.Score.items``), its points scaled as the
    rubric scales the total (so that the tests add up to the score), its output the check's part
    of the report (``outputs``: (scenario, check) -> text)."""
    possible = sum(it["max"] for it in items)
    factor = max_score / possible if possible and max_score else 1.0
    tests = []
    for it in items:
        name = f"{it['scenario']}: {it['check']}" if it["scenario"] else it["check"]
        got, top = round(it["points"] * factor, 2), round(it["max"] * factor, 2)
        text = outputs.get((it["scenario"], it["check"]), "")
        if it["charged"] not in ("pass", "fail", "error"):
            text = (f"{it['charged']}, which is charged there: {got:g} of {top:g} points kept\n"
                    + text)
        tests.append(ScoredTest(name, got, top, text, visibility))
    return tests


def for_graded(graded, *, visibility: str = "visible") -> dict:
    """results.json for one graded submission (``refmlp.check.grade.Graded``): the rubric's
    score, a test per scored check, the student report (with the score) as the output."""
    rep = graded.report
    outputs = {(c.get("scenario"), c["name"]): check_output(c) for c in rep.get("checks") or ()}
    tests = tests_from_points(graded.points, graded.max_score, outputs, visibility)
    if not tests:
        why = rep.get("message") or f"verdict {graded.verdict}"
        tests = [ScoredTest("loading the submission", 0.0, graded.max_score, why, visibility,
                            passed=False)]
    return results(tests, output=graded.text, execution_time=graded.seconds,
                   visibility=visibility, score=graded.score,
                   extra_data={"verdict": graded.verdict,
                               "first_divergence": _small(rep.get("first_divergence")),
                               "diagnosis": (rep.get("diagnosis") or {}).get("key")})


def _small(fd: dict | None) -> dict | None:
    """The first divergence without its arrays (Gradescope keeps extra_data; the arrays are in
    the report)."""
    return None if fd is None else {k: v for k, v in fd.items() if k not in ("expected", "actual")}


def grade(submission, out_file, rubric, settings, *, visibility: str = "visible"):
    """Grade one submission (``refmlp.check.find.Submission``) as ``refmlp check --each`` grades a
    student (``refmlp.check.grade.grade_one``) and write results.json to ``out_file``; returns the
    Graded. If grading itself fails (an error in refmlp, the time limit's interrupt), a
    results.json of score 0 says so, and the error is raised on."""
    import time

    from .grade import grade_one

    t0 = time.perf_counter()
    try:
        graded = grade_one(submission, rubric, settings)
    except BaseException as exc:
        reason = ("the check was stopped before it finished (the autograder's time limit, or an "
                  "interrupt)" if isinstance(exc, KeyboardInterrupt) else
                  f"refmlp failed while checking it ({type(exc).__name__}: {exc}); the "
                  "instructor sees the details in the log")
        write(out_file, error_results(reason, max_score=rubric.total,
                                      execution_time=time.perf_counter() - t0,
                                      visibility=visibility))
        raise
    write(out_file, for_graded(graded, visibility=visibility))
    return graded
