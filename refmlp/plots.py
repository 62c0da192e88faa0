"""Pictures of a side-by-side run: loss curves on one figure, and decision boundaries side by side.

matplotlib is an optional extra (``pip install 'refmlp[plot]'``), imported only here, inside the
function that draws, with the Agg backend (no screen needed). Without it, :func:`plot_run` raises
:class:`PlotUnavailable` whose message says how to get the pictures.
"""

from __future__ import annotations

import textwrap

import numpy as np

from .network import MLP
from .trajectory import Trajectory

INSTALL_HINT = "pip install 'refmlp[plot]'"
# Curves of implementations that agree lie on top of each other: each gets its own line style,
# width and marker so that all of them stay visible.
STYLES = {
    "refmlp": dict(color="#1f77b4", linestyle="-", linewidth=3.2, alpha=0.55),
    "torch": dict(color="#d62728", linestyle="--", linewidth=1.6),
    "sklearn": dict(color="#2ca02c", linestyle=":", linewidth=2.0, marker="o", markersize=3.5),
}


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(f"matplotlib is not installed: {INSTALL_HINT} to get the pictures") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_run(traj: Trajectory, net: MLP, X, labels, out, title: str) -> None:
    """Write the figure of ``traj`` to ``out`` (a .png path).

    Top left: the loss over the whole dataset after each epoch, one curve per implementation.
    Top right: the largest weight deviation from refmlp at each step (log scale), with the
    tolerance. Bottom, for 2-D inputs only: each implementation's decision boundary (its weights
    after the run) over the data, side by side. ``net`` gives the spec and dtype to evaluate with;
    ``labels`` are the dataset's class labels (None for regression).
    """
    plt = _pyplot()
    two_d = X.shape[1] == 2 and labels is not None
    names = traj.names
    fig = plt.figure(figsize=(max(10, 3.6 * len(names)), 8.2 if two_d else 4.2), layout="constrained")
    grid = fig.add_gridspec(2 if two_d else 1, 2 * len(names))
    half = len(names)
    ax_loss = fig.add_subplot(grid[0, :half])
    ax_dev = fig.add_subplot(grid[0, half:])
    epochs = [row["epoch"] for row in traj.epochs]
    for name in names:
        ax_loss.plot(epochs, [row[name]["loss"] for row in traj.epochs], label=name, **STYLES[name])
    ax_loss.set(title="loss on the whole dataset after each epoch", xlabel="epoch",
                ylabel="loss (mean over samples)")
    ax_loss.xaxis.get_major_locator().set_params(integer=True)  # no epoch 0.25 on short runs
    ax_loss.legend(title="implementation")
    ax_loss.grid(alpha=0.3)

    steps = np.arange(1, traj.steps + 1)
    floor = np.finfo(np.float64).tiny  # a deviation of exactly 0 still has a place on a log axis
    for name in names[1:]:
        dev = np.maximum(traj.deviation[name].max(axis=1), floor)
        style = {k: v for k, v in STYLES[name].items() if k != "marker"}
        label = f"{name} vs refmlp" + (" (not exact: see notes)" if name in traj.notes else "")
        ax_dev.plot(steps, dev, label=label, **style)
    ax_dev.axhline(traj.tolerance, color="black", linewidth=1, label=f"tolerance {traj.tolerance:g} ({traj.dtype})")
    ax_dev.set_yscale("log")
    finite = [d[np.isfinite(d)] for d in (traj.deviation[n] for n in names[1:])]
    low = min([d.min(initial=1.0) for d in finite] + [1e-16])
    ax_dev.set_ylim(max(low / 10, 1e-18), max(1.0, traj.tolerance * 10))
    ax_dev.set(title="weight deviation from refmlp after each step", xlabel="step",
               ylabel="max |Δw| / max |w|, worst layer")
    ax_dev.legend(loc="upper left", fontsize="small")
    ax_dev.grid(alpha=0.3, which="both")
    if len(names) == 1:
        # above the tolerance line, which sits near the middle of the axis
        ax_dev.text(0.5, 0.75, "no other implementation to compare", ha="center", transform=ax_dev.transAxes)

    if traj.diverged_at is not None:
        ax_dev.text(0.5, 0.5, f"training diverged at step {traj.diverged_at}", ha="center",
                    color="darkred", transform=ax_dev.transAxes)
    if two_d:
        _boundaries(fig, grid, traj, net, X, labels)
    # about 11 characters of an 11-point title fit in an inch: wrap the rest, never cut it
    width = int(fig.get_figwidth() * 11)
    fig.suptitle("\n".join(textwrap.fill(line, width) for line in title.splitlines()), fontsize=11)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _boundaries(fig, grid, traj, net, X, labels) -> None:
    """Each implementation's predicted class over a grid around the data, in its own panel."""
    pad = 0.5
    (x0, y0), (x1, y1) = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    points = np.column_stack([gx.ravel(), gy.ravel()])
    evaluator = MLP(net.spec, net.W, net.b, dtype=net.dtype)
    last = traj.epochs[-1]
    for i, name in enumerate(traj.names):
        ax = fig.add_subplot(grid[1, 2 * i:2 * i + 2])
        evaluator.set_params(*traj.final_weights[name])
        with np.errstate(all="ignore"):  # a diverged run's weights: its table says so
            h = evaluator.predict(points)
        cls = (h[:, 0] > 0.5).astype(int) if h.shape[1] == 1 else h.argmax(axis=1)
        ax.contourf(gx, gy, cls.reshape(gx.shape), levels=np.arange(cls.max() + 2) - 0.5,
                    cmap="coolwarm", alpha=0.35)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", s=9, edgecolors="k", linewidths=0.3)
        ax.set(title=f"{name}: decision boundary\n{traj.metric} {last[name][traj.metric]:.3f}",
               xlabel="x1", ylabel="x2")
        ax.set_aspect("equal", adjustable="box")


