"""The bug catalogue (refmlp.bugs) is the one list every part names bugs from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from refmlp import bugs
from refmlp.check import diagnosis
from refmlp.check.scenarios import SCENARIOS

SUBMISSIONS = Path(__file__).parent / "submissions"


def catalogue_entries():
    """Every entry of the self-test catalogues: submissions/catalogue.json and, where it exists,
    submissions/wip/catalogue.json."""
    out = []
    for path in (SUBMISSIONS / "catalogue.json", SUBMISSIONS / "wip" / "catalogue.json"):
        if path.is_file():
            doc = json.loads(path.read_text())
            entries = doc["entries"] if isinstance(doc, dict) else doc
            out += [(path.parent.name, e) for e in entries]
            if isinstance(doc, dict):  # the keys a catalogue introduces, with their meaning
                out += [(path.parent.name, {"diagnosis": key}) for key in doc.get("new_diagnoses", {})]
    return out


def test_every_catalogue_diagnosis_is_a_registry_key():
    keys = {e["diagnosis"] for _, e in catalogue_entries() if e.get("diagnosis")}
    assert keys, "no catalogue entry names a diagnosis"
    assert keys <= set(bugs.BUGS), sorted(keys - set(bugs.BUGS))


def test_every_key_the_diagnosis_can_return_is_catalogued():
    """The keys the checker's diagnosis module names in code are registry keys (a typo there
    would be a KeyError at the worst moment: in a student's report)."""
    import re
    import inspect

    source = inspect.getsource(diagnosis)
    named = set(re.findall(r'message\("(\w+)"', source))
    assert named and named <= set(bugs.BUGS), sorted(named - set(bugs.BUGS))


def test_message_fills_its_fields_and_slope_variants_report_one_key():
    d = bugs.message("zero_grad_partial", which="b_derivs_2")
    assert d["key"] == "zero_grad_partial" and "b_derivs_2 still moved" in d["message"]
    assert "{" not in bugs.message("unknown", which="x")["message"]
    assert bugs.message("slope=0.1", which="0.1")["key"] == "wrong_leaky_slope"
    with pytest.raises(KeyError, match="no catalogued bug 'nope'"):
        bugs.message("nope")


@pytest.mark.parametrize("key", [k for k, b in bugs.BUGS.items() if b.variant is not None])
def test_every_variant_changes_the_numbers_of_a_network_it_applies_to(key):
    """A variant that gives the reference's numbers on every built-in scenario could never be
    told apart: each one changes some gradient (or raises) on at least one scenario."""
    rng = np.random.default_rng(0)
    changed = False
    for sc in SCENARIOS.values():
        W = [None] + [0.5 * rng.standard_normal((m, n)) for n, m in zip(sc.sizes, sc.sizes[1:])]
        b = [None] + [0.5 * rng.standard_normal(m) for m in sc.sizes[1:]]
        x, y = rng.standard_normal(sc.d), rng.random(sc.layers[-1][0])
        layers = [name for _, name, _ in sc.layers]
        ref = bugs.variant_trace(bugs.REFERENCE, layers, sc.loss, W, b, x, y)
        got = bugs.variant_trace(bugs.BUGS[key].variant, layers, sc.loss, W, b, x, y)
        if got is None or any(not np.allclose(p, q) for p, q in zip(ref[2][1:] + ref[3][1:],
                                                                      got[2][1:] + got[3][1:])):
            changed = True
            break
    assert changed, key


def test_hints_fill_the_layer_in():
    assert "W_3 instead of W_3^T" in bugs.hints("g", 2)
    assert all("{" not in h for at in ("a", "h", "g", "g_L", "W_derivs", "b_derivs")
               for h in bugs.hints(at, 2))


def test_the_diagnosis_rate_script_counts_what_it_names():
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "diagnosis_rate.py"
    done = subprocess.run([sys.executable, script, str(SUBMISSIONS / "catalogue.json"),
                           "fprime_missing_lists"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "named  fprime_missing_lists" in done.stdout
    assert done.stdout.strip().endswith("named 1 of 1 entries with a key (0 to read)")
