"""The loss registry: each loss's value, its derivative and its torch counterpart.

Conventions, stated once here for the whole package:

- **A sample's loss is a sum over its outputs** (the course's ``sum((y - y_est)^2)``).
- **A batch's loss is the sum of the per-sample losses divided by the ``reduction``'s divisor**
  (:data:`REDUCTIONS`): ``"sum"`` divides by 1, the course's (a mini-batch gradient is the sum of
  per-sample gradients); ``"mean"`` by the batch size B, the mean over *samples*;
  ``"element_mean"`` by B x n_L, the mean over every element, which is torch's own default
  ``reduction="mean"`` for its elementwise losses (``nn.MSELoss()``, L1Loss, BCEWithLogitsLoss).
  "mean" and "element_mean" are different losses when there is more than one output (the bug
  class of scikit-learn issue #8349), so each is named. A loss lists the reductions it takes
  (``Loss.reductions``): cross-entropy's terms are per sample, not per output, so it has no
  element mean. The torch counterpart is evaluated with torch's own ``reduction="mean"`` for
  "element_mean", and with ``reduction="sum"`` divided by B for "mean".
- ``est_lossderiv`` is the notes' dLoss/da_L of one sample, the derivative with respect to the
  *pre-activation* of the last layer. For the fused pairs it has a closed form:

  ========================  =================  ===============================
  output f_L                loss               dLoss/da_L
  ========================  =================  ===============================
  logistic                  logistic (BCE)     sigmoid(a_L) - y
  softmax                   cross_entropy      softmax(a_L) - y (y one-hot)
  ========================  =================  ===============================

  Every other valid pair (squared or absolute error after identity, logistic, tanh, relu or
  leaky_relu) goes through the chain rule, dLoss/da_L = dLoss/dh_L * f'_L(a_L); after an identity
  output that is 2 (a_L - y) and sign(a_L - y).
- ``course_squared_on_logistic`` is what the course computes when it pairs a logistic output with
  ``squared_loss_deriv`` and skips f'_L: dLoss/da_L = 2 (sigmoid(a_L) - y). That is **not** the
  gradient of the squared loss; it is the gradient of 2 x binary cross-entropy, so its value here is
  2 x BCE, so that the value and the gradient reported belong to the same function.

Targets: ``target == "vector"`` losses take a float array of the output's shape (0/1 for BCE);
cross_entropy takes int class labels (B,) or one-hot rows (B, C).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .activations import Activation, log_softmax, logistic, softmax

Array = np.ndarray


def softplus(u: Array) -> Array:
    r"""log(1 + e^u) = max(u, 0) + log(1 + e^{-|u|}): exp never overflows."""
    return np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))


def as_one_hot(y: Array, n_classes: int, dtype) -> Array:
    """Int labels (B,) as one-hot rows (B, C); rows of class probabilities are returned as they are.

    Rows must be probabilities (>= 0, summing to 1): only then is softmax(a) - y the gradient of
    -sum(y log softmax(a)); otherwise it is softmax(a) sum(y) - y.
    """
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != n_classes:
            raise ValueError(f"one-hot rows must have {n_classes} columns; got shape {y.shape}")
        y = y.astype(dtype, copy=False)
        # A sum of C numbers in [0, 1] is off by at most (C - 1) eps: allow C eps.
        slack = n_classes * np.finfo(y.dtype).eps
        sums = y.sum(axis=1)
        bad = ~np.isfinite(y).all(axis=1) | (y < 0).any(axis=1) | ~(np.abs(sums - 1) <= slack)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                "cross_entropy targets given as rows must be class probabilities (>= 0, summing "
                f"to 1); row {i} is {y[i].tolist()}"
            )
        return y
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            "cross_entropy expects int class labels of shape (B,) or one-hot rows of shape "
            f"(B, {n_classes}); got dtype {y.dtype} and shape {y.shape}"
        )
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"class labels must lie in 0..{n_classes - 1} for {n_classes} outputs; "
            f"got labels from {y.min()} to {y.max()}"
        )
    return np.eye(n_classes, dtype=dtype)[y]


# Per-sample values: each takes (a_L, h_L, y) with a batch axis first and returns shape (B,).
def bce_value(a: Array, h: Array, y: Array) -> Array:
    r"""Binary cross-entropy from the logits a = a_L, h = sigmoid(a).

    .. math::
        \ell = \sum_i \operatorname{softplus}(a_i) - y_i a_i
              = -\sum_i y_i \log h_i + (1 - y_i) \log(1 - h_i)

    Summed as max(a, 0) - y a + log(1 + e^{-|a|}): for a confident right answer (a = 30, y = 1)
    the first two terms cancel exactly, where softplus(a) - a would lose the small remainder.
    """
    return (np.maximum(a, 0) - y * a + np.log1p(np.exp(-np.abs(a)))).sum(axis=-1)


def cross_entropy_value(a: Array, h: Array, y: Array) -> Array:
    r"""Cross-entropy, through log-softmax so that no log(0) appears.

    .. math:: \ell = -\sum_i y_i \log \operatorname{softmax}(a)_i
    """
    return -(y * log_softmax(a)).sum(axis=-1)


def squared_value(a: Array, h: Array, y: Array) -> Array:
    r""".. math:: \ell = \sum_i (y_i - h_i)^2"""
    return ((y - h) ** 2).sum(axis=-1)


def half_squared_value(a: Array, h: Array, y: Array) -> Array:
    r""".. math:: \ell = \frac{1}{2} \sum_i (y_i - h_i)^2"""
    return 0.5 * ((y - h) ** 2).sum(axis=-1)


def _squared_value_scale(a, h, y):
    """(y - h)^2 after the subtraction y - h, which is off by eps (|y| + |h|)."""
    return ((y - h) ** 2 + 2 * np.abs(y - h) * (np.abs(y) + np.abs(h))).sum(axis=-1)


def absolute_value(a: Array, h: Array, y: Array) -> Array:
    r""".. math:: \ell = \sum_i |y_i - h_i|"""
    return np.abs(y - h).sum(axis=-1)


def course_squared_on_logistic_value(a: Array, h: Array, y: Array) -> Array:
    r"""2 x BCE: the function whose gradient the course's shortcut actually follows.

    .. math:: \ell = 2 \sum_i \operatorname{softplus}(a_i) - y_i a_i
    """
    return 2 * bce_value(a, h, y)


def _logits_value_scale(a, h, y):
    """max(a, 0), y a and log1p(e^{-|a|}) are each at most |a| + 1 in size."""
    return np.abs(a).sum(axis=-1) + 1.0


def _bce_g_scale(a, h, y, M_a):
    """sigmoid(a) - y: the terms |h| + |y|, and sigmoid' <= 1/4 times the error of a."""
    return np.abs(h) + np.abs(y) + 0.25 * M_a


