"""refmlp.gradients_report / assert_gradients_match on networks refmlp did not build: what is
judged, what is skipped and said so, the conventions named when only they differ, and errors that
say what was received."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from refmlp import MLP, Spec, assert_gradients_match, gradients_report

rng = np.random.default_rng(3)
X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))


def reference_net(dtype=np.float64, loss="squared"):
    """refmlp's own network stands in for a correct user implementation: its numbers, their API."""
    return MLP(Spec.build(3, [4], 2, activation="tanh", loss=loss), seed=1, dtype=dtype)


def user_view(net: MLP, reduction: str, layout: str = "out_in", everything=False, bias_shape=None):
    """(params, grads_fn) as a user's code holds them."""
    T = (lambda W: W) if layout == "out_in" else (lambda W: W.T)
    shape = bias_shape or (lambda n: (n,))
    params = [(T(net.W[k]), net.b[k].reshape(shape(len(net.b[k])))) for k in range(1, net.L + 1)]

    def grads_fn(X, y):
        tr = net.backward(X, y, reduction)
        grads = [(T(tr.W_derivs[k]), tr.b_derivs[k].reshape(shape(len(tr.b_derivs[k]))))
                 for k in range(1, net.L + 1)]
        if not everything:
            return grads
        return {"grads": grads, "a": tr.a[1:], "h": tr.h[1:], "g": tr.g[1:], "loss": tr.loss}

    return params, grads_fn


OPTIONS = dict(activations=["tanh", "identity"], loss="squared")


@pytest.mark.parametrize("layout", ["out_in", "in_out"])
@pytest.mark.parametrize("reduction", ["sum", "mean", "element_mean"])
def test_everything_given_is_judged(layout, reduction):
    params, grads_fn = user_view(reference_net(), reduction, layout, everything=True)
    report = assert_gradients_match(params, grads_fn, X, Y, reduction=reduction, layout=layout,
                                    **OPTIONS)
    assert not report.skipped and {r.verdict for r in report.rows} == {"pass"}
    assert len(report.rows) == 2 * 2 + 1 + 3 * 2


def test_what_is_not_given_is_skipped_and_said_so():
    params, grads_fn = user_view(reference_net(), "sum")
    report = gradients_report(params, grads_fn, X, Y, reduction="sum", **OPTIONS)
    assert report.passed and report.skipped == ["a_1", "h_1", "a_2", "h_2", "loss", "g_2", "g_1"]
    assert "not given, so not judged: a_1..a_2, h_1..h_2, loss, g_1..g_2" in report.message()


def test_a_wrong_g_given_is_named_before_the_gradients_it_feeds():
    params, grads_fn = user_view(reference_net(), "sum", everything=True)

    def broken(X, y):
        out = grads_fn(X, y)
        out["g"][0] = out["g"][0] * 1.01
        return out

    report = gradients_report(params, broken, X, Y, reduction="sum", **OPTIONS)
    assert report.first_divergence == {"layer": 1, "quantity": "g"}


def test_biases_stored_as_rows_are_read_as_the_user_stores_them():
    params, grads_fn = user_view(reference_net(), "mean", "in_out", bias_shape=lambda n: (1, n))
    assert gradients_report(params, grads_fn, X, Y, reduction="mean", layout="in_out",
                            **OPTIONS).passed


@pytest.mark.parametrize("theirs, told, fragment", [
    ("sum", "mean", "B = 8 times torch's: your loss sums over the batch"),
    ("mean", "sum", "1/B = 1/8 of torch's: your loss is a mean over the batch"),
    ("element_mean", "mean", "1/n_L = 1/2 of torch's"),
])
def test_a_reduction_mix_up_is_named(theirs, told, fragment):
    params, grads_fn = user_view(reference_net(), theirs)
    report = gradients_report(params, grads_fn, X, Y, reduction=told, **OPTIONS)
    assert not report.passed and fragment in report.hint, report.hint


def test_half_squared_against_squared_is_named_with_every_factor_that_fits():
    """Two outputs: half the gradient is also 1/n_L of it, and both readings are given."""
    params, grads_fn = user_view(reference_net(loss="half_squared"), "mean")
    report = gradients_report(params, grads_fn, X, Y, reduction="mean", **OPTIONS)
    assert "half torch's" in report.hint and "'half_squared'" in report.hint
    assert "1/n_L = 1/2" in report.hint


def test_float32_is_judged_by_float32_and_a_dtype_slip_fails():
    net = reference_net(np.float32)
    params, grads_fn = user_view(net, "mean")
    report = gradients_report(params, grads_fn, X, Y, reduction="mean", **OPTIONS)
    assert report.passed and report.tolerance["dtype"] == "float32"

    def in_float64(X, y):
        return [(dW.astype(np.float64), db) for dW, db in grads_fn(X, y)]

    report = gradients_report(params, in_float64, X, Y, reduction="mean", **OPTIONS)
    assert "dtype float64 where float32 was expected" in report.message()


@pytest.mark.parametrize("call, fragment", [
    (dict(params=[(np.zeros((4, 3)), np.zeros(4)), (np.zeros((2, 5)), np.zeros(2))]),
     "layer 2: W_2 of shape (2, 5) and b_2 of shape (2,) do not fit after layer 1's 4 outputs"),
    (dict(layout="rows"), "layout must be one of out_in, in_out; got 'rows'"),
    (dict(reduction="average"), "unknown reduction 'average'"),
    (dict(activations=["tanh"]), "one activation per layer, 2 of them"),
    (dict(grads_fn=lambda X, y: {"gradients": []}), "the keys ['gradients']"),
    (dict(grads_fn=lambda X, y: [(0, 0)]), "one entry per layer, 2 of them"),
])
def test_errors_say_what_was_received(call, fragment):
    params, grads_fn = user_view(reference_net(), "sum")
    kwargs = dict(params=params, grads_fn=grads_fn, X=X, y=Y, reduction="sum", **OPTIONS)
    kwargs.update(call)
    with pytest.raises(ValueError) as err:
        gradients_report(**kwargs)
    assert fragment in str(err.value), str(err.value)


def test_the_repr_is_one_line_however_large_the_network():
    net = MLP(Spec.build(64, [256, 256], 10, activation="relu", loss="squared"), seed=0)
    Xb, Yb = rng.normal(size=(128, 64)), rng.normal(size=(128, 10))
    params, grads_fn = user_view(net, "sum")
    text = repr(gradients_report(params, grads_fn, Xb, Yb, activations="relu", loss="squared",
                                 reduction="mean"))
    assert "\n" not in text and len(text) < 200 and "first divergence: b_derivs_3" in text


def test_hypothesis_is_imported_by_refmlp_strategies_only():
    blocked = ("import sys; sys.modules['hypothesis'] = None\n"
               "import refmlp, refmlp.external, refmlp.pytest_plugin, refmlp.compare\n"
               "try:\n    import refmlp.strategies\nexcept ModuleNotFoundError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refmlp.strategies needs hypothesis" in done.stdout and "pip install hypothesis" in done.stdout
