"""check_submission: find the submission's module and class, run every check, assemble the report.

The judging process never imports the student's code: it reads the file's text to see which
class it defines, and everything else happens in the sandbox (refmlp.check.runner).
"""

from __future__ import annotations

import re
from pathlib import Path

from . import plan, runner, unfinished, weights
from .report import CheckReport
from .scenarios import Scenario, select

SUBMISSION_FILES = {"mlp.py": "MLP", "neuralnet.py": "NeuralNet"}  # file -> its class, in order


def locate(path, adapter=None):
    """(folder, module name, file name, API, class name) or a string saying what is wrong."""
    p = Path(path)
    if p.is_dir():
        for name in SUBMISSION_FILES:
            if (p / name).is_file():
                p = p / name
                break
        else:
            from .find import locate_submission  # the class's search, at any depth and name

            found = locate_submission(p).file
            where = ""
            if found is not None and found.suffix == ".py":
                where = f"; {found.relative_to(p)} inside it looks like the submission: give that path"
            elif found is not None:
                where = (f"; the notebook {found.relative_to(p)} inside it is checked by a class run: "
                         f"refmlp check --each on the folder above {p.name}")
            return (f"{path} holds neither mlp.py (class MLP) nor neuralnet.py (class NeuralNet); "
                    f"give the folder of a submission or the path to its .py file{where}")
    elif not p.is_file():
        return f"{path} does not exist"
    if p.suffix != ".py":
        return f"{path} is not a Python file (.py)"
    if adapter is not None:
        return p.parent, p.stem, p.name, "adapter", "MLP"
    try:
        text = runner.source_text(p)  # never a link, never more than the cap
    except runner.Refused as exc:
        return str(exc)
    for cls in ("MLP", "NeuralNet"):
        if re.search(rf"^\s*class\s+{cls}\b", text, re.M):
            return p.parent, p.stem, p.name, cls, cls
    return (f"{p} defines no class MLP (the released API) or NeuralNet (the older one); rename "
            "your class, or write an adapter (--adapter FILE, see README)")


def check_submission(path, *, scenarios=None, seed=0, timeout=None, adapter=None,
                     memory=None, helpers="apart", deadline=None, parallel=2) -> CheckReport:
    """Check a submission folder (or its mlp.py) on the scenarios (names or Scenario objects;
    all built-in ones by default). ``helpers="count"`` makes a failing shipped layers.py /
    losses.py fail the submission (by default they are judged apart: refmlp.check.helpers). See
    the package docstring for the report. ``deadline`` (time.monotonic()) ends the whole check,
    the checks not done by then reported as timeouts; ``parallel`` checks run at once in the
    sandbox."""
    from . import diagnosis
    from . import helpers as helper_files
    from .judge import judge_check

    if helpers not in helper_files.MODES:
        raise ValueError(f"helpers={helpers!r}; expected one of {', '.join(helper_files.MODES)}")
    extra = [s for s in scenarios or () if isinstance(s, Scenario)]
    names = None if scenarios is None else [s.name if isinstance(s, Scenario) else s for s in scenarios]
    chosen = select(names, extra)
    found = locate(path, adapter)
    if isinstance(found, str):
        return CheckReport("error", str(path), None, message=found)
    folder, module, module_file, api, cls = found
    files = runner.submission_files(folder)
    if isinstance(files, str):
        return CheckReport("error", str(path), api, message=files)
    adapter_path = Path(adapter).resolve() if adapter else None
    if adapter_path is not None and not adapter_path.is_file():
        return CheckReport("error", str(path), api, message=f"adapter {adapter} does not exist")
    checks, inputs = plan.build_checks(chosen, api, cls, seed)
    helper_checks, helper_inputs = helper_files.build(folder, seed)
    checks += helper_checks
    inputs.update(helper_inputs)
    # read, never imported: which API methods are still stubs
    source = (folder / module_file).read_text(errors="replace")
    stubs = [] if api == "adapter" else unfinished.unwritten(source, cls)
    # everything the judge runs is imported BEFORE the worker starts: the submission runs as the
    # same user and could edit refmlp's (or torch's) files on disk, which must not reach this
    # process (it gives up overlapping torch's import with the worker's start, ~1-2 s)
    from .. import mirror, rounding  # noqa: F401

    run = runner.Run(folder.resolve(), module, module_file, checks, inputs,
                     timeout=timeout or runner.DEFAULT_TIMEOUT,
                     memory=memory or runner.DEFAULT_MEMORY, adapter=adapter_path, files=files,
                     deadline=deadline, parallel=parallel)

    outcomes = run.collect()
    rep = CheckReport("pass", str(path), api,
                      scenarios={s.name: s.describe() for s in chosen}, seed=seed,
                      isolation=run.isolation_text)
    rep.specs = {s.name: s for s in chosen}
    rep.inputs = inputs
    load = outcomes.get("load")
    if load is None or load.status == "load_error":
        rep.verdict = "error"
        rep.message = (f"the submission could not be loaded: importing {module_file} and finding "
                       f"class {cls} failed (the traceback below)") if load else (
            "the sandbox did not report on loading the submission")
        rep.traceback = load.traceback if load else None
        return rep
    rep.message = weights.problem(checks, outcomes)  # never judged on weights it did not choose
    if rep.message:
        rep.verdict = "error"
        return rep

    by_check = {c["id"]: c for c in checks}
    for sc in chosen:
        results = judge_scenario(sc, by_check, outcomes, inputs, judge_check)
        rep.checks += results
    rep.helpers = helper_files.judge(helper_checks, outcomes, helper_inputs)
    rep.helper_summary = helper_files.summarize(rep.helpers, helpers)

    calls = list(dict.fromkeys(n[len(NONE_RETURNED) + 2:-1] for c in rep.checks for n in c.notes
                               if n.startswith(NONE_RETURNED)))  # "" for forward(x) itself
    written = {u.method for u in stubs}  # read as stubs by ast
    if calls and "forward" not in written:
        stubs.append(unfinished.Unwritten("forward", "forward(x) returned None" if "" in calls
                                          else f"{'; '.join(calls)} returned None", None))
    rep.unfinished = [u.say(module_file) for u in stubs]
    order = list(unfinished.METHODS.get(api, ()))
    blind = []  # checks that call a stub: their figures show the stub, not a bug to fix
    for c in rep.checks:  # a check that calls an unwritten method: its figures stay, its advice goes
        missing = written & uses(c.name, rep.specs[c.scenario], api)
        if missing:
            blind.append(c)
        if c.name == "forward" and calls:
            missing.add("forward")
        if missing:
            c.unjudged = True
            c.message = f"it calls {', '.join(sorted(missing, key=order.index))}, not written yet"
            c.traceback = None
            if c.verdict != "fail":  # a discovery error on a skeleton: unfinished, not an error
                c.verdict, c.first = "fail", c.first or {"layer": None, "quantity": "unfinished"}

    failing = [c for c in rep.checks if c.verdict == "fail"]
    errors = [c for c in rep.checks if c.verdict == "error"]
    helper_fail = [h for h in rep.helpers if h["verdict"] != "pass"]
    # the checker judged on its own weights instead of the student's (sandbox worker,
    # Subject.seed_weights): said in the report's text, not only in the checks' notes
    seeded = next((n for c in rep.checks for n in c.notes if n.startswith("initial weights:")), None)
    judged = [c for c in failing if all(c is not b for b in blind)]
    if judged:
        rep.verdict = "fail"
        first = first_divergence(judged, chosen)
        sc = next(s for s in chosen if s.name == first.scenario)
        rep.first_divergence, rep.first_scenario, rep.first_check = first.first, sc.name, first
        if not first.unjudged:
            rep.diagnosis = diagnosis.diagnose(first, sc, [c for c in rep.checks
                                                           if c.scenario == sc.name], inputs,
                                               source=(module_file, source))
    elif stubs or failing:
        rep.verdict = "fail"
        rep.first_divergence = {"layer": None, "quantity": "unfinished"}
    elif errors:
        rep.verdict = "error"
        rep.message = errors[0].message
    elif helper_fail and helpers == "count":
        rep.verdict = "fail"
        h = helper_fail[0]
        rep.first_divergence = {"layer": None, "quantity": f"{h['module']}.{h['function']}"}
        rep.diagnosis = h["diagnosis"]
    if stubs and rep.diagnosis is None and rep.verdict == "fail":
        methods = list(dict.fromkeys(u.method for u in stubs))
        rep.diagnosis = {"key": "unfinished", "message": (
            f"your {cls} is not finished: write {' and '.join(methods)}, then check again (the "
            "numbers of the checks that call " + ("it" if len(methods) == 1 else "them")
            + " say only that it is missing).")}
    if seeded and not rep.message:
        rep.message = seeded
    return rep


