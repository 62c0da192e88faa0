"""Render refmlp check's HTML pages to PNG with headless Chromium, to look at them as a browser does.

    python scripts/screenshot_pages.py --pages grades/ --out shots/     # pages written by --out
    python scripts/screenshot_pages.py --demo --out shots/              # a small class, built here

With ``--demo`` it first checks a few submissions of the catalogue (parity_tests/submissions, the
``disc`` scenario) and writes their pages into OUT/pages. Where a report carries no arrays of its
first divergence, the demo adds two students whose arrays are computed by refmlp itself on the
course's disc network: one with W_derivs_1 stored transposed, one with f' missing at layer 1 (g_1
without the leaky ReLU's slope), so that the heat maps have something to show; their pages say
they are made up.

Chromium comes from the system's packages (Debian: apt-get install chromium); pages are opened as
file:// URLs, offline. Writes OUT/index.png and OUT/<student>.png for each student page (at most
--max-students). Exit code 0 when every screenshot was written.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = REPO / "parity_tests" / "submissions"
DEMO = ["correct/layer_lists", "correct/explicit_loops", "buggy/fprime_missing_lists",
        "buggy/W_derivs_transposed_layer_lists", "buggy/W_instead_of_WT_columns",
        "buggy/h_k_for_h_k_minus_1_lists", "buggy/forward_bias_missing_named",
        "buggy/step_wrong_sign_layer_lists"]


def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def screenshot(chrome: str, page: Path, png: Path, width: int, height: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="refmlp-chromium-") as profile:
        proc = subprocess.run(
            [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions",
             f"--window-size={width},{height}", f"--screenshot={png}", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not png.is_file():
        print(f"chromium failed on {page}: {proc.stderr[-800:]}", file=sys.stderr)
        return False
    return True


def made_up_students():
    """Two students whose first-divergence arrays refmlp computes on the disc network."""
    import numpy as np

    from refmlp.check.pages import StudentResult
    from refmlp.network import MLP, Spec

    spec = Spec.build(2, [8, 2], 1, activation="leaky_relu", loss="logistic")
    net = MLP(spec, seed=3)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((1, 2)), np.array([[1.0]])
    ref = net.backward(x, y, reduction="sum")
    W1 = np.asarray(ref.W_derivs[1])  # (8, 2)
    # f' missing at layer 1: g_1 lacks the leaky slope (0.01) where a_1 < 0, and W_derivs_1 =
    # g_1 x^T carries it into every column
    slope = np.where(np.asarray(ref.a[1])[0] > 0, 1.0, 0.01)
    W1_no_fprime = (np.asarray(ref.g[1])[0] / slope)[:, None] * x[0][None, :]
    out = []
    for name, fd, key, msg in (
            ("demo_transposed (made up)",
             {"layer": 1, "quantity": "W_derivs", "expected": W1.tolist(), "actual": W1.T.tolist()},
             "W_derivs_transposed", "the W gradient is stored transposed, h_{k-1} g^T: it must be "
             "the outer product g h_{k-1}^T, of shape (out, in) like W_k."),
            ("demo_fprime_missing (made up)",
             {"layer": 1, "quantity": "W_derivs", "expected": W1.tolist(),
              "actual": W1_no_fprime.tolist()},
             "fprime_missing", "g is not multiplied by f'_k(a_k) at the hidden layers.")):
        rep = {"verdict": "fail", "submission": name, "api": "MLP", "checks": [],
               "first_divergence": fd, "diagnosis": {"key": key, "message": msg},
               "message": "made up by scripts/screenshot_pages.py --demo: refmlp's own arrays "
                          "with the bug put in, not a checked submission"}
        out.append(StudentResult(name, rep, "(made-up demo student: no report)"))
    return out


def demo_pages(folder: Path) -> Path:
    from refmlp.check import check_submission
    from refmlp.check.pages import StudentResult, write_pages

    results = []
    for rel in DEMO:
        rep = check_submission(CATALOGUE / rel, scenarios=["disc"])
        print(f"checked {rel}: {rep.verdict}", file=sys.stderr)
        results.append(StudentResult(Path(rel).name, rep.to_dict(), rep.to_text(),
                                     seconds=None))
    if not any((r.report.get("first_divergence") or {}).get("expected") is not None
               for r in results):
        results += made_up_students()
    return write_pages(folder, results)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--pages", type=Path, help="folder holding index.html (refmlp check --out)")
    src.add_argument("--demo", action="store_true", help="build a small class's pages first")
    ap.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=1400)
    ap.add_argument("--max-students", type=int, default=12)
    args = ap.parse_args(argv)
    chrome = browser()
    if chrome is None:
        print("no Chromium found: apt-get install chromium (Debian's package)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    index = demo_pages(args.out / "pages") if args.demo else args.pages / "index.html"
    if not index.is_file():
        print(f"{index} does not exist", file=sys.stderr)
        return 2
    pages = [(index, args.out / "index.png")]
    for sub in sorted(p for p in index.parent.iterdir() if (p / "index.html").is_file()):
        pages.append((sub / "index.html", args.out / f"{sub.name}.png"))
    ok = True
    for page, png in pages[: args.max_students + 1]:
        ok &= screenshot(chrome, page, png, args.width, args.height)
        print(f"{png}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
