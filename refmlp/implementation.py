"""Someone else's implementation, run in a process of its own (``refmlp compare --impl``).

``--impl module:factory`` (or ``path/to/file.py:factory``) names a callable that builds the
network: ``factory(sizes)`` with sizes = [n_0, n_1, ..., n_L], and ``factory(sizes,
dtype="float32")`` for float32. What it returns has

- ``params``: the list of (W_k, b_k), k = 1..L, in the layout ``--layout`` names;
- ``grads(X, y)``: what :func:`refmlp.gradients_report` takes from ``grads_fn``: the list of
  (dW_k, db_k), or a dict with "grads" and optionally "a", "h", "g", "loss".

The child process (``python -m refmlp.implementation``) imports it from the current folder, calls
it on the batch, and sends every array back in an ``.npz`` file, read here with
``allow_pickle=False``: the implementation's objects never reach the judging process, only arrays
of numbers. The child's errors (an import that fails, a factory that raises) come back as text.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

OPTIONAL = ("a", "h", "g")


class ImplementationError(Exception):
    """The implementation could not be loaded or raised: the message holds the child's account."""


def run(impl: str, sizes: list[int], dtype: str, X: np.ndarray, y: np.ndarray,
        timeout: float = 120.0) -> tuple[list, dict]:
    """(params, the grads_fn result as a dict) of ``impl`` on the batch X, y, from a child process."""
    if ":" not in impl:
        raise ImplementationError(f"--impl {impl!r}: expected module:factory or path/to/file.py:factory")
    with tempfile.TemporaryDirectory(prefix="refmlp-impl-") as tmp:
        request, response = Path(tmp) / "request.npz", Path(tmp) / "response.npz"
        np.savez(request, X=X, y=y, sizes=np.array(sizes, dtype=np.int64), dtype=np.array(dtype))
        try:
            done = subprocess.run([sys.executable, "-m", "refmlp.implementation", impl,
                                   str(request), str(response)],
                                  capture_output=True, text=True, timeout=timeout, cwd=os.getcwd())
        except subprocess.TimeoutExpired:
            raise ImplementationError(f"--impl {impl!r} did not answer within {timeout:g} s") from None
        if done.returncode != 0:
            raise ImplementationError(done.stderr.strip() or f"the child process exited with {done.returncode}")
        with np.load(response, allow_pickle=False) as arrays:
            return unpack(dict(arrays), len(sizes) - 1)


def unpack(arrays: dict, L: int) -> tuple[list, dict]:
    params = [(arrays[f"W{k}"], arrays[f"b{k}"]) for k in range(1, L + 1)]
    given = {"grads": [(arrays[f"dW{k}"], arrays[f"db{k}"]) for k in range(1, L + 1)]}
    for key in OPTIONAL:
        if f"{key}1" in arrays:
            given[key] = [arrays[f"{key}{k}"] for k in range(1, L + 1)]
    if "loss" in arrays:
        given["loss"] = float(arrays["loss"])
    return params, given


def load_factory(impl: str):
    """The callable ``impl`` names: module:factory, the module found from the current folder."""
    import importlib
    import importlib.util

    where, _, name = impl.rpartition(":")
    if where.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(where).stem, where)
        if spec is None or not Path(where).is_file():
            raise ImplementationError(f"--impl {impl!r}: no file {where!r}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImplementationError(f"--impl {impl!r}: {where} has no {name!r}") from None


def pack(net, result, L: int) -> dict:
    """The arrays of the child's answer; an answer of the wrong form is said plainly."""
    out = {}
    params = list(getattr(net, "params", None) or [])
    if len(params) != L:
        raise ImplementationError(f"the network's params must be a list of {L} (W, b) pairs; got "
                                  f"{len(params)} entries")
    given = result if isinstance(result, dict) else {"grads": result}
    grads = list(given.get("grads") or [])
    if len(grads) != L:
        raise ImplementationError(f"grads(X, y) must give {L} (dW, db) pairs; got {len(grads)}")
    for k in range(1, L + 1):
        (W, b), (dW, db) = params[k - 1], grads[k - 1]
        out.update({f"W{k}": W, f"b{k}": b, f"dW{k}": dW, f"db{k}": db})
    for key in OPTIONAL:
        if given.get(key) is not None:
            for k, v in enumerate(given[key], start=1):
                out[f"{key}{k}"] = v
    if given.get("loss") is not None:
        out["loss"] = float(given["loss"])
    arrays = {k: np.asarray(v) for k, v in out.items()}
    for key, v in arrays.items():
        if v.dtype.kind not in "fiub":  # an object array would travel pickled: refused
            raise ImplementationError(f"{key} must be an array of numbers; got dtype {v.dtype}")
    return arrays


def main(argv: list[str]) -> int:
    impl, request, response = argv
    sys.path.insert(0, os.getcwd())
    with np.load(request, allow_pickle=False) as arrays:
        X, y, sizes, dtype = arrays["X"], arrays["y"], arrays["sizes"].tolist(), str(arrays["dtype"])
    try:
        factory = load_factory(impl)
        net = factory(sizes) if dtype == "float64" else factory(sizes, dtype=dtype)
        arrays = pack(net, net.grads(X, y), len(sizes) - 1)
    except ImplementationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except Exception:
        import traceback

        print(f"--impl {impl!r} raised:\n{traceback.format_exc()}", file=sys.stderr)
        return 2
    np.savez(response, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
