"""refmlp check on homework as students hand it in: the course's released helper files beside a
right class, unfinished methods, arrays that are not parameters, several bugs in one file, the
course's own contract, and a report a student reads in a minute. Each submission is written to
tmp_path from check_fixtures.CORRECT; one or two scenarios per test keep the suite fast."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from check_fixtures import CORRECT, FPRIME_MISSING, submission
from refmlp.check import check_submission
from refmlp.check.unfinished import unwritten

# The course's released helpers as COURSE_API.md describes their behaviour, written here in two
# texts: recognition must go by what the functions do, never by how the file reads.
RELEASED_LAYERS = {
    "plain": '''
import numpy as np

def logistic(u):
    return 1/(1+np.exp(-u))

def logistic_deriv(u):
    f = logistic(u)
    return f*(1-f)

def leaky_relu(u, alpha=0.01):
    res = np.array(u, dtype=float)
    res[u < 0] = 0
    res[u < 0] *= alpha
    return res

def leaky_relu_deriv(u, alpha=0.01):
    res = np.zeros(u.shape)
    res[u > 0] = 1
    res[u < 0] = alpha
    return res

def softmax(u):
    return np.exp(u)/np.sum(np.exp(u))
''',
    "reworded": '''
import numpy as np


def logistic(u):
    """the logistic function"""
    denominator = 1.0 + np.exp(-1.0 * u)
    return 1.0 / denominator


def logistic_deriv(u):
    s = logistic(u)
    return s - s * s


def leaky_relu(u, alpha=0.01):
    out = np.copy(u).astype(float)
    negative = out < 0
    out[negative] = 0.0
    out[negative] = out[negative] * alpha
    return out


def leaky_relu_deriv(u, alpha=0.01):
    return np.select([u > 0, u < 0], [1.0, alpha], default=0.0)


def softmax(u):
    e = np.exp(u)
    return e / e.sum()
''',
}
# the released losses.py has no known defect: any right one behaves as it does
RELEASED_LOSSES = (Path(__file__).parent / "submissions" / "correct" / "layer_dicts" /
                   "losses.py").read_text()
TWO = ["disc", "square"]


# ---- the verdict is the class's ---------------------------------------------------------------
@pytest.mark.parametrize("text", sorted(RELEASED_LAYERS))
def test_released_helpers_beside_a_right_class_pass_and_are_named_the_courses(tmp_path, text):
    sub = submission(tmp_path, files={"layers.py": RELEASED_LAYERS[text],
                                      "losses.py": RELEASED_LOSSES})
    rep = check_submission(sub, scenarios=["disc"])
    assert rep.verdict == "pass", rep.to_text()
    files = {f["file"]: f for f in rep.to_dict()["helpers"]["files"]}
    assert files["layers.py"]["released"] and files["losses.py"]["released"]
    assert len(files["layers.py"]["known_defects"]) == 3  # ReLU forward, 0 at u == 0, softmax
    logistic = next(f for f in rep.helpers if f["function"] == "logistic")
    assert logistic["verdict"] == "pass"  # numpy's overflow warning at u = -1000, exact values
    text_out = rep.to_text()
    assert "the course's released file; known defects" in text_out and "not counted" in text_out
    assert "your own helper files" not in text_out


def test_helpers_count_makes_the_released_defects_fail(tmp_path):
    sub = submission(tmp_path, files={"layers.py": RELEASED_LAYERS["plain"]})
    rep = check_submission(sub, scenarios=["disc"], helpers="count")
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": None, "quantity": "layers.leaky_relu"}
    assert rep.to_dict()["helpers"]["counted"] is True


def test_a_students_own_wrong_helper_is_reported_apart_and_does_not_fail_the_class(tmp_path):
    own = ("import numpy as np\n\n\ndef leaky_relu(u, alpha=0.1):\n"
           "    return np.where(u > 0, u, alpha * u)\n")
    sub = submission(tmp_path, files={"layers.py": own})
    rep = check_submission(sub, scenarios=["disc"])
    assert rep.verdict == "pass"
    helpers = rep.to_dict()["helpers"]
    assert helpers["verdict"] == "fail" and not helpers["counted"]
    (layers,) = helpers["files"]
    assert not layers["released"] and "leaky_relu" in layers["failing"]
    assert "layers.py (yours): FAIL, not counted" in rep.to_text()


# ---- unfinished work --------------------------------------------------------------------------
STUB_BODIES = {
    "pass": ("pass",), "ellipsis": ("...",), "not_implemented": ("raise NotImplementedError",),
    "todo_return_none": ("# TODO: the backward pass", "return None"),
    "docstring_only": ('"""Backprop on one example (to do)."""',),
}


@pytest.mark.parametrize("kind", sorted(STUB_BODIES))
def test_a_stub_method_is_read_as_unwritten(kind):
    body = "\n".join("        " + line for line in STUB_BODIES[kind])
    src = f"class MLP:\n    def forward(self, x):\n        return x\n\n    def backward(self, x, y):\n{body}\n"
    found = {u.method: u for u in unwritten(src, "MLP")}
    assert set(found) == {"add_layer", "backward", "step", "zero_grad"}  # three are missing
    assert found["backward"].line == 5 and found["step"].line is None


def test_a_written_method_is_not_a_stub():
    src = CORRECT.replace("class MLP:", "class MLP(object):")
    assert unwritten(src, "MLP") == []
    assert unwritten("class MLP(Base):\n    pass\n", "MLP") == []  # may inherit every method


def test_unfinished_work_fails_once_saying_what_is_missing(tmp_path):
    start = CORRECT.index("    def backward")
    src = CORRECT[:start] + ("    def backward(self, x, y):\n        # TODO\n        pass\n\n"
                             "    def step(self, alpha):\n        raise NotImplementedError\n\n"
                             "    def zero_grad(self):\n        ...\n")
    (tmp_path / "mlp.py").write_text(src)
    rep = check_submission(tmp_path, scenarios=TWO)
    assert rep.verdict == "fail" and rep.diagnosis["key"] == "unfinished"
    # step raises NotImplementedError: the stub itself, not a divergence in the written methods
    assert rep.first_divergence == {"layer": None, "quantity": "unfinished"}
    assert [u.split(" ")[0] for u in rep.unfinished] == ["backward", "step", "zero_grad"]
    text = rep.to_text()
    assert text.count("not written yet:") == 1 and "adapter" not in text
    assert "Traceback" not in text and "NotImplementedError" in text  # said once, as the stub
    assert next(c for c in rep.checks if c.name == "forward").verdict == "pass"  # it is written


def test_a_skeleton_with_every_method_a_stub_is_a_fail_not_an_error(tmp_path):
    (tmp_path / "mlp.py").write_text(
        "class MLP:\n" + "".join(f"    def {m}(self, *args, **kwargs):\n        pass\n\n" for m in (
            "__init__", "add_layer", "forward", "backward", "step", "zero_grad")))
    rep = check_submission(tmp_path, scenarios=["disc"])
    assert rep.verdict == "fail" and rep.diagnosis["key"] == "unfinished", rep.to_text()
    assert "adapter" not in rep.to_text()


def test_forward_returning_none_is_unfinished_work(tmp_path):
    sub = submission(tmp_path, replace=[("            h = self.h[k] = self.fs[k](self.a[k])\n"
                                         "        return h", "            h = self.h[k] = "
                                         "self.fs[k](self.a[k])")])
    rep = check_submission(sub, scenarios=["disc"])
    assert rep.verdict == "fail" and rep.diagnosis["key"] == "unfinished"
    assert rep.unfinished == ["forward: forward(x) returned None"]


# ---- discovery by effect ------------------------------------------------------------------------
DUMMY = ("        self.d, self.est_lossderiv = d, est_lossderiv\n",
         "        self.d, self.est_lossderiv = d, est_lossderiv\n"
         "        self.input_W = np.random.randn(d, d)  # a dummy input layer: never used\n"
         "        self.input_b = np.random.randn(d)\n")
CRASH = ("    def step(self, alpha):\n", "    def step(self, alpha):\n        raise RuntimeError('not yet')\n")


def test_a_dummy_layer_is_never_a_parameter_even_when_step_crashes(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[DUMMY, CRASH]), scenarios=["disc"])
    forward = next(c for c in rep.checks if c.name == "forward")
    assert forward.verdict == "pass", rep.to_text(verbose=True)
    assert rep.first_divergence["quantity"] == "exception"
    assert all("input_" not in n for c in rep.checks for n in c.notes if n.startswith("parameters"))


CALLABLE_LAYERS = '''
import numpy as np


class Dense:
    def __init__(self, n, m, f, fderiv, name):
        self.W, self.b = 0.1 * np.random.randn(m, n), 0.1 * np.random.randn(m)
        self.f, self.fderiv, self.name = f, fderiv, name
        self.zero()

    def zero(self):
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def __call__(self, h):
        self.h_in, self.a = h, self.W @ h + self.b
        return self.f(self.a)


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d, self.lossderiv, self.layers = d, est_lossderiv, []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.layers[-1].W.shape[0] if self.layers else self.d
        self.layers.append(Dense(n, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        names = [layer.name for layer in self.layers]
        lo = names.index(start) if start else 0
        hi = names.index(end) if end else len(self.layers) - 1
        for layer in self.layers[lo:hi + 1]:
            x = layer(x)
        return x

    def backward(self, x, y):
        g = self.lossderiv(self.forward(x), y)
        for layer in reversed(self.layers):
            if layer.fderiv is not None:
                g = g * layer.fderiv(layer.a)
            layer.db += g
            layer.dW += np.outer(g, layer.h_in)
            g = layer.W.T @ g

    def step(self, alpha):
        for layer in self.layers:
            layer.W -= alpha * layer.dW
            layer.b -= alpha * layer.db

    def zero_grad(self):
        for layer in self.layers:
            layer.zero()
'''


def test_callable_layer_objects_are_walked_and_the_last_layer_has_no_fderiv(tmp_path):
    # this class finds the output layer by fderiv is None, as the course's contract allows
    (tmp_path / "mlp.py").write_text(CALLABLE_LAYERS)
    rep = check_submission(tmp_path, scenarios=TWO)
    assert rep.verdict == "pass", rep.to_text(verbose=True)


def test_the_bias_trick_is_found_without_an_adapter():
    folder = Path(__file__).parent / "submissions" / "correct" / "augmented_bias"
    rep = check_submission(folder, scenarios=TWO)
    assert rep.verdict == "pass", rep.to_text(verbose=True)
    note = next(n for n in rep.checks[0].notes if n.startswith("parameters"))
    assert "W_1 = net.thetas[0][:, :-1]" in note and "b_1 = net.thetas[0][:, -1]" in note


# ---- several bugs, one report -----------------------------------------------------------------
TRANSPOSED = ("np.outer(g, self.h[k - 1])", "np.outer(self.h[k - 1], g)")


def test_a_scenario_that_raised_does_not_hide_what_another_pins_down(tmp_path):
    # outer(h, g) raises a shape error on disc's non-square layers and gives numbers on square
    rep = check_submission(submission(tmp_path, replace=[TRANSPOSED]), scenarios=TWO)
    assert rep.first_scenario == "square"
    assert rep.first_divergence == {"layer": 3, "quantity": "W_derivs"}
    assert rep.diagnosis["key"] == "W_derivs_transposed"
    assert rep.first_row[0] == "W_derivs_3"  # the row the report quotes is the divergence's
    text = rep.to_text()
    assert text.count("Traceback (most recent call last)") == 1
    assert "the same ValueError in 6 checks" in text  # disc's six checks that call backward


def test_a_wip_report_fits_on_one_screen_and_verbose_keeps_the_figures(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[TRANSPOSED, FPRIME_MISSING]))
    text = rep.to_text()
    assert len(text.splitlines()) <= 40, text
    assert text.splitlines()[1] == "verdict: FAIL"  # the verdict first, then what to fix
    assert "layers numbered from 1" in text and "if your lists start at 0" in text
    assert "comparisons within tolerance" in rep.to_text(verbose=True)
    # the first divergence's figures are given once: an unknown diagnosis does not repeat them
    assert "greatest absolute difference" not in text
    assert "\n" not in repr(rep) and "fail" in repr(rep)


# ---- the course's contract ----------------------------------------------------------------------
def test_forward_returning_a_column_fails_saying_so(tmp_path):
    sub = submission(tmp_path, replace=[("        return h\n\n    def backward",
                                         "        return h.reshape(-1, 1)\n\n    def backward")])
    rep = check_submission(sub, scenarios=["disc"])
    assert rep.verdict == "fail"
    # forward(x, end="layer1") returns a column too: h_1 is the earliest
    assert rep.first_divergence == {"layer": 1, "quantity": "h"}
    assert "forward returned an array of shape (100, 1)" in rep.to_text()
    assert rep.diagnosis["key"] == "forward_returns_column"


# ---- JSON and --repro ---------------------------------------------------------------------------
def test_json_first_divergence_carries_the_arrays_and_repro_reproduces_them(tmp_path):
    from refmlp.check.repro import write_repro

    rep = check_submission(submission(tmp_path / "s", replace=[FPRIME_MISSING]), scenarios=["square"])
    fd = json.loads(rep.to_json())["first_divergence"]
    assert (fd["layer"], fd["quantity"], fd["check"]) == (2, "b_derivs", "gradients")
    expected, actual = np.array(fd["expected"]), np.array(fd["actual"])
    assert expected.shape == actual.shape == (6,) and not np.allclose(expected, actual)
    script = tmp_path / "repro.py"
    write_repro(rep, script)
    out = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True,
                         cwd=tmp_path, check=True).stdout
    lines = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    assert lines["recomputed here"].split() == lines["expected"].split()  # numpy = the reference
    assert float(lines["largest difference"]) > 0.1


def test_json_arrays_above_the_cap_are_none():
    from refmlp.check.judge import VALUES_CAP, CheckResult, Judged
    from refmlp.check.report import CheckReport

    big = np.zeros(VALUES_CAP + 1)
    row = Judged("W_derivs", 1, "fail", [big.size], [big.size], "float64", "float64", 1e-10,
                 actual_values=big, expected_values=big)
    check = CheckResult("gradients", "digits", "fail", rows=[("W_derivs_1", row, "sample x0")],
                        first={"layer": 1, "quantity": "W_derivs"}, first_row=0)
    rep = CheckReport("fail", "s", "MLP", checks=[check], first_divergence=check.first,
                      first_scenario="digits", first_check=check)
    fd = rep.to_dict()["first_divergence"]
    assert fd["expected"] is None and fd["actual"] is None and fd["row"] == "W_derivs_1"


# ---- the check kinds, one entry each -------------------------------------------------------------
def test_every_check_kind_is_one_entry_giving_its_calls_and_samples():
    import re

    from refmlp.check import plan
    from refmlp.check.kinds import KINDS, Step
    from refmlp.check.scenarios import SCENARIOS

    checks, _ = plan.build_checks([SCENARIOS["disc"]], "MLP", "MLP", 0)
    assert [c["kind"] for c in checks[1:]] == list(KINDS)
    for check in checks[1:]:
        used = {int(m) for op in check["ops"] for a in op[1:] if isinstance(a, str)
                for m in re.findall(r"^disc\.[xy](\d+)$", a)}
        assert used == set(KINDS[check["kind"]].samples), check["kind"]
    old, _ = plan.build_checks([SCENARIOS["disc"]], "NeuralNet", "NeuralNet", 0)
    assert [c["kind"] for c in old[1:]] == ["forward", "gradients", "step", "sgd_run",
                                            "stale_forward"]  # no accumulation, no zero_grad
    step = Step("sample x0", ([None], [None]), ([None], [None]), 0.5, np.zeros(2), np.zeros(1),
                None, W=[None], b=[None])
    assert dict(step, X=1)["X"] == 1 and step["P0"] is step.before  # the diagnosis's reading


def test_the_command_line_takes_helpers_verbose_and_repro(tmp_path, capsys):
    from refmlp.cli import main

    sub = submission(tmp_path / "s", replace=[FPRIME_MISSING],
                     files={"layers.py": RELEASED_LAYERS["plain"]})
    script = tmp_path / "first.py"
    code = main(["check", str(sub), "--scenario", "square", "--verbose", "--repro", str(script)])
    out, err = capsys.readouterr()
    assert code == 1 and "comparisons within tolerance" in out and "---- summary ----" in out
    assert script.is_file() and f"wrote {script}" in err
    fixed = submission(tmp_path / "t", files={"layers.py": RELEASED_LAYERS["plain"]})
    assert main(["check", str(fixed), "--scenario", "square"]) == 0
    assert main(["check", str(fixed), "--scenario", "square", "--helpers", "count"]) == 1
    nowhere = str(tmp_path / "missing" / "first.py")
    assert main(["check", str(sub), "--scenario", "square", "--repro", nowhere]) == 2
    assert "--repro: cannot write" in capsys.readouterr().err
