"""Judge side of the sandbox: start the worker, hand it the checks, read back arrays and statuses.

One worker process (``python -I refmlp/check/sandbox/worker.py``, numpy only) serves a whole
submission; it forks one child per check (see the worker's docstring for the limits). What comes
back is JSON plus raw array bytes (sandbox/wire.py, the format both sides share), rebuilt here with
``np.frombuffer``: no pickle, no object the student's code made.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from refmlp.check.sandbox import confine, wire
from refmlp.check.sandbox.files import Refused, read_regular

WORKER = Path(__file__).with_name("sandbox") / "worker.py"
DEFAULT_TIMEOUT = 10.0  # seconds per check; a check of the course's networks takes ~0.05 s
DEFAULT_MEMORY = 2**30  # RLIMIT_AS per check; a check of the course's networks runs within 300 MB
FILE_SIZE_LIMIT = 64 * 2**20  # RLIMIT_FSIZE: a submission may not fill the disk
# A check's result frame: the JSON header (notes, a traceback: small) plus the arrays its operations
# read, each at most 8 bytes a number. RESULT_FLOOR covers the header and the helper checks; the
# per-operation term is twice the numbers a correct network sends plus an (m, m) per layer (an
# (m, 1) bias broadcast with an (m,) vector). The autoencoder's sgd_run, the largest, comes to ~6 MB.
RESULT_FLOOR = 2**20
GRACE = 5.0  # seconds beyond a check's limit for the worker to start, fork, kill and reap it
# What a check's scratch copy of the submission holds: its .py files and those of its packages
# (subfolders with __init__.py), nothing else: a homework folder often holds a .venv, a .git or data
# sets, and every check writes the copy anew (a 600 MB venv x 38 checks was ~23 GB of writes).
SOURCE_CAP = 5 * 2**20  # bytes of .py files in all; the course's mlp.py + layers.py is ~10 kB
# The walk's other bounds, far above any homework, so that a folder built to stall or flood the
# judge (a million entries, packages nested a thousand deep) is refused in milliseconds
MAX_DEPTH = 8  # package folders below the submission's own
MAX_FILES = 500  # .py files copied
MAX_ENTRIES = 20_000  # directory entries looked at


def submission_files(folder: Path) -> list[str] | str:
    """The .py files to copy, relative to ``folder``, or a string saying why they cannot be.

    A walk that never follows a symbolic link (a link ``a -> .`` is one entry, not a loop; a
    linked .py file is refused, since it may point at a classmate's or the instructor's files),
    descends only into packages (folders with an __init__.py) at most MAX_DEPTH deep, and adds up
    the sizes ``stat`` gives as it goes: past SOURCE_CAP bytes, MAX_FILES files or MAX_ENTRIES
    entries it stops and refuses, before any file is read."""
    root = os.fspath(folder)
    found, total, seen, pending = [], 0, 0, [(root, 0)]
    while pending:
        d, depth = pending.pop()
        entries = []
        try:
            with os.scandir(d) as it:
                for entry in it:  # counted as listed: a folder of a million entries is not read whole
                    seen += 1
                    if seen > MAX_ENTRIES:
                        return (f"the submission's folder {folder} and its packages hold over "
                                f"{MAX_ENTRIES} entries; give the folder holding only the "
                                "homework, or the path to its mlp.py")
                    entries.append(entry)
        except OSError as exc:
            return f"cannot list {d}: {exc.strerror}"
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            rel = os.path.relpath(entry.path, root)
            if entry.is_symlink():
                if entry.name.endswith(".py"):
                    return (f"{rel} in {folder} is a symbolic link: the checker copies only regular "
                            "files (a link may point outside the submission); put a copy there")
                continue
            if entry.is_dir(follow_symlinks=False):
                init = os.path.join(entry.path, "__init__.py")
                if os.path.isfile(init) and not os.path.islink(init):
                    if depth + 1 > MAX_DEPTH:
                        return (f"{rel} in {folder}: packages nested over {MAX_DEPTH} deep; the "
                                "checker copies the homework's packages, not such a tree")
                    pending.append((entry.path, depth + 1))
            elif entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
                found.append(rel)
                if total > SOURCE_CAP:
                    return (f"the submission's .py files (in {folder} and its packages) come to at least "
                            f"{total} bytes, over the {SOURCE_CAP // 2**20} MiB the checker copies; "
                            "give the folder holding only the homework, or the path to its mlp.py "
                            "in such a folder")
                if len(found) > MAX_FILES:
                    return (f"the submission's folder {folder} and its packages hold over "
                            f"{MAX_FILES} .py files; give the folder holding only the homework, "
                            "or the path to its mlp.py in such a folder")
    return found


def source_text(path: Path) -> str:
    """The text of a submission's .py file, read only when it is a regular file (not a link) of at
    most SOURCE_CAP bytes; Refused saying why not."""
    return read_regular(os.fspath(path), SOURCE_CAP).decode(errors="replace")


# What the worker inherits of the judge's environment: what Python, its locale and numpy's BLAS
# read, nothing else. The instructor's HOME, tokens, proxies and the like never reach a
# submission. LD_LIBRARY_PATH: a Python built outside the system's library path cannot start
# without it; SYSTEMROOT: Python on Windows cannot start without it.
ENV_NAMES = frozenset({"PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "SYSTEMROOT"})
ENV_PREFIXES = ("LC_", "OPENBLAS_", "OMP_", "MKL_", "GOTO_")


def worker_env(environ) -> dict:
    """The allow-listed part of ``environ`` (ENV_NAMES, ENV_PREFIXES)."""
    return {k: v for k, v in environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}


def result_cap(check: dict) -> int:
    """Bytes a check's frame may take: RESULT_FLOOR + 2 x 8 bytes x (operations x numbers per
    operation), the numbers being x and, per layer, W_k, b_k, an m_k x m_k, a_k and f'(a_k)."""
    sizes = [check.get("d", 0)] + [layer["m"] for layer in check.get("layers", [])]
    per_op = sum(m * (n + 1) + m * m + 2 * m for n, m in zip(sizes, sizes[1:])) + sizes[0]
    return RESULT_FLOOR + 2 * 8 * (len(check.get("ops", [])) + 1) * per_op


