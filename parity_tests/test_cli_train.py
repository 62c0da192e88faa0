"""`refmlp train`: the table, the JSON, the picture, usage errors, and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import refmlp.trajectory as trajectory
from refmlp import cli
from refmlp.commands.train import Progress

FAST = ["--layers", "8", "--epochs", "3", "--batch", "50"]


def run(capsys, *argv):
    code = cli.main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_has_each_implementation_and_the_verdict(capsys):
    code, out, err = run(capsys, *FAST, "--optimizer", "adam", "--lr", "0.01")
    assert code == cli.EXIT_PASS, out + err
    assert "\nrefmlp " in out and "\ntorch " in out and "verdict: PASS" in out
    assert "adam (lr 0.01), 3 epochs of 4 batches of 50 (12 steps), reduction mean, batched backward" in out
    assert err == ""  # no progress bar when stderr is not a terminal


@pytest.mark.parametrize(
    "argv,metric",
    [
        (["--dataset", "digits", "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--lr", "0.05",
          "--activation", "tanh", "--compare", "torch,sklearn", "--epochs", "1"], "accuracy"),
        (["--dataset", "diabetes", "--optimizer", "adamw", "--amsgrad", "--weight-decay", "0.1",
          "--dtype", "float32"], "r2"),
    ],
    ids=["digits-nesterov-three-way", "diabetes-adamw-float32"],
)
def test_json_has_documented_keys(capsys, argv, metric):
    code, out, err = run(capsys, *FAST, *argv, "--json")
    result = json.loads(out)
    assert code == cli.EXIT_PASS and result["verdict"] == "pass", result
    assert {"verdict", "meta", "tolerance", "implementations", "unavailable", "diverged_at_step",
            "epochs", "plot"} <= set(result)
    assert result["diverged_at_step"] is None
    assert result["meta"]["metric"] == metric and result["meta"]["steps"] > 0
    torch_row = result["implementations"]["torch"]
    assert torch_row["first_exceeding_step"] is None and torch_row["judged"] is True
    assert 0 < torch_row["max_deviation"] <= result["tolerance"]["rtol"]
    assert len(result["epochs"]) == result["meta"]["epochs"] + 1 and metric in result["epochs"][-1]["refmlp"]
    assert err == ""


def test_sklearn_unavailable_is_said_not_failed(capsys):
    code, out, _ = run(capsys, *FAST, "--compare", "torch,sklearn")  # leaky_relu: not in sklearn
    assert code == cli.EXIT_PASS
    assert "sklearn        unavailable: scikit-learn's MLP has no leaky_relu hidden activation" in out


def test_sklearn_adam_is_reported_not_judged(capsys):
    code, out, _ = run(capsys, *FAST, "--activation", "tanh", "--optimizer", "adam",
                       "--compare", "sklearn", "--json")
    result = json.loads(out)
    assert code == cli.EXIT_PASS
    assert result["implementations"]["sklearn"]["judged"] is False
    assert "eps before the bias correction" in result["implementations"]["sklearn"]["note"]


def test_plot_writes_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "run.png"
    code, out, _ = run(capsys, *FAST, "--activation", "tanh", "--compare", "torch,sklearn",
                       "--plot", str(path))
    assert code == cli.EXIT_PASS and f"figure written to {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def test_plot_without_matplotlib_still_runs_and_says_how(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, _ = run(capsys, *FAST, "--plot", str(tmp_path / "x.png"), "--json")
    result = json.loads(out)
    assert code == cli.EXIT_PASS and result["plot"] is None
    assert "pip install 'refmlp[plot]'" in result["plot_note"]
    assert not (tmp_path / "x.png").exists()


def test_a_figure_that_cannot_be_written_is_said_with_the_result(capsys, tmp_path, monkeypatch):
    import refmlp.plots

    def denied(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(refmlp.plots, "plot_run", denied)
    code, out, _ = run(capsys, *FAST, "--plot", str(tmp_path / "x.png"), "--json")
    result = json.loads(out)
    assert code == cli.EXIT_PASS and result["plot"] is None
    assert result["plot_note"] == f"could not write the figure to {tmp_path / 'x.png'}: Permission denied"


def test_a_run_that_leaves_the_tolerance_exits_1(capsys, monkeypatch):
    from refmlp.optim import SGD

    class DoubleStep(SGD):
        def step(self, params, grads):
            super().step(params, [2 * g for g in grads])

    monkeypatch.setattr(trajectory, "make_optimizer", lambda name, lr, **o: DoubleStep(lr=lr))
    code, out, _ = run(capsys, *FAST)
    assert code == cli.EXIT_MISMATCH
    assert "FAIL from step 1" in out and "verdict: FAIL" in out


@pytest.mark.parametrize(
    "argv,fragments",
    [
        (["--optimizer", "adam", "--momentum", "0.9"], ["--momentum", "--optimizer adam", "--betas"]),
        (["--optimizer", "sgd", "--amsgrad"], ["--amsgrad", "--optimizer sgd"]),
        (["--nesterov"], ["Nesterov momentum requires momentum > 0"]),
        (["--lr", "-1"], ["lr must be >= 0.0; got -1.0"]),
        (["--betas", "0.9"], ["two numbers", "'0.9'"]),
        (["--compare", "jax"], ["torch, sklearn", "'jax'"]),
        (["--batch", "500"], ["--batch 500", "has 200 samples"]),
        (["--dataset", "nope"], ["'nope'", "expected one of"]),
        # refused before training, not after it as an internal error (exit 3)
        (["--plot", "run.txt"], ["--plot 'run.txt'", ".png, .pdf, .svg", "got '.txt'"]),
        (["--plot", "no-such-folder/run.png"], ["the folder 'no-such-folder' does not exist"]),
    ],
    ids=["momentum-for-adam", "amsgrad-for-sgd", "nesterov-alone", "negative-lr", "one-beta",
         "unknown-implementation", "batch-too-big", "unknown-dataset", "plot-suffix", "plot-folder"],
)
def test_usage_errors_exit_2(capsys, argv, fragments):
    code, out, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE and out == ""
    for fragment in fragments:
        assert fragment in err


def test_progress_bar_is_drawn_on_a_terminal_only(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = Progress(enabled=True, width=10)
    for t in range(1, 21):
        bar(t, 20)
    text = screen.getvalue()
    assert "training [#####.....] 10/20 steps" in text and "20/20 steps" in text
    assert text.endswith("\r")  # the bar is wiped at the end, the table starts on a clean line
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal
    bar = Progress(enabled=True)
    bar(1, 2)
    assert sys.stderr.getvalue() == ""


def test_progress_bar_is_wiped_when_a_run_stops_early(monkeypatch):
    # a diverging run stops before its last step: the table must not start on the bar's line
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = Progress(enabled=True, width=10)
    bar(1, 20)
    bar(2, 20)
    bar.wipe()
    text = sys.stderr.getvalue()
    assert "training [" in text and text.endswith(" " * 50 + "\r")
    bar.wipe()  # wiping twice writes nothing more
    assert sys.stderr.getvalue() == text


def test_train_help_imports_no_heavy_module():
    code = (
        "import sys\n"
        "from refmlp.cli import main\n"
        "assert main(['train', '--help']) == 0\n"
        "print(sorted({'torch', 'sklearn', 'matplotlib'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--compare" in done.stdout and "pip install 'refmlp[plot]'" in done.stdout
    assert done.stdout.strip().endswith("[]")


def test_a_diverging_run_exits_1_and_says_so(capsys, tmp_path):
    code, out, _ = run(capsys, "--dataset", "diabetes", "--reduction", "sum", "--lr", "1",
                       "--plot", str(tmp_path / "d.png"))
    assert code == cli.EXIT_MISMATCH
    assert "training diverged at step" in out and "verdict: FAIL" in out
