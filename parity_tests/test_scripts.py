"""Smoke runs of the measuring scripts: they run and print every figure (not how fast)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


@pytest.mark.parametrize("script", ["tolerance_margins.py", "tolerance_sensitivity.py"])
def test_help_explains_the_script(script):
    done = subprocess.run([sys.executable, SCRIPTS / script, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "tolerance" in done.stdout and done.stderr == ""


def test_sensitivity_prints_a_threshold_for_every_dtype_batch_and_quantity():
    done = subprocess.run([sys.executable, SCRIPTS / "tolerance_sensitivity.py", "--skip-large"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("float")]
    assert [(r[0], r[1]) for r in rows] == [(d, b) for d in ("float64", "float32") for b in ("16", "64", "512")]
    for row in rows:
        # three figures "1 + x", each a positive slack well below 1 (a real detection threshold)
        slacks = [float(x) for x in row[2:][2::3]]
        assert len(slacks) == 3 and all(0 < s < 0.01 for s in slacks), row


def test_isolation_benchmark_prints_every_mode_against_none():
    done = subprocess.run([sys.executable, SCRIPTS / "isolation_benchmark.py", "--runs", "1",
                           "--scenario", "disc"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from refmlp.check.sandbox import confine

    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()
            if line.split()[:1] and line.split()[0] in confine.MODES and line.split()[1].endswith("s")
            and not line.startswith("run")}
    assert sorted(rows) == sorted(confine.available()), done.stdout
    assert rows["none"][2:4] == ["+0.000s", "1.000"], done.stdout
