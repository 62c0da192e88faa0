"""Render refmlp check's HTML pages to PNG with headless Chromium, to look at them as a browser does.

    python scripts/screenshot_pages.py --pages grades/ --out shots/     # pages written by --out
    python scripts/screenshot_pages.py --demo --out shots/              # a small class, built here

With ``--demo`` it first checks a few submissions of the catalogue (parity_tests/submissions, the
``disc`` and ``square`` scenarios) and writes their pages into OUT/pages.

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


def demo_pages(folder: Path) -> Path:
    from refmlp.check import check_submission
    from refmlp.check.pages import StudentResult, write_pages

    results = []
    for rel in DEMO:
        # square: its W_k are square, so a transposed gradient has the right shape and numbers
        rep = check_submission(CATALOGUE / rel, scenarios=["disc", "square"])
        print(f"checked {rel}: {rep.verdict}", file=sys.stderr)
        results.append(StudentResult(Path(rel).name, rep.to_dict(), rep.to_text(),
                                     seconds=None))
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
