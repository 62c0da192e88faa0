"""``refmlp autograder``: the zip Gradescope runs ``refmlp check`` from, one container per submission.

The zip holds, at its root (Gradescope's autograder specification):

- ``setup.sh``: run once, as root, when Gradescope builds the image. It installs Python 3.11 if
  the image has none, a venv at ``/autograder/venv``, torch's CPU-only build, numpy and refmlp at
  the versions of the refmlp that built the zip (the wheel is in the zip: the image never depends
  on an index holding this exact refmlp).
- ``run_autograder``: run per submission. It checks ``/autograder/submission`` with ``refmlp
  check --gradescope /autograder/results/results.json`` and the options given here, under an
  overall time limit, and writes a results.json of score 0 with the reason whenever refmlp could
  not (it crashed, it is not installed, the limit passed).
- ``refmlp_autograder.json``: those options (scenarios, rubric, timeouts), read by
  ``python -m refmlp.check.autograder`` in the container; the rubric and scenario files beside it.

``REFMLP_AUTOGRADER_ROOT`` (default ``/autograder``), ``REFMLP_AUTOGRADER_PYTHON`` (default
``$ROOT/venv/bin/python``) and ``REFMLP_AUTOGRADER_LIMIT`` (seconds, default the bundle's
``--limit``) move the tree, the interpreter and the limit, to run the bundle outside Gradescope.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shlex
import sys
import zipfile
from importlib import metadata
from pathlib import Path

CONFIG = "refmlp_autograder.json"
PYTHON = "3.11"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # torch's own index of CPU-only builds
# Gradescope stops run_autograder after the assignment's limit (10 minutes unless raised); refmlp
# stops itself before, so that its results.json, not a blank page, says what happened.
DEFAULT_LIMIT = 540.0

DESCRIPTION = (
    "Build the zip to upload as a Gradescope programming assignment's autograder: setup.sh "
    "(Python 3.11, torch CPU-only, numpy and this refmlp, pinned) and run_autograder (checks "
    "/autograder/submission with 'refmlp check --gradescope' and always writes "
    "/autograder/results/results.json, score 0 with the reason when it cannot grade)."
)
EPILOG = ("example: refmlp autograder --out autograder.zip --scenario disc --scenario digits "
          "--timeout 20. Test it locally: unzip into ROOT/source, put a submission in "
          "ROOT/submission, run REFMLP_AUTOGRADER_ROOT=ROOT REFMLP_AUTOGRADER_PYTHON=$(which "
          "python) bash ROOT/source/run_autograder, read ROOT/results/results.json.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description, parser.epilog = DESCRIPTION, EPILOG
    parser.add_argument("--out", required=True, metavar="FILE.zip",
                        help="where to write the zip (its folder must exist)")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="check only this scenario (repeatable; default: all, plus the file's)")
    parser.add_argument("--scenario-file", metavar="FILE",
                        help="TOML or JSON file of extra scenarios, copied into the zip")
    parser.add_argument("--rubric", metavar="FILE",
                        help="rubric TOML (points per scenario and check), copied into the zip "
                             "(default: refmlp's default rubric)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="wall-clock limit per check (default: refmlp check's)")
    parser.add_argument("--student-timeout", type=float, default=None, metavar="SECONDS",
                        help="limit on the whole check of a submission (default: refmlp check's)")
    parser.add_argument("--helpers", choices=("apart", "count"), default=None,
                        help="the student's own layers.py / losses.py: judged apart (refmlp "
                             "check's default) or counted in the verdict")
    parser.add_argument("--limit", type=float, default=DEFAULT_LIMIT, metavar="SECONDS",
                        help="limit of the whole run, after which results.json says so with score "
                             f"0; keep it under Gradescope's own (default: {DEFAULT_LIMIT:g})")
    parser.add_argument("--visibility", default="visible",
                        choices=("hidden", "after_due_date", "after_published", "visible"),
                        help="when students see the results (default: visible)")
    parser.add_argument("--torch-index", default=TORCH_CPU_INDEX, metavar="URL",
                        help=f"index setup.sh installs torch from (default: {TORCH_CPU_INDEX})")


def run(args) -> int:
    from ..commands.options import UsageError

    try:
        path = build(args.out, scenarios=args.scenario, scenario_file=args.scenario_file,
                     rubric=args.rubric, timeout=args.timeout,
                     student_timeout=args.student_timeout, helpers=args.helpers,
                     limit=args.limit,
                     visibility=args.visibility, torch_index=args.torch_index)
    except BundleError as exc:
        raise UsageError(str(exc)) from None
    names = zipfile.ZipFile(path).namelist()
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB): {', '.join(names)}")
    print("upload it as the autograder of a Gradescope programming assignment (Configure "
          "Autograder > Zip file upload); students then upload mlp.py (or their folder)")
    return 0


class BundleError(ValueError):
    """An option that cannot make a working bundle (a missing file, a bad number)."""


def pins() -> dict[str, str]:
    """The versions this refmlp runs with, which the bundle installs: refmlp's own, torch's
    (without its local +cpu tag: the CPU index serves it as such) and numpy's."""
    out = {}
    for name in ("refmlp", "torch", "numpy"):
        try:
            out[name] = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            raise BundleError(f"{name} is not installed here, so the bundle cannot pin its "
                              "version: install refmlp with its dependencies first") from None
    return out


