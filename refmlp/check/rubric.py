"""Points: a rubric (TOML) turns a check report into a score, charging a bug once.

The rubric gives points per check kind, a weight per scenario, the share of its points a
*consequence* loses, and an optional total to scale to (refmlp/check/rubric.toml is the default
and documents every key). Within a scenario the checks depend on each other in data-flow order
(DEPENDS): every check after ``forward`` reads quantities through the forward pass, and every one
after ``gradients`` reads them through backward + step. A failing check whose prerequisite (or
one of its prerequisites, transitively) also fails in the same scenario cannot show anything of
its own: it is charged ``consequence_weight`` of its points; the first failure is charged in full,
and so is every check that stopped on an exception or a timeout (it showed nothing at all).
Scenarios are independent networks, each scored on its own.

``score(report_dict, rubric, scenarios)`` works on the report's JSON (``CheckReport.to_dict()``),
so a stored report.json is scored again without checking anything.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_RUBRIC = Path(__file__).with_name("rubric.toml")

DEPENDS = {
    "forward": (),
    "gradients": ("forward",),
    "accumulation": ("gradients",),
    "zero_grad": ("gradients",),
    "step": ("gradients",),
    "stale_forward": ("gradients",),
    "sgd_run": ("gradients", "zero_grad", "step"),
}
"""Check kind -> the kinds whose failure makes it fail too (it reads their quantities)."""

KEYS = {"total", "consequence_weight", "points", "scenarios", "helpers"}


class RubricError(ValueError):
    """A rubric file that cannot be used: said with the file, the key and the value."""


@dataclass(frozen=True)
class Rubric:
    points: dict  # check kind -> points in each scenario
    scenarios: dict = field(default_factory=dict)  # scenario -> weight (1 when absent)
    consequence_weight: float = 0.5
    total: float = 100.0  # 0: the raw sum
    helper_points: float = 0.0
    source: str = "default"

    def weight(self, scenario) -> float:
        return float(self.scenarios.get(scenario, 1.0))


def prerequisites(kind: str) -> set:
    """Every kind ``kind`` depends on, transitively."""
    found, todo = set(), list(DEPENDS.get(kind, ()))
    while todo:
        k = todo.pop()
        if k not in found:
            found.add(k)
            todo += DEPENDS.get(k, ())
    return found


def _number(value, where: str, path: str, *, top: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or (
            top is not None and value > top):
        bound = f"between 0 and {top:g}" if top is not None else "a number >= 0"
        raise RubricError(f"rubric {path}: {where} must be {bound}; got {value!r}")
    return float(value)


def parse(doc: dict, path: str = "<rubric>") -> Rubric:
    """A Rubric from a TOML document's dict, every key and value checked."""
    unknown = set(doc) - KEYS
    if unknown:
        raise RubricError(f"rubric {path}: unknown key(s) {', '.join(sorted(unknown))}; expected "
                          f"{', '.join(sorted(KEYS))}")
    default = load_default() if path != str(DEFAULT_RUBRIC) else None
    points = dict(default.points) if default else {}
    given = doc.get("points", {})
    if not isinstance(given, dict):
        raise RubricError(f"rubric {path}: [points] must be a table of check kinds; got {given!r}")
    for kind, value in given.items():
        if kind not in DEPENDS:
            raise RubricError(f"rubric {path}: [points] {kind!r} is not a check kind; expected "
                              f"one of {', '.join(DEPENDS)}")
        points[kind] = _number(value, f"[points] {kind}", path)
    scenarios = doc.get("scenarios", {})
    if not isinstance(scenarios, dict):
        raise RubricError(f"rubric {path}: [scenarios] must be a table of weights; got {scenarios!r}")
    weights = {name: _number(w, f"[scenarios] {name}", path) for name, w in scenarios.items()}
    helpers = doc.get("helpers", {})
    if not isinstance(helpers, dict) or set(helpers) - {"points"}:
        raise RubricError(f"rubric {path}: [helpers] takes one key, points; got {helpers!r}")
    base = default or Rubric(points={})
    return Rubric(
        points=points, scenarios={**(default.scenarios if default else {}), **weights},
        consequence_weight=_number(doc.get("consequence_weight", base.consequence_weight),
                                   "consequence_weight", path, top=1),
        total=_number(doc.get("total", base.total), "total", path),
        helper_points=_number(helpers.get("points", base.helper_points), "[helpers] points", path),
        source=path)


def load(path=None) -> Rubric:
    """The rubric of a TOML file (the default one without a path); RubricError otherwise."""
    path = Path(path) if path is not None else DEFAULT_RUBRIC
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise RubricError(f"cannot read rubric {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"rubric {str(path)!r} is not valid TOML: {exc}") from None
    return parse(doc, str(path))


def load_default() -> Rubric:
    return load(None)


@dataclass
class Score:
    score: float
    max_score: float
    items: list  # {"scenario", "check", "points", "max", "charged"} per scored check

    def to_dict(self) -> dict:
        return {"score": self.score, "max_score": self.max_score, "items": self.items}


def ran(check: dict) -> bool:
    """Whether a check ran to its end and compared its numbers: one that stopped on an exception
    or a timeout (or could not be judged) showed nothing, and is never a mere consequence."""
    first = (check.get("details") or {}).get("first_divergence") or {}
    return check.get("verdict") != "error" and first.get("quantity") not in ("exception", "timeout")


def score(report: dict, rubric: Rubric, scenarios=()) -> Score:
    """The points a report earns. ``scenarios`` (names) give the maximum when the report has no
    checks (a submission that could not be found or loaded scores 0 of it)."""
    items, earned, possible = [], 0.0, 0.0
    checks = [c for c in report.get("checks", []) if c.get("scenario") is not None]
    failing = {(c["scenario"], c["name"]) for c in checks if c["verdict"] != "pass"}
    for c in checks:
        scen, kind = c["scenario"], c["name"]
        top = rubric.points.get(kind, 0.0) * rubric.weight(scen)
        if not top:
            continue
        causes = [k for k in DEPENDS if k in prerequisites(kind) and (scen, k) in failing]
        if c["verdict"] == "pass":
            got, charged = top, "pass"
        elif causes and ran(c):
            got = top * (1 - rubric.consequence_weight)
            charged = f"consequence of {causes[0]}"
        else:
            got, charged = 0.0, c["verdict"]
        items.append({"scenario": scen, "check": kind, "points": round(got, 4),
                      "max": top, "charged": charged})
        earned, possible = earned + got, possible + top
    for h in report.get("helpers", []) if rubric.helper_points else ():
        got = rubric.helper_points if h.get("verdict") == "pass" else 0.0
        items.append({"scenario": None, "check": f"{h.get('module')}.{h.get('function')}",
                      "points": got, "max": rubric.helper_points, "charged": h.get("verdict")})
        earned, possible = earned + got, possible + rubric.helper_points
    if not checks:
        possible = sum(p * rubric.weight(s) for s in scenarios for p in rubric.points.values())
    if rubric.total:
        scaled = rubric.total * earned / possible if possible else 0.0
        return Score(round(scaled, 2), rubric.total, items)
    return Score(round(earned, 2), round(possible, 2), items)
