"""Judge side of the sandbox: start the worker, hand it the checks, read back arrays and statuses.

One worker process (``python -I refmlp/check/sandbox/worker.py``, numpy only) serves a whole
submission; it forks one child per check (see the worker's docstring for the limits). What comes
back is JSON plus raw array bytes, rebuilt here with ``np.frombuffer``: no pickle, no object the
student's code made.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WORKER = Path(__file__).with_name("sandbox") / "worker.py"
DEFAULT_TIMEOUT = 10.0  # seconds per check; a check of the course's networks takes ~0.05 s
DEFAULT_MEMORY = 2**30  # RLIMIT_AS per check; a check of the course's networks runs within 300 MB
FILE_SIZE_LIMIT = 64 * 2**20  # RLIMIT_FSIZE: a submission may not fill the disk


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


def _frames(data: bytes):
    pos = 0
    while pos + 8 <= len(data):
        n = int.from_bytes(data[pos:pos + 8], "little")
        head = json.loads(data[pos + 8:pos + 8 + n])
        pos += 8 + n
        m = int.from_bytes(data[pos:pos + 8], "little")
        yield head, data[pos + 8:pos + 8 + m]
        pos += 8 + m


def _arrays(head: dict, blob: bytes) -> dict:
    out = {}
    for spec in head.get("arrays", []):
        dtype = np.dtype(spec["dtype"])
        if dtype.kind not in "fiub":  # the worker only sends numbers
            continue
        start, n = spec["offset"], spec["nbytes"]
        out[spec["name"]] = np.frombuffer(blob[start:start + n], dtype=dtype).reshape(spec["shape"])
    return out


class Run:
    """A started worker: ``collect()`` waits for it and returns {check id: Outcome}.

    The judge imports torch while the worker runs, so the two start-up costs overlap.
    """

    def __init__(self, submission_dir: Path, module: str, module_file: str, checks: list,
                 inputs: dict, *, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY,
                 adapter: Path | None = None, parallel: int = 2):
        self.checks, self.timeout = checks, timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="refmlp-check-"))
        request = {
            "submission_dir": str(submission_dir),
            "module": module,
            "module_file": module_file,
            "adapter": str(adapter) if adapter else None,
            "scratch_root": str(self.tmp / "scratch"),
            "limits": {"timeout": timeout, "memory": memory, "fsize": FILE_SIZE_LIMIT},
            "checks": checks,
            "parallel": parallel,
        }
        (self.tmp / "scratch").mkdir()
        (self.tmp / "request.json").write_text(json.dumps(request))
        np.savez(self.tmp / "inputs.npz", **inputs)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        # the course's networks are small: one BLAS thread is fastest and reserves least memory
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(self.tmp)], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmp, env=env,
            start_new_session=True)

    def collect(self) -> dict[str, Outcome]:
        proc = self.proc
        try:
            try:
                out, err = proc.communicate(timeout=self.timeout * len(self.checks) + 30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # anything a submission left running
                except OSError:
                    pass
            if proc.returncode and b"Traceback" in err:
                # the worker's own code failed (a student's code runs only in its children, whose
                # failures come back as outcomes): a bug in refmlp, never a verdict on the student
                raise RuntimeError("the sandbox worker failed:\n" + err.decode(errors="replace")[-4000:])
            return self._outcomes(out, err)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _outcomes(self, out: bytes, err: bytes) -> dict[str, Outcome]:
        outcomes = {}
        try:
            for head, blob in _frames(out):
                outcomes[head["id"]] = Outcome(
                    id=head["id"], status=head.get("status", "died"), arrays=_arrays(head, blob),
                    traceback=head.get("traceback"), message=head.get("message"),
                    op=head.get("op"), op_index=head.get("op_index"),
                    output=head.get("output", ""), output_bytes=head.get("output_bytes", 0),
                    notes=head.get("notes", []), exit_code=head.get("exit_code"),
                    signal=head.get("signal"), seconds=head.get("seconds"),
                    limit=head.get("limit"))
        except (ValueError, KeyError):
            pass  # a cut frame: the checks after it are reported as died
        loaded = not any(o.status == "load_error" for o in outcomes.values())
        for check in self.checks:
            if check["id"] not in outcomes and loaded:
                outcomes[check["id"]] = Outcome(
                    id=check["id"], status="died",
                    message="the sandbox worker stopped before this check ran"
                            + (f": {err.decode(errors='replace')[-2000:]}" if err else ""))
        return outcomes
