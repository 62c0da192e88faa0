"""The checker's report: the verdict and what to fix first, then the evidence; text and JSON.

The text is written for a student reading it once: the verdict, what is not written yet, the
first divergence in plain words with the numbers that show it, the likely cause, then one or two
lines per scenario, each exception once however many checks raised it, the helper files apart.
``to_text(verbose=True)`` keeps every check's figures. Layers are numbered 1..L as in the notes
(layer 1 takes h_0 = x), and the report says so next to the student's 0-based lists.

JSON keys: ``verdict``, ``submission``, ``api``, ``checks``, ``first_divergence`` (``layer``,
``quantity``, and for a row that diverged ``scenario``, ``check``, ``row``, ``where``,
``expected``, ``actual``: nested lists, None above :data:`refmlp.check.judge.VALUES_CAP`
elements), ``diagnosis``, ``helpers`` (their own verdict: ``verdict``, ``counted``, ``files``,
``functions``), ``unfinished``; exit codes: 0 pass, 1 fail, 2 error (the submission cannot be
loaded or checked).
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass, field

import numpy as np

from ..compare import describe_mismatch, json_safe

EXIT = {"pass": 0, "fail": 1, "error": 2}
SMALL = 8
"""Arrays of at most this many elements are printed whole in the text report."""


@dataclass
class CheckReport:
    verdict: str
    submission: str
    api: str | None
    checks: list = field(default_factory=list)  # CheckResult
    first_divergence: dict | None = None  # {"layer", "quantity"}
    first_scenario: str | None = None
    diagnosis: dict | None = None
    helpers: list = field(default_factory=list)  # per function (refmlp.check.helpers.judge)
    message: str | None = None  # why the verdict is "error", or a note for every check
    traceback: str | None = None
    scenarios: dict = field(default_factory=dict)  # name -> description
    seed: int | None = None  # of the samples, weights and alphas: --seed repeats the run
    helper_summary: dict | None = None  # refmlp.check.helpers.summarize
    unfinished: list = field(default_factory=list)  # "backward (mlp.py:40): its body is `pass`"
    first_check: object = None  # the CheckResult holding the first divergence
    specs: dict = field(default_factory=dict, repr=False)  # scenario name -> Scenario
    inputs: dict = field(default_factory=dict, repr=False)  # the checks' inputs, by key
    isolation: str | None = None  # the sandbox's confinement (sandbox/confine.py), once it ran

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]

    def __repr__(self) -> str:
        fd = self.first_divergence
        where = "" if not fd else f", first divergence {_short(fd)}" + (
            f" ({self.first_scenario})" if self.first_scenario else "")
        key = f", diagnosis {self.diagnosis['key']}" if self.diagnosis else ""
        why = ""
        if self.verdict == "error" and self.message:  # why it could not be checked, in short
            first = " ".join(self.message.split())
            why = ": " + (first if len(first) <= 120 else first[:117] + "...")
        return f"<CheckReport {self.verdict} {self.submission!r}{where}{key}{why}>"

    def _repr_html_(self) -> str:
        """The student's report as HTML, for Jupyter: what to fix, the picture, the text."""
        from .pages import notebook_html

        return notebook_html(self)

    @property
    def first_row(self):
        """(label, Row, where) of the first divergence, or None."""
        return self.first_check.first_quoted if self.first_check is not None else None

    def first_divergence_dict(self) -> dict | None:
        if self.first_divergence is None:
            return None
        from .judge import VALUES_CAP

        d = dict(self.first_divergence)
        quoted = self.first_row
        if quoted is not None:
            label, row, where = quoted
            d.update(scenario=self.first_scenario, check=self.first_check.name, row=label,
                     where=where)
            for key, values in (("expected", row.expected_values), ("actual", row.actual_values)):
                ok = values is not None and np.size(values) <= VALUES_CAP
                d[key] = np.asarray(values, dtype=np.float64).tolist() if ok else None
        return d

    def to_dict(self) -> dict:
        helpers = self.helper_summary or {"verdict": None, "counted": False, "files": [],
                                          "functions": self.helpers}
        d = {
            "verdict": self.verdict,
            "submission": self.submission,
            "api": self.api,
            "checks": [c.to_dict() for c in self.checks],
            "first_divergence": self.first_divergence_dict(),
            "diagnosis": self.diagnosis,
            "helpers": helpers,
            "unfinished": self.unfinished,
        }
        if self.seed is not None:
            d["seed"] = self.seed
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

    def to_text(self, verbose: bool = False) -> str:
        return render_verbose(self) if verbose else render(self)


