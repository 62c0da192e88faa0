"""Which of the notes' quantities, or which simple combination of them, a student's numbers equal.

When no catalogued bug (refmlp.bugs) fits the first divergence, the diagnosis searches for the
formula the student actually computed. The candidates are built from refmlp.network's own numpy
trace of the same sample from the same weights, at the layer of the first divergence, where
everything upstream still matches (so the student's inputs to the wrong line are the
reference's):

- a wrong ``b_derivs_k`` (the student's g_k): g_k with the f' step dropped, taken at h_k, at g,
  at a_k without its bias, with the neighbouring layer's f' or another activation's (a hard-coded
  ReLU' or leaky slope), twice; W_{k+1} for W_{k+1}^T;
  g_{k+1} not passed back, or passed back from before its own f' step; another layer's g; g
  summed to one number; 0 (never computed); at the last layer f'_L applied (at a_L or h_L),
  est_lossderiv given a_L;
- a wrong ``W_derivs_k``: outer(u, v), v u^T and v u^T reshaped, u in {g_k, g_k before the f'
  step, the g found for b_derivs_k, another layer's g}, v in {h_{k-1}, a_{k-1}, h_k, a_k, x,
  another layer's h or a}; 0;
- a wrong ``a_k``: the bias dropped, W^T, a_{k-1}, x, f_{k-1}(h_{k-1}) or another activation
  (leaky ReLU with another slope among them) of a_{k-1} in place of h_{k-1}; for a_1 another
  call's x, zeros, or the x' that a_1 = W_1 x' + b_1 pins down (more units than inputs);
- a wrong output of ``forward``: a or h of any layer, x, another activation of a_k, another
  call's output, 0 or None (refmlp.check.diagnosis reads these against start= and end=);

each also times a constant factor, fitted by least squares over every sample at once and kept
only when it is a simple fraction p/q (|p|, q <= 1000: -1, 2, 1/4, 1/n, an alpha of 0.01), the
factors a line of code puts in.

**"Equals"** is the parity policy's own rule (refmlp.compare) applied to the candidate:
|student - c v| <= rtol (|c v| + |c| M_v) + err, with rtol the policy's for the student's dtype
(float64 1e-10, float32 1e-4: the rounding two correct implementations of the same formula may
differ by), M_v the candidate's error scale, propagated from refmlp.rounding's scales of the atoms
it is made of (|u| M_v + M_u |v| for a product, the magnitude of the terms for W^T g), and err the
rounding of the recovered gradient itself (refmlp.check.judge.recovered).

**Ties** (two candidates equal on this evidence: h_k = a_k on a leaky layer whose a_k > 0, say)
are resolved by a stated rule: factor 1 before a fitted factor, then fewer changes to the notes'
formula (``cost``), then the order above (the commonest mistakes first); the others are reported
as equal on this sample. A fitted factor needs at least two numbers to fit (one number is a
multiple of anything).
"""

from __future__ import annotations

from dataclasses import dataclass, replace, field
from fractions import Fraction

import numpy as np

from .. import activations as act
from .. import bugs
from ..network import MLP
from ..rounding import error_scales
from ..tolerance import UNDERFLOW_ROUNDINGS as TINY_ROOM  # subnormal results may flush to zero


@dataclass(frozen=True)
class Term:
    """A candidate: what it is in the notes' words, its value, its error scale M (the size of the
    terms it is computed from, refmlp.rounding's sense), how many changes it makes to the notes'
    formula, the catalogued bug it is (if any) and the fix."""

    name: str
    value: np.ndarray
    scale: np.ndarray
    cost: int = 1
    key: str | None = None
    advice: str = ""


