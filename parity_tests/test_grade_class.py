"""Grading a class: finding each student's submission (names, depth, notebooks, adapters), the
rubric and the gradebook, resuming from --out, a real SIGINT, --jobs 2 against --jobs 1, and the
limit on one student's time. Classes are small and use one scenario, to keep the suite fast."""

import csv
import io
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from check_fixtures import CORRECT, FPRIME_MISSING, submission
from refmlp.check import find, rubric as rubrics
from refmlp.check.batch import CSV_COLUMNS, ProgressBar
from refmlp.cli import main

CATALOGUE = Path(__file__).parent / "submissions"
ROOT = Path(__file__).resolve().parents[1]
# a fixed seed: a class run draws a secret one by default, and what a bug shows first (which
# layer) may depend on the samples
DISC = ["--scenario", "disc", "--timeout", "5", "--seed", "0"]


def run(argv, capsys):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(text: str) -> dict:
    """{student: their line} from the lines of a class run (the header and reasons left out)."""
    body = text.split("\n\n")[0].splitlines()[1:]
    return {ln.split()[0]: ln for ln in body if ln and not ln.startswith(" ")}


def nb(*cells) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": c.splitlines(keepends=True)} for c in cells]
        + [{"cell_type": "markdown", "metadata": {}, "source": ["class MLP: not code"]}]})


# ---- finding submissions ------------------------------------------------------------------------
@pytest.mark.parametrize("layout, expected", [
    ({"mlp.py": CORRECT}, "mlp.py"),
    ({"MLP.py": CORRECT, "layers.py": "", "test_mlp.py": CORRECT}, "MLP.py"),
    ({"HW6/final/Mlp.py": CORRECT, "HW6/losses.py": ""}, "HW6/final/Mlp.py"),
    ({"NeuralNet.py": "class NeuralNet:\n    pass\n"}, "NeuralNet.py"),
    ({"hw6_solution.py": CORRECT, "helpers.py": "def f():\n    pass\n",
      "adapter.py": "class MLP:\n    pass\n", "mlp_test.py": CORRECT}, "hw6_solution.py"),
    ({"src/HW6.ipynb": nb(CORRECT), "notes.py": "x = 1\n"}, "src/HW6.ipynb"),
    ({"mlp.py": CORRECT, "old/backup.py": CORRECT}, "mlp.py"),  # a named file wins over a class
])
def test_the_submission_is_found_under_any_name_and_depth(tmp_path, layout, expected):
    for rel, text in layout.items():
        (tmp_path / "s" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "s" / rel).write_text(text)
    sub = find.locate_submission(tmp_path / "s")
    assert sub.problem is None and sub.file == tmp_path / "s" / expected
    assert sub.name == "s"


@pytest.mark.parametrize("layout, needle", [
    ({"mlp.py": CORRECT, "HW6/mlp.py": CORRECT}, "2 files named mlp.py: HW6/mlp.py, mlp.py"),
    ({"a.py": CORRECT, "b.py": CORRECT}, "2 Python files defining class MLP or NeuralNet: a.py, b.py"),
    ({"notes.txt": "", "util.py": "x = 1\n"}, "(searched 2 files: notes.txt, util.py, 6 folders"),
    ({"notes.txt": ""}, "no submission found: no mlp.py or neuralnet.py, and no .py file or "
                        "notebook defining class MLP or NeuralNet (searched 1 file: notes.txt,"),
    ({}, "(searched no files, 6 folders deep)"),
    ({"layers.py": "class MLP:\n    pass\n"}, "no submission found"),  # a helper is never it
    ({"mlp.py": CORRECT, "adapter.py": "", "x/adapter.py": ""}, "several adapter.py files"),
])
def test_none_or_several_candidates_say_why(tmp_path, layout, needle):
    (tmp_path / "s").mkdir()
    for rel, text in layout.items():
        (tmp_path / "s" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "s" / rel).write_text(text)
    sub = find.locate_submission(tmp_path / "s")
    assert sub.file is None and needle in sub.problem