def _check_options(scenarios, scenario_file, rubric, timeout, student_timeout,
                   helpers=None) -> list[str]:
    """The ``refmlp check`` options the container runs with; file paths relative to source/."""
    from .scenarios import SCENARIOS, ScenarioError, load_scenario_file

    args = []
    extra = []
    if scenario_file:
        try:
            extra = [s.name for s in load_scenario_file(scenario_file)]
        except ScenarioError as exc:
            raise BundleError(str(exc)) from None
        args += ["--scenario-file", bundled_name("scenarios", scenario_file)]
    for name in scenarios or ():
        if name not in SCENARIOS and name not in extra:
            raise BundleError(f"--scenario {name!r} is not a scenario; known: "
                              f"{', '.join([*SCENARIOS, *extra])}")
        args += ["--scenario", name]
    if rubric:
        args += ["--rubric", bundled_name("rubric", rubric)]
    if timeout is not None:
        if not (timeout >= 0.5 and timeout < float("inf")):
            raise BundleError(f"--timeout must be a finite number of seconds >= 0.5; got {timeout}")
        args += ["--timeout", repr(float(timeout))]
    if student_timeout is not None:
        if not (student_timeout >= 1 and student_timeout < float("inf")):
            raise BundleError("--student-timeout must be a finite number of seconds >= 1; got "
                              f"{student_timeout}")
        args += ["--student-timeout", repr(float(student_timeout))]
    if helpers is not None:
        args += ["--helpers", helpers]
    return args


def bundled_name(kind: str, path) -> str:
    """The name an instructor's file has in the zip: fixed, so that no two collide and none
    replaces setup.sh; the suffix kept (a scenario file is read by it: .toml or .json)."""
    return f"{kind}{Path(path).suffix.lower()}"