def _softmax_g_scale(a, h, y, M_a):
    """softmax(a) - y: the terms |h| + |y|, and |Jacobian| times the error of a."""
    return np.abs(h) + np.abs(y) + h * M_a + h * (h * M_a).sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Loss:
    """One loss.

    ``value(a_L, h_L, y)`` gives the per-sample losses (B,). ``output_deriv(h_L, y)`` is
    dLoss/dh_L for the chain-rule path (None when only the fused form exists); ``fused`` maps an
    output activation name to its closed-form dLoss/da_L(a_L, h_L, y). ``outputs`` lists the output
    activations the loss may follow; ``default_output`` is the one picked when none is named.
    ``torch_class`` is a class of ``torch.nn``, evaluated on the logits a_L when
    ``torch_on_logits`` else on h_L, with the reduction of the module docstring, times
    ``torch_scale``. ``reductions`` are the batch reductions the loss takes (:data:`REDUCTIONS`). ``tasks`` are the kinds of dataset whose labels the loss fits:
    binary cross-entropy needs targets in {0, 1}, cross-entropy needs classes.

    ``value_scale`` and ``g_scales`` feed the parity tolerance (:mod:`refmlp.rounding`): the
    magnitude of the terms the per-sample value adds up, and of the terms and incoming errors of
    dLoss/da_L (``g_scales`` by output activation for the fused forms, ``"chain"`` for the
    magnitude of dLoss/dh_L in the chain rule).
    """

    name: str
    value: Callable[[Array, Array, Array], Array]
    output_deriv: Callable[[Array, Array], Array] | None
    fused: dict[str, Callable[[Array, Array, Array], Array]]
    outputs: tuple[str, ...]
    default_output: str
    target: str
    torch_class: str
    torch_on_logits: bool
    description: str
    value_scale: Callable[[Array, Array, Array], Array]
    g_scales: dict[str, Callable[..., Array]]
    tasks: tuple[str, ...] = ("binary", "multiclass", "regression")
    torch_scale: float = 1.0
    reductions: tuple[str, ...] = ("sum", "mean", "element_mean")

    def __repr__(self) -> str:
        return self.name

    def scale(self, a: Array, h: Array, y: Array) -> Array:
        """Per sample, the magnitude of the terms the loss value adds up (for the tolerance).

        A loss on logits adds terms of the size of |a_L| that cancel when a sample is confidently
        right; the squared and absolute errors subtract y and h first.
        """
        return self.value_scale(a, h, y)

    def g_scale(self, output: Activation, a, h, y, M_a, M_h) -> Array:
        """The error scale of dLoss/da_L per element, given those of a_L and h_L (refmlp.rounding)."""
        if output.name in self.fused:
            return self.g_scales[output.name](a, h, y, M_a)
        dh = self.g_scales["chain"](h, y, M_h)  # the magnitude behind dLoss/dh_L
        K, Lf = output.fprime_rounding, output.fprime_lipschitz
        return dh * np.abs(output.fprime(a)) + np.abs(self.output_deriv(h, y)) * (K + Lf * M_a)

    def est_lossderiv(self, output: Activation, a: Array, h: Array, y: Array) -> Array:
        """dLoss/da_L of each sample for this loss after the output activation ``output``.

        ``output`` is the layer's own Activation, not its name: its f' carries its
        hyper-parameters (a leaky slope of 0.2, say).
        """
        if output.name in self.fused:
            return self.fused[output.name](a, h, y)
        return self.output_deriv(h, y) * output.fprime(a)


