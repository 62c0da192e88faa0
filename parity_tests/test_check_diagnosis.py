"""refmlp check names the bugs students make, beyond the catalogued variants: each submission is
check_fixtures.CORRECT with one line changed, checked on one scenario; the diagnosis must give the
bug's key and say it in the notes' words (the figures it derives, the student's own line)."""

import pytest

from check_fixtures import submission
from refmlp.check import check_submission

CASES = [
    # (id, scenario, replacements, key, words the message must hold)
    ("end_ignored", "disc",
     [("hi = self.names.index(end) if end is not None else", "hi = self.names.index(end) if start is not None else")],
     "forward_end_ignored", ["end is ignored"]),
    ("end_returns_a", "disc",
     [("        return h\n", "        return h if end is None else self.a[hi]\n")],
     "forward_end_returns_a", ["pre-activation a_1"]),
    ("end_placeholder", "disc",
     [("        return h\n", "        return h if end is None else 0\n")],
     "forward_end_placeholder", ["returned 0"]),
    ("end_off_by_one", "autoencoder",
     [("hi = self.names.index(end) if end is not None", "hi = self.names.index(end) + 1 if end is not None")],
     "forward_end_wrong_layer", ["returned h_2", "one layer off"]),
    ("start_ignored", "square",
     [("lo = self.names.index(start) if start is not None else 0", "lo = 0")],
     "forward_start_ignored", ["layer 1's f was called"]),
    ("start_one_too_far", "digits",
     [("lo = self.names.index(start) if start is not None else 0",
       "lo = self.names.index(start) + 1 if start is not None else 0")],
     "forward_start_ignored", ["layer 2's f was never called (it returned z itself", "one too far"]),
    ("W_derivs_from_a", "disc",
     [("np.outer(g, self.h[k - 1])", "np.outer(g, self.a[k - 1] if k > 0 else x)")],
     "W_derivs_from_a", ["equals g_3 a_2^T", "mlp.py line"]),
    ("W_derivs_1_from_the_output", "regression",  # a list's h[k - 1] at k = 0 wraps to h[-1]
     [("np.outer(g, self.h[k - 1])", "np.outer(g, self.h[k - 1] if k else self.h[len(self.Ws) - 1])")],
     "derived", ["equals g_1 h_2^T (broadcast to (16, 10) by +=)", "h[-1], the network's output"]),
    ("fprime_at_g", "disc",
     [("g = g * self.fds[k](self.a[k])", "g = g * self.fds[k](g)")],
     "fprime_at_g", ["f'_2(g) * g"]),
    ("b_derivs_before_fprime", "digits",
     [("            if k < len(self.Ws) - 1:\n                g = g * self.fds[k](self.a[k])\n            self.dbs[k] += g\n",
       "            self.dbs[k] += g\n            if k < len(self.Ws) - 1:\n                g = g * self.fds[k](self.a[k])\n")],
     "b_derivs_before_fprime", ["W_derivs_1 is right"]),
    ("bias_grad_summed", "disc",
     [("self.dbs[k] += g", "self.dbs[k] += np.sum(g)")],
     "bias_grad_summed", ["sum(g_2) in every entry"]),
    ("step_inside_backward", "disc",
     [("            g = self.Ws[k].T @ g\n", "            g = self.Ws[k].T @ g\n        self.step(0.01)\n")],
     "step_inside_backward", ["by 0.01 x the gradient", "mlp.py line 39: self.step(...) in backward"]),
    ("zero_grad_inside_backward", "disc",
     [("        y_est = self.forward(x)\n", "        self.zero_grad()\n        y_est = self.forward(x)\n")],
     "zero_grad_inside_backward", ["self.zero_grad() in backward"]),
    ("bias_after_f", "disc",
     [("self.a[k] = self.Ws[k] @ h + self.bs[k]\n            h = self.h[k] = self.fs[k](self.a[k])",
       "self.a[k] = self.Ws[k] @ h\n            h = self.h[k] = self.fs[k](self.a[k]) + self.bs[k]")],
     "bias_after_f", ["after the activation"]),
    ("add_layer_fan_in_d", "digits",
     [("n = self.Ws[-1].shape[0] if self.Ws else self.d", "n = self.d")],
     "add_layer_fan_in_d", ["every layer d inputs", "mlp.py line"]),
    ("elementwise_product", "regression",
     [("self.a[k] = self.Ws[k] @ h + self.bs[k]",
       "self.a[k] = (self.Ws[k] @ h if k == 0 else self.Ws[k] * h.sum()) + self.bs[k]")],
     "derived", ["a_2 has the shape of W_2, (1, 16)", "not *"]),
    ("derived_factor", "digits",
     [("self.dWs[k] += np.outer(g, self.h[k - 1])", "self.dWs[k] += 0.25 * np.outer(g, self.h[k - 1])")],
     "gradient_scaled", ["1/4 x g_2 h_1^T"]),
    ("step_ascends_for_W_only", "disc",
     [("self.Ws[k] -= alpha * self.dWs[k]", "self.Ws[k] += alpha * self.dWs[k]")],
     "step_wrong_sign", ["step ascends for W", "b moved the right way", "W -= alpha * dW"]),
    ("step_ascends_for_b_only", "square",
     [("self.bs[k] -= alpha * self.dbs[k]", "self.bs[k] += alpha * self.dbs[k]")],
     "step_wrong_sign", ["step ascends for b", "W moved the right way", "b -= alpha * db"]),
]


