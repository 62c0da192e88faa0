"""Finding a submission's W_k and b_k without knowing their internal names (runs in the sandbox).

Method, through the public methods only, on a throwaway network:

1. **Walk** the network object: its attributes, and recursively lists, tuples, dicts and the
   ``__dict__`` of the objects it holds, callable ones too (layer objects with ``__call__``);
   functions, methods, classes and modules are skipped; depth <= 8, cycles cut. Every float
   ndarray, and every list of floats or list of equal-length lists of floats, is a *candidate*
   with its path (``.layers[2]['W']``); the same array reached twice keeps its first path. A
   matrix of shape (n_k, n_{k-1} + 1) is also read as the bias trick's ``[W_k | b_k]``: its
   first n_{k-1} columns a W_k candidate, its last column a b_k candidate (views, so that
   writing into them writes into the matrix).
2. **Confirm by effect**: an array is a parameter only if changing it changes what ``forward(x)``
   or some ``forward(x, end=name)`` returns. Each candidate of a W or b shape is perturbed in
   turn and restored; dummy layers, a/h caches and gradient buffers change no output, so they
   are never taken while arrays that do fill the slot, whether backward and step run or crash.
3. **Confirm by step** where effect cannot decide (forward raises or is not deterministic, or a
   slot has no effective candidate: a forward that skips a layer): after ``forward(x);
   backward(x, y)`` and again after ``step(alpha)``, parameters are what ``step`` moves
   (NeuralNet: what ``backprop_descent`` moves only with alpha > 0); then arrays present at
   construction that neither backward nor step touched, non-zero ones first; arrays shown to
   have no effect come last of all.
4. **Assign slots by shape in walk order**: W_k takes the first unused parameter of shape
   (n_k, n_{k-1}), or the transposed (n_{k-1}, n_k), one orientation for every layer when that
   fills every W slot in layer order (:func:`assign`); then b_k the first of shape (n_k,), else
   (n_k, 1), else (1, n_k). Lists of layers, dicts per layer, layer objects and Ws/bs lists all
   list layer 1 first, so walk order is layer order. The judge decides, from the numbers, how a
   square W is oriented (see refmlp.check.judge).

When a slot stays empty the check stops with a message naming the slot, the shapes that were
found and the way out (an adapter returning the weights: README, "Checking a homework").
"""

import types

import numpy as np

_ndarray = np.ndarray  # taken before any student code runs, like every reference below
_asarray = np.array
_float64 = np.float64
_array_equal = np.array_equal
_MAX_DEPTH = 8
_SKIP_TYPES = (type, types.BuiltinFunctionType, types.FunctionType, types.MethodType,
               types.ModuleType, types.BuiltinMethodType)


def _float_list(v):
    """A list of floats as a 1-D array, a list of equal-length lists of floats as 2-D, else None."""
    if not v or not isinstance(v, list):
        return None
    if all(isinstance(e, (float, int, np.floating)) and not isinstance(e, bool) for e in v):
        return _asarray(v, dtype=_float64) if any(isinstance(e, (float, np.floating)) for e in v) else None
    if all(isinstance(e, list) for e in v):
        rows = [_float_list(e) for e in v]
        if all(r is not None and r.ndim == 1 for r in rows) and len({len(r) for r in rows}) == 1:
            return _asarray(rows)
    return None


def walk(obj, sizes=None):
    """[(path, array)] for every candidate reachable from ``obj``, in walk order; with the layer
    ``sizes``, a bias-trick matrix [W_k | b_k] adds its two parts (module docstring)."""
    out, seen = [], set()
    augmented = set() if sizes is None else {(m, n + 1) for n, m in zip(sizes, sizes[1:])}

    def visit(v, path, depth):
        if id(v) in seen or depth > _MAX_DEPTH:
            return
        if isinstance(v, _ndarray):
            seen.add(id(v))
            if v.dtype.kind == "f" and v.ndim in (1, 2) and v.size:
                out.append((path, v))
                if v.ndim == 2 and v.shape in augmented:
                    out.append((path + (("aug", "W"),), v[:, :-1]))
                    out.append((path + (("aug", "b"),), v[:, -1]))
            return
        if isinstance(v, (str, bytes, int, float, bool, complex)) or v is None:
            return
        seen.add(id(v))
        if isinstance(v, list):
            arr = _float_list(v)
            if arr is not None:
                out.append((path, arr))
                if arr.ndim == 1:
                    return  # a list of lists may also be a list of 1-D biases: its rows go on
        if isinstance(v, (list, tuple)):
            for i, e in enumerate(v):
                visit(e, path + (("item", i),), depth + 1)
        elif isinstance(v, dict):
            for key, e in list(v.items()):
                visit(e, path + (("item", key),), depth + 1)
        elif isinstance(v, _SKIP_TYPES):
            return
        else:
            d = getattr(v, "__dict__", None)
            if isinstance(d, dict):
                for key, e in list(d.items()):
                    visit(e, path + (("attr", key),), depth + 1)

    visit(obj, (), 0)
    return out


