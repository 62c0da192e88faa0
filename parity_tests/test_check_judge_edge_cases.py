"""Regressions for the reviewer's findings against the checker's judging side (judge, diagnosis,
discovery, the sandbox's Recorder): each test is a small submission written to tmp_path."""

import shutil
from pathlib import Path

import pytest

from check_fixtures import FPRIME_MISSING, submission
from refmlp.check import check_submission

H_LINE = "            h = self.h[k] = self.fs[k](self.a[k])"
FD_LINE = "                g = g * self.fds[k](self.a[k])"

PER_ELEMENT = {
    "loop": [
        (H_LINE, "            h = self.h[k] = (np.array([self.fs[k](ai) for ai in self.a[k]])\n"
                 "                             if k < len(self.Ws) - 1 else self.fs[k](self.a[k]))"),
        (FD_LINE, "                g = g * np.array([self.fds[k](ai) for ai in self.a[k]])")],
    "vectorize": [  # np.vectorize calls f once more, on the first element, to learn the type
        (H_LINE, "            h = self.h[k] = (np.vectorize(self.fs[k])(self.a[k])\n"
                 "                             if k < len(self.Ws) - 1 else self.fs[k](self.a[k]))")],
}


@pytest.mark.parametrize("style", sorted(PER_ELEMENT))
def test_f_applied_per_element_is_not_a_failure(tmp_path, style):
    # every number is right; the checker sees 0-d arguments to f and f'
    rep = check_submission(submission(tmp_path, replace=PER_ELEMENT[style]),
                           scenarios=["disc", "autoencoder"], timeout=20)
    assert rep.verdict == "pass", rep.to_text()
    forward = next(c for c in rep.checks if c.name == "forward")
    assert any(r.quantity == "a" and r.layer == 1 for _, r, _ in forward.rows)  # a_1 still judged


def test_f_per_element_with_a_wrong_a_still_fails(tmp_path):
    # the per-element a_k is judged: a forward without b_1 fails at (1, "a")
    rep = check_submission(submission(tmp_path, replace=PER_ELEMENT["loop"] + [
        ("self.a[k] = self.Ws[k] @ h + self.bs[k]",
         "self.a[k] = self.Ws[k] @ h + (self.bs[k] if k else 0)")]),
        scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 1, "quantity": "a"}


ZERO_INIT = [("0.1 * np.random.randn(m, n)", "np.zeros((m, n))"),
             ("0.1 * np.random.randn(m)", "np.zeros(m)")]


def test_zero_init_correct_passes_on_the_checkers_weights_and_says_so(tmp_path):
    # a correct zero-init submission failed "square" as step_skips_biases
    rep = check_submission(submission(tmp_path, replace=ZERO_INIT), scenarios=["disc", "square"],
                           timeout=20)
    assert rep.verdict == "pass", rep.to_text()
    assert "W_1 (net.Ws[0]) all zero" in rep.message and "0.1 x randn" in rep.message
    grads = next(c for c in rep.checks if c.name == "gradients")
    assert any(r.quantity == "W_derivs" and r.layer == 1 for _, r, _ in grads.rows)


@pytest.mark.parametrize("init", ["np.zeros((m, n))", "0.3 * np.ones((m, n))"])
def test_degenerate_init_no_longer_hides_a_missing_fprime(tmp_path, init):
    # with W = 0 every hidden g is 0, and a backward without f' passed (exit 0)
    rep = check_submission(submission(tmp_path, replace=[
        ("0.1 * np.random.randn(m, n)", init), FPRIME_MISSING]), scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 2, "quantity": "b_derivs"}
    assert rep.diagnosis["key"] == "fprime_missing"


def test_degenerate_init_that_cannot_be_overwritten_is_refused(tmp_path):
    # read-only zero W (the step rebinds W): the checker cannot put its weights in, so no verdict
    rep = check_submission(submission(tmp_path, replace=[
        ("self.Ws.append(0.1 * np.random.randn(m, n))",
         "W = np.zeros((m, n)); W.flags.writeable = False; self.Ws.append(W)"),
        ("self.Ws[k] -= alpha * self.dWs[k]", "self.Ws[k] = self.Ws[k] - alpha * self.dWs[k]")]),
        scenarios=["disc"], timeout=20)
    assert rep.verdict == "error" and rep.exit_code == 2
    assert "vacuous" in rep.message and "0.1 * np.random.randn(m, n)" in rep.message


