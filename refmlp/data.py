"""The dataset registry: frozen snapshots in ``datasets/``, loaded with numpy alone.

Snapshots are generated once by ``scripts/make_datasets.py`` (scikit-learn, seed 0 everywhere)
and stored, so a result obtained today is reproduced bit for bit under any later scikit-learn.
This module never imports scikit-learn or torch.

Conventions
-----------
- Where: ``$REFMLP_DATASETS`` if set, else the ``datasets`` folder next to the ``refmlp``
  package. It holds one ``<name>.npz`` per dataset (arrays ``X`` and ``y``) and ``MANIFEST.json``.
- Features ``X``: float64 of shape (n, d), one sample per row. Every dataset except ``disc`` is
  standardised per column, x' = (x - mean) / std with the population std (ddof=0); a constant
  column (three digits pixels are always 0) becomes all zeros instead of 0/0. ``disc`` is kept
  exactly as the course makes it.
- Labels: classification labels are int64 of shape (n,) with values 0..C-1 ("binary" when C = 2,
  "multiclass" otherwise); regression targets are float64 of shape (n, t), standardised per
  column like the features.
- ``Dataset.targets(kind)`` gives the two forms a network consumes: ``"class"`` the int64 labels,
  ``"vector"`` float64 rows for the output layer (binary (n, 1) of 0./1., multiclass one-hot
  (n, C), regression (n, t)).
- Checksum: sha256 over X then y; for each array, the ASCII header
  ``"<dtype.str> <shape as comma-separated ints>\\n"`` (for example ``"<f8 200,2\\n"``,
  ``"<i8 200\\n"``) followed by its C-contiguous bytes. It hashes array contents, not the
  ``.npz`` bytes, because zip archives carry timestamps and are not reproducible.
- Every array a ``Dataset`` hands out is read-only: loads are cached, and a caller writing into
  a shared array would silently change every later load.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import zipfile
import os
from pathlib import Path

import numpy as np

ENV_VAR = "REFMLP_DATASETS"
MANIFEST = "MANIFEST.json"
TASKS = ("binary", "multiclass", "regression")
TARGET_KINDS = ("class", "vector")
REGENERATE_HINT = "regenerate with `python scripts/make_datasets.py` (needs scikit-learn)"


class DatasetIntegrityError(RuntimeError):
    """A snapshot's arrays do not hash to the checksum its manifest records."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """One manifest entry; ``n_classes`` is None for regression, ``n_targets`` otherwise."""

    name: str
    task: str
    n_samples: int
    n_features: int
    n_classes: int | None
    n_targets: int | None
    description: str


# eq=False: arrays have no truth value for ==, and two loads are equal only if they are the same.
@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded snapshot; ``labels`` is int64 (n,) to classify, float64 (n, t) to regress."""

    name: str
    task: str
    X: np.ndarray  # (n, d) float64
    labels: np.ndarray
    n_classes: int | None
    description: str

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    def targets(self, kind: str) -> np.ndarray:
        """The labels in the form ``kind`` asks for (read-only).

        ``"class"``: int64 (n,) with values 0..C-1. ``"vector"``: float64 (n, n_outputs): binary
        (n, 1) of 0. and 1., multiclass one-hot (n, C), regression the targets (n, t).
        """
        _check_kind(kind)
        if kind == "class":
            self._require_classes(kind)
            return self.labels
        if self.task == "regression":
            return self.labels
        if self.task == "binary":
            vector = self.labels.astype(np.float64)[:, None]  # (n, 1)
        else:
            vector = np.eye(self.n_classes)[self.labels]  # (n, C)
        return _read_only(vector)

    def n_outputs(self, kind: str) -> int:
        """The output-layer size ``targets(kind)`` needs.

        ``"class"``: C, so 2 for a binary dataset (a softmax over both classes). ``"vector"``: 1
        for binary, C for multiclass, t for regression.
        """
        _check_kind(kind)
        if kind == "class":
            self._require_classes(kind)
            return self.n_classes
        if self.task == "binary":
            return 1
        if self.task == "multiclass":
            return self.n_classes
        return self.labels.shape[1]

    def subset(self, n: int | None, seed: int = 0) -> Dataset:
        """The first ``n`` rows of ``np.random.default_rng(seed).permutation(n_samples)``.

        Drawn without replacement and kept in permutation order; the same (n, seed) always
        gives the same rows. ``n=None`` returns this dataset unchanged.
        """
        if n is None:
            return self
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"subset size must be an int or None, got {n!r}")
        if not 1 <= n <= self.n_samples:
            raise ValueError(
                f"cannot draw {n} samples from {self.name!r}: it has {self.n_samples} "
                f"(expected 1 <= n <= {self.n_samples})"
            )
        rows = np.random.default_rng(seed).permutation(self.n_samples)[:n]
        return dataclasses.replace(
            self,
            X=_read_only(self.X[rows]),
            labels=_read_only(self.labels[rows]),
            description=f"{self.description} [subset: {n} of {self.n_samples} rows, seed {seed}]",
        )

    def _require_classes(self, kind: str) -> None:
        if self.task == "regression":
            raise ValueError(
                f"{self.name!r} is a regression dataset: its targets are real numbers, "
                f"so it has no {kind!r} form; use kind='vector'"
            )


def snapshot_dir() -> Path:
    """``$REFMLP_DATASETS`` if set (and non-empty), else the ``datasets`` folder of the repo, else
    (an installed wheel) the snapshots packaged with refmlp as ``refmlp.snapshots``."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    repo = Path(__file__).resolve().parent.parent / "datasets"
    if repo.is_dir():
        return repo
    packaged = Path(__file__).resolve().parent / "snapshots"
    return packaged if packaged.is_dir() else repo


