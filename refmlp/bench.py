"""``refmlp bench``: refmlp's training against torch and scikit-learn, and against the BLAS itself.

What runs
---------
Workloads (each in float32 and float64), all plain SGD, reduction "mean" except W3 (batch 1):

- **W1** digits: 64 -> 128 -> 128 -> 10, leaky ReLU, softmax cross-entropy, batches of 128, one
  epoch over the 1,797 digits samples.
- **W2** large: 784 -> 256 -> 256 -> 10, the same activations and loss, batches of 128, one epoch
  over 60,000 seeded synthetic samples (standard normal features, uniform labels).
- **W3** the course's loop: the disc network 2 -> 100 -> 2 -> 1 (leaky, leaky, logistic; logistic
  loss), per-sample SGD (batches of 1) over the 1,000 disc samples.
- **W4** the parity check itself: one full comparison (:func:`refmlp.oracle.parity`, every quantity
  at every layer) of W1's network on one batch of 128 digits, timed after the imports.

Contenders, each in processes of its own:

- ``refmlp``: :func:`refmlp.network.sgd_epoch` (what :func:`refmlp.network.train` runs per epoch),
  the one-hot targets made inside the timed region.
- ``torch``: ``nn.Sequential`` of ``nn.Linear`` and ``nn.LeakyReLU``, ``nn.CrossEntropyLoss`` (or
  ``BCEWithLogitsLoss``) on the logits, ``torch.optim.SGD`` (no momentum), ``zero_grad``, the
  mini-batch gathered by indexing, eager mode.
- ``sklearn``: ``MLPClassifier(solver="sgd", momentum=0, alpha=0, learning_rate="constant",
  shuffle=True)``, one ``partial_fit`` call per epoch (partial_fit is one pass over the data with
  no early stopping and no convergence checks). scikit-learn has no leaky ReLU: it runs ``relu``,
  whose cost is the same, and its output pairing is the same (softmax + cross-entropy, logistic +
  log-loss, mean over samples).
- ``roofline``: only the workload's GEMMs, at its own shapes and memory orders, one epoch's worth,
  through numpy's BLAS into preallocated outputs: the FLOP rate this machine's BLAS reaches on
  exactly this work. "of roofline" is that time over a contender's time.

Counting: per dense layer with fan-in n_{k-1} and fan-out n_k, 2 B n_{k-1} n_k FLOPs forward, the
same for its weight gradient, and the same again for the gradient passed back, except at layer 1.

Threads: the parent sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS in each child's
environment (they must be set before numpy or torch load), and the child applies
``threadpoolctl.threadpool_limits`` and ``torch.set_num_threads`` too, then records
``threadpool_info()``. Each figure is the median over processes of each process's median over its
repeats (after a warm-up run), with the min and max over every run.

Peak memory: the child resets the kernel's resident-set high-water mark (``/proc/self/clear_refs``
5) after its imports and data are in memory, runs the contender (model, buffers, warm-up and
repeats), and reports VmHWM minus the resident set at the reset. It is the same OS-level measure
for numpy, torch's own allocator and the BLAS buffers alike, which tracemalloc is not (torch's
allocations never reach it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclasses.dataclass(frozen=True)
class Workload:
    """One benchmark workload: the network (sizes, hidden activation, loss), the SGD settings and
    the data, and who runs it."""

    name: str
    title: str
    sizes: tuple
    activation: str
    loss: str
    batch: int
    samples: int
    data: str  # "digits", "disc" or "synthetic"
    lr: float
    reduction: str
    contenders: tuple

    def spec(self):
        from .network import Spec
        return Spec.build(self.sizes[0], list(self.sizes[1:-1]), self.sizes[-1],
                          activation=self.activation, loss=self.loss)

    def steps(self, n: int) -> list[int]:
        """The batch sizes of one epoch over n samples."""
        return [min(self.batch, n - s) for s in range(0, n, self.batch)]

    def flops(self, n: int) -> int:
        """FLOPs of one epoch's GEMMs, counted as the module docstring says."""
        per_sample = sum(2 * a * b * (3 if k > 1 else 2)
                         for k, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1))
        return per_sample * n


