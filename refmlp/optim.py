"""Optimizers in numpy with torch.optim's exact update rules, and the course's training loop.

Conventions, stated once here:

- An optimizer updates a list of parameter arrays **in place**, given a list of gradients of the
  same shapes: :func:`parameters` gives an MLP's as ``[W_1, ..., W_L, b_1, ..., b_L]`` and
  :func:`gradients` a trace's in the same order. Its state (momentum buffers, moments, the step
  count t) is kept per position in that list, as torch keeps it per parameter.
- t counts the calls of ``step``, starting at 1, as in torch.
- Each rule below is the algorithm box of the torch.optim documentation page cited, and the
  operations are done in the order torch 2.13's single-tensor implementation does them (the one
  torch runs for CPU tensors), so that float64 runs agree to rounding. Python-float
  hyper-parameters (lr, betas, 1 - beta^t) are computed in double, and NumPy 2 casts them to the
  array's dtype, as torch casts a scalar to the tensor's dtype.
- The course's loop (:class:`CourseLoop`): ``backward(x, y)`` *adds* one sample's gradient
  (Algorithm 2 of the notes), ``step()`` applies the optimizer, ``zero_grad()`` resets. A
  mini-batch is built by calling ``backward`` on each of its samples before one ``step``: its
  gradient is the sum of the per-sample gradients, the course's convention (the learning rate
  absorbs the batch size).

This module never imports torch: it is the reference, torch.optim is the oracle
(:mod:`refmlp.trajectory` runs the two side by side).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, fields

import numpy as np

from .network import MLP, Trace

Array = np.ndarray


def parameters(net: MLP) -> list[Array]:
    """``[W_1, ..., W_L, b_1, ..., b_L]``: the arrays themselves, which an optimizer updates."""
    return net.W[1:] + net.b[1:]


def gradients(trace: Trace) -> list[Array]:
    """``[W_derivs_1, ..., W_derivs_L, b_derivs_1, ..., b_derivs_L]``, in :func:`parameters`' order."""
    return trace.W_derivs[1:] + trace.b_derivs[1:]


