"""The dataset registry: snapshot integrity, shapes and conventions, target forms, subsets."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from refmlp.data import (
    DatasetIntegrityError,
    list_datasets,
    load_dataset,
    snapshot_digest,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = REPO_ROOT / "datasets"

# name -> (task, n_samples, n_features, n_classes for classification or n_targets for regression)
EXPECTED = {
    "moons": ("binary", 200, 2, 2),
    "circles": ("binary", 200, 2, 2),
    "blobs": ("multiclass", 300, 2, 3),
    "classification": ("multiclass", 300, 10, 3),
    "regression": ("regression", 200, 5, 2),
    "iris": ("multiclass", 150, 4, 3),
    "wine": ("multiclass", 178, 13, 3),
    "breast_cancer": ("binary", 569, 30, 2),
    "digits": ("multiclass", 1797, 64, 10),
    "diabetes": ("regression", 442, 10, 1),
    "disc": ("binary", 1000, 2, 2),
}
NAMES = list(EXPECTED)
STANDARDISED = [name for name in NAMES if name != "disc"]

# Standardising and then measuring mean and std each round in float64; the worst case in these
# snapshots is 3.2e-14 (a digits pixel lit in one image of 1797 sits at 42 std). A population vs
# sample std mix-up would be off by at least 1/(2 * 1797) = 2.8e-4, so 1e-10 catches it with
# a margin of thousands either way.
STANDARD_TOL = 1e-10

needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None,
    reason="scikit-learn is not installed; it is only needed to regenerate the snapshots "
           "(pip install 'refmlp[datasets]')",
)


@pytest.fixture(autouse=True)
def committed_snapshots(monkeypatch):
    # The suite checks the repo's snapshots, whatever REFMLP_DATASETS the shell exports.
    monkeypatch.delenv("REFMLP_DATASETS", raising=False)


def tampered_copy(tmp_path: Path, name: str) -> Path:
    """A copy of the snapshot folder with one float of ``name``'s X moved by one ulp."""
    folder = tmp_path / "datasets"
    shutil.copytree(SNAPSHOTS, folder)
    tamper(folder, name, lambda value: np.nextafter(value, np.inf))
    return folder


def tamper(folder: Path, name: str, change) -> None:
    with np.load(folder / f"{name}.npz") as archive:
        X, y = archive["X"].copy(), archive["y"]
    X[0, 0] = change(X[0, 0])
    np.savez_compressed(folder / f"{name}.npz", X=X, y=y)