def _step(v, kind, key):
    if kind == "attr":
        return getattr(v, key)
    if kind == "aug":  # the bias trick's [W | b]: a view of either part
        return v[:, :-1] if key == "W" else v[:, -1]
    return v[key]


def resolve(obj, path):
    """The array at ``path`` now (students often rebind W = W - alpha dW, so paths, not objects)."""
    v = obj
    for kind, key in path:
        v = _step(v, kind, key)
    if isinstance(v, list):
        arr = _float_list(v)
        if arr is None:
            raise ValueError(f"{show(path)} is no longer a list of floats")
        return arr
    return _asarray(v)


def target(obj, path):
    """The object itself at ``path`` (an ndarray or a list: what :func:`overwrite` writes into)."""
    v = obj
    for kind, key in path:
        v = _step(v, kind, key)
    return v


LARGE = 4.0
"""rms(W_k) sqrt(n_{k-1}) above which initial weights count as too large: the size of a_k for an
input of unit-size entries. The handout's 0.1 randn gives 0.1 sqrt(n) (0.8 at n = 64); unit-variance
randn gives sqrt(n) (8 at n = 64: logistic units saturate to exactly 0 gradients in float64, float32
overflows along the SGD run)."""


def degenerate(W):
    """Why initial weights W_k make the checks vacuous, or None.

    W_k constant (zero above all): every hidden g_{k-1} = W_k^T g_k is 0 or the same for every
    unit, so a missing f', a transposition or a wrong backward gives the same numbers as a right
    one; rows all equal: every unit of layer k computes the same; W_k == W_k^T (square): W_k and
    W_k^T cannot be told apart; too large (:data:`LARGE`): saturated units give exactly zero
    gradients and a diverging run, so the figures say nothing about the code."""
    W = _asarray(W, dtype=_float64)
    if W.ndim != 2 or W.size < 2:  # a 1 x 1 W is constant and symmetric by shape, not by choice
        return None
    if (W == W.flat[0]).all():
        return "all zero" if not W.flat[0] else "constant"
    if W.shape[0] > 1 and (W == W[:1]).all():
        return "rows all equal"
    if W.shape[0] == W.shape[1] and _array_equal(W, W.T):
        return "symmetric"
    spread = float(np.sqrt((W * W).mean() * W.shape[1]))
    if spread > LARGE:
        return (f"so large that a unit-size input gives pre-activations of size ~{spread:.3g} "
                "(units saturate, gradients vanish, the SGD run diverges)")
    return None


def overwrite(v, values):
    """Write ``values`` (same shape) into the ndarray or list (of lists) of floats ``v`` in place,
    keeping its dtype and layout; False when ``v`` cannot be written (read-only, tuple, ...)."""
    if isinstance(v, _ndarray):
        if not v.flags.writeable or v.shape != values.shape or v.dtype.kind != "f":
            return False
        v[...] = values
        return True
    if isinstance(v, list) and len(v) == len(values):
        if values.ndim == 1:
            if not all(isinstance(e, (float, np.floating)) for e in v):
                return False
            v[:] = [float(e) for e in values]
            return True
        if all(isinstance(r, list) for r in v):
            return all(overwrite(r, row) for r, row in zip(v, values))
    return False


def _unstick(net, sizes):
    """On a throwaway network only: replace degenerate (constant, ...) arrays of some W_k's shape by
    small random numbers, so that step moves every parameter (a zero-initialised network moves
    only b_L) and gradient buffers, zero at first, stop looking like zero parameters."""
    shapes = {sh for kind, sh in ((k[0], sh) for k, v in slot_shapes(sizes).items() for sh in v)
              if kind == "W"}
    rng = np.random.RandomState(12345)
    for path, arr in walk(net, sizes):
        if arr.ndim == 2 and arr.shape in shapes and degenerate(arr):
            overwrite(target(net, path), 0.1 * rng.standard_normal(arr.shape))


def show(path):
    """A path as Python-like text: net.layers[0]['W']."""
    s = "net"
    for kind, key in path:
        if kind == "aug":
            s += "[:, :-1]" if key == "W" else "[:, -1]"
        else:
            s += f".{key}" if kind == "attr" else f"[{key!r}]"
    return s