@pytest.mark.parametrize("layout, hint", [
    ({"HW6/final/MLP.py": CORRECT}, "HW6/final/MLP.py inside it looks like the submission: give that path"),
    ({"HW6.ipynb": nb(CORRECT)}, "the notebook HW6.ipynb inside it is checked by a class run"),
])
def test_one_submission_elsewhere_in_the_folder_is_pointed_at(tmp_path, capsys, layout, hint):
    for rel, text in layout.items():
        (tmp_path / "s" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "s" / rel).write_text(text)
    code, out, _ = run([str(tmp_path / "s")], capsys)
    assert code == 2 and "holds neither mlp.py" in out and hint in " ".join(out.split())


def test_symbolic_links_inside_a_students_folder_are_not_followed(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "mlp.py").write_text(CORRECT)
    (tmp_path / "class" / "s").mkdir(parents=True)
    (tmp_path / "class" / "s" / "link").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "class" / "s" / "mlp.py").symlink_to(tmp_path / "elsewhere" / "mlp.py")
    assert "no submission found" in find.locate_submission(tmp_path / "class" / "s").problem
    (tmp_path / "class" / "t").symlink_to(tmp_path / "elsewhere")  # the instructor's own link
    found = find.find_class(tmp_path / "class")
    assert [(s.name, s.file and s.file.name) for s in found] == [("s", None), ("t", "mlp.py")]


def test_a_notebook_becomes_a_module_without_its_experiments(tmp_path):
    path = tmp_path / "HW6 final (1).ipynb"
    path.write_text(nb(
        "%matplotlib inline\nimport numpy as np\nimport matplotlib.pyplot as plt\n!pip install x\n",
        "%%writefile layers.py\ndef logistic(u):\n    return u\n",
        "SLOPE = 0.01\nact = {'s': SLOPE}\n" + CORRECT,
        "def train(net, X):\n    for x in X:\n        %time net.forward(x)\n",
        "net = MLP(2, None)\nX = np.load('data.npy')\nlosses = train(net, X)\n"
        "for epoch in range(10**9):\n    pass\nplt.plot(losses)\nprint('done')\n",
        "%%bash\nrm -rf /\n",
        "def broken(:\n",
    ))
    source, written = find.notebook_to_module(path)
    assert find.module_name(path) == "HW6_final__1_"
    assert written == {"layers.py": "def logistic(u):\n    return u\n"}
    namespace = {}
    assert "def broken(:" in source  # the cell that does not parse is kept as it is
    code = source.replace("def broken(:\n", "")
    for helper in ("from layers import *", "from losses import *"):  # not beside this test
        code = code.replace(helper, "")
    exec(compile(code, "nb", "exec"), namespace)  # noqa: S102 - our own notebook's text
    assert {"MLP", "train", "SLOPE", "act", "np"} <= set(namespace)
    assert "net" not in namespace and "losses" not in namespace and "plt" not in namespace
    for left_out in ("# left out: net = MLP(2, None)", "# left out: for epoch in range(10**9):",
                     "# left out: plt.plot(losses)", "# left out: X = np.load('data.npy')"):
        assert left_out in source
    assert "rm -rf" not in source and "pip install" not in source
    assert "pass  # (an IPython line, dropped)" in source  # inside train: the block still parses


def test_a_notebook_student_is_checked(tmp_path, capsys):
    (tmp_path / "c" / "nina").mkdir(parents=True)
    (tmp_path / "c" / "nina" / "HW6.ipynb").write_text(nb(
        "%load_ext autoreload\n" + CORRECT, "net = MLP(2, None)\nwhile True:\n    pass\n"))
    code, out, _ = run(["--each", str(tmp_path / "c"), *DISC, "--jobs", "1"], capsys)
    assert code == 0, out
    assert rows(out)["nina"].split()[:3] == ["nina", "PASS", "100/100"]


# ---- adapters -----------------------------------------------------------------------------------
def test_a_students_adapter_is_theirs_and_a_global_one_must_be_asked_for(tmp_path, capsys):
    klass = tmp_path / "c"
    shutil.copytree(CATALOGUE / "correct" / "augmented_bias", klass / "ada")
    submission(klass / "bob")
    code, out, _ = run(["--each", str(klass), *DISC, "--jobs", "1"], capsys)
    assert code == 0, out  # ada's adapter.py reads her [W | b] matrices; bob needs none

    code, out, err = run(["--each", str(klass), "--adapter",
                          str(klass / "ada" / "adapter.py"), *DISC], capsys)
    assert code == 2 and not out and "Add --adapter-for-all" in err

    (klass / "ada" / "adapter.py").rename(tmp_path / "adapter.py")
    code, out, _ = run(["--each", str(klass), "--adapter", str(tmp_path / "adapter.py"),
                        "--adapter-for-all", *DISC, "--jobs", "1"], capsys)
    got = rows(out)
    assert got["ada"].split()[1] == "PASS"
    # the class's adapter wraps bob's code too, and reads matrices he does not have
    assert got["bob"].split()[1] == "FAIL" and "exception" in got["bob"]


