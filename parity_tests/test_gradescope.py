"""Gradescope: `refmlp check --gradescope` and the `refmlp autograder` bundle, run in a simulated
/autograder tree; every results.json validated against the schema written from Gradescope's
autograder specification (gradescope_results.schema.json)."""

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from check_fixtures import CORRECT, FPRIME_MISSING, submission
from refmlp.check import autograder, gradescope
from refmlp.check.gradescope import ScoredTest
from refmlp.cli import main

SCHEMA = json.loads((Path(__file__).with_name("gradescope_results.schema.json")).read_text())


def validate(doc: dict) -> dict:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    return doc


# ---- the schema and the writer ------------------------------------------------------------------
def test_schema_rejects_what_gradescope_does_not_accept():
    good = gradescope.results([ScoredTest("forward", 1, 1, "ok")], output="report")
    validate(good)
    for bad in ({**good, "visibility": "public"},            # not one of the four
                {**good, "score": "7"},                      # a number, not a string
                {"tests": [{"name": "x", "max_score": 1}]},  # no score anywhere
                {**good, "tests": [{**good["tests"][0], "status": "ok"}]},
                {**good, "output_format": "markdown"}):
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def test_scored_test_refuses_a_bad_visibility_or_score():
    with pytest.raises(ValueError, match="'public'.*hidden, after_due_date"):
        ScoredTest("forward", 1, 1, visibility="public")
    with pytest.raises(ValueError, match="score of test 'forward'.*nan"):
        ScoredTest("forward", float("nan"), 1)


def test_results_sum_the_tests_and_say_passed_or_failed():
    doc = validate(gradescope.results(
        [ScoredTest("a", 2, 2), ScoredTest("b", 0.5, 3, visibility="after_due_date")],
        output="whole report", execution_time=3.4, stdout_visibility="hidden"))
    assert doc["score"] == 2.5 and doc["execution_time"] == 3
    assert [t["status"] for t in doc["tests"]] == ["passed", "failed"]
    assert doc["tests"][1]["visibility"] == "after_due_date" and doc["output"] == "whole report"


def test_a_test_of_no_points_that_failed_says_failed():
    assert ScoredTest("loading", 0, 0, passed=False).to_dict()["status"] == "failed"
    assert ScoredTest("note", 0, 0).to_dict()["status"] == "passed"
    assert gradescope.error_results("why")["tests"][0]["status"] == "failed"


def test_error_results_score_zero_with_the_reason(tmp_path):
    path = gradescope.write(tmp_path / "results" / "results.json",
                            gradescope.error_results("no mlp.py", max_score=10))
    doc = validate(json.loads(path.read_text()))
    assert doc["score"] == 0 and "no mlp.py" in doc["output"]
    assert doc["tests"][0]["max_score"] == 10 and doc["tests"][0]["status"] == "failed"


# ---- refmlp check --gradescope ------------------------------------------------------------------
def full_marks(doc) -> float:
    """The tests' maximum, which is the default rubric's total, 100: each test's points are
    rounded to 0.01, so their sum may miss it by 0.005 a test."""
    total = sum(t["max_score"] for t in doc["tests"])
    assert total == pytest.approx(100, abs=0.005 * len(doc["tests"]))
    return total


def check_gradescope(sub, out, capsys, *extra):
    # --seed 0: Gradescope runs draw a seed of their own, and the rows quoted below depend on it
    code = main(["check", str(sub), "--scenario", "disc", "--seed", "0", "--gradescope", str(out),
                 *extra])
    capsys.readouterr()
    return code, validate(json.loads(out.read_text()))


def test_correct_submission_gets_full_marks(tmp_path, capsys):
    code, doc = check_gradescope(submission(tmp_path / "s"), tmp_path / "r.json", capsys)
    assert code == 0
    assert doc["score"] == 100 and full_marks(doc)
    assert {t["status"] for t in doc["tests"]} == {"passed"}
    assert "verdict: PASS" in doc["output"] and doc["extra_data"]["verdict"] == "pass"