@dataclass(frozen=True)
class Found:
    """The explanation of a target: ``term`` times ``factor`` equals it; ``also`` are candidates
    equal to it on the same evidence (ties)."""

    target: str
    term: Term
    factor: float
    also: tuple[str, ...] = ()

    @property
    def is_reference(self) -> bool:
        return self.term.cost == 0 and self.factor == 1.0

    def formula(self) -> str:
        return (self.term.name if self.factor == 1.0
                else f"{describe_factor(self.factor)} x {self.term.name}")

    def equation(self) -> str:
        """ "your W_derivs_1 equals g_1 x^T (on these numbers also ...)"."""
        text = f"your {self.target} equals {self.formula()}"
        if self.also:
            text += f" (on these numbers also {', '.join(self.also)})"
        return text

    def say(self) -> str:
        """In the notes' words: "your W_derivs_1 equals g_1 a_0^T: use ..."."""
        text = self.equation()
        advice = self.term.advice
        if self.factor != 1.0:
            advice = (f"{advice}; and no factor {describe_factor(self.factor)}" if advice and self.term.cost
                      else f"drop the factor {describe_factor(self.factor)}")
        return f"{text}: {advice}" if advice else text


def atom(name, value, scale, cost=1, key=None, advice="") -> Term:
    v = np.asarray(value, dtype=np.float64)
    return Term(name, v, np.broadcast_to(np.asarray(scale, dtype=np.float64), v.shape), cost, key, advice)


def times(u: Term, w: Term, name, cost, key=None, advice="") -> Term:
    """The elementwise product u * w."""
    return atom(name, u.value * w.value, np.abs(u.value) * w.scale + u.scale * np.abs(w.value),
                cost, key, advice)


def outer(u: Term, v: Term, name, cost, key=None, advice="") -> Term:
    """u v^T."""
    return atom(name, np.outer(u.value, v.value),
                np.outer(np.abs(u.value), v.scale) + np.outer(u.scale, np.abs(v.value)), cost, key, advice)


def fprime_term(fprime, u: Term, name, rtol) -> Term:
    """f'(u), its scale twice the change of f' over u +- rtol M_u, divided by rtol: the smooth
    slope's propagation of u's error and a kink's jump alike (refmlp.rounding's JUMP_ROOM rule)."""
    r = rtol * u.scale
    lo, hi = fprime(u.value - r), fprime(u.value + r)
    mid = fprime(u.value)
    return atom(name, mid, 2 * np.abs(hi - lo) / rtol)


OTHER_ACTIVATIONS = tuple(act.ACTIVATIONS[name] for name in
                          ("leaky_relu", "relu", "logistic", "tanh", "identity")) + tuple(
    act.Activation(f"leaky_relu(slope={s:g})", act.make_leaky_relu(s).f, act.make_leaky_relu(s).fprime,
                   "LeakyReLU") for s in bugs.SLOPES if s not in (0.0, 1.0))  # ReLU, identity above
"""Activations tried in place of a layer's own: the notes' leaky ReLU (slope 0.01), others, and
leaky ReLU with the slopes a hard-coded one may have (refmlp.bugs.SLOPES)."""


# ---- the search ------------------------------------------------------------------------------
def describe_factor(c: float) -> str:
    frac = Fraction(c).limit_denominator(1000)
    if abs(float(frac) - c) <= 1e-9 * abs(c):
        return str(frac) if frac.denominator != 1 else f"{frac.numerator}"
    return f"{c:.6g}"


def _allowed(term: Term, c: float, rtol: float, err) -> np.ndarray:
    return (rtol * (np.abs(c * term.value) + abs(c) * term.scale) + err
            + TINY_ROOM * np.finfo(np.float64).tiny)


def _fits(target, term, c, rtol, err) -> bool:
    return bool(np.all(np.abs(target - c * term.value) <= _allowed(term, c, rtol, err)))


