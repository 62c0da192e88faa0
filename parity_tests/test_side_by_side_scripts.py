"""Smoke runs of scripts/parity_summary.py and scripts/train_side_by_side.py on tiny settings.

The scripts run in this process (their ``main(argv)``), so that they share the test session's
imports of torch and scikit-learn, which cost seconds each on a loaded machine.
"""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def script(capsys, name, *argv):
    spec = importlib.util.spec_from_file_location(name[:-3], SCRIPTS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        code = module.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: --help and usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return Done(code, out, err)


@pytest.mark.parametrize("name", ["parity_summary.py", "train_side_by_side.py"])
def test_help_says_what_is_written_where(capsys, name):
    done = script(capsys, name, "--help")
    assert done.returncode == 0 and done.stderr == ""
    assert "--out" in done.stdout and "summary.md" in done.stdout and ".csv" in done.stdout


def test_parity_summary_writes_markdown_csv_and_heat_map(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    done = script(capsys, "parity_summary.py", "--out", tmp_path / "ps", "--datasets", "moons,diabetes",
                  "--depths", "2", "--activations", "tanh", "--dtypes", "float64")
    assert done.returncode == 0, done.stderr
    assert "0 failed" in done.stdout
    rows = read_csv(tmp_path / "ps" / "summary.csv")
    assert {r["dataset"] for r in rows} == {"moons", "diabetes"}
    assert {(r["quantity"], r["layer"]) for r in rows} >= {("a", "1"), ("loss", ""), ("b_derivs", "2")}
    assert all(0 <= float(r["max_rel_error"]) < 1e-10 or r["quantity"] == "b_derivs" for r in rows)
    assert all(r["failed"] == "0" for r in rows)
    md = (tmp_path / "ps" / "summary.md").read_text()
    assert "## float64" in md and "| moons |" in md
    assert (tmp_path / "ps" / "heatmap.png").read_bytes()[:4] == b"\x89PNG"


def test_train_side_by_side_writes_runs_curves_and_figures(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    done = script(capsys, "train_side_by_side.py", "--out", tmp_path / "runs", "--datasets", "moons",
                  "--optimizers", "sgd-nesterov,adam", "--dtypes", "float64", "--steps", "15",
                  "--layers", "4")
    assert done.returncode == 0, done.stderr
    assert "float64: largest judged deviation" in done.stdout and "0 out of tolerance" in done.stdout
    runs = read_csv(tmp_path / "runs" / "runs.csv")
    assert [(r["optimizer"], r["implementation"]) for r in runs] == [
        (o, n) for o in ("sgd-nesterov", "adam") for n in ("refmlp", "torch", "sklearn")]
    assert next(r for r in runs if r["optimizer"] == "adam" and r["implementation"] == "sklearn")["judged"] == "False"
    curves = read_csv(tmp_path / "runs" / "curves.csv")
    assert len(curves) == 2 * 3 * 15
    assert "tolerance 1e-09" in (tmp_path / "runs" / "summary.md").read_text()
    assert (tmp_path / "runs" / "curves_float64.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--optimizers", "lbfgs"], "unknown optimizer presets ['lbfgs']"),
        (["--datasets", "moons,nope"], "unknown dataset 'nope'; expected one of"),
        (["--dtypes", "float16"], "unknown dtypes ['float16']"),
        (["--steps", "0"], "--steps: expected a positive integer, got '0'"),
        (["--compare", "jax"], "--compare: expected a comma-separated list of torch, sklearn"),
    ],
    ids=["preset", "dataset", "dtype", "steps", "compare"],
)
def test_bad_input_is_a_usage_error_before_any_run(capsys, tmp_path, argv, fragment):
    done = script(capsys, "train_side_by_side.py", "--out", tmp_path / "o", *argv)
    assert done.returncode == 2 and fragment in done.stderr, done.stderr
    assert not (tmp_path / "o").exists()


def test_no_judged_comparison_is_said_not_a_crash(capsys, tmp_path):
    done = script(capsys, "train_side_by_side.py", "--out", tmp_path, "--datasets", "moons",
                  "--optimizers", "sgd", "--dtypes", "float64", "--steps", "2", "--compare", "")
    assert done.returncode == 0, done.stderr
    assert "float64: no judged comparison ran" in done.stdout
