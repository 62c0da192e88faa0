"""The worker's processes: one forked child per check, its limits, and what it leaves behind.

Every check runs in a child of the worker which:

- gets its own process group, RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE and no core dumps;
- gets a fresh scratch folder holding a copy of the submission's .py files (plus the course's
  helper modules ``layers.py`` / ``losses.py`` from ``course/`` when the submission does not ship
  them) as its working directory, so a deleted file or a changed global never reaches another check;
- has stdin from /dev/null and stdout/stderr on a pipe the worker reads, keeping the first
  OUTPUT_KEEP bytes and discarding the rest;
- keeps no other descriptor and, on Linux, is locked down before any student code runs
  (confine.lock_check: no capabilities, no_new_privs, Landlock, seccomp);
- imports the submission, runs the check's operations (ops.py) and writes its result, a frame of
  wire.py, on a pipe of its own; then ``os._exit``.

The worker kills a child (its whole process group) after the wall-clock timeout, and whatever
the checks started and left behind (:func:`kill_strays`). Numpy only.
"""

import importlib
import importlib.util
import os
import resource
import select
import signal
import sys
import tempfile
import time

from . import confine, ops, tracebacks, wire

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT_KEEP = 16384
RESULT_CAP = 8 * 2**20  # a check's result frame when the request gives no cap of its own
_exit = os._exit  # taken before any student code runs (see wire.py)


def load_file(name, path):
    """The module of the file at ``path``, imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
                header, blob, _ = wire.read_frame(bytes(self.result))
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


def child(check, request, files, inputs, out_w, res_w, prog_w):
    ops._progress["fd"] = prog_w
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
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc (a namespace root without one): every number up to the limit
        bounds = sorted(keep) + [resource.getrlimit(resource.RLIMIT_NOFILE)[0]]
        for lo, hi in zip(bounds, bounds[1:]):
            os.closerange(lo + 1, hi)  # close_range(2) where there is one: fast however high
        fds = []
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own descriptor, closed by the time we get to it
    if request.get("isolation", "none") != "none":
        try:
            confine.lock_check(request["isolation"], scratch, request.get("adapter"))
        except Exception as exc:  # never run the submission less confined than announced
            wire.send_result(res_w, {"status": "died", "message": (
                f"the sandbox could not confine this check ({exc!r}): nothing of the "
                "submission ran")}, {})
            _exit(0)
    os.chdir(scratch)
    tracebacks.where["scratch"], tracebacks.where["origin"] = scratch, request["submission_dir"]
    sys.path.insert(0, scratch)
    sys.argv = [request["module_file"]]
    out, notes = {}, []
    try:
        if check["kind"] == "helpers":
            mod = None
        elif request.get("adapter"):
            mod = load_file("refmlp_adapter", request["adapter"])
        else:
            mod = importlib.import_module(request["module"])
        if mod is not None and not hasattr(mod, check["class"]):
            raise AttributeError(f"{request['module_file']} defines no class {check['class']}")
        header = ops.run_ops(check, mod, inputs, out, notes)
    except BaseException:
        header = {"status": "load_error", "traceback": tracebacks.format_exc()}
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    header["notes"] = [str(n) for n in notes]
    wire.send_result(res_w, header, out)
    _exit(0)

