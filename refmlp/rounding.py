"""How far two correct implementations may drift apart: an error scale for every element.

A floating-point sum or product is exact up to a relative rounding of eps, so how far a computed
quantity may stray from the exact one depends on the size of the *terms it was computed from* and
on the errors those terms carried in, not on its own size: a gradient entry that cancels to 1e-9
from terms of size 1 is legitimately off by ~eps, a billion times its own eps. This module runs the
network once more on magnitudes, a first-order running error analysis: for every quantity q it
gives an array M_q of q's shape such that two correct implementations differ by about
rtol (|q| + M_q) at most (refmlp.compare).

Two rules shape it. The rounding of each sum is bounded by the magnitudes of its terms, |W| |h|;
errors carried in from earlier layers are independent roundings, so they add in quadrature,
sqrt(W^2 M^2), as in probabilistic rounding error analysis (Higham and Mary, 2019) -- adding them
in absolute value would compound by the row sums of |W| at every layer and, eight layers deep,
forgive any error. And an activation's or a loss's slope is taken as its largest within the
uncertainty of its input, a +- r with r = rtol M_a, so that a value at a kink (relu at 0, |h - y| at
0) or a loss that is exactly 0 is given the room its neighbours need.

Row layout as in refmlp.network (one sample a row); |.|, squares and roots elementwise; M_h0 = 0
(both sides get the same input); f'max = max |f'| over a +- r:

    M_a_k = |h_{k-1}| |W_k|^T + sqrt(M_h_{k-1}^2 (W_k^2)^T) + |b_k|
    M_h_k = f'max_k(a_k) M_a_k                              elementwise f_k
          = s M_a_k + s (s . M_a_k)                        softmax (s = h_k): |Jacobian| M_a
    M_g_L = Loss.g_scale(...), divided by the reduction's divisor, + twice the range of dLoss/da_L over a_L +- r, / rtol
    p     = g_{k+1} W_{k+1}  (the g passed back to layer k)
    M_p   = |g_{k+1}| |W_{k+1}| + sqrt(M_g_{k+1}^2 W_{k+1}^2)
    M_g_k = M_p f'max_k(a_k) + |p| (K_k + L_k M_a_k + J_k)  K_k: rounding of f' itself (1 - tanh^2
                                                           cancels near saturation), L_k: bound on
                                                           |f''|, the error a_k brings into f'(a_k),
                                                           J_k: twice f''s range over a_k +- r, / rtol
    M_W_k = |g_k|^T |h_{k-1}| + sqrt((M_g_k^2)^T h_{k-1}^2 + (g_k^2)^T M_h_{k-1}^2)
    M_b_k = sum over the batch of |g_k| + sqrt(sum over the batch of M_g_k^2)
    M_loss = reduced Loss.scale (the terms it adds up) + sqrt(sum (gmax_L M_a_L)^2), gmax_L the
             largest |dLoss/da_L| over a_L +- r

Where f' itself jumps (relu's and leaky_relu's kink at 0, |x|'s at h = y) and the input is within
its uncertainty of the jump, each side may take either branch: the derivative is undetermined at
this precision. Twice the jump, 2 (max - min of f' over a +- r) / rtol, is added to the uncertainty
of f' (and of dLoss/da_L), so that such an element, and the sums it enters, are judged with the
room that branch choice needs and nothing more; anywhere else the jump term is 0.
"""

from __future__ import annotations

import numpy as np

from .losses import divisor, reduce_samples
from .network import MLP, Trace
from .tolerance import JUMP_ROOM  # the room for a branch choice: its reason is there


def _softmax_propagate(s: np.ndarray, M: np.ndarray) -> np.ndarray:
    """|J| M for the softmax Jacobian J = diag(s) - s s^T, row by row: s M + s (s . M)."""
    return s * M + s * (s * M).sum(axis=-1, keepdims=True)


