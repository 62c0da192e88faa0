"""Grading a class with refmlp check (--each, several paths), the --timeout rule, what the scratch
copy of a submission holds, and errors said once."""

import json

import pytest

from check_fixtures import FPRIME_MISSING, submission
from refmlp.cli import main


def run(argv, capsys):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def klass(tmp_path):
    """A class folder: one right, one buggy, one without a class, and a folder that is no
    submission (skipped)."""
    parent = tmp_path / "class"
    submission(parent / "bob", replace=[FPRIME_MISSING])
    submission(parent / "alice")
    (parent / "carol").mkdir()
    (parent / "carol" / "mlp.py").write_text("class Network:\n    pass\n")
    (parent / "notes").mkdir()
    (parent / "notes" / "readme.txt").write_text("not a submission")
    return parent


def test_each_grades_every_subfolder_with_the_worst_exit_code(klass, capsys):
    code, out, _ = run(["--each", str(klass), "--scenario", "disc", "--timeout", "5"], capsys)
    assert code == 2, out  # carol's is an error, and it did not stop the others
    lines = out.splitlines()
    names = [ln.split()[0] for ln in lines[1:4]]
    assert names == ["alice", "bob", "carol"]  # sorted; "notes" holds no submission
    assert lines[1].split()[1] == "PASS"
    assert lines[2].split()[1] == "FAIL" and "layer 2 b_derivs" in lines[2]
    assert "fprime_missing" in lines[2]
    assert lines[3].split()[1] == "ERROR" and "defines no class MLP" in lines[4]
    assert "3 submissions: 1 pass, 1 fail, 1 error" in out


def test_several_paths_and_json(klass, capsys):
    code, out, _ = run([str(klass / "alice"), str(klass / "bob"), "--scenario", "disc",
                        "--timeout", "5", "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert [r["verdict"] for r in doc["reports"]] == ["pass", "fail"]
    assert doc["reports"][1]["diagnosis"]["key"] == "fprime_missing"
    assert all(r["seconds"] > 0 for r in doc["reports"])
    # grading draws one secret seed for the whole run, and says it
    seed = doc["reports"][0]["seed"]
    assert isinstance(seed, int) and doc["reports"][1]["seed"] == seed
    assert doc["summary"] == {"submissions": 2, "pass": 1, "fail": 1, "error": 0,
                              "seconds": doc["summary"]["seconds"], "seed": seed}


def test_each_on_a_folder_without_submissions_is_a_usage_error(tmp_path, capsys):
    code, _, err = run(["--each", str(tmp_path)], capsys)
    assert code == 2 and "no subfolder holds mlp.py" in err


def test_an_internal_failure_on_one_submission_does_not_stop_the_others(klass, monkeypatch):
    from refmlp.check import batch

    real = batch.check_submission

    def flaky(path, **kw):
        if path.name == "alice":
            raise RuntimeError("boom")
        return real(path, **kw)

    monkeypatch.setattr(batch, "check_submission", flaky)
    results = batch.check_each([klass / "alice", klass / "bob"], scenarios=["disc"], timeout=5)
    assert [r.verdict for r, _ in results] == ["error", "fail"]
    assert "boom" in results[0][0].message
    assert batch.batch_exit([r for r, _ in results]) == 2


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1", "0.1", "1e-9"])
def test_timeout_that_cannot_be_a_limit_is_a_usage_error(tmp_path, capsys, value):
    code, out, err = run([str(submission(tmp_path)), "--timeout", value, "--scenario", "disc"],
                         capsys)
    assert code == 2 and not out
    assert "--timeout must be a positive number of seconds, finite and at least 0.5" in err
    assert f"got {float(value)}" in err


def test_the_scratch_copy_holds_only_the_submissions_python_files(tmp_path, capsys):
    from refmlp.check.runner import submission_files

    sub = submission(tmp_path / "s", replace=[("from layers import *\n",
                                               "from layers import *\nfrom util.deep import K\n")])
    (sub / "util").mkdir()
    (sub / "util" / "__init__.py").write_text("")
    (sub / "util" / "deep.py").write_text("K = 1\n")
    for junk in (".venv/lib/site.py", ".git/hook.py", "__pycache__/mlp.py", "venv/lib/x.py"):
        (sub / junk).parent.mkdir(parents=True, exist_ok=True)
        (sub / junk).write_text("raise SystemExit('copied')\n")
    (sub / "data.bin").write_bytes(b"\0" * 2**20)
    assert sorted(submission_files(sub)) == sorted(
        ["mlp.py", "util/__init__.py", "util/deep.py"]
        + [f for f in ("layers.py", "losses.py") if (sub / f).exists()])
    code, out, _ = run([str(sub), "--scenario", "disc", "--timeout", "5"], capsys)
    assert code == 0, out  # the package it imports was copied


def test_too_much_source_is_an_error_saying_the_cap(tmp_path, capsys):
    sub = submission(tmp_path / "s")
    (sub / "big.py").write_text("#" * (6 * 2**20))
    code, out, _ = run([str(sub), "--scenario", "disc"], capsys)
    assert code == 2 and "over the 5 MiB the checker copies" in out


@pytest.mark.parametrize("make", ["missing", "no_class"])
def test_an_error_is_said_once(tmp_path, capsys, make):
    path = tmp_path / "missing.py"
    if make == "no_class":
        path = tmp_path / "mlp.py"
        path.write_text("class Network:\n    pass\n")
    code, out, err = run([str(path)], capsys)
    needle = "does not exist" if make == "missing" else "defines no class MLP"
    assert code == 2 and (out + err).count(needle) == 1
