"""Whole training runs side by side across datasets, optimizers and dtypes: refmlp, torch, sklearn.

For every dataset, optimizer preset (refmlp.trajectory.PRESETS) and dtype, trains refmlp, its torch
twin with torch.optim, and scikit-learn where it has the same network and optimizer, from the same
weights on the same seeded mini-batches, and prints one line per run: the largest deviation of
the weights from refmlp's over every step and layer, the step where it first left the tolerance
(none: it never did), and the final loss and accuracy / R^2. Writes into OUT:

  runs.csv            one line per run and implementation (the printed figures)
  curves.csv          per step: the batch loss of each implementation and its deviation per layer
  summary.md          the printed table as Markdown, with the tolerances and their reasons
  curves_<dtype>.png  a grid (dataset x optimizer) of the batch loss of each implementation per
                      step, with the deviation on a log axis (needs matplotlib)

Exit code 0 when every judged run stayed within the tolerance, 1 otherwise.

    python scripts/train_side_by_side.py --out runs [--steps 200] [--dtypes float64,float32]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

from refmlp.activations import HIDDEN_ACTIVATIONS
from refmlp.commands.options import choice_list, comma_list, layer_sizes, positive_int
from refmlp.commands.train import PEERS
from refmlp.losses import DEFAULT_FOR_TASK as DEFAULT_LOSS
from refmlp.data import load_dataset
from refmlp.network import DTYPES, MLP, Spec
from refmlp.tolerance import TRAINING
from refmlp.trajectory import PRESETS, run, summary, verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--datasets", type=comma_list, default=["moons", "digits", "diabetes"],
                        help="default: moons,digits,diabetes")
    parser.add_argument("--optimizers", type=comma_list, default=list(PRESETS),
                        help=f"presets among {', '.join(PRESETS)} (default: all)")
    parser.add_argument("--dtypes", type=comma_list, default=["float64", "float32"], help="default: float64,float32")
    parser.add_argument("--steps", type=positive_int, default=200, help="steps per run (default: 200)")
    parser.add_argument("--layers", type=layer_sizes, default=[16, 16],
                        help="hidden layer sizes (default: 16,16)")
    parser.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="tanh",
                        help="hidden activation (default: tanh, which scikit-learn also has)")
    parser.add_argument("--batch", type=positive_int, default=32, help="mini-batch size (default: 32)")
    parser.add_argument("--compare", type=choice_list(PEERS, allow_empty=True), default=["torch", "sklearn"],
                        help="default: torch,sklearn")
    args = parser.parse_args(argv)
    unknown = [o for o in args.optimizers if o not in PRESETS]
    if unknown:
        parser.error(f"unknown optimizer presets {unknown}; expected among {list(PRESETS)}")
    unknown = [d for d in args.dtypes if d not in DTYPES]
    if unknown:
        parser.error(f"unknown dtypes {unknown}; expected among {list(DTYPES)}")
    try:  # every dataset checked before the first run, not after the others have run
        data_of = {ds: load_dataset(ds) for ds in args.datasets}
    except ValueError as exc:
        parser.error(str(exc))
    args.out.mkdir(parents=True, exist_ok=True)

    runs, failed, start = [], 0, time.perf_counter()
    header = (f"{'dtype':<8}{'dataset':<10}{'optimizer':<17}{'implementation':<15}{'max deviation':>14}"
              f"{'first over tol':>15}{'final loss':>12}{'metric':>9}")
    print(header)
    print("-" * len(header))
    for dtype in args.dtypes:
        for ds in args.datasets:
            data = data_of[ds]
            loss = DEFAULT_LOSS[data.task]
            kind = "class" if loss == "cross_entropy" else "vector"
            spec = Spec.build(data.X.shape[1], args.layers, data.n_outputs(kind),
                              activation=args.activation, loss=loss)
            for preset in args.optimizers:
                optimizer, lr, options = PRESETS[preset]
                net = MLP(spec, init="torch", seed=0, dtype=DTYPES[dtype])
                traj = run(net, data.X, data.targets(kind), optimizer=optimizer, lr=lr, options=options,
                           batch_size=args.batch, steps=args.steps, compare=tuple(args.compare), task=data.task)
                failed += verdict(traj) == "fail"
                runs.append({"dtype": dtype, "dataset": ds, "optimizer": preset, "traj": traj})
                for name, r in summary(traj).items():
                    if name == "refmlp":
                        dev, first = "", ""
                    else:
                        dev = f"{r['max_deviation']:.2e}"
                        first = ("not judged" if not r["judged"] else
                                 "none" if r["first_exceeding_step"] is None else str(r["first_exceeding_step"]))
                    print(f"{dtype:<8}{ds:<10}{preset:<17}{name:<15}{dev:>14}{first:>15}"
                          f"{r['final_loss']:>12.5g}{r[traj.metric]:>9.4f}")
                for name, reason in traj.unavailable.items():
                    print(f"{dtype:<8}{ds:<10}{preset:<17}{name:<15}  unavailable: {reason}")
    elapsed = time.perf_counter() - start

    write_csvs(args.out, runs)
    write_markdown(args.out, runs, elapsed)
    figures = []
    try:
        from refmlp.plots import PlotUnavailable, plot_curves

        for dtype in args.dtypes:
            name = f"curves_{dtype}.png"
            plot_curves([r for r in runs if r["dtype"] == dtype], args.out / name,
                        f"refmlp, torch and scikit-learn side by side, {dtype}, {args.steps} steps, "
                        f"tolerance {TRAINING[dtype].rtol:g}")
            figures.append(name)
    except PlotUnavailable as exc:
        print(exc, file=sys.stderr)
    for dtype in args.dtypes:
        worst = max(((r["traj"].max_deviation(n), r["dataset"], r["optimizer"], n)
                     for r in runs if r["dtype"] == dtype for n in r["traj"].names[1:]
                     if n not in r["traj"].notes), default=None)
        if worst is None:  # --compare '' or only unavailable or unjudged implementations
            print(f"{dtype}: no judged comparison ran")
            continue
        print(f"{dtype}: largest judged deviation {worst[0]:.2e} ({worst[3]}, {worst[1]}, {worst[2]}); "
              f"tolerance {TRAINING[dtype].rtol:g}")
    print(f"{len(runs)} runs, {failed} out of tolerance, {elapsed:.0f} s; wrote runs.csv, curves.csv, "
          f"summary.md{''.join(', ' + f for f in figures)} into {args.out}")
    return 0 if failed == 0 else 1


def write_csvs(out: Path, runs: list[dict]) -> None:
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dtype", "dataset", "optimizer", "implementation", "final_loss", "metric", "value",
                    "max_deviation", "first_exceeding_step", "judged", "note"])
        for r in runs:
            traj = r["traj"]
            for name, s in summary(traj).items():
                w.writerow([r["dtype"], r["dataset"], r["optimizer"], name, f"{s['final_loss']:.10g}",
                            traj.metric, f"{s[traj.metric]:.6f}", s.get("max_deviation", ""),
                            s.get("first_exceeding_step", "") or "", s.get("judged", ""), s.get("note") or ""])
    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dtype", "dataset", "optimizer", "implementation", "step", "batch_loss",
                    "deviation_per_layer"])
        for r in runs:
            traj = r["traj"]
            for name in traj.names:
                dev = traj.deviation.get(name)
                for t, value in enumerate(traj.loss[name]):
                    layers = "" if dev is None else " ".join(f"{v:.3e}" for v in dev[t])
                    w.writerow([r["dtype"], r["dataset"], r["optimizer"], name, t + 1, f"{value:.12g}", layers])


def write_markdown(out: Path, runs: list[dict], elapsed: float) -> None:
    lines = ["# Training runs side by side\n",
             f"{len(runs)} runs in {elapsed:.0f} s. Deviation: max |w - w_refmlp| / max |w_refmlp| over "
             "each layer's W and b, the largest over every step and layer.\n"]
    for dtype in dict.fromkeys(r["dtype"] for r in runs):
        lines += [f"\n## {dtype} (tolerance {TRAINING[dtype].rtol:g}: {TRAINING[dtype].reason})\n",
                  "| dataset | optimizer | implementation | max deviation | first step over | final loss | metric |",
                  "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
        for r in (r for r in runs if r["dtype"] == dtype):
            traj = r["traj"]
            for name, s in summary(traj).items():
                dev = "" if name == "refmlp" else f"{s['max_deviation']:.2e}"
                first = ("" if name == "refmlp" else "not judged" if not s["judged"]
                         else str(s["first_exceeding_step"] or "none"))
                lines.append(f"| {r['dataset']} | {r['optimizer']} | {name} | {dev} | {first} | "
                             f"{s['final_loss']:.5g} | {traj.metric} {s[traj.metric]:.4f} |")
    notes = {n: t for r in runs for n, t in r["traj"].notes.items()}
    reasons = {f"{n}: {t}" for r in runs for n, t in r["traj"].unavailable.items()}
    lines += ["\n## Notes\n"] + [f"- {n}: {t}" for n, t in notes.items()] + [f"- unavailable, {t}" for t in sorted(reasons)]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
