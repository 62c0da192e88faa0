"""Whole training runs side by side: refmlp, its torch twin (torch.optim) and scikit-learn.

Every implementation starts from the same weights (refmlp's, copied into the others) and trains on
the same mini-batch sequence: epoch e visits the samples in the order of
``np.random.default_rng(seed)``'s e-th permutation, in batches of ``batch_size`` (the last one may
be smaller), as :func:`refmlp.network.train` does. At each step every implementation computes its
own batch loss and gradient and applies its own optimizer; then the weights are compared.

**Deviation** of an implementation from refmlp at step t and layer k: the largest absolute
difference over W_k and b_k after the update, divided by the largest |entry| of refmlp's W_k and
b_k (a normwise relative figure, so a weight passing through 0 does not blow it up).
**Loss deviation**: |loss - refmlp's loss| / |refmlp's loss| of the batch loss before the update.
The *first exceeding step* is the first step whose deviation (any layer) or loss deviation passes
the tolerance of the dtype (:data:`refmlp.tolerance.TRAINING`, with its reason).

**Per epoch** (and before training), each implementation's weights are evaluated by one numpy
evaluator (refmlp's forward pass and loss on the whole dataset, reduction "mean"): the loss, and
the accuracy (classification) or R^2 (regression, averaged over outputs as scikit-learn's
``score``). So the figures compare what each implementation learned, measured the same way.

torch and scikit-learn are imported only when a run asks for them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .network import MLP, PATHS, REDUCTIONS, check_choice
from .optim import gradients, make_optimizer, parameters
from .tolerance import TRAINING

PRESETS = {
    # name: (optimizer, lr, options); each turns on another part of torch.optim's rules
    "sgd": ("sgd", 0.1, {}),
    "sgd-momentum": ("sgd", 0.05, {"momentum": 0.9}),
    "sgd-nesterov": ("sgd", 0.05, {"momentum": 0.9, "nesterov": True}),
    "sgd-damped-l2": ("sgd", 0.05, {"momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3}),
    "adam": ("adam", 1e-2, {}),
    "adam-amsgrad-l2": ("adam", 1e-2, {"amsgrad": True, "weight_decay": 1e-3}),
    "adamw-amsgrad": ("adamw", 1e-2, {"amsgrad": True}),
}
"""Optimizer settings the parity tests and scripts/train_side_by_side.py run; scikit-learn takes
part in sgd, sgd-momentum, sgd-nesterov (exactly) and adam (approximately)."""

def batch_sequence(n: int, batch_size: int, epochs: int, seed: int = 0) -> Iterator[list[np.ndarray]]:
    """Per epoch, the list of index arrays of its mini-batches (see the module docstring)."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n)
        yield [order[start:start + batch_size] for start in range(0, n, batch_size)]