def _snapshot(obj, sizes=None):
    return {path: _asarray(v, copy=True) for path, v in walk(obj, sizes)}


def _outputs(probe, net, first_only=False):
    """What the forward calls of ``probe`` return, as float copies (None for a call that raised);
    ``first_only``: forward(x) alone."""
    out = []
    for v in probe(net, first_only=first_only):
        try:
            out.append(None if v is None else _asarray(v, dtype=_float64).copy())
        except BaseException:  # an output numpy cannot read as numbers: a difference all the same
            out.append(("unreadable", repr(type(v))))
    return out


def _same(xs, ys):
    for x, y in zip(xs, ys):
        if (x is None) != (y is None) or isinstance(x, tuple) or isinstance(y, tuple):
            if not (isinstance(x, tuple) and x == y):
                return False
        elif x is not None and (x.shape != y.shape or not _array_equal(x, y, equal_nan=True)):
            return False
    return len(xs) == len(ys)


FORWARD_RAISED = "forward raised on a new network"


def effect(net, probe, sizes):
    """({path: True if changing it changes an output of ``probe(net)``, False if not}, a note or
    None): only candidates of a W or b slot's shape are tried; an array that cannot be written
    (a tuple) is left out (neither). Returns ({}, why) when forward raises or is not
    deterministic: effect cannot decide there."""
    try:
        base = _outputs(probe, net)
        again = _outputs(probe, net)
    except BaseException as exc:
        return {}, f"{FORWARD_RAISED} ({type(exc).__name__}): parameters confirmed by step alone"
    if base[0] is None or not _same(base, again):
        return {}, "forward gave different outputs for the same input: confirmed by step alone"
    wanted = {sh for shapes in slot_shapes(sizes).values() for sh in shapes}
    rng = np.random.RandomState(54321)
    found = {}
    for path, arr in walk(net, sizes):
        if arr.shape not in wanted:
            continue
        live = target(net, path)
        original = _asarray(arr, copy=True)
        bump = original + 0.5 * (np.abs(original).max(initial=0.0) + 1) * rng.standard_normal(
            original.shape)
        if not overwrite(live, bump):
            continue
        try:  # forward(x) first: a parameter of a layer it reaches changes it, the end=
            # calls only matter for one it skips (cheaper by a factor of L on slow forwards)
            changed = not _same(base[:1], _outputs(probe, net, first_only=True)) or not _same(
                base, _outputs(probe, net))
        except BaseException:
            changed = True  # perturbing it made forward raise: forward reads it
        finally:
            overwrite(target(net, path), original)
        found[path] = changed
    return found, None


def _moved(before, after):
    return [p for p in after if p in before and (before[p].shape != after[p].shape
                                                  or not _array_equal(before[p], after[p]))]


def slot_shapes(sizes):
    """For layer k = 1..L: the shapes W_k and b_k may be stored in, preferred first."""
    shapes = {}
    for k in range(1, len(sizes)):
        n, m = sizes[k - 1], sizes[k]
        shapes[("W", k)] = [(m, n), (n, m)]
        shapes[("b", k)] = [(m,), (m, 1), (1, m)]
    return shapes


def assign(paths_in_order, shapes_of, sizes):
    """{(kind, k): path}: W_1..W_L first, then b_1..b_L, each slot taking the first unused path in
    walk order whose shape is one the slot may have; for b, (n_k,) before the column and row forms
    (so that a (1, n) W of the next layer is never read as a row bias). Missing slots are absent.

    W's orientation: every W_k as (n_k, n_{k-1}), else every W_k transposed, else (out, in) shapes
    over all candidates before any transposed one; of these the first that fills every W slot with
    paths in walk (= layer) order, else the first that fills every W slot. A transposed match taken
    in walk order alone gave W_1's slot another layer's W (or a gradient buffer) whenever W_1 did
    not move, and one orientation for all layers is how a submission stores its weights."""
    wanted = slot_shapes(sizes)
    L = len(sizes) - 1
    index = {p: i for i, p in enumerate(paths_in_order)}

    def fill(passes):
        slots, used = {}, set()

        def taken(p):  # a path inside a slot already filled (a row of a W held as lists), or around it
            return any(p[:len(u)] == u or u[:len(p)] == p for u in used)

        for kind, pref in passes:
            for k in range(1, L + 1):
                slot = (kind, k)
                if slot in slots:
                    continue
                ok = wanted[slot][pref:pref + 1]
                for p in paths_in_order:
                    if shapes_of[p] in ok and not taken(p):
                        slots[slot] = p
                        used.add(p)
                        break
        return slots

    bs = [("b", i) for i in range(3)]
    tries = [fill(w + bs) for w in ([("W", 0)], [("W", 1)], [("W", 0), ("W", 1)])]
    complete = [t for t in tries if all(("W", k) in t for k in range(1, L + 1))]
    in_order = [t for t in complete
                if all(index[t[("W", k)]] < index[t[("W", k + 1)]] for k in range(1, L))]
    return (in_order or complete or tries[2:])[0]