def explain(target_name: str, observations, rtol: float, free_factor: bool = True) -> Found | None:
    """The candidate that equals the target on every observation (module docstring).

    ``observations``: [(student's array, {name: Term}, err)], one per sample; a candidate must be
    present, of the target's shape, in every one. None when nothing fits.
    """
    if not observations:
        return None
    names = [n for n in observations[0][1] if all(n in cands for _, cands, _ in observations)]
    # a target within its own rounding of 0 is a multiple of anything (by a factor ~0)
    zero = all(np.all(np.abs(np.asarray(t, dtype=np.float64)) <= np.asarray(e) + TINY_ROOM
                      * np.finfo(np.float64).tiny) for t, _, e in observations)
    matches = []
    for order, name in enumerate(names):
        terms = [cands[name] for _, cands, _ in observations]
        targets = [np.asarray(t, dtype=np.float64) for t, _, _ in observations]
        if any(t.shape != term.value.shape or not np.isfinite(t).all() for t, term in zip(targets, terms)):
            continue
        errs = [e for _, _, e in observations]
        if all(_fits(t, term, 1.0, rtol, e) for t, term, e in zip(targets, terms, errs)):
            matches.append((0, terms[0].cost, order, name, 1.0, terms[0]))
            continue
        flat_t = np.concatenate([t.ravel() for t in targets])
        flat_v = np.concatenate([term.value.ravel() for term in terms])
        den = float(flat_v @ flat_v)
        if not free_factor or flat_t.size < 2 or den == 0.0 or zero:
            continue
        c = float(flat_t @ flat_v) / den
        if c == 0.0 or not np.isfinite(c):
            continue
        c = snap(c, rtol)
        if c is None or c == 1.0:
            continue
        if all(_fits(t, term, c, rtol, e) for t, term, e in zip(targets, terms, errs)):
            matches.append((1, terms[0].cost, order, name, c, terms[0]))
    if not matches:
        return None
    matches.sort(key=lambda m: m[:3])
    best = matches[0]
    also = tuple(m[3] for m in matches[1:] if m[0] == best[0] and m[1] == best[1])
    return Found(target_name, best[5], best[4], also)


def snap(c: float, rtol: float) -> float | None:
    """The simple fraction p/q (|p|, q <= 1000) that c is, to rounding (10 rtol, the fit's own
    error being about rtol), or None: a factor a line of code puts in (2, -1, 1/n, an alpha of
    0.01) is such a number, and a "factor" of 1 + 1e-6 is a small error, not a factor."""
    frac = Fraction(c).limit_denominator(1000)
    if abs(frac.numerator) > 1000 or abs(float(frac) - c) > 10 * rtol * abs(c):
        return None
    return float(frac)


# ---- the reference trace of one sample ---------------------------------------------------------
@dataclass
class SampleTrace:
    """refmlp.network's trace of one sample (1-D per layer, lists 1..L, h from 0) and its error
    scales: a, h, g (after the f' step), p (g before the f' step: W_{k+1}^T g_{k+1}; g_L at L)."""

    spec: object
    W: list
    b: list
    x: np.ndarray
    y: np.ndarray
    a: list = field(default_factory=list)
    h: list = field(default_factory=list)
    g: list = field(default_factory=list)
    p: list = field(default_factory=list)
    M: dict = field(default_factory=dict)


def sample_trace(spec, W, b, x, y, rtol) -> SampleTrace:
    """The numpy reference of one sample (x, y) from weights W, b (lists 1..L, (out, in))."""
    net = MLP(spec, W=W, b=b)
    X, Y = np.atleast_2d(np.asarray(x, dtype=np.float64)), np.atleast_2d(np.asarray(y, dtype=np.float64))
    tr = net.backward(X, Y, "sum", path="per_sample")
    M = error_scales(net, tr, net.targets(Y, 1), rtol)
    L = spec.L
    s = SampleTrace(spec, W, b, X[0], Y[0])
    s.a = [None] + [tr.a[k][0] for k in range(1, L + 1)]
    s.h = [tr.h[k][0] for k in range(L + 1)]
    s.g = [None] + [tr.g[k][0] for k in range(1, L + 1)]
    s.M = {q: [None] + [M[q][k][0] for k in range(1, L + 1)] for q in ("a", "h", "g")}
    s.M["h"][0] = np.zeros_like(s.h[0])
    s.p = [None] * (L + 1)
    s.M["p"] = [None] * (L + 1)
    s.p[L], s.M["p"][L] = s.g[L], s.M["g"][L]
    for k in range(L - 1, 0, -1):
        Wn = np.asarray(W[k + 1], dtype=np.float64)
        s.p[k] = Wn.T @ s.g[k + 1]
        s.M["p"][k] = np.abs(Wn.T) @ np.abs(s.g[k + 1]) + np.sqrt((Wn.T ** 2) @ s.M["g"][k + 1] ** 2)
    return s