def snapshot_digest(X: np.ndarray, y: np.ndarray) -> str:
    """sha256 hex digest of X then y: per array ``"<dtype.str> <d0,d1,...>\\n"`` + C bytes."""
    digest = hashlib.sha256()
    for array in (X, y):
        shape = ",".join(str(size) for size in array.shape)
        digest.update(f"{array.dtype.str} {shape}\n".encode("ascii"))
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def list_datasets() -> list[DatasetInfo]:
    """Every dataset the manifest lists, in manifest order."""
    folder = snapshot_dir()
    return [_info(name, entry) for name, entry in _read_manifest(folder)["datasets"].items()]


def load_dataset(name: str) -> Dataset:
    """Load snapshot ``name``, checked against its manifest checksum, from a per-process cache."""
    folder = snapshot_dir()
    entries = _read_manifest(folder)["datasets"]
    if name not in entries:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(entries)}")
    path = folder / f"{name}.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is listed in {folder / MANIFEST} but missing; {REGENERATE_HINT}"
        )
    # The key holds the resolved path and the file's stamp so that pointing REFMLP_DATASETS
    # elsewhere, or rewriting a snapshot, is never answered from a stale cache entry.
    stat = path.stat()
    return _load(str(path.resolve()), stat.st_mtime_ns, stat.st_size, _info(name, entries[name]),
                 entries[name]["sha256"])


@functools.lru_cache(maxsize=None)
def _load(path: str, mtime_ns: int, size: int, info: DatasetInfo, expected: str) -> Dataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:  # not an .npz (numpy talks of pickles)
        raise DatasetIntegrityError(f"{path} is not a readable .npz snapshot ({exc}); {REGENERATE_HINT}") from None
    with archive:
        if sorted(archive.files) != ["X", "y"]:
            raise DatasetIntegrityError(
                f"{path} holds arrays {sorted(archive.files)}, expected ['X', 'y']; "
                f"{REGENERATE_HINT}"
            )
        X, y = archive["X"], archive["y"]
    actual = snapshot_digest(X, y)
    if actual != expected:
        raise DatasetIntegrityError(
            f"{path} does not match its manifest: expected sha256 {expected}, got {actual}. "
            f"The file or MANIFEST.json was changed; restore both from git or {REGENERATE_HINT}"
        )
    return Dataset(
        name=info.name,
        task=info.task,
        X=_read_only(X),
        labels=_read_only(y),
        n_classes=info.n_classes,
        description=info.description,
    )


def _read_manifest(folder: Path) -> dict:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        source = f"${ENV_VAR}" if os.environ.get(ENV_VAR) else f"the default (${ENV_VAR} is unset)"
        raise FileNotFoundError(
            f"no dataset snapshots at {folder} (from {source}): {manifest} does not exist. "
            f"Point ${ENV_VAR} at a folder holding {MANIFEST} and the .npz files, "
            f"or {REGENERATE_HINT.replace('regenerate', 'generate them')}"
        )
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(data.get("datasets"), dict):
            raise ValueError('no "datasets" object at the top level')
    except (ValueError, AttributeError) as exc:
        raise DatasetIntegrityError(f"{manifest} is not a readable manifest ({exc}); {REGENERATE_HINT}") from None
    return data