def discover(build, exercise, sizes, probe=None):
    """Find the parameter paths on a throwaway network.

    ``build()`` returns a new network; ``exercise(net)`` returns (grad, apply): two callables, the
    first computing gradients without moving parameters, the second moving them; ``probe(net)``
    returns the outputs of forward(x) and forward(x, end=name) (the effect test; None: none).
    Returns (slots, notes, shapes): slots maps ("W"|"b", k) to a path; notes are sentences for
    the report; shapes maps every candidate path to its shape as constructed.
    """
    notes = []
    net = build()
    _unstick(net, sizes)
    at_build = _snapshot(net, sizes)
    effects, why = effect(net, probe, sizes) if probe is not None else ({}, None)
    if why:
        notes.append(why)
    grad, apply = exercise(net)
    confirmed = True
    try:
        grad()
        after_grad = _snapshot(net, sizes)
        apply()
        after_step = _snapshot(net, sizes)
    except BaseException as exc:  # the checks themselves report the student's exception
        notes.append(f"discovery could not run backward/step ({type(exc).__name__}: {exc}); "
                     "parameters taken from the arrays present at construction that change "
                     "forward's output, then by shape")
        confirmed = False
        after_grad = after_step = at_build
    order = list(after_step)
    # shapes as constructed: a step that reshapes a parameter (b (m,) -> (m, m)) is a finding for
    # the checks to report, not a reason to lose the parameter
    shapes = {p: (at_build[p] if p in at_build else a).shape for p, a in after_step.items()}
    effective = [p for p in order if effects.get(p)]
    inert = {p for p, changed in effects.items() if not changed}
    slots = assign(effective, shapes, sizes)
    want = 2 * (len(sizes) - 1)
    moved = set(_moved(after_grad, after_step)) if confirmed else set()
    if len(slots) < want and moved:
        rest = assign([p for p in order if p in moved and p not in inert], shapes, sizes)
        slots.update({s: p for s, p in rest.items() if s not in slots and p not in slots.values()})
    if confirmed and len(moved - inert) > want and not effective:
        notes.append(f"{len(moved)} arrays moved under step where the network has {want} "
                     "parameters; the first of each shape in walk order were taken")
    if len(slots) < want:
        untouched = [p for p in order if p in at_build and p not in moved
                     and not _moved({p: at_build[p]}, {p: after_grad[p]}) if p in after_grad]
        nonzero = [p for p in untouched if after_step[p].any() and p not in inert]
        zero = [p for p in untouched if not after_step[p].any() and p not in inert]
        last = [p for p in order if p in inert]  # shown to change nothing: only if nothing else
        rest = {s: p for s, p in assign(nonzero + zero, shapes, sizes).items() if s not in slots
                and p not in slots.values()}
        rest.update({s: p for s, p in assign(last, shapes, sizes).items() if s not in slots
                     and s not in rest and p not in slots.values() and p not in rest.values()})
        if rest:
            notes.append("not confirmed by forward's output or by step, taken by shape: "
                         + ", ".join(f"{s[0]}_{s[1]} = {show(p)}" for s, p in sorted(rest.items())))
        slots.update(rest)
    return slots, notes, shapes


def missing_message(slots, shapes, sizes):
    """Why discovery failed and what to do, or None when every slot is filled."""
    wanted = slot_shapes(sizes)
    missing = [s for s in sorted(wanted) if s not in slots]
    if not missing:
        return None
    found = ", ".join(f"{show(p)} {tuple(s)}" for p, s in list(shapes.items())[:20]) or "none"
    what = "; ".join(f"{kind}_{k} of shape {' or '.join(map(str, wanted[(kind, k)]))}"
                     for kind, k in missing)
    return (f"could not find the network's parameters: {what}. Float arrays found on the network "
            f"object: {found}. The checker reads W_k and b_k from the object's attributes, lists, "
            "dicts and layer objects (see README, 'Checking a homework'); if yours live elsewhere "
            "or in another layout, write an adapter whose params() returns [(W_1, b_1), ...] and "
            "pass it with --adapter FILE")