def _wrap(text: str, indent: str, width: int = 100) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent,
                         break_on_hyphens=False) or [indent.rstrip()]


def _short(fd: dict) -> str:
    return f"{fd['quantity']}_{fd['layer']}" if fd.get("layer") else fd["quantity"]


NON_LAYER_WORDS = {
    "accumulation": "accumulation: two backward calls without zero_grad must add up",
    "zero_grad": "zero_grad: after it, step must move nothing",
    "step": "step: step(alpha) must move every parameter by alpha x its gradient",
    "sgd_run": "the course's training loop (backward, step, zero_grad per sample)",
    "stale_forward": "backward(x, y) must use x, not the previous forward call's input",
    "exception": "your code raised an exception",
    "timeout": "your code did not finish in time",
    "unfinished": "methods not written yet",
}


def plain(fd: dict) -> str:
    """A divergence in words a student recognises, with the 0-based index of their own lists."""
    q, k = fd["quantity"], fd.get("layer")
    if k is None:
        if "." in q:
            return f"the helper function {q} (your {q.split('.')[0]}.py)"
        return NON_LAYER_WORDS.get(q, q)
    lists = f"your {{}}[{k - 1}] if your lists start at 0"
    if q == "a":
        return (f"the pre-activation a_{k} = W_{k} h_{k - 1} + b_{k} of layer {k} "
                f"({lists.format('a')})")
    if q == "h":
        return f"the output h_{k} = f_{k}(a_{k}) of layer {k} (what forward returns there)"
    if q == "W_derivs":
        return f"the weight gradient of layer {k}, W_derivs_{k} ({lists.format('W_derivs')})"
    if q == "b_derivs":
        return f"the bias gradient of layer {k}, b_derivs_{k} ({lists.format('b_derivs')})"
    if q == "g":
        return f"g_{k} = dLoss/da_{k} at layer {k}"
    return f"{q}_{k}"


