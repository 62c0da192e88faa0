"""The numpy MLP of the notes: spec, initialisation, forward pass, the two backward paths, training.

Conventions, stated once here:

- **Layers are numbered 1..L as in the notes, and so are the lists.** ``W[k]``, ``b[k]``, ``a[k]``,
  ``g[k]``, ``W_derivs[k]`` and ``b_derivs[k]`` belong to layer k; index 0 holds ``None``, except
  ``h[0] = x``, the input. Every such list has L + 1 entries.
- ``W[k]`` has shape (n_k, n_{k-1}) = (out, in); ``b[k]`` is 1-D of length n_k (the course's code
  uses 1-D biases where the notes write m x 1).
- **Per-sample** quantities are 1-D (the notes' column vectors). **Batched** quantities carry the
  batch on the first axis, one sample a row: X is (B, d), a[k] and h[k] are (B, n_k), and the notes'
  a_k = W_k h_{k-1} + b_k becomes ``h[k-1] @ W[k].T + b[k]``.
- ``g[k]`` is dLoss/da_k, the g of the notes after step 1 at layer k.
- The batch loss is the ``reduction`` ("sum", "mean" over samples, or "element_mean" over samples
  x outputs) of per-sample losses, each a sum over outputs; see :mod:`refmlp.losses`.
- **Two paths.** The per-sample path (:meth:`MLP.forward_sample`, :meth:`MLP.backprop`) is the
  notes' algorithm line for line. The batched path (:class:`Workspace`, behind :meth:`MLP.forward`,
  :meth:`MLP.backward` and :func:`train`) runs the same algebra on whole batches, into buffers made
  once and reused: that is where the speed is (``refmlp bench``), and it gives the bits the plain
  algebra gives (parity_tests/test_workspace.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .activations import Activation, get_activation, make_leaky_relu
from .losses import REDUCTIONS as _REDUCTIONS
from .losses import Loss, as_one_hot, check_reduction, divisor, get_loss, reduce_samples

Array = np.ndarray

REDUCTIONS = tuple(_REDUCTIONS)
PATHS = ("per_sample", "batched")
INIT_SCHEMES = ("course", "torch")
DTYPES = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Layer:
    """One layer: its number of neurons n_k, its activation f_k (or its name) and an optional name."""

    size: int
    activation: Activation
    name: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "activation", get_activation(self.activation))


@dataclass(frozen=True)
class Spec:
    """An MLP: input size d = n_0, the layers 1..L, and the loss on the last layer's output."""

    n_in: int
    layers: tuple[Layer, ...]
    loss: Loss

    def __post_init__(self):
        object.__setattr__(self, "loss", get_loss(self.loss))
        object.__setattr__(self, "layers", tuple(self.layers))
        _check_positive_int("input size", self.n_in)
        if not self.layers:
            raise ValueError("a network needs at least one layer; got none")
        names = [layer.name for layer in self.layers if layer.name is not None]
        if len(names) != len(set(names)):
            raise ValueError(f"layer names must be unique; got {names}")
        for k, layer in enumerate(self.layers, start=1):
            _check_positive_int(f"size of layer {k}", layer.size)
            if layer.activation.output_only and k < len(self.layers):
                raise ValueError(
                    f"{layer.activation.name} can only be the output activation; "
                    f"got it at layer {k} of {len(self.layers)}"
                )
        output = self.layers[-1].activation.name
        if output not in self.loss.outputs:
            raise ValueError(
                f"loss {self.loss.name!r} cannot follow a {output!r} output; "
                f"it takes an output activation among {', '.join(self.loss.outputs)}"
            )

    @property
    def L(self) -> int:
        return len(self.layers)

    @property
    def sizes(self) -> list[int]:
        """[n_0, n_1, ..., n_L]."""
        return [self.n_in] + [layer.size for layer in self.layers]

    @classmethod
    def build(
        cls,
        n_in: int,
        hidden: Sequence[int],
        n_out: int,
        *,
        activation: str | Activation = "leaky_relu",
        loss: str | Loss = "logistic",
        output_activation: str | Activation | None = None,
        leaky_slope: float | None = None,
        names: Sequence[str | None] | None = None,
    ) -> "Spec":
        """A spec from sizes: ``hidden`` layers with ``activation``, then ``n_out`` outputs.

        The output activation defaults to the loss's own (logistic for "logistic", softmax for
        "cross_entropy", identity for "squared" and "absolute"). ``leaky_slope`` sets the slope
        of every leaky_relu in the network.
        """
        loss = get_loss(loss)

        def resolve(act):
            act = get_activation(act)
            if leaky_slope is not None and act.name == "leaky_relu":
                return make_leaky_relu(leaky_slope)
            return act

        sizes = list(hidden) + [n_out]
        acts = [resolve(activation)] * len(hidden)
        acts.append(resolve(output_activation or loss.default_output))
        names = list(names) if names is not None else [None] * len(sizes)
        if len(names) != len(sizes):
            raise ValueError(f"got {len(names)} layer names for {len(sizes)} layers")
        return cls(n_in, tuple(Layer(*t) for t in zip(sizes, acts, names)), loss)

    def describe(self) -> str:
        parts = [str(self.n_in)] + [f"{layer.size} {layer.activation!r}" for layer in self.layers]
        return " -> ".join(parts) + f", loss {self.loss.name}"