def build(out, *, scenarios=None, scenario_file=None, rubric=None, timeout=None,
          student_timeout=None, helpers=None, limit=DEFAULT_LIMIT, visibility="visible",
          torch_index=TORCH_CPU_INDEX) -> Path:
    """Write the autograder zip to ``out``; returns its path."""
    out = Path(out)
    if not out.parent.is_dir():
        raise BundleError(f"--out {out}: folder {out.parent} does not exist")
    if not (limit >= 10 and limit < float("inf")):
        raise BundleError(f"--limit must be a finite number of seconds >= 10; got {limit}")
    from . import rubric as rubrics

    check_args = _check_options(scenarios, scenario_file, rubric, timeout, student_timeout,
                                helpers)
    try:
        total = rubrics.load(rubric).total
    except rubrics.RubricError as exc:
        raise BundleError(str(exc)) from None
    versions = pins()
    wheel_name, wheel = build_wheel(versions["refmlp"])
    config = {"check_args": check_args, "limit": limit, "visibility": visibility,
              "max_score": total, "versions": versions}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        _add(z, "setup.sh", setup_script(versions, wheel_name, torch_index), executable=True)
        _add(z, "run_autograder", RUN_AUTOGRADER.replace("@LIMIT@", str(int(limit)))
             .replace("@MAX_SCORE@", repr(float(total))), executable=True)
        _add(z, CONFIG, json.dumps(config, indent=2) + "\n")
        _add(z, wheel_name, wheel)
        for kind, extra in (("scenarios", scenario_file), ("rubric", rubric)):
            if extra:
                _add(z, bundled_name(kind, extra), Path(extra).read_bytes())
    return out