# ---- points -------------------------------------------------------------------------------------
def report(verdicts: dict, scenario="disc") -> dict:
    return {"verdict": "fail", "checks": [{"name": k, "scenario": scenario, "verdict": v}
                                          for k, v in verdicts.items()]}


ALL_PASS = {k: "pass" for k in rubrics.DEPENDS}


def test_the_default_rubric_scores_a_right_submission_full_marks():
    r = rubrics.load_default()
    assert rubrics.score(report(ALL_PASS), r).score == 100
    assert sum(r.points.values()) == 22  # the default rubric's points per scenario


def test_consequences_of_the_first_failure_lose_a_share_of_their_points_once(tmp_path):
    # gradients fails, and with it everything that reads gradients; forward passes
    verdicts = {**ALL_PASS, **{k: "fail" for k in rubrics.DEPENDS if k != "forward"}}
    default = rubrics.score(report(verdicts), rubrics.load_default())
    # forward 4 + five consequences of 2 points at half = 9 of 22
    assert default.score == pytest.approx(100 * 9 / 22, abs=0.01)
    charged = {it["check"]: it["charged"] for it in default.items}
    assert charged["gradients"] == "fail" and charged["sgd_run"] == "consequence of gradients"

    path = tmp_path / "r.toml"
    path.write_text("total = 0\nconsequence_weight = 0\n[points]\nforward = 1\n")
    ecf = rubrics.score(report(verdicts), rubrics.load(path))
    assert (ecf.score, ecf.max_score) == (1 + 10, 19)  # raw points; only gradients' 8 are lost

    # an independent failure (step fails while gradients pass) is charged in full
    alone = rubrics.score(report({**ALL_PASS, "step": "fail", "sgd_run": "fail"}),
                          rubrics.load(path))
    assert alone.score == 19 - 2  # step's points; sgd_run, after step, is its consequence
    assert {it["check"]: it["charged"] for it in alone.items}["sgd_run"] == "consequence of step"


def test_a_check_that_stopped_is_charged_in_full_whatever_failed_before_it():
    stopped = {"verdict": "fail", "details": {"first_divergence": {"layer": None,
                                                                   "quantity": "timeout"}}}
    doc = report({k: "fail" for k in rubrics.DEPENDS})
    for c in doc["checks"]:
        c.update(stopped)
    assert rubrics.score(doc, rubrics.load_default()).score == 0  # an endless loop everywhere
    assert not rubrics.ran({"verdict": "error"}) and rubrics.ran({"verdict": "fail"})


def test_scenario_weights_and_an_unloadable_submission():
    r = rubrics.parse({"total": 0, "scenarios": {"square": 0, "digits": 2}})
    two = report(ALL_PASS, "digits")["checks"] + report(ALL_PASS, "square")["checks"]
    s = rubrics.score({"checks": two}, r)
    assert (s.score, s.max_score) == (44, 44)
    empty = rubrics.score({"verdict": "error", "checks": []}, r, ["disc", "digits"])
    assert (empty.score, empty.max_score) == (0, 66)


@pytest.mark.parametrize("text, needle", [
    ("point = 3\n", "unknown key(s) point; expected consequence_weight, helpers, points"),
    ("points = 3\n", "[points] must be a table of check kinds; got 3"),
    ("[points]\nbackward = 2\n", "'backward' is not a check kind"),
    ("[points]\nforward = -1\n", "[points] forward must be a number >= 0; got -1"),
    ("consequence_weight = 2\n", "consequence_weight must be between 0 and 1; got 2"),
    ("total = 'all'\n", "total must be a number >= 0; got 'all'"),
    ("[scenarios]\ndisc = true\n", "[scenarios] disc must be a number >= 0; got True"),
    ("total = \n", "is not valid TOML"),
])
def test_a_rubric_that_cannot_be_used_says_the_key_and_value(tmp_path, capsys, text, needle):
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(rubrics.RubricError) as exc:
        rubrics.load(path)
    assert needle in str(exc.value)
    code, out, err = run(["--each", str(tmp_path), "--rubric", str(path)], capsys)
    assert code == 2 and needle in err and not out


