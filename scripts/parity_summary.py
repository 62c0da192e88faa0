"""The parity matrix over every dataset, summarised: Markdown, CSV and a heat map.

Runs the cases of refmlp.matrix (every dataset x hidden activation x loss pairing x dtype x depth,
each through the per-sample and batched backward with reduction sum and mean: the cases the test
suite asserts) and writes into OUT:

  summary.csv   one line per dataset, dtype, quantity and layer: the largest normwise relative
                error max|x - y| / max|y| over every case and mode, the largest fraction of the
                tolerance used, and how many reports failed
  summary.md    the same as Markdown tables, one per dtype (dataset x quantity, worst layer)
  heatmap.png   log10 of the largest relative error per dataset x (quantity, layer), one panel
                per dtype (needs matplotlib: pip install 'refmlp[plot]')

Exit code 0 when every report passed, 1 otherwise.

    python scripts/parity_summary.py --out parity-summary [--datasets moons,digits] [--depths 1,2]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from refmlp.commands.options import comma_list
from refmlp.compare import BACKWARD, FORWARD

QUANTITIES = FORWARD + ("loss",) + BACKWARD


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--datasets", type=comma_list, default=None, help="only these datasets (default: all)")
    parser.add_argument("--depths", type=comma_list, default=None,
                        help="only these depths L (default: every depth of refmlp.matrix, 1 to 4)")
    parser.add_argument("--activations", type=comma_list, default=None, help="only these hidden activations")
    parser.add_argument("--dtypes", type=comma_list, default=["float64", "float32"], help="default: float64,float32")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from refmlp.matrix import cases, run_case  # torch: only once there is work to do

    worst: dict[tuple, dict] = {}  # (dataset, dtype, quantity, layer) -> figures
    n_reports = n_failed = 0
    start = time.perf_counter()
    for case in cases():
        if ((args.datasets and case.dataset not in args.datasets)
                or (args.depths and str(case.depth) not in args.depths)
                or (args.activations and case.depth > 1 and case.activation not in args.activations)
                or case.dtype not in args.dtypes):
            continue
        for report in run_case(case).values():
            n_reports += 1
            n_failed += not report.passed
            for row in report.rows:
                entry = worst.setdefault((case.dataset, case.dtype, row.quantity, row.layer),
                                         {"rel": 0.0, "used": 0.0, "reports": 0, "failed": 0})
                entry["reports"] += 1
                entry["failed"] += row.verdict == "fail"
                if row.problem:
                    entry["rel"] = float("inf")
                    continue
                rel = row.max_abs_diff / row.expected_max_abs if row.expected_max_abs else row.max_abs_diff
                entry["rel"] = max(entry["rel"], rel)
                entry["used"] = max(entry["used"], row.tolerance_used)
    if not worst:
        print("no case matches the filters", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start

    keys = sorted(worst, key=lambda k: (k[0], k[1], QUANTITIES.index(k[2]), k[3] or 0))
    with open(args.out / "summary.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["dataset", "dtype", "quantity", "layer", "max_rel_error", "max_tolerance_used",
                      "reports", "failed"])
        for key in keys:
            e = worst[key]
            out.writerow([*key[:3], "" if key[3] is None else key[3], f"{e['rel']:.3e}",
                          f"{e['used']:.3e}", e["reports"], e["failed"]])

    datasets = list(dict.fromkeys(k[0] for k in keys))
    dtypes = [d for d in args.dtypes if any(k[1] == d for k in keys)]
    lines = [f"# Parity matrix summary\n",
             f"{n_reports} reports ({len(datasets)} datasets), {n_failed} failed, {elapsed:.0f} s. "
             "Each cell: the largest normwise relative error max|x - y| / max|y| over every layer, "
             "case and backward mode, and the layer where it occurred. A figure far above the "
             "dtype's eps belongs to a quantity whose terms cancel (a bias gradient summed over a "
             "batch): its rounding error is eps times its terms, not its value, and the parity "
             "tolerance scales with the terms (max_tolerance_used in summary.csv says how much of "
             "it was used).\n"]
    for dtype in dtypes:
        lines += [f"\n## {dtype}\n", "| dataset | " + " | ".join(QUANTITIES) + " |",
                  "| --- |" + " ---: |" * len(QUANTITIES)]
        for ds in datasets:
            cells = []
            for q in QUANTITIES:
                found = [(worst[k]["rel"], k[3]) for k in keys if k[:3] == (ds, dtype, q)]
                rel, layer = max(found, key=lambda t: t[0])
                cells.append(f"{rel:.1e}" + ("" if layer is None else f" (L{layer})"))
            lines.append(f"| {ds} | " + " | ".join(cells) + " |")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")

    columns = [f"{q}_{k}" if k is not None else q
               for q, k in dict.fromkeys((key[2], key[3]) for key in
                                         sorted(keys, key=lambda k: (QUANTITIES.index(k[2]), k[3] or 0)))]
    table = {d: {(k[0], f"{k[2]}_{k[3]}" if k[3] is not None else k[2]): worst[k]["rel"]
                 for k in keys if k[1] == d} for d in dtypes}
    try:
        from refmlp.plots import PlotUnavailable, plot_heatmap

        plot_heatmap(table, datasets, columns, args.out / "heatmap.png",
                     f"refmlp vs torch: the parity matrix, {n_reports} reports")
        figure = "heatmap.png"
    except PlotUnavailable as exc:
        figure = None
        print(exc, file=sys.stderr)
    print(f"{n_reports} reports, {n_failed} failed, {elapsed:.0f} s; wrote summary.csv, summary.md"
          + (f", {figure}" if figure else "") + f" into {args.out}")
    return 0 if n_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
