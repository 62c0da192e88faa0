"""Benchmarks side by side: refmlp's training against torch, scikit-learn and the BLAS roofline.

The same as ``refmlp bench`` (see ``refmlp bench --help`` and refmlp/bench.py for what is measured
and how); this script only forwards its arguments. Examples:

    python scripts/bench.py                      # the full run: W1-W4, float32 and float64, 1 and 2 threads
    python scripts/bench.py --quick              # a smoke run
    python scripts/bench.py --profile --workloads W2 --dtypes float32   # where refmlp's time goes
"""

import sys

from refmlp.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
