"""How often refmlp check names the first bug of a catalogue's buggy submissions.

Runs ``check_submission`` on every failing entry of a self-test catalogue (a catalogue.json: a
list of entries, or {"entries": [...]}) on the scenario the entry names (all scenarios when it
names none), seed 0, and prints one line per entry: named or missed, the expected diagnosis key
(or, for an entry that gives its bug in words, those words), the key the checker gave, and its
message; then the count. An entry without a key is not counted: read its line.

    .venv/bin/python scripts/diagnosis_rate.py parity_tests/submissions/catalogue.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("catalogue", type=Path, help="a catalogue.json of the self-test kind")
    parser.add_argument("names", nargs="*", help="only these entries (by name)")
    args = parser.parse_args(argv)
    try:
        doc = json.loads(args.catalogue.read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read catalogue {str(args.catalogue)!r}: {exc}", file=sys.stderr)
        return 2
    entries = doc["entries"] if isinstance(doc, dict) else doc
    from refmlp.check import check_submission

    named = keyed = 0
    start = time.monotonic()
    failing = [e for e in entries if e.get("verdict") == "fail" and (not args.names or e["name"] in args.names)]
    for n, e in enumerate(failing, start=1):
        kw = {"scenarios": [e["scenario"]] if e.get("scenario") else None, "seed": 0}
        for key in ("timeout", "adapter"):
            if e.get(key):
                kw[key] = str(args.catalogue.parent / e[key]) if key == "adapter" else e[key]
        if e.get("helpers") in ("apart", "count"):
            kw["helpers"] = e["helpers"]
        rep = check_submission(str(args.catalogue.parent / e["path"]), **kw).to_dict()
        got = rep.get("diagnosis") or {}
        want = e.get("diagnosis")
        if want:
            keyed += 1
            named += got.get("key") == want
            mark = "named " if got.get("key") == want else "MISSED"
        else:
            mark = "read  "
        words = want or e.get("bug") or e.get("why", "")[:120]
        print(f"[{n}/{len(failing)} {time.monotonic() - start:.0f}s] {mark} {e['name']}: want "
              f"{words!r}, got {got.get('key')!r}\n    {(got.get('message') or rep.get('message') or '')[:400]}",
              flush=True)
    print(f"named {named} of {keyed} entries with a key ({len(failing) - keyed} to read)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