@pytest.mark.parametrize("scenario,replace,key,words", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_the_bug_is_named_in_the_notes_words(tmp_path, scenario, replace, key, words):
    rep = check_submission(submission(tmp_path, replace=replace), scenarios=[scenario], timeout=20)
    assert rep.verdict == "fail"
    assert rep.diagnosis["key"] == key, rep.diagnosis
    for w in words:
        assert w in rep.diagnosis["message"], (w, rep.diagnosis["message"])


def test_an_exception_is_located_in_the_layer_that_raised(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[(
        "self.a[k] = self.Ws[k] @ h + self.bs[k]", "self.a[k] = self.Ws[k] @ (h if k == 0 else h.sum()) + self.bs[k]")]),
        scenarios=["disc"], timeout=20)
    assert rep.first_divergence["quantity"] == "exception" and rep.diagnosis["key"] == "exception"
    msg = rep.diagnosis["message"]
    # it raises on the first forward call, discovery's: which layers ran, not their values
    assert "layer 1 ran" in msg and "raised in layer 2's forward step" in msg, msg
    assert "its input was a scalar, not h_1" in msg, msg
    assert "mlp.py line" in msg and "self.Ws[k] @ (h if k == 0" in msg, msg


def test_a_bug_outside_every_list_is_no_simple_explanation(tmp_path):
    """Weight decay in backward (g h^T + 0.01 W) is a combination the search does not try."""
    rep = check_submission(submission(tmp_path, replace=[(
        "self.dWs[k] += np.outer(g, self.h[k - 1])",
        "self.dWs[k] += np.outer(g, self.h[k - 1]) + 0.01 * self.Ws[k]")]),
        scenarios=["disc"], timeout=20)
    assert rep.diagnosis["key"] == "unknown"
    assert rep.diagnosis["message"].startswith("no simple explanation found: W_derivs_3")


def test_start_reading_the_stored_input_is_named(tmp_path):
    """forward(z, start=name) that feeds the named layer the h it stored on an earlier call."""
    rep = check_submission(submission(tmp_path, replace=[
        ("        h = x\n", "        h = x if start is None else self.h_saved[lo - 1]\n"),
        ("            h = self.h[k] = self.fs[k](self.a[k])\n",
         "            h = self.h[k] = self.fs[k](self.a[k])\n"
         "        if start is None:\n            self.h_saved = dict(self.h)\n")]),
        scenarios=["disc"], timeout=20)
    assert rep.diagnosis["key"] == "forward_start_ignored", rep.diagnosis
    assert "stored, not z" in rep.diagnosis["message"]


def test_an_exception_in_backward_says_the_forward_pass_was_right(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[(
        "            self.dbs[k] += g\n", "            self.dbs[k] += g[:2] if k == 0 else g\n")]),
        scenarios=["disc"], timeout=20)
    assert rep.first_divergence["quantity"] == "exception", rep.first_divergence
    msg = rep.diagnosis["message"]
    assert "the forward pass is right (every a_k is): it raised in the backward pass" in msg, msg
    assert "mlp.py line" in msg, msg
