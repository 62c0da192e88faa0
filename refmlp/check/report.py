"""The checker's report: a verdict per check, the first divergence, the diagnosis; text and JSON.

JSON keys are fixed by the contract (/work/coord/CHECK_CONTRACT.md, README "Checking a
homework"); exit codes: 0 pass, 1 fail, 2 error (the submission cannot be loaded or checked).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field

from ..compare import describe_mismatch, json_safe

EXIT = {"pass": 0, "fail": 1, "error": 2}


@dataclass
class CheckReport:
    verdict: str
    submission: str
    api: str | None
    checks: list = field(default_factory=list)  # CheckResult
    first_divergence: dict | None = None
    first_scenario: str | None = None
    diagnosis: dict | None = None
    helpers: list = field(default_factory=list)  # dicts
    message: str | None = None  # why the verdict is "error"
    traceback: str | None = None
    scenarios: dict = field(default_factory=dict)  # name -> description
    isolation: str | None = None  # the sandbox's confinement (sandbox/confine.py), once it ran

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]

    def to_dict(self) -> dict:
        d = {
            "verdict": self.verdict,
            "submission": self.submission,
            "api": self.api,
            "checks": [c.to_dict() for c in self.checks],
            "first_divergence": self.first_divergence,
            "diagnosis": self.diagnosis,
            "helpers": self.helpers,
        }
        if self.isolation:
            d["isolation"] = self.isolation
        if self.first_scenario:
            d["first_divergence_scenario"] = self.first_scenario
        if self.message:
            d["message"] = self.message
        if self.traceback:
            d["traceback"] = self.traceback
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=indent, allow_nan=False)

    def to_text(self) -> str:
        return render(self)


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, width=100, initial_indent=indent, subsequent_indent=indent)


def render(rep: CheckReport) -> str:
    lines = [f"refmlp check {rep.submission}" + (f"  (API: {rep.api})" if rep.api else "")]
    if rep.message and not rep.checks:
        lines += _wrap(rep.message, "  ")
    current = object()
    for c in rep.checks:
        if c.scenario != current:
            current = c.scenario
            lines.append("")
            lines.append(f"scenario {c.scenario}: {rep.scenarios.get(c.scenario, '')}")
        mark = {"pass": "ok", "fail": "FAIL", "error": "ERROR"}[c.verdict]
        n = sum(1 for _, r, _ in c.rows if r.verdict == "pass")
        figures = f"{n}/{len(c.rows)} comparisons within tolerance" if c.rows else ""
        lines.append(f"  {c.name:<15}{mark:<7}{figures}")
        if c.verdict != "pass":
            failing = [(lab, r, w) for lab, r, w in c.rows if r.verdict == "fail"]
            if failing:
                lab, r, w = failing[0]
                lines.append(f"      first mismatch: {lab} in {w}")
                lines += _wrap(describe_mismatch(r), "        ")
            if c.message:
                lines += _wrap(c.message, "      ")
        if c.output_bytes:
            lines.append(f"      (the submission printed {c.output_bytes} bytes in this check)")
    if rep.helpers:
        lines.append("")
        lines.append("your own helper files (checked apart from the MLP class):")
        for h in rep.helpers:
            mark = {"pass": "ok", "fail": "FAIL", "error": "ERROR"}[h["verdict"]]
            lines.append(f"  {h['module']}.{h['function']:<32}{mark}")
            if h["verdict"] != "pass":
                lines += _wrap(h["details"].get("summary", ""), "      ")
    lines.append("")
    lines.append(f"verdict: {rep.verdict.upper()}")
    if rep.isolation:
        lines.append(f"isolation: {rep.isolation}")
    if rep.first_divergence:
        fd = rep.first_divergence
        where = f"layer {fd['layer']}, {fd['quantity']}" if fd["layer"] else fd["quantity"]
        scen = f" (scenario {rep.first_scenario})" if rep.first_scenario else ""
        lines.append(f"first divergence: {where}{scen}")
        if sum(c.verdict == "fail" for c in rep.checks) > 1:
            lines.append("  (checks failing after it may fail only as its consequence)")
    if rep.diagnosis:
        lines.append(f"likely cause ({rep.diagnosis['key']}):")
        lines += _wrap(rep.diagnosis["message"], "  ")
    if rep.message and rep.checks:
        lines += _wrap(rep.message, "  ")
    tb = rep.traceback or next((c.traceback for c in rep.checks if c.traceback), None)
    if tb and rep.verdict != "pass":
        lines.append("your code's traceback:")
        lines += ["  " + t for t in tb.rstrip().splitlines()[-25:]]
    return "\n".join(lines)
