"""scikit-learn as a third oracle: its MLP's gradients on refmlp's weights, and its SGD runs.

scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` is the same network as refmlp's when:

- every hidden layer has the same activation, one of identity, logistic, tanh, relu (it has no
  leaky_relu), and
- the output and loss are one of its three fused pairs, where its output delta is ``h_L - y``:
  logistic output + logistic loss (binary cross-entropy, one output), softmax + cross_entropy
  (multiclass), identity + squared (regression).

Its conventions, and how this module maps them onto refmlp's (reduction "mean"):

- **Mean over samples**: every gradient is divided by the batch size B, refmlp's ``"mean"``.
- **The squared loss is halved**: its delta is h_L - y where refmlp's is 2 (h_L - y); its
  gradients are multiplied by c = 2 here (exact in floating point), c = 1 for the log losses.
  Its squared-loss *value* is 0.5 x the mean over samples *and outputs*, so it is multiplied by
  2 n_out; its gradient is not divided by n_out: with several outputs the value and the gradient
  belong to different functions (scikit-learn issue #8349).
- **alpha is an L2 term** (alpha / 2B) ||W||^2 on the weights, not the biases, added to the loss;
  its gradient (alpha / B) W_k is added to refmlp's and torch's W_derivs before comparing (times c).
- **Weights are stored transposed**: ``coefs_[k-1]`` is W_k^T, (in, out); ``intercepts_[k-1]`` is
  b_k. Its ``activations[k]`` is h_k and ``deltas[k-1]`` is B x refmlp's g_k / c.
- Its log losses are computed from probabilities clipped to [eps, 1 - eps], not from the logits:
  a sample whose output saturates (p within eps of 0 or 1) has a different loss value there.

The gradient comes from its private ``_backprop``. Private API changes between releases, so its
signature is read with :mod:`inspect` and checked against the forms this module knows; any other
form, or no scikit-learn at all, raises :class:`Unavailable` with the reason, never a crash.

**Runs** (:class:`SklearnRunner`, used by :mod:`refmlp.trajectory`): one ``partial_fit`` call per
mini-batch (with ``batch_size`` set to that batch's size) is one step of its own optimizer on
exactly refmlp's batch. Its SGD, v_t = μ v_{t-1} - γ g_t, θ += v_t (Nesterov: θ += μ v_t - γ g_t),
is torch's, b_t = μ b_{t-1} + g_t, θ -= γ b_t (Nesterov: θ -= γ (g_t + μ b_t)), with v_t = -γ b_t
for a constant γ: the same numbers up to rounding, so it can match exactly. It has no dampening
and no weight decay (alpha is an L2 term divided by B, on weights only). Its Adam puts ε before
the bias correction, θ -= γ √(1 - β_2^t) / (1 - β_1^t) m_t / (√v_t + ε), where torch's puts it
after: the runs agree only to about ε / √v̂, and are reported, not judged. It has no AdamW.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

from .compare import BACKWARD, Report, compare_arrays, diagnose
from .tolerance import POLICY, SCALES_SKLEARN, coarse_floor, rule, sklearn_loss_floor
from .network import MLP, Trace

SKLEARN_HIDDEN = ("identity", "logistic", "tanh", "relu")
# (loss, output activation) -> (estimator, c: refmlp's gradient / scikit-learn's)
PAIRS = {
    ("logistic", "logistic"): ("MLPClassifier", 1.0),
    ("cross_entropy", "softmax"): ("MLPClassifier", 1.0),
    ("squared", "identity"): ("MLPRegressor", 2.0),
}
KNOWN_BACKPROP = {
    # scikit-learn >= 1.5 (sample_weight added), and the form before it
    ("X", "y", "sample_weight", "activations", "deltas", "coef_grads", "intercept_grads"): True,
    ("X", "y", "activations", "deltas", "coef_grads", "intercept_grads"): False,
}


class Unavailable(Exception):
    """scikit-learn cannot serve as an oracle here; the message says why."""


def _sklearn():
    try:
        import sklearn
        from sklearn.neural_network import MLPClassifier, MLPRegressor
    except ImportError:
        raise Unavailable("scikit-learn is not installed: pip install scikit-learn") from None
    return sklearn, MLPClassifier, MLPRegressor


def backprop_form() -> bool:
    """Whether the installed ``_backprop`` takes ``sample_weight``; :class:`Unavailable` when its
    signature is none of the known ones."""
    sklearn, MLPClassifier, _ = _sklearn()
    method = getattr(MLPClassifier, "_backprop", None)
    if method is None:
        raise Unavailable(f"scikit-learn {sklearn.__version__} has no MLP _backprop (private API)")
    names = tuple(list(inspect.signature(method).parameters)[1:])
    if names not in KNOWN_BACKPROP:
        raise Unavailable(
            f"scikit-learn {sklearn.__version__}'s MLP _backprop takes {names}; refmlp knows "
            + " or ".join(str(k) for k in KNOWN_BACKPROP)
        )
    return KNOWN_BACKPROP[names]


def check_applicable(net: MLP) -> tuple[str, float]:
    """(estimator name, c) when scikit-learn has ``net``'s network; :class:`Unavailable` otherwise."""
    spec = net.spec
    hidden = {layer.activation.name for layer in spec.layers[:-1]}
    missing = hidden - set(SKLEARN_HIDDEN)
    if missing:
        raise Unavailable(
            f"scikit-learn's MLP has no {', '.join(sorted(missing))} hidden activation; it has "
            f"{', '.join(SKLEARN_HIDDEN)}"
        )
    if len(hidden) > 1:
        raise Unavailable(f"scikit-learn uses one activation for every hidden layer; got {sorted(hidden)}")
    pair = (spec.loss.name, spec.layers[-1].activation.name)
    if pair not in PAIRS:
        raise Unavailable(
            f"scikit-learn has no {pair[1]} output with the {pair[0]} loss; its pairs are "
            + ", ".join(f"{o} + {l}" for l, o in PAIRS)
        )
    if pair == ("logistic", "logistic") and spec.layers[-1].size != 1:
        raise Unavailable("refmlp's logistic loss with several outputs is multi-label; the oracle "
                          "covers scikit-learn's binary case (one output)")
    return PAIRS[pair]


