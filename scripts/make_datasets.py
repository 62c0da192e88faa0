"""Regenerate refmlp's frozen dataset snapshots (the only place scikit-learn is used).

Writes one ``<name>.npz`` (arrays ``X``, ``y``) per dataset and ``MANIFEST.json`` into ``--out``.
``--check`` regenerates in memory instead and reports every snapshot that differs from the files.
The conventions (standardisation, label forms, checksum) are stated in ``refmlp/data.py``.

Exit codes: 0 success (or, with --check, nothing differs), 1 some snapshot differs,
2 bad arguments, 3 scikit-learn is not installed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
# Lets the script run from a checkout without installing refmlp, and makes it use the
# checkout's checksum scheme rather than that of some other installed copy.
sys.path.insert(0, str(REPO_ROOT))

from refmlp.data import MANIFEST, snapshot_digest  # noqa: E402

SEED = 0
# Regenerating on another CPU or BLAS may move a float in its last bits (make_classification
# multiplies matrices); standardised values are O(1), so 1e-12 is far above such rounding and far
# below any real change of the data. Labels must match exactly.
ROUNDING = 1e-12


def standardise(values: np.ndarray) -> np.ndarray:
    """Per column (x - mean) / std with the population std; constant columns become 0."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    # A constant column has nothing to scale; dividing by 1 leaves it at 0 instead of 0/0.
    return (values - mean) / np.where(std == 0, 1.0, std)


def make_disc() -> tuple[np.ndarray, np.ndarray]:
    """The course's disc data, exactly as its notebook builds it (legacy RandomState stream)."""
    rng = np.random.RandomState(SEED)
    X = rng.randn(1000, 2)
    y = (np.linalg.norm(X, axis=1) < 1).astype(np.int64)
    X[y == 0] *= 1.1  # pushes the outside points away from the boundary
    return X, y


def build_all() -> dict[str, tuple[np.ndarray, np.ndarray, dict]]:
    """name -> (X, y, manifest entry) for every dataset, generated afresh."""
    from sklearn import datasets as skd

    # name -> (task, (X, y), description of the source and its parameters)
    raw = {
        "moons": ("binary", skd.make_moons(n_samples=200, noise=0.2, random_state=SEED),
                  "sklearn make_moons(n_samples=200, noise=0.2, random_state=0)"),
        "circles": ("binary",
                    skd.make_circles(n_samples=200, noise=0.1, factor=0.5, random_state=SEED),
                    "sklearn make_circles(n_samples=200, noise=0.1, factor=0.5, random_state=0)"),
        "blobs": ("multiclass",
                  skd.make_blobs(n_samples=300, centers=3, n_features=2, random_state=SEED),
                  "sklearn make_blobs(n_samples=300, centers=3, n_features=2, random_state=0)"),
        "classification": (
            "multiclass",
            skd.make_classification(n_samples=300, n_features=10, n_informative=5, n_classes=3,
                                    random_state=SEED),
            "sklearn make_classification(n_samples=300, n_features=10, n_informative=5, "
            "n_classes=3, random_state=0)"),
        "regression": (
            "regression",
            skd.make_regression(n_samples=200, n_features=5, n_targets=2, noise=5,
                                random_state=SEED),
            "sklearn make_regression(n_samples=200, n_features=5, n_targets=2, noise=5, "
            "random_state=0)"),
        "iris": ("multiclass", skd.load_iris(return_X_y=True), "sklearn load_iris (Fisher's iris)"),
        "wine": ("multiclass", skd.load_wine(return_X_y=True), "sklearn load_wine (UCI wine)"),
        "breast_cancer": ("binary", skd.load_breast_cancer(return_X_y=True),
                          "sklearn load_breast_cancer (UCI Wisconsin diagnostic)"),
        "digits": ("multiclass", skd.load_digits(return_X_y=True),
                   "sklearn load_digits (8x8 handwritten digits; 3 constant pixels stay 0)"),
        "diabetes": ("regression", skd.load_diabetes(return_X_y=True),
                     "sklearn load_diabetes (disease progression, 1 target)"),
    }
    built = {}
    for name, (task, (X, y), description) in raw.items():
        X = standardise(np.asarray(X, dtype=np.float64))
        if task == "regression":
            y = standardise(np.asarray(y, dtype=np.float64).reshape(len(y), -1))  # (n, t)
        else:
            y = np.asarray(y).astype(np.int64)
        standardised = "features and targets" if task == "regression" else "features"
        built[name] = (X, y, task, f"{description}; {standardised} standardised")
    X, y = make_disc()
    built["disc"] = (X, y, "binary",
                     "course disc: RandomState(0).randn(1000, 2), label 1 where ||x|| < 1, points "
                     "outside scaled by 1.1; NOT standardised, kept as the course makes it")
    return {name: (X, y, _entry(X, y, task, description))
            for name, (X, y, task, description) in built.items()}


