"""The sandbox worker: runs a submission's code, one check per forked child, and sends arrays back.

Started by refmlp.check.runner as ``python -I worker.py REQUEST_DIR`` with numpy as its only
import (never refmlp, never torch). It reads the request (request.json, inputs.npz with
allow_pickle=False) and the submission's files into memory *before* any student code runs, then
for every check forks a child which:

- gets its own process group, RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE and no core dumps;
- gets a fresh scratch folder holding a copy of the submission's .py files (plus the course's
  helper modules ``layers.py`` / ``losses.py`` from ``course/`` when the submission does not ship
  them) as its working directory, so a deleted file or a changed global never reaches another check;
- has stdin from /dev/null and stdout/stderr on a pipe the worker reads, keeping the first
  OUTPUT_KEEP bytes and discarding the rest;
- imports the submission, runs the check's operations and writes its result, JSON plus raw array
  bytes, on a pipe of its own; then ``os._exit``.

The worker kills a child (its whole process group) after the wall-clock timeout and forwards, per
check, a frame ``<8-byte length><JSON header><8-byte length><array bytes>`` on its stdout. The
activation and loss-derivative functions the checker passes to the network are the course
helpers of ``course/``, wrapped so that they record the argument they are called with: that is
a_k (and, for f', whatever the submission passes, a_k or h_k), read without touching student
internals.
"""

import importlib.util
import inspect
import json
import os
import random
import resource
import select
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np
import numpy.random  # noqa: F401  numpy 2 loads it on first use: ~10 ms in every forked check otherwise

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT_KEEP = 16384
RESULT_CAP = 8 * 2**20  # a check's result frame when the request gives no cap of its own


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


discovery = _load("_refmlp_sandbox_discovery", os.path.join(HERE, "discovery.py"))
course_layers = _load("_refmlp_course_layers", os.path.join(HERE, "course", "layers.py"))
course_losses = _load("_refmlp_course_losses", os.path.join(HERE, "course", "losses.py"))

# References taken before any student code runs: a submission that monkeypatches numpy or json
# changes its own results at most, never how they are written.
_array = np.array
_ndarray = np.ndarray
_float32 = np.float32
_dumps = json.dumps
_write = os.write
_exit = os._exit
_exc_info = sys.exc_info
_extract_tb = traceback.extract_tb
_format_list = traceback.format_list
_format_exception_only = traceback.format_exception_only
_FrameSummary = traceback.FrameSummary
_IMPORTLIB = os.path.dirname(importlib.util.__file__) + os.sep
_where = {"scratch": None, "origin": None}  # the child's copy of the submission, and its source


def _format_exc(limit=None):
    """The current exception's traceback as the student should read it: the checker's own frames
    (this worker, discovery, importlib's) dropped, and the scratch copy's path mapped back to the
    submission's folder (the copy is deleted with the run)."""
    etype, exc, tb = _exc_info()
    scratch, origin = _where["scratch"], _where["origin"]
    course = os.path.join(HERE, "course") + os.sep
    frames = []
    for fs in _extract_tb(tb):
        name = fs.filename
        if name.startswith(("<frozen importlib", _IMPORTLIB)) or (
                name.startswith(HERE + os.sep) and not name.startswith(course)):
            continue
        if scratch and name.startswith(scratch + os.sep):
            name = origin + name[len(scratch):]
        frames.append(_FrameSummary(name, fs.lineno, fs.name, line=fs.line))
    if limit is not None:
        frames = frames[limit:] if limit < 0 else frames[:limit]
    text = "Traceback (most recent call last):\n" + "".join(_format_list(frames)) if frames else ""
    text += "".join(_format_exception_only(etype, exc))
    return text.replace(scratch + os.sep, origin + os.sep) if scratch else text


# ---- the functions handed to add_layer ----------------------------------------------------------
ACTIVATIONS = {
    "leaky_relu": (course_layers.leaky_relu, course_layers.leaky_relu_deriv),
    "logistic": (course_layers.logistic, course_layers.logistic_deriv),
    "softmax": (course_layers.softmax, None),
    "identity": (course_layers.identity, course_layers.identity_deriv),
}
LOSS_DERIVS = {name: getattr(course_losses, name) for name in (
    "logistic_est_loss_deriv", "softmax_est_crossentropy_deriv", "squared_loss_deriv",
    "abs_loss_deriv")}