def _fmt(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    return np.array2string(v.ravel() if v.ndim > 1 and v.size <= SMALL else v, precision=5,
                           separator=", ", threshold=SMALL, edgeitems=3, max_line_width=90)


def _evidence(scenario, check, quoted, network=None) -> list[str]:
    """The numbers of the first divergence: the call, the sample, expected vs actual."""
    if quoted is None:
        return _wrap(f"scenario {scenario}, check {check.name}", "  ")
    _, row, where = quoted
    lines = _wrap(f"scenario {scenario}, check {check.name}: {where}" + _sample_words(row), "  ")
    lines += _wrap(f"(the network: {network})", "  ") if network else []
    if row.problem:
        lines += _wrap(row.problem, "  ")
    elif row.expected_values is not None and np.size(row.expected_values) <= SMALL:
        lines.append(f"  expected {_fmt(row.expected_values)}")
        lines.append(f"  yours    {_fmt(row.actual_values)}")
    else:
        lines += _wrap(f"{row.n_mismatch} of {row.n_total} elements differ; the worst at index "
                       f"{tuple(row.max_abs_index)}: yours {row.actual_at_worst:.6g}, expected "
                       f"{row.expected_at_worst:.6g}", "  ")
    return lines


def _sample_words(row) -> str:
    ctx = getattr(row, "context", None)
    if not ctx or ctx.get("X") is None:
        return ""
    X = np.atleast_2d(np.asarray(ctx["X"], dtype=np.float64))
    if X.shape[0] == 1 and X.shape[1] <= SMALL:
        return f", x = {_fmt(X[0])}"
    count = f"{X.shape[1]} values" if X.shape[0] == 1 else f"{X.shape[0]} samples of {X.shape[1]}"
    return f" ({count}; --repro FILE writes them out)"


def _stop_key(c) -> tuple | None:
    """What makes two stopped checks 'the same failure': the exception's type and the line that
    raised (its message may differ in the shapes it names), or the whole message."""
    if c.traceback:
        last = c.traceback.strip().splitlines()[-1]
        frames = re.findall(r'File "[^"]*", line (\d+), in (\w+)', c.traceback)
        return ("tb", last.split(":")[0], frames[-1] if frames else None)
    if c.message:
        return ("msg", c.message)
    return None


def _groups(checks) -> list[tuple[tuple, list]]:
    groups: dict = {}
    for c in checks:
        key = _stop_key(c)
        if key is not None and c.verdict != "pass":
            groups.setdefault(key, []).append(c)
    return list(groups.items())


def _names(checks, every=None) -> str:
    """The checks by scenario; "every check of disc, digits" where a group holds all of them."""
    by: dict = {}
    for c in checks:
        by.setdefault(c.scenario, []).append(c.name)
    whole = [s for s, n in by.items() if every and len(n) == every.get(s)]
    alike: dict = {}  # scenarios where the same checks stopped are named together, the checks once
    for s, n in by.items():
        if s not in whole:
            alike.setdefault(tuple(n), []).append(s)
    parts = ([f"every check of {', '.join(whole)}"] if whole else []) + [
        f"{', '.join(ss)}: {', '.join(n)}" for n, ss in alike.items()]
    return "; ".join(parts)


def _raised(c) -> str | None:
    """The exception type a check stopped with (its traceback is shown once, below)."""
    key = _stop_key(c)
    return key[1] if key and key[0] == "tb" else None


def _summary(checks) -> str:
    """A scenario's checks in one phrase: ok ..., FAIL ... (the first divergence of each)."""
    ok = [x.name for x in checks if x.verdict == "pass"]
    if len(ok) == len(checks):
        return f"all {len(ok)} checks ok"
    bad = [x for x in checks if x.verdict == "fail"]
    err = [x.name for x in checks if x.verdict == "error"]
    parts = ["ok " + ", ".join(ok)] if ok else []
    if bad:  # checks that first diverge at the same row are named together
        by_row: dict = {}
        for x in bad:
            tag = ("unfinished" if x.unjudged else x.first_quoted[0] if x.first_quoted else
                   _raised(x) or "")
            by_row.setdefault(tag, []).append(x.name)
        parts.append("FAIL " + "; ".join(", ".join(names) + (f" ({tag})" if tag else "")
                                         for tag, names in by_row.items()))
    if err:
        parts.append("ERROR " + ", ".join(err))
    return "; ".join(parts)


def render(rep: CheckReport) -> str:
    """The one-screen report (module docstring)."""
    lines = [f"refmlp check {rep.submission}" + (f"  (API: {rep.api})" if rep.api else ""),
             f"verdict: {rep.verdict.upper()}"]
    if rep.message and not rep.checks:
        lines += _wrap(rep.message, "  ")
    if rep.unfinished:
        lines.append("not written yet:")
        lines += [t for u in rep.unfinished for t in _wrap(u, "  ")]
    fd = rep.first_divergence
    if fd and fd["quantity"] != "unfinished":
        words, _, lists = plain(fd).partition(" (your ")
        lines += _wrap(f"first divergence: {words}", "", 100)
        if lists:
            lines.append(f"  (your {lists}")
        quoted = rep.first_row
        if rep.first_check is not None:
            lines += _evidence(rep.first_scenario, rep.first_check, quoted,
                               rep.scenarios.get(rep.first_scenario))
    if rep.diagnosis:
        lines.append(f"what to fix ({rep.diagnosis['key']}):")
        text = rep.diagnosis["message"]
        if rep.diagnosis["key"] == "unknown" and rep.first_row is not None:
            # its figures are the evidence just above: said once (--verbose and the JSON keep them)
            text = text.split(":", 1)[0] + "; the numbers above show where yours first differ"
        lines += _wrap(text, "  ")
    judged_fail = [c for c in rep.checks if c.verdict == "fail"]
    if fd and fd["quantity"] != "unfinished" and len(judged_fail) > 1:
        lines.append("  (checks failing after it may fail only as its consequence)")
    if rep.message and rep.checks:
        lines += _wrap(rep.message, "  ")

    if rep.checks:
        lines.append("")
        lines.append("evidence (layers numbered from 1 as in the notes; layer 1 reads x = h_0):")
    summaries: dict = {}  # one line for the scenarios whose checks fared alike
    for scenario in dict.fromkeys(c.scenario for c in rep.checks):
        mine = [x for x in rep.checks if x.scenario == scenario]
        summaries.setdefault(_summary(mine), []).append(scenario)
    for text, scenarios in summaries.items():
        lines += _wrap(f"{', '.join(scenarios)}: {text}", "  ")
    printed = [c for c in rep.checks if c.output_bytes]
    if printed:
        lines.append(f"  your code printed output in {len(printed)} checks (up to "
                     f"{max(c.output_bytes for c in printed)} bytes; debug prints?)")
    every = {}
    for c in rep.checks:
        every[c.scenario] = every.get(c.scenario, 0) + 1
    groups = _groups([c for c in rep.checks if not c.unjudged])  # the unfinished: said above
    types = [key[1] for key, _ in groups if key[0] == "tb"]
    for key, group in groups:
        c = group[0]
        if key[0] == "tb":
            head = (f"the same {key[1]} in {len(group)} checks" if len(group) > 1
                    else f"{key[1]} in 1 check")
        else:
            head = None
        if head:  # where one type stopped them, the scenario lines above name its checks
            lines += _wrap(f"{head}:" if types.count(key[1]) == 1
                           else f"{head} ({_names(group, every)}):", "  ")
            lines += ["    " + t for t in c.traceback.rstrip().splitlines()[-12:]]
        else:
            lines += _wrap(f"{c.message}" + (f" ({len(group)} checks: {_names(group, every)})"
                                              if len(group) > 1 else f" ({_names(group)})"), "  ")
    lines += _render_helpers(rep)
    if rep.traceback and not rep.checks:
        lines.append("your code's traceback:")
        lines += ["  " + t for t in rep.traceback.rstrip().splitlines()[-25:]]
    if rep.checks:
        lines.append("")
        lines.append("tolerance: |yours - expected| <= rtol (|expected| + M), M the element's "
                     "rounding scale (README)")
        lines.append("--verbose: every check's figures; --repro FILE: a numpy script of the first "
                     "divergence")
    # how the run was made, last: what a student reads first is the verdict and what to fix
    if rep.seed is not None:
        lines.append(f"seed {rep.seed} (samples, weights, step sizes; --seed {rep.seed} repeats it)")
    if rep.isolation:
        lines += textwrap.wrap(f"isolation: {rep.isolation}", width=100, subsequent_indent="  ",
                               break_on_hyphens=False)
    return "\n".join(lines)


def _render_helpers(rep: CheckReport) -> list[str]:
    summary = rep.helper_summary
    if not summary or not summary["files"]:
        return []
    counted = summary["counted"]
    lines = ["", "helper files, judged apart by their values (" + (
        "counted: --helpers count" if counted else "not counted; --helpers count") + "):"]
    funcs = {(f["module"], f["function"]): f for f in summary["functions"]}
    for entry in summary["files"]:
        module = entry["file"][:-3]
        if entry["released"]:
            if not entry["known_defects"]:
                lines.append(f"  {entry['file']}: ok (behaves as the course's released file)")
                continue
            lines += _wrap(f"{entry['file']}: the course's released file; known defects: "
                           + "; ".join(entry["known_defects"]) + "; "
                           + ("counted" if counted else "not counted"), "  ")
            continue
        mark = {"pass": "ok", "fail": "FAIL", "error": "ERROR"}[entry["verdict"]]
        lines.append(f"  {entry['file']} (yours): {mark}" + ("" if entry["verdict"] == "pass" or
                                                             counted else ", not counted"))
        for fn in entry["failing"]:
            f = funcs.get((module, fn))
            text = (f["diagnosis"] or {}).get("message") or f["details"].get("summary", "")
            lines += _wrap(f"{fn}: {text}", "      ")
    return lines


def render_verbose(rep: CheckReport) -> str:
    """Every check with its figures (the report before the one-screen form), then the summary."""
    lines = [f"refmlp check {rep.submission}" + (f"  (API: {rep.api})" if rep.api else "")]
    if rep.message and not rep.checks:
        lines += _wrap(rep.message, "  ")
    current = object()
    said: dict = {}  # a scenario's notes and tracebacks, each written once: text -> check
    for c in rep.checks:
        if c.scenario != current:
            current, said = c.scenario, {}
            lines.append("")
            lines.append(f"scenario {c.scenario}: {rep.scenarios.get(c.scenario, '')}")
        mark = {"pass": "ok", "fail": "FAIL", "error": "ERROR"}[c.verdict]
        n = sum(1 for _, r, _ in c.rows if r.verdict == "pass")
        figures = f"{n}/{len(c.rows)} comparisons within tolerance" if c.rows else ""
        lines.append(f"  {c.name:<15}{mark:<7}{figures}")
        if c.verdict != "pass":
            quoted = c.first_quoted
            if quoted:
                lab, r, w = quoted
                lines.append(f"      first divergence in this check: {lab} in {w}")
                lines += _wrap(describe_mismatch(r), "        ")
            if c.traceback and c.traceback in said:
                lines.append(f"      the same exception as in {said[c.traceback]}")
            else:
                if c.message:
                    lines += _wrap(c.message, "      ")
                if c.traceback:
                    said[c.traceback] = c.name
                    lines += ["      " + t for t in c.traceback.rstrip().splitlines()[-12:]]
        for note in c.notes:
            if note not in said:
                said[note] = c.name
                lines += _wrap(f"note: {note}", "      ")
        if c.output_bytes:
            lines.append(f"      (the submission printed {c.output_bytes} bytes in this check)")
    lines.append("")
    lines.append("---- summary ----")
    lines.append(render(rep))
    return "\n".join(lines)
