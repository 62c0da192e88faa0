"""Time `refmlp check --each` on a class built from the submission catalogues.

The class: every entry of parity_tests/submissions/correct and buggy (and wip/, when there is
one), one student each, with one endless loop (buggy/timeout_infinite_loop) and one student
whose forward prints ~100 MB (made here from a correct one), some handed in the ways students do:
as MLP.py, nested in HW6/, under another name, or as a notebook. It is graded once per --jobs
value, each time by the `refmlp` command in a fresh process (so torch's import and the pool's
start are counted), and the script prints the wall time, the seconds per student (median,
worst), the speed-up over the first --jobs value, and whether every student's verdict, score,
first divergence and diagnosis are the same in every run (exit code 1 if not), at one grading
seed for all the runs. The CPU time counts the command and every process it waited for (the pool's
workers, the sandboxes, their checks): the figure a shared machine's load does not change.

    python scripts/grade_benchmark.py                 # --jobs 1 and --jobs 2
    python scripts/grade_benchmark.py --jobs 2 --keep /tmp/class
    python scripts/grade_benchmark.py --profile     # also: where one student's time goes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "parity_tests" / "submissions"
FLOOD = "        print('x' * 100_000)  # ~100 MB over a class's checks: the sandbox keeps 16 kB\n"


def notebook(source: str) -> str:
    """A notebook holding ``source`` as its class cell, between cells that run an experiment."""
    cells = ["%matplotlib inline\nimport numpy as np\n", source,
             "net = MLP(2, None)\nfor epoch in range(10**9):\n    pass\n",
             "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": c.splitlines(keepends=True)} for c in cells]})


def build_class(dest: Path) -> list[str]:
    """Write the class into ``dest``; the students' names."""
    # the catalogues of one bug each (wip/ holds a folder of correct ones inside: not one student)
    entries = [p for kind in ("correct", "buggy") if (CATALOGUE / kind).is_dir()
               for p in sorted((CATALOGUE / kind).iterdir()) if p.is_dir()]
    names = []
    for i, src in enumerate(entries):
        name = "_".join(src.relative_to(CATALOGUE).parts)
        student = dest / name
        if i % 7 == 3 and not (src / "adapter.py").exists():  # nested: student/HW6/mlp.py
            shutil.copytree(src, student / "HW6")
        else:
            shutil.copytree(src, student)
        if i % 11 == 5 and (student / "mlp.py").exists():  # any case
            (student / "mlp.py").rename(student / "MLP.py")
        names.append(name)
    right = CATALOGUE / "correct" / "ws_bs_lists" / "mlp.py"
    nb = dest / "correct_as_notebook"
    nb.mkdir()
    (nb / "HW6.ipynb").write_text(notebook(right.read_text()))
    flood = dest / "buggy_output_flood"
    flood.mkdir()
    text = right.read_text()
    at = text.index("    def forward(")
    body = text.index("\n", at) + 1
    (flood / "mlp.py").write_text(text[:body] + FLOOD + text[body:])
    return names + [nb.name, flood.name]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def grade(folder: Path, jobs: int, extra: list[str]) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds of the command and every process it waited for, its JSON)."""
    cmd = [sys.executable, "-m", "refmlp", "check", "--each", str(folder), "--json",
           "--jobs", str(jobs), *extra]
    t0, c0 = time.perf_counter(), children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    if done.returncode not in (0, 1, 2):
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, cpu, json.loads(done.stdout)


def key(r: dict) -> tuple:
    fd = r.get("first_divergence") or {}
    return (r["verdict"], r["score"], fd.get("layer"), fd.get("quantity"),
            r.get("first_divergence_scenario"), (r.get("diagnosis") or {}).get("key"))


PROFILE = r"""
import resource, statistics, sys, time
t0 = time.perf_counter()
import torch
from refmlp import mirror, rounding
from refmlp.check.submission import check_submission
from refmlp.trajectory import one_torch_thread
t1 = time.perf_counter()
def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime
rows = []
with one_torch_thread(True):
    for i in range(4):
        w, j, s = time.perf_counter(), cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
        check_submission(sys.argv[1], parallel=1)
        rows.append((time.perf_counter() - w, cpu(resource.RUSAGE_SELF) - j,
                     cpu(resource.RUSAGE_CHILDREN) - s))
med = [statistics.median(r[i] for r in rows[1:]) for i in range(3)]
print(f"importing torch and the judge: {t1 - t0:.2f} s (once per worker process)")
print(f"one student, all scenarios, median of 3: {med[0]:.2f} s wall; CPU: judging {med[1]:.2f} s, "
      f"sandbox (worker start + one child per check) {med[2]:.2f} s")
"""


def profile(student: Path) -> None:
    """Where one student's time goes: torch's import, the judge, the sandbox."""
    subprocess.run([sys.executable, "-c", PROFILE, str(student)], check=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values (default: 1,2)")
    ap.add_argument("--keep", metavar="DIR", help="build the class in DIR (kept) instead of a "
                                                  "temporary folder")
    ap.add_argument("--scenario", action="append", help="passed on to refmlp check")
    ap.add_argument("--seed", type=int, default=None,
                    help="the grading seed of every run (default: one drawn for all the runs)")
    ap.add_argument("--profile", action="store_true",
                    help="first, split one right student's time: torch's import, judging, sandbox")
    args = ap.parse_args(argv)
    if args.profile:
        profile(CATALOGUE / "correct" / "ws_bs_lists")
    jobs = [int(j) for j in args.jobs.split(",")]
    extra = [a for s in args.scenario or () for a in ("--scenario", s)]
    # grading draws a seed per run: the runs compared must check the same networks
    extra += ["--seed", str(args.seed if args.seed is not None else secrets.randbelow(2**32))]
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="refmlp-class-"))
    try:
        if tmp.exists() and any(tmp.iterdir()):
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        names = build_class(tmp)
        print(f"class of {len(names)} students in {tmp} (cores: {os.cpu_count()}, load average "
              f"before: {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        runs = {}
        for j in jobs:
            wall, cpu, doc = grade(tmp, j, extra)
            runs[j] = (wall, doc)
            secs = [r["seconds"] for r in doc["reports"]]
            worst = max(doc["reports"], key=lambda r: r["seconds"])
            s = doc["summary"]
            print(f"--jobs {j}: {wall:6.1f} s wall, {cpu:6.1f} s CPU, for {s['students']} students "
                  f"({s['pass']} pass, {s['fail']} fail, {s['error']} error); per student median "
                  f"{statistics.median(secs):.2f} s, worst {worst['seconds']:.1f} s "
                  f"({worst['student']}); load average {os.getloadavg()[0]:.2f}")
        base_wall, base = runs[jobs[0]]
        same = True
        for j in jobs[1:]:
            wall, doc = runs[j]
            a = {r["student"]: key(r) for r in base["reports"]}
            b = {r["student"]: key(r) for r in doc["reports"]}
            differ = sorted(n for n in a if a[n] != b.get(n))
            same &= not differ
            print(f"--jobs {j} over --jobs {jobs[0]}: speed-up {base_wall / wall:.2f}x; "
                  + ("verdicts, scores, first divergences and diagnoses identical" if not differ
                     else f"DIFFERENT for {', '.join(differ)}: "
                          + "; ".join(f"{n}: {a[n]} vs {b.get(n)}" for n in differ)))
        return 0 if same else 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
