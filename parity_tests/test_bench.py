"""Smoke run of ``refmlp bench``: it runs every contender and prints every figure (never how fast)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from refmlp.bench import WORKLOADS, child, render
from refmlp.bench import WORKLOADS
from refmlp.cli import main

BENCH_WORKLOADS = tuple(WORKLOADS)


def test_flops_are_counted_as_the_issue_says():
    # 64 -> 128 -> 128 -> 10: forward and weight gradient at every layer, the gradient passed back
    # everywhere but layer 1; 2 FLOPs per multiply-add
    per_sample = 2 * 64 * 128 * 2 + 2 * 128 * 128 * 3 + 2 * 128 * 10 * 3
    assert WORKLOADS["W1"].flops(1797) == per_sample * 1797
    assert WORKLOADS["W3"].steps(1000) == [1] * 1000 and WORKLOADS["W1"].steps(300) == [128, 128, 44]
    assert BENCH_WORKLOADS == tuple(WORKLOADS)


def test_bad_options_are_usage_errors(capsys):
    assert main(["bench", "--workloads", "W9"]) == 2
    assert "expected a comma-separated list of W1, W2, W3, W4; got 'W9'" in capsys.readouterr().err
    assert main(["bench", "--threads", "0"]) == 2


@pytest.fixture(scope="module")
def smoke():
    cmd = [sys.executable, "-m", "refmlp", "bench", "--quick", "--workloads", "W1,W4",
           "--dtypes", "float32", "--samples", "64", "--startup-runs", "1", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_contender_has_every_figure(smoke):
    results = {r["workload"]: r for r in smoke["results"]}
    assert set(results) == {"W1", "W4"}
    for name in ("W1",):
        entry = results[name]
        assert entry["threads"] == 1 and entry["dtype"] == "float32" and entry["samples"] == 64
        assert set(entry["contenders"]) == {"refmlp", "torch", "sklearn", "roofline"}
        for c in entry["contenders"].values():
            for key in ("median_s", "min_s", "max_s", "samples_per_s", "gflops", "refmlp_speedup",
                        "of_roofline", "peak_mb"):
                assert math.isfinite(c[key]), (name, key)
            assert c["min_s"] <= c["median_s"] <= c["max_s"]
            assert c["threadpools"] and all(p["num_threads"] == 1 for p in c["threadpools"])
        assert entry["contenders"]["torch"]["torch_threads"] == 1
        assert entry["contenders"]["refmlp"]["refmlp_speedup"] == 1
        assert 0 < entry["contenders"]["refmlp"]["paired_of_roofline"] < math.inf
        check = entry["contenders"]["refmlp"]["grad_check"]
        assert check["passed"] and check["tolerance_used"] < 1
    assert results["W4"]["contenders"]["parity"]["passed"] is True
    startup = smoke["startup"]
    assert set(startup) == {"refmlp --help", "refmlp datasets"}
    assert all(s["imports"] == [] for s in startup.values())  # neither torch nor sklearn


def test_the_table_prints_every_figure(smoke):
    table = render(smoke)
    for name in ("W1",):
        block = table.split(f"{name} float32, 1 thread(s)")[1].split("\n\n")[0]
        for contender in ("refmlp", "torch", "sklearn", "roofline"):
            row = next(line for line in block.splitlines() if line.startswith(contender))
            assert row.count("ms") + row.count(" s ") >= 3 and "%" in row, row
        assert "gradients vs torch on the last full batch" in block and "PASS" in block
        assert "sklearn runs relu (it has no leaky ReLU)" in block
    assert "verdict PASS" in table.split("W4 float32")[1]
    assert "refmlp --help" in table and "refmlp datasets" in table


@pytest.mark.parametrize("contender", ["refmlp", "torch", "sklearn", "roofline"])
def test_each_contender_runs_the_per_sample_workload(contender):
    """W3 (batch 1) in this process, on 16 samples: the smoke run above covers the children."""
    job = dict(workload="W3", dtype="float64", contender=contender, samples=16, warmup=1,
               repeats=2, threads=1, grad_check=True)
    out = child(job)
    assert len(out["times"]) == 2 and all(t > 0 for t in out["times"]) and out["samples"] == 16
    assert out["peak_bytes"] >= 0 and out["threadpools"]
    if contender == "refmlp":
        assert out["grad_check"]["passed"] and out["grad_check"]["batch"] == 1
        assert len(out["paired_of_roofline"]) == 2
    if contender == "sklearn":
        assert out["computes_in"] == "float64"
