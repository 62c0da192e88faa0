"""The report: rows, first divergence, tolerance floors, JSON, the pytest assertion, and the mirror."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from refmlp import MLP, Spec, assert_parity, parity
from refmlp.compare import POLICY, compare_arrays, compare_traces
from refmlp.mirror import TorchMLP, from_torch, to_torch, torch_trace, twin


@pytest.fixture
def case():
    spec = Spec.build(3, [5, 4], 2, activation="tanh", loss="squared")
    net = MLP(spec, seed=1)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    return net, X, Y


def test_rows_follow_the_data_flow(case):
    net, X, Y = case
    report = parity(net, X, Y)
    labels = [r.label for r in report.rows]
    assert labels == [
        "a_1", "h_1", "a_2", "h_2", "a_3", "h_3", "loss",
        "g_3", "b_derivs_3", "W_derivs_3", "g_2", "b_derivs_2", "W_derivs_2",
        "g_1", "b_derivs_1", "W_derivs_1",
    ]
    assert report.passed and report.first_divergence is None and report.hint is None


def test_first_divergence_is_the_earliest_in_flow_order(case):
    net, X, Y = case
    mine = net.backward(X, Y)
    theirs = torch_trace(twin(net), X, Y)
    broken = copy.deepcopy(mine)
    broken.g[2][0, 0] += 1.0  # later rows computed from g_2 are left as they were
    broken.W_derivs[1][0, 0] += 1.0
    report = compare_traces(broken, theirs)
    assert report.first_divergence == {"layer": 2, "quantity": "g"}
    assert [r.label for r in report.rows if r.verdict == "fail"] == ["g_2", "W_derivs_1"]
    row = next(r for r in report.rows if r.label == "g_2")
    assert row.n_mismatch == 1 and row.max_abs_index == [0, 0]
    assert row.max_abs_diff == pytest.approx(1.0)
    assert "W_3^T g" in report.hint


def test_shape_and_dtype_are_checked_before_values(case):
    net, X, Y = case
    mine, theirs = net.backward(X, Y), torch_trace(twin(net), X, Y)
    mine.W_derivs[2] = mine.W_derivs[2].T
    report = compare_traces(mine, theirs)
    assert report.rows[12].problem == "shape (5, 4) where (4, 5) was expected"
    assert "transposed" in report.hint
    mine.b_derivs[3] = mine.b_derivs[3].astype(np.float32)
    report = compare_traces(mine, theirs)
    assert report.rows[8].problem == "dtype float32 where float64 was expected"
    assert report.first_divergence == {"layer": 3, "quantity": "b_derivs"}
    assert "float32" in report.hint


def test_non_finite_values_always_fail():
    row = compare_arrays("a", 1, np.array([1.0, np.nan]), np.array([1.0, 2.0]), 1e-10)
    assert row.verdict == "fail"
    assert row.problem == "non-finite values: actual nan, expected 2.0 at index (1,)"
    row = compare_arrays("a", 1, np.array([np.inf, 1.0]), np.array([-np.inf, 1.0]), 1e-10)
    assert row.verdict == "fail" and "actual inf, expected -inf at index (0,)" in row.problem
    # the same nan on both sides (a nan input, say): nothing can be judged through it
    row = compare_arrays("a", 1, np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), 1e-10)
    assert row.verdict == "fail" and "on both sides" in row.problem


def test_floor_forgives_cancellation_but_not_a_wrong_value():
    """b = sum of terms of size 1 that cancel to 1e-3: an error of 1e-12 is rounding of those
    terms (floor 2, allowed 2e-10), a factor of 2 is not."""
    g = np.array([[1.0], [-1.0 + 1e-3]])
    expected = g.sum(axis=0)
    ok = compare_arrays("b_derivs", 1, expected + 1e-12, expected, 1e-10, np.abs(g).sum(axis=0))
    bad = compare_arrays("b_derivs", 1, expected * 2, expected, 1e-10, np.abs(g).sum(axis=0))
    assert ok.verdict == "pass" and bad.verdict == "fail"
    # Without the floor the same rounding error would fail: the floor is what forgives it.
    assert compare_arrays("b_derivs", 1, expected + 1e-12, expected, 1e-10, 0.0).verdict == "fail"


def test_a_quantity_missing_on_one_side_fails(case):
    net, X, Y = case
    forward_only = net.forward(X)
    report = compare_traces(forward_only, torch_trace(twin(net), X, Y))
    assert not report.passed
    assert report.first_divergence == {"layer": None, "quantity": "loss"}
    problems = {r.label: r.problem for r in report.rows if r.problem}
    assert problems["loss"] == "missing on the actual side"
    assert problems["W_derivs_3"] == problems["g_1"] == "missing on the actual side"
    assert compare_traces(forward_only, net.forward(X)).passed  # both forward only: nothing missing


def test_loss_floor_does_not_forgive_a_wrong_squared_loss():
    """Squared error after a logistic output adds terms in [0, 1] whatever |a_L| is: a wrong loss
    fails even with pre-activations of 1e3 (the logits' floor is only for losses on logits)."""
    spec = Spec.build(3, [], 2, loss="squared", output_activation="logistic")
    net = MLP(spec, W=[None, np.full((2, 3), 300.0)], b=[None, np.zeros(2)])
    X, Y = np.ones((4, 3)), np.full((4, 2), 0.25)
    mine, theirs = net.backward(X, Y), torch_trace(twin(net), X, Y)
    assert compare_traces(mine, theirs).passed
    mine.loss *= 0.5
    assert compare_traces(mine, theirs).first_divergence == {"layer": None, "quantity": "loss"}


def test_failing_report_is_strict_json(case):
    net, X, Y = case
    mine, theirs = net.backward(X, Y), torch_trace(twin(net), X, Y)
    theirs.b_derivs[1][:] = 0.0  # expected zeros: the relative difference is infinite
    data = json.loads(compare_traces(mine, theirs).to_json(), parse_constant=pytest.fail)
    row = next(r for r in data["rows"] if r["quantity"] == "b_derivs" and r["layer"] == 1)
    assert row["max_rel_diff"] == "inf" and data["verdict"] == "fail"


def test_torch_trace_takes_the_same_targets_as_refmlp():
    """(B,) for one output is (B, 1), not broadcast to (B, B) by MSELoss."""
    net = MLP(Spec.build(3, [4], 1, loss="squared"))
    X, y = np.random.default_rng(0).standard_normal((5, 3)), np.arange(5.0)
    model = twin(net)
    assert torch_trace(model, X, y).loss == torch_trace(model, X, y[:, None]).loss
    assert parity(net, X, y).passed
    with pytest.raises(ValueError, match=r"y must hold one target per sample, 5 of them; got 4"):
        torch_trace(model, X, y[:4])


def test_json_round_trip_and_table(case):
    net, X, Y = case
    report = parity(net, X, Y)
    data = json.loads(report.to_json())
    assert data["verdict"] == "pass"
    assert data["tolerance"]["rtol"] == POLICY["float64"].rtol
    assert data["tolerance"]["reason"] == POLICY["float64"].reason
    assert len(data["rows"]) == len(report.rows)
    table = report.to_table()
    assert "W_derivs_2" in table and "verdict: PASS" in table


def test_assert_parity_fails_with_the_first_divergence(case):
    net, X, Y = case
    assert assert_parity(net, X, Y).passed
    net.fprime[2] = lambda u: np.ones_like(u)  # drop f' at layer 2
    with pytest.raises(AssertionError, match="first divergence: layer 2, g"):
        assert_parity(net, X, Y)


def test_weights_round_trip_and_shapes_are_checked(case):
    net, _, _ = case
    model = twin(net)
    with torch.no_grad():
        model.linears[0].weight.mul_(2)
    from_torch(model, net)
    assert np.array_equal(net.W[1], model.linears[0].weight.detach().numpy())
    other = TorchMLP(Spec.build(3, [4, 5], 2, loss="squared"))
    with pytest.raises(ValueError, match=r"sizes differ"):
        to_torch(net, other)
    W, b = list(net.W), list(net.b)
    W[2] = W[2].T
    with pytest.raises(ValueError, match=r"W\[2\] must have shape \(out, in\) = \(4, 5\); got \(5, 4\)"):
        net.set_params(W, b)


def test_float32_twin_stays_float32(case):
    net, X, Y = case
    net32 = MLP(net.spec, net.W, net.b, dtype=np.float32)
    trace = torch_trace(twin(net32), X, Y)
    assert all(t.dtype == np.float32 for t in trace.a[1:] + trace.g[1:] + trace.W_derivs[1:])
    assert parity(net32, X, Y).passed


def test_parity_of_an_mlp_refuses_settings_it_would_ignore(case):
    net, X, Y = case
    with pytest.raises(ValueError, match=r"dtype, seed given with an MLP, which has its own weights and dtype \(float64\)"):
        parity(net, X, Y, dtype="float32", seed=3)
    report = parity(net.spec, X, Y, dtype="float32", init="torch", seed=3)
    assert report.meta["dtype"] == "float32" and report.passed


def test_compare_traces_given_the_network_computes_the_error_scales(case):
    """The same verdicts and rule as parity's, which passes the scales in itself."""
    net, X, Y = case
    mine, theirs = net.backward(X, Y), torch_trace(twin(net), X, Y)
    report = compare_traces(mine, theirs, net=net, y=Y)
    expected = parity(net, X, Y)
    assert "running error analysis" in report.tolerance["rule"] == expected.tolerance["rule"]
    assert [r.tolerance_used for r in report.rows] == [r.tolerance_used for r in expected.rows]
    with pytest.raises(ValueError, match="given net but not y"):
        compare_traces(mine, theirs, net=net)
