"""The catalogue of known backprop bugs: one entry per bug, read by everyone who names one.

An entry (:class:`Bug`) holds

- ``key``: the name the checker's diagnosis and the self-test catalogues use;
- ``message``: what ``refmlp check`` tells the student, in the notes' words ({which}, {k}, {m},
  {shape}, {a} are filled in by :func:`message`);
- ``hint`` and ``shows_at``: the short phrase the parity report (:func:`refmlp.compare.diagnose`)
  offers when its first divergence is at ``shows_at`` ("g" at a hidden layer, "g_L" at the last
  one, "W_derivs", "b_derivs", "a", "h"); {k}, {kp} (k + 1) and {km} (k - 1) are the layer;
- ``variant``: the numpy reference with the bug put in (:class:`Variant`, run by
  :func:`variant_trace`), which the checker's diagnosis compares a student's numbers against;
- ``mutations``: the source mutations of :mod:`refmlp.network` that put the bug into refmlp
  itself; ``parity_tests/test_mutations.py`` applies each one and asserts where the parity report
  finds it and that its hint names the bug.

Bugs with neither variant nor mutation are recognised by a signature of their own (the checker's
``refmlp.check.diagnosis``: a step that ascends, a forward(x, end=...) that returns another
layer's output, ...). Numpy only, like the rest of the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import activations as act


@dataclass(frozen=True)
class Variant:
    """The per-sample reference (Algorithm 1 and 2 of the notes) with one line changed.

    forward_W: "W" (a_k = W_k h_{k-1} + b_k) or "W.T"; bias: "before" (in a_k), "none", "after"
    (h_k = f_k(W_k h_{k-1}) + b_k, f receiving W_k h_{k-1}); hidden_f: None or "relu" (every leaky
    layer a plain ReLU, f and f'); slope: None or the leaky f' hard-coded for u <= 0; fprime_at:
    "a", "h" or "none" (the step g *= f'_k dropped); fprime_last: f'_L applied too; W_derivs:
    "g h_{k-1}^T", "h_{k-1} g^T" (transposed) or "g h_k^T"; back: "W^T" or "W" (g = W_k g);
    g_L_scale: "1" or "1/n_out" (a mean over the outputs).
    """

    forward_W: str = "W"
    bias: str = "before"
    hidden_f: str | None = None
    slope: float | None = None
    fprime_at: str = "a"
    fprime_last: bool = False
    W_derivs: str = "g h_{k-1}^T"
    back: str = "W^T"
    g_L_scale: str = "1"


REFERENCE = Variant()


@dataclass(frozen=True)
class Mutation:
    """One line of refmlp.network changed: in ``function`` (``Class.method`` for a method of a
    class other than the first one defining that name), ``old`` becomes ``new``; with
    ``reduction``, the parity report's first divergence is ``first`` ("a_1", "g_L-1",
    "W_derivs_L", ...)."""

    function: str
    old: str
    new: str
    first: str
    reduction: str = "sum"


@dataclass(frozen=True)
class Bug:
    key: str
    message: str
    hint: str | None = None
    shows_at: tuple[str, ...] = ()
    variant: Variant | None = None
    mutations: tuple[Mutation, ...] = ()

    def hint_at(self, k: int | None) -> str | None:
        """The hint with the layer filled in ({k}, {kp} = k + 1, {km} = k - 1)."""
        text = self.hint
        if text and k is not None:
            for name, value in (("{kp}", k + 1), ("{km}", k - 1), ("{k}", k)):
                text = text.replace(name, str(value))
        return text


SLOPES = (0.0, 0.1, 0.001, 0.2, 0.02, 0.05, 0.3, 0.5, 1.0)
"""Leaky slopes tried for a hard-coded f' (0: ReLU's)."""


def _bugs(*entries: Bug) -> dict[str, Bug]:
    out = {}
    for bug in entries:
        if bug.key in out:
            raise ValueError(f"bug {bug.key!r} is catalogued twice")
        out[bug.key] = bug
    return out


BUGS: dict[str, Bug] = _bugs(
    # ---- backward, step 1: g *= f'_k(a_k) ----------------------------------------------------
    Bug("fprime_missing",
        "g is not multiplied by f'_k(a_k) at the hidden layers: in backward, after passing g back "
        "to layer k < L, do g = g * fderiv_k(a_k) before using it.",
        hint="the derivative step g *= f'_{k}(a_{k}) missing", shows_at=("g",),
        variant=Variant(fprime_at="none"),
        mutations=(Mutation("backprop", "g = g * self.fprime[k](a[k])", "g = g", "g_L-1"),
                   Mutation("Workspace.backward", "self.fprime_mul[k](g[k], a[k], self.fprimes[k])",
                            "pass", "g_L-1"))),
    Bug("fprime_at_last_layer",
        "f' is applied at the last layer too: est_lossderiv already gives dLoss/da_L, so skip "
        "g *= f'_L(a_L) for k = L (the course adds the last layer with fderiv=None).",
        hint="f'_L applied although est_lossderiv already gives dLoss/da_L", shows_at=("g_L",),
        variant=Variant(fprime_last=True),
        mutations=(Mutation("backprop", "if k < L:", "if k <= L:", "g_L"),
                   Mutation("Workspace.backward", "if k < L:", "if k <= L:", "g_L"))),
    Bug("fprime_of_h",
        "f' is evaluated at h_k instead of a_k: call fderiv on the pre-activation a_k (it only "
        "shows where f'(h) != f'(a), e.g. the logistic 'latent' layer).",
        hint="f'_{k} taken of h_{k} instead of a_{k}", shows_at=("g",),
        variant=Variant(fprime_at="h"),
        mutations=(Mutation("backprop", "self.fprime[k](a[k])", "self.fprime[k](h[k])", "g_L-1"),
                   Mutation("Workspace.backward", "g[k], a[k], self.fprimes[k]",
                            "g[k], h[k], self.fprimes[k]", "g_L-1"))),
    Bug("fprime_at_g",
        "f'_{k} is evaluated at g instead of at the pre-activation: g = g * fderiv_k(a_k)."),
    Bug("a_stored_without_bias",
        "the a_k kept for backward is W_k h_{k-1} before the bias is added, so f'_k is evaluated at "
        "the wrong point: keep a_k = W_k h_{k-1} + b_k, the very array f_k was applied to."),
    Bug("relu_for_leaky",
        "the network uses plain ReLU (0 for u <= 0) where leaky ReLU is meant; use the f / fderiv "
        "given to add_layer.",
        variant=Variant(hidden_f="relu")),
    Bug("wrong_leaky_slope",
        "the leaky ReLU derivative uses slope {which} for u <= 0 where the notes (and torch) use "
        "0.01; use the fderiv given to add_layer."),
    Bug("leaky_deriv_at_zero",
        "the leaky ReLU derivative gives 0 at u == 0; the notes and torch take the slope 0.01 there "
        "(use u > 0 for the 1 branch, so that 0 gets the slope)."),
    # ---- backward, step 2: b_derivs_k = g, W_derivs_k = g h_{k-1}^T ----------------------------
    Bug("W_derivs_transposed",
        "the W gradient is stored transposed, h_{k-1} g^T: it must be the outer product "
        "g h_{k-1}^T, of shape (out, in) like W_k.",
        hint="transposed (h_{km} g^T)", shows_at=("W_derivs",),
        variant=Variant(W_derivs="h_{k-1} g^T"),
        mutations=(Mutation("backprop", "np.outer(g, h[k - 1])", "np.outer(h[k - 1], g)", "W_derivs_L"),
                   Mutation("Workspace.backward", "np.matmul(g[k].T, h[k - 1]",
                            "np.matmul(h[k - 1].T, g[k]", "W_derivs_L"))),
    Bug("W_derivs_from_a",
        "W_derivs_{k} is built from a_{k-1} where h_{k-1} = f_{k-1}(a_{k-1}) is due: W_derivs_k = "
        "g h_{k-1}^T, the layer's input after its activation."),
    Bug("b_derivs_before_fprime",
        "b_derivs_{k} is taken from g before the step g = g * f'_k(a_k) (W_derivs_{k} is right): "
        "take both gradients from the same g, after that step."),
    Bug("W_derivs_reshaped",
        "the W gradient is h_{k-1} g^T reshaped to W_k's shape: reshape reorders nothing, it is no "
        "transpose. Use the outer product g h_{k-1}^T (np.outer(g, h_prev)), of shape (out, in)."),
    Bug("h_k_for_h_k_minus_1",
        "W_derivs_k uses this layer's output h_k: it must use the layer's input h_{k-1} (x for the "
        "first layer): W_derivs_k += g h_{k-1}^T.",
        hint="h_{k} used instead of h_{km}", shows_at=("W_derivs",),
        variant=Variant(W_derivs="g h_k^T"),
        mutations=(Mutation("backprop", "np.outer(g, h[k - 1])", "np.outer(g, h[k])", "W_derivs_L"),
                   Mutation("Workspace.backward", "h[k - 1], out=W_derivs[k]", "h[k], out=W_derivs[k]",
                            "W_derivs_L"))),
    Bug("bias_grad_summed",
        "b_derivs_{k} is the sum of g over the layer's units, one number for every bias: the bias "
        "gradient is g itself, one entry per unit (b_derivs_k = g, shape (m,))."),
    Bug("gradient_scaled",
        "a gradient is a constant multiple ({which}) of the notes' one: b_derivs_k = g and "
        "W_derivs_k = g h_{k-1}^T, with no factor.",
        hint="a constant factor in b_derivs_{k} or W_derivs_{k}", shows_at=("b_derivs", "W_derivs"),
        mutations=(Mutation("backprop", "b_derivs[k] = g", "b_derivs[k] = 2 * g", "b_derivs_L"),)),
    # ---- backward, step 3: g = W_k^T g ---------------------------------------------------------
    Bug("W_instead_of_WT",
        "g is passed back with W_k instead of W_k^T: use g = W_k^T g (W.T @ g).",
        hint="W_{kp} instead of W_{kp}^T", shows_at=("g",),
        variant=Variant(back="W"),
        mutations=(Mutation("backprop", "g = self.W[k].T @ g", "g = self.W[k] @ g", "g_L-1"),
                   Mutation("Workspace.backward", "g[k], net.W[k], out=g[k - 1]",
                            "g[k], net.W[k].T, out=g[k - 1]", "g_L-1"))),
    # ---- the loss derivative and the reductions -------------------------------------------------
    Bug("mean_vs_sum",
        "the gradient is {which}: a mean where the course sums (a sample's loss is a sum over "
        "outputs, a batch gradient the sum over samples).",
        hint="a mean where a sum is due, or a sum where a mean is", shows_at=("g_L", "b_derivs"),
        variant=Variant(g_L_scale="1/n_out"),
        mutations=(Mutation("Workspace.backward", "np.add.reduce(g[k], axis=0", "np.mean(g[k], axis=0",
                            "b_derivs_L"),
                   Mutation("Workspace.backward", "np.divide(g[L], divisor(reduction, *Y.shape), out=g[L])", "pass",
                            "g_L", "mean"),
                   Mutation("_backward_per_sample", "lst[k] /= n", "pass", "g_L", "mean"))),
    Bug("lossderiv_arguments_swapped",
        "est_lossderiv is called as est_lossderiv(y, y_est): the course's order is "
        "est_lossderiv(y_est, y) (the network's output first, the target second); swapped, every "
        "gradient changes sign."),
    # ---- the forward pass ------------------------------------------------------------------------
    Bug("forward_W_transposed",
        "the forward pass uses W^T h: a_k = W_k h_{k-1} + b_k with W_k of shape (out, in).",
        hint="W_{k}^T used for W_{k}", shows_at=("a",),
        variant=Variant(forward_W="W.T"),
        mutations=(Mutation("forward_sample", "self.W[k] @ h[k - 1]", "self.W[k].T @ h[k - 1]", "a_1"),
                   Mutation("Workspace.forward", "net.W[k].T, out=a[k]", "net.W[k], out=a[k]", "a_1"))),
    Bug("forward_bias_missing",
        "the forward pass drops the bias: a_k = W_k h_{k-1} + b_k.",
        hint="the bias b_{k} dropped", shows_at=("a",),
        variant=Variant(bias="none"),
        mutations=(Mutation("Workspace.forward", "np.add(a[k], net.b[k], out=a[k])",
                            "np.add(a[k], 0, out=a[k])", "a_1"),)),
    Bug("bias_after_f",
        "the bias is added after the activation, h_k = f_k(W_k h_{k-1}) + b_k: it belongs inside, "
        "a_k = W_k h_{k-1} + b_k, then h_k = f_k(a_k).",
        variant=Variant(bias="after")),
    Bug("h_is_a",
        "h_{k} is the pre-activation a_{k}: the activation is not applied. h_k = f_k(a_k).",
        hint="f_{k} not applied (h_{k} = a_{k})", shows_at=("h",),
        mutations=(Mutation("forward_sample", "h.append(self.f[k](a[k]))", "h.append(a[k])", "h_1"),)),
    Bug("bias_column_broadcast",
        "{a}_{k} has shape {shape} instead of ({m},): an (m, 1) array added to an (m,) vector "
        "broadcasts to (m, m). Keep b 1-D (shape (m,)) or reshape x to a column consistently."),
    Bug("forward_input_not_x",
        "layer 1's input is not x: a_1 equals W_1 {which} + b_1 where W_1 x + b_1 is due. h_0 = x, "
        "the argument of this very call."),
    Bug("add_layer_fan_in_d",
        "add_layer gives every layer d inputs: W_k must have shape (m_k, m_{k-1}), the previous "
        "layer's size as its number of columns (only the first layer takes d).{which}"),
    # ---- forward(x, start=, end=) ----------------------------------------------------------------
    Bug("forward_end_ignored",
        "forward(x, end={which}) returned the network's output h_L: end is ignored{why}. Stop at "
        "the named layer and return its h."),
    Bug("forward_end_wrong_layer",
        "forward(x, end={which}) returned {got} where h_{k} (the output of layer {which}) is due: "
        "{why}."),
    Bug("forward_end_placeholder",
        "forward(x, end={which}) returned {got} where h_{k} (the output of layer {which}) is due: "
        "a placeholder, not the layer's output."),
    Bug("forward_returns_column",
        "{where} returned an array of shape {shape}: the course's forward returns a 1-D array "
        "(h.ravel(), or keep h 1-D); a column breaks y_est - y in the loss code, which broadcasts "
        "it to a matrix."),
    Bug("forward_end_returns_a",
        "forward{which} returned the pre-activation a_{k} where h_{k} = f_{k}(a_{k}) is due: "
        "return the layer's h, after its activation."),
    Bug("forward_start_ignored",
        "forward(z, start={which}) did not feed z into layer {which}: {why}. With start=name, z is "
        "h_{k-1}, the named layer's input, and the layers before it are skipped."),
    # ---- accumulation, zero_grad, step -----------------------------------------------------------
    Bug("zero_grad_drops_gradients",
        "zero_grad deletes the gradient buffers instead of zeroing them: the next step raises. "
        "Set every gradient to zeros of its parameter's shape."),
    Bug("gradients_overwritten",
        "backward assigns the gradients{which} (=) instead of accumulating them (+=): two backward "
        "calls must add up, zero_grad is what resets them."),
    Bug("zero_grad_partial",
        "zero_grad does not reset every gradient: {which} still moved after zero_grad(); step(). "
        "Reset every W and b gradient of every layer."),
    Bug("zero_grad_inside_backward",
        "backward resets the gradients itself{which}: the course's loop is backward (which "
        "accumulates, +=), then step, then zero_grad, each called by the training code; remove the "
        "zero_grad call from backward."),
    Bug("step_inside_backward",
        "backward moves the weights itself, by {which} x the gradient (a step, or W -= ..., inside "
        "backward): backward only accumulates the gradients; the training code calls step(alpha)."),
    Bug("step_wrong_sign",
        "step ascends: the weights moved by +alpha x gradient. Use W -= alpha * dW and "
        "b -= alpha * db."),
    Bug("step_skips_biases",
        "step does not move the biases (or backward never accumulates their gradient): "
        "b -= alpha * db for every layer."),
    Bug("step_wrong_scale",
        "step does not move by exactly alpha x gradient: {which}. Use W -= alpha * dW and "
        "b -= alpha * db, nothing else."),
    Bug("stale_forward",
        "backward uses the a_k / h_k stored by the previous forward call instead of running its "
        "own forward pass on x: call self.forward(x) at its start."),
    # ---- the helper files --------------------------------------------------------------------------
    Bug("unstable_logistic",
        "the logistic overflows or warns for large |u|: compute it from exp(-|u|), which never "
        "overflows."),
    Bug("unstable_softmax",
        "the softmax overflows for large inputs: subtract max(u) before exp, which changes nothing "
        "mathematically."),
    # ---- no bug named ----------------------------------------------------------------------------
    Bug("unfinished", "a public method is still a stub (pass, ..., raise NotImplementedError, or a "
                      "TODO that returns None): {which}"),
    Bug("derived", "{which}"),
    Bug("exception", "{which}"),
    Bug("timeout",
        "your code did not finish a check within the time limit: look for a loop that never ends "
        "{which}."),
    Bug("unknown", "no simple explanation found: {which}"),
)
"""Every known bug by key, in the order of the notes' pseudocode (backward, forward, then the
training calls)."""

SLOPE_KEYS = {f"slope={s:g}": "relu_for_leaky" if s == 0 else "wrong_leaky_slope" for s in SLOPES}
"""Keys of the hard-coded-slope variants (the forward pass right, f' of the hidden leaky layers
hard-coded), each with the key the student is told."""
for _key, _named in SLOPE_KEYS.items():
    BUGS[_key] = replace(BUGS[_named], key=_key, variant=Variant(slope=float(_key[6:])))


def get(key: str) -> Bug:
    try:
        return BUGS[key]
    except KeyError:
        raise KeyError(f"no catalogued bug {key!r}; known: {', '.join(BUGS)}") from None


def message(key: str, **kw) -> dict:
    """The diagnosis record {"key", "message"}: the entry's message with {which}, {k}, ... filled
    from ``kw`` (plain replacement, so the notes' h_{k-1} stays as it is; a slope variant's key is
    reported as wrong_leaky_slope)."""
    text = get(key).message
    for name, value in {"which": "", "why": "", **kw}.items():
        text = text.replace("{" + name + "}", str(value))
    return {"key": SLOPE_KEYS.get(key, key), "message": text}


def hints(at: str, k: int | None) -> list[str]:
    """The hints of every bug that shows first at ``at`` ("g", "g_L", "W_derivs", ...), for layer
    k, in catalogue order."""
    out = []
    for bug in BUGS.values():
        if bug.hint and at in bug.shows_at and bug.hint_at(k) not in out:
            out.append(bug.hint_at(k))
    return out


def with_mutations() -> list[tuple[Bug, Mutation]]:
    """(bug, mutation) for every mutation of the catalogue."""
    return [(bug, m) for bug in BUGS.values() for m in bug.mutations]


# ---- the reference with one bug in -------------------------------------------------------------
def activation_fns(name: str, variant: Variant = REFERENCE, hidden: bool = True):
    """(f, f') of an activation name as ``variant`` has them (f' None for softmax)."""
    if name == "softmax":
        return act.softmax, None
    if name == "leaky_relu" and hidden:
        if variant.hidden_f == "relu":
            return act.relu, act.relu_deriv
        if variant.slope is not None:
            return act.leaky_relu, lambda u, s=variant.slope: np.where(u > 0, 1.0, s)
    a = act.get_activation(name)
    return a.f, a.fprime


def loss_deriv(loss: str, h_L, y):
    """dLoss/da_L as the course computes it from y_est = h_L (refmlp.check.scenarios.PAIRS)."""
    if loss in ("squared", "course_squared_on_logistic"):
        return 2 * (h_L - y)
    if loss == "absolute":
        return np.sign(h_L - y)
    return h_L - y


def variant_trace(variant: Variant, layers, loss: str, W, b, x, y):
    """(a, h, W_derivs, b_derivs) of one sample, lists 1..L (h from 0), with ``variant``'s bug in;
    ``layers`` are the activation names 1..L; W_derivs_k is what a step would subtract from W_k
    (broadcast to its shape); None where the variant raises instead (a shape that does not fit)."""
    L = len(layers)
    fns = [None] + [activation_fns(name, variant, k < L) for k, name in enumerate(layers, start=1)]
    h, a = [np.asarray(x, dtype=float)], [None]
    for k in range(1, L + 1):
        Wk = W[k].T if variant.forward_W == "W.T" else W[k]
        if Wk.shape[1] != h[-1].shape[0]:
            return None
        a.append(Wk @ h[-1] + (b[k] if variant.bias == "before" else 0))
        h.append(fns[k][0](a[k]) + (b[k] if variant.bias == "after" else 0))
    g = loss_deriv(loss, h[L], np.asarray(y, dtype=float))
    if variant.g_L_scale == "1/n_out":
        g = g / g.size
    Wd, bd = [None] * (L + 1), [None] * (L + 1)
    for k in range(L, 0, -1):
        fprime = fns[k][1]
        if k < L and variant.fprime_at != "none":
            g = g * fprime(h[k] if variant.fprime_at == "h" else a[k])
        if k == L and variant.fprime_last and fprime is not None:
            g = g * fprime(a[k])
        bd[k] = g
        if variant.W_derivs == "h_{k-1} g^T":
            dW = np.outer(h[k - 1], g)
        elif variant.W_derivs == "g h_k^T":
            dW = np.outer(g, h[k])
        else:
            dW = np.outer(g, h[k - 1])
        try:
            Wd[k] = np.broadcast_to(dW, W[k].shape)
        except ValueError:
            return None
        back = W[k] if variant.back == "W" else W[k].T
        if back.shape[1] != g.shape[0]:
            return None
        g = back @ g
    return a, h, Wd, bd
