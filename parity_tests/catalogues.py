"""The checker's self-test catalogues (``submissions/README.md``) and how each entry is checked.

Shared by ``test_check_wip.py`` and ``scripts/diagnosis_rate.py``, so that the figures the script
prints are those of the runs the test asserts.

Catalogues: ``buggy`` (the failing entries of ``submissions/catalogue.json``), ``wip`` (works in
progress and ``wip/correct/``) and ``unseen`` (bugs in no list). A failing entry runs once, on
the scenario it names or, when its bug shows in every scenario ("scenario": null), on one picked
by rotation along its catalogue, with a seed that rotates through 0, 1, 2 (``buggy`` rotates on
its index in the whole of catalogue.json, as ``test_check_catalogue.py`` does, so both tests judge
the same report); an entry naming ``scenarios`` runs on those together (its ``scenario`` is the
one whose numbers give the first divergence). A passing entry runs every scenario on seed 0.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

SUBMISSIONS = Path(__file__).parent / "submissions"
SEEDS = (0, 1, 2)
SCENARIOS = ("disc", "digits", "autoencoder", "regression", "square")  # the contract's names
QUANTITIES = ("a", "h", "b_derivs", "W_derivs", "accumulation", "zero_grad", "step", "sgd_run",
              "stale_forward", "exception", "timeout", "unfinished")
"""The first-divergence quantities of the contract, in data-flow order (a shipped helper adds
``layers.<function>`` / ``losses.<function>``); "unfinished" where only stubs' checks failed."""
NAMES = ("buggy", "wip", "unseen")


def divergence(fd: dict | None) -> dict | None:
    """The layer and quantity of a report's first divergence, what the catalogues record (the
    report's JSON carries more: the scenario, the check, the row and its small arrays)."""
    return None if fd is None else {"layer": fd.get("layer"), "quantity": fd.get("quantity")}


@dataclass(frozen=True)
class Run:
    entry: dict
    folder: str  # relative to SUBMISSIONS
    seed: int
    scenarios: tuple | None  # None: every scenario

    @property
    def id(self) -> str:
        return f"{self.folder}-seed{self.seed}-{'+'.join(self.scenarios) if self.scenarios else 'all'}"


def document(name: str):
    """The parsed catalogue file behind ``name``."""
    path = SUBMISSIONS / ("catalogue.json" if name == "buggy" else f"{name}/catalogue.json")
    return json.loads(path.read_text())


def runs(name: str) -> list[Run]:
    """The runs of catalogue ``name`` (module docstring)."""
    if name == "buggy":
        indexed = [(i, e, e["path"]) for i, e in enumerate(document(name)) if e["verdict"] == "fail"]
    elif name in ("wip", "unseen"):
        indexed = [(i, e, f"{name}/{e['path']}") for i, e in enumerate(document(name)["entries"])]
    else:
        raise ValueError(f"unknown catalogue {name!r}; expected one of {', '.join(NAMES)}")
    out = []
    for i, entry, folder in indexed:
        if entry["verdict"] == "pass":
            out.append(Run(entry, folder, SEEDS[0], None))
        elif entry.get("scenarios"):
            out.append(Run(entry, folder, SEEDS[i % len(SEEDS)], tuple(entry["scenarios"])))
        else:
            scenario = entry["scenario"] or SCENARIOS[i % len(SCENARIOS)]
            out.append(Run(entry, folder, SEEDS[i % len(SEEDS)], (scenario,)))
    return out


def check(run: Run) -> dict:
    """``check_submission``'s report (as a dict) for ``run``, computed once per process."""
    return _check(run).to_dict()


def report_text(run: Run) -> str:
    """The text report a student reads for ``run`` (the same check as :func:`check`)."""
    return _check(run).to_text()


def helpers_mode(entry: dict) -> str:
    """catalogue.json's "helpers": "count" marks an entry whose bug is in its own layers.py /
    losses.py (judged apart, and not counted, by default); the wip and unseen catalogues'
    "helpers": "released" says what the folder ships, and is checked the default way."""
    return "count" if entry.get("helpers") == "count" else "apart"


def _check(run: Run):
    return _checked(run.folder, run.seed, run.scenarios, run.entry.get("adapter"),
                    run.entry.get("timeout"), helpers_mode(run.entry))


@functools.lru_cache(maxsize=None)
def _checked(folder, seed, scenarios, adapter, timeout, helpers):
    from refmlp.check import check_submission

    kwargs = {"adapter": str(SUBMISSIONS / adapter)} if adapter else {}
    if timeout:
        kwargs["timeout"] = timeout
    return check_submission(str(SUBMISSIONS / folder), seed=seed, helpers=helpers,
                            scenarios=list(scenarios) if scenarios else None, **kwargs)


def diagnosis_key(report: dict):
    return (report["diagnosis"] or {}).get("key")
