"""A graded class on screen and on file: a line per student, the summary, JSON, the CSV gradebook,
and the progress bar (stderr, on a terminal only).

The rows come from refmlp.check.grade.Graded; the exit code of a class is the worst verdict's
(pass 0 < fail 1 < error 2), or 130 / 143 when SIGINT / SIGTERM stopped the run.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time

from ..compare import json_safe
from .report import EXIT

CSV_COLUMNS = ("student", "score", "max_score", "verdict", "first_divergence", "diagnosis",
               "seconds")
WIDTHS = (24, 7, 12, 34, 30)  # student, verdict, score, first divergence, likely cause


def header() -> str:
    cols = ("student", "verdict", "score", "first divergence", "likely cause")
    return "  ".join(c.ljust(w) for c, w in zip(cols, WIDTHS)) + "  time"


def line(g) -> str:
    """One student's row; an error's reason on a second line (a row cannot hold it)."""
    cells = (g.student, g.verdict.upper(), f"{g.score:g}/{g.max_score:g}", g.first_divergence,
             g.diagnosis)
    text = "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS)) + "  " + (
        "(unchanged)" if g.resumed else f"{g.seconds:.1f}s")
    if g.verdict == "error" and g.message:
        text += "\n    " + g.message.splitlines()[0]
    return text


def summary(results, interrupted=None, total=None) -> dict:
    counts = {v: sum(g.verdict == v for g in results) for v in EXIT}
    seeds = {g.report.get("seed") for g in results} - {None}
    d = {"students": len(results), **counts,
         "seconds": round(sum(g.seconds for g in results if not g.resumed), 2),
         "unchanged": sum(g.resumed for g in results),
         "seed": seeds.pop() if len(seeds) == 1 else None}
    if interrupted is not None:
        d["interrupted_by"] = interrupted
        d["not_graded"] = (total or len(results)) - len(results)
    return d


def summary_text(results, interrupted=None, total=None, wall=None) -> str:
    s = summary(results, interrupted, total)
    text = (f"{s['students']} students: {s['pass']} pass, {s['fail']} fail, {s['error']} error"
            + (f" ({s['unchanged']} unchanged since the last run)" if s["unchanged"] else "")
            + (f", {wall:.1f}s" if wall is not None else ""))
    if s["seed"] is not None:
        text += (f"\nseed {s['seed']} (samples, weights, step sizes; --seed {s['seed']} repeats "
                 "this run)")
    isolations = sorted({g.report.get("isolation") for g in results} - {None})
    if isolations:
        text += "\nisolation: " + "; ".join(isolations)
    if interrupted is not None:
        text += (f"\ninterrupted (signal {interrupted}): {s['not_graded']} students not graded; "
                 "run the same command again to grade them (with --out, the finished ones are kept)")
    return text


def by_name(results) -> list:
    return sorted(results, key=lambda g: g.student)


def to_json(results, interrupted=None, total=None) -> str:
    reports = [{**g.report, "student": g.student, "score": g.score, "max_score": g.max_score,
                "seconds": g.seconds} for g in by_name(results)]
    return json.dumps(json_safe({"reports": reports,
                                 "summary": summary(results, interrupted, total)}),
                      indent=2, allow_nan=False)


def to_csv(results) -> str:
    """The gradebook: a row per student, sorted by name (columns: CSV_COLUMNS)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for g in by_name(results):
        w.writerow([g.student, f"{g.score:g}", f"{g.max_score:g}", g.verdict,
                    "" if g.first_divergence == "-" else g.first_divergence,
                    "" if g.diagnosis == "-" else g.diagnosis, f"{g.seconds:.2f}"])
    return buf.getvalue()


class ProgressBar:
    """``[#####.....] 12/48 students, ETA 0:35`` on stderr, drawn only on a terminal; ``above``
    prints a line on stdout above it (the bar is wiped and drawn again)."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0 and self.stream.isatty()
        self.total, self.width, self.done, self.t0 = total, width, 0, time.monotonic()
        self.drawn = False

    def text(self) -> str:
        filled = self.width * self.done // max(self.total, 1)
        elapsed = time.monotonic() - self.t0
        eta = ""
        if 0 < self.done < self.total:
            left = int(elapsed / self.done * (self.total - self.done))
            eta = f", ETA {left // 60}:{left % 60:02d}"
        return (f"grading [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.done}/{self.total} students{eta}")

    def draw(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.text() + "\033[K")
            self.stream.flush()
            self.drawn = True

    def wipe(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False

    def advance(self, above: str | None = None, emit=print) -> None:
        self.done += 1
        self.wipe()
        if above is not None:
            emit(above)
        self.draw()