# ---- the gradebook, resume, jobs ----------------------------------------------------------------
@pytest.fixture
def klass(tmp_path):
    parent = tmp_path / "class"
    submission(parent / "alice")
    submission(parent / "bob", replace=[FPRIME_MISSING])
    (parent / "carol").mkdir()
    (parent / "carol" / "readme.md").write_text("forgot to upload")
    return parent


def test_csv_gradebook_and_the_out_folder(klass, tmp_path, capsys):
    out, grades = tmp_path / "out", tmp_path / "grades.csv"
    code, text, _ = run(["--each", str(klass), *DISC, "--jobs", "1", "--out", str(out),
                         "--csv", str(grades)], capsys)
    assert code == 2
    rows = list(csv.DictReader(io.StringIO(grades.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["student"] for r in rows] == ["alice", "bob", "carol"]
    assert [r["verdict"] for r in rows] == ["pass", "fail", "error"]
    assert rows[0]["score"] == rows[0]["max_score"] == "100" and rows[0]["first_divergence"] == ""
    assert rows[1]["first_divergence"] == "layer 2 b_derivs (disc)"
    assert rows[1]["diagnosis"] == "fprime_missing" and 0 < float(rows[1]["score"]) < 100
    assert rows[2]["score"] == "0" and float(rows[0]["seconds"]) > 0
    bob = json.loads((out / "bob" / "report.json").read_text())
    assert bob["report"]["diagnosis"]["key"] == "fprime_missing" and bob["digest"]
    assert "what to fix (fprime_missing)" in (out / "bob" / "report.txt").read_text()
    assert f"score: {rows[1]['score']} / 100" in (out / "bob" / "report.txt").read_text()
    assert json.loads((out / "summary.json").read_text())["summary"]["students"] == 3
    assert not list(out.rglob("*.tmp"))
    code, text, _ = run(["--each", str(klass), *DISC, "--csv", "-", "--jobs", "1"], capsys)
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS) and len(text.splitlines()) == 4
    code, text, err = run(["--each", str(klass), *DISC, "--csv", "-", "--json"], capsys)
    assert code == 2 and not text and "would both write stdout" in err


def test_the_gradebooks_place_is_checked_before_grading(klass, tmp_path, capsys):
    nested = tmp_path / "term" / "hw6" / "grades.csv"  # its folders are made, as --out's are
    code, text, _ = run(["--each", str(klass), *DISC, "--jobs", "1", "--csv", str(nested)],
                        capsys)
    assert code == 2 and nested.read_text().startswith(",".join(CSV_COLUMNS))
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    for where, needle in [(tmp_path, "a folder; expected the gradebook's file name"),
                          (blocked / "grades.csv", "cannot create its folder")]:
        code, text, err = run(["--each", str(klass), *DISC, "--csv", str(where)], capsys)
        assert code == 2 and f"--csv {where}: {needle}" in err and not text  # nobody graded


def test_resume_skips_unchanged_students_and_redoes_changed_ones(klass, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--each", str(klass), *DISC, "--jobs", "1", "--out", str(out)]
    run(args, capsys)
    first = json.loads((out / "alice" / "report.json").read_text())
    submission(klass / "bob")  # bob fixes his bug
    code, text, _ = run(args, capsys)
    assert code == 2  # carol's error stays
    got = rows(text)
    assert got["alice"].endswith("(unchanged)") and got["carol"].endswith("(unchanged)")
    assert "PASS" in got["bob"] and not got["bob"].endswith("(unchanged)")
    assert json.loads((out / "alice" / "report.json").read_text()) == first
    assert "(2 unchanged since the last run)" in text

    code, text, _ = run([*args, "--scenario", "square"], capsys)  # other settings: all again
    assert "unchanged" not in text
    code, text, _ = run([*args, "--scenario", "square", "--no-resume"], capsys)
    assert "unchanged" not in text


def test_jobs_2_gives_the_verdicts_of_jobs_1(klass, capsys):
    docs = []
    for jobs in ("1", "2"):
        code, text, _ = run(["--each", str(klass), *DISC, "--jobs", jobs, "--json"], capsys)
        docs.append([(r["student"], r["verdict"], r["score"], r["first_divergence"],
                      (r["diagnosis"] or {}).get("key")) for r in json.loads(text)["reports"]])
    assert docs[0] == docs[1]
    assert [d[1] for d in docs[0]] == ["pass", "fail", "error"]


def test_one_students_time_is_capped(tmp_path):
    from refmlp.check.grade import Settings, grade_one
    from refmlp.check.scenarios import select

    shutil.copytree(CATALOGUE / "buggy" / "timeout_infinite_loop", tmp_path / "loop")
    settings = Settings(scenarios=tuple(select(["disc", "digits"], [])), timeout=5,
                        student_timeout=2)
    t0 = time.monotonic()
    g = grade_one(find.locate_submission(tmp_path / "loop"), rubrics.load_default(), settings)
    assert time.monotonic() - t0 < 5  # 2 s, plus starting the sandbox and judging
    assert g.verdict == "fail" and g.report["first_divergence"]["quantity"] == "timeout"
    assert g.score == 0
    digits = [c for c in g.report["checks"] if c["scenario"] == "digits"]
    assert digits and all(c["verdict"] == "fail" for c in digits)  # never run: still charged
    assert "time limit" in g.text


@pytest.mark.parametrize("value", ["0.5", "inf", "nan"])
def test_student_timeout_below_a_second_or_infinite_is_a_usage_error(tmp_path, capsys, value):
    code, out, err = run([str(submission(tmp_path)), "--student-timeout", value], capsys)
    assert code == 2 and "--student-timeout must be a number of seconds" in err and not out


def test_progress_bar_counts_and_estimates_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, lines = Tty(), []
    bar = ProgressBar(4, stream=tty)
    bar.t0 -= 2.0  # two seconds in
    bar.advance("hank  ERROR", lines.append, timed=False)  # no submission: says nothing of time
    assert tty.getvalue().endswith("] 1/4 students, 0:02\033[K")  # no ETA yet, the time runs
    bar.advance("alice  PASS", lines.append)
    assert lines == ["hank  ERROR", "alice  PASS"]
    assert "[###############...............] 2/4 students, 0:02, ETA 0:04" in tty.getvalue()
    bar.wipe()
    assert tty.getvalue().endswith("\r\033[K")
    piped = io.StringIO()
    ProgressBar(4, stream=piped).advance("x", lines.append)
    assert piped.getvalue() == ""


def test_the_progress_bar_counts_the_time_down_while_no_student_finishes():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    bar = ProgressBar(3, stream=tty, tick=0.05)
    bar.t0 -= 4.0
    bar.advance("alice  PASS", lambda line: None)  # 4 s for one: 8 s left for the other two
    bar.t0, bar.end = bar.t0 - 3.0, bar.end - 3.0  # 3 s later; an endless loop holds the count
    bar.start()
    time.sleep(0.3)  # a few ticks
    bar.close()
    drawn = tty.getvalue()
    assert "1/3 students, 0:07, ETA 0:05" in drawn and drawn.endswith("\r\033[K")


# ---- a real interrupt ---------------------------------------------------------------------------
def descendants(pid: int) -> set:
    """Every live descendant of ``pid``, by the sandbox's own /proc walk."""
    from refmlp.check.sandbox.processes import children_of

    return children_of([pid])


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[0] != b"Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig, jobs, code, resume", [(signal.SIGINT, "2", 130, True),
                                                     (signal.SIGTERM, "1", 143, False),
                                                     (signal.SIGKILL, "2", -9, True)],
                         ids=["sigint-jobs-2-then-resumed", "sigterm-jobs-1",
                              "sigkill-jobs-2-then-resumed"])
def test_an_interrupted_run_keeps_what_finished_and_resumes(tmp_path, sig, jobs, code, resume):
    klass, out = tmp_path / "class", tmp_path / "out"
    submission(klass / "alice")
    submission(klass / "bob", replace=[FPRIME_MISSING])
    shutil.copytree(CATALOGUE / "buggy" / "timeout_infinite_loop", klass / "zed")
    cmd = [sys.executable, "-m", "refmlp", "check", "--each", str(klass), "--scenario", "disc",
           "--timeout", "2", "--student-timeout", "5", "--jobs", jobs, "--out", str(out)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=ROOT) as proc:
        try:
            deadline = time.monotonic() + 60
            while not all((out / n / "report.json").exists() for n in ("alice", "bob")):
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.05)
            time.sleep(0.5)  # zed's endless loop runs in the sandbox now, for 5 s
            family = descendants(proc.pid)
            assert family  # the pool's workers, the sandbox and its check
            proc.send_signal(sig)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:  # a failed assertion above: no run outlives the test
                proc.terminate()
                proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    if sig != signal.SIGKILL:  # which runs no handler: no summary, but the reports are whole
        assert f"interrupted (signal {int(sig)}): 1 students not graded" in stdout
    end = time.monotonic() + 3  # a killed process may still be exiting (its memory let go)
    while [p for p in family if alive(p)] and time.monotonic() < end:
        time.sleep(0.05)
    left = {p: Path(f"/proc/{p}/stat").read_text()[:120] for p in family if alive(p)}
    assert not left  # no orphan: workers, sandboxes, checks
    assert not (out / "zed").exists()
    if sig != signal.SIGKILL:
        summary = json.loads((out / "summary.json").read_text())["summary"]
        assert (summary["students"], summary["interrupted_by"]) == (2, int(sig))

    if not resume:
        return
    again = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 1, again.stderr  # bob's and zed's fail
    got = rows(again.stdout)
    assert got["alice"].endswith("(unchanged)") and got["bob"].endswith("(unchanged)")
    assert "FAIL" in got["zed"] and "timeout" in got["zed"]