def _estimator(net: MLP, **params):
    _, MLPClassifier, MLPRegressor = _sklearn()
    kind, _ = check_applicable(net)
    cls = MLPClassifier if kind == "MLPClassifier" else MLPRegressor
    hidden = [layer.size for layer in net.spec.layers[:-1]]
    activation = net.spec.layers[0].activation.name if hidden else "identity"
    return cls(hidden_layer_sizes=hidden, activation=activation, **params)


def _labels(net: MLP, Y: np.ndarray):
    """refmlp's (B, n_L) targets in the form scikit-learn's fit takes."""
    loss = net.spec.loss.name
    if loss == "logistic":
        return Y[:, 0].astype(np.int64)
    if loss == "cross_entropy":
        return Y.argmax(axis=1)
    return Y[:, 0] if Y.shape[1] == 1 else Y  # (n,) for one target: no DataConversionWarning


def _set_weights(est, net: MLP) -> None:
    est.coefs_ = [np.array(net.W[k].T, order="C") for k in range(1, net.L + 1)]  # (in, out)
    est.intercepts_ = [np.array(net.b[k]) for k in range(1, net.L + 1)]


def sklearn_trace(net: MLP, X, y, alpha: float = 0.0) -> Trace:
    """scikit-learn's forward and backward on ``net``'s weights, in refmlp's conventions
    (reduction "mean", batched layout, lists 1..L): h, the loss, g, W_derivs and b_derivs.

    ``a`` is left empty: scikit-learn overwrites a_k with h_k in place and keeps no a.
    """
    with_weight = backprop_form()
    _, c = check_applicable(net)
    X = np.array(net.forward(X).h[0])  # checked, cast to the network's dtype, and our own copy
    B = X.shape[0]
    Y = net.targets(y, B)
    est = _estimator(net, alpha=alpha)
    L = net.L
    est.n_layers_ = L + 1
    est.n_outputs_ = Y.shape[1]
    est.out_activation_ = net.spec.layers[-1].activation.name
    est.loss = "squared_error" if c == 2.0 else "log_loss"
    _set_weights(est, net)
    activations = [X] + [None] * L
    deltas, coef_grads, intercept_grads = [None] * L, [None] * L, [None] * L
    args = (X, Y) + ((None,) if with_weight else ()) + (activations, deltas, coef_grads, intercept_grads)
    loss, coef_grads, intercept_grads = est._backprop(*args)
    l2 = 0.5 * alpha * sum(float(np.dot(W.ravel(), W.ravel())) for W in est.coefs_) / B
    value = (loss - l2) * (2 * Y.shape[1] if c == 2.0 else 1.0)
    trace = Trace(
        a=[],
        h=list(activations),
        g=[None] + [c * d / B for d in deltas],
        W_derivs=[None] + [c * G.T for G in coef_grads],
        b_derivs=[None] + [c * g for g in intercept_grads],
    )
    trace.loss, trace.reduction = float(value), "mean"
    return trace