_CHAIN_OUTPUTS = ("identity", "logistic", "tanh", "relu", "leaky_relu")

LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            name="logistic",
            value=bce_value,
            output_deriv=None,
            fused={"logistic": lambda a, h, y: logistic(a) - y},
            outputs=("logistic",),
            default_output="logistic",
            target="vector",
            torch_class="BCEWithLogitsLoss",
            torch_on_logits=True,
            description="binary cross-entropy on a logistic output (the course's logistic loss)",
            value_scale=_logits_value_scale,
            g_scales={"logistic": _bce_g_scale},
            tasks=("binary", "multiclass"),
        ),
        Loss(
            name="cross_entropy",
            value=cross_entropy_value,
            output_deriv=None,
            fused={"softmax": lambda a, h, y: softmax(a) - y},
            outputs=("softmax",),
            default_output="softmax",
            target="class",
            torch_class="CrossEntropyLoss",
            torch_on_logits=True,
            description="softmax cross-entropy, int labels or one-hot rows",
            value_scale=_logits_value_scale,
            g_scales={"softmax": _softmax_g_scale},
            tasks=("binary", "multiclass"),
            reductions=("sum", "mean"),
        ),
        Loss(
            name="squared",
            value=squared_value,
            output_deriv=lambda h, y: 2 * (h - y),
            fused={},
            outputs=_CHAIN_OUTPUTS,
            default_output="identity",
            target="vector",
            torch_class="MSELoss",
            torch_on_logits=False,
            description=("sum of (y - y_est)^2 over outputs; derivative 2 (y_est - y); with "
                         "reduction element_mean it is torch's nn.MSELoss()"),
            value_scale=_squared_value_scale,
            g_scales={"chain": lambda h, y, M_h: 2 * (np.abs(h) + np.abs(y) + M_h)},
        ),
        Loss(
            name="half_squared",
            value=half_squared_value,
            output_deriv=lambda h, y: h - y,
            fused={},
            outputs=_CHAIN_OUTPUTS,
            default_output="identity",
            target="vector",
            torch_class="MSELoss",
            torch_on_logits=False,
            description="half the sum of (y - y_est)^2 over outputs; derivative y_est - y",
            value_scale=lambda a, h, y: 0.5 * _squared_value_scale(a, h, y),
            g_scales={"chain": lambda h, y, M_h: np.abs(h) + np.abs(y) + M_h},
            torch_scale=0.5,
        ),
        Loss(
            name="absolute",
            value=absolute_value,
            output_deriv=lambda h, y: np.sign(h - y),
            fused={},
            outputs=_CHAIN_OUTPUTS,
            default_output="identity",
            target="vector",
            torch_class="L1Loss",
            torch_on_logits=False,
            description="sum of |y - y_est| over outputs; derivative sign(y_est - y)",
            value_scale=lambda a, h, y: (np.abs(y) + np.abs(h)).sum(axis=-1),
            g_scales={"chain": lambda h, y, M_h: np.zeros_like(h)},  # sign: exact off the kink
        ),
        Loss(
            name="course_squared_on_logistic",
            value=course_squared_on_logistic_value,
            output_deriv=None,
            fused={"logistic": lambda a, h, y: 2 * (logistic(a) - y)},
            outputs=("logistic",),
            default_output="logistic",
            target="vector",
            torch_class="BCEWithLogitsLoss",
            torch_on_logits=True,
            value_scale=lambda a, h, y: 2 * _logits_value_scale(a, h, y),
            g_scales={"logistic": lambda a, h, y, M_a: 2 * _bce_g_scale(a, h, y, M_a)},
            torch_scale=2.0,
            tasks=("binary", "multiclass"),
            description=(
                "the course's squared_loss_deriv on a logistic output with f'_L skipped: "
                "g_L = 2 (sigmoid(a_L) - y), the gradient of 2 x BCE, NOT of the squared loss"
            ),
        ),
    )
}
"""Every loss by name."""

