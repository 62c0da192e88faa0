"""The torch twin of a spec: build it, synchronise weights both ways, capture a trace.

The twin is ``nn.Linear`` layers (W_k is ``linears[k-1].weight``, of the same (out, in) shape, so
no transpose is needed anywhere) each followed by the activation's ``torch.nn`` module. Layer k of
the notes is ``linears[k - 1]``: torch's ModuleList counts from 0.

A captured trace holds, as numpy arrays in refmlp's layout (:mod:`refmlp.network`): a_k and h_k
from the forward pass, the loss, g_k = dLoss/da_k read off ``a_k.grad`` (kept with
``retain_grad``), and every ``.grad`` of the weights and biases.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .losses import check_reduction, reduce_samples
from .network import MLP, Spec, Trace, as_targets

TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


class TorchMLP(nn.Module):
    """nn.Linear and activation modules built from a :class:`~refmlp.network.Spec`."""

    def __init__(self, spec: Spec, dtype=torch.float64):
        super().__init__()
        self.spec = spec
        sizes = spec.sizes
        self.linears = nn.ModuleList(
            nn.Linear(sizes[k - 1], sizes[k], dtype=dtype) for k in range(1, spec.L + 1)
        )
        self.acts = nn.ModuleList(
            getattr(nn, layer.activation.torch_class)(**layer.activation.torch_kwargs)
            for layer in spec.layers
        )

    def forward_trace(self, X: torch.Tensor) -> tuple[list, list]:
        """a[1..L] (each retaining its grad) and h[0..L], refmlp's layout."""
        h, a = [X], [None]
        for k in range(1, self.spec.L + 1):
            a_k = self.linears[k - 1](h[k - 1])
            a_k.retain_grad()
            a.append(a_k)
            h.append(self.acts[k - 1](a_k))
        return a, h

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.forward_trace(X)[1][-1]


def to_torch(net: MLP, model: TorchMLP) -> None:
    """Copy refmlp's W[k], b[k] into the twin, checking shapes (torch's ``.data =`` does not)."""
    if model.spec.sizes != net.spec.sizes:
        raise ValueError(f"sizes differ: refmlp {net.spec.sizes}, torch {model.spec.sizes}")
    with torch.no_grad():
        for k in range(1, net.L + 1):
            lin = model.linears[k - 1]
            for name, src, dst in (("W", net.W[k], lin.weight), ("b", net.b[k], lin.bias)):
                if tuple(src.shape) != tuple(dst.shape):
                    raise ValueError(
                        f"{name}[{k}] has shape {src.shape} in refmlp but {tuple(dst.shape)} in torch"
                    )
                dst.copy_(torch.tensor(src, dtype=dst.dtype))


def from_torch(model: TorchMLP, net: MLP) -> None:
    """Copy the twin's weights and biases into refmlp's W[k], b[k] (shapes checked)."""
    W = [None] + [lin.weight.detach().cpu().numpy() for lin in model.linears]
    b = [None] + [lin.bias.detach().cpu().numpy() for lin in model.linears]
    net.set_params(W, b)


def twin(net: MLP) -> TorchMLP:
    """A torch twin of ``net`` in the same dtype, holding the same weights."""
    model = TorchMLP(net.spec, TORCH_DTYPES[net.dtype])
    to_torch(net, model)
    return model


def torch_loss(spec: Spec, a_L, h_L, Y: np.ndarray, reduction: str) -> torch.Tensor:
    """The batch loss in torch: torch's own ``reduction="mean"`` for "element_mean", else
    ``reduction="sum"``, divided by B for "mean" (see refmlp.losses).

    ``Y`` is (B, n_L), as :func:`refmlp.network.as_targets` makes it; class labels are one-hot
    rows, which CrossEntropyLoss takes as class probabilities: the same loss.
    """
    loss = spec.loss
    check_reduction(loss, reduction)
    fn = getattr(nn, loss.torch_class)(reduction="mean" if reduction == "element_mean" else "sum")
    inputs = a_L if loss.torch_on_logits else h_L
    target = torch.tensor(Y, dtype=inputs.dtype)
    value = fn(inputs, target) * loss.torch_scale
    return value / Y.shape[0] if reduction == "mean" else value


def torch_trace(model: TorchMLP, X, y, reduction: str = "sum") -> Trace:
    """Forward and backward through the twin on one batch; every quantity as numpy.

    y takes the same forms as in :meth:`refmlp.network.MLP.backward`.
    """
    check_reduction(model.spec.loss, reduction)
    model.zero_grad(set_to_none=True)
    dtype = model.linears[0].weight.dtype
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != model.spec.n_in:
        raise ValueError(f"X must have shape (B, {model.spec.n_in}); got shape {X.shape}")
    Y = as_targets(model.spec, y, X.shape[0], np.float64)
    a, h = model.forward_trace(torch.tensor(X, dtype=dtype))  # a copy: X may be read-only
    loss = torch_loss(model.spec, a[-1], h[-1], Y, reduction)
    loss.backward()

    def np_(t):
        return t.detach().cpu().numpy()

    L = model.spec.L
    trace = Trace(
        a=[None] + [np_(t) for t in a[1:]],
        h=[np_(t) for t in h],
        g=[None] + [np_(t.grad) for t in a[1:]],
        W_derivs=[None] + [np_(model.linears[k].weight.grad) for k in range(L)],
        b_derivs=[None] + [np_(model.linears[k].bias.grad) for k in range(L)],
    )
    trace.loss, trace.reduction = float(loss.item()), reduction
    # the tolerance's floor for the loss row (refmlp.compare); not part of what is compared
    trace.loss_scale = reduce_samples(model.spec.loss.scale(trace.a[-1], trace.h[-1], Y), reduction,
                                      Y.shape[1])
    return trace
