"""What a student reads in refmlp check's report for a homework in progress. One scenario per test
keeps the suite fast."""

from check_fixtures import submission
from refmlp.check import check_submission

STEP_STUB = ("""        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha * self.dWs[k]
            self.bs[k] -= alpha * self.dbs[k]
""", "        pass  # TODO\n")
# raises unless the layer is square, as a student meets it on the square scenario only
OUTER_TRANSPOSED = ("np.outer(g, self.h[k - 1])", "np.outer(self.h[k - 1], g)")
STEP_ADDS_W = ("self.Ws[k] -= alpha * self.dWs[k]", "self.Ws[k] += alpha * self.dWs[k]")


def test_a_stub_step_is_unfinished_without_the_figures_it_zeroes(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[STEP_STUB]), scenarios=["disc"])
    text = rep.to_text()
    assert rep.verdict == "fail" and rep.first_divergence["quantity"] == "unfinished", text
    assert rep.diagnosis["key"] == "unfinished", text
    assert "step" in text.split("not written yet:")[1].splitlines()[1], text
    # the gradients read through a step that moves nothing are 0: not a divergence to act on
    assert "first divergence:" not in text and "expected [" not in text, text
    assert "consequence" not in text, text


def test_one_exception_in_many_checks_names_its_checks_once(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[OUTER_TRANSPOSED]), scenarios=["disc"])
    text = rep.to_text()
    assert rep.verdict == "fail", text
    assert text.count("ValueError") == 3, text  # the scenario line, the group's head, the traceback
    assert "the same ValueError in 6 checks:\n" in text, text
    assert text.count("stale_forward") == 1, text  # named in the scenario's line only
    assert text.count("Traceback") == 1, text


def test_a_negated_weight_gradient_also_points_at_step(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[STEP_ADDS_W]), scenarios=["disc"])
    text = rep.to_text()
    # W ascends while b descends: step's sign for W, not a backward that is right
    assert rep.verdict == "fail" and rep.diagnosis["key"] == "step_wrong_sign", text
    assert "step ascends for W" in rep.diagnosis["message"], text
    assert "W -= alpha * dW" in rep.diagnosis["message"], text


def test_verbose_says_each_note_and_traceback_once_per_scenario(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[OUTER_TRANSPOSED]), scenarios=["disc"])
    checks = rep.to_text(verbose=True).split("---- summary ----")[0]
    assert checks.count("Traceback") == 1, checks
    assert checks.count("the same exception as in gradients") == 5, checks  # the 5 checks after it
    assert checks.count("note: parameters:") == 1, checks


def test_the_last_layers_fderiv_called_names_the_line_and_the_index(tmp_path):
    sub = submission(tmp_path, replace=[("g = g * self.fds[k](self.a[k])",
                                         "g = g * self.fds[k + 1](self.a[k])")])  # None at k = L - 1
    rep = check_submission(sub, scenarios=["disc"])
    text = rep.diagnosis["message"]
    assert rep.diagnosis["key"] == "fprime_at_last_layer", rep.to_text()
    assert "at mlp.py line 35 (in backward): g = g * self.fds[k + 1](self.a[k])" in text, text
    assert "one layer off" in text, text


def test_every_line_of_a_report_fits_a_terminal(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[OUTER_TRANSPOSED]), scenarios=["disc"])
    # the student's traceback keeps its own lines, as Python printed them
    mine = [t for t in rep.to_text().splitlines() if not t.startswith("    ")]
    assert max(len(t) for t in mine) <= 100, rep.to_text()