DEFAULT_FOR_TASK = {"binary": "logistic", "multiclass": "cross_entropy", "regression": "squared"}
"""The loss a dataset's task gets when none is named (``--loss auto``)."""

PAIRINGS = tuple((loss.name, output) for loss in LOSSES.values() for output in loss.outputs)
"""Every valid (loss, output activation) pair."""


REDUCTIONS: dict[str, str] = {
    "sum": "the sum over samples (the course's)",
    "mean": "the mean over samples: the sum / B",
    "element_mean": ("the mean over every element: the sum / (B n_L), torch's default "
                     "reduction='mean' of MSELoss, L1Loss and BCEWithLogitsLoss"),
}
"""Every batch reduction, with what it divides the sum of per-sample losses by."""


def divisor(reduction: str, B: int, n_out: int) -> int:
    """What the ``reduction`` divides the batch's sum of per-sample losses (and every gradient) by."""
    return {"sum": 1, "mean": B, "element_mean": B * n_out}[reduction]


def check_reduction(loss: "Loss", reduction: str) -> None:
    """A clear error for a reduction that is unknown, or that ``loss`` does not take."""
    if reduction in loss.reductions:
        return
    if reduction in REDUCTIONS:
        raise ValueError(f"loss {loss.name!r} does not take reduction {reduction!r} (its terms are "
                         f"per sample, not per output); expected one of {', '.join(loss.reductions)}")
    raise ValueError(f"unknown reduction {reduction!r}; expected one of {', '.join(loss.reductions)}")


def reduce_samples(per_sample: Array, reduction: str, n_out: int) -> float:
    """The batch figure from per-sample ones (B,): their sum / :func:`divisor`."""
    per_sample = np.asarray(per_sample)
    if reduction == "mean":
        return float(np.mean(per_sample))
    return float(np.sum(per_sample) / divisor(reduction, per_sample.shape[0], n_out))


def get_loss(loss: str | Loss) -> Loss:
    """The registry entry for a name, or the Loss itself."""
    if isinstance(loss, Loss):
        return loss
    try:
        return LOSSES[loss]
    except (KeyError, TypeError):
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}") from None
