"""Time `refmlp check --each` on a class built from the submission catalogues.

The class: every entry of parity_tests/submissions/correct and buggy (and wip/, when there is
one), one student each, with one endless loop (buggy/timeout_infinite_loop) and one student
whose forward prints ~100 MB (made here from a correct one), some handed in the ways students do:
as MLP.py, nested in HW6/, under another name, or as a notebook. It is graded once per --jobs
value, each time by the `refmlp` command in a fresh process (so torch's import and the pool's
start are counted), and the script prints the wall time, the seconds per student (median,
worst), the speed-up over the first --jobs value, and whether every student's verdict, score,
first divergence and diagnosis are the same in every run (exit code 1 if not).

    python scripts/grade_benchmark.py                 # --jobs 1 and --jobs 2
    python scripts/grade_benchmark.py --jobs 2 --keep /tmp/class
"""

from __future__ import annotations

import argparse
import json
import os
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
    entries = [p for kind in ("correct", "buggy", "wip") if (CATALOGUE / kind).is_dir()
               for p in sorted((CATALOGUE / kind).iterdir()) if p.is_dir()]
    names = []
    for i, src in enumerate(entries):
        name = f"{src.parent.name}_{src.name}"
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


def grade(folder: Path, jobs: int, extra: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "refmlp", "check", "--each", str(folder), "--json",
           "--jobs", str(jobs), *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode not in (0, 1, 2):
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout)


def key(r: dict) -> tuple:
    fd = r.get("first_divergence") or {}
    return (r["verdict"], r["score"], fd.get("layer"), fd.get("quantity"),
            r.get("first_divergence_scenario"), (r.get("diagnosis") or {}).get("key"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values (default: 1,2)")
    ap.add_argument("--keep", metavar="DIR", help="build the class in DIR (kept) instead of a "
                                                  "temporary folder")
    ap.add_argument("--scenario", action="append", help="passed on to refmlp check")
    args = ap.parse_args(argv)
    jobs = [int(j) for j in args.jobs.split(",")]
    extra = [a for s in args.scenario or () for a in ("--scenario", s)]
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
            wall, doc = grade(tmp, j, extra)
            runs[j] = (wall, doc)
            secs = [r["seconds"] for r in doc["reports"]]
            worst = max(doc["reports"], key=lambda r: r["seconds"])
            s = doc["summary"]
            print(f"--jobs {j}: {wall:6.1f} s wall for {s['students']} students "
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