def _entry(X: np.ndarray, y: np.ndarray, task: str, description: str) -> dict:
    classes = None
    if task != "regression":
        classes = int(y.max()) + 1
        if not np.array_equal(np.unique(y), np.arange(classes)):
            raise RuntimeError(f"labels must be 0..C-1, each present; got {np.unique(y)}")
        if (classes == 2) != (task == "binary"):
            raise RuntimeError(f"task {task!r} does not fit {classes} classes")
    return {
        "task": task,
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "n_classes": classes,
        "n_targets": y.shape[1] if task == "regression" else None,
        "description": description,
        "sha256": snapshot_digest(X, y),
    }


def manifest(built: dict) -> dict:
    import sklearn

    return {
        "checksum": "sha256 over X then y; per array the ASCII header '<dtype.str> <shape as "
                    "comma-separated ints>\\n' then its C-contiguous bytes "
                    "(refmlp.data.snapshot_digest)",
        "generated_with": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
        "datasets": {name: entry for name, (_, _, entry) in built.items()},
    }


def write(out: Path, built: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, (X, y, _) in built.items():
        np.savez_compressed(out / f"{name}.npz", X=X, y=y)
    text = json.dumps(manifest(built), indent=2) + "\n"
    (out / MANIFEST).write_text(text, encoding="utf-8")


def check(out: Path, built: dict) -> list[str]:
    """One line per difference; float changes at rounding level are printed as notes only."""
    manifest_path = out / MANIFEST
    if not manifest_path.is_file():
        return [f"{manifest_path}: missing"]
    recorded = json.loads(manifest_path.read_text(encoding="utf-8"))
    fresh = manifest(built)
    problems = []
    for tool, version in fresh["generated_with"].items():
        was = recorded.get("generated_with", {}).get(tool)
        if was != version:
            print(f"note: snapshots were made with {tool} {was}, this is {version}")
    for name in sorted(set(recorded["datasets"]) - set(built)):
        problems.append(f"{name}: in {MANIFEST} but no longer generated")
    for name, (X, y, entry) in built.items():
        found = _differences(out, name, X, y, entry, recorded["datasets"].get(name))
        problems += [f"{name}: {problem}" for problem in found]
    return problems


def _differences(out: Path, name: str, X: np.ndarray, y: np.ndarray, entry: dict,
                 recorded: dict | None) -> list[str]:
    path = out / f"{name}.npz"
    if recorded is None or not path.is_file():
        return [f"missing from {MANIFEST}" if recorded is None else f"{path} missing"]
    problems = [f"manifest {key} is {recorded.get(key)!r}, regenerated {value!r}"
                for key, value in entry.items() if key != "sha256" and recorded.get(key) != value]
    with np.load(path, allow_pickle=False) as archive:
        stored = {key: archive[key] for key in archive.files}
    if set(stored) != {"X", "y"}:
        return problems + [f"{path} holds arrays {sorted(stored)}, expected ['X', 'y']"]
    if snapshot_digest(stored["X"], stored["y"]) != recorded["sha256"]:
        problems.append(f"{path} does not hash to the manifest's sha256 {recorded['sha256']}")
    for key, new in (("X", X), ("y", y)):
        old = stored[key]
        if old.dtype != new.dtype or old.shape != new.shape:
            problems.append(
                f"{key} is {old.dtype} {old.shape}, regenerated {new.dtype} {new.shape}")
        elif not np.array_equal(old, new):
            worst = float(np.max(np.abs(old.astype(np.float64) - new)))
            if new.dtype.kind == "f" and worst <= ROUNDING:
                print(f"note: {name}: {key} moved by rounding only (max |diff| {worst:.3g})")
            else:
                count = int(np.count_nonzero(old != new))
                problems.append(
                    f"{key} differs in {count} of {new.size} elements (max |diff| {worst:.3g})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Regenerate the frozen dataset snapshots with scikit-learn (seed 0).",
        epilog="Exit codes: 0 ok, 1 snapshots differ (--check), 2 bad arguments, "
               "3 scikit-learn missing.")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "datasets", metavar="DIR",
                        help="snapshot folder (default: the repo's datasets/)")
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory, compare with the files in DIR, write "
                             f"nothing; float changes up to {ROUNDING:g} are reported as "
                             "rounding, not as differences")
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("make_datasets: scikit-learn is required: pip install 'refmlp[datasets]'",
              file=sys.stderr)
        return 3
    built = build_all()
    if not args.check:
        write(args.out, built)
        print(f"wrote {len(built)} datasets and {MANIFEST} to {args.out}")
        return 0
    problems = check(args.out, built)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} difference(s); rerun without --check to rewrite {args.out}",
              file=sys.stderr)
        return 1
    print(f"all {len(built)} snapshots in {args.out} match a fresh generation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
