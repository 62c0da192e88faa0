"""The CI recipe of examples/ci: its workflow is well formed and does what it says, its pytest file
passes, and a failing parity test in a user's suite shows the report, not a giant repr.

The workflow is checked by a reader of the YAML subset it is written in (block mappings, block
lists, plain or quoted scalars, comments), which refuses anything else: a parse error here means
the file left that subset, and a real YAML parser (pyyaml) would be worth adding then.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "examples" / "ci"
CPU_WHEELS = "--index-url https://download.pytorch.org/whl/cpu"


def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def read_yaml_subset(text: str):
    """Nested dicts and lists of the block-style YAML subset; ValueError on anything outside it."""
    lines = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if "\t" in raw:
            raise ValueError(f"line {n}: a tab (YAML indents with spaces)")
        stripped = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if stripped:
            lines.append((n, len(stripped) - len(stripped.lstrip()), stripped.strip()))

    def block(i: int, indent: int):
        if lines[i][2].startswith("- "):
            items = []
            while i < len(lines) and lines[i][1] == indent and lines[i][2].startswith("- "):
                n, _, body = lines[i]
                lines[i] = (n, indent + 2, body[2:])  # "- key: v" opens a mapping at indent + 2
                item, i = block(i, indent + 2)
                items.append(item)
            return items, i
        mapping = {}
        while i < len(lines) and lines[i][1] == indent:
            n, _, body = lines[i]
            key, sep, value = body.partition(":")
            if not sep or (value and not value.startswith(" ")):
                raise ValueError(f"line {n}: expected 'key: value', got {body!r}")
            if key in mapping:
                raise ValueError(f"line {n}: key {key!r} given twice")
            i += 1
            if value.strip():
                mapping[key] = _scalar(value)
            elif i < len(lines) and lines[i][1] > indent:
                mapping[key], i = block(i, lines[i][1])
            else:
                mapping[key] = None
        if i < len(lines) and lines[i][1] > indent:
            raise ValueError(f"line {lines[i][0]}: unexpected indentation")
        return mapping, i

    doc, i = block(0, 0)
    if i != len(lines):
        raise ValueError(f"line {lines[i][0]}: unexpected dedent")
    return doc


def test_the_reader_refuses_what_it_cannot_read():
    for bad in ("a:\n\tb: 1", "a: 1\na: 2", "a:\n  b: 1\n c: 2", "a b"):
        with pytest.raises(ValueError):
            read_yaml_subset(bad)
    assert read_yaml_subset("a:\n  - x: '1'\n    y: 2\n  - z:\n      w: 3 # c\n") == {
        "a": [{"x": "1", "y": "2"}, {"z": {"w": "3"}}]}


def test_the_workflow_installs_cpu_torch_then_refmlp_and_runs_the_recipe():
    doc = read_yaml_subset((RECIPE / "parity.yml").read_text())
    assert set(doc) == {"name", "on", "jobs"} and {"push", "pull_request"} <= set(doc["on"])
    (job,) = doc["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    steps = job["steps"]
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert uses == ["actions/checkout", "actions/setup-python"]
    runs = [s["run"] for s in steps if "run" in s]
    torch_step = next(i for i, r in enumerate(runs) if re.search(r"\btorch\b", r))
    refmlp_step = next(i for i, r in enumerate(runs) if "$REFMLP" in r)
    assert CPU_WHEELS in runs[torch_step] and CPU_WHEELS not in runs[refmlp_step]
    assert torch_step < refmlp_step  # refmlp's torch requirement is then met by the CPU build
    assert job["env"]["REFMLP"]
    last = steps[-1]
    target = ROOT / last["working-directory"] / last["run"].split()[-1]
    assert last["run"].startswith("python -m pytest") and target == RECIPE / "test_gradients.py"


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """pytest in a fresh process, as a user's CI runs it (refmlp's plugin loaded by its entry point)."""
    # without CI / BUILD_NUMBER: under them pytest prints each failure's whole message again in
    # its short summary, and the figures below count what a user's run shows once
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "BUILD_NUMBER")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=folder, capture_output=True, text=True, timeout=300, env=env)


def test_the_recipe_passes():
    done = run_pytest(RECIPE, "test_gradients.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


BROKEN = '''
import numpy as np
from mynet import Net

net = Net([5, 16, 16, 2])
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(256, 5)), rng.normal(size=(256, 2))

def broken(X, Y):
    grads = net.grads(X, Y)
    grads[1] = (grads[1][0], grads[1][1] * 1.001)  # db_2 off by 0.1%
    return grads

def test_fixture(gradient_parity):
    gradient_parity(net.params, broken, X, Y, activations="relu", loss="half_squared",
                    reduction="mean", layout="in_out")

def test_bare_assert():
    import refmlp
    report = refmlp.gradients_report(net.params, broken, X, Y, activations="relu",
                                     loss="half_squared", reduction="mean", layout="in_out")
    assert report.passed
'''


def test_a_failing_parity_test_shows_the_report_on_a_screen(tmp_path):
    (tmp_path / "mynet.py").write_text((RECIPE / "mynet.py").read_text())
    (tmp_path / "test_broken.py").write_text(BROKEN)
    done = run_pytest(tmp_path, "test_broken.py")
    out = done.stdout
    assert done.returncode == 1 and "2 failed" in out, out + done.stderr
    assert out.count("first divergence: layer 2, b_derivs") == 1  # the fixture's message
    assert "<Report fail: yours vs torch" in out and "first divergence: b_derivs_2>" in out
    assert len(out) < 8000, f"{len(out)} characters of pytest output"


def test_an_installed_refmlp_has_every_package_and_the_plugin():
    """A wheel holds the packages pyproject lists: every folder of refmlp with an __init__.py."""
    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(refmlp[\w.]*)"', re.search(r"^packages = \[(.*)\]$", text, re.M).group(1)))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "refmlp").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
    assert re.search(r'^\[project\.entry-points\.pytest11\]\nrefmlp = "refmlp\.pytest_plugin"$', text, re.M)