class Recorder:
    """Collects the first argument of each recording function per operation.

    A submission may apply f (or f') element by element, calling it with 0-d arguments: those are
    collected in call order, and count as the layer's a_k when there are exactly m_k of them
    (np.vectorize's extra first call, a repeat of the first element, is dropped). Any other count
    (say two forward passes in one operation) records nothing for that key, with a note: the judge
    then has h_k but no a_k, which is not a failure.
    """

    def __init__(self, sizes=None):
        self.sizes = sizes or {}  # key -> m_k, for keys whose 0-d calls make up a vector
        self.calls, self.scalars = {}, {}

    def clear(self):
        self.calls, self.scalars = {}, {}

    def note(self, key, value):
        if key in self.calls:
            return
        v = as_float(value)
        if v.ndim == 0 and key in self.sizes:
            self.scalars.setdefault(key, []).append(v)
        elif key not in self.scalars:
            self.calls[key] = v

    def arrays(self, notes):
        """What the operation recorded: {key: array}; per-element calls assembled or noted."""
        out = dict(self.calls)
        for key, values in self.scalars.items():
            m = self.sizes[key]
            if len(values) == m + 1 and m > 0 and values[0] == values[1]:
                values = values[1:]  # np.vectorize calls f once more on the first element
            if len(values) == m:
                out[key] = _array(values)
            else:  # the count tells the judge why a_k is absent (and is no a_k itself)
                out[key + ".percall"] = _array([len(values), m], dtype=float)
                note = (f"{key}: called element by element {len(values)} times in one operation "
                        f"for a layer of {m} units: its argument is not judged")
                if note not in notes:
                    notes.append(note)
        return out


def as_float(value):
    """A float copy of ``value``: float32 stays float32 (the judge gives float32 arithmetic its
    tolerance, and only that), anything else becomes float64."""
    v = _array(value, copy=True)
    return v if v.dtype == _float32 else _array(v, dtype=float)


def recording(rec, key, fn):
    def wrapped(u, *args, **kwargs):
        rec.note(key, u)
        return fn(u, *args, **kwargs)
    wrapped.__name__ = getattr(fn, "__name__", key)
    wrapped.__doc__ = getattr(fn, "__doc__", None)
    return wrapped


# ---- the network under test, through its public methods ------------------------------------------
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
            fd = None if fd is None else recording(rec, f"fd{k}", fd)
            if k == L and layer["act"] == "softmax":
                fd = None
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

    def discover(self, x, y):
        if hasattr(self.cls, "params") and self.api == "adapter":
            return
        self.slots, notes, shapes = discovery.discover(
            self.build, lambda net: self.exercise(net, x, y), self.sizes)
        self.notes += notes
        msg = discovery.missing_message(self.slots, shapes, self.sizes)
        if msg:
            raise DiscoveryError(msg)
        self.notes.append("parameters: " + ", ".join(
            f"{kind}_{k} = {discovery.show(p)}" for (kind, k), p in sorted(
                self.slots.items(), key=lambda item: (item[0][1], item[0][0]))))

    def seed_weights(self, net):
        """When the network's initial W_k make the checks vacuous or unjudgeable
        (discovery.degenerate: zero, constant, equal rows, symmetric, saturating), write the
        checker's own seeded 0.1 x randn weights and biases (the handout's scale) into every W_k
        and b_k in place, keeping dtype and layout, and say so in a note; when they cannot be
        written, refuse: the checks would pass a wrong backward."""
        L = len(self.sizes) - 1
        if self.slots is None:
            arrays = [a for pair in self.params(net) for a in pair]
            where = [f"params()[{k - 1}][0]" for k in range(1, L + 1)]
        else:
            paths = [self.slots[(kind, k)] for k in range(1, L + 1) for kind in ("W", "b")]
            arrays = [discovery.target(net, p) for p in paths]
            where = [discovery.show(p) for p in paths[::2]]
        Ws = arrays[::2]
        bad = [f"W_{k} ({where[k - 1]}) {why}" for k, W in enumerate(Ws, start=1)
               for why in [discovery.degenerate(W)] if why]
        if not bad:
            return
        rng = np.random.RandomState(self.check["seed"])
        written = [discovery.overwrite(v, 0.1 * rng.standard_normal(np.shape(v))) for v in arrays]
        if not all(written):
            raise DiscoveryError(
                "your network's initial weights make the checks vacuous: " + "; ".join(bad)
                + " (with such weights the hidden gradients are zero, equal across units or "
                "saturated, so a wrong backward gives the same numbers as a right one, or none "
                "can be judged), and the checker cannot write its own weights into them (not a "
                "writable float array or list). Initialise each W_k with small random numbers, "
                "e.g. 0.1 * np.random.randn(m, n) as the handout does (such weights also stop the "
                "network from learning), or pass an adapter whose params() returns the live arrays.")
        note = ("initial weights: " + "; ".join(bad) + ": the checks would be vacuous or "
                "unjudgeable, so the checker wrote its own 0.1 x randn weights and biases into "
                "W_1..W_L, b_1..b_L before each check. Initialise W_k with small random numbers "
                "(0.1 * np.random.randn(m, n)): with these weights your network cannot learn well")
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
                out[f"{i}.out"] = as_float(net.forward(x, **kw))
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
        return {"status": "exception", "traceback": _format_exc(), "op": state["op"],
                "op_index": state["index"]}


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
            notes.append(f"exception {module}.{fname}: " + _format_exc(limit=-3))