def test_the_benchmark_class_is_a_whole_class_with_a_loop_and_a_flood(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("grade_benchmark",
                                                  ROOT / "scripts" / "grade_benchmark.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    names = bench.build_class(tmp_path)
    assert len(names) >= 48
    assert {"buggy_timeout_infinite_loop", "buggy_output_flood", "correct_as_notebook"} <= set(names)
    found = find.find_class(tmp_path)
    assert [s.name for s in found] == sorted(names)
    assert not [s.name for s in found if s.problem]  # every one is found, nested, renamed or not
    assert {s.file.name for s in found} >= {"mlp.py", "MLP.py", "neuralnet.py", "HW6.ipynb"}
    assert any(s.file.parent.name == "HW6" for s in found)


def test_the_class_seed_is_kept_with_out_so_a_rerun_resumes(klass, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--each", str(klass), "--scenario", "disc", "--timeout", "5", "--jobs", "1",
            "--out", str(out), "--json"]
    first = json.loads(run(args, capsys)[1])["summary"]
    assert int((out / "seed").read_text()) == first["seed"]
    again = json.loads(run(args, capsys)[1])["summary"]
    assert again["seed"] == first["seed"] and again["unchanged"] == 3
    fresh = json.loads(run([*args, "--no-resume"], capsys)[1])["summary"]
    assert fresh["unchanged"] == 0 and int((out / "seed").read_text()) == fresh["seed"]


def test_the_progress_bar_stays_out_of_json_and_csv_output(klass, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # as on a terminal
    code, out, err = run(["--each", str(klass), *DISC, "--jobs", "1"], capsys)
    assert "grading [" in err and "3/3 students" in err and "grading [" not in out
    for extra in (["--json"], ["--csv", "-"]):
        code, out, err = run(["--each", str(klass), *DISC, "--jobs", "1", *extra], capsys)
        assert "grading [" not in err + out


def test_a_worker_stopped_while_importing_exits_quietly():
    """Ctrl-C early in a run stops workers that are still importing torch: they exit with
    128 + SIGTERM instead of raising into the executor, which prints the exception's traceback."""
    script = (
        "import os, signal, sys, time\n"
        "from refmlp.check import grade\n"
        "grade._import_judge = lambda: (os.kill(os.getpid(), signal.SIGTERM), time.sleep(10))\n"
        "try:\n"
        "    grade._start_worker()\n"
        "except BaseException as exc:\n"
        "    print('raised', repr(exc))\n"
        "    sys.exit(99)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (143, "", "")
