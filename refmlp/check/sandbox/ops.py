"""The network under test, through its public methods: the operations a check runs (in the sandbox).

A check is a list of operations (``new``, ``read``, ``forward``, ``backward``, ``step``,
``zero_grad``, ``descent``, ``helpers``: refmlp.check.plan writes them); :func:`run_ops` runs
them on a :class:`Subject`, the submission's network built for the check's scenario, and
collects what each one read into ``{"<op index>.<name>": array}``. Numpy only.
"""

import inspect
import os
import random
import sys
import warnings

import numpy as np

from . import discovery, seeding
from .recorders import ACTIVATIONS, LOSS_DERIVS, Recorder, as_float, recording
from .tracebacks import format_exc

_array = np.array  # taken before any student code runs (see wire.py)
_write = os.write
_progress = {"fd": None}  # the check's progress pipe to the worker, set by the child


class Subject:
    """Builds the submission's network for a scenario and calls its public methods."""

    def __init__(self, check, mod, rec):
        self.check, self.rec = check, rec
        self.api = check["api"]
        self.cls = getattr(mod, check["class"]) if mod is not None else None
        self.sizes = [check["d"]] + [layer["m"] for layer in check["layers"]]
        self.slots = None
        self.notes = []
        self.named = False
        self.failed_op = None  # the operation discovery found raising, to name in the report

    def build(self):
        seed = self.check["seed"]
        np.random.seed(seed)
        random.seed(seed)
        rec = self.rec
        loss = recording(rec, "lossderiv", LOSS_DERIVS[self.check["loss_deriv"]])
        net = self.cls(self.check["d"], loss)
        try:
            params = inspect.signature(net.add_layer).parameters
            self.named = "name" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError):
            self.named = False
        L = len(self.check["layers"])
        for k, layer in enumerate(self.check["layers"], start=1):
            f, fd = ACTIVATIONS[layer["act"]]
            f = recording(rec, f"f{k}", f)
            # the course adds the last layer with fderiv=None: est_lossderiv gives dLoss/da_L
            fd = None if fd is None or k == L else recording(rec, f"fd{k}", fd)
            if self.named and self.api != "NeuralNet":
                net.add_layer(layer["m"], f, fd, name=layer["name"])
            else:
                net.add_layer(layer["m"], f, fd)
        return net

    def exercise(self, net, x, y):
        if self.api == "NeuralNet":
            return (lambda: net.backprop_descent(x, y, 0.0),
                    lambda: net.backprop_descent(x, y, 0.5))
        return (lambda: (net.forward(x), net.backward(x, y)), lambda: net.step(0.5))

    def outputs(self, net, x, first_only=False):
        """forward(x), then forward(x, end=name) for every hidden layer when layers are named
        (None for a call that raises): what discovery's effect test compares."""
        out = [net.forward(x.copy())]
        if self.named and self.api != "NeuralNet" and not first_only:
            for layer in self.check["layers"][:-1]:
                try:
                    out.append(net.forward(x.copy(), end=layer["name"]))
                except Exception:
                    out.append(None)
        return out

    def discover(self, x, y):
        if hasattr(self.cls, "params") and self.api == "adapter":
            return
        self.slots, notes, shapes = discovery.discover(
            self.build, lambda net: self.exercise(net, x, y), self.sizes,
            probe=lambda net, first_only=False: self.outputs(net, x, first_only))
        self.notes += notes
        if any(n.startswith(discovery.FORWARD_RAISED) for n in notes):
            # every check would stop in forward too: the student's own exception, not arrays
            # guessed by shape (a gradient buffer read as a W whose real shape is wrong)
            self.failed_op = "forward"
            self.build().forward(x.copy())
            self.failed_op = None
        msg = discovery.missing_message(self.slots, shapes, self.sizes)
        if msg:
            raise DiscoveryError(msg)
        self.notes.append("parameters: " + ", ".join(
            f"{kind}_{k} = {discovery.show(p)}" for (kind, k), p in sorted(
                self.slots.items(), key=lambda item: (item[0][1], item[0][0]))))

    def seed_weights(self, net):
        """Write the checker's seeded weights and biases (seeding.py) into every W_k and b_k in
        place, keeping dtype and layout, whatever the network's own: the judge verifies that they
        are what the network reads back. When the network's own W_k would have made the checks
        vacuous or unjudgeable (discovery.degenerate: zero, constant, equal rows, symmetric,
        saturating) a note says so; when the weights cannot be written, refuse: the checks would
        judge weights the checker did not choose."""
        L = len(self.sizes) - 1
        if self.slots is None:
            arrays = [a for pair in self.params(net) for a in pair]
            where = [f"params()[{k - 1}][{i}]" for k in range(1, L + 1) for i in (0, 1)]
        else:
            paths = [self.slots[(kind, k)] for k in range(1, L + 1) for kind in ("W", "b")]
            arrays = [discovery.target(net, p) for p in paths]
            where = [discovery.show(p) for p in paths]
        bad = [f"W_{k} ({where[2 * k - 2]}) {why}" for k, W in enumerate(arrays[::2], start=1)
               for why in [discovery.degenerate(W)] if why]
        values = seeding.checker_weights(self.check["seed"], [np.shape(v) for v in arrays])
        refused = [w for w, v, x in zip(where, arrays, values) if not discovery.overwrite(v, x)]
        if refused and bad:
            raise DiscoveryError(
                "your network's initial weights make the checks vacuous: " + "; ".join(bad)
                + " (with such weights the hidden gradients are zero, equal across units or "
                "saturated, so a wrong backward gives the same numbers as a right one, or none "
                "can be judged), and the checker cannot write its own weights into them (not a "
                "writable float array or list). Initialise each W_k with small random numbers, "
                "e.g. 0.1 * np.random.randn(m, n) as the handout does (such weights also stop the "
                "network from learning), or pass an adapter whose params() returns the live arrays.")
        if refused:
            raise DiscoveryError(
                "the checker cannot write its own weights into " + ", ".join(refused) + " (not a "
                "writable float array or list of floats). The checker judges every network on "
                "weights it chooses, so that no initialisation can make the checks vacuous: store "
                "W_k and b_k as writable float arrays (0.1 * np.random.randn(m, n) as the handout "
                "does), or pass an adapter whose params() returns the live arrays.")
        if not bad:
            return
        note = ("initial weights: " + "; ".join(bad) + ": the checks would be vacuous or "
                "unjudgeable; the checker judges on its own 0.1 x randn weights and biases, "
                "written into W_1..W_L, b_1..b_L before each check. Initialise W_k with small "
                "random numbers (0.1 * np.random.randn(m, n)): with these weights your network "
                "cannot learn well")
        if note not in self.notes:
            self.notes.append(note)

    def params(self, net):
        """An adapter's params(): exactly one (W_k, b_k) pair per layer, of the API's shapes (or W
        transposed, b as a column or row), else an error naming params() (a missing pair would
        leave its checks with nothing to compare)."""
        pairs = list(net.params())
        shapes = discovery.slot_shapes(self.sizes)
        L = len(self.sizes) - 1
        bad = [f"pair {k}: W {np.shape(W)}, b {np.shape(b)}" for k, (W, b) in
               enumerate(pairs, start=1) if k <= L and (np.shape(W) not in shapes[("W", k)]
                                                        or np.shape(b) not in shapes[("b", k)])]
        if len(pairs) != L or bad:
            raise DiscoveryError(
                f"the adapter's params() returned {len(pairs)} (W_k, b_k) pairs where the network "
                f"has {L} layers" + (f"; wrong shapes: {'; '.join(bad)}" if bad else "") + ". It "
                "must return [(W_1, b_1), ..., (W_L, b_L)], W_k of shape (m_k, m_{k-1}) and b_k "
                "of shape (m_k,), the live arrays (README, 'Checking a homework').")
        return pairs

    def read(self, net):
        """{"W1": ..., "b1": ..., ...} as stored (shape and dtype kept)."""
        out = {}
        if self.slots is None:
            pairs = self.params(net)
            for k, (W, b) in enumerate(pairs, start=1):
                out[f"W{k}"], out[f"b{k}"] = _array(W, copy=True), _array(b, copy=True)
            return out
        for (kind, k), path in self.slots.items():
            out[f"{kind}{k}"] = _array(discovery.resolve(net, path), copy=True)
        return out