def test_buggy_submission_loses_the_checks_it_fails_and_reads_why(tmp_path, capsys):
    code, doc = check_gradescope(submission(tmp_path / "s", replace=[FPRIME_MISSING]),
                                 tmp_path / "r.json", capsys, "--gradescope-visibility",
                                 "after_published")
    assert code == 1
    assert 0 < doc["score"] < 100
    # rounded to 0.01 a test (see full_marks)
    assert sum(t["score"] for t in doc["tests"]) == pytest.approx(doc["score"],
                                                                  abs=0.005 * len(doc["tests"]))
    sgd = next(t for t in doc["tests"] if t["name"] == "disc: sgd_run")
    assert sgd["output"].startswith("consequence of gradients, which is charged there")
    assert 0 < sgd["score"] < sgd["max_score"]
    gradients = next(t for t in doc["tests"] if t["name"] == "disc: gradients")
    assert gradients["status"] == "failed" and "b_derivs_2" in gradients["output"]
    assert "out of tolerance" in gradients["output"]
    assert "what to fix (fprime_missing)" in doc["output"] and doc["visibility"] == "after_published"


def test_unloadable_submission_scores_zero_with_the_reason(tmp_path, capsys):
    sub = tmp_path / "s"
    sub.mkdir()
    (sub / "mlp.py").write_text("class MLP:\n    def broken(self:\n")
    code, doc = check_gradescope(sub, tmp_path / "r.json", capsys)
    assert code == 2 and doc["score"] == 0
    assert "could not be loaded" in doc["output"] and "SyntaxError" in doc["output"]


def test_a_notebook_upload_is_graded_from_its_code_cells(tmp_path, capsys):
    sub = tmp_path / "upload"
    sub.mkdir()
    cells = [CORRECT, "net = MLP(2, None)\nfor epoch in range(10**9):\n    pass\n"]
    (sub / "HW6.ipynb").write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                               "cells": [{"cell_type": "code", "metadata": {},
                                                          "outputs": [], "execution_count": None,
                                                          "source": c} for c in cells]}))
    code, doc = check_gradescope(sub, tmp_path / "r.json", capsys)
    assert code == 0 and doc["score"] == 100  # the experiment cell left out, as a class run does
    assert "HW6.ipynb" in doc["output"]


def test_each_gradescope_run_draws_its_own_seed_and_says_it(tmp_path, capsys):
    sub = submission(tmp_path / "s")
    seeds = set()
    for i in range(2):
        assert main(["check", str(sub), "--scenario", "disc", "--gradescope",
                     str(tmp_path / f"r{i}.json")]) == 0
        text = json.loads((tmp_path / f"r{i}.json").read_text())["output"]
        seeds.add(next(line for line in text.splitlines() if line.startswith("seed ")))
    capsys.readouterr()
    assert len(seeds) == 2  # two draws of 2**32 seeds: equal once in four billion runs


def test_gradescope_takes_one_submission(tmp_path, capsys):
    code = main(["check", str(tmp_path), str(tmp_path), "--gradescope", str(tmp_path / "r.json")])
    assert code == 2 and "one submission" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_results_are_written_when_refmlp_itself_fails(tmp_path, monkeypatch):
    from refmlp.check import find, rubric
    from refmlp.check.grade import Settings

    def crash(*args, **kwargs):
        raise RuntimeError("the sandbox worker failed")

    monkeypatch.setattr("refmlp.check.grade.grade_one", crash)
    with pytest.raises(RuntimeError):
        gradescope.grade(find.Submission("s", tmp_path), tmp_path / "r.json",
                         rubric.load_default(), Settings())
    doc = validate(json.loads((tmp_path / "r.json").read_text()))
    assert doc["score"] == 0 and "the sandbox worker failed" in doc["output"]
    assert doc["tests"][0]["max_score"] == 100  # the rubric's total: Gradescope shows 0 / 100


# ---- the bundle ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert main(["autograder", "--out", str(out), "--scenario", "disc", "--timeout", "20",
                 "--student-timeout", "60", "--helpers", "count"]) == 0
    return out


