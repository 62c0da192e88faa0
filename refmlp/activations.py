"""The activation registry: each f_k of the notes with its derivative and its torch counterpart.

An activation is applied elementwise to the pre-activation a_k and gives h_k = f_k(a_k). Its
derivative ``fprime`` is taken with respect to the pre-activation, f'_k(a_k), which is what step 1
of the notes' backward pass multiplies g by. Every function here is a numpy function; the torch
counterpart is named (a class of ``torch.nn`` and its keyword arguments) so that this module never
imports torch.

Softmax is the exception: its Jacobian is not diagonal, so it has no elementwise f'. It may only
be the output activation, paired with cross-entropy, whose fused derivative dLoss/da_L = softmax(a_L)
- y never needs f'_L.

All functions are written to stay finite and warning-free for |a| up to 1e4 and beyond.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """One activation: f, f' with respect to the pre-activation, and its torch counterpart.

    ``torch_class`` names a class of ``torch.nn`` and ``torch_kwargs`` its keyword arguments;
    ``params`` holds the hyper-parameters (the leaky slope); ``output_only`` marks softmax.
    ``fprime_rounding`` (K) and ``fprime_lipschitz`` (L) feed the parity tolerance
    (refmlp.rounding): f'(a) as computed is off by at most about K eps + L |error of a|, K for the
    rounding inside f' itself, L a bound on |f''|.
    """

    name: str
    f: Callable[[Array], Array]
    fprime: Callable[[Array], Array] | None
    torch_class: str
    torch_kwargs: Mapping[str, object] = field(default_factory=dict)
    params: Mapping[str, float] = field(default_factory=dict)
    output_only: bool = False
    fprime_rounding: float = 0.0
    fprime_lipschitz: float = 0.0

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})" if args else self.name


def identity(u: Array) -> Array:
    r"""Identity.

    .. math:: f(u) = u
    """
    return u


def identity_deriv(u: Array) -> Array:
    r""".. math:: f'(u) = 1"""
    return np.ones_like(u)


def logistic(u: Array) -> Array:
    r"""Logistic (sigmoid).

    .. math:: f(u) = \frac{1}{1 + e^{-u}}

    Written as e^{-|u|} / (1 + e^{-|u|}) for u < 0 so that exp never overflows: e^{-|u|} <= 1.
    """
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0, e) / (1.0 + e)


def logistic_deriv(u: Array) -> Array:
    r"""The same product torch's Sigmoid backward forms.

    .. math:: f'(u) = f(u) \, (1 - f(u))

    For u > ~37, f(u) rounds to 1 and this to 0, where the exact value is ~1e-16; torch does the
    same, so parity holds, and g passed back through such a unit is 0 on both sides.
    """
    s = logistic(u)
    return s * (1.0 - s)


def tanh(u: Array) -> Array:
    r""".. math:: f(u) = \tanh(u)"""
    return np.tanh(u)


def tanh_deriv(u: Array) -> Array:
    r""".. math:: f'(u) = 1 - \tanh^2(u)"""
    t = np.tanh(u)
    return 1.0 - t * t


def relu(u: Array) -> Array:
    r"""ReLU.

    .. math::
        f(u) = \begin{cases} u & u > 0 \\ 0 & u \le 0 \end{cases}
    """
    return np.maximum(u, 0)


def relu_deriv(u: Array) -> Array:
    r"""torch also takes 0 at u = 0.

    .. math::
        f'(u) = \begin{cases} 1 & u > 0 \\ 0 & u \le 0 \end{cases}
    """
    return (u > 0).astype(u.dtype)


def leaky_relu(u: Array, slope: float = 0.01) -> Array:
    r"""Leaky ReLU; slope 0.01 in the notes and in torch.

    .. math::
        f(u) = \begin{cases} u & u > 0 \\ \text{slope} \cdot u & u \le 0 \end{cases}
    """
    return np.where(u > 0, u, u * u.dtype.type(slope))


def leaky_relu_deriv(u: Array, slope: float = 0.01) -> Array:
    r"""The slope at u = 0 is the notes' choice, and torch's.

    .. math::
        f'(u) = \begin{cases} 1 & u > 0 \\ \text{slope} & u \le 0 \end{cases}
    """
    one = u.dtype.type(1)
    return np.where(u > 0, one, u.dtype.type(slope))


def softmax(u: Array) -> Array:
    r"""Softmax along the last axis.

    .. math:: f(u)_i = \frac{e^{u_i}}{\sum_j e^{u_j}}

    The maximum is subtracted first, which changes nothing mathematically and keeps every
    exponent <= 0, so nothing overflows (the course's exp(u)/sum(exp(u)) does for u > ~709).
    """
    e = np.exp(u - u.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(u: Array) -> Array:
    r"""Log of the softmax, finite for any finite u.

    .. math:: \log f(u)_i = u_i - \max u - \log \sum_j e^{u_j - \max u}
    """
    shifted = u - u.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def make_leaky_relu(slope: float = 0.01) -> Activation:
    """The leaky ReLU with a given slope for u <= 0."""
    if isinstance(slope, bool) or not (isinstance(slope, (int, float)) and np.isfinite(slope) and slope >= 0):
        raise ValueError(f"leaky_relu slope must be a finite number >= 0, got {slope!r}")
    slope = float(slope)
    return Activation(
        name="leaky_relu",
        f=lambda u: leaky_relu(u, slope),
        fprime=lambda u: leaky_relu_deriv(u, slope),
        torch_class="LeakyReLU",
        torch_kwargs={"negative_slope": slope},
        params={"slope": slope},
    )


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("identity", identity, identity_deriv, "Identity"),
        # s (1 - s): 1 - s is off by eps, times s <= 1; |f''| <= 1 / (6 sqrt 3)
        Activation("logistic", logistic, logistic_deriv, "Sigmoid",
                   fprime_rounding=1.0, fprime_lipschitz=1 / (6 * np.sqrt(3))),
        # 1 - t^2: t^2 is off by 2 eps t^2 and the subtraction by eps; |f''| <= 4 / (3 sqrt 3)
        Activation("tanh", tanh, tanh_deriv, "Tanh",
                   fprime_rounding=3.0, fprime_lipschitz=4 / (3 * np.sqrt(3))),
        Activation("relu", relu, relu_deriv, "ReLU"),
        make_leaky_relu(0.01),
        Activation("softmax", softmax, None, "Softmax", {"dim": -1}, output_only=True),
    )
}
"""Every activation by name, leaky_relu with the notes' slope 0.01."""

HIDDEN_ACTIVATIONS = tuple(name for name, act in ACTIVATIONS.items() if not act.output_only)
"""The activations a hidden layer may have (all but softmax)."""


def get_activation(activation: str | Activation) -> Activation:
    """The registry entry for a name, or the Activation itself."""
    if isinstance(activation, Activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}"
        ) from None