def score(net: MLP, X: np.ndarray, Y: np.ndarray, task: str) -> float:
    """Accuracy (binary: h_L > 1/2, i.e. a_L > 0, or one sigmoid per class; multiclass: argmax)
    or, for regression, R^2 = 1 - SS_res / SS_tot per output, averaged over outputs."""
    h = net.predict(X)
    if task == "regression":
        ss_res = ((Y - h) ** 2).sum(axis=0)
        ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1 - ss_res / ss_tot))
    if Y.shape[1] == 1:
        return float(np.mean((h[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
    return float(np.mean(h.argmax(axis=1) == Y.argmax(axis=1)))


class RefmlpRunner:
    """refmlp: its backward (``path`` "batched", or "per_sample": Algorithm 2 on each sample, the
    gradients summed) and an optimizer of :mod:`refmlp.optim`."""

    name = "refmlp"

    def __init__(self, net: MLP, X, Y, optimizer: str, lr: float, options: dict, reduction: str,
                 path: str = "batched"):
        self.net, self.X, self.Y, self.reduction, self.path = net, X, Y, reduction, path
        self.optimizer = make_optimizer(optimizer, lr, **options)

    def step(self, idx) -> float:
        trace = self.net.backward(self.X[idx], self.Y[idx], self.reduction, self.path)
        self.optimizer.step(parameters(self.net), gradients(trace))
        return trace.loss

    def weights(self):
        return self.net.W, self.net.b


class TorchRunner:
    """The torch twin with ``torch.optim``'s optimizer of the same name and options."""

    name = "torch"

    def __init__(self, net: MLP, X, Y, optimizer: str, lr: float, options: dict, reduction: str):
        import torch

        from .mirror import twin
        from .optim import TORCH_NAMES

        self.torch, self.spec, self.Y, self.reduction = torch, net.spec, Y, reduction
        self.model = twin(net)
        self.X = torch.tensor(X, dtype=self.model.linears[0].weight.dtype)
        self.optimizer = getattr(torch.optim, TORCH_NAMES[optimizer])(self.model.parameters(), lr=lr, **options)

    def step(self, idx) -> float:
        from .mirror import torch_loss

        self.optimizer.zero_grad(set_to_none=True)
        h = self.X[self.torch.as_tensor(idx)]
        for linear, act in zip(self.model.linears, self.model.acts):
            a = linear(h)
            h = act(a)
        loss = torch_loss(self.spec, a, h, self.Y[idx], self.reduction)
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def weights(self):
        W = [None] + [lin.weight.detach().numpy() for lin in self.model.linears]
        b = [None] + [lin.bias.detach().numpy() for lin in self.model.linears]
        return W, b


@dataclass
class Trajectory:
    """What a side-by-side run recorded. Lists of steps are indexed from step 1 (entry t - 1)."""

    names: list[str]  # "refmlp" first, then the others in the order asked
    dtype: str
    tolerance: float
    loss: dict[str, list[float]]  # per implementation, the batch loss at each step
    deviation: dict[str, np.ndarray]  # per other implementation, (steps, L): vs refmlp, per layer
    loss_deviation: dict[str, np.ndarray]  # per other implementation, (steps,)
    first_exceeding: dict[str, int | None]  # per other implementation: step number, or None
    epochs: list[dict] = field(default_factory=list)  # {"epoch": e, name: {"loss", metric}}
    metric: str = "accuracy"
    notes: dict[str, str] = field(default_factory=dict)  # why an implementation is not exact
    unavailable: dict[str, str] = field(default_factory=dict)  # asked for but cannot run: why
    final_weights: dict[str, tuple] = field(default_factory=dict)
    diverged_at: int | None = None  # the step where a loss or a weight became inf or nan

    @property
    def steps(self) -> int:
        return len(self.loss["refmlp"])

    def to_dict(self, meta: dict | None = None) -> dict:
        """The run as JSON-ready data (``json_safe`` turns non-finite figures into strings):
        verdict, meta (what was run, given by the caller, with the step count and metric),
        tolerance and its reason, each implementation's summary, the ones unavailable and why,
        the step of a divergence, and the per-epoch evaluations."""
        tol = TRAINING[self.dtype]
        return {
            "verdict": verdict(self),
            "meta": {**(meta or {}), "steps": self.steps, "metric": self.metric},
            "tolerance": {"dtype": self.dtype, "rtol": self.tolerance, "reason": tol.reason},
            "implementations": summary(self),
            "unavailable": self.unavailable,
            "diverged_at_step": self.diverged_at,
            "epochs": self.epochs,
        }

    def max_deviation(self, name: str) -> float:
        dev = self.deviation[name]
        return float(max(dev.max(initial=0.0), self.loss_deviation[name].max(initial=0.0)))

    def within(self, name: str) -> bool:
        return self.first_exceeding[name] is None


def relative_deviation(W, b, W_ref, b_ref) -> np.ndarray:
    """Per layer k = 1..L: max |Δ| over W_k and b_k / max |entry| of refmlp's W_k and b_k."""
    out = []
    for k in range(1, len(W_ref)):
        diff = max(np.abs(np.asarray(W[k], np.float64) - W_ref[k]).max(),
                   np.abs(np.asarray(b[k], np.float64) - b_ref[k]).max())
        scale = max(np.abs(W_ref[k]).max(), np.abs(b_ref[k]).max())
        out.append(diff / scale if scale > 0 else diff)
    return np.array(out)


@contextlib.contextmanager
def one_torch_thread(active: bool):
    """torch on one intra-op thread for the run, restored after. These networks are tiny, so
    torch's threads only add synchronisation, and on a shared 2-core machine they made 200 steps
    5 to 20 times slower (measured: 7-28 s against 1.3-4 s for a digits run)."""
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run(
    net: MLP,
    X,
    y,
    *,
    optimizer: str = "sgd",
    lr: float = 0.1,
    options: dict | None = None,
    batch_size: int = 32,
    epochs: int | None = None,
    steps: int | None = None,
    reduction: str = "mean",
    path: str = "batched",
    seed: int = 0,
    compare: tuple[str, ...] = ("torch",),
    task: str | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> Trajectory:
    """Train ``net`` (in place) and each implementation in ``compare`` side by side.

    ``optimizer`` and ``options`` name a :data:`refmlp.optim.OPTIMIZERS` entry and its keyword
    options, torch.optim's; ``path`` is refmlp's backward (see :class:`RefmlpRunner`). Runs ``epochs`` epochs, or stops after ``steps`` steps (whichever is
    given; with ``steps`` the epochs needed are run, the last one possibly cut short). ``task``
    ("binary", "multiclass", "regression") picks the per-epoch metric; by default it is read off
    the loss (regression for squared and absolute). ``on_step(t, total)`` is called after each
    step (a progress bar). Implementations: "torch", and "sklearn" (see
    :mod:`refmlp.sklearn_oracle`; when the run is outside what scikit-learn can do, the reason is
    recorded in ``Trajectory.unavailable`` and the others run).
    """
    with one_torch_thread("torch" in compare):
        return _run(net, X, y, optimizer, lr, options, batch_size, epochs, steps, reduction, path,
                    seed, compare, task, on_step)


def _run(net, X, y, optimizer, lr, options, batch_size, epochs, steps, reduction, path, seed,
         compare, task, on_step) -> Trajectory:
    check_choice("reduction", reduction, REDUCTIONS)
    check_choice("path", path, PATHS)
    options = dict(options or {})
    for name in compare:
        check_choice("implementation to compare", name, ("torch", "sklearn"))
    for what, value in (("batch size", batch_size), ("epochs", epochs), ("steps", steps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"{what} must be a positive integer; got {value!r}")
    X = np.array(net.forward(X).h[0])  # checked, cast to the network's dtype, and our own copy
    n = X.shape[0]
    Y = net.targets(y, n)
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of epochs and steps; got epochs={epochs}, steps={steps}")
    per_epoch = -(-n // batch_size)
    n_epochs = epochs if epochs is not None else -(-steps // per_epoch)
    total = steps if steps is not None else n_epochs * per_epoch
    if task is None:
        task = "regression" if net.spec.loss.name in ("squared", "absolute") else "classification"
    metric = "r2" if task == "regression" else "accuracy"

    initial = MLP(net.spec, net.W, net.b, dtype=net.dtype)  # the others copy these weights
    runners = [RefmlpRunner(net, X, Y, optimizer, lr, options, reduction, path)]
    notes, unavailable = {}, {}
    for name in compare:
        if name == "torch":
            runners.append(TorchRunner(initial, X, Y, optimizer, lr, options, reduction))
        else:
            from .sklearn_oracle import SklearnRunner, Unavailable

            try:
                runner = SklearnRunner(initial, X, Y, optimizer, lr, options, reduction)
            except Unavailable as exc:  # said in the report, not an error: the others still run
                unavailable[name] = str(exc)
                continue
            runners.append(runner)
            if runner.note:
                notes[name] = runner.note
    names = [r.name for r in runners]
    dtype = str(net.dtype)
    traj = Trajectory(
        names=names, dtype=dtype, tolerance=TRAINING[dtype].rtol, loss={n_: [] for n_ in names},
        deviation={}, loss_deviation={}, first_exceeding={n_: None for n_ in names[1:]},
        metric=metric, notes=notes, unavailable=unavailable,
    )
    devs = {n_: [] for n_ in names[1:]}
    ldevs = {n_: [] for n_ in names[1:]}
    evaluator = MLP(net.spec, net.W, net.b, dtype=net.dtype)

    def record_epoch(e: int) -> None:
        row = {"epoch": e}
        for r in runners:
            W, b = r.weights()
            evaluator.set_params(W, b)
            row[r.name] = {"loss": evaluator.loss(X, Y, "mean"), metric: score(evaluator, X, Y, task)}
        traj.epochs.append(row)

    record_epoch(0)
    t = 0
    # Overflow is not warned about step by step: a run that diverges is stopped and reported
    # (Trajectory.diverged_at), which says more than numpy's warnings would.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for e, batches in enumerate(batch_sequence(n, batch_size, n_epochs, seed), start=1):
            for idx in batches[: total - t]:
                t += 1
                if not _step_all(traj, runners, idx, t, devs, ldevs):
                    traj.diverged_at = t
                    break
                if on_step is not None:
                    on_step(t, total)
            if traj.diverged_at is not None:
                break
            record_epoch(e)
    L = net.L
    for name in names[1:]:
        traj.deviation[name] = np.array(devs[name]).reshape(-1, L)
        traj.loss_deviation[name] = np.array(ldevs[name])
    traj.final_weights = {r.name: tuple([w.copy() if w is not None else None for w in ws]
                                        for ws in r.weights()) for r in runners}
    return traj


def _step_all(traj: Trajectory, runners: list, idx, t: int, devs: dict, ldevs: dict) -> bool:
    """One step of every implementation and its deviations from refmlp; False when a loss or a
    weight became inf or nan (training diverged: nothing can be judged through it)."""
    losses = [r.step(idx) for r in runners]
    for r, value in zip(runners, losses):
        traj.loss[r.name].append(value)
    W_ref, b_ref = runners[0].weights()
    finite = bool(np.isfinite(losses).all())
    for r, value in zip(runners[1:], losses[1:]):
        dev = relative_deviation(*r.weights(), W_ref, b_ref)
        ldev = abs(value - losses[0]) / abs(losses[0]) if losses[0] != 0 else abs(value)
        devs[r.name].append(dev)
        ldevs[r.name].append(ldev)
        finite = finite and bool(np.isfinite(dev).all())
        out = not (max(dev.max(), ldev) <= traj.tolerance)  # a nan deviation is out too
        if traj.first_exceeding[r.name] is None and out:
            traj.first_exceeding[r.name] = t
    return finite and all(np.isfinite(w).all() for w in runners[0].weights()[0][1:])


def summary(traj: Trajectory) -> dict:
    """Per implementation: the final loss and metric, and (for the others) the largest deviation
    from refmlp with its step and layer, the first step over the tolerance, and whether it is
    judged (an implementation with a note, scikit-learn's Adam, is reported but not judged)."""
    last = traj.epochs[-1]
    out = {}
    for name in traj.names:
        entry = {"final_loss": last[name]["loss"], traj.metric: last[name][traj.metric]}
        if name != "refmlp":
            dev, ldev = traj.deviation[name], traj.loss_deviation[name]
            step, layer = np.unravel_index(np.argmax(dev), dev.shape) if dev.size else (0, 0)
            entry.update(
                max_deviation=float(dev.max(initial=0.0)),
                max_deviation_step=int(step) + 1 if dev.size else None,
                max_deviation_layer=int(layer) + 1 if dev.size else None,
                max_deviation_per_layer=[float(v) for v in dev.max(axis=0)] if dev.size else [],
                max_loss_deviation=float(ldev.max(initial=0.0)),
                first_exceeding_step=traj.first_exceeding[name],
                judged=name not in traj.notes,
                note=traj.notes.get(name),
            )
        out[name] = entry
    return out


def verdict(traj: Trajectory) -> str:
    """"pass" when every judged implementation stayed within the tolerance at every step and the
    training did not diverge."""
    judged = [n for n in traj.names[1:] if n not in traj.notes]
    ok = traj.diverged_at is None and all(traj.within(n) for n in judged)
    return "pass" if ok else "fail"


def render_table(traj: Trajectory, header: list[str]) -> str:
    """The final table: loss and metric per implementation and the largest deviation seen."""
    rows = summary(traj)
    lines = list(header)
    cols = f"{'implementation':<15}{'final loss':>12}{traj.metric:>10}  {'largest deviation (step, layer)':<33}{'loss dev':>10}  verdict"
    lines += [cols, "-" * len(cols)]
    for name, r in rows.items():
        line = f"{name:<15}{r['final_loss']:>12.6g}{r[traj.metric]:>10.4f}  "
        if name == "refmlp":
            line += f"{'(the reference)':<33}{'':>10}"
        else:
            where = f"{r['max_deviation']:.2e} (step {r['max_deviation_step']}, layer {r['max_deviation_layer']})"
            first = r["first_exceeding_step"]
            state = ("not judged" if not r["judged"] else
                     "ok" if first is None else f"FAIL from step {first}")
            line += f"{where:<33}{r['max_loss_deviation']:>10.1e}  {state}"
        lines.append(line.rstrip())
    for name, reason in traj.unavailable.items():
        lines.append(f"{name:<15}unavailable: {reason}")
    lines.append("-" * len(cols))
    lines.append(
        f"deviation: max |w - w_refmlp| / max |w_refmlp| over each layer's W and b after each step; "
        f"loss dev: relative difference of the batch loss; tolerance {traj.tolerance:g} ({traj.dtype})"
    )
    for name, note in traj.notes.items():
        lines.append(f"note ({name}): {note}")
    if traj.diverged_at is not None:
        lines.append(f"training diverged at step {traj.diverged_at}: a loss or a weight became inf "
                     "or nan, and the run was stopped there (a smaller learning rate?)")
    lines.append(f"verdict: {verdict(traj).upper()}")
    return "\n".join(lines)
