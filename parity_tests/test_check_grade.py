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
    """A class folder: one right, one buggy, one without a class, and a folder without a
    submission (listed as an error, never skipped)."""
    parent = tmp_path / "class"
    submission(parent / "bob", replace=[FPRIME_MISSING])
    submission(parent / "alice")
    (parent / "carol").mkdir()
    (parent / "carol" / "mlp.py").write_text("class Network:\n    pass\n")
    (parent / "notes").mkdir()
    (parent / "notes" / "readme.txt").write_text("not a submission")
    return parent


def test_each_grades_every_subfolder_with_the_worst_exit_code(klass, capsys):
    code, out, _ = run(["--each", str(klass), "--scenario", "disc", "--timeout", "5",
                        "--jobs", "1", "--seed", "0"], capsys)
    assert code == 2, out  # carol's is an error, and it did not stop the others
    lines = out.splitlines()
    rows = [ln for ln in lines[1:] if ln and not ln.startswith(" ")]
    assert [r.split()[0] for r in rows[:4]] == ["alice", "bob", "carol", "notes"]  # sorted
    assert rows[0].split()[1] == "PASS" and rows[0].split()[2] == "100/100"
    assert rows[1].split()[1] == "FAIL" and "layer 2 b_derivs" in rows[1]
    assert "fprime_missing" in rows[1]
    carol = lines.index(rows[2])
    assert rows[2].split()[1] == "ERROR" and "defines no class MLP" in lines[carol + 1]
    notes = lines.index(rows[3])
    assert rows[3].split()[1] == "ERROR" and "no submission found" in lines[notes + 1]
    assert "4 students: 1 pass, 1 fail, 2 error" in out


def test_several_paths_and_json(klass, capsys):
    code, out, _ = run([str(klass / "alice"), str(klass / "bob"), "--scenario", "disc",
                        "--timeout", "5", "--json", "--jobs", "1"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert [r["verdict"] for r in doc["reports"]] == ["pass", "fail"]
    assert [r["student"] for r in doc["reports"]] == ["alice", "bob"]
    assert doc["reports"][1]["diagnosis"]["key"] == "fprime_missing"
    assert all(r["seconds"] > 0 for r in doc["reports"])
    # grading draws one secret seed for the whole run, and says it
    seed = doc["reports"][0]["seed"]
    assert isinstance(seed, int) and doc["reports"][1]["seed"] == seed
    assert doc["reports"][0]["score"] == doc["reports"][0]["max_score"] == 100
    assert doc["summary"] == {"students": 2, "pass": 1, "fail": 1, "error": 0, "unchanged": 0,
                              "seconds": doc["summary"]["seconds"], "seed": seed}


def test_each_on_a_folder_without_subfolders_is_a_usage_error(tmp_path, capsys):
    code, _, err = run(["--each", str(tmp_path)], capsys)
    assert code == 2 and "no subfolders (expected one subfolder per student)" in err


def test_an_internal_failure_on_one_submission_does_not_stop_the_others(klass, monkeypatch):
    from refmlp.check import find, submission
    from refmlp.check.grade import Settings, class_exit, grade_class
    from refmlp.check.rubric import load_default
    from refmlp.check.scenarios import select

    real = submission.check_submission

    def flaky(path, **kw):
        if path.parent.name == "alice":
            raise RuntimeError("boom")
        return real(path, **kw)

    monkeypatch.setattr(submission, "check_submission", flaky)
    subs = [find.locate_submission(klass / n) for n in ("alice", "bob")]
    done = grade_class(subs, load_default(), Settings(scenarios=tuple(select(["disc"], [])),
                                                      timeout=5))
    assert [g.verdict for g in done.results] == ["error", "fail"]
    assert "boom" in done.results[0].message
    assert class_exit(done.results) == 2


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