def _t(s: SampleTrace, q: str, k: int, name: str, cost=1, key=None, advice="") -> Term:
    value = getattr(s, q)[k]
    return atom(name, value, s.M[q][k], cost, key, advice)


def _fprime(s: SampleTrace, j: int):
    return s.spec.layers[j - 1].activation.fprime


def _xname(k: int) -> str:
    return "x" if k == 0 else f"h_{k}"


# ---- candidates ---------------------------------------------------------------------------------
def g_candidates(s: SampleTrace, k: int, rtol: float) -> dict:
    """What the student's g_k (their b_derivs_k) may be, given g_{k+1} right."""
    L, out = s.spec.L, {}

    def add(term):
        if term.name not in out:
            out[term.name] = term

    g = _t(s, "g", k, f"g_{k}", cost=0)
    add(g)
    if k == L:
        fp = _fprime(s, L)
        if fp is not None:
            add(times(g, fprime_term(fp, _t(s, "a", L, f"a_{L}"), f"f'_{L}(a_{L})", rtol),
                      f"f'_{L}(a_{L}) * g_{L}", 1, "fprime_at_last_layer"))
            add(times(g, fprime_term(fp, _t(s, "h", L, f"h_{L}"), f"f'_{L}(h_{L})", rtol),
                      f"f'_{L}(h_{L}) * g_{L}", 2,
                      advice=f"est_lossderiv already gives dLoss/da_{L}: apply no f' at the last "
                             "layer (and f' takes a, not h)"))
        loss = s.spec.loss.name
        a_L = _t(s, "a", L, f"a_{L}")
        add(atom(f"est_lossderiv(a_{L}, y)", bugs.loss_deriv(loss, a_L.value, s.y), a_L.scale, 1,
                 advice=f"est_lossderiv takes the network's output y_est = h_{L}, not the "
                        f"pre-activation a_{L}"))
    else:
        p = _t(s, "p", k, f"W_{k + 1}^T g_{k + 1}")
        fp = _fprime(s, k)
        a_k, h_k = _t(s, "a", k, f"a_{k}"), _t(s, "h", k, f"h_{k}")
        add(atom(p.name, p.value, p.scale, 1, "fprime_missing"))
        add(times(fprime_term(fp, h_k, f"f'_{k}(h_{k})", rtol), p, f"f'_{k}(h_{k}) * (W_{k + 1}^T g_{k + 1})",
                  1, "fprime_of_h"))
        add(times(fprime_term(fp, p, f"f'_{k}(g)", rtol), p, f"f'_{k}(g) * g, g = W_{k + 1}^T g_{k + 1}", 1,
                  "fprime_at_g", advice=f"evaluate fderiv at the pre-activation a_{k}, not at g"))
        fa = fprime_term(fp, a_k, f"f'_{k}(a_{k})", rtol)
        for j in (k + 1, k - 1):
            if 1 <= j <= L and _fprime(s, j) is not None and \
                    s.spec.layers[j - 1].activation.name != s.spec.layers[k - 1].activation.name:
                add(times(fprime_term(_fprime(s, j), a_k, f"f'_{j}(a_{k})", rtol), p,
                          f"f'_{j}(a_{k}) * (W_{k + 1}^T g_{k + 1})", 1,
                          advice=f"use layer {k}'s own fderiv at step 1 of layer {k}, not layer {j}'s"))
        own = s.spec.layers[k - 1].activation.name
        for phi in OTHER_ACTIVATIONS:  # a hard-coded derivative in place of the layer's fderiv
            if phi.name in (own, "identity"):
                continue  # the reference, and the f' step dropped (above)
            slope = phi.name.partition("slope=")[2].rstrip(")")
            key = (("relu_for_leaky" if phi.name == "relu" else f"slope={slope}" if slope else None)
                   if own == "leaky_relu" else None)
            add(times(fprime_term(phi.fprime, a_k, f"{phi.name}'(a_{k})", rtol), p,
                      f"{phi.name}'(a_{k}) * (W_{k + 1}^T g_{k + 1})", 1, key,
                      advice=f"layer {k}'s derivative is the fderiv given to add_layer "
                             f"({own}'), not {phi.name}'"))
        Wn = s.W[k + 1]
        if Wn.shape[0] == Wn.shape[1]:
            gn = _t(s, "g", k + 1, f"g_{k + 1}")
            q = atom(f"W_{k + 1} g_{k + 1}", Wn @ gn.value, np.abs(Wn) @ np.abs(gn.value)
                     + np.sqrt(Wn ** 2 @ gn.scale ** 2))
            add(times(fa, q, f"f'_{k}(a_{k}) * (W_{k + 1} g_{k + 1})", 1, "W_instead_of_WT"))
        if s.g[k + 1].shape == s.g[k].shape:
            add(times(fa, _t(s, "g", k + 1, f"g_{k + 1}"), f"f'_{k}(a_{k}) * g_{k + 1}", 1,
                      advice=f"pass g back through the weights first: g = W_{k + 1}^T g_{k + 1}"))
        if k + 1 < L:
            Wn = np.asarray(s.W[k + 1], dtype=np.float64)
            pn = s.p[k + 1]
            q = atom(f"W_{k + 1}^T (g_{k + 1} before its f' step)", Wn.T @ pn,
                     np.abs(Wn.T) @ np.abs(pn) + np.sqrt(Wn.T ** 2 @ s.M["p"][k + 1] ** 2))
            add(times(fa, q, f"f'_{k}(a_{k}) * (W_{k + 1}^T g_{k + 1} taken before layer {k + 1}'s "
                             "f' step)", 1,
                      advice=f"pass back the g of layer {k + 1} after its f' step, the one "
                             f"b_derivs_{k + 1} holds"))
        add(times(fa, atom("", fa.value * p.value, np.abs(fa.value) * p.scale),
                  f"f'_{k}(a_{k})^2 * (W_{k + 1}^T g_{k + 1})", 1,
                  advice=f"multiply by f'_{k}(a_{k}) once"))
    for j in range(1, L + 1):  # another layer's g: an index off by one, or a stale variable
        if j != k and s.g[j].shape == g.value.shape:
            add(_t(s, "g", j, f"g_{j}", advice=f"use this layer's g_{k}, not g_{j}"))
    if k < L:
        a_k = _t(s, "a", k, f"a_{k}")
        b_k = np.asarray(s.b[k], dtype=np.float64)
        wx = atom(f"a_{k} - b_{k}", a_k.value - b_k, a_k.scale + np.abs(b_k))
        hn = _xname(k - 1)
        add(times(fprime_term(_fprime(s, k), wx, f"f'_{k}(W_{k} {hn})", rtol),
                  _t(s, "p", k, ""), f"f'_{k}(W_{k} {hn}) * (W_{k + 1}^T g_{k + 1})", 1,
                  "a_stored_without_bias",
                  advice=f"f'_{k} takes a_{k} = W_{k} {hn} + b_{k}, the bias included"))
    add(atom("0", np.zeros_like(g.value), 0.0, 1, advice=(
        f"layer {k}'s gradients are never computed or never added: does the backward loop reach "
        f"layer {k}? (range(L - 1, 0, -1) stops before index 0)")))
    if g.value.size > 1:
        add(atom(f"sum(g_{k}) in every entry", np.full_like(g.value, g.value.sum()),
                 np.full_like(g.value, (np.abs(g.value) + g.scale).sum()), 1, "bias_grad_summed"))
    return out


