"""The command line: exit codes, the table, the JSON keys, usage errors, and a fast --help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refmlp import cli
from refmlp.data import list_datasets


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_default_compare_prints_every_quantity_and_passes(capsys):
    code, out, err = run(capsys, "compare")
    assert code == cli.EXIT_PASS, out + err
    for label in ("a_1", "h_1", "a_3", "h_3", "loss", "g_3", "W_derivs_3", "b_derivs_1"):
        assert f"\n{label} " in out
    assert "verdict: PASS" in out and err == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["--dataset", "digits", "--layers", "12", "--activation", "tanh", "--dtype", "float32",
         "--reduction", "mean", "--batch", "32"],
        ["--dataset", "diabetes", "--layers", "", "--loss", "absolute"],
        ["--dataset", "iris", "--loss", "squared", "--output-activation", "logistic", "--path", "per_sample"],
        ["--dataset", "disc", "--layers", "100,2", "--leaky-slope", "0.2", "--init", "torch", "--seed", "7"],
        ["--dataset", "wine", "--loss", "cross_entropy", "--output-activation", "softmax"],
    ],
    ids=["digits-float32-mean", "diabetes-no-hidden", "iris-chain-rule-per-sample", "disc-slope",
         "explicit-softmax"],
)
def test_json_report_has_documented_keys(capsys, argv):
    code, out, _ = run(capsys, "compare", *argv, "--json")
    report = json.loads(out)
    assert code == cli.EXIT_PASS, report["first_divergence"]
    assert report["verdict"] == "pass" and report["first_divergence"] is None
    assert {"verdict", "first_divergence", "hint", "tolerance", "meta", "rows"} <= set(report)
    assert {"dtype", "rtol", "reason", "rule"} <= set(report["tolerance"])
    row = report["rows"][0]
    for key in ("quantity", "layer", "verdict", "shape", "dtype", "max_abs_diff", "max_abs_index",
                "max_rel_diff", "max_rel_index", "n_mismatch", "n_total", "rtol"):
        assert key in row


@pytest.mark.parametrize(
    "argv,fragments",
    [
        (["--dataset", "nope"], ["'nope'", "expected one of", "'moons'"]),
        (["--dataset", "diabetes", "--loss", "cross_entropy"],
         ["'cross_entropy' does not fit dataset 'diabetes', a regression task", "--loss squared or half_squared or absolute"]),
        (["--dataset", "regression", "--loss", "logistic"],
         ["'logistic' does not fit", "binary or multiclass datasets"]),
        (["--batch", "5000"], ["--batch 5000", "has 200 samples"]),
        (["--layers", "3,x"], ["'3,x'", "comma-separated positive layer sizes"]),
        (["--layers", "0"], ["'0'", "positive layer sizes"]),
        (["--activation", "softplus"], ["'softplus'", "choose from", "leaky_relu"]),
        (["--activation", "tanh", "--leaky-slope", "0.2"], ["--leaky-slope 0.2", "no layer of"]),
        (["--layers", "", "--leaky-slope", "0.2"], ["no layer of 2 -> 1 logistic"]),
        (["--leaky-slope", "-1"], ["got -1.0", ">= 0"]),
        (["--loss", "logistic", "--output-activation", "tanh"],
         ["cannot follow a 'tanh' output", "among logistic"]),
        (["--batch", "0"], ["'0'", "positive integer"]),
        (["--seed", "-1"], ["'-1'", "integer >= 0"]),
    ],
    ids=["unknown-dataset", "loss-task", "bce-on-regression", "batch-too-big", "bad-layers",
         "zero-width", "unknown-activation", "slope-without-leaky", "slope-without-hidden",
         "negative-slope", "invalid-pairing", "zero-batch", "negative-seed"],
)
def test_usage_errors_exit_2_and_say_what_was_received_and_allowed(capsys, argv, fragments):
    code, out, err = run(capsys, "compare", *argv)
    assert code == cli.EXIT_USAGE and out == ""
    for fragment in fragments:
        assert fragment in err


def test_a_snapshot_failing_its_checksum_is_a_usage_error(capsys, monkeypatch, tmp_path):
    import shutil

    import numpy as np

    from refmlp.data import snapshot_dir

    shutil.copytree(snapshot_dir(), tmp_path / "datasets")
    with np.load(tmp_path / "datasets" / "moons.npz") as f:
        X, y = f["X"].copy(), f["y"]
    X[0, 0] += 1.0
    np.savez_compressed(tmp_path / "datasets" / "moons.npz", X=X, y=y)
    monkeypatch.setenv("REFMLP_DATASETS", str(tmp_path / "datasets"))
    code, out, err = run(capsys, "compare")
    assert code == cli.EXIT_USAGE and "moons.npz" in err and out == ""
    monkeypatch.setenv("REFMLP_DATASETS", str(tmp_path / "nowhere"))
    code, _, err = run(capsys, "datasets")
    assert code == cli.EXIT_USAGE and "nowhere" in err


@pytest.mark.parametrize("broken", ["manifest-not-json", "manifest-entry-lacks-a-key", "npz-garbage"])
def test_a_broken_snapshot_folder_names_the_file(capsys, monkeypatch, tmp_path, broken):
    import json as json_
    import shutil

    from refmlp.data import snapshot_dir

    folder = tmp_path / "datasets"
    shutil.copytree(snapshot_dir(), folder)
    if broken == "manifest-not-json":
        (folder / "MANIFEST.json").write_text("not json")
    elif broken == "manifest-entry-lacks-a-key":
        manifest = json_.loads((folder / "MANIFEST.json").read_text())
        del manifest["datasets"]["moons"]["task"]
        (folder / "MANIFEST.json").write_text(json_.dumps(manifest))
    else:
        (folder / "moons.npz").write_bytes(b"garbage")
    monkeypatch.setenv("REFMLP_DATASETS", str(folder))
    code, out, err = run(capsys, "compare")
    assert code == cli.EXIT_USAGE and out == "", err
    assert ("MANIFEST.json" in err) if broken.startswith("manifest") else ("moons.npz" in err)


def test_mismatch_exits_1(capsys, monkeypatch):
    """A wrong derivative in the registry makes compare fail with exit code 1 and say where."""
    import refmlp.activations as acts

    broken = acts.Activation("tanh", acts.tanh, lambda u: 1 - acts.tanh(u), "Tanh")
    monkeypatch.setitem(acts.ACTIVATIONS, "tanh", broken)
    code, out, _ = run(capsys, "compare", "--activation", "tanh")
    assert code == cli.EXIT_MISMATCH
    assert "verdict: FAIL" in out and "first divergence: layer 2, g" in out


def test_datasets_lists_every_snapshot(capsys):
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    for info in list_datasets():
        assert info.name in out
    code, out, _ = run(capsys, "datasets", "--json")
    assert {d["name"] for d in json.loads(out)} == {i.name for i in list_datasets()}


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run(capsys)
    assert code == cli.EXIT_USAGE and "compare" in out


def test_help_does_not_import_torch():
    code = (
        "import sys, contextlib, io\n"
        "from refmlp.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['--help']) == 0\n"
        "    assert main(['compare', '--help']) == 0\n"
        "heavy = {'torch', 'sklearn'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "refmlp", "datasets"], capture_output=True, text=True)
    assert done.returncode == 0 and "moons" in done.stdout and done.stderr == ""


def test_an_internal_error_exits_3_not_1(capsys, monkeypatch):
    """A crash must never read as a mismatch (1) to a CI script."""
    import refmlp.oracle

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(refmlp.oracle, "parity", broken)
    code, out, err = run(capsys, "compare")
    assert code == cli.EXIT_INTERNAL == 3
    assert "RuntimeError: simulated bug" in err and "internal error" in err and out == ""


def test_compare_without_torch_is_a_usage_error():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from refmlp.cli import main\n"
        "sys.exit(main(['compare']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "needs torch" in done.stderr and "pip install torch" in done.stderr
