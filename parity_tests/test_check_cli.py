"""refmlp check from the command line (exit codes, JSON shape, usage errors), the adapter
protocol, and instructors' scenario files."""

import json
import shutil
from pathlib import Path

import pytest

from check_fixtures import FPRIME_MISSING, submission
from refmlp.check.scenarios import ScenarioError, load_scenario_file
from refmlp.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "check_adapter"


def run(argv, capsys):
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_correct_submission_exits_0_with_a_readable_report(tmp_path, capsys):
    code, out, _ = run([str(submission(tmp_path)), "--scenario", "square"], capsys)
    assert code == 0
    assert "verdict: PASS" in out and "square: all 7 checks ok" in out


def test_buggy_submission_exits_1_and_json_follows_the_contract(tmp_path, capsys):
    code, out, _ = run([str(submission(tmp_path, replace=[FPRIME_MISSING])),
                        "--scenario", "disc", "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert set(doc) >= {"verdict", "submission", "api", "checks", "first_divergence",
                        "diagnosis", "helpers"}
    assert doc["verdict"] == "fail" and doc["api"] == "MLP"
    fd = doc["first_divergence"]
    assert (fd["layer"], fd["quantity"], fd["scenario"], fd["check"]) == (2, "b_derivs", "disc",
                                                                          "gradients")
    assert len(fd["expected"]) == len(fd["actual"]) == 2  # layer 2 of disc has 2 units
    assert doc["diagnosis"]["key"] == "fprime_missing" and doc["diagnosis"]["message"]
    for check in doc["checks"]:
        assert set(check) == {"name", "scenario", "verdict", "judged", "details", "traceback"}
        assert check["verdict"] in ("pass", "fail", "error")
    grads = next(c for c in doc["checks"] if c["name"] == "gradients")
    assert grads["verdict"] == "fail"
    row = next(r for r in grads["details"]["rows"] if r["verdict"] == "fail")
    assert row["n_mismatch"] > 0 and row["max_abs_diff"] > 0 and row["rtol"] == 1e-10


def test_exception_is_a_failed_check_with_the_students_traceback(tmp_path, capsys):
    sub = submission(tmp_path, replace=[("    def step(self, alpha):\n",
                                         "    def step(self, alpha):\n        raise KeyError('oops')\n")])
    code, out, _ = run([str(sub), "--scenario", "disc"], capsys)
    assert code == 1
    assert "first divergence: your code raised an exception" in out and "KeyError: 'oops'" in out
    assert "mlp.py" in out and "in step" in out


@pytest.mark.parametrize("argv, needle", [
    (["{sub}", "--scenario", "nope"], "unknown scenario 'nope'"),
    (["{sub}", "--timeout", "0"], "--timeout must be a positive number"),
    (["{missing}"], "does not exist"),
    (["{sub}", "--scenario-file", "{missing}"], "cannot read scenario file"),
    (["{sub}", "--adapter", "{missing}"], "adapter"),
])
def test_usage_errors_exit_2(tmp_path, capsys, argv, needle):
    sub = submission(tmp_path / "s")
    argv = [a.format(sub=sub, missing=tmp_path / "missing.py") for a in argv]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert needle in out + err


def test_a_folder_without_the_class_is_an_error(tmp_path, capsys):
    (tmp_path / "mlp.py").write_text("class Network:\n    pass\n")
    code, out, err = run([str(tmp_path)], capsys)
    assert code == 2 and "defines no class MLP" in out + err


def test_the_readme_adapter_checks_another_api(tmp_path, capsys):
    code, out, _ = run([str(EXAMPLE / "netlib.py"), "--adapter", str(EXAMPLE / "adapter.py"),
                        "--scenario", "disc", "--scenario", "square", "--json"], capsys)
    assert code == 0, out
    assert json.loads(out)["api"] == "adapter"
    # without the adapter the same file has no class to check
    code, out, err = run([str(EXAMPLE / "netlib.py"), "--scenario", "disc"], capsys)
    assert code == 2
    # the adapter does not hide a bug: drop f' from the implementation
    shutil.copy(EXAMPLE / "adapter.py", tmp_path / "adapter.py")
    src = (EXAMPLE / "netlib.py").read_text()
    (tmp_path / "netlib.py").write_text(src.replace("g = g * fprime(self.a[k])", "g = g"))
    code, out, _ = run([str(tmp_path / "netlib.py"), "--adapter", str(tmp_path / "adapter.py"),
                        "--scenario", "disc", "--json"], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["diagnosis"]["key"] == "fprime_missing"


SCENARIO_TOML = '''
[[scenario]]
name = "tiny_disc"
input = 2
layers = [[8, "leaky_relu", "h1"], [3, "logistic", "h2"], [1, "logistic", "out"]]
loss_deriv = "logistic_est_loss_deriv"
data = "disc"
'''


def test_scenario_file_adds_a_network(tmp_path, capsys):
    (tmp_path / "extra.toml").write_text(SCENARIO_TOML)
    sub = submission(tmp_path / "s", replace=[FPRIME_MISSING])
    code, out, _ = run([str(sub), "--scenario-file", str(tmp_path / "extra.toml"),
                        "--scenario", "tiny_disc", "--json"], capsys)
    doc = json.loads(out)
    assert code == 1 and {c["scenario"] for c in doc["checks"]} == {"tiny_disc"}
    fd = doc["first_divergence"]
    assert (fd["layer"], fd["quantity"], fd["scenario"]) == (2, "b_derivs", "tiny_disc")


@pytest.mark.parametrize("text, needle", [
    ("[[scenario]]\nname = 'x'\n", "input must be a positive integer"),
    ("[[scenario]]\nname = 'x'\ninput = 2\nlayers = [[4, 'tanh', 'a']]\n", "layer 1 must be"),
    ("[[scenario]]\nname = 'x'\ninput = 2\nlayers = [[1, 'identity', 'a']]\n"
     "loss_deriv = 'logistic_est_loss_deriv'\n", "cannot follow a 'identity' output"),
    ("[[scenario]]\nname = 'x'\ninput = 3\nlayers = [[1, 'logistic', 'a']]\n"
     "loss_deriv = 'logistic_est_loss_deriv'\ndata = 'disc'\n", "has 2 features but input is 3"),
    ("scenario = 3\n", "must hold a list 'scenario'"),
    ("[[scenario\n", "not valid TOML"),
])
def test_bad_scenario_files_say_what_is_wrong(tmp_path, text, needle):
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ScenarioError, match=needle):
        load_scenario_file(tmp_path / "s.toml")


def test_the_zero_input_makes_a_pre_activation_exactly_zero():
    # the forward check's "zero" input: one non-zero entry, so every summation order gives the
    # same a_1[0], which must be exactly 0 (the kink of leaky ReLU, where f'(0) = 0.01)
    import numpy as np

    from refmlp.check.sandbox import ops

    rng = np.random.default_rng(3)
    for trial in range(50):
        W, b = 0.1 * rng.standard_normal((5, 4)), 0.1 * rng.standard_normal(5)
        x = ops.zero_input({"W1": W, "b1": b}, [4, 5])
        assert x is not None and np.count_nonzero(x) == 1
        assert W[0] @ x + b[0] == 0 and (W @ x + b)[0] == 0


def test_scenario_files_may_be_json(tmp_path):
    doc = {"scenario": [{"name": "reg", "input": 10, "layers": [[4, "logistic", "h"], [1, "identity", "o"]],
                         "loss_deriv": "squared_loss_deriv", "data": "diabetes"}]}
    (tmp_path / "s.json").write_text(json.dumps(doc))
    (sc,) = load_scenario_file(tmp_path / "s.json")
    assert sc.sizes == [10, 4, 1] and sc.loss == "squared"
    X, Y = sc.samples(5, seed=0)
    assert X.shape == (5, 10) and Y.shape == (5, 1)


def test_weights_out_of_reach_are_an_error_that_points_to_an_adapter(tmp_path, capsys):
    # the parameters live in closures, where no walk of the object can find them
    hidden = '''
import numpy as np


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d, self.lossderiv, self.layers = d, est_lossderiv, []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.layers[-1][0]() .shape[0] if self.layers else self.d
        W, b = 0.1 * np.random.randn(m, n), 0.1 * np.random.randn(m)
        self.layers.append((lambda: W, lambda: b, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        for W, b, f, _, _ in self.layers:
            x = f(W() @ x + b())
        return x

    def backward(self, x, y):
        self.seen = (x, y)

    def step(self, alpha):
        self.alpha = alpha

    def zero_grad(self):
        self.seen = None
'''
    (tmp_path / "mlp.py").write_text(hidden)
    code, out, _ = run([str(tmp_path), "--scenario", "square", "--json"], capsys)
    doc = json.loads(out)
    assert code == 2 and doc["verdict"] == "error"
    msg = doc["checks"][0]["details"]["message"]
    assert "could not find the network's parameters" in msg and "adapter" in msg