def _add(z: zipfile.ZipFile, name: str, data, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    z.writestr(info, data)


def setup_script(versions: dict, wheel_name: str, torch_index: str) -> str:
    q = shlex.quote
    return f"""#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu).
set -euxo pipefail
SRC=/autograder/source
export DEBIAN_FRONTEND=noninteractive
if ! python{PYTHON} -c "import venv, ensurepip" >/dev/null 2>&1; then
    apt-get update
    if ! apt-get install -y --no-install-recommends python{PYTHON} python{PYTHON}-venv; then
        # this Ubuntu release's archive has another Python 3: the deadsnakes PPA builds the others
        apt-get install -y --no-install-recommends software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update
        apt-get install -y --no-install-recommends python{PYTHON} python{PYTHON}-venv
    fi
fi
python{PYTHON} -m venv /autograder/venv
PIP="/autograder/venv/bin/python -m pip"
$PIP install --upgrade pip
# torch's CPU-only build: the default one pulls several GB of CUDA libraries a grader never uses
$PIP install --index-url {q(torch_index)} torch=={versions['torch']}
$PIP install numpy=={versions['numpy']} "$SRC/{wheel_name}"
/autograder/venv/bin/python -c "import torch, refmlp.check.submission; print('refmlp', refmlp.__version__, 'torch', torch.__version__)"
chmod +x "$SRC/run_autograder"
"""


# The fallback results.json holds only fixed text and a number: nothing to escape.
RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this per submission, from /autograder: check /autograder/submission, write
# /autograder/results/results.json. A results.json is written whatever happens.
set -u
ROOT="${REFMLP_AUTOGRADER_ROOT:-/autograder}"
PY="${REFMLP_AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
LIMIT="${REFMLP_AUTOGRADER_LIMIT:-@LIMIT@}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
status=0
# SIGINT first: refmlp then stops its sandbox and writes results saying so; SIGKILL 10 s later
timeout --signal=INT --kill-after=10 "$LIMIT" "$PY" -m refmlp.check.autograder "$ROOT" || status=$?
# a results.json that is not a JSON object with a numeric score is no result (Gradescope would
# reject it, and the student would see nothing): replaced like a missing one
if [ -s "$RESULTS" ] && ! "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if isinstance(d, dict) and isinstance(d.get("score"), (int, float)) else 1)' "$RESULTS" 2>/dev/null; then
    why="the results.json it found was not a JSON object with a score"
    rm -f "$RESULTS"
fi
if [ ! -s "$RESULTS" ]; then
    if [ -n "${why:-}" ]; then
        :
    elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
        why="the check took longer than $LIMIT s and was stopped"
    else
        why="refmlp stopped (exit code $status) before writing its results: see the autograder's log"
    fi
    cat > "$RESULTS" <<EOF
{"score": 0.0, "output": "The autograder could not grade this submission: $why.",
 "output_format": "text", "stdout_visibility": "hidden",
 "tests": [{"name": "grading the submission", "score": 0.0, "max_score": @MAX_SCORE@, "status": "failed",
            "output": "The autograder could not grade this submission: $why.",
            "visibility": "visible"}]}
EOF
fi
exit 0
"""


def build_wheel(version: str) -> tuple[str, bytes]:
    """A wheel of the installed refmlp (its package files and the dataset snapshots as
    ``refmlp.snapshots``), built from what is installed: no build backend, no network."""
    import io

    from ..data import snapshot_dir

    package = Path(__file__).resolve().parent.parent
    files = []
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc" \
                and rel.parts[0] != "snapshots":
            files.append((f"refmlp/{rel.as_posix()}", path.read_bytes()))
    snapshots = snapshot_dir()
    for path in sorted(snapshots.iterdir()):
        if path.suffix == ".npz" or path.name == "MANIFEST.json":
            files.append((f"refmlp/snapshots/{path.name}", path.read_bytes()))
    if not any(name.endswith("MANIFEST.json") for name, _ in files):
        raise BundleError(f"no dataset snapshots found at {snapshots}: the scenarios need them")
    dist = f"refmlp-{version}.dist-info"
    requires = [r for r in metadata.requires("refmlp") or () if "extra ==" not in r]
    python = metadata.metadata("refmlp").get("Requires-Python") or f">={PYTHON}"
    files.append((f"{dist}/METADATA", "\n".join(
        ["Metadata-Version: 2.1", "Name: refmlp", f"Version: {version}",
         f"Requires-Python: {python}", *(f"Requires-Dist: {r}" for r in requires), ""]).encode()))
    files.append((f"{dist}/WHEEL", b"Wheel-Version: 1.0\nGenerator: refmlp autograder\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    files.append((f"{dist}/entry_points.txt", b"[console_scripts]\nrefmlp = refmlp.cli:main\n"))
    record = []
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files.append((f"{dist}/RECORD", ("\n".join(record) + "\n").encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            _add(z, name, data)
    return f"refmlp-{version}-py3-none-any.whl", buf.getvalue()


# ---- inside the container -----------------------------------------------------------------------
def grade_in_container(root) -> int:
    """Check ``ROOT/submission`` as the bundle's config says, into ``ROOT/results/results.json``;
    whatever goes wrong, a results.json of score 0 says what."""
    import time

    from . import gradescope

    t0 = time.monotonic()
    root = Path(root)
    results = root / "results" / "results.json"
    source = root / "source"
    config = None
    try:
        config = json.loads((source / CONFIG).read_text())
        check_args = [str(source / a) if i and config["check_args"][i - 1] in FILE_OPTIONS else a
                      for i, a in enumerate(config["check_args"])]
        submission = root / "submission"
        if not submission.is_dir() or not any(submission.iterdir()):
            gradescope.write(results, gradescope.error_results(
                "the submission is empty: upload mlp.py (or the folder holding it)",
                max_score=config.get("max_score", 0.0), execution_time=time.monotonic() - t0))
            return 0
        from ..cli import main

        code = main(["check", str(submission), "--gradescope", str(results),
                     "--gradescope-visibility", config.get("visibility", "visible"), *check_args])
        print(f"refmlp check exited with {code}")
    except BaseException as exc:  # noqa: BLE001 - the student must get a page, not nothing
        if not results.is_file():
            gradescope.write(results, gradescope.error_results(
                "the check was stopped before it finished (the autograder's time limit)"
                if isinstance(exc, KeyboardInterrupt) else
                f"refmlp failed ({exc!r}); the instructor sees the details in the log",
                max_score=config.get("max_score", 0.0) if config else 0.0,
                execution_time=time.monotonic() - t0))
        raise
    if not results.is_file():
        gradescope.write(results, gradescope.error_results(
            f"refmlp check stopped with exit code {code} before writing results",
            max_score=config.get("max_score", 0.0), execution_time=time.monotonic() - t0))
    return 0


FILE_OPTIONS = ("--scenario-file", "--rubric")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python -m refmlp.check.autograder ROOT (the /autograder tree)", file=sys.stderr)
        sys.exit(2)
    sys.exit(grade_in_container(sys.argv[1]))