@dataclass
class Outcome:
    """What one check's child sent back."""

    id: str
    status: str  # ok | exception | discovery | load_error | timeout | died
    arrays: dict = field(default_factory=dict)
    traceback: str | None = None
    message: str | None = None
    op: str | None = None
    op_index: int | None = None
    output: str = ""
    output_bytes: int = 0
    notes: list = field(default_factory=list)
    exit_code: int | None = None
    signal: int | None = None
    seconds: float | None = None  # wall-clock time of the check's process
    limit: float | None = None  # the time limit it ran under, when it timed out


# What a check's frame may carry. Every field comes from a process that ran the student's code, so
# each is checked here (its arrays by wire.decode_arrays); anything else makes that check "died"
# (a malformed result), never a crash.
STATUSES = frozenset({"ok", "exception", "discovery", "load_error", "timeout", "died"})
FIELDS = {"traceback": str, "message": str, "op": str, "op_index": int, "output": str,
          "output_bytes": int, "notes": list, "exit_code": int, "signal": int,
          "seconds": (int, float), "limit": (int, float)}


def _outcome(head: dict, blob: bytes) -> Outcome:
    status = head.get("status", "died")
    if not isinstance(status, str) or status not in STATUSES:
        raise wire.MalformedFrame(f"status {status!r}")
    fields = {}
    for key, kind in FIELDS.items():
        value = head.get(key)
        if value is not None and not isinstance(value, kind):
            raise wire.MalformedFrame(f"{key} is a {type(value).__name__}")
        if value is not None:
            fields[key] = value
    if not all(isinstance(note, str) for note in fields.get("notes", [])):
        raise wire.MalformedFrame("a note is not a string")
    return Outcome(id=head["id"], status=status, arrays=wire.decode_arrays(head, blob), **fields)


