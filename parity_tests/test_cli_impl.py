"""refmlp compare --impl (your implementation, in a process of its own) and --data (your data),
and the shape of the command line: each command in its own module, none importing the CLI back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refmlp import cli

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "ci"


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A project folder holding the recipe's network (mynet.Net) and a data file, as cwd."""
    shutil.copy(RECIPE / "mynet.py", tmp_path / "mynet.py")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "mine.npz", X=rng.normal(size=(80, 5)), y=rng.normal(size=(80, 2)))
    monkeypatch.chdir(tmp_path)
    return tmp_path


IMPL = ["compare", "--impl", "mynet:Net", "--layout", "in_out", "--data", "mine.npz",
        "--layers", "16,16", "--activation", "relu", "--loss", "half_squared", "--reduction", "mean"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_implementation_of_its_own_matches_torch(capsys, user_folder, dtype):
    code, out, err = run(capsys, *IMPL, "--dtype", dtype, "--json")
    report = json.loads(out)
    assert code == cli.EXIT_PASS, report
    assert report["actual"] == "mynet:Net" and report["meta"]["layout"] == "in_out"
    assert report["meta"]["dtype"] == dtype and report["meta"]["dataset"] == "mine.npz"
    skipped = [r["label"] if "label" in r else f"{r['quantity']}_{r['layer']}"
               for r in report["rows"] if r["verdict"] == "skip"]
    assert "g_1" in skipped and not [r for r in report["rows"] if r["verdict"] == "fail"]


def test_a_wrong_convention_is_a_mismatch_with_its_cause(capsys, user_folder):
    code, out, _ = run(capsys, *[a if a != "mean" else "sum" for a in IMPL])
    assert code == cli.EXIT_MISMATCH
    assert "first divergence: layer 3, b_derivs" in out and "pass reduction='mean'" in out


@pytest.mark.parametrize("impl, fragment", [
    ("mynet", "expected module:factory"),
    ("nosuchmodule:Net", "No module named 'nosuchmodule'"),
    ("mynet:Missing", "mynet has no 'Missing'"),
    ("broken.py:Net", "ZeroDivisionError"),
])
def test_an_implementation_that_cannot_run_is_a_usage_error(capsys, user_folder, impl, fragment):
    (user_folder / "broken.py").write_text("class Net:\n    def __init__(self, sizes):\n        1 / 0\n")
    argv = [a if a != "mynet:Net" else impl for a in IMPL]
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE and out == "" and fragment in err, err


def test_arrays_come_back_without_pickle(user_folder):
    """The child's answer is an .npz of numbers: an object array is refused in the child."""
    from refmlp.implementation import ImplementationError, pack

    class Net:
        params = [(np.zeros((2, 1)), np.zeros(1))]

    with pytest.raises(ImplementationError, match="dW1 must be an array of numbers; got dtype object"):
        pack(Net(), [(np.array([None, None], dtype=object), np.zeros(1))], 1)


@pytest.mark.parametrize("arrays, fragment", [
    (dict(X=np.zeros((4, 2))), "missing: y"),
    (dict(features=np.zeros((4, 2)), y=np.zeros(4)), "expected X and y (missing: X)"),
    (dict(X=np.zeros(4), y=np.zeros(4)), "X must be a numeric (n, d) array"),
    (dict(X=np.zeros((4, 2)), y=np.zeros(3)), "y must hold one target per sample, shape (4,)"),
    (dict(X=np.full((4, 2), np.nan), y=np.zeros(4)), "X holds inf or nan"),
    (dict(X=np.zeros((4, 2)), y=np.array([0, 1, -1, 0])), "class labels must be 0..C-1; got -1"),
])
def test_data_files_are_checked_and_errors_say_what_was_found(capsys, tmp_path, arrays, fragment):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    code, out, err = run(capsys, "compare", "--data", str(path))
    assert code == cli.EXIT_USAGE and fragment in err, err


def test_a_missing_data_file_is_named(capsys, tmp_path):
    code, _, err = run(capsys, "compare", "--data", str(tmp_path / "nope.npz"))
    assert code == cli.EXIT_USAGE and "nope.npz" in err and "no such file" in err


def test_refmlp_compares_itself_on_your_data(capsys, tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "classes.npz"
    np.savez(path, X=rng.normal(size=(50, 3)), y=rng.integers(0, 3, 50))
    code, out, _ = run(capsys, "compare", "--data", str(path), "--batch", "50", "--json")
    report = json.loads(out)
    assert code == cli.EXIT_PASS and "cross_entropy" in report["meta"]["spec"]


def test_no_module_imports_the_cli_back():
    package = ROOT / "refmlp"
    offenders = [str(p.relative_to(ROOT)) for p in package.rglob("*.py")
                 # the entry points: python -m refmlp, and Gradescope's run of `refmlp check`
                 if str(p.relative_to(package)) not in ("cli.py", "__main__.py", "check/autograder.py")
                 and re.search(r"^\s*(from \.+cli import|import refmlp\.cli|from refmlp\.cli import)",
                               p.read_text(), re.MULTILINE)]
    assert offenders == []


def test_help_imports_no_numpy_and_lists_every_command():
    code = ("import sys, contextlib, io\nfrom refmlp.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    assert main(['--help']) == 0\n"
            "assert 'numpy' not in sys.modules, 'numpy imported'\nprint(out.getvalue())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for command in ("compare", "train", "check", "datasets", "bench"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.MULTILINE), command


def test_optimizer_options_come_from_the_optimizer_records(capsys):
    from refmlp.optim import OPTIMIZERS, hyper_parameters

    code, out, _ = run(capsys, "train", "--help")
    flat = " ".join(out.split())
    for name in OPTIMIZERS:
        for option in hyper_parameters(name):
            assert "--" + option.replace("_", "-") in flat
    assert "sgd, adam, adamw: " in flat and "adamw 0.01" in flat  # weight decay's two defaults