@pytest.mark.parametrize("scale", ["1e-9", "1e-6"])
def test_a_small_error_is_not_named_after_a_variant_equal_to_the_reference(tmp_path, scale):
    # on leaky layers f'(h) == f'(a), so "fprime_of_h" IS the reference there and was
    # named for any gradient within 1e-6 of it
    rep = check_submission(submission(tmp_path, replace=[(
        "self.dWs[k] += np.outer(g, self.h[k - 1])",
        f"self.dWs[k] += np.outer(g, self.h[k - 1]) * (1 + {scale} * (k == 0))")]),
        scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 1, "quantity": "W_derivs"}
    assert rep.diagnosis["key"] == "unknown", rep.diagnosis
    assert "W_derivs_1" in rep.diagnosis["message"]  # the figures are given


def test_swapped_lossderiv_arguments_are_named_not_step_wrong_sign(tmp_path):
    # est_lossderiv(y, y_est) negates every gradient, like a step that ascends
    rep = check_submission(submission(tmp_path, replace=[(
        "g = self.est_lossderiv(y_est, y)", "g = self.est_lossderiv(y, y_est)")]),
        scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 3, "quantity": "b_derivs"}
    assert rep.diagnosis["key"] == "lossderiv_arguments_swapped"
    assert "est_lossderiv(y_est, y)" in rep.diagnosis["message"]


def test_a_step_that_ascends_is_still_step_wrong_sign(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[
        ("self.Ws[k] -= alpha * self.dWs[k]", "self.Ws[k] += alpha * self.dWs[k]"),
        ("self.bs[k] -= alpha * self.dbs[k]", "self.bs[k] += alpha * self.dbs[k]")]),
        scenarios=["disc"], timeout=20)
    assert rep.diagnosis["key"] == "step_wrong_sign"


W1_FLOAT32 = ("self.Ws.append(0.1 * np.random.randn(m, n))",
              "self.Ws.append((0.1 * np.random.randn(m, n)).astype(np.float32 if not self.Ws "
              "else np.float64))")


def test_a_float32_W_1_in_a_float64_network_does_not_loosen_every_tolerance(tmp_path):
    # the float32 policy came from W_1's dtype alone; a 3e-4 error in every W
    # gradient then passed a float64 network
    rep = check_submission(submission(tmp_path, replace=[W1_FLOAT32, (
        "self.dWs[k] += np.outer(g, self.h[k - 1])",
        "self.dWs[k] += np.outer(g, self.h[k - 1]) * (1 + 3e-4)")]), scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 3, "quantity": "W_derivs"}


def test_a_float32_W_1_in_a_correct_float64_network_passes(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[W1_FLOAT32]), scenarios=["disc"], timeout=20)
    assert rep.verdict == "pass", rep.to_text()


def test_a_layer_backward_skips_is_a_gradient_failure_not_a_forward_one(tmp_path):
    # W_1 never moves; discovery gave its slot W_2 through the transposed shape and
    # the report said a_1 was wrong
    rep = check_submission(submission(tmp_path, replace=[(
        "for k in range(len(self.Ws) - 1, -1, -1):", "for k in range(len(self.Ws) - 1, 0, -1):")]),
        scenarios=["disc"], timeout=20)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 1, "quantity": "b_derivs"}


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "check_adapter"


@pytest.mark.parametrize("cut", ["[:1]", "[:0]"])
def test_an_adapter_returning_too_few_params_is_an_error_not_a_pass(tmp_path, cut):
    # with params() short of pairs every gradient check compared nothing and passed,
    # a 3x wrong W gradient included
    shutil.copy(EXAMPLE / "netlib.py", tmp_path / "netlib.py")
    src = (EXAMPLE / "adapter.py").read_text()
    assert "acc[0] += dW" in src and "    def params(self):" in src
    src = src.replace("acc[0] += dW", "acc[0] += 3 * dW").replace(
        "    def params(self):", f"    def params(self):\n        return self._params(){cut}\n\n"
                                 "    def _params(self):")
    (tmp_path / "adapter.py").write_text(src)
    rep = check_submission(tmp_path / "netlib.py", adapter=tmp_path / "adapter.py",
                           scenarios=["disc"], timeout=20)
    assert rep.verdict == "error" and rep.exit_code == 2, rep.to_text()
    assert "params()" in rep.message and "3 layers" in rep.message


FORGE_EMPTY = '''
import sys
wire = sys.modules["_refmlp_sandbox.wire"]
def _forged(fd, header, arrays):
    wire.write_frame(fd, wire._dumps({"status": "ok", "notes": []}).encode(), b"")
wire.send_result = _forged
'''


def test_an_empty_forged_result_never_passes(tmp_path):
    # a result frame without arrays gave every check 0 rows, and 0 rows passed
    rep = check_submission(submission(tmp_path, replace=[FPRIME_MISSING], extra=FORGE_EMPTY),
                           scenarios=["disc"], timeout=20)
    assert rep.verdict != "pass" and rep.exit_code != 0, rep.to_text()
    assert all(c.verdict != "pass" for c in rep.checks)