def make_datasets_main():
    path = REPO_ROOT / "scripts" / "make_datasets.py"
    spec = importlib.util.spec_from_file_location("make_datasets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


# --- integrity -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_snapshot_matches_manifest_checksum(name):
    manifest = json.loads((SNAPSHOTS / "MANIFEST.json").read_text(encoding="utf-8"))
    with np.load(SNAPSHOTS / f"{name}.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["X", "y"]
        digest = snapshot_digest(archive["X"], archive["y"])
    assert digest == manifest["datasets"][name]["sha256"]
    load_dataset(name)


def test_digest_follows_the_documented_scheme():
    X = np.array([[1.5], [-2.0]])
    y = np.array([0, 1], dtype=np.int64)
    by_hand = hashlib.sha256(b"<f8 2,1\n" + X.tobytes() + b"<i8 2\n" + y.tobytes()).hexdigest()
    assert snapshot_digest(X, y) == by_hand
    # Same bytes, other shape or dtype: the header must tell them apart.
    assert snapshot_digest(X.reshape(1, 2), y) != by_hand
    assert snapshot_digest(X, y.view(np.float64)) != by_hand
    # Strided input hashes like its contiguous copy, as the manifest promises.
    wide = np.hstack([X, X])
    assert snapshot_digest(wide[:, :1], y) == by_hand


def test_manifest_records_the_generating_versions():
    manifest = json.loads((SNAPSHOTS / "MANIFEST.json").read_text(encoding="utf-8"))
    assert set(manifest["generated_with"]) == {"numpy", "scikit-learn"}
    assert "sha256" in manifest["checksum"]


def test_tampered_snapshot_fails_checksum_even_after_a_cached_load(tmp_path, monkeypatch):
    load_dataset("moons")  # warm the cache with the good copy under the same name
    folder = tampered_copy(tmp_path, "moons")
    monkeypatch.setenv("REFMLP_DATASETS", str(folder))
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    expected = manifest["datasets"]["moons"]["sha256"]
    with np.load(folder / "moons.npz") as archive:
        actual = snapshot_digest(archive["X"], archive["y"])

    with pytest.raises(DatasetIntegrityError) as failure:
        load_dataset("moons")
    message = str(failure.value)
    assert str((folder / "moons.npz").resolve()) in message
    assert expected in message and actual in message
    assert "make_datasets.py" in message
    load_dataset("iris")  # the untouched snapshots of the copy still load


def test_missing_folder_says_where_it_looked(tmp_path, monkeypatch):
    absent = tmp_path / "no_such_folder"
    monkeypatch.setenv("REFMLP_DATASETS", str(absent))
    with pytest.raises(FileNotFoundError) as failure:
        load_dataset("moons")
    message = str(failure.value)
    assert str(absent) in message and "REFMLP_DATASETS" in message and "make_datasets.py" in message


def test_loading_needs_numpy_only():
    code = (
        "import sys, refmlp.data as d\n"
        "[d.load_dataset(info.name) for info in d.list_datasets()]\n"
        "print(','.join(m for m in ('sklearn', 'torch') if m in sys.modules))\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "REFMLP_DATASETS"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"loading datasets imported {done.stdout.strip()}"


# --- registry --------------------------------------------------------------------------------

def test_list_datasets_covers_all_eleven():
    infos = {info.name: info for info in list_datasets()}
    assert sorted(infos) == sorted(EXPECTED)
    for name, (task, n, d, size) in EXPECTED.items():
        info = infos[name]
        assert (info.task, info.n_samples, info.n_features) == (task, n, d)
        if task == "regression":
            assert (info.n_classes, info.n_targets) == (None, size)
        else:
            assert (info.n_classes, info.n_targets) == (size, None)
        assert info.description


def test_unknown_name_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*'moons'"):
        load_dataset("mnist")


# --- shapes and conventions ------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_task(name):
    task, n, d, size = EXPECTED[name]
    data = load_dataset(name)
    assert (data.name, data.task) == (name, task)
    assert data.X.dtype == np.float64 and data.X.shape == (n, d)
    assert np.isfinite(data.X).all()
    if task == "regression":
        assert data.labels.dtype == np.float64 and data.labels.shape == (n, size)
        assert data.n_classes is None
    else:
        assert data.labels.dtype == np.int64 and data.labels.shape == (n,)
        assert data.n_classes == size
        np.testing.assert_array_equal(np.unique(data.labels), np.arange(size))


@pytest.mark.parametrize("name", STANDARDISED)
def test_features_and_regression_targets_are_standardised(name):
    data = load_dataset(name)
    columns = [data.X] + ([data.labels] if data.task == "regression" else [])
    for values in columns:
        std = values.std(axis=0)  # population std, as generated
        constant = std == 0
        # Only digits has constant columns (3 pixels never lit); they are all 0, not 0/0.
        assert np.count_nonzero(constant) == (3 if name == "digits" else 0)
        assert not values[:, constant].any()
        np.testing.assert_allclose(values.mean(axis=0), 0.0, rtol=0, atol=STANDARD_TOL)
        np.testing.assert_allclose(std[~constant], 1.0, rtol=0, atol=STANDARD_TOL)


def test_disc_is_the_course_data_unstandardised():
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 2)
    inside = np.linalg.norm(X, axis=1) < 1
    X[~inside] *= 1.1
    data = load_dataset("disc")
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.labels, inside.astype(np.int64))
    # The scaling leaves a gap between the classes: nothing with a radius in [1, 1.1).
    radius = np.linalg.norm(data.X, axis=1)
    assert radius[data.labels == 1].max() < 1 and radius[data.labels == 0].min() >= 1.1
    assert "NOT standardised" in data.description


# --- target forms ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_target_forms(name):
    data = load_dataset(name)
    n = data.n_samples
    vector = data.targets("vector")
    assert vector.dtype == np.float64 and vector.shape == (n, data.n_outputs("vector"))
    if data.task == "regression":
        np.testing.assert_array_equal(vector, data.labels)
        return
    labels = data.targets("class")
    assert labels.dtype == np.int64 and labels.shape == (n,)
    assert data.n_outputs("class") == data.n_classes
    if data.task == "binary":
        assert data.n_outputs("vector") == 1 and data.n_outputs("class") == 2
        np.testing.assert_array_equal(vector[:, 0], labels.astype(np.float64))
    else:
        assert data.n_outputs("vector") == data.n_classes
        np.testing.assert_array_equal(vector.sum(axis=1), 1.0)
        np.testing.assert_array_equal(vector.argmax(axis=1), labels)
        assert set(np.unique(vector)) == {0.0, 1.0}


@pytest.mark.parametrize("name", ["regression", "diabetes"])
def test_regression_has_no_class_form(name):
    data = load_dataset(name)
    with pytest.raises(ValueError, match=rf"'{name}' is a regression dataset.*kind='vector'"):
        data.targets("class")
    with pytest.raises(ValueError, match="regression dataset"):
        data.n_outputs("class")


def test_unknown_target_kind_names_the_choices():
    data = load_dataset("iris")
    with pytest.raises(ValueError, match=r"unknown target kind 'onehot'.*'class', 'vector'"):
        data.targets("onehot")
    with pytest.raises(ValueError, match="unknown target kind 'onehot'"):
        data.n_outputs("onehot")


def test_arrays_cannot_be_written_into_the_cache():
    data = load_dataset("iris")
    for array in (data.X, data.labels, data.targets("vector"), data.subset(10).X):
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
        with pytest.raises(ValueError, match="WRITEABLE"):
            array.flags.writeable = True
    assert load_dataset("iris") is data


# --- subsets ---------------------------------------------------------------------------------

def test_subset_is_deterministic_and_without_replacement():
    data = load_dataset("digits")
    first, again = data.subset(100, seed=3), data.subset(100, seed=3)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.labels, again.labels)
    rows = np.random.default_rng(3).permutation(data.n_samples)[:100]
    assert len(np.unique(rows)) == 100
    np.testing.assert_array_equal(first.X, data.X[rows])
    np.testing.assert_array_equal(first.labels, data.labels[rows])
    assert (first.name, first.task, first.n_classes) == (data.name, data.task, data.n_classes)
    assert not np.array_equal(data.subset(100, seed=4).labels, first.labels)
    assert data.subset(None) is data
    assert data.subset(data.n_samples, seed=0).n_samples == data.n_samples