def with_l2(trace: Trace, net: MLP, alpha: float, c: float) -> Trace:
    """``trace`` with scikit-learn's L2 gradient c (alpha / B) W_k added to every W_derivs_k."""
    if alpha:
        B = trace.h[0].shape[0]
        trace.W_derivs = [None] + [trace.W_derivs[k] + c * alpha / B * net.W[k]
                                   for k in range(1, net.L + 1)]
    return trace


def compare_with_sklearn(actual: Trace, expected: Trace, net: MLP, Y, names=("refmlp", "sklearn"),
                         meta: dict | None = None) -> Report:
    """h, the loss, g, W_derivs and b_derivs of ``actual`` against scikit-learn's trace, layer by
    layer in data-flow order, with the tolerance policy of :mod:`refmlp.tolerance` (its coarse
    floors, and :func:`~refmlp.tolerance.sklearn_loss_floor` for the loss)."""
    dtype = str(expected.h[-1].dtype)
    tol = POLICY[dtype]
    L, rows = net.L, []
    for k in range(1, L + 1):
        rows.append(compare_arrays("h", k, actual.h[k], expected.h[k], tol.rtol))
    # scikit-learn keeps no a_L: the loss's terms are sized from refmlp's
    rows.append(compare_arrays("loss", None, float(actual.loss), float(expected.loss), tol.rtol,
                               sklearn_loss_floor(net.spec.loss, actual.a[-1], expected.h[-1], Y)))
    for k in range(L, 0, -1):
        for q in BACKWARD:
            rows.append(compare_arrays(q, k, getattr(actual, q)[k], getattr(expected, q)[k],
                                       tol.rtol, coarse_floor(q, expected, k)))
    failed = [r for r in rows if r.verdict == "fail"]
    return Report(
        verdict="fail" if failed else "pass",
        rows=rows,
        first_divergence={"layer": failed[0].layer, "quantity": failed[0].quantity} if failed else None,
        hint=diagnose(rows, L) if failed else None,
        tolerance={"dtype": dtype, "rtol": tol.rtol, "reason": tol.reason,
                   "rule": rule(SCALES_SKLEARN)},
        names=names,
        meta=meta or {},
    )


def sklearn_parity(net: MLP, X, y, alpha: float = 0.0, against: tuple[str, ...] = ("refmlp", "torch")
                   ) -> dict[str, Report]:
    """scikit-learn's gradients on ``net``'s weights against refmlp's (and torch's), reduction
    "mean", with scikit-learn's L2 term ``alpha`` added to theirs. One report per side."""
    expected = sklearn_trace(net, X, y, alpha)
    _, c = check_applicable(net)
    X = np.array(net.forward(X).h[0])  # checked, cast to the network's dtype, and our own copy
    Y = net.targets(y, X.shape[0])
    meta = {"spec": net.spec.describe(), "dtype": str(net.dtype), "reduction": "mean",
            "alpha": alpha, "batch": int(X.shape[0])}
    reports = {}
    for side in against:
        if side == "refmlp":
            trace = net.backward(X, Y, "mean")
        else:
            from .mirror import torch_trace, twin

            trace = torch_trace(twin(net), X, Y, "mean")
        trace = with_l2(trace, net, alpha, c)
        reports[side] = compare_with_sklearn(trace, expected, net, Y, (side, "sklearn"), meta)
    return reports


