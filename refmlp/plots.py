"""Pictures of a side-by-side run: loss curves on one figure, and decision boundaries side by side.

matplotlib is an optional extra (``pip install 'refmlp[plot]'``), imported only here, inside the
function that draws, with the Agg backend (no screen needed). Without it, :func:`plot_run` raises
:class:`PlotUnavailable` whose message says how to get the pictures.
"""

from __future__ import annotations

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
    low = min([traj.deviation[n].max(axis=1).min(initial=1.0) for n in names[1:]] + [1e-16])
    ax_dev.set_ylim(max(low / 10, 1e-18), max(1.0, traj.tolerance * 10))
    ax_dev.set(title="weight deviation from refmlp after each step", xlabel="step",
               ylabel="max |Δw| / max |w|, worst layer")
    ax_dev.legend(loc="upper left", fontsize="small")
    ax_dev.grid(alpha=0.3, which="both")
    if len(names) == 1:
        ax_dev.text(0.5, 0.5, "no other implementation to compare", ha="center", transform=ax_dev.transAxes)

    if two_d:
        _boundaries(fig, grid, traj, net, X, labels)
    fig.suptitle(title, fontsize=11)
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
        h = evaluator.predict(points)
        cls = (h[:, 0] > 0.5).astype(int) if h.shape[1] == 1 else h.argmax(axis=1)
        ax.contourf(gx, gy, cls.reshape(gx.shape), levels=np.arange(cls.max() + 2) - 0.5,
                    cmap="coolwarm", alpha=0.35)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", s=9, edgecolors="k", linewidths=0.3)
        ax.set(title=f"{name}: decision boundary\n{traj.metric} {last[name][traj.metric]:.3f}",
               xlabel="x1", ylabel="x2")
        ax.set_aspect("equal", adjustable="box")