@pytest.mark.parametrize("n", [1798, 0])
def test_subset_size_out_of_range(n):
    with pytest.raises(ValueError, match=rf"cannot draw {n} samples from 'digits': it has 1797"):
        load_dataset("digits").subset(n)


def test_subset_size_must_be_an_int():
    with pytest.raises(TypeError, match="got 0.5"):
        load_dataset("iris").subset(0.5)


# --- the generator ---------------------------------------------------------------------------

@needs_sklearn
def test_make_datasets_check_passes_with_installed_sklearn(capsys):
    assert make_datasets_main()(["--check", "--out", str(SNAPSHOTS)]) == 0, capsys.readouterr().out


@needs_sklearn
def test_make_datasets_check_reports_tampered_snapshots(tmp_path, capsys):
    folder = tampered_copy(tmp_path, "wine")
    tamper(folder, "iris", lambda value: value + 1.0)
    assert make_datasets_main()(["--check", "--out", str(folder)]) == 1
    out = capsys.readouterr().out
    # One ulp is within the rounding a regeneration may show, so wine's arrays only earn a note;
    # the manifest's checksum is what flags the file.
    assert "note: wine: X moved by rounding only" in out
    assert "wine.npz does not hash to the manifest's sha256" in out
    assert "iris: X differs in 1 of 600 elements (max |diff| 1)" in out
    assert "moons" not in out