def _check_hyper(name: str, value: float, low: float = 0.0, high: float | None = None,
                 open_high: bool = False) -> float:
    """A finite float in [low, high] (or [low, high)): the checks torch.optim makes, said plainly."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    too_high = high is not None and (value >= high if open_high else value > high)
    if value < low or too_high:
        upper = "" if high is None else (f" and < {high}" if open_high else f" and <= {high}")
        raise ValueError(f"{name} must be >= {low}{upper}; got {value!r}")
    return float(value)


def _check_pairs(params: list[Array], grads: list[Array]) -> None:
    if len(params) != len(grads):
        raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
    for i, (p, g) in enumerate(zip(params, grads)):
        if np.shape(p) != np.shape(g):
            raise ValueError(f"gradient {i} has shape {np.shape(g)}, its parameter {np.shape(p)}")


@dataclass
class SGD:
    r"""Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD`` defines it
    (https://docs.pytorch.org/docs/stable/generated/torch.optim.SGD.html):

    .. math::
        \begin{aligned}
        & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
        & \textbf{if } \lambda \neq 0: \; g_t \leftarrow g_t + \lambda \theta_{t-1} \\
        & \textbf{if } \mu \neq 0: \\
        & \quad b_t \leftarrow \mu b_{t-1} + (1 - \tau) g_t \; (t > 1), \quad b_1 \leftarrow g_1 \\
        & \quad g_t \leftarrow g_t + \mu b_t \textbf{ if nesterov else } b_t \\
        & \theta_t \leftarrow \theta_{t-1} - \gamma g_t
        \end{aligned}

    γ = ``lr``, μ = ``momentum``, τ = ``dampening``, λ = ``weight_decay`` (an L2 term added to the
    gradient, biases included, as torch does for every parameter it is given). The first buffer is
    the gradient itself, undamped. With every option at 0 this is the notes' W_k -= lr W_derivs_k.
    Nesterov needs momentum > 0 and dampening 0, as torch requires.
    """

    lr: float
    momentum: float = field(default=0.0, metadata={"help": "momentum"})
    dampening: float = field(default=0.0, metadata={"help": "dampening"})
    nesterov: bool = field(default=False, metadata={"help": "Nesterov momentum"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 added to the gradient"})
    buffers: dict = field(default_factory=dict, repr=False)
    t: int = field(default=0, repr=False)

    def __post_init__(self):
        self.lr = _check_hyper("lr", self.lr)
        self.momentum = _check_hyper("momentum", self.momentum)
        self.dampening = _check_hyper("dampening", self.dampening)
        self.weight_decay = _check_hyper("weight_decay", self.weight_decay)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                "Nesterov momentum requires momentum > 0 and dampening 0 (as torch.optim.SGD); "
                f"got momentum {self.momentum} and dampening {self.dampening}"
            )

    def step(self, params: list[Array], grads: list[Array]) -> None:
        _check_pairs(params, grads)
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay != 0:
                g = g + self.weight_decay * p
            if self.momentum != 0:
                buf = self.buffers.get(i)
                if buf is None:
                    buf = self.buffers[i] = np.array(g, copy=True)
                else:
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p -= self.lr * g


@dataclass
class Adam:
    r"""Adam as ``torch.optim.Adam`` defines it
    (https://docs.pytorch.org/docs/stable/generated/torch.optim.Adam.html), and AdamW with
    ``decoupled=True`` (``torch.optim.AdamW``,
    https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html):

    .. math::
        \begin{aligned}
        & g_t \leftarrow \nabla_\theta f_t(\theta_{t-1}) \\
        & \textbf{Adam: } g_t \leftarrow g_t + \lambda \theta_{t-1} \qquad
          \textbf{AdamW: } \theta_{t-1} \leftarrow \theta_{t-1} (1 - \gamma \lambda) \\
        & m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        & v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        & \hat m_t \leftarrow m_t / (1 - \beta_1^t) \\
        & \textbf{amsgrad: } v_t^{max} \leftarrow \max(v_{t-1}^{max}, v_t), \;
          \hat v_t \leftarrow v_t^{max} / (1 - \beta_2^t) \qquad
          \textbf{else } \hat v_t \leftarrow v_t / (1 - \beta_2^t) \\
        & \theta_t \leftarrow \theta_{t-1} - \gamma \, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
        \end{aligned}

    with m_0 = v_0 = v_0^max = 0. **The order matters**: ε is added to the *bias-corrected*
    √v̂_t, not to √v_t (the Adam paper's ε̂ and scikit-learn's Adam put it there, a different
    update while v is small). As torch computes it:
    denom = √v_t / √(1 - β_2^t) + ε, then θ -= (γ / (1 - β_1^t)) m_t / denom, and m_t by
    ``lerp``, m + (1 - β_1)(g - m). ``Adam``'s default weight decay is 0; AdamW's (torch's) 1e-2.

    AMSGrad keeps the maximum of the *uncorrected* v_t and divides it by 1 - β_2^t of the current
    step, as torch's code does and its current box says; the box of older releases (1.11, for
    one) wrote the maximum over the bias-corrected v̂_t, a different update (parity_tests/
    test_optim.py fails for it). For β_1 ≤ 1/2 torch's ``lerp_`` takes its other branch,
    g - β_1 (g - m): the same m_t up to rounding.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = field(default=(0.9, 0.999), metadata={"help": "the moment decays"})
    eps: float = field(default=1e-8, metadata={"help": "epsilon"})
    weight_decay: float = field(default=0.0, metadata={
        "help": "L2 added to the gradient (adam), decoupled from it (adamw)"})
    amsgrad: bool = field(default=False, metadata={"help": "the AMSGrad variant"})
    decoupled: bool = False  # AdamW's rule: chosen by the name, not an option
    state: dict = field(default_factory=dict, repr=False)
    t: int = field(default=0, repr=False)

    def __post_init__(self):
        self.lr = _check_hyper("lr", self.lr)
        self.eps = _check_hyper("eps", self.eps)
        self.weight_decay = _check_hyper("weight_decay", self.weight_decay)
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2); got {self.betas!r}")
        self.betas = tuple(_check_hyper(f"beta{i}", b, 0.0, 1.0, open_high=True)
                           for i, b in enumerate(self.betas, start=1))

    def step(self, params: list[Array], grads: list[Array]) -> None:
        _check_pairs(params, grads)
        beta1, beta2 = self.betas
        self.t += 1
        # scalars in double, as torch computes them from its Python floats
        step_size = self.lr / (1 - beta1**self.t)
        bias_correction2_sqrt = (1 - beta2**self.t) ** 0.5
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.weight_decay != 0:
                if self.decoupled:
                    p *= 1 - self.lr * self.weight_decay
                else:
                    g = g + self.weight_decay * p
            if i not in self.state:
                self.state[i] = {"m": np.zeros_like(p), "v": np.zeros_like(p)}
                if self.amsgrad:
                    self.state[i]["v_max"] = np.zeros_like(p)
            s = self.state[i]
            s["m"] += (1 - beta1) * (g - s["m"])  # torch's lerp_ (weight < 0.5 branch)
            s["v"] *= beta2
            s["v"] += (1 - beta2) * (g * g)
            v = s["v"]
            if self.amsgrad:
                np.maximum(s["v_max"], v, out=s["v_max"])
                v = s["v_max"]
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
            p -= step_size * (s["m"] / denom)


def AdamW(lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
          amsgrad: bool = False) -> Adam:
    """``torch.optim.AdamW``: Adam with the weight decay decoupled, θ *= 1 - lr λ before the
    update (see :class:`Adam`); λ defaults to 1e-2 as in torch."""
    return Adam(lr, betas, eps, weight_decay, amsgrad, decoupled=True)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
"""Every optimizer by name, each built as ``OPTIMIZERS[name](lr=..., **options)``; the names and
options are torch.optim's (``SGD``, ``Adam``, ``AdamW``) in lower case."""

TORCH_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}

