"""hypothesis strategies for MLP problems: architectures, batches and inputs, extreme ones included.

    from hypothesis import given
    from refmlp.strategies import cases

    @given(cases())
    def test_my_backward(case):          # case.net, case.X, case.y, case.reduction, case.scale
        ...

A drawn :class:`Case` is a whole problem: input size 1..6, L = 1..4 layers of widths 1..7, a hidden
activation from the registry (softmax excepted, leaky slopes varied), a valid (loss, output
activation) pair from ``loss.outputs``, a batch of 1..9 samples, a reduction the loss takes, the
init scheme and its seed, the inputs, the targets, and a scale (:data:`SCALES`):

- ``"unit"``: inputs in [-1, 1], the initialised weights as they are;
- ``"inputs x1e4"``: the same inputs times 1e4, so |a_1| reaches about 1e3 (course init) to 1e4
  (torch init) when an input is near +-1;
- ``"pre-activations"``: the weights and biases of each layer k rescaled in turn so that
  max |a_k| over the batch is a drawn magnitude between 1e3 and 1e4, at every layer.

This is the one module of refmlp that imports hypothesis (``pip install hypothesis``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ModuleNotFoundError as exc:  # pragma: no cover - the message is the point
    raise ModuleNotFoundError("refmlp.strategies needs hypothesis, which is not installed: pip "
                              "install hypothesis (or 'refmlp[hypothesis]')", name=exc.name) from None

from .activations import HIDDEN_ACTIVATIONS
from .losses import PAIRINGS
from .network import INIT_SCHEMES, MLP, Spec

SCALES = ("unit", "inputs x1e4", "pre-activations")
LEAKY_SLOPES = (None, 0.0, 0.2, 1.0)  # None: the notes' 0.01


@dataclass
class Case:
    net: MLP
    X: np.ndarray
    y: np.ndarray
    reduction: str
    scale: str

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example
        W = {k: self.net.W[k].tolist() for k in range(1, self.net.L + 1)}
        b = {k: self.net.b[k].tolist() for k in range(1, self.net.L + 1)}
        return (f"Case({self.net.spec.describe()}, reduction={self.reduction!r}, "
                f"scale={self.scale!r},\n  X={self.X.tolist()},\n  y={self.y.tolist()},\n"
                f"  W={W},\n  b={b})")


@st.composite
def architectures(draw, max_inputs: int = 6, max_layers: int = 4, max_width: int = 7) -> Spec:
    """A Spec: sizes, a hidden activation, a leaky slope, a valid (loss, output) pair."""
    n_in = draw(st.integers(1, max_inputs), label="n_in")
    L = draw(st.integers(1, max_layers), label="L")
    widths = draw(st.lists(st.integers(1, max_width), min_size=L, max_size=L), label="widths")
    hidden = draw(st.sampled_from(HIDDEN_ACTIVATIONS), label="hidden activation")
    slope = draw(st.sampled_from(LEAKY_SLOPES), label="leaky slope")
    loss, output = draw(st.sampled_from(PAIRINGS), label="loss, output")
    return Spec.build(n_in, widths[:-1], widths[-1], activation=hidden, loss=loss,
                      output_activation=output, leaky_slope=slope)


def inputs(n_in: int, B: int, scale: str = "unit") -> st.SearchStrategy:
    """X of shape (B, n_in): entries in [-1, 1], times 1e4 for the scale "inputs x1e4"."""
    unit = hnp.arrays(np.float64, (B, n_in), elements=st.floats(-1, 1, allow_subnormal=False))
    return unit.map(lambda X: X * 1e4) if scale == "inputs x1e4" else unit


@st.composite
def targets(draw, spec: Spec, B: int) -> np.ndarray:
    """y for ``spec``'s loss: class labels or one-hot rows, {0, 1} for BCE, else floats in [-2, 2]."""
    n_out = spec.layers[-1].size
    if spec.loss.target == "class":
        labels = np.array(draw(st.lists(st.integers(0, n_out - 1), min_size=B, max_size=B)))
        return np.eye(n_out)[labels] if draw(st.booleans(), label="one-hot rows") else labels
    if spec.loss.torch_class.startswith("BCE"):
        return draw(hnp.arrays(np.float64, (B, n_out), elements=st.sampled_from([0.0, 1.0])))
    return draw(hnp.arrays(np.float64, (B, n_out), elements=st.floats(-2, 2, allow_subnormal=False)))


@st.composite
def batches(draw, spec: Spec, max_batch: int = 9, scale: str = "unit") -> tuple[np.ndarray, np.ndarray]:
    """(X, y), a batch of 1..max_batch samples for ``spec``."""
    B = draw(st.integers(1, max_batch), label="B")
    return draw(inputs(spec.n_in, B, scale), label="X"), draw(targets(spec, B), label="y")


def rescale_to(net: MLP, X: np.ndarray, magnitude: float) -> None:
    """Scale W_k and b_k, for k = 1..L in turn, so that max |a_k| over the batch is ``magnitude``.

    A layer whose pre-activations are all 0 (a dead ReLU layer feeding only zeros) is left alone.
    """
    h = X
    for k in range(1, net.L + 1):
        a = h @ net.W[k].T + net.b[k]
        peak = np.abs(a).max()
        if peak > 0:
            net.W[k] *= magnitude / peak
            net.b[k] *= magnitude / peak
            a = h @ net.W[k].T + net.b[k]
        h = net.f[k](a)


@st.composite
def cases(draw, scales=SCALES) -> Case:
    """A whole problem (module docstring), its scale among ``scales``."""
    spec = draw(architectures(), label="spec")
    reduction = draw(st.sampled_from(spec.loss.reductions), label="reduction")
    init = draw(st.sampled_from(INIT_SCHEMES), label="init")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    scale = draw(st.sampled_from(scales), label="scale")
    net = MLP(spec, init=init, seed=seed)
    X, y = draw(batches(spec, scale=scale))
    if scale == "pre-activations":
        rescale_to(net, X, draw(st.floats(1e3, 1e4), label="max |a_k|"))
    return Case(net, X, y, reduction, scale)