def plot_heatmap(table: dict, rows: list[str], columns: list[str], out, title: str) -> None:
    """One panel per dtype: log10 of the largest relative error of each (row, column) cell.

    ``table[dtype][(row, column)]`` is the figure; a missing cell (a layer the dataset's networks
    do not have) stays blank, an exact 0 (identical results) is drawn at the bottom of the scale
    and marked "=".
    """
    plt = _pyplot()
    dtypes = list(table)
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(max(8, 0.55 * len(columns) + 2.5),
                                                       1.2 + 0.42 * len(rows) * len(dtypes) + 0.8 * len(dtypes)),
                             layout="constrained", squeeze=False)
    for ax, dtype in zip(axes[:, 0], dtypes):
        grid = np.full((len(rows), len(columns)), np.nan)
        for (r, c), value in table[dtype].items():
            grid[rows.index(r), columns.index(c)] = value
        eps = np.finfo(dtype).eps
        shown = np.log10(np.maximum(grid, eps / 1e3))
        image = ax.imshow(shown, cmap="viridis", aspect="auto",
                          vmin=np.log10(eps / 1e3), vmax=np.log10(eps) + 3)
        for i in range(len(rows)):
            for j in range(len(columns)):
                if not np.isnan(grid[i, j]):
                    text = "=" if grid[i, j] == 0 else f"{np.log10(grid[i, j]):.0f}"
                    ax.text(j, i, text, ha="center", va="center", fontsize=7,
                            color="white" if shown[i, j] < np.log10(eps) - 1 else "black")
        ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_title(f"{dtype}: log10 of the largest max|x - y| / max|y| (eps = {eps:.1e}; "
                     "'=': identical)", fontsize=10)
        fig.colorbar(image, ax=ax, label="log10 relative error", shrink=0.9)
    fig.suptitle(title, fontsize=11)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def plot_curves(runs: list[dict], out, title: str) -> None:
    """A grid of runs (one row per dataset, one column per optimizer): the batch loss of each
    implementation at every step, and on a second axis (grey, log) the worst deviation from refmlp.

    Each run is ``{"dataset", "optimizer", "traj": Trajectory}``.
    """
    plt = _pyplot()
    datasets = list(dict.fromkeys(r["dataset"] for r in runs))
    optimizers = list(dict.fromkeys(r["optimizer"] for r in runs))
    fig, axes = plt.subplots(len(datasets), len(optimizers), squeeze=False, layout="constrained",
                             figsize=(3.3 * len(optimizers) + 1, 2.6 * len(datasets) + 0.8))
    for r in runs:
        ax = axes[datasets.index(r["dataset"]), optimizers.index(r["optimizer"])]
        traj = r["traj"]
        steps = np.arange(1, traj.steps + 1)
        for name in traj.names:
            style = {k: v for k, v in STYLES[name].items() if k != "marker"}
            ax.plot(steps, traj.loss[name], label=name, **style)
        ax.set_title(f"{r['dataset']}, {r['optimizer']}", fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.set_ylabel("batch loss", fontsize=8)
        ax.tick_params(labelsize=7)
        twin_ax = ax.twinx()
        for name in traj.names[1:]:
            dev = np.maximum(traj.deviation[name].max(axis=1), np.finfo(np.float64).tiny)
            twin_ax.plot(steps, dev, color=STYLES[name]["color"], linewidth=0.8, alpha=0.5)
        twin_ax.axhline(traj.tolerance, color="grey", linewidth=0.8, linestyle="-.")
        twin_ax.set_yscale("log")
        twin_ax.set_ylim(1e-17, 1)
        twin_ax.tick_params(labelsize=7)
        twin_ax.set_ylabel("deviation (thin, log)", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), title="implementation")
    fig.suptitle(title, fontsize=11)
    fig.savefig(out, dpi=80)
    plt.close(fig)