TRAIN = ("refmlp", "torch", "sklearn", "roofline")
WORKLOADS = {w.name: w for w in (
    Workload("W1", "digits 64-128-128-10, batch 128, 1 epoch", (64, 128, 128, 10), "leaky_relu",
             "cross_entropy", 128, 1797, "digits", 0.05, "mean", TRAIN),
    Workload("W2", "synthetic 784-256-256-10, batch 128, 1 epoch", (784, 256, 256, 10), "leaky_relu",
             "cross_entropy", 128, 60000, "synthetic", 0.01, "mean", TRAIN),
    Workload("W3", "disc 2-100-2-1, per-sample SGD, 1 epoch", (2, 100, 2, 1), "leaky_relu",
             "logistic", 1, 1000, "disc", 0.01, "sum", TRAIN),
    Workload("W4", "parity of W1's network on one batch of 128", (64, 128, 128, 10), "leaky_relu",
             "cross_entropy", 128, 128, "digits", 0.0, "mean", ("parity",)),
)}


# ---- inside a child process ----------------------------------------------------------------
now = time.perf_counter  # the clock the runners read; a child with job["clock"] == "cpu" swaps it


def make_data(w: Workload, dtype, n: int):
    """X (n, n_0) of ``dtype`` and int labels (n,), seeded; digits and disc are the snapshots."""
    if w.data == "synthetic":
        rng = np.random.default_rng(0)
        return rng.standard_normal((n, w.sizes[0])).astype(dtype), rng.integers(0, w.sizes[-1], n)
    from .data import load_dataset
    data = load_dataset(w.data)
    if n < data.n_samples:
        data = data.subset(n, 0)
    # writable copies: torch.from_numpy warns about the snapshots' read-only arrays
    return np.array(data.X, dtype=dtype, order="C"), np.array(data.labels)