# ---- the child ---------------------------------------------------------------------------------
_progress_fd = None


def progress(text):
    """Tell the worker which operation starts (so a timeout or a crash can name it)."""
    if _progress_fd is not None:
        try:
            _write(_progress_fd, (text + "\n").encode())
        except OSError:
            pass


def child(check, request, files, inputs, out_w, res_w, prog_w):
    global _progress_fd
    _progress_fd = prog_w
    os.setpgid(0, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # should the worker be killed, the check goes too
    if os.getppid() != request["worker_pid"]:
        _exit(71)  # the worker died before the line above
    limits = request["limits"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(limits["timeout"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["fsize"], limits["fsize"]))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory"], limits["memory"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-large write raises instead of killing
    scratch = tempfile.mkdtemp(prefix="check-", dir=request["scratch_root"])
    for rel, data in files.items():
        path = os.path.join(scratch, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    for helper in ("layers.py", "losses.py"):
        if helper not in files:
            with open(os.path.join(HERE, "course", helper), "rb") as src, \
                    open(os.path.join(scratch, helper), "wb") as dst:
                dst.write(src.read())
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    # keep only stdin/stdout/stderr and the two pipes of this check: the worker's line to the
    # judge and the other checks' pipes stay out of the submission's reach
    keep = {0, 1, 2, res_w, prog_w}
    for name in os.listdir("/proc/self/fd"):
        if int(name) not in keep:
            try:
                os.close(int(name))
            except OSError:
                pass  # the directory's own descriptor, closed by the time we get to it
    os.chdir(scratch)
    _where["scratch"], _where["origin"] = scratch, request["submission_dir"]
    sys.path.insert(0, scratch)
    sys.argv = [request["module_file"]]
    out, notes = {}, []
    try:
        if check["kind"] == "helpers":
            mod = None
        elif request.get("adapter"):
            mod = _load("refmlp_adapter", request["adapter"])
        else:
            mod = importlib.import_module(request["module"])
        if mod is not None and not hasattr(mod, check["class"]):
            raise AttributeError(f"{request['module_file']} defines no class {check['class']}")
        header = run_ops(check, mod, inputs, out, notes)
    except BaseException:
        header = {"status": "load_error", "traceback": _format_exc()}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    header["notes"] = [str(n) for n in notes]
    send_result(res_w, header, out)
    _exit(0)


def send_result(fd, header, arrays):
    blobs, specs, offset = [], [], 0
    for name, v in arrays.items():
        if type(v) is not _ndarray:
            v = _array(v)
        if v.dtype.kind not in "fiub":
            v = _array(v, dtype=float)
        data = v.tobytes()
        specs.append({"name": name, "dtype": v.dtype.str, "shape": list(v.shape),
                      "offset": offset, "nbytes": len(data)})
        blobs.append(data)
        offset += len(data)
    header["arrays"] = specs
    write_frame(fd, _dumps(header).encode(), b"".join(blobs))


def write_frame(fd, head, blob):
    for part in (struct.pack("<Q", len(head)), head, struct.pack("<Q", len(blob)), blob):
        view = memoryview(part)
        while view:
            n = _write(fd, view)
            view = view[n:]


def read_frame(data):
    n = struct.unpack("<Q", data[:8])[0]
    head = json.loads(data[8:8 + n])
    m = struct.unpack("<Q", data[8 + n:16 + n])[0]
    return head, data[16 + n:16 + n + m]


# ---- the worker --------------------------------------------------------------------------------
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # <linux/prctl.h>


def prctl(option, value):
    """prctl(2) through libc; False where there is none (not Linux): the sandbox then relies on
    process groups alone, which a submission calling setsid() escapes."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children_of(pids):
    """Every live descendant of ``pids`` (from /proc; empty where there is no /proc)."""
    parents = {}
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit()]
    except OSError:
        return set()
    for name in names:
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                ppid = int(fh.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(name))
    found, todo = set(), list(pids)
    while todo:
        for pid in parents.get(todo.pop(), []):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def kill_strays(running_pids):
    """Kill what checks started and left behind: with this worker a child subreaper, a process
    that left its check's process group (setsid) and lost its parent is re-parented here. Every
    descendant that is not a running check's child (nor below one) is stopped, then killed."""
    me = os.getpid()
    for _ in range(10):  # a stray may fork while we look: look again, a bounded number of times
        keep = set(running_pids) | children_of(running_pids)
        strays = children_of([me]) - keep
        if not strays:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in strays:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        for pid in strays:  # reap the ones that are our children (the others come up next round)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


class Running:
    """One check's child, seen from the worker: its pipes, what it has sent, its deadline."""

    def __init__(self, check, request, files, inputs, limit):
        self.check, self.limit = check, limit
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        prog_r, prog_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(out_r)
            os.close(res_r)
            os.close(prog_r)
            try:
                child(check, request, files, inputs, out_w, res_w, prog_w)
            finally:
                _exit(70)
        os.close(out_w)
        os.close(res_w)
        os.close(prog_w)
        self.pid, self.out_r, self.res_r, self.prog_r = pid, out_r, res_r, prog_r
        self.progress = b""
        self.started = time.monotonic()
        self.deadline = self.started + limit
        self.output, self.n_output, self.result = bytearray(), 0, bytearray()
        self.open = {out_r, res_r, prog_r}
        self.timed_out = self.oversize = False
        self.status = None  # the child's wait status, once it has exited
        self.cap = request.get("result_caps", {}).get(check["id"], RESULT_CAP)

    def read(self, fd):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            self.open.discard(fd)
        elif fd == self.prog_r:
            self.progress = (self.progress + chunk)[-256:]
        elif fd == self.out_r:
            self.n_output += len(chunk)
            if len(self.output) < OUTPUT_KEEP:
                self.output += chunk[:OUTPUT_KEEP - len(self.output)]
        elif len(self.result) + len(chunk) <= self.cap:
            self.result += chunk
        else:
            self.oversize = True

    def finish(self):
        """Kill what is left of the child's process group, reap it, and build its frame."""
        # what the child said before the deadline, its last progress line above all
        for _ in range(64):  # bounded: a child (or one it started) may still be writing
            ready = select.select(list(self.open), [], [], 0)[0] if self.open else []
            if not ready:
                break
            for fd in ready:
                self.read(fd)
        # the group is killed before the child is reaped: until then its pid, the group's id,
        # cannot be given to another process (grandchildren the submission left behind go too)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        status = self.status if self.status is not None else os.waitpid(self.pid, 0)[1]
        for fd in (self.out_r, self.res_r, self.prog_r):
            os.close(fd)
        if self.timed_out:
            header, blob = {"status": "timeout", "limit": self.limit}, b""
        elif self.oversize:
            header, blob = {"status": "died", "message": (
                f"the check's result exceeded {self.cap} bytes, more than its arrays can take: "
                "the submission sent more than the checker asked for")}, b""
        else:
            try:
                header, blob = read_frame(bytes(self.result))
                if not isinstance(header, dict):  # the child's own JSON: anything may come
                    raise ValueError("the result header is not an object")
            except Exception as exc:
                header, blob = {"status": "died",
                                "message": f"the check's process sent a malformed result ({exc})"
                                if self.result else None}, b""
        last = self.progress.decode("ascii", "replace").strip().splitlines()
        if header["status"] in ("timeout", "died") and last:
            index, _, op = last[-1].partition(" ")
            header["op"], header["op_index"] = op, int(index) if index.lstrip("-").isdigit() else None
        if os.WIFSIGNALED(status):
            header.setdefault("signal", os.WTERMSIG(status))
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
            header.setdefault("exit_code", os.WEXITSTATUS(status))
        header["id"] = self.check["id"]
        header["seconds"] = round(time.monotonic() - self.started, 4)
        header["output"] = self.output.decode("utf-8", "replace")
        header["output_bytes"] = self.n_output
        header.setdefault("arrays", [])
        header.setdefault("notes", [])
        return header, blob


def run_checks(request, files, inputs, emit, parallel=2):
    """Run every check, ``parallel`` children at a time (the load check alone, first), and hand
    each frame to ``emit`` as soon as its check ends."""
    checks = request["checks"]
    timed_out, running, done, nxt = set(), [], {}, 0
    emitted = 0
    while emitted < len(checks):
        width = 1 if nxt == 0 or checks[0]["id"] not in done else parallel
        while nxt < len(checks) and len(running) < width:
            check = checks[nxt]
            limit = request["limits"]["timeout"]
            if check.get("scenario") in timed_out:
                # an endless loop usually sits in every check of a scenario: a quarter of the
                # limit (at least 1 s) still runs each of them without multiplying the wait
                limit = max(1.0, limit / 4)
            running.append(Running(check, request, files, inputs, limit))
            nxt += 1
        fds = [fd for r in running for fd in r.open]
        # polled too, not only at EOF: a process the check started may hold its pipes open
        left = min([r.deadline for r in running] + [time.monotonic() + 0.05]) - time.monotonic()
        ready = select.select(fds, [], [], max(left, 0))[0] if fds and left > 0 else []
        for r in running:
            if r.status is None:
                pid, status = os.waitpid(r.pid, os.WNOHANG)
                if pid:
                    r.status = status
        for r in running:
            for fd in ready:
                if fd in r.open:
                    r.read(fd)
        now = time.monotonic()
        for r in list(running):
            if r.open and r.status is None and now >= r.deadline:
                r.timed_out = True
            if r.timed_out or r.oversize or not r.open or r.status is not None:
                running.remove(r)
                header, blob = r.finish()
                kill_strays([other.pid for other in running])
                if header.get("status") == "timeout":
                    timed_out.add(r.check.get("scenario"))
                # sent as soon as it is known: should the submission kill this worker, every
                # finished check has already reached the judge
                emit(header, blob)
                done[r.check["id"]] = True
                emitted += 1
                if header.get("status") == "load_error" and header["id"] == checks[0]["id"]:
                    return


def main(argv):
    request_dir = argv[1]
    with open(os.path.join(request_dir, "request.json")) as fh:
        request = json.load(fh)
    with np.load(os.path.join(request_dir, "inputs.npz"), allow_pickle=False) as data:
        inputs = {k: data[k] for k in data.files}
    root = request["submission_dir"]
    files = {}
    for rel in request["files"]:  # chosen by the judge (runner.submission_files): .py files only
        with open(os.path.join(root, rel), "rb") as fh:
            files[rel] = fh.read()
    request["worker_pid"] = os.getpid()
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    stdout = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    run_checks(request, files, inputs,
               lambda header, blob: write_frame(stdout, _dumps(header).encode(), blob),
               parallel=request.get("parallel", 2))


if __name__ == "__main__":
    main(sys.argv)