def W_candidates(s: SampleTrace, k: int, rtol: float, g_found: Term | None = None) -> dict:
    """What the student's W_derivs_k may be: outer products of a g and a layer input (module
    docstring), in the W_k's shape."""
    L, out = s.spec.L, {}
    shape = np.shape(s.W[k])
    us = [(_t(s, "g", k, f"g_{k}", cost=0), 0, None)]
    if k < L:
        us.append((_t(s, "p", k, f"(W_{k + 1}^T g_{k + 1}, before the f' step)"), 1,
                   f"take W_derivs_{k} after the step g *= f'_{k}(a_{k})"))
    if g_found is not None and g_found.cost > 0:
        us.append((g_found, g_found.cost, g_found.advice))
    for j in range(1, L + 1):  # another layer's g: an index off by one, or a stale variable
        if j != k and s.g[j].shape == s.g[k].shape:
            us.append((_t(s, "g", j, f"g_{j}"), 1, f"use this layer's g_{k}, not g_{j}"))
    vs = [(_t(s, "h", k - 1, _xname(k - 1)) if k > 1 else atom("x", s.x, 0.0), 0, None, None)]
    if k > 1:
        vs.append((_t(s, "a", k - 1, f"a_{k - 1}"), 1, "W_derivs_from_a",
                   f"use h_{k - 1} = f_{k - 1}(a_{k - 1}), the layer's input, not a_{k - 1}"))
        vs.append((atom("x", s.x, 0.0), 1, None, f"use h_{k - 1}, this layer's input, not x"))
    vs.append((_t(s, "h", k, f"h_{k}"), 1, "h_k_for_h_k_minus_1", None))
    vs.append((_t(s, "a", k, f"a_{k}"), 1, None,
               f"use the layer's input h_{k - 1}" + (" (x)" if k == 1 else "") + f", not a_{k}"))
    for j in range(1, L + 1):  # another layer's h or a: an index off by more than one
        for q in ("h", "a"):
            if j not in (k - 1, k) and getattr(s, q)[j].shape == s.h[k - 1].shape:
                vs.append((_t(s, q, j, f"{q}_{j}"), 1, None,
                           f"use h_{k - 1}, this layer's input, not {q}_{j}"))
    if k == 1 and L > 1 and s.h[L].shape != s.x.shape:  # same shape: the loop above has it
        vs.append((_t(s, "h", L, f"h_{L}"), 1, None,
                   f"layer 1's input is x: a 0-based h[k - 1] at k = 0 is h[-1], the network's "
                   f"output h_{L}"))

    def add(term):
        if term.value.ndim == 2 and 1 in term.value.shape and term.value.shape != shape \
                and all(t in (1, w) for t, w in zip(term.value.shape, shape)):
            # what W_derivs += (a column or a row) leaves: the same vector in every column or row
            term = replace(term, name=f"{term.name} (broadcast to {shape} by +=)",
                           value=np.broadcast_to(term.value, shape),
                           scale=np.broadcast_to(term.scale, shape))
        if term.value.shape == shape and term.name not in out:
            out[term.name] = term

    add(atom("0", np.zeros(shape), 0.0, 1, advice=(
        f"W_derivs_{k} is never computed or never added (b_derivs_{k} may be)")))
    for u, cu, au in us:
        for v, cv, kv, av in vs:
            cost = cu + cv
            key = kv if cu == 0 else (g_found.key if g_found is not None and u is g_found and cv == 0 else None)
            advice = "; ".join(a for a in (au, av) if a)
            add(outer(u, v, f"{u.name} {v.name}^T", cost, key if cost else None, advice))
            t = outer(v, u, f"{v.name} {u.name}^T", cost + 1,
                      "W_derivs_transposed" if cost == 0 else None,
                      "; ".join(a for a in (advice, f"transpose it: the outer product g h^T has "
                                                    f"W_k's shape (out, in)") if a))
            add(t)
            if t.value.shape != shape and t.value.size == np.prod(shape):
                add(atom(f"{v.name} {u.name}^T reshaped to {shape}", t.value.reshape(shape),
                         t.scale.reshape(shape), cost + 1, "W_derivs_reshaped" if cost == 0 else None,
                         "; ".join(a for a in (advice, "reshape is no transpose: np.outer(g, h_prev)")
                                   if a)))
    return out