def rss_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> int:
    """Reset VmHWM to the current resident set and return that."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return rss_bytes("VmRSS")


def run_refmlp(w, X, labels, orders, dtype, threads, roofline=None):
    """Each timed epoch is followed, when ``roofline`` is given, by the roofline's epoch in this
    same process: the ratio of the two moments apart is steadier than one of processes minutes
    apart on a machine whose load changes."""
    from .network import MLP, sgd_epoch

    net = MLP(w.spec(), init="torch", seed=0, dtype=dtype)
    times, roof, ws = [], [], None
    for order in orders:
        t0 = now()
        Y = net.targets(labels, len(labels))
        ws = sgd_epoch(net, X, Y, order, w.lr, w.batch, w.reduction, ws)
        times.append(now() - t0)
        if roofline is not None:
            roof.append(roofline())
    return times, {"net": net, "paired_roofline": roof}


def torch_model(w, dtype):
    import torch
    from torch import nn

    from .network import init_params

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    layers = []
    for k in range(1, len(w.sizes)):
        layers.append(nn.Linear(w.sizes[k - 1], w.sizes[k], dtype=tdtype))
        if k < len(w.sizes) - 1:
            layers.append(nn.LeakyReLU(0.01))
    model = nn.Sequential(*layers)
    W, b = init_params(w.spec(), "torch", seed=0, dtype=dtype)  # refmlp's starting weights
    with torch.no_grad():
        for k, lin in enumerate(model[0::2], start=1):
            lin.weight.copy_(torch.from_numpy(W[k]))
            lin.bias.copy_(torch.from_numpy(b[k]))
    return model


def run_torch(w, X, labels, orders, dtype, threads):
    import torch
    from torch import nn

    model = torch_model(w, dtype)
    opt = torch.optim.SGD(model.parameters(), lr=w.lr)
    if w.loss == "cross_entropy":
        loss_fn, yt = nn.CrossEntropyLoss(reduction=w.reduction), torch.from_numpy(labels)
    else:
        loss_fn = nn.BCEWithLogitsLoss(reduction=w.reduction)
        yt = torch.from_numpy(labels.astype(dtype)[:, None])
    Xt = torch.from_numpy(X)  # shares X's memory
    times = []
    for order in orders:
        t0 = now()
        perm = torch.from_numpy(order)
        for s in range(0, len(order), w.batch):
            idx = perm[s:s + w.batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            opt.step()
        times.append(now() - t0)
    return times, {}


def run_sklearn(w, X, labels, orders, dtype, threads):
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=w.sizes[1:-1], activation="relu", solver="sgd",
                        alpha=0.0, batch_size=w.batch, learning_rate="constant",
                        learning_rate_init=w.lr, momentum=0.0, nesterovs_momentum=False,
                        shuffle=True, random_state=0, early_stopping=False)
    classes = np.arange(w.sizes[-1] if w.sizes[-1] > 1 else 2)
    times = []
    for _ in orders:  # partial_fit shuffles with its own random_state
        t0 = now()
        clf.partial_fit(X, labels, classes=classes)
        times.append(now() - t0)
    return times, {"computes_in": str(clf.coefs_[0].dtype), "activation": "relu"}


def gemm_operands(w, dtype, B):
    """Per layer, the operands and outputs of the three GEMMs, in the workspace's memory orders."""
    rng = np.random.default_rng(0)

    def r(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(dtype)

    ops = []
    for k, (n_prev, n) in enumerate(zip(w.sizes[:-1], w.sizes[1:]), start=1):
        W, H, G = r(n, n_prev), r(B, n_prev), r(B, n)
        ops.append((H, W.T, np.empty((B, n), dtype)))  # A_k = H_{k-1} W_k^T
        ops.append((G.T, H, np.empty((n, n_prev), dtype)))  # W_derivs_k = G_k^T H_{k-1}
        if k > 1:
            ops.append((G, W, np.empty((B, n_prev), dtype)))  # G_{k-1} = G_k W_k
    return ops


def roofline_epoch(w, dtype, n: int):
    """A function timing one epoch's GEMMs (their operands made now, once)."""
    ops = {B: gemm_operands(w, dtype, B) for B in set(w.steps(n))}
    plan = [ops[B] for B in w.steps(n)]

    def epoch() -> float:
        t0 = now()
        for step in plan:
            for A, Bm, out in step:
                np.matmul(A, Bm, out=out)
        return now() - t0

    return epoch


def run_roofline(w, X, labels, orders, dtype, threads):
    epoch = roofline_epoch(w, dtype, len(labels))
    return [epoch() for _ in orders], {}


def run_parity(w, X, labels, orders, dtype, threads):
    from .oracle import parity

    spec, reports, times = w.spec(), [], []
    for _ in orders:
        t0 = now()
        reports.append(parity(spec, X, labels, dtype=np.dtype(dtype).name, reduction=w.reduction,
                              init="torch", seed=0))
        times.append(now() - t0)
    return times, {"passed": all(r.passed for r in reports)}


RUNNERS = {"refmlp": run_refmlp, "torch": run_torch, "sklearn": run_sklearn,
           "roofline": run_roofline, "parity": run_parity}


def grad_check(w, net, X, labels, order) -> dict:
    """refmlp vs torch on the epoch's last full mini-batch at the weights training left: the parity
    report's verdict, the largest normwise difference max |refmlp - torch| / max |torch| of
    W_derivs and b_derivs over the layers (an elementwise relative difference would be ruled by
    the entries that cancel to nearly 0), and the largest fraction of the tolerance any element of
    any quantity used."""
    from .oracle import parity

    start = max(len(order) // w.batch - 1, 0) * w.batch
    idx = order[start:start + w.batch]
    report = parity(net, X[idx], labels[idx], reduction=w.reduction)
    grads = [r for r in report.rows if r.quantity in ("W_derivs", "b_derivs")]
    return {
        "passed": report.passed,
        "batch": len(idx),
        "normwise_diff": max(r.max_abs_diff / r.expected_max_abs for r in grads if r.expected_max_abs),
        "max_abs_diff": max(r.max_abs_diff for r in grads),
        "tolerance_used": max(r.tolerance_used for r in report.rows if r.tolerance_used is not None),
    }


def child(job: dict) -> dict:
    """One contender on one workload in this process: warm-up, repeats, memory, thread record."""
    global now
    now = time.process_time if job.get("clock") == "cpu" else time.perf_counter
    threads = job["threads"]
    w = WORKLOADS[job["workload"]]
    dtype = np.dtype(job["dtype"]).type
    contender = job["contender"]
    if contender in ("torch", "parity"):
        import torch
        torch.set_num_threads(threads)
    if contender == "sklearn":
        import sklearn.neural_network  # noqa: F401  (imported before the memory baseline)
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(threads)
    X, labels = make_data(w, dtype, job["samples"])
    rng = np.random.default_rng(1)
    orders = [rng.permutation(len(labels)) for _ in range(job["warmup"] + job["repeats"])]
    kwargs = {}
    if contender == "refmlp" and "roofline" in w.contenders:  # its operands made before the baseline
        kwargs["roofline"] = roofline_epoch(w, dtype, len(labels))
    base = reset_peak()
    times, extra = RUNNERS[contender](w, X, labels, orders, dtype, threads, **kwargs)
    peak = rss_bytes("VmHWM") - base
    out = {
        "times": times[job["warmup"]:],
        "peak_bytes": peak,
        "samples": len(labels),
        "threadpools": [{k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
                        for info in threadpool_info()],
    }
    out.update({k: v for k, v in extra.items() if k not in ("net", "paired_roofline")})
    if extra.get("paired_roofline"):
        pairs = zip(extra["paired_roofline"][job["warmup"]:], times[job["warmup"]:])
        out["paired_of_roofline"] = [r / t for r, t in pairs]
    if contender == "torch":
        import torch
        out["torch_threads"] = torch.get_num_threads()
    if job.get("grad_check") and contender == "refmlp":
        out["grad_check"] = grad_check(w, extra["net"], X, labels, orders[-1])
    return out


# ---- the per-phase profile of refmlp's epoch ---------------------------------------------------
PHASES = ("GEMMs", "activations f, f'", "bias add and sum", "loss derivative g_L", "update",
          "gathering the batch")


class _Timed:
    """A numpy function (or ufunc, with its .reduce) that adds its run time to the phase of the
    refmlp.network function calling it."""

    def __init__(self, fn, phases, name):
        self.fn, self.phases, self.name = fn, phases, name

    def __call__(self, *args, **kwargs):
        return self._time(self.fn, sys._getframe(1).f_code.co_name, args, kwargs)

    def __getattr__(self, attr):
        method = getattr(self.fn, attr)
        return lambda *args, **kwargs: self._time(method, sys._getframe(1).f_code.co_name, args, kwargs)

    def _time(self, fn, caller, args, kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.phases[phase_of(caller, self.name)] += time.perf_counter() - t0
        return out


def phase_of(caller: str, name: str) -> str:
    if name == "matmul":
        return "GEMMs"
    if caller.endswith(("_into", "_fprime_mul", "f_into", "fprime_mul")):
        return "activations f, f'"
    if caller == "descend":
        return "update"
    if caller == "gather":
        return "gathering the batch"
    if name == "add":
        return "bias add and sum"
    return "loss derivative g_L"


class _TimedNumpy:
    def __init__(self, phases):
        self._phases = phases

    def __getattr__(self, name):
        return _Timed(getattr(np, name), self._phases, name)


def profile(w: Workload, dtype, samples: int, repeats: int) -> dict:
    """refmlp's epoch split into phases: each numpy call of refmlp.network timed and attributed to
    the phase of the function that made it; the rest of those epochs is the interpreter's share
    (the loop, attribute look-ups, calls) and the timers' own cost. Wall time (perf_counter costs
    tens of nanoseconds, the CPU-time clock a system call of the size of the smallest numpy calls),
    in this process, which the caller has pinned to 1 thread."""
    from . import network

    X, labels = make_data(w, dtype, samples)
    net = network.MLP(w.spec(), init="torch", seed=0, dtype=dtype)
    Y = net.targets(labels, len(labels))
    rng = np.random.default_rng(1)
    ws = network.sgd_epoch(net, X, Y, rng.permutation(len(labels)), w.lr, w.batch, w.reduction)
    plain = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        network.sgd_epoch(net, X, Y, rng.permutation(len(labels)), w.lr, w.batch, w.reduction, ws)
        plain.append(time.perf_counter() - t0)
    phases = dict.fromkeys(PHASES, 0.0)
    real_np, real_gather = network.np, network.gather
    network.np = _TimedNumpy(phases)

    def gather(src, idx, out):
        t0 = time.perf_counter()
        real_gather(src, idx, out)
        phases["gathering the batch"] += time.perf_counter() - t0

    network.gather = gather
    try:
        t0 = time.perf_counter()
        for _ in range(repeats):
            network.sgd_epoch(net, X, Y, rng.permutation(len(labels)), w.lr, w.batch, w.reduction, ws)
        total = (time.perf_counter() - t0) / repeats
    finally:
        network.np, network.gather = real_np, real_gather
    phases = {k: v / repeats for k, v in phases.items()}
    # the rest of the same profiled epochs: the loop, look-ups and calls, and the timers' own cost
    phases["interpreter and timers (the rest)"] = total - sum(phases.values())
    return {"epoch_s": statistics.median(plain), "profiled_epoch_s": total, "phases": phases}


def render_profile(w: Workload, dtype: str, prof: dict) -> str:
    lines = [f"refmlp's epoch on {w.name} {dtype} ({w.title}), 1 thread: "
             f"{fmt_time(prof['profiled_epoch_s'])} with the timers, {fmt_time(prof['epoch_s'])} without; wall time",
             f"{'phase':<38}{'time':>12}{'share':>8}"]
    for name, t in prof["phases"].items():
        lines.append(f"{name:<38}{fmt_time(t):>12}{t / prof['profiled_epoch_s']:>8.0%}")
    return "\n".join(lines)


# ---- the parent: processes, medians, table ----------------------------------------------------
def run_child(job: dict, timeout: float) -> dict:
    env = dict(os.environ, **{v: str(job["threads"]) for v in THREAD_VARS})
    done = subprocess.run([sys.executable, "-m", "refmlp.bench", "--child", json.dumps(job)],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {job} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(results: list[dict]) -> dict:
    per_process = [statistics.median(r["times"]) for r in results]
    every = [t for r in results for t in r["times"]]
    out = {
        "median_s": statistics.median(per_process),
        "min_s": min(every),
        "max_s": max(every),
        "processes": len(results),
        "runs": len(every),
        "peak_mb": statistics.median(r["peak_bytes"] for r in results) / 2**20,
        "threadpools": results[0]["threadpools"],
    }
    for key in ("computes_in", "activation", "torch_threads", "passed"):
        if key in results[0]:
            out[key] = results[0][key]
    if "paired_of_roofline" in results[0]:
        out["paired_of_roofline"] = statistics.median(statistics.median(r["paired_of_roofline"])
                                                      for r in results)
    checks = [r["grad_check"] for r in results if "grad_check" in r]
    if checks:
        out["grad_check"] = checks[0]
    return out


def jobs_for(args) -> list[dict]:
    cells = []
    for name in args.workloads:
        w = WORKLOADS[name]
        n = w.samples if args.samples is None else min(w.samples, args.samples)
        for dtype in args.dtypes:
            for contender in w.contenders:
                cells.append(dict(workload=name, dtype=dtype, contender=contender, samples=n,
                                  warmup=args.warmup, repeats=args.repeats, clock=args.clock))
    jobs = []
    for threads in args.threads:
        for p in range(args.processes):
            # a rotated order each round, so that no contender always follows the same neighbour
            shift = p % len(cells)
            for cell in cells[shift:] + cells[:shift]:
                jobs.append(dict(cell, threads=threads, process=p, grad_check=(p == 0)))
    return jobs


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def collect(args) -> dict:
    jobs = jobs_for(args)
    raw: dict = {}
    before = machine()
    t_start = time.perf_counter()
    for i, job in enumerate(jobs, start=1):
        if not args.json:
            print(f"\r  [{i}/{len(jobs)}] {job['workload']} {job['dtype']} {job['contender']} "
                  f"{job['threads']} thread(s), process {job['process'] + 1}      ",
                  end="", file=sys.stderr, flush=True)
        key = (job["workload"], job["dtype"], job["threads"], job["contender"])
        raw.setdefault(key, []).append(run_child(job, args.timeout))
    if not args.json:
        print(f"\r  {len(jobs)} processes in {time.perf_counter() - t_start:.0f} s" + " " * 40,
              file=sys.stderr)
    results = []
    for (name, dtype, threads) in dict.fromkeys((k[0], k[1], k[2]) for k in raw):
        w = WORKLOADS[name]
        contenders = {c: summarise(raw[(name, dtype, threads, c)]) for c in w.contenders}
        n = raw[(name, dtype, threads, w.contenders[0])][0]["samples"]
        entry = {"workload": name, "title": w.title, "dtype": dtype, "threads": threads,
                 "samples": n, "contenders": contenders}
        if "refmlp" in contenders:
            entry["gflop_per_epoch"] = w.flops(n) / 1e9
            ref = contenders["refmlp"]["median_s"]
            roof = contenders["roofline"]["median_s"]
            for c in contenders.values():
                c["samples_per_s"] = n / c["median_s"]
                c["gflops"] = w.flops(n) / 1e9 / c["median_s"]
                c["refmlp_speedup"] = c["median_s"] / ref  # refmlp's throughput / this one's
                c["of_roofline"] = roof / c["median_s"]
        results.append(entry)
    return {"settings": {k: v for k, v in vars(args).items() if k not in ("json", "save", "command")},
            "machine": dict(before, load_average_after=machine()["load_average"]),
            "python": sys.version.split()[0], "numpy": np.__version__, "results": results,
            "startup": startup_times(args.startup_runs) if args.startup_runs else None}


def startup_times(runs: int) -> dict:
    """Median wall time of ``refmlp --help`` and ``refmlp datasets`` as new processes, and whether
    either imported torch or scikit-learn (read off ``python -X importtime``)."""
    out = {}
    for name, argv in (("refmlp --help", ["--help"]), ("refmlp datasets", ["datasets"])):
        cmd = [sys.executable, "-m", "refmlp", *argv]
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        imported = subprocess.run([sys.executable, "-X", "importtime", "-m", "refmlp", *argv],
                                  capture_output=True, text=True).stderr
        heavy = sorted({m for line in imported.splitlines() for m in ("torch", "sklearn")
                        if line.rsplit("|", 1)[-1].strip().split(".")[0] == m})
        out[name] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
                     "runs": runs, "imports": heavy}
    return out


def fmt_time(s: float) -> str:
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.3f} s"


def summary(data: dict) -> str:
    """One line per workload, dtype and thread count: samples/s with refmlp's speed-up over each
    peer, refmlp's fraction of the roofline (from the roofline's own processes, and paired run by
    run inside refmlp's), peak memory of refmlp and torch."""
    head = (f"{'':<12}{'thr':>4}{'refmlp':>10}{'torch (speed-up)':>20}{'sklearn (speed-up)':>20}"
            f"{'roofline':>10}{'of roofline':>13}{'(paired)':>9}{'peak MB refmlp/torch':>22}")
    lines = ["summary: samples/s, and refmlp's speed-up over each peer", head, "-" * len(head)]
    for e in data["results"]:
        c = e["contenders"]
        label = f"{e['workload']} {e['dtype']}"
        if "refmlp" not in c:
            p = c["parity"]
            lines.append(f"{label:<12}{e['threads']:>4}  one parity comparison: {fmt_time(p['median_s'])} "
                         f"({fmt_time(p['min_s'])}-{fmt_time(p['max_s'])}), {'PASS' if p['passed'] else 'FAIL'}")
            continue

        def peer(name):
            return f"{c[name]['samples_per_s']:,.0f} ({c[name]['refmlp_speedup']:.2f}x)"

        lines.append(f"{label:<12}{e['threads']:>4}{c['refmlp']['samples_per_s']:>10,.0f}{peer('torch'):>20}"
                     f"{peer('sklearn'):>20}{c['roofline']['samples_per_s']:>10,.0f}"
                     f"{c['refmlp']['of_roofline']:>13.0%}{c['refmlp'].get('paired_of_roofline', float('nan')):>9.0%}"
                     f"{c['refmlp']['peak_mb']:>14.1f} / {c['torch']['peak_mb']:.1f}")
    return "\n".join(lines)


def render(data: dict) -> str:
    s = data["settings"]
    lines = [
        f"refmlp bench: medians over {s['processes']} process(es) x {s['repeats']} repeat(s), "
        f"each process after {s['warmup']} warm-up run(s); (min-max over every run); "
        f"{'wall' if s['clock'] == 'wall' else 'CPU'} time",
        "speed-up: refmlp's samples/s over the contender's; of roofline: the BLAS time of the "
        "workload's GEMMs alone over the contender's time",
    ]
    if "machine" in data:
        m = data["machine"]
        lines.append(f"machine: {m['cpu']}, {m['cpus']} CPUs; load average (1, 5, 15 min) "
                     f"{m['load_average']} before, {m['load_average_after']} after")
    head = (f"{'contender':<10}{'median (min-max)':>28}{'samples/s':>12}{'GFLOP/s':>9}"
            f"{'speed-up':>10}{'of roofline':>12}{'peak MB':>9}")
    for entry in data["results"]:
        n = entry["samples"]
        lines += ["", f"{entry['workload']} {entry['dtype']}, {entry['threads']} thread(s): "
                      f"{entry['title']}, {n} samples"
                      + (f", {entry['gflop_per_epoch']:.2f} GFLOP" if "gflop_per_epoch" in entry else ""),
                  head, "-" * len(head)]
        for name, c in entry["contenders"].items():
            span = f"{fmt_time(c['median_s'])} ({fmt_time(c['min_s'])}-{fmt_time(c['max_s'])})"
            if "samples_per_s" in c:
                speed = "-" if name == "refmlp" else f"{c['refmlp_speedup']:.2f}x"
                lines.append(f"{name:<10}{span:>28}{c['samples_per_s']:>12,.0f}{c['gflops']:>9.1f}"
                             f"{speed:>10}{c['of_roofline']:>11.0%} {c['peak_mb']:>8.1f}")
            else:
                lines.append(f"{name:<10}{span:>28}{'':>12}{'':>9}{'':>10}{'':>12}{c['peak_mb']:>9.1f}"
                             f"  verdict {'PASS' if c.get('passed') else 'FAIL'}")
            notes = []
            if name == "sklearn":
                notes.append(f"sklearn runs {c.get('activation')} (it has no leaky ReLU), computes in "
                             f"{c.get('computes_in')}")
            if name == "torch":
                notes.append(f"torch threads {c.get('torch_threads')}")
            if name in ("refmlp", "parity", "sklearn", "torch"):
                pools = ", ".join(f"{p['internal_api']} {p['version']} x{p['num_threads']}"
                                  for p in c["threadpools"])
                notes.append(f"thread pools: {pools}")
            for note in notes:
                lines.append(f"{'':<10}  {note}")
            if "paired_of_roofline" in c:
                lines.append(f"{'':<10}  paired with the roofline in the same process, run by run: "
                             f"{c['paired_of_roofline']:.0%} of roofline (median of the ratios)")
            if "grad_check" in c:
                g = c["grad_check"]
                lines.append(
                    f"{'':<10}  gradients vs torch on the last full batch ({g['batch']}) at the trained "
                    f"weights: max|diff|/max|torch| {g['normwise_diff']:.1e}, max abs diff "
                    f"{g['max_abs_diff']:.2e}, tol used {g['tolerance_used']:.2g}, "
                    f"{'PASS' if g['passed'] else 'FAIL'}")
    lines += ["", summary(data)]
    if data.get("startup"):
        lines += ["", "start-up (new process each run):"]
        for name, st in data["startup"].items():
            lines.append(f"  {name:<18}{fmt_time(st['median_s'])} median over {st['runs']} "
                         f"({fmt_time(st['min_s'])}-{fmt_time(st['max_s'])}), imports torch/sklearn: "
                         f"{', '.join(st['imports']) or 'neither'}")
    return "\n".join(lines)


def run(args) -> int:
    """``refmlp bench`` from its parsed options (refmlp/commands/bench.py)."""
    if args.quick:
        args.processes, args.repeats, args.threads, args.startup_runs = 1, 1, [1], 2
        args.samples = min(args.samples or 512, 512)
    if args.profile:
        for name in args.workloads:
            w = WORKLOADS[name]
            if "refmlp" not in w.contenders:
                continue
            for dtype in args.dtypes:
                job = dict(workload=name, dtype=dtype, repeats=args.repeats,
                           samples=w.samples if args.samples is None else min(w.samples, args.samples))
                env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
                done = subprocess.run([sys.executable, "-m", "refmlp.bench", "--profile-child",
                                       json.dumps(job)], env=env, text=True, capture_output=True)
                if done.returncode != 0:
                    raise RuntimeError(f"profile of {name} {dtype} failed:\n{done.stderr}")
                print(done.stdout, flush=True)
        return 0
    data = collect(args)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(data, f, indent=2)
    print(json.dumps(data, indent=2) if args.json else render(data), flush=True)
    failed = [f"{e['workload']} {e['dtype']} {e['threads']}" for e in data["results"]
              for c in e["contenders"].values()
              if c.get("passed") is False or c.get("grad_check", {}).get("passed") is False]
    return 1 if failed else 0


def main(argv=None) -> int:
    """The children's entry point (``python -m refmlp.bench --child JSON``); people run
    ``refmlp bench`` (options in refmlp/commands/bench.py)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 2 and argv[0] == "--child":
        print(json.dumps(child(json.loads(argv[1]))), flush=True)
        return 0
    if len(argv) == 2 and argv[0] == "--profile-child":
        from threadpoolctl import threadpool_limits

        job = json.loads(argv[1])
        threadpool_limits(1)
        w = WORKLOADS[job["workload"]]
        prof = profile(w, np.dtype(job["dtype"]).type, job["samples"], job["repeats"])
        print(render_profile(w, job["dtype"], prof), flush=True)
        return 0
    print("python -m refmlp.bench is the benchmark's child process; run 'refmlp bench' "
          "(or python scripts/bench.py) instead", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