def check_choice(what: str, value, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


def _check_positive_int(what: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer; got {value!r}")


def init_params(spec: Spec, scheme: str = "course", seed: int = 0, dtype=np.float64):
    """Weights and biases for ``spec``, drawn from ``np.random.default_rng(seed)``.

    ``"course"``: every W_k and b_k entry is 0.1 * N(0, 1), the handout's suggestion.
    ``"torch"``: nn.Linear's default, every W_k and b_k entry uniform in +-1/sqrt(n_{k-1}) (the
    distribution, not torch's random stream). Drawn in float64 and then cast, so that the float32
    and float64 networks of one seed hold the same weights up to rounding.
    """
    check_choice("init scheme", scheme, INIT_SCHEMES)
    rng = np.random.default_rng(seed)
    W, b = [None], [None]
    for n_prev, n in zip(spec.sizes[:-1], spec.sizes[1:]):
        if scheme == "course":
            Wk, bk = 0.1 * rng.standard_normal((n, n_prev)), 0.1 * rng.standard_normal(n)
        else:
            bound = 1 / np.sqrt(n_prev)
            Wk, bk = rng.uniform(-bound, bound, (n, n_prev)), rng.uniform(-bound, bound, n)
        W.append(Wk.astype(dtype))
        b.append(bk.astype(dtype))
    return W, b


@dataclass
class Trace:
    """Everything one pass computed, batched layout (see the module docstring), lists 1..L."""

    a: list
    h: list
    loss: float | None = None
    reduction: str | None = None
    loss_scale: float | None = None  # the magnitude of what the loss adds up (Loss.scale)
    g: list = field(default_factory=list)
    W_derivs: list = field(default_factory=list)
    b_derivs: list = field(default_factory=list)

    @property
    def L(self) -> int:
        return len(self.a) - 1


def as_targets(spec: Spec, y, B: int, dtype) -> Array:
    """y as ``spec``'s loss needs it: (B, n_L) of ``dtype``; int class labels become one-hot rows,
    and (B,) is taken for (B, 1) when the network has one output."""
    n_out = spec.layers[-1].size
    if np.ndim(y) == 0:
        raise ValueError(f"y must hold one target per sample, {B} of them; got a scalar, {y!r}")
    if len(y) != B:
        raise ValueError(
            f"y must hold one target per sample, {B} of them; got {len(y)} (shape {np.shape(y)})"
        )
    if spec.loss.target == "class":
        y = as_one_hot(y, n_out, dtype)
    else:
        y = np.asarray(y, dtype=dtype)
        if y.ndim == 1 and n_out == 1:
            y = y[:, None]
    if y.shape != (B, n_out):
        raise ValueError(f"y must have shape ({B}, {n_out}) for this network; got {y.shape}")
    _check_finite("y", y)
    return y


def _check_finite(what: str, v: Array) -> None:
    if not np.isfinite(v).all():
        i = tuple(int(j) for j in np.argwhere(~np.isfinite(v))[0])
        raise ValueError(f"{what} must be finite; got {v[i]} at index {i}")


def set_loss(trace: Trace, loss: Loss, Y: Array, reduction: str) -> None:
    """Write the batch loss of ``trace``, its reduction and its scale into it."""
    n_out = Y.shape[1]
    trace.loss = reduce_samples(loss.value(trace.a[-1], trace.h[-1], Y), reduction, n_out)
    trace.loss_scale = reduce_samples(loss.scale(trace.a[-1], trace.h[-1], Y), reduction, n_out)
    trace.reduction = reduction


class MLP:
    """A network of the notes with its parameters, in float64 or float32.

    ``W`` and ``b`` are lists indexed 1..L (entry 0 is None). Pass them to use given weights, or
    let ``init`` and ``seed`` draw them (see :func:`init_params`).
    """

    def __init__(self, spec: Spec, W=None, b=None, *, init="course", seed=0, dtype=np.float64):
        self.spec = spec
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64; got {self.dtype}")
        if (W is None) != (b is None):
            raise ValueError("pass both W and b, or neither")
        if W is None:
            W, b = init_params(spec, init, seed, self.dtype)
        self.W, self.b = [None], [None]
        self.set_params(W, b)
        self.f = [None] + [layer.activation.f for layer in spec.layers]
        self.fprime = [None] + [layer.activation.fprime for layer in spec.layers]

    @property
    def L(self) -> int:
        return self.spec.L

    def set_params(self, W, b) -> None:
        """Copy W[1..L] and b[1..L] in, checking every shape against the spec."""
        if len(W) != self.L + 1 or len(b) != self.L + 1:
            raise ValueError(
                f"W and b must be lists of L + 1 = {self.L + 1} entries (entry 0 unused); "
                f"got {len(W)} and {len(b)}"
            )
        sizes = self.spec.sizes
        newW, newb = [None], [None]
        for k in range(1, self.L + 1):
            Wk, bk = np.asarray(W[k]), np.asarray(b[k])
            if Wk.shape != (sizes[k], sizes[k - 1]):
                raise ValueError(
                    f"W[{k}] must have shape (out, in) = {(sizes[k], sizes[k - 1])}; got {Wk.shape}"
                )
            if bk.shape != (sizes[k],):
                raise ValueError(f"b[{k}] must have shape {(sizes[k],)}; got {bk.shape}")
            newW.append(np.array(Wk, dtype=self.dtype))
            newb.append(np.array(bk, dtype=self.dtype))
        self.W, self.b = newW, newb

    # ---- inputs -------------------------------------------------------------------------------
    def _inputs(self, X) -> Array:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.spec.n_in or X.shape[0] == 0:
            raise ValueError(
                f"X must have shape (B, {self.spec.n_in}) with B >= 1; got shape {X.shape}"
            )
        X = X.astype(self.dtype, copy=False)
        _check_finite("X", X)
        return X

    def targets(self, y, B: int) -> Array:
        """y as the loss needs it: (B, n_L) floats, one-hot rows for int class labels."""
        return as_targets(self.spec, y, B, self.dtype)

    def sample_target(self, y) -> Array:
        """One sample's y as the loss needs it: (n_L,) floats."""
        n_out, y_arr = self.spec.layers[-1].size, np.asarray(y)
        is_class = self.spec.loss.target == "class"
        if y_arr.ndim > 1 or (y_arr.ndim == 0 and not is_class and n_out != 1):
            expected = (f"a class label or a row of {n_out} probabilities" if is_class
                        else f"{n_out} floats" + (" (or one float)" if n_out == 1 else ""))
            raise ValueError(f"y must be one sample's target, {expected}; got shape {y_arr.shape}")
        return as_targets(self.spec, y_arr.reshape(1, -1) if y_arr.ndim else y_arr[None], 1,
                          self.dtype)[0]

    # ---- forward (Algorithm 1) ----------------------------------------------------------------
    def forward(self, X) -> Trace:
        """a_k = W_k h_{k-1} + b_k and h_k = f_k(a_k) for k = 1..L, h_0 = X, one sample a row."""
        X = self._inputs(X)
        return Workspace(self, X.shape[0]).forward(X).trace()

    def predict(self, X) -> Array:
        """The network's output h_L, (B, n_L)."""
        return self.forward(X).h[-1]

    def loss(self, X, y, reduction: str = "sum") -> float:
        """The batch loss (see :mod:`refmlp.losses` for the reduction)."""
        check_reduction(self.spec.loss, reduction)
        trace = self.forward(X)
        set_loss(trace, self.spec.loss, self.targets(y, trace.h[0].shape[0]), reduction)
        return trace.loss

    def _est_lossderiv(self, a_L: Array, h_L: Array, y: Array) -> Array:
        return self.spec.loss.est_lossderiv(self.spec.layers[-1].activation, a_L, h_L, y)

    # ---- backward (Algorithm 2), literally, one sample --------------------------------------
    def forward_sample(self, x: Array) -> tuple[list, list]:
        """Algorithm 1 for one sample x of shape (d,): the lists a[1..L] and h[0..L]."""
        h, a = [x], [None]
        for k in range(1, self.L + 1):
            a.append(self.W[k] @ h[k - 1] + self.b[k])
            h.append(self.f[k](a[k]))
        return a, h

    def backprop(self, x: Array, y: Array) -> Trace:
        """Algorithm 2 of the notes for one sample: a trace of 1-D a, h, g, W_derivs, b_derivs.

        g = est_lossderiv(y_est, y), then for k = L..1: g = g * f'_k(a_k) if k < L;
        b_derivs_k = g; W_derivs_k = g h_{k-1}^T; g = W_k^T g.

        x has shape (d,); y is the sample's target: a class label (int) for cross_entropy, or a
        vector of n_L floats (a float when n_L = 1).
        """
        if np.ndim(x) != 1:
            raise ValueError(f"x must be one sample of shape ({self.spec.n_in},); got shape {np.shape(x)}")
        x = self._inputs(np.reshape(x, (1, -1)))[0]
        y = self.sample_target(y)
        a, h = self.forward_sample(x)
        L = self.L
        W_derivs, b_derivs, gs = [None] * (L + 1), [None] * (L + 1), [None] * (L + 1)
        g = self._est_lossderiv(a[L], h[L], y)
        for k in range(L, 0, -1):
            if k < L:
                g = g * self.fprime[k](a[k])
            gs[k] = g
            b_derivs[k] = g
            W_derivs[k] = np.outer(g, h[k - 1])
            g = self.W[k].T @ g
        return Trace(a=a, h=h, g=gs, W_derivs=W_derivs, b_derivs=b_derivs)

    # ---- backward, both paths -----------------------------------------------------------------
    def backward(self, X, y, reduction: str = "sum", path: str = "batched") -> Trace:
        """Forward and backward over a batch: a, h, the loss, g, W_derivs and b_derivs.

        ``path="per_sample"`` runs :meth:`backprop` (forward pass included) on each row, stacks
        its a, h and g and adds its gradients up;
        ``path="batched"`` does the same algebra on the whole batch at once:
        W_derivs_k = sum over samples of g h_{k-1}^T = g^T H_{k-1}, b_derivs_k = sum of g.
        With ``reduction="mean"`` every derivative is divided by the batch size B, with
        "element_mean" by B n_L.
        """
        check_reduction(self.spec.loss, reduction)
        check_choice("path", path, PATHS)
        X = self._inputs(X)
        Y = self.targets(y, X.shape[0])
        if path == "per_sample":
            trace = self._backward_per_sample(X, Y, reduction)
        else:
            trace = Workspace(self, X.shape[0]).forward(X).backward(Y, reduction).trace()
        set_loss(trace, self.spec.loss, Y, reduction)
        return trace

    def _backward_per_sample(self, X: Array, Y: Array, reduction: str) -> Trace:
        L, B = self.L, X.shape[0]
        samples = [self.backprop(X[i], Y[i]) for i in range(B)]
        W_derivs = [None] + [np.zeros_like(Wk) for Wk in self.W[1:]]
        b_derivs = [None] + [np.zeros_like(bk) for bk in self.b[1:]]
        for sample in samples:
            for k in range(1, L + 1):
                W_derivs[k] += sample.W_derivs[k]
                b_derivs[k] += sample.b_derivs[k]

        def stacked(name):  # (B, n_k) for k = 1..L
            return [None] + [np.stack([getattr(s, name)[k] for s in samples]) for k in range(1, L + 1)]

        gs = stacked("g")
        if reduction != "sum":
            n = divisor(reduction, B, Y.shape[1])
            for lst in (W_derivs, b_derivs, gs):
                for k in range(1, L + 1):
                    lst[k] /= n
        return Trace(a=stacked("a"), h=[X] + stacked("h")[1:], g=gs, W_derivs=W_derivs,
                     b_derivs=b_derivs)

    # ---- learning -----------------------------------------------------------------------------
    def step(self, W_derivs, b_derivs, lr: float) -> None:
        """Plain gradient descent: W_k -= lr W_derivs_k and b_k -= lr b_derivs_k for every k."""
        for k in range(1, self.L + 1):
            self.W[k] -= self.dtype.type(lr) * W_derivs[k]
            self.b[k] -= self.dtype.type(lr) * b_derivs[k]


# ---- the batched path: buffers reused across steps -------------------------------------------
# In-place forms of the activations (out = f(a); g *= f'(a)), bit for bit the registry's functions:
# they run the same float operations, only into buffers given to them. An activation missing here
# takes the registry's own functions, whose results are copied into the buffers.
def _identity_into(act: Activation, a: Array, out: Array) -> None:
    np.copyto(out, a)


def _relu_into(act: Activation, a: Array, out: Array) -> None:
    np.maximum(a, 0, out=out)


def _leaky_relu_into(act: Activation, a: Array, out: Array) -> None:
    slope = a.dtype.type(act.params["slope"])
    # For 0 <= slope <= 1, max(a, slope a) picks a where a > 0 and slope a where a <= 0 (signed
    # zeros included): where(a > 0, a, slope a) without its two temporaries.
    if 0 <= slope <= 1:
        np.maximum(a, np.multiply(a, slope, out=out), out=out)
    else:
        np.copyto(out, act.f(a))


def _identity_fprime_mul(act: Activation, g: Array, a: Array, buf: Array) -> None:
    pass  # f' = 1: g * 1 is g


# g *= f'(a) through f'(a) built in a buffer: a multiply under a mask (where=) branches on every
# element and runs some 30 times slower than these three unmasked passes.
def _relu_fprime_mul(act: Activation, g: Array, a: Array, buf: Array) -> None:
    np.multiply(g, np.greater(a, 0, out=buf), out=g)  # f' = 1.0 or 0.0, as (a > 0).astype


def _leaky_relu_fprime_mul(act: Activation, g: Array, a: Array, buf: Array) -> None:
    slope = a.dtype.type(act.params["slope"])
    if not 0 <= slope <= 1:
        np.multiply(g, act.fprime(a), out=g)
        return
    # max(1 or 0, slope) is exactly 1 where a > 0 and slope elsewhere: where(a > 0, 1, slope)
    np.multiply(g, np.maximum(np.greater(a, 0, out=buf), slope, out=buf), out=g)


IN_PLACE = {
    "identity": (_identity_into, _identity_fprime_mul),
    "relu": (_relu_into, _relu_fprime_mul),
    "leaky_relu": (_leaky_relu_into, _leaky_relu_fprime_mul),
}
"""Activation name -> (f into a buffer, g *= f' in place)."""


def layer_kernels(act: Activation, f, fprime) -> tuple:
    """(out = f(a), g *= f'(a) in place) for a layer whose activation is ``act`` and whose
    functions are ``f`` and ``fprime``, the network's own (a test may swap them on an instance:
    then they are used, not the registry's in-place forms)."""
    if act.name in IN_PLACE and f is act.f and fprime is act.fprime:
        into, mul = IN_PLACE[act.name]
        return functools.partial(into, act), functools.partial(mul, act)

    def f_into(a: Array, out: Array) -> None:
        np.copyto(out, f(a))

    def fprime_mul(g: Array, a: Array, buf: Array) -> None:
        np.multiply(g, fprime(a), out=g)

    return f_into, fprime_mul


H_MINUS_Y = {("logistic", "logistic"), ("cross_entropy", "softmax")}
"""(loss, output) pairs whose fused dLoss/da_L is f_L(a_L) - y (see refmlp.losses): with h_L known,
one subtraction."""


class Workspace:
    """The batched path of one network: a, h, g, W_derivs and b_derivs in buffers made once for
    batches of up to ``capacity`` samples and reused by every step.

    The algebra is the notes' with the batch on the first axis (see the module docstring):
    A_k = H_{k-1} W_k^T + b_k, H_k = f_k(A_k); G_L = dLoss/dA_L (divided by B for "mean", B n_L for "element_mean"), then for
    k = L..1: G_k *= f'_k(A_k) if k < L; b_derivs_k = sum of G_k's rows; W_derivs_k = G_k^T H_{k-1};
    G_{k-1} = G_k W_k (the row form of W_k^T g). Why it is fast: nothing is allocated per step,
    elementwise work runs in place, every GEMM reads its operands in the order they are stored
    (W_k^T and G_k^T are transposed views: BLAS takes the transpose as a flag, nothing is copied),
    and the float32 network stays float32 throughout. :meth:`MLP.forward` and :meth:`MLP.backward`
    run it once; :func:`sgd_epoch` reuses one across a whole epoch.

    A workspace holds the results of its last pass only: :meth:`trace` hands out the buffers
    themselves, which the next pass overwrites.
    """

    def __init__(self, net: "MLP", capacity: int):
        _check_positive_int("workspace capacity", capacity)
        self.net, self.capacity = net, capacity
        dtype, sizes = net.dtype, net.spec.sizes
        kernels = [layer_kernels(layer.activation, f, fprime)
                   for layer, f, fprime in zip(net.spec.layers, net.f[1:], net.fprime[1:])]
        self.f_into = [None] + [into for into, _ in kernels]
        self.fprime_mul = [None] + [mul for _, mul in kernels]
        self.X = None  # where sgd_epoch gathers a mini-batch (it makes the buffer)
        self._a = [None] + [np.empty((capacity, n), dtype) for n in sizes[1:]]
        self._h = [None] + [np.empty((capacity, n), dtype) for n in sizes[1:]]
        self._grads = None  # G, f', Y, W_derivs and b_derivs: made by the first backward
        self.a, self.h = self._a, [self.X] + self._h[1:]
        self.B = capacity
        out = net.spec.layers[-1].activation
        # g_L = h_L - y holds when h_L came from the registry's f_L, as the fused form's does
        self.h_minus_y = (net.spec.loss.name, out.name) in H_MINUS_Y and net.f[-1] is out.f

    def _rows(self, B: int) -> None:
        """Point a, h (and the backward buffers) at the first B rows of each buffer."""
        if B > self.capacity:
            raise ValueError(f"a batch of {B} samples does not fit a workspace of {self.capacity}")
        self.B = B
        self.a = [None] + [buf[:B] for buf in self._a[1:]]
        self.h[1:] = [buf[:B] for buf in self._h[1:]]
        if self._grads is not None:
            G, fprimes, Y = self._grads[:3]
            self.g = [None] + [buf[:B] for buf in G[1:]]
            self.fprimes = [None] + [buf[:B] for buf in fprimes[1:]]
            self.Y = Y[:B]

    def forward(self, X: Array) -> "Workspace":
        """Algorithm 1 on the rows of X (already of the network's dtype, shape (B, n_0))."""
        net, a, h = self.net, self.a, self.h
        if X.shape[0] != self.B:
            self._rows(X.shape[0])
            a = self.a
        h[0] = X
        for k in range(1, len(a)):
            np.matmul(h[k - 1], net.W[k].T, out=a[k])  # (B, n_k)
            np.add(a[k], net.b[k], out=a[k])
            self.f_into[k](a[k], h[k])
        return self

    def _make_grads(self) -> None:
        net, dtype, C = self.net, self.net.dtype, self.capacity
        G = [None] + [np.empty((C, n), dtype) for n in net.spec.sizes[1:]]
        fprimes = [None] + [np.empty((C, n), dtype) for n in net.spec.sizes[1:]]  # f'_k(A_k)
        Y = np.empty((C, net.spec.sizes[-1]), dtype)  # where sgd_epoch gathers the targets
        self.W_derivs = [None] + [np.empty_like(Wk) for Wk in net.W[1:]]
        self.b_derivs = [None] + [np.empty_like(bk) for bk in net.b[1:]]
        self._grads = (G, fprimes, Y)
        self._rows(self.B)

    def backward(self, Y: Array, reduction: str, lr: float | None = None) -> "Workspace":
        """Algorithm 2 on the batch of the last :meth:`forward`, Y of shape (B, n_L).

        With ``lr``, each layer also takes its gradient step W_k -= lr W_derivs_k, b_k -= lr
        b_derivs_k (:meth:`MLP.step`) as soon as G_{k-1} no longer needs W_k; W_derivs and b_derivs
        then hold lr times the gradient.
        """
        if self._grads is None:
            self._make_grads()
        net, a, h, g = self.net, self.a, self.h, self.g
        L = len(a) - 1
        W_derivs, b_derivs = self.W_derivs, self.b_derivs
        lr_ = None if lr is None else net.dtype.type(lr)
        if self.h_minus_y:
            np.subtract(h[L], Y, out=g[L])
        else:
            np.copyto(g[L], net._est_lossderiv(a[L], h[L], Y))
        if reduction != "sum":
            np.divide(g[L], divisor(reduction, *Y.shape), out=g[L])
        for k in range(L, 0, -1):
            if k < L:
                self.fprime_mul[k](g[k], a[k], self.fprimes[k])
            np.add.reduce(g[k], axis=0, out=b_derivs[k])  # g_k summed over the batch
            np.matmul(g[k].T, h[k - 1], out=W_derivs[k])  # (n_k, n_{k-1})
            if k > 1:  # nothing needs dLoss/dh_0
                np.matmul(g[k], net.W[k], out=g[k - 1])  # (B, n_{k-1}), the row form of W_k^T g
            if lr is not None:
                self.descend(k, lr_)
        return self

    def descend(self, k: int, lr) -> None:
        """W_k -= lr W_derivs_k and b_k -= lr b_derivs_k: the float operations of MLP.step, with
        lr W_derivs_k made in W_derivs_k's own buffer."""
        net = self.net
        np.subtract(net.W[k], np.multiply(self.W_derivs[k], lr, out=self.W_derivs[k]), out=net.W[k])
        np.subtract(net.b[k], np.multiply(self.b_derivs[k], lr, out=self.b_derivs[k]), out=net.b[k])

    def trace(self) -> Trace:
        """The last pass's a, h (and g, W_derivs, b_derivs after a backward): the buffers themselves."""
        trace = Trace(a=list(self.a), h=list(self.h))
        if self._grads is not None:
            trace.g, trace.W_derivs, trace.b_derivs = list(self.g), list(self.W_derivs), list(self.b_derivs)
        return trace


def gather(src: Array, idx: Array, out: Array) -> None:
    """out = src[idx], rows gathered straight into the buffer (mode "clip": idx is a valid
    permutation, and the default "raise" would gather through a temporary)."""
    src.take(idx, axis=0, out=out, mode="clip")


def sgd_epoch(net: MLP, X: Array, Y: Array, order: Array, lr: float, batch_size: int,
              reduction: str = "sum", workspace: Workspace | None = None) -> Workspace:
    """One epoch of mini-batch gradient descent, in place on ``net``: the batches are the rows
    ``order[i:i + batch_size]`` of X (B, n_0) and Y (B, n_L), both already of the network's dtype
    (:meth:`MLP.targets`); each is gathered into the workspace's buffers, then forward, backward and
    step. Returns the workspace, for the next epoch."""
    check_reduction(net.spec.loss, reduction)
    sizes = net.spec.sizes
    for what, v, n_cols in (("X", X, sizes[0]), ("Y", Y, sizes[-1])):
        if v.dtype != net.dtype or v.ndim != 2 or v.shape[1] != n_cols:
            raise ValueError(f"{what} must be a ({len(v)}, {n_cols}) array of {net.dtype} (see "
                             f"MLP.targets for Y); got {v.dtype} of shape {v.shape}")
    ws = workspace if workspace is not None else Workspace(net, min(batch_size, len(order)))
    if ws._grads is None:
        ws._make_grads()
    if ws.X is None:
        ws.X = np.empty((ws.capacity, sizes[0]), net.dtype)
    n = len(order)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        B = len(idx)
        if B != ws.B:
            ws._rows(B)
        Xb, Yb = ws.X[:B], ws.Y
        gather(X, idx, Xb)
        gather(Y, idx, Yb)
        ws.forward(Xb).backward(Yb, reduction, lr)
    return ws


def train(
    net: MLP,
    X,
    y,
    *,
    epochs: int,
    lr: float,
    batch_size: int | None = None,
    reduction: str = "sum",
    path: str = "batched",
    seed: int = 0,
) -> list[float]:
    """Mini-batch gradient descent; returns the loss over all of X before training and after each
    epoch (epochs + 1 figures, with ``reduction``).

    Each epoch visits the samples in the order of ``np.random.default_rng(seed)``'s next
    permutation, in batches of ``batch_size`` (all of X when None; the last batch may be smaller).
    """
    _check_positive_int("epochs", epochs)
    check_reduction(net.spec.loss, reduction)
    check_choice("path", path, PATHS)
    X = net._inputs(X)
    n = X.shape[0]
    batch_size = n if batch_size is None else batch_size
    _check_positive_int("batch size", batch_size)
    Y = net.targets(y, n)
    rng = np.random.default_rng(seed)
    history = [net.loss(X, Y, reduction)]
    workspace = None
    for _ in range(epochs):
        order = rng.permutation(n)
        if path == "batched":
            workspace = sgd_epoch(net, X, Y, order, lr, batch_size, reduction, workspace)
        else:
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                trace = net.backward(X[idx], Y[idx], reduction, path)
                net.step(trace.W_derivs, trace.b_derivs, lr)
        history.append(net.loss(X, Y, reduction))
    return history
