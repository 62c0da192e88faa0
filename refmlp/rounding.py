"""How far two correct implementations may drift apart: an error scale for every element.

A floating-point sum or product is exact up to a relative rounding of eps, so how far a computed
quantity may stray from the exact one depends on the size of the *terms it was computed from* and
on the errors those terms carried in, not on its own size: a gradient entry that cancels to 1e-9
from terms of size 1 is legitimately off by ~eps, a billion times its own eps. This module runs the
network once more on magnitudes, a first-order running error analysis: for every quantity q it
gives an array M_q of q's shape such that two correct implementations differ by about
c eps (|q| + M_q) at most, where c grows with the number of terms per sum (the parity rtol absorbs
it; see refmlp.compare).

Row layout as in refmlp.network (one sample a row); |.| elementwise; M_h0 = 0 (both sides get the
same input):

    M_a_k = (|h_{k-1}| + M_h_{k-1}) |W_k|^T + |b_k|       the terms of W_k h_{k-1} + b_k, and the
                                                           error h_{k-1} brings
    M_h_k = |f'_k(a_k)| M_a_k                              elementwise f_k
          = s M_a_k + s (s . M_a_k)                        softmax (s = h_k): |Jacobian| M_a
    M_g_L = Loss.g_scale(...), divided by B for "mean"
    p     = g_{k+1} W_{k+1}  (the g passed back to layer k)
    M_p   = (|g_{k+1}| + M_g_{k+1}) |W_{k+1}|
    M_g_k = M_p |f'_k(a_k)| + |p| (K_k + L_k M_a_k)        K_k: rounding of f' itself (1 - tanh^2
                                                           cancels near saturation), L_k: bound on
                                                           |f''|, the error a_k brings into f'(a_k)
    M_W_k = (|g_k| + M_g_k)^T (|h_{k-1}| + M_h_{k-1})
    M_b_k = sum over the batch of (|g_k| + M_g_k)
    M_loss = reduced Loss.scale (the terms the loss adds up) + sum |g_L| M_a_L

Discontinuities are outside any such bound: a pre-activation within rounding of a relu's or
|x|'s kink may take the other branch on the other side.
"""

from __future__ import annotations

import numpy as np

from .network import MLP, Trace


def _softmax_propagate(s: np.ndarray, M: np.ndarray) -> np.ndarray:
    """|J| M for the softmax Jacobian J = diag(s) - s s^T, row by row: s M + s (s . M)."""
    return s * M + s * (s * M).sum(axis=-1, keepdims=True)


def error_scales(net: MLP, trace: Trace, Y: np.ndarray) -> dict:
    """M_q for q in a, h, g, W_derivs, b_derivs (lists 1..L) and the loss (a float).

    ``trace`` is the expected side's (its a, h, g, reduction); ``net`` gives the weights and the
    activations; Y is (B, n_L) as :meth:`~refmlp.network.MLP.targets` makes it.
    """
    L = net.L
    absW = [None] + [np.abs(Wk.astype(np.float64)) for Wk in net.W[1:]]
    a = [None] + [np.asarray(v, dtype=np.float64) for v in trace.a[1:]]
    h = [np.asarray(v, dtype=np.float64) for v in trace.h]
    g = [None] + [np.asarray(v, dtype=np.float64) for v in trace.g[1:]]
    Y = np.asarray(Y, dtype=np.float64)
    acts = [None] + [layer.activation for layer in net.spec.layers]
    fprime = [None] + [np.abs(act.fprime(a[k])) if act.fprime else None for k, act in enumerate(acts[1:], 1)]

    M_a, M_h = [None] * (L + 1), [np.zeros_like(h[0])] + [None] * L
    for k in range(1, L + 1):
        M_a[k] = (np.abs(h[k - 1]) + M_h[k - 1]) @ absW[k].T + np.abs(net.b[k].astype(np.float64))
        if acts[k].fprime is None:
            M_h[k] = _softmax_propagate(h[k], M_a[k])
        else:
            M_h[k] = fprime[k] * M_a[k]

    B = h[0].shape[0]
    per_batch = 1.0 / B if trace.reduction == "mean" else 1.0
    M_g = [None] * (L + 1)
    M_g[L] = net.spec.loss.g_scale(acts[L], a[L], h[L], Y, M_a[L], M_h[L]) * per_batch
    for k in range(L - 1, 0, -1):
        p = g[k + 1] @ net.W[k + 1].astype(np.float64)
        M_p = (np.abs(g[k + 1]) + M_g[k + 1]) @ absW[k + 1]
        M_g[k] = M_p * fprime[k] + np.abs(p) * (acts[k].fprime_rounding + acts[k].fprime_lipschitz * M_a[k])

    M_W, M_b = [None] * (L + 1), [None] * (L + 1)
    for k in range(1, L + 1):
        G = np.abs(g[k]) + M_g[k]
        M_W[k] = G.T @ (np.abs(h[k - 1]) + M_h[k - 1])
        M_b[k] = G.sum(axis=0)

    reduce = np.mean if trace.reduction == "mean" else np.sum
    M_loss = float(reduce(net.spec.loss.scale(a[L], h[L], Y)) + (np.abs(g[L]) * M_a[L]).sum())
    return {"a": M_a, "h": M_h, "g": M_g, "W_derivs": M_W, "b_derivs": M_b, "loss": M_loss}