class SklearnRunner:
    """scikit-learn's own optimizer, one ``partial_fit`` per refmlp mini-batch (module docstring).

    ``note`` says why the run is not expected to match exactly (Adam), or is None.
    """

    name = "sklearn"

    def __init__(self, net: MLP, X, Y, optimizer: str, lr: float, options: dict, reduction: str):
        _, c = check_applicable(net)
        if reduction != "mean":
            raise Unavailable(f"scikit-learn averages over the batch (reduction 'mean'); got {reduction!r}")
        # SGD's step is lr x gradient, so the halved squared-loss gradient takes 2 lr (exact);
        # Adam's m / sqrt(v) does not see the gradient's scale (but for eps): lr as it is.
        params = dict(alpha=0.0, learning_rate="constant",
                      learning_rate_init=c * lr if optimizer == "sgd" else lr, shuffle=False,
                      early_stopping=False, random_state=0, tol=0.0, n_iter_no_change=10**9)
        self.note = None
        if optimizer == "sgd":
            unsupported = {k: v for k, v in options.items() if k in ("dampening", "weight_decay") and v}
            if unsupported:
                raise Unavailable(f"scikit-learn's SGD has no {', '.join(unsupported)}")
            params.update(solver="sgd", momentum=options.get("momentum", 0.0),
                          nesterovs_momentum=bool(options.get("nesterov", False)))
        elif optimizer == "adam":
            if options.get("weight_decay") or options.get("amsgrad"):
                raise Unavailable("scikit-learn's Adam has no weight_decay and no amsgrad")
            beta1, beta2 = options.get("betas", (0.9, 0.999))
            params.update(solver="adam", beta_1=beta1, beta_2=beta2, epsilon=options.get("eps", 1e-8))
            self.note = ("scikit-learn's Adam adds eps before the bias correction (torch: after): "
                         "it agrees to about eps / sqrt(v_hat), not exactly")
        else:
            raise Unavailable(f"scikit-learn has no {optimizer!r} optimizer (it has sgd and adam)")
        self.net, self.c, self.n_out = net, c, Y.shape[1]
        self.X, self.labels = X, _labels(net, Y)
        est = _estimator(net, batch_size=X.shape[0], **params)
        # One throwaway step builds the estimator's structure (layers, label binarizer, output
        # activation); then refmlp's weights go in, and a fresh optimizer is made at the next step.
        extra = {"classes": np.arange(max(2, Y.shape[1]))} if c == 1.0 else {}
        est.partial_fit(X, self.labels, **extra)
        if not hasattr(est, "_optimizer"):
            raise Unavailable("this scikit-learn keeps no _optimizer (private API): its optimizer "
                              "state cannot be reset to start from refmlp's weights")
        for k in range(1, net.L + 1):
            est.coefs_[k - 1][...] = net.W[k].T
            est.intercepts_[k - 1][...] = net.b[k]
        del est._optimizer
        self.est = est

    def step(self, idx) -> float:
        self.est.batch_size = len(idx)
        self.est.partial_fit(self.X[idx], self.labels[idx])
        return self.est.loss_ * (2 * self.n_out if self.c == 2.0 else 1.0)

    def epoch(self, order) -> float:
        """One epoch of scikit-learn's own loop: its batches of ``batch_size`` over X[order]."""
        self.est.partial_fit(self.X[order], self.labels[order])
        return self.est.loss_ * (2 * self.n_out if self.c == 2.0 else 1.0)

    def weights(self):
        W = [None] + [coef.T for coef in self.est.coefs_]
        return W, [None] + list(self.est.intercepts_)


AGREEMENT_CASES = [
    # (dataset, loss, hidden activation): each of scikit-learn's output pairs and hidden
    # activations; "regression" has two targets (its loss value divides by n_out, its gradient not)
    ("moons", "logistic", "relu"),
    ("digits", "cross_entropy", "tanh"),
    ("diabetes", "squared", "logistic"),
    ("regression", "squared", "identity"),
]


def main(argv: list[str] | None = None) -> int:
    """``python -m refmlp.sklearn_oracle``: scikit-learn's gradients against refmlp's and torch's
    on each of its output pairs, with and without alpha; the worst normwise relative difference
    max|x - y| / max|y| over h, g, W_derivs, b_derivs and the loss, and the tolerance used.
    Exit code 0 all pass, 1 a mismatch, 2 when the oracle is unavailable (the reason is printed)."""
    try:
        backprop_form()
    except Unavailable as exc:
        print(f"the scikit-learn oracle is unavailable: {exc}", file=sys.stderr)
        return 2
    import sklearn

    from .data import load_dataset
    from .network import Spec

    print(f"scikit-learn {sklearn.__version__}, float64, batch of 64, hidden 12,8, init torch seed 0")
    print(f"{'dataset':<12}{'loss':<15}{'hidden':<10}{'alpha':>6}  {'vs':<7}{'worst rel diff':>15}"
          f"{'tol used':>10}  verdict")
    failed = 0
    for dataset, loss, activation in AGREEMENT_CASES:
        data = load_dataset(dataset)
        kind = "class" if loss == "cross_entropy" else "vector"
        spec = Spec.build(data.X.shape[1], [12, 8], data.n_outputs(kind), activation=activation, loss=loss)
        net = MLP(spec, init="torch", seed=0)
        for alpha in (0.0, 0.01):
            for side, report in sklearn_parity(net, data.X[:64], data.targets(kind)[:64], alpha).items():
                rel = max(r.max_abs_diff / r.expected_max_abs for r in report.rows if r.expected_max_abs)
                used = max(r.tolerance_used for r in report.rows)
                failed += not report.passed
                print(f"{dataset:<12}{loss:<15}{activation:<10}{alpha:>6g}  {side:<7}{rel:>15.2e}"
                      f"{used:>10.1e}  {report.verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