def float32_submission(folder, scale):
    """CORRECT computing in float32 throughout, weights ``scale`` x randn."""
    return submission(folder, replace=[
        ("self.Ws.append(0.1 * np.random.randn(m, n))",
         f"self.Ws.append(({scale} * np.random.randn(m, n)).astype(np.float32))"),
        ("self.bs.append(0.1 * np.random.randn(m))",
         f"self.bs.append(({scale} * np.random.randn(m)).astype(np.float32))"),
        ("self.dWs.append(np.zeros((m, n))); self.dbs.append(np.zeros(m))",
         "self.dWs.append(np.zeros((m, n), np.float32)); self.dbs.append(np.zeros(m, np.float32))"),
        ("self.a, self.h = {}, {lo - 1: x}\n        h = x",
         "x = np.asarray(x, dtype=np.float32)\n        self.a, self.h = {}, {lo - 1: x}\n        h = x"),
        ("g = self.est_lossderiv(y_est, y)",
         "g = np.asarray(self.est_lossderiv(y_est, y), dtype=np.float32)")])


def test_a_saturated_float32_softmax_output_is_judged_with_float32s_own_rounding(tmp_path):
    # softmax outputs under float32's tiny are 0 in float32; the first-order error
    # scale lacked float32's representation error (a correct network failed at (2, "h"))
    rep = check_submission(float32_submission(tmp_path, 0.45), scenarios=["digits"], timeout=20)
    assert rep.verdict == "pass", rep.to_text()
    assert not rep.message  # 0.45 randn is not large enough to be replaced


@pytest.mark.parametrize("scale", ["1.0", "10.0"])
def test_a_large_init_is_replaced_and_said(tmp_path, scale):
    # findings 18, 19: unit-variance (or larger) init saturates units (exact zero gradients broke
    # discovery) and the course's SGD run diverges to inf in float32
    rep = check_submission(float32_submission(tmp_path, scale),
                           scenarios=["autoencoder", "regression"], timeout=20)
    assert rep.verdict == "pass", rep.to_text()
    assert "so large" in rep.message and "0.1 x randn" in rep.message


def test_degenerate_names_what_makes_weights_vacuous():
    import numpy as np

    from refmlp.check.sandbox import discovery

    assert discovery.degenerate(np.zeros((3, 2))) == "all zero"
    assert discovery.degenerate(0.3 * np.ones((3, 2))) == "constant"
    assert discovery.degenerate(np.tile([[0.1, -0.2]], (3, 1))) == "rows all equal"
    assert discovery.degenerate(np.eye(3) + 0.1) == "symmetric"
    assert discovery.degenerate(np.random.default_rng(0).standard_normal((20, 64))).startswith("so large")
    assert discovery.degenerate(0.1 * np.random.default_rng(0).standard_normal((20, 64))) is None
    assert discovery.degenerate(np.ones((1, 1))) is None  # 1 x 1: constant by shape


def test_a_step_that_reshapes_b_is_a_failure_not_an_adapter_error(tmp_path):
    # discovery matched shapes after step, lost b_k, and asked for an adapter
    rep = check_submission(submission(tmp_path, replace=[(
        "self.bs[k] -= alpha * self.dbs[k]",
        "self.bs[k] = self.bs[k] - alpha * self.dbs[k].reshape(-1, 1)")]),
        scenarios=["digits"], timeout=20)
    assert rep.verdict == "fail" and rep.exit_code == 1, rep.to_text()
    assert rep.first_divergence == {"layer": 2, "quantity": "b_derivs"}
    assert rep.diagnosis["key"] == "bias_column_broadcast"
    assert "b_2 has shape (10, 10)" in rep.diagnosis["message"]


def test_fprime_of_h_is_not_named_where_it_changes_nothing(tmp_path):
    # the direct route: fderiv receiving h_k on leaky layers gives the reference's
    # numbers, so another error must not be blamed on it
    rep = check_submission(submission(tmp_path, replace=[
        (FD_LINE, "                g = g * self.fds[k](self.h[k])"),
        ("self.dWs[k] += np.outer(g, self.h[k - 1])",
         "self.dWs[k] += np.outer(g, self.h[k - 1]) * (1 + 1e-6 * (k == 0))")]),
        scenarios=["disc"], timeout=20)
    assert rep.first_divergence == {"layer": 1, "quantity": "W_derivs"}
    assert rep.diagnosis["key"] == "unknown", rep.diagnosis