class DiscoveryError(Exception):
    pass


def zero_input(params, sizes):
    """An input x whose first pre-activation a_1[0] = W_1[0, j] x_j + b_1[0] is exactly 0 in floating
    point, x having one non-zero entry so that every summation order gives the same a_1[0]."""
    W = _array(params["W1"], dtype=float)
    b = _array(params["b1"], dtype=float).reshape(-1)
    if W.shape != (sizes[1], sizes[0]):
        W = W.T
    for j in np.argsort(-np.abs(W[0])):
        if W[0, j] == 0:
            break
        t = -b[0] / W[0, j]
        for _ in range(64):
            r = W[0, j] * t + b[0]
            if r == 0:
                x = np.zeros(sizes[0])
                x[j] = t
                return x
            t = np.nextafter(t, -np.inf if (r > 0) == (W[0, j] > 0) else np.inf)
    return None


def run_ops(check, mod, inputs, out, notes):
    sizes = {f"{p}{k}": layer["m"] for k, layer in enumerate(check["layers"], start=1)
             for p in ("f", "fd")}
    rec = Recorder(sizes)
    subject = Subject(check, mod, rec)
    x0, y0 = inputs[check["probe"][0]].copy(), target(inputs, check["probe"][1])
    state = {"op": "discovery", "index": -1}
    try:
        if check["kind"] not in ("load", "helpers"):
            progress("-1 discovery (a throwaway network: forward, backward, step)")
            subject.discover(x0, y0)
        net = None
        for i, op in enumerate(check["ops"]):
            state["op"], state["index"] = op[0], i
            progress(f"{i} {op[0]}")
            rec.clear()
            name = op[0]
            if name == "new":
                net = subject.build()
                subject.seed_weights(net)
                out.update({f"{i}.{k}": v for k, v in subject.read(net).items()})
            elif name == "read":
                out.update({f"{i}.{k}": v for k, v in subject.read(net).items()})
            elif name == "forward":
                x = inputs[op[1]].copy() if op[1] != "zero" else zero_input(subject.read(net), subject.sizes)
                if x is None:
                    notes.append("no input with a pre-activation exactly 0 could be made")
                    continue
                out[f"{i}.x"] = _array(x)
                kw = {}
                if op[2] is not None:
                    kw["start"] = op[2]
                if op[3] is not None:
                    kw["end"] = op[3]
                if kw and not subject.named:
                    continue
                y_est = net.forward(x, **kw)
                if y_est is None:
                    out[f"{i}.none"] = _array(1.0)
                    call = ", ".join(f"{k}={v!r}" for k, v in kw.items())
                    note = "forward returned None" + (f" (forward(x, {call}))" if kw else "")
                    if note not in notes:  # unfinished: said once, by the judge
                        notes.append(note)
                else:
                    out[f"{i}.out"] = as_float(y_est)
            elif name == "backward":  # copies: a submission writing into x changes only its copy
                net.backward(inputs[op[1]].copy(), target(inputs, op[2]))
            elif name == "step":
                net.step(op[1])
            elif name == "zero_grad":
                net.zero_grad()
            elif name == "descent":
                net.backprop_descent(inputs[op[1]].copy(), target(inputs, op[2]), op[3])
            elif name == "helpers":
                run_helpers(op[1], inputs, out, notes)
            for key, v in rec.arrays(notes).items():
                out[f"{i}.{key}"] = v
        notes += subject.notes
        notes.append(f"named layers: {'yes' if subject.named else 'no'}")
        return {"status": "ok"}
    except DiscoveryError as exc:
        notes += subject.notes
        return {"status": "discovery", "message": str(exc), "op": state["op"], "op_index": state["index"]}
    except BaseException:  # SystemExit and KeyboardInterrupt too: the student's, not ours
        notes += subject.notes
        try:  # what the raising operation recorded before it raised: which layers ran, from where
            for key, v in rec.arrays(notes).items():
                out[f"{state['index']}.{key}"] = v
        except BaseException:
            pass
        return {"status": "exception", "traceback": format_exc(),
                "op": subject.failed_op or state["op"], "op_index": state["index"]}


def target(inputs, key):
    """A sample's y as the course passes it: a float when the network has one output."""
    y = inputs[key]
    return y[0] if y.shape == (1,) else y.copy()


def run_helpers(functions, inputs, out, notes):
    """Evaluate the submission's own helper functions on the inputs named in ``functions``."""
    for label, module, fname, args in functions:
        try:
            mod = sys.modules.get(module) or __import__(module)
            fn = getattr(mod, fname, None)
            if fn is None:
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # underflow to 0 is what a stable exp(-|u|) does for large |u|: not a defect
                with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
                    value = fn(*[inputs[a] if isinstance(a, str) else a for a in args])
            key = f"{module}.{fname}"
            out[f"{module}.{label}"] = _array(value, dtype=float)
            if caught:
                notes.append(f"warning {key}: {caught[0].category.__name__}: {caught[0].message}")
        except BaseException:
            notes.append(f"exception {module}.{fname}: " + format_exc(limit=-3))


def progress(text):
    """Tell the worker which operation starts (so a timeout or a crash can name it)."""
    if _progress["fd"] is not None:
        try:
            _write(_progress["fd"], (text + "\n").encode())
        except OSError:
            pass