NONE_RETURNED = "forward returned None"
"""The note the sandbox writes when forward(x) returns None (an unfinished forward)."""


OP_METHODS = {"new": ("__init__", "add_layer"), "forward": ("forward",), "backward": ("backward",),
              "step": ("step",), "zero_grad": ("zero_grad",), "descent": ("backprop_descent",)}
"""The API methods each operation of refmlp.check.plan calls."""


def uses(kind: str, sc, api: str) -> set:
    """The API methods a check of ``kind`` calls: those of its operations, and forward (a backward
    runs it too)."""
    return {"forward"} | {m for op in plan.ops_for(kind, sc, api) or ()
                          for m in OP_METHODS.get(op[0], ())}


def first_divergence(failing, chosen):
    """The earliest failing check in data-flow order across scenarios (forward a_1 ... h_L, then
    gradients from the output layer down, then the other checks, an exception or a timeout last),
    the scenarios' run order breaking ties: a scenario that raised does not hide what another,
    which produced numbers, pins down."""
    from .judge import rank

    order = {s.name: i for i, s in enumerate(chosen)}
    L = {s.name: s.L for s in chosen}
    return min(failing, key=lambda c: (rank(c.first, L[c.scenario]), order[c.scenario]))


def judge_scenario(sc, by_check, outcomes, inputs, judge_check):
    """Every check of one scenario; square weights read as (out, in), or as (in, out) when that
    reading, and only it, makes every check pass (a submission storing W transposed)."""
    from .kinds import KINDS

    kinds = [k for k in KINDS if f"{sc.name}.{k}" in by_check]

    def judge_all(transposed):
        return [judge_check(k, sc, outcomes[f"{sc.name}.{k}"], by_check[f"{sc.name}.{k}"]["ops"],
                            inputs, transposed) for k in kinds]

    results = judge_all(False)
    square = any(m == n for m, n in zip(sc.sizes[1:], sc.sizes[:-1]))
    if square and any(r.verdict == "fail" for r in results):
        alt = judge_all(True)
        if all(r.verdict == "pass" for r in alt):
            for r in alt:
                r.notes.append("square W_k read as stored (in, out), transposed: only that "
                               "reading makes every check pass")
            results = alt
    for r in results:
        r.facts.pop("arrays", None) if r.verdict == "pass" else None
    return results
