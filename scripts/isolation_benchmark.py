"""What the OS isolation of `refmlp check` costs: one submission checked in every isolation mode this
machine has (refmlp/check/sandbox/confine.py), the modes interleaved run after run, in one process.

    .venv/bin/python scripts/isolation_benchmark.py [SUBMISSION] [--runs 7] [--scenario disc ...]

SUBMISSION defaults to examples/check_adapter with its adapter. Prints, per mode, the median wall
time of a submission's check (judge included, torch imported once beforehand), the median of its
checks' own process times (the worker's fork to reap, as the worker measures it), and the
difference from ``none`` per submission and per check, with the ratio. Then the confinement's own
steps, timed alone (medians of 40): a check's locks (a forked child's fork-to-reap with and without
them) and a submission's namespaces and root (the same, entering them). Quiet machines only: the
figures are as noisy as the load.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", nargs="?", help="a submission folder or mlp.py")
    parser.add_argument("--adapter", help="an adapter file, as for refmlp check")
    parser.add_argument("--runs", type=int, default=7, help="runs per mode (default: 7)")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="check only this scenario (repeatable; default: all)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1; got {args.runs}")

    from refmlp.check import check_submission, runner
    from refmlp.check.sandbox import confine

    if args.submission is None:
        ex = ROOT / "examples" / "check_adapter"
        args.submission, args.adapter = str(ex / "netlib.py"), str(ex / "adapter.py")
    modes = confine.available()
    print(f"modes on this machine: {', '.join(modes)}; {args.runs} runs each, interleaved; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    walls = {m: [] for m in modes}
    checks = {m: [] for m in modes}  # per run: the median of its checks' process times
    n_checks = 0
    collect = runner.Run.collect

    def timed_collect(run):  # the checks' own times, as the worker reported them
        outcomes = collect(run)
        checks[run.isolation].append(statistics.median(
            o.seconds for o in outcomes.values() if o.seconds is not None))
        return outcomes

    runner.Run.collect = timed_collect
    check_submission(args.submission, adapter=args.adapter, scenarios=args.scenario)  # warm-up
    for i in range(args.runs):
        for mode in modes[i % len(modes):] + modes[:i % len(modes)]:
            os.environ[confine.ENV] = mode
            t0 = time.perf_counter()
            rep = check_submission(args.submission, adapter=args.adapter, scenarios=args.scenario)
            walls[mode].append(time.perf_counter() - t0)
            n_checks = len(rep.checks)
            print(f"run {i + 1} {mode:<10} {walls[mode][-1]:6.2f} s  {rep.verdict}", flush=True)
    runner.Run.collect = collect
    base, base_check = statistics.median(walls["none"]), statistics.median(checks["none"])
    print(f"\n{n_checks} checks per submission; medians of {args.runs} runs")
    print(f"{'mode':<11}{'submission':>12}{'vs none':>10}{'ratio':>8}{'a check':>11}{'vs none':>11}")
    for mode in modes:
        wall, one = statistics.median(walls[mode]), statistics.median(checks[mode])
        print(f"{mode:<11}{wall:11.3f}s{wall - base:+9.3f}s{wall / base:8.3f}"
              f"{one * 1000:9.1f}ms{(one - base_check) * 1000:+9.1f}ms")
    steps(confine, "namespaces" in modes)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def forked(work, n=40):
    """Median seconds from fork to reap of a child that runs ``work`` and exits."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                work()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def steps(confine, namespaces):
    """The confinement's steps alone, each against a bare fork."""
    with tempfile.TemporaryDirectory(prefix="refmlp-bench-") as tmp:
        os.mkdir(os.path.join(tmp, "scratch"))
        confine.prepare()
        bare = forked(lambda: None)
        locked = forked(lambda: confine.lock_check("fallback", os.path.join(tmp, "scratch")))
        print(f"\na check's locks: {(locked - bare) * 1000:.1f} ms (fork to reap {locked * 1000:.1f} "
              f"ms with them, {bare * 1000:.1f} ms without)")
        if namespaces:
            def enter():
                root = tempfile.mkdtemp(dir=tmp)
                confine.enter_namespaces(root, os.path.join(tmp, "scratch"))

            entered = forked(enter)
            print(f"a submission's namespaces and root: {(entered - bare) * 1000:.1f} ms (fork to "
                  f"reap {entered * 1000:.1f} ms entering them)")


if __name__ == "__main__":
    sys.exit(main())
