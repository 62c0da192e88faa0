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
import threading
import time

from ..compare import json_safe
from .report import EXIT
from .runner import printable

CSV_COLUMNS = ("student", "score", "max_score", "verdict", "first_divergence", "diagnosis",
               "seconds")
WIDTHS = (24, 7, 12, 34, 30)  # student, verdict, score, first divergence, likely cause


def header() -> str:
    cols = ("student", "verdict", "score", "first divergence", "likely cause")
    return "  ".join(c.ljust(w) for c, w in zip(cols, WIDTHS)) + "  time"


def line(g) -> str:
    """One student's row; an error's reason on a second line (a row cannot hold it)."""
    cells = (printable(g.student), g.verdict.upper(), f"{g.score:g}/{g.max_score:g}",
             g.first_divergence, g.diagnosis)
    text = "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS)) + "  " + (
        "(unchanged)" if g.resumed else f"{g.seconds:.1f}s")
    if g.verdict == "error" and g.message:
        text += "\n    " + printable(g.message.splitlines()[0])
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


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: str) -> str:
    """A cell of text a spreadsheet will not run nor split: one starting like a formula (a
    student folder named ``=HYPERLINK(...)``) gets a leading quote, which spreadsheets show as
    text; a line break in it is written as the two characters backslash, r (or n): the csv
    module leaves a lone CR unquoted, and a spreadsheet would start a row there."""
    cell = cell.replace("\r", "\\r").replace("\n", "\\n")
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def to_csv(results) -> str:
    """The gradebook: a row per student, sorted by name (columns: CSV_COLUMNS)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for g in by_name(results):
        w.writerow([as_text(g.student), f"{g.score:g}", f"{g.max_score:g}", g.verdict,
                    "" if g.first_divergence == "-" else as_text(g.first_divergence),
                    "" if g.diagnosis == "-" else as_text(g.diagnosis), f"{g.seconds:.2f}"])
    return buf.getvalue()


class ProgressBar:
    """``[#####.....] 12/48 students, 0:14, ETA 0:35`` on stderr, drawn only on a terminal, and
    drawn again every ``tick`` seconds once started, so that the time runs while a slow student
    (an endless loop) holds the count still. ``above`` prints a line on stdout above it."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30, stream=None,
                 tick: float = 1.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0 and self.stream.isatty()
        self.total, self.width, self.done, self.t0 = total, width, 0, time.monotonic()
        self.timed = 0  # students actually checked: the ETA's rate (resumed ones take no time)
        self.end: float | None = None  # when, at the last student's rate, the run ends
        self.drawn, self.tick = False, tick
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def text(self) -> str:
        filled = self.width * self.done // max(self.total, 1)
        now = time.monotonic()
        elapsed = int(now - self.t0)
        eta = ""
        if self.end is not None and self.done < self.total:
            eta = f", ETA {_minutes(max(0, round(self.end - now)))}"
        return (f"grading [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.done}/{self.total} students, {_minutes(elapsed)}{eta}")

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

    def start(self) -> None:
        """Draw, then draw again every ``tick`` seconds until ``close``."""
        self.draw()
        if self.enabled and self._ticker is None:
            self._ticker = threading.Thread(target=self._redraw, daemon=True)
            self._ticker.start()

    def _redraw(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                self.draw()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        self.wipe()

    def advance(self, above: str | None = None, emit=print, timed: bool = True) -> None:
        """One more student done; ``timed=False`` for one that took no checking (a stored report,
        no submission found), which says nothing of how long the others will take."""
        with self._lock:
            self.done += 1
            if timed:
                self.timed += 1
                now = time.monotonic()
                self.end = now + (now - self.t0) / self.timed * (self.total - self.done)
            self.wipe()
            if above is not None:
                emit(above)
            self.draw()


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"

