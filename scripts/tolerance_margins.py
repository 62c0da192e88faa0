"""How much of the tolerance the parity matrix uses, per dtype and quantity.

Runs every case of refmlp.matrix (the same cases the test suite asserts) and prints, for each dtype
and quantity, the largest fraction of the allowed error any element used (> 1 would fail) and the
largest normwise relative difference max|x - y| / max|y| (for quantities that are not all zero;
for those, the largest |x - y|), with the case where the tolerance use occurred.

    python scripts/tolerance_margins.py [--dtype float32] [--json margins.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time


from refmlp.matrix import cases, run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtype", choices=("float64", "float32"), help="only this dtype (default: both)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    args = parser.parse_args(argv)

    worst: dict[tuple[str, str], dict] = {}
    n_cases = n_reports = n_failed = 0
    start = time.perf_counter()
    for case in cases():
        if args.dtype and case.dtype != args.dtype:
            continue
        n_cases += 1
        for (path, reduction), report in run_case(case).items():
            n_reports += 1
            n_failed += not report.passed
            for row in report.rows:
                if row.problem:
                    continue
                key = (case.dtype, row.quantity)
                entry = worst.setdefault(key, {"tolerance_used": 0.0, "normwise_rel": 0.0})
                if row.tolerance_used > entry["tolerance_used"]:
                    entry["tolerance_used"] = row.tolerance_used
                    entry["tolerance_used_at"] = f"{case.id} {path} {reduction} layer {row.layer}"
                if row.expected_max_abs == 0:  # all zero (dead units): no relative figure
                    entry["zero_quantity_max_abs"] = max(entry.get("zero_quantity_max_abs", 0.0),
                                                         row.max_abs_diff)
                    continue
                norm = row.max_abs_diff / row.expected_max_abs
                if norm > entry["normwise_rel"]:
                    entry["normwise_rel"] = norm
                    entry["normwise_rel_at"] = f"{case.id} {path} {reduction} layer {row.layer}"
    elapsed = time.perf_counter() - start

    print(f"{n_cases} cases, {n_reports} reports, {n_failed} failed, {elapsed:.0f} s")
    print(f"{'dtype':<9}{'quantity':<10}{'tol used':>10}{'max|x-y|/max|y|':>18}"
          f"{'|x-y| if y = 0':>16}  where (tol used)")
    for (dtype, quantity), e in sorted(worst.items()):
        zero = e.get("zero_quantity_max_abs")
        print(f"{dtype:<9}{quantity:<10}{e['tolerance_used']:>10.2g}{e['normwise_rel']:>18.2e}"
              f"{'-' if zero is None else format(zero, '.2e'):>16}  {e.get('tolerance_used_at', '-')}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({f"{d}/{q}": e for (d, q), e in worst.items()}, fh, indent=2)
    return 1 if n_failed else 0


if __name__ == "__main__":
    sys.exit(main())
