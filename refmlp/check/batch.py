"""Grading a class: check several submissions, one line each, and one exit code for all.

Exit code of the batch: 2 if any submission's verdict is ``error``, else 1 if any is ``fail``,
else 0 — the worst verdict wins, in the order pass < fail < error.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..compare import json_safe
from .report import EXIT, CheckReport
from .submission import SUBMISSION_FILES, check_submission


def submissions_in(parent) -> list[Path] | str:
    """The immediate subfolders of ``parent`` holding mlp.py or neuralnet.py, sorted by name,
    or a string saying what is wrong."""
    p = Path(parent)
    if not p.is_dir():
        return f"--each {parent}: not a folder (give the folder that holds one subfolder per student)"
    found = sorted((d for d in p.iterdir()
                    if d.is_dir() and any((d / f).is_file() for f in SUBMISSION_FILES)),
                   key=lambda d: d.name)
    if not found:
        return (f"--each {parent}: no subfolder holds mlp.py or neuralnet.py "
                "(expected one subfolder per submission)")
    return found


def check_each(paths, **options) -> list[tuple[CheckReport, float]]:
    """(report, seconds) per submission, in order; an unexpected failure while checking one
    becomes that submission's ``error`` report and the others still run."""
    out = []
    for path in paths:
        t0 = time.perf_counter()
        try:
            rep = check_submission(path, **options)
        except ModuleNotFoundError as exc:
            if exc.name == "torch":
                raise  # the same for every submission: a usage error of the whole run
            rep = CheckReport("error", str(path), None, message=f"internal error: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - one submission must not stop the class
            rep = CheckReport("error", str(path), None, message=f"internal error: {exc!r}")
        out.append((rep, time.perf_counter() - t0))
    return out


def batch_exit(reports) -> int:
    """The worst verdict's exit code (pass 0 < fail 1 < error 2)."""
    return max((EXIT[r.verdict] for r in reports), default=EXIT["pass"])


def _divergence(rep: CheckReport) -> str:
    fd = rep.first_divergence
    if not fd:
        return "-"
    where = f"layer {fd['layer']} {fd['quantity']}" if fd["layer"] else fd["quantity"]
    return where + (f" ({rep.first_scenario})" if rep.first_scenario else "")


def summary(results) -> dict:
    counts = {v: sum(r.verdict == v for r, _ in results) for v in EXIT}
    seeds = {r.seed for r, _ in results if r.seed is not None}
    return {"submissions": len(results), **counts,
            "seconds": round(sum(s for _, s in results), 2),
            "seed": seeds.pop() if len(seeds) == 1 else None}


def to_text(results) -> str:
    """One line per submission: name, verdict, first divergence, diagnosis key, seconds."""
    rows = [(Path(r.submission).name or r.submission, r.verdict.upper(), _divergence(r),
             (r.diagnosis or {}).get("key") or "-", f"{s:.1f}s") for r, s in results]
    head = ("submission", "verdict", "first divergence", "likely cause", "time")
    width = [max(len(x[i]) for x in [head, *rows]) for i in range(4)]
    lines = []
    for x, rep in zip([head, *rows], [None, *(r for r, _ in results)]):
        lines.append("  ".join(c.ljust(w) for c, w in zip(x[:4], width)) + "  " + x[4])
        if rep is not None and rep.verdict == "error" and rep.message:
            # why it could not be judged, on its own line: a row cannot hold it
            lines.append("    " + rep.message.splitlines()[0])
    s = summary(results)
    lines.append("")
    lines.append(f"{s['submissions']} submissions: {s['pass']} pass, {s['fail']} fail, "
                 f"{s['error']} error ({s['seconds']:.1f}s)")
    if s["seed"] is not None:
        lines.append(f"seed {s['seed']} (samples, weights, step sizes; --seed {s['seed']} repeats this run)")
    isolations = sorted({r.isolation for r, _ in results if r.isolation})
    if isolations:
        lines.append("isolation: " + "; ".join(isolations))
    return "\n".join(lines)


def to_dict(results) -> dict:
    return {"reports": [{**r.to_dict(), "seconds": round(s, 2)} for r, s in results],
            "summary": summary(results)}


def to_json(results) -> str:
    return json.dumps(json_safe(to_dict(results)), indent=2, allow_nan=False)
