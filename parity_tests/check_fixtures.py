"""Small homework submissions written out by the checker's own tests (isolation, CLI, adapter).

``CORRECT`` is a right implementation of the released MLP API; the hostile variants add one
behaviour to it through ``submission(tmp_path, extra=..., replace=...)``.
"""

from pathlib import Path

import pytest

CORRECT = '''
import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d, self.est_lossderiv = d, est_lossderiv
        self.Ws, self.bs, self.fs, self.fds, self.names = [], [], [], [], []
        self.dWs, self.dbs = [], []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.Ws[-1].shape[0] if self.Ws else self.d
        self.Ws.append(0.1 * np.random.randn(m, n))
        self.bs.append(0.1 * np.random.randn(m))
        self.fs.append(f); self.fds.append(fderiv); self.names.append(name)
        self.dWs.append(np.zeros((m, n))); self.dbs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        lo = self.names.index(start) if start is not None else 0
        hi = self.names.index(end) if end is not None else len(self.Ws) - 1
        self.a, self.h = {}, {lo - 1: x}
        h = x
        for k in range(lo, hi + 1):
            self.a[k] = self.Ws[k] @ h + self.bs[k]
            h = self.h[k] = self.fs[k](self.a[k])
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for k in range(len(self.Ws) - 1, -1, -1):
            if k < len(self.Ws) - 1:
                g = g * self.fds[k](self.a[k])
            self.dbs[k] += g
            self.dWs[k] += np.outer(g, self.h[k - 1])
            g = self.Ws[k].T @ g

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha * self.dWs[k]
            self.bs[k] -= alpha * self.dbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k][:] = 0
            self.dbs[k][:] = 0
'''

FPRIME_MISSING = ("g = g * self.fds[k](self.a[k])", "g = g")


def submission(folder: Path, *, extra: str = "", replace=(), files=None) -> Path:
    """Write mlp.py (CORRECT with ``replace`` = (old, new) pairs applied and ``extra`` appended)
    and any ``files`` {name: text} into ``folder``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    src = CORRECT
    for old, new in replace:
        assert old in src, old
        src = src.replace(old, new)
    (folder / "mlp.py").write_text(src + extra)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


ISOLATION = ("namespaces", "fallback", "none")  # refmlp/check/sandbox/confine.py, strongest first


def force_isolation(monkeypatch, mode: str) -> str:
    """Make the checker run in isolation ``mode`` ($REFMLP_ISOLATION), or skip the test saying why
    this machine cannot (user namespaces refused, no Landlock or seccomp, not Linux)."""
    from refmlp.check.sandbox import confine

    found = confine.available()
    if mode not in found:
        pytest.skip(f"isolation {mode!r} is not available on this machine (available: "
                    f"{', '.join(found)}): " + {
                        "namespaces": "user namespaces are refused (a container's profile or "
                                      "a sysctl)",
                        "fallback": "the kernel has neither Landlock nor seccomp filters"}[mode])
    monkeypatch.setenv(confine.ENV, mode)
    return mode