def kill_marked(mark: bytes) -> None:
    """SIGKILL every process whose environment holds ``mark`` (Linux /proc; nothing elsewhere).
    A submission that replaces its environment on exec is not found: see the README's limits."""
    try:
        names = [n for n in os.listdir("/proc") if n.isdigit() and int(n) != os.getpid()]
    except OSError:
        return
    for name in names:
        try:
            with open(f"/proc/{name}/environ", "rb") as fh:
                if mark in fh.read().split(b"\0"):
                    os.kill(int(name), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def remove_stale_folders() -> None:
    """Remove the folders of earlier runs whose judge was killed before its own clean-up (a
    SIGKILL runs no ``finally``): those whose judge.pid names no live process."""
    for folder in Path(tempfile.gettempdir()).glob("refmlp-check-*"):
        try:
            pid = int((folder / "judge.pid").read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            pass  # another user's, or one being set up: not ours to judge


class Run:
    """A started worker: ``collect()`` waits for it and returns {check id: Outcome}.

    Start it only once the judge has imported all it needs (check_submission does): from then on
    the submission's code runs, as the same user, and may change files on disk.
    """

    def __init__(self, submission_dir: Path, module: str, module_file: str, checks: list,
                 inputs: dict, *, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY,
                 adapter: Path | None = None, parallel: int = 2, files: list | None = None,
                 deadline: float | None = None):
        # deadline: time.monotonic() by which the whole run must end (the student's time limit);
        # the checks not reported by then come back as timeouts
        self.checks, self.timeout, self.deadline = checks, timeout, deadline
        # REFMLP_ISOLATION forces a mode (namespaces | fallback | none), else the strongest here
        self.isolation, self.isolation_text = confine.choose()
        remove_stale_folders()
        self.out_of_time = False
        self.budget = round(deadline - time.monotonic(), 1) if deadline is not None else None
        self.tmp = Path(tempfile.mkdtemp(prefix="refmlp-check-"))
        (self.tmp / "judge.pid").write_text(str(os.getpid()))
        request = {
            "submission_dir": str(submission_dir),
            # the files to copy into each check's scratch folder (submission_files)
            "files": files if files is not None else [module_file],
            "source_cap": SOURCE_CAP,
            "module": module,
            "module_file": module_file,
            "adapter": str(adapter) if adapter else None,
            "scratch_root": str(self.tmp / "scratch"),
            "limits": {"timeout": timeout, "memory": memory, "fsize": FILE_SIZE_LIMIT},
            "checks": checks,
            "result_caps": {check["id"]: result_cap(check) for check in checks},
            "parallel": parallel,
            "isolation": self.isolation,
        }
        (self.tmp / "scratch").mkdir()
        (self.tmp / "request.json").write_text(json.dumps(request))
        np.savez(self.tmp / "inputs.npz", **inputs)
        env = worker_env(os.environ)
        # a mark every process of this run inherits: found in /proc/<pid>/environ, it lets
        # collect() kill what escaped the worker too (the worker kills such strays after each
        # check; this is for a worker that was itself killed)
        self.mark = f"REFMLP_CHECK_RUN={self.tmp.name}"
        env["REFMLP_CHECK_RUN"] = self.tmp.name
        # the course's networks are small: one BLAS thread is fastest and reserves least memory
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(self.tmp)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmp, env=env,
            start_new_session=True)

    def collect(self) -> dict[str, Outcome]:
        try:
            out, err, stopped = self._read()
            if self.proc.returncode and not stopped and b"Traceback" in err:
                # the worker's own code failed (a student's code runs only in its children, whose
                # failures come back as outcomes): a bug in refmlp, never a verdict on the student
                raise RuntimeError("the sandbox worker failed:\n" + err.decode(errors="replace")[-4000:])
            return self._outcomes(out, err, stopped)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _read(self) -> tuple[bytes, bytes, str | None]:
        """The worker's frames, read as they come, within two bounds: the bytes every check may
        send (the sum of result_cap, plus each check's kept output) and time, a frame being due
        within timeout + GRACE of the previous one. A worker breaking either (stopped, hung or
        flooded by the submission) is killed with its process group; the checks it did not report
        are then "died" with the reason returned here."""
        proc = self.proc
        cap = sum(result_cap(c) + 2**18 for c in self.checks) + 2**20
        frame_cap = max(result_cap(c) for c in self.checks) + 2**18
        out, err = bytearray(), bytearray()
        fds = {proc.stdout.fileno(), proc.stderr.fileno()}
        pos, last, stopped = 0, time.monotonic(), None
        try:
            while fds and not stopped:
                left = last + self.timeout + GRACE - time.monotonic()
                if self.deadline is not None and self.deadline - time.monotonic() < left:
                    left = self.deadline - time.monotonic()
                    if left <= 0:
                        self.out_of_time = True
                        stopped = "the student's time limit ran out before this check ended"
                        break
                ready = select.select(list(fds), [], [], max(left, 0))[0] if left > 0 else []
                if not ready and self.deadline is not None and time.monotonic() >= self.deadline:
                    continue  # said at the top of the loop
                if not ready:
                    stopped = (f"the sandbox worker sent nothing for {self.timeout + GRACE:g} s "
                               "(the time limit plus a grace): it was stopped or hung, by the "
                               "submission most likely, and was killed")
                for fd in ready:
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        fds.discard(fd)
                    elif fd == proc.stderr.fileno():
                        err = (err + chunk)[-8192:]  # the worker's own failure: its tail says it
                    else:
                        out += chunk
                pos, n, bad = wire.complete(out, pos, frame_cap)
                if n:
                    last = time.monotonic()
                if bad:
                    stopped = f"the sandbox worker sent a malformed frame ({bad}) and was killed"
                elif len(out) > cap:
                    stopped = (f"the checks' results exceeded {cap} bytes, more than they can "
                               "need: the worker was killed")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything a submission left running
            except OSError:
                pass
            proc.stdout.close()
            proc.stderr.close()
            proc.wait()
            kill_marked(self.mark.encode())
        return bytes(out), bytes(err), stopped

    def _outcomes(self, out: bytes, err: bytes, stopped: str | None = None) -> dict[str, Outcome]:
        outcomes = {}
        ids = {check["id"] for check in self.checks}
        try:
            for head, blob in wire.frames(out):
                if not isinstance(head, dict) or head.get("id") not in ids:
                    continue  # no check to charge it to: that check is reported as died below
                try:
                    outcomes[head["id"]] = _outcome(head, blob)
                except wire.MalformedFrame as exc:
                    outcomes[head["id"]] = Outcome(
                        id=head["id"], status="died",
                        message=f"the check's process sent a malformed result ({exc})")
        except (ValueError, KeyError, TypeError):
            pass  # a cut frame: the checks after it are reported as died
        loaded = not any(o.status == "load_error" for o in outcomes.values())
        for check in self.checks:
            if check["id"] not in outcomes and loaded and self.out_of_time:
                outcomes[check["id"]] = Outcome(id=check["id"], status="timeout", message=stopped,
                                                notes=[stopped], limit=self.budget)
            elif check["id"] not in outcomes and loaded:
                outcomes[check["id"]] = Outcome(
                    id=check["id"], status="died",
                    message=stopped or "the sandbox worker stopped before this check ran"
                            + (f": {err.decode(errors='replace')[-2000:]}" if err else ""))
        return outcomes
