"""The checker on homework as students hand it in: works in progress with several bugs, and correct
submissions that ship the course's released helper files.

Catalogues (``submissions/README.md``): ``wip/`` (works in progress and ``wip/correct/``),
``unseen/`` (one bug each that no list names). Every entry gets its expected verdict and first
divergence; the diagnosis is measured as a rate over the buggy entries of ``catalogue.json`` and
``wip/``: it must name the first bug of at least 90% of them, and the failure message lists the
misses. ``unseen/`` has no expected key (its bugs are in no list); ``scripts/diagnosis_rate.py``
reports how many of them the diagnosis explains.

Which scenario and seed each entry runs on is said in ``catalogues.py``: about a second per
checked scenario (a sandboxed subprocess each); a buggy entry runs once, a correct one on every
scenario.
"""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pytest
from catalogues import (QUANTITIES, SCENARIOS, SUBMISSIONS, check, diagnosis_key, divergence,
                        document, runs)

RELEASED = SUBMISSIONS / "released"
NAMED_TARGET = 0.9  # the share of buggy entries whose first bug the diagnosis must name
WIP, UNSEEN = document("wip"), document("unseen")


def _failing_checks(report: dict) -> str:
    lines = []
    for c in report.get("checks", []):  # only for the failure message: read defensively
        if c.get("verdict") != "pass":
            lines.append(f"  {c.get('scenario')}/{c.get('name')}: {c.get('verdict')} "
                         f"{json.dumps(c.get('details'), default=str)[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize("run", runs("wip") + runs("unseen"), ids=lambda r: r.id)
def test_verdict_and_first_divergence(run):
    entry, report = run.entry, check(run)
    got = {"verdict": report["verdict"], "first_divergence": divergence(report["first_divergence"])}
    expected = {"verdict": entry["verdict"], "first_divergence": entry["first_divergence"]}
    assert got == expected, (
        f"{run.id}: expected {expected}, got {got}\nwhy expected: {entry['why']}\n"
        f"diagnosis: {report['diagnosis']}\nchecks not passing:\n{_failing_checks(report)}\n"
        f"message: {report.get('message')}")
    if entry["verdict"] == "fail":  # prose a student can act on, never empty
        assert (report["diagnosis"] or {}).get("message", "").strip(), run.id


def test_diagnosis_names_the_first_bug_of_most_buggy_entries():
    """The diagnosis key equals the first bug's, over the buggy entries of catalogue.json and wip/."""
    measured = runs("buggy") + [r for r in runs("wip") if r.entry["verdict"] == "fail"]
    misses = [f"  {r.id}: expected {r.entry['diagnosis']}, got {diagnosis_key(check(r))}"
              for r in measured if diagnosis_key(check(r)) != r.entry["diagnosis"]]
    rate = 1 - len(misses) / len(measured)
    assert rate >= NAMED_TARGET, (
        f"the diagnosis named the first bug of {len(measured) - len(misses)} / {len(measured)} "
        f"buggy entries ({rate:.0%}, target {NAMED_TARGET:.0%}); misses:\n" + "\n".join(misses))


def _folders(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()
                  if p.is_dir() and ((p / "mlp.py").is_file() or (p / "neuralnet.py").is_file()))


def test_wip_catalogue_covers_what_real_work_looks_like():
    """At least 15 works in progress with 2 to 5 bugs each and 8 correct submissions of both APIs,
    every folder catalogued once, every key known or declared, every quantity in the contract's
    vocabulary, and the released helpers shipped unmodified beside every class."""
    entries = WIP["entries"]
    buggy = [e for e in entries if e["verdict"] == "fail"]
    correct = [e for e in entries if e["verdict"] == "pass"]
    assert len(buggy) >= 15 and len(correct) >= 8, (len(buggy), len(correct))
    assert {e["verdict"] for e in entries} == {"pass", "fail"}  # never "error"

    wip = SUBMISSIONS / "wip"
    assert sorted(e["path"] for e in buggy) == _folders(wip)
    assert sorted(e["path"] for e in correct) == [f"correct/{n}" for n in _folders(wip / "correct")]
    assert {(wip / e["path"] / "neuralnet.py").is_file() for e in correct} == {True, False}

    from refmlp.bugs import BUGS

    known = set(BUGS) | set(WIP["new_diagnoses"])
    for e in buggy:
        assert 2 <= len(e["bugs"]) <= 5, e["name"]
        assert e["diagnosis"] == e["bugs"][0]["key"], e["name"]
        assert {b["key"] for b in e["bugs"]} <= known, e["name"]
        fd = e["first_divergence"]
        assert fd["quantity"] in QUANTITIES, e["name"]
        assert fd["layer"] is None or e["scenario"] in SCENARIOS, e["name"]
        assert set(e.get("scenarios", [])) <= set(SCENARIOS), e["name"]
        assert not e.get("scenarios") or e["scenario"] in e["scenarios"], e["name"]
    for e in correct:
        assert e["first_divergence"] is None and e["diagnosis"] is None and not e["bugs"], e["name"]
    for e in entries:
        _assert_ships_released_helpers(wip / e["path"])


def test_unseen_catalogue_holds_ten_bugs_said_in_words_not_keys():
    """Ten buggy entries or more, every folder catalogued once, each bug said in plain words with no
    diagnosis key (no list names it), and the notes' quantity it equals where one exists."""
    entries = UNSEEN["entries"]
    unseen = SUBMISSIONS / "unseen"
    assert len(entries) >= 10 and sorted(e["path"] for e in entries) == _folders(unseen)
    for e in entries:
        assert e["verdict"] == "fail" and e["bug"].strip() and "diagnosis" not in e, e["name"]
        assert e["derivation"] is None or {"quantity", "equals"} <= set(e["derivation"]), e["name"]
        assert e["first_divergence"]["quantity"] in QUANTITIES, e["name"]
        assert e["first_divergence"]["layer"] is None or e["scenario"] in SCENARIOS, e["name"]
        _assert_ships_released_helpers(unseen / e["path"])


def _assert_ships_released_helpers(folder: Path):
    for name in ("layers.py", "losses.py"):
        assert filecmp.cmp(folder / name, RELEASED / name, shallow=False), (
            f"{folder / name} differs from {RELEASED / name}: a fixture ships the released file "
            "unmodified")