_RECORDS = {"sgd": SGD, "adam": Adam, "adamw": Adam}  # AdamW builds an Adam


def hyper_parameters(name: str) -> dict[str, tuple[object, str]]:
    """The options ``OPTIMIZERS[name]`` takes beside lr: name -> (default, what it is), read off
    the optimizer's signature and its record's field help."""
    helps = {f.name: f.metadata["help"] for f in fields(_RECORDS[name]) if "help" in f.metadata}
    signature = inspect.signature(OPTIMIZERS[name])
    return {p: (v.default, helps[p]) for p, v in signature.parameters.items() if p in helps}


def make_optimizer(name: str, lr: float, **options):
    """``OPTIMIZERS[name](lr=lr, **options)``, with an error naming the choices."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    try:
        return OPTIMIZERS[name](lr=lr, **options)
    except TypeError as exc:  # an option the optimizer does not take
        raise ValueError(f"optimizer {name!r}: {exc}") from None


class CourseLoop:
    """The course's API around an MLP: ``backward`` accumulates, ``step`` updates, ``zero_grad``.

    ``backward(x, y)`` runs Algorithm 2 on one sample (:meth:`refmlp.network.MLP.backprop`) and
    adds its W_derivs and b_derivs to the accumulated ones; ``step()`` hands the accumulated
    gradients to the optimizer (plain SGD, W_k -= lr W_derivs_k, when ``optimizer`` is a float);
    ``zero_grad()`` sets them to zero. The course's per-sample SGD is backward, step, zero_grad for
    each sample; its mini-batch is backward on every sample of the batch, then step, zero_grad.
    """

    def __init__(self, net: MLP, optimizer):
        self.net = net
        self.optimizer = SGD(lr=optimizer) if isinstance(optimizer, (int, float)) else optimizer
        self.W_derivs = [None] + [np.zeros_like(Wk) for Wk in net.W[1:]]
        self.b_derivs = [None] + [np.zeros_like(bk) for bk in net.b[1:]]

    def backward(self, x, y) -> Trace:
        """Add one sample's gradient; returns that sample's trace (1-D a, h, g)."""
        sample = self.net.backprop(x, y)
        for k in range(1, self.net.L + 1):
            self.W_derivs[k] += sample.W_derivs[k]
            self.b_derivs[k] += sample.b_derivs[k]
        return sample

    def step(self) -> None:
        self.optimizer.step(parameters(self.net), self.W_derivs[1:] + self.b_derivs[1:])

    def zero_grad(self) -> None:
        for k in range(1, self.net.L + 1):
            self.W_derivs[k][...] = 0
            self.b_derivs[k][...] = 0
