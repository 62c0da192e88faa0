"""How long `refmlp check` takes on one submission across all scenarios: the median of N runs of
the command, each a fresh process (imports, the sandbox worker and torch included).

    .venv/bin/python scripts/check_timing.py [SUBMISSION] [--runs 5]

SUBMISSION defaults to examples/check_adapter with its adapter. Prints every run and the median.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submission", nargs="?", help="a submission folder or mlp.py")
    parser.add_argument("--adapter", help="an adapter file, as for refmlp check")
    parser.add_argument("--runs", type=int, default=5, help="number of runs (default: 5)")
    args = parser.parse_args(argv)
    cmd = [str(Path(sys.executable).with_name("refmlp")), "check"]
    if args.submission is None:
        ex = ROOT / "examples" / "check_adapter"
        cmd += [str(ex / "netlib.py"), "--adapter", str(ex / "adapter.py")]
    else:
        cmd += [args.submission] + (["--adapter", args.adapter] if args.adapter else [])
    times, cpus = [], []
    for i in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU of the command and everything it waited for (the sandbox worker and its children)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        verdict = next((l for l in proc.stdout.splitlines() if l.startswith("verdict:")), "?")
        print(f"run {i + 1}: {times[-1]:.2f} s wall, {cpus[-1]:.2f} s CPU, exit {proc.returncode}, {verdict}")
    print(f"median of {args.runs}: {statistics.median(times):.2f} s wall (min {min(times):.2f}, "
          f"max {max(times):.2f}), {statistics.median(cpus):.2f} s CPU; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {' '.join(cmd[1:])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