def autograder_tree(tmp_path, bundle, files: dict) -> Path:
    """ROOT/source (the zip, extracted as Gradescope does), ROOT/submission, ROOT/results."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
        for info in z.infolist():  # extractall drops the mode bits the zip records
            os.chmod(root / "source" / info.filename, (info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    return root


def run_autograder(root: Path, python=sys.executable, **env) -> dict:
    env = {**os.environ, "REFMLP_AUTOGRADER_ROOT": str(root), "REFMLP_AUTOGRADER_PYTHON": python,
           **env}
    proc = subprocess.run([str(root / "source" / "run_autograder")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return validate(json.loads((root / "results" / "results.json").read_text()))


def test_bundle_holds_what_gradescope_needs_at_its_root(bundle):
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        modes = {i.filename: (i.external_attr >> 16) for i in z.infolist()}
        setup = z.read("setup.sh").decode()
        config = json.loads(z.read(autograder.CONFIG))
    assert {"setup.sh", "run_autograder", autograder.CONFIG} <= set(names)
    assert all("/" not in n for n in names)
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    pins = autograder.pins()
    wheel = f"refmlp-{pins['refmlp']}-py3-none-any.whl"
    assert wheel in names
    assert f"torch=={pins['torch']}" in setup and autograder.TORCH_CPU_INDEX in setup
    assert f"numpy=={pins['numpy']}" in setup and f'"$SRC/{wheel}"' in setup
    assert "python3.11 -m venv /autograder/venv" in setup
    assert config["check_args"] == ["--scenario", "disc", "--timeout", "20.0",
                                    "--student-timeout", "60.0", "--helpers", "count"]


def test_bundle_scripts_are_valid_bash(bundle, tmp_path):
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tmp_path)
    for name in ("setup.sh", "run_autograder"):
        proc = subprocess.run(["bash", "-n", str(tmp_path / name)], capture_output=True, text=True)
        assert proc.returncode == 0, (name, proc.stderr)


@pytest.fixture(scope="module")
def installed_wheel(bundle, tmp_path_factory) -> Path:
    """The bundle's wheel installed (pip, no index, no dependencies) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    with zipfile.ZipFile(bundle) as z:
        wheel_name = next(n for n in z.namelist() if n.endswith(".whl"))
        z.extract(wheel_name, tmp)
    target = tmp / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                           "--no-compile", "--disable-pip-version-check", "--target",
                           str(target), str(tmp / wheel_name)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return target


def test_bundled_wheel_carries_the_checker_the_rubric_and_the_snapshots(installed_wheel):
    target = installed_wheel
    assert (target / "refmlp" / "check" / "sandbox" / "worker.py").is_file()
    assert (target / "refmlp" / "check" / "rubric.toml").is_file()
    assert (target / "refmlp" / "snapshots" / "MANIFEST.json").is_file()
    assert (target / "refmlp" / "snapshots" / "disc.npz").is_file()
    assert (target / "bin" / "refmlp").is_file()  # the console script from entry_points.txt


def test_run_autograder_grades_a_correct_submission_with_the_bundled_wheel(tmp_path, bundle, installed_wheel):
    # the interpreter setup.sh would make: this one, with only the wheel's refmlp on its path
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={installed_wheel} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    # uploaded as a folder, under another case: found as a class run finds a student's file
    root = autograder_tree(tmp_path, bundle, {"HW6/MLP.py": submission(tmp_path / "s").joinpath(
        "mlp.py").read_text()})
    doc = run_autograder(root, python=str(python))
    assert doc["score"] == 100 and full_marks(doc) and "verdict: PASS" in doc["output"]
    assert [t["name"] for t in doc["tests"]][0] == "disc: forward"
    # from the tree's root, as run_autograder runs it (not from the repo, which -c would put first)
    where = subprocess.run([str(python), "-c", "import refmlp; print(refmlp.__file__)"],
                           capture_output=True, text=True, check=True, cwd=root).stdout
    assert where.startswith(str(installed_wheel))


def test_run_autograder_grades_a_buggy_submission(tmp_path, bundle):
    sub = submission(tmp_path / "s", replace=[FPRIME_MISSING])
    root = autograder_tree(tmp_path, bundle, {"mlp.py": (sub / "mlp.py").read_text()})
    doc = run_autograder(root)
    assert 0 < doc["score"] < full_marks(doc)
    assert "fprime_missing" in doc["output"]


