"""Your own network against torch, in one call: its gradients, and its a, h and g when it has them.

    import refmlp
    refmlp.assert_gradients_match(
        net.params, net.grads, X, Y,          # [(W_1, b_1), ...] and a function of (X, y)
        activations=["relu", "identity"], loss="half_squared", reduction="mean", layout="in_out",
    )

refmlp builds the torch twin of the network from your weights (``nn.Linear`` layers and the
activations named), runs the batch through it, works out every element's error scale
(:mod:`refmlp.rounding`) and compares your numbers with torch's in the order the data flows. On a
mismatch :func:`assert_gradients_match` raises an AssertionError whose message is the report's:
the first divergence (layer and quantity), its figures and what it most likely means.
:func:`gradients_report` returns the whole report instead (``.to_table()``, ``.to_json()``).

Conventions for your side:

- ``params`` is a list of (W_k, b_k) for k = 1..L, the first hidden layer first. ``layout="out_in"``:
  W_k is (n_k, n_{k-1}), torch's and the notes' a = W h + b; ``layout="in_out"``: W_k is
  (n_{k-1}, n_k), for a = h W + b. b_k holds n_k numbers in any shape ((n_k,), (1, n_k), (n_k, 1)).
- ``grads_fn(X, y)`` computes on the same weights and returns either the list of (dW_k, db_k),
  each of the shape of its W_k and b_k, or a dict with the key ``"grads"`` holding that list and,
  optionally, ``"a"`` and ``"h"`` (lists of a_k = pre-activations and h_k = activations, k = 1..L,
  each (B, n_k), one sample a row), ``"g"`` (dLoss/da_k, k = 1..L, (B, n_k)) and ``"loss"`` (a
  number). Each one given is judged; each one not given is skipped, and the report says so.
- The dtype is your W_1's, float64 or float32; X is handed to ``grads_fn`` in it.
- ``loss`` is a name of :data:`refmlp.losses.LOSSES`: ``"squared"`` sum (y - y_est)^2,
  ``"half_squared"`` 1/2 sum (y - y_est)^2, ``"absolute"``, ``"logistic"`` (binary cross-entropy
  on a logistic output), ``"cross_entropy"`` (on softmax). ``reduction`` says what the batch loss
  divides the sum over samples by (:data:`refmlp.losses.REDUCTIONS`): ``"sum"`` nothing,
  ``"mean"`` B, ``"element_mean"`` B n_L, which is torch's ``nn.MSELoss()`` as constructed by
  default. There is no default: the sum / mean mix-up is the bug this catches.

This module imports torch when it is called (through :mod:`refmlp.mirror`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .activations import Activation, get_activation
from .compare import Report, compare_traces
from .losses import Loss, check_reduction, get_loss
from .network import DTYPES, MLP, Layer, Spec, Trace
from .tolerance import parity_tolerance

LAYOUTS = ("out_in", "in_out")
OPTIONAL = ("a", "h", "g", "loss")
GIVEN_KEYS = ("grads", *OPTIONAL)


def spec_from_params(params, activations, loss: Loss, layout: str) -> tuple[Spec, list, list]:
    """(the Spec, W and b as lists 1..L in refmlp's (out, in) layout) of the user's parameters."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    params = list(params)
    if not params:
        raise ValueError("params must be a list of (W, b) per layer, the first layer first; got an empty list")
    W, b = [None], [None]
    for k, pair in enumerate(params, start=1):
        try:
            Wk, bk = pair
        except (TypeError, ValueError):
            raise ValueError(f"params[{k - 1}] must be a pair (W_{k}, b_{k}); got {type(pair).__name__}") from None
        Wk = np.asarray(Wk)
        if Wk.ndim != 2:
            raise ValueError(f"W_{k} must be a 2-D array; got shape {Wk.shape}")
        W.append(Wk if layout == "out_in" else Wk.T)
        b.append(np.asarray(bk).reshape(-1))
    sizes = [W[1].shape[1]] + [Wk.shape[0] for Wk in W[1:]]

    def after(k):
        return "" if k == 1 else f" after layer {k - 1}'s {sizes[k - 1]} outputs"

    for k in range(1, len(W)):
        if W[k].shape[1] != sizes[k - 1] or b[k].shape != (sizes[k],):
            shape = params[k - 1][0].shape if hasattr(params[k - 1][0], "shape") else None
            want = (sizes[k], sizes[k - 1]) if layout == "out_in" else (sizes[k - 1], sizes[k])
            raise ValueError(
                f"layer {k}: W_{k} of shape {shape} and b_{k} of shape {np.shape(params[k - 1][1])} do "
                f"not fit{after(k)}; with layout={layout!r} W_{k} must "
                f"be {want} and b_{k} hold {sizes[k]} numbers"
            )
    L = len(W) - 1
    acts = layer_activations(activations, L, loss)
    return Spec(sizes[0], tuple(Layer(n, act) for n, act in zip(sizes[1:], acts)), loss), W, b


def layer_activations(activations, L: int, loss: Loss) -> list[Activation]:
    """A list of L activations; one name is every hidden layer's, the output the loss's own."""
    if isinstance(activations, (str, Activation)):
        return [get_activation(activations)] * (L - 1) + [get_activation(loss.default_output)]
    acts = [get_activation(a) for a in activations]
    if len(acts) != L:
        raise ValueError(f"activations must name one activation per layer, {L} of them (or one "
                         f"name for every hidden layer); got {len(acts)}: {list(activations)}")
    return acts


def as_given(result, L: int) -> dict:
    """The user's ``grads_fn`` result as a dict with "grads" and whichever optional keys it has."""
    given = dict(result) if isinstance(result, dict) else {"grads": result}
    unknown = set(given) - set(GIVEN_KEYS)
    if unknown or "grads" not in given:
        raise ValueError(
            "grads_fn must return the list of (dW, db) per layer, or a dict with the key 'grads' "
            f"and optionally {', '.join(map(repr, OPTIONAL))}; got "
            + (f"the keys {sorted(given)}" if isinstance(result, dict) else type(result).__name__)
        )
    for key in ("grads", "a", "h", "g"):
        if key in given and (given[key] is None or len(given[key]) != L):
            n = "nothing" if given[key] is None else len(given[key])
            raise ValueError(f"grads_fn's {key!r} must hold one entry per layer, {L} of them, the "
                             f"first layer first; got {n}")
    return given


def user_trace(given: dict, X: np.ndarray, params) -> Trace:
    """The user's numbers as a Trace in refmlp's layout, lists 1..L; what was not given is None.

    dW_k stays in the user's layout (the expected side is put in it: :func:`in_user_layout`);
    db_k is flattened when it has b_k's shape: anything else reaches the comparison as it is, and
    fails there.
    """
    L = len(params)
    W_derivs, b_derivs = [None], [None]
    for k, pair in enumerate(given["grads"], start=1):
        try:
            dW, db = (np.asarray(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"grads_fn's gradient of layer {k} must be a pair (dW_{k}, db_{k}); "
                             f"got {type(pair).__name__}") from None
        W_derivs.append(dW)
        b_derivs.append(db.reshape(-1) if db.shape == np.shape(params[k - 1][1]) else db)

    def per_layer(key):
        return [None] + [np.asarray(v) for v in given[key]] if key in given else [None] * (L + 1)

    h = per_layer("h")
    h[0] = X
    trace = Trace(a=per_layer("a"), h=h, g=per_layer("g") if "g" in given else [],
                  W_derivs=W_derivs, b_derivs=b_derivs)
    trace.loss = float(given["loss"]) if given.get("loss") is not None else None
    return trace


def in_user_layout(trace: Trace, scales: dict, layout: str) -> None:
    """Expected W_derivs and their error scales transposed to (in, out), so that the report's
    shapes and indices are the user's own."""
    if layout == "in_out":
        trace.W_derivs = [None] + [w.T for w in trace.W_derivs[1:]]
        scales["W_derivs"] = [None] + [m.T for m in scales["W_derivs"][1:]]


def gradients_report(
    params: Sequence,
    grads_fn: Callable,
    X,
    y,
    *,
    activations: str | Sequence,
    loss: str | Loss,
    reduction: str,
    layout: str = "out_in",
    name: str = "yours",
) -> Report:
    """Your network's gradients (and its a, h, g, loss when given) against its torch twin: the
    parity report (:class:`refmlp.compare.Report`). Conventions in the module docstring."""
    from .mirror import torch_trace, twin
    from .rounding import error_scales

    loss = get_loss(loss)
    check_reduction(loss, reduction)
    spec, W, b = spec_from_params(params, activations, loss, layout)
    dtype = str(W[1].dtype)
    if dtype not in DTYPES:
        raise ValueError(f"the weights must be float64 or float32; W_1 is {dtype}")
    net = MLP(spec, W, b, dtype=DTYPES[dtype])
    X = np.asarray(X, dtype=net.dtype)
    if X.ndim != 2 or X.shape[1] != spec.n_in:
        raise ValueError(f"X must have shape (B, {spec.n_in}), one sample a row; got {X.shape}")
    Y = net.targets(y, X.shape[0])
    expected = torch_trace(twin(net), X, Y, reduction)
    scales = error_scales(net, expected, Y, parity_tolerance(dtype).rtol)
    given = as_given(grads_fn(X, y), spec.L)
    actual = user_trace(given, X, params)
    in_user_layout(expected, scales, layout)
    meta = {"spec": spec.describe(), "dtype": dtype, "reduction": reduction, "layout": layout,
            "batch": int(X.shape[0])}
    report = compare_traces(actual, expected, dtype, (name, "torch"), meta, scales,
                            optional=OPTIONAL)
    report.hint = convention_hint(report, actual, expected, spec, reduction) or report.hint
    return report


def convention_hint(report: Report, actual: Trace, expected: Trace, spec: Spec, reduction: str):
    """When every gradient is torch's times one common factor, the conventions differ, not the
    backprop: name the factor and the convention it means."""
    if report.passed or report.first_divergence["quantity"] not in ("W_derivs", "b_derivs", "g"):
        return None
    mine, theirs = [], []
    for k in range(1, spec.L + 1):
        for q in ("W_derivs", "b_derivs"):
            x, e = getattr(actual, q)[k], getattr(expected, q)[k]
            if np.shape(x) != np.shape(e):
                return None
            mine.append(np.ravel(x).astype(np.float64))
            theirs.append(np.ravel(e).astype(np.float64))
    x, e = np.concatenate(mine), np.concatenate(theirs)
    big = np.abs(e) > 1e-3 * np.abs(e).max(initial=0.0)
    if not big.any():
        return None
    ratios = x[big] / e[big]
    c = float(np.median(ratios))
    if not (np.isfinite(c) and c != 0 and np.allclose(ratios, c, rtol=1e-3)):
        return None
    B, n_out = actual.h[0].shape[0], spec.layers[-1].size
    known = [  # every factor that fits is named: B may equal 2 or n_L
        (B, f"your gradients are B = {B} times torch's: your loss sums over the batch where "
            f"reduction={reduction!r} divides by B; pass reduction='sum'"),
        (1 / B, f"your gradients are 1/B = 1/{B} of torch's: your loss is a mean over the batch; "
                "pass reduction='mean'"),
        (1 / n_out, f"your gradients are 1/n_L = 1/{n_out} of torch's: your loss is a mean over "
                    "the outputs as well (torch's nn.MSELoss() default); pass "
                    "reduction='element_mean'"),
        (n_out, f"your gradients are n_L = {n_out} times torch's: your loss is a mean over the "
                "samples only; pass reduction='mean'"),
        (2.0, "your gradients are twice torch's: you compute the gradient of sum (y - y_est)^2 "
              "(loss='squared') where the half squared error was named"),
        (0.5, "your gradients are half torch's: you compute the gradient of 1/2 sum (y - y_est)^2 "
              "(loss='half_squared') where 'squared' was named"),
    ]
    if np.isclose(c, 1.0, rtol=1e-3):
        return None
    fits = [text for factor, text in known if np.isclose(c, factor, rtol=1e-3)]
    if fits:
        return "; or ".join(fits)
    return (f"every gradient is torch's times {c:.6g}: a constant factor, so the backprop is right "
            "and the loss's scale or reduction differs")


def assert_gradients_match(params, grads_fn, X, y, **kwargs) -> Report:
    """:func:`gradients_report`, raising AssertionError with the report's message (the first
    divergence, its figures, the likely cause) when anything differs. Returns the report."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    report = gradients_report(params, grads_fn, X, y, **kwargs)
    if not report.passed:
        raise AssertionError(report.message())
    return report