def a_candidates(s: SampleTrace, k: int, others=(), target=None) -> dict:
    """What the student's a_k may be, h_{k-1} right; ``others`` are the x of other forward calls;
    ``target`` (the student's a_1) lets layer 1's actual input be solved for."""
    out = {}
    W, b = np.asarray(s.W[k], dtype=np.float64), np.asarray(s.b[k], dtype=np.float64)
    h = s.h[k - 1]
    Mh = s.M["h"][k - 1] if k > 1 else np.zeros_like(h)

    def lin(Wk, v, Mv, bias, name, cost, key=None, advice=""):
        if Wk.shape[1] != np.shape(v)[0]:
            return
        value = Wk @ v + (b if bias else 0)
        scale = np.abs(Wk) @ np.abs(v) + np.sqrt(Wk ** 2 @ Mv ** 2) + (np.abs(b) if bias else 0)
        if name not in out:
            out[name] = atom(name, value, scale, cost, key, advice)

    hn = _xname(k - 1)
    lin(W, h, Mh, True, f"W_{k} {hn} + b_{k}", 0)
    if k > 1:  # layer k-1's activation applied twice, or another activation in its place
        f_prev = s.spec.layers[k - 2].activation
        for phi in OTHER_ACTIVATIONS:
            if phi.name == "identity":
                continue  # W_k a_{k-1} + b_k: its own candidate above
            if phi.name == f_prev.name:
                v = phi.f(h)
                lin(W, v, Mh, True, f"W_{k} f_{k - 1}(h_{k - 1}) + b_{k}", 1,
                    advice=f"apply f_{k - 1} once: h_{k - 1} = f_{k - 1}(a_{k - 1})")
            else:
                lin(W, phi.f(s.a[k - 1]), s.M["a"][k - 1], True,
                    f"W_{k} {phi.name}(a_{k - 1}) + b_{k}", 1,
                    advice=f"layer {k - 1}'s activation is the f given to add_layer, not {phi.name}")
    lin(W, h, Mh, False, f"W_{k} {hn}", 1, "forward_bias_missing")
    if W.shape[0] == W.shape[1]:
        lin(W.T, h, Mh, True, f"W_{k}^T {hn} + b_{k}", 1, "forward_W_transposed")
    if k > 1:
        lin(W, s.a[k - 1], s.M["a"][k - 1], True, f"W_{k} a_{k - 1} + b_{k}", 1,
            advice=f"the input of layer {k} is h_{k - 1} = f_{k - 1}(a_{k - 1}), not a_{k - 1}")
        lin(W, s.x, np.zeros_like(s.x), True, f"W_{k} x + b_{k}", 1,
            advice=f"the input of layer {k} is h_{k - 1}, not x")
    else:
        for j, x_other in enumerate(others):
            if np.shape(x_other) == np.shape(s.x) and not np.array_equal(x_other, s.x):
                lin(W, np.asarray(x_other, dtype=np.float64), np.zeros(np.shape(x_other)), True,
                    f"W_1 x' + b_1, x' the x of an earlier forward call ({j + 1})", 1,
                    "forward_input_not_x", "x', the x of an earlier forward call,")
        lin(W, np.zeros_like(s.x), np.zeros_like(s.x), True, "b_1 (W_1 0 + b_1)", 1,
            "forward_input_not_x", "0 (an array of zeros)")
        if target is not None and W.shape[0] > W.shape[1] and np.shape(target) == (W.shape[0],):
            # more equations than unknowns: a_1 = W_1 x' + b_1 pins x' down, and only an a_1 of
            # that form fits (with as many units as inputs, every a_1 would)
            x_solved = np.linalg.lstsq(W, np.asarray(target, dtype=np.float64) - b, rcond=None)[0]
            if not np.allclose(x_solved, s.x, rtol=1e-6, atol=1e-12):
                shown = np.array2string(x_solved, precision=4, threshold=6)
                lin(W, x_solved, np.zeros_like(x_solved), True, f"W_1 x' + b_1, x' = {shown}", 2,
                    "forward_input_not_x", f"x' = {shown}, an array other than the x passed in,")
    return out