def test_run_autograder_writes_results_when_refmlp_is_missing(tmp_path, bundle):
    root = autograder_tree(tmp_path, bundle, {"mlp.py": "x = 1\n"})
    doc = run_autograder(root, python=str(tmp_path / "no-python-here"))
    assert doc["score"] == 0 and "exit code 127" in doc["output"]
    assert doc["tests"][0]["max_score"] == 100  # the rubric's total, baked into the script


def test_bundle_with_a_rubric_and_scenarios_scores_by_them(tmp_path, capsys):
    rubric = tmp_path / "hw6.toml"
    rubric.write_text("total = 10\n[points]\ngradients = 6\nforward = 4\n")
    scenarios = tmp_path / "extra.toml"
    scenarios.write_text('[[scenario]]\nname = "wide"\ninput = 2\nlayers = [[8, "leaky_relu", '
                         '"h1"], [1, "logistic", "out"]]\nloss_deriv = "logistic_est_loss_deriv"\n'
                         'data = "disc"\n')
    out = tmp_path / "a.zip"
    assert main(["autograder", "--out", str(out), "--scenario-file", str(scenarios),
                 "--scenario", "wide", "--rubric", str(rubric),
                 "--visibility", "after_due_date"]) == 0
    sub = submission(tmp_path / "s", replace=[FPRIME_MISSING])
    root = autograder_tree(tmp_path, out, {"mlp.py": (sub / "mlp.py").read_text()})
    assert (root / "source" / "rubric.toml").is_file()
    assert (root / "source" / "scenarios.toml").is_file()
    doc = run_autograder(root)
    assert sum(t["max_score"] for t in doc["tests"]) == pytest.approx(10, abs=0.01)
    tests = {t["name"]: t for t in doc["tests"]}
    assert tests["wide: forward"]["score"] > 0 and tests["wide: gradients"]["score"] == 0
    assert all(name.startswith("wide: ") for name in tests)
    assert doc["visibility"] == "after_due_date"
    assert main(["autograder", "--out", str(out), "--rubric", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


def test_run_autograder_replaces_a_results_json_that_is_no_result(tmp_path, bundle):
    # an interpreter whose grading run leaves garbage where results.json goes (a run cut off, or
    # a submission writing there) and which is otherwise this Python
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\nif [ "$1" = "-m" ]; then echo "{{nope" > "$3/results/results.json"; '
                    f'exit 0; fi\nexec {sys.executable} "$@"\n')
    fake.chmod(0o755)
    doc = run_autograder(autograder_tree(tmp_path, bundle, {"mlp.py": "x = 1\n"}), python=str(fake))
    assert doc["score"] == 0 and "not a JSON object with a score" in doc["output"]


def test_run_autograder_past_its_limit_still_writes_results(tmp_path, bundle):
    import time

    root = autograder_tree(tmp_path, bundle, {"mlp.py": "import time\ntime.sleep(60)\n"
                                                        "class MLP:\n    pass\n"})
    t0 = time.monotonic()
    doc = run_autograder(root, REFMLP_AUTOGRADER_LIMIT="4")
    # 4 s, then refmlp stops its sandbox and writes results: well within the 10 s SIGKILL margin
    assert time.monotonic() - t0 < 12
    assert doc["score"] == 0 and "stopped before it finished" in doc["output"]


def test_run_autograder_on_an_empty_submission_says_so(tmp_path, bundle):
    doc = run_autograder(autograder_tree(tmp_path, bundle, {}))
    assert doc["score"] == 0 and "submission is empty" in doc["output"]


def test_bundle_options_are_checked_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "a.zip"
    assert main(["autograder", "--out", str(out), "--scenario", "nope"]) == 2
    assert "'nope' is not a scenario" in capsys.readouterr().err and not out.exists()
    assert main(["autograder", "--out", str(tmp_path / "missing" / "a.zip")]) == 2
    assert "does not exist" in capsys.readouterr().err
