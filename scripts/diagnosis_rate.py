"""How often `refmlp check` gets the self-test catalogues right: verdict, first divergence, diagnosis.

For every entry of the catalogues (``buggy``: the failing entries of
parity_tests/submissions/catalogue.json; ``wip``: works in progress and correct submissions;
``unseen``: bugs that no list names) it checks the submission the way
parity_tests/test_check_wip.py does (one scenario per buggy entry, every scenario for a correct
one; see parity_tests/catalogues.py) and prints the expected and the obtained verdict, first
divergence and diagnosis key, then the rates per catalogue:

- verdict, first divergence: the share of entries where the checker says what the entry expects;
- named (buggy, wip): the share of failing entries whose diagnosis key is the first bug's;
- report length: the lines of the text report a student reads, median and longest over the
  failing entries (the target: one screen);
- explained (unseen): the share whose diagnosis is neither missing, "unknown", "exception" nor the
  key of a listed bug (buggy and wip name them; an unseen bug is none of them, so such a key
  names a bug the submission does not have). An upper bound: whether the message says the right
  thing is for a reader to judge, so it is printed under each entry next to the bug it explains.

    .venv/bin/python scripts/diagnosis_rate.py [--catalogue buggy|wip|unseen ...] [--json FILE]

About a second per checked scenario (a sandboxed subprocess each): a minute for all three.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity_tests"))

from catalogues import NAMES, check, diagnosis_key, divergence, report_text, runs  # noqa: E402

UNEXPLAINED = (None, "unknown", "exception")


def listed_keys() -> set:
    """Every key a listed bug has: those of the buggy catalogue and of the wip bugs."""
    keys = {r.entry["diagnosis"] for r in runs("buggy")}
    return keys | {b["key"] for r in runs("wip") for b in r.entry["bugs"]}


def _where(fd) -> str:
    if not fd:
        return "-"
    return f"layer {fd['layer']} {fd['quantity']}" if fd.get("layer") else fd["quantity"]


def measure(name: str, progress) -> dict:
    """Rows and rates of catalogue ``name``."""
    rows = []
    todo = runs(name)
    for i, run in enumerate(todo, 1):
        progress(f"[{name} {i}/{len(todo)}] {run.id}")
        report = check(run)
        e = run.entry
        row = {"id": run.id, "expected_verdict": e["verdict"], "verdict": report["verdict"],
               "expected_first_divergence": e["first_divergence"],
               "first_divergence": divergence(report["first_divergence"]),
               "expected_diagnosis": e.get("diagnosis"), "diagnosis": diagnosis_key(report),
               "message": (report["diagnosis"] or {}).get("message"),
               "report_lines": len(report_text(run).splitlines())}
        if name == "unseen":
            row["bug"], row["derivation"] = e["bug"], e["derivation"]
        rows.append(row)
    failing = [r for r in rows if r["expected_verdict"] == "fail"]
    rates = {
        "verdict": sum(r["verdict"] == r["expected_verdict"] for r in rows) / len(rows),
        "first_divergence": sum(r["first_divergence"] == r["expected_first_divergence"]
                                for r in rows) / len(rows),
    }
    if name == "unseen":
        wrong = set(UNEXPLAINED) | listed_keys()
        rates["explained"] = sum(r["diagnosis"] not in wrong for r in failing) / len(failing)
    else:
        rates["named"] = sum(r["diagnosis"] == r["expected_diagnosis"] for r in failing) / len(failing)
    lines = sorted(r["report_lines"] for r in failing)
    return {"rows": rows, "rates": rates, "entries": len(rows), "failing": len(failing),
            "report_lines": {"median": lines[len(lines) // 2], "max": lines[-1]}}


def to_text(name: str, result: dict) -> str:
    lines = [f"== {name}: {result['entries']} entries ({result['failing']} failing)",
             f"{'entry':58} {'verdict':15} {'first divergence':40} diagnosis (expected -> got)"]
    for r in result["rows"]:
        mark = "" if (r["verdict"], r["first_divergence"]) == (
            r["expected_verdict"], r["expected_first_divergence"]) else "  <-"
        expected_key = r["expected_diagnosis"] if name != "unseen" else "(no key)"
        lines.append(f"{r['id'][:58]:58} {r['expected_verdict'] + ' -> ' + r['verdict']:15} "
                     f"{_where(r['expected_first_divergence']) + ' -> ' + _where(r['first_divergence']):40} "
                     f"{expected_key} -> {r['diagnosis']}{mark}")
        if name == "unseen":
            lines.append(f"    bug: {r['bug']}")
            lines.append(f"    said: {r['message']}")
    figures = ", ".join(f"{k} {v:.0%}" for k, v in result["rates"].items())
    lines.append(f"rates ({name}): {figures}")
    rl = result["report_lines"]
    lines.append(f"report length ({name}, failing entries, text before --verbose): median "
                 f"{rl['median']} lines, longest {rl['max']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--catalogue", action="append", choices=NAMES,
                        help="a catalogue to measure (repeatable; default: all three)")
    parser.add_argument("--json", metavar="FILE", help="also write every row and rate as JSON to FILE")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    results = {}
    for name in args.catalogue or NAMES:
        results[name] = measure(name, lambda text: print(text, file=sys.stderr, flush=True))
        print(to_text(name, results[name]) + "\n")
    named = [r for n in ("buggy", "wip") if n in results for r in results[n]["rows"]
             if r["expected_verdict"] == "fail"]
    if named:
        hits = sum(r["diagnosis"] == r["expected_diagnosis"] for r in named)
        print(f"named over {' + '.join(n for n in ('buggy', 'wip') if n in results)}: "
              f"{hits} / {len(named)} ({hits / len(named):.0%}; the target is 90%)")
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