def _fprime_range(act, a: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The largest and smallest f' over [a - r, a + r]: at both ends (relu's and leaky's jumps),
    and at 0 when the interval holds it (where tanh's and logistic's f' peak)."""
    ends = act.fprime(a - r), act.fprime(a + r)
    hi, lo = np.maximum(*ends), np.minimum(*ends)
    at0 = np.abs(a) <= r
    if at0.any():
        f0 = act.fprime(np.zeros_like(a))
        hi, lo = np.where(at0, np.maximum(hi, f0), hi), np.where(at0, np.minimum(lo, f0), lo)
    return hi, lo


def _quadrature(M2: np.ndarray, W2: np.ndarray) -> np.ndarray:
    return np.sqrt(M2 @ W2)


def error_scales(net: MLP, trace: Trace, Y: np.ndarray, rtol: float) -> dict:
    """M_q for q in a, h, g, W_derivs, b_derivs (lists 1..L) and the loss (a float).

    ``trace`` is the expected side's (its a, h, g, reduction); ``net`` gives the weights and the
    activations; Y is (B, n_L) as :meth:`~refmlp.network.MLP.targets` makes it; ``rtol`` is the
    tolerance the scales will be used with (the uncertainty of each input, for the slopes).
    """
    L = net.L
    W = [None] + [Wk.astype(np.float64) for Wk in net.W[1:]]
    absW, W2 = [None] + [np.abs(Wk) for Wk in W[1:]], [None] + [Wk * Wk for Wk in W[1:]]
    a = [None] + [np.asarray(v, dtype=np.float64) for v in trace.a[1:]]
    h = [np.asarray(v, dtype=np.float64) for v in trace.h]
    g = [None] + [np.asarray(v, dtype=np.float64) for v in trace.g[1:]]
    Y = np.asarray(Y, dtype=np.float64)
    acts = [None] + [layer.activation for layer in net.spec.layers]

    M_a, M_h = [None] * (L + 1), [np.zeros_like(h[0])] + [None] * L
    fmax, fjump = [None] * (L + 1), [None] * (L + 1)
    for k in range(1, L + 1):
        M_a[k] = (np.abs(h[k - 1]) @ absW[k].T + _quadrature(M_h[k - 1] ** 2, W2[k].T)
                  + np.abs(net.b[k].astype(np.float64)))
        if acts[k].fprime is None:
            M_h[k] = _softmax_propagate(h[k], M_a[k])
        else:
            hi, lo = _fprime_range(acts[k], a[k], rtol * M_a[k])
            fmax[k], fjump[k] = np.maximum(np.abs(hi), np.abs(lo)), JUMP_ROOM * (hi - lo) / rtol
            M_h[k] = fmax[k] * M_a[k]

    B = h[0].shape[0]
    per_batch = 1.0 / divisor(trace.reduction or "sum", B, Y.shape[1])
    loss, output = net.spec.loss, acts[L]
    # dLoss/da_L over a_L +- r: its largest size (for the loss) and its jump (|x|'s kink, a relu
    # output at 0: the derivative is undetermined there at this precision)
    r = rtol * M_a[L]
    around = [g[L]] + [loss.est_lossderiv(output, s, output.f(s), Y) * per_batch
                       for s in (a[L] - r, a[L] + r)]
    gmax = np.max(np.abs(around), axis=0)
    gjump = JUMP_ROOM * (np.max(around, axis=0) - np.min(around, axis=0)) / rtol

    M_g = [None] * (L + 1)
    M_g[L] = loss.g_scale(output, a[L], h[L], Y, M_a[L], M_h[L]) * per_batch + gjump
    for k in range(L - 1, 0, -1):
        p = g[k + 1] @ W[k + 1]
        M_p = np.abs(g[k + 1]) @ absW[k + 1] + _quadrature(M_g[k + 1] ** 2, W2[k + 1])
        act = acts[k]
        M_g[k] = M_p * fmax[k] + np.abs(p) * (
            act.fprime_rounding + act.fprime_lipschitz * M_a[k] + fjump[k]
        )

    M_W, M_b = [None] * (L + 1), [None] * (L + 1)
    for k in range(1, L + 1):
        M_W[k] = (np.abs(g[k]).T @ np.abs(h[k - 1])
                  + np.sqrt((M_g[k] ** 2).T @ h[k - 1] ** 2 + (g[k] ** 2).T @ M_h[k - 1] ** 2))
        M_b[k] = np.abs(g[k]).sum(axis=0) + np.sqrt((M_g[k] ** 2).sum(axis=0))

    M_loss = (reduce_samples(loss.scale(a[L], h[L], Y), trace.reduction or "sum", Y.shape[1])
              + float(np.sqrt(((gmax * M_a[L]) ** 2).sum())))
    return {"a": M_a, "h": M_h, "g": M_g, "W_derivs": M_W, "b_derivs": M_b, "loss": M_loss}