_INFO_KEYS = ("task", "n_samples", "n_features", "n_classes", "n_targets", "description")


def _info(name: str, entry: dict) -> DatasetInfo:
    missing = [key for key in _INFO_KEYS if key not in entry]
    if missing:
        raise DatasetIntegrityError(f"{MANIFEST}: the entry for {name!r} lacks {missing}; {REGENERATE_HINT}")
    if entry["task"] not in TASKS:
        raise ValueError(
            f"{MANIFEST} gives {name!r} the task {entry['task']!r}; expected one of {list(TASKS)}"
        )
    return DatasetInfo(
        name=name,
        task=entry["task"],
        n_samples=entry["n_samples"],
        n_features=entry["n_features"],
        n_classes=entry["n_classes"],
        n_targets=entry["n_targets"],
        description=entry["description"],
    )


def _check_kind(kind: str) -> None:
    if kind not in TARGET_KINDS:
        raise ValueError(f"unknown target kind {kind!r}; expected one of {list(TARGET_KINDS)}")


def _read_only(array: np.ndarray) -> np.ndarray:
    # Handing out a view of a private read-only copy is what makes this stick: numpy lets the
    # owner of the memory (or a view of np.load's writable buffers) switch writing back on.
    base = np.array(array, order="C", copy=True)
    base.flags.writeable = False
    return base.view()


def load_npz(path: str | os.PathLike) -> Dataset:
    """A dataset of your own: an ``.npz`` file holding ``X`` (n, d) and ``y``, n samples each.

    Integer ``y`` of shape (n,) with values 0..C-1 are class labels ("binary" when C <= 2,
    "multiclass" otherwise); float ``y`` of shape (n,) or (n, t) are regression targets. Used as
    given: no standardisation, no checksum.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--data {str(path)!r}: no such file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise ValueError(f"--data {str(path)!r} is not a readable .npz file of arrays ({exc})") from None
    if not hasattr(archive, "files"):  # a plain .npy holds one array, not X and y
        raise ValueError(f"--data {str(path)!r} holds a single array; expected an .npz with X and y "
                         "(np.savez(path, X=X, y=y))")
    with archive:
        missing = [k for k in ("X", "y") if k not in archive.files]
        if missing:
            raise ValueError(f"--data {str(path)!r} has the arrays {sorted(archive.files)}; expected "
                             f"X and y (missing: {', '.join(missing)}); save with np.savez(path, X=X, y=y)")
        X, y = archive["X"], archive["y"]
    if X.ndim != 2 or X.shape[0] == 0 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"--data {str(path)!r}: X must be a numeric (n, d) array with n >= 1; got "
                         f"{X.dtype} of shape {X.shape}")
    if y.shape[:1] != X.shape[:1] or y.ndim > 2:
        raise ValueError(f"--data {str(path)!r}: y must hold one target per sample, shape ({X.shape[0]},) "
                         f"or ({X.shape[0]}, t); got shape {y.shape}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        raise ValueError(f"--data {str(path)!r}: X holds inf or nan")
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1:
        if y.min() < 0:
            raise ValueError(f"--data {str(path)!r}: class labels must be 0..C-1; got {y.min()}")
        n_classes = max(int(y.max()) + 1, 2)
        task, labels = ("binary" if n_classes == 2 else "multiclass"), y.astype(np.int64)
    elif np.issubdtype(y.dtype, np.number) and not np.issubdtype(y.dtype, np.complexfloating):
        labels = y.astype(np.float64).reshape(X.shape[0], -1)
        if not np.isfinite(labels).all():
            raise ValueError(f"--data {str(path)!r}: y holds inf or nan")
        task, n_classes = "regression", None
    else:
        raise ValueError(f"--data {str(path)!r}: y must be int class labels or float targets; got {y.dtype}")
    return Dataset(name=path.name, task=task, X=_read_only(X), labels=_read_only(labels),
                   n_classes=n_classes, description=f"loaded from {path}")
