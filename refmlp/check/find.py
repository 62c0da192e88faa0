"""Finding each student's submission in a class folder, and turning a notebook into a module.

A class folder holds one subfolder per student (``find_class``). Inside a student's folder, at any
depth down to MAX_DEPTH (symbolic links are not followed; hidden folders, ``__pycache__`` and
virtual environments are not searched), the submission is, in this order:

1. a file named ``mlp.py`` under any case (``MLP.py``, ``Mlp.py``);
2. else a file named ``neuralnet.py`` under any case;
3. else a single other ``.py`` file defining ``class MLP`` or ``class NeuralNet`` (read with
   ``ast``, never imported);
4. else a single notebook (``.ipynb``) whose code defines one of them.

The first rule that finds exactly one file decides; a rule that finds several makes the student an
error listing them (the checker does not guess which one is meant), and so does finding nothing.
The course's helper files (``layers.py``, ``losses.py``), test scripts (``test_*.py``,
``*_test.py``, ``tests.py``, ``conftest.py``) and ``adapter.py`` are never candidates. An
``adapter.py`` anywhere in the student's folder is that student's adapter.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .runner import printable
from .sandbox.files import Refused, read_regular

MAX_DEPTH = 6  # student/HW6/final/src/mlp.py is depth 4; deeper is an unpacked environment
SKIP_DIRS = frozenset({"__pycache__", "venv", "env", "site-packages", "node_modules", "__MACOSX"})
NOT_CANDIDATES = frozenset({"layers.py", "losses.py", "adapter.py", "tests.py", "conftest.py",
                            "setup.py"})
CLASSES = ("MLP", "NeuralNet")
HASH_WHOLE = 8 * 2**20  # files larger than this are hashed by size and mtime, not content
# What is read to find the homework, before any sandbox: a .py file as much as the checker copies
# (runner.SOURCE_CAP), a notebook 32 MiB (its outputs' images included; a course's is ~1 MB).
# A file past its cap is no candidate: a sparse 2 GiB file would otherwise be read whole.
PY_CAP, NOTEBOOK_CAP = 5 * 2**20, 32 * 2**20
# What the parser raises besides SyntaxError: a null byte (ValueError), an expression nested
# past its stack ("too complex": MemoryError, or RecursionError)
UNPARSABLE = (SyntaxError, ValueError, MemoryError, RecursionError)


@dataclass(frozen=True)
class Submission:
    """One student's work as found: ``file`` to check (a .py or a .ipynb), or ``problem``."""

    name: str  # the student's folder name: the row's name in every output
    root: Path  # the student's folder
    file: Path | None = None
    adapter: Path | None = None
    problem: str | None = None  # why there is nothing to check: no candidate, or several

    @property
    def is_notebook(self) -> bool:
        return self.file is not None and self.file.suffix.lower() == ".ipynb"


def _walk(root: Path):
    """Regular files below ``root`` (not through symbolic links), sorted, depth-bounded."""
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth < MAX_DEPTH and entry.name not in SKIP_DIRS:
                    pending.append((Path(entry.path), depth + 1))
            elif entry.is_file(follow_symlinks=False):
                yield Path(entry.path)


def defines_class(text: str) -> bool:
    """Whether Python source defines class MLP or NeuralNet at its top level (or, for source that
    does not parse, on a line of its own: the sandbox then reports the syntax error)."""
    try:
        tree = ast.parse(text)
    except UNPARSABLE:
        return re.search(rf"^class\s+({'|'.join(CLASSES)})\b", text, re.M) is not None
    return any(isinstance(node, ast.ClassDef) and node.name in CLASSES for node in tree.body)


def _is_test(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py")


def _read(path: Path, cap: int = PY_CAP) -> str:
    try:
        return read_regular(os.fspath(path), cap).decode(errors="replace")
    except Refused:
        return ""


def locate_submission(root, name: str | None = None) -> Submission:
    """The submission inside one student's folder ``root`` (see the module docstring)."""
    root = Path(root)
    if not name:  # "." and ".." are named by the folders they are; a link keeps its own name
        name = (root.name if root.name not in ("", "..") else root.resolve().name) or "submission"
    files = sorted(_walk(root))
    adapters = [f for f in files if f.name == "adapter.py"]
    if len(adapters) > 1:
        return Submission(name, root, problem="several adapter.py files: "
                          + ", ".join(printable(str(a.relative_to(root))) for a in adapters)
                          + " (keep one, beside the submission)")
    adapter = adapters[0] if adapters else None
    py = [f for f in files if f.suffix == ".py" and f.name.lower() not in NOT_CANDIDATES
          and not _is_test(f.name.lower())]
    rules = [
        ("files named mlp.py", [f for f in py if f.name.lower() == "mlp.py"]),
        ("files named neuralnet.py", [f for f in py if f.name.lower() == "neuralnet.py"]),
        ("Python files defining class MLP or NeuralNet",
         [f for f in py if defines_class(_read(f))]),
        ("notebooks defining class MLP or NeuralNet",
         [f for f in files if f.suffix.lower() == ".ipynb" and _notebook_defines_class(f)]),
    ]
    for what, found in rules:
        if len(found) == 1:
            return Submission(name, root, file=found[0], adapter=adapter)
        if found:
            listed = ", ".join(printable(str(f.relative_to(root))) for f in found)
            return Submission(name, root, adapter=adapter, problem=(
                f"{len(found)} {what}: {listed}; the checker does not guess which one is the "
                "homework: leave one"))
    return Submission(name, root, adapter=adapter, problem=(
        "no submission found: no mlp.py or neuralnet.py, and no .py file or notebook defining "
        f"class MLP or NeuralNet (searched {_files(files, root)}, {MAX_DEPTH} folders deep)"))


def _files(files: list[Path], root: Path, shown: int = 5) -> str:
    """``2 files: notes.txt, util.py``: what the student's folder held instead."""
    if not files:
        return "no files"
    names = [str(f.relative_to(root)) for f in files[:shown]]
    more = f", and {len(files) - shown} more" if len(files) > shown else ""
    return f"{len(files)} file{'s' if len(files) > 1 else ''}: {', '.join(names)}{more}"


def find_class(parent) -> list[Submission] | str:
    """One Submission per immediate subfolder of ``parent``, sorted by name, or a string saying
    why ``parent`` is no class folder."""
    p = Path(parent)
    if not p.is_dir():
        return f"--each {parent}: not a folder (give the folder that holds one subfolder per student)"
    # a student's folder may be a symbolic link the instructor made; inside it, none is followed
    students = sorted((d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")),
                      key=lambda d: d.name)
    if not students:
        return f"--each {parent}: no subfolders (expected one subfolder per student)"
    return [locate_submission(d) for d in students]


def digest(root) -> str:
    """A hash of every file below ``root`` (names and contents): a rerun redoes a student whose
    digest changed. Files over HASH_WHOLE bytes count by size and modification time."""
    h = hashlib.sha256()
    root = Path(root)
    for f in sorted(_walk(root)):
        rel = str(f.relative_to(root)).encode()
        try:
            st = f.stat()
            h.update(len(rel).to_bytes(4, "little") + rel)
            if st.st_size > HASH_WHOLE:
                h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            else:
                h.update(hashlib.sha256(f.read_bytes()).digest())
        except OSError as exc:  # unreadable: its state is part of what changed
            h.update(f"unreadable {exc.errno}".encode())
    return h.hexdigest()


# ---- notebooks ----------------------------------------------------------------------------------
KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
DISPLAY = frozenset({"matplotlib", "seaborn", "plotly", "IPython", "ipywidgets", "google", "tqdm"})
LOADERS = re.compile(r"^(load|fetch|make_|read|open|train|fit|plot|show|savefig|imshow|input)")


def _cells(path: Path) -> list[str]:
    """The notebook's code cells as text ([] when it is not a notebook's JSON)."""
    try:
        doc = json.loads(_read(path, NOTEBOOK_CAP))
    except (ValueError, RecursionError):  # RecursionError: arrays nested past the parser's stack
        return []
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):  # nbformat 3 kept them under worksheets
        cells = [c for w in (doc.get("worksheets") or []) if isinstance(w, dict)
                 for c in w.get("cells") or []] if isinstance(doc, dict) else []
    out = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        out.append("".join(src) if isinstance(src, list) else str(src))
    return out


def _notebook_defines_class(path: Path) -> bool:
    return any(defines_class(_strip_magics(c)[0]) for c in _cells(path))


MAGIC = re.compile(r"^(\s*)(%|!|[\w., ]+=\s*[%!])")


def _strip_magics(cell: str) -> tuple[str, dict]:
    """(the cell's Python, {file: text} of %%writefile cells): IPython line magics, shell lines
    and cell magics dropped (a line inside a block becomes ``pass`` so the block still parses)."""
    lines = cell.splitlines()
    if lines and lines[0].startswith("%%"):
        magic = lines[0][2:].split()
        if magic and magic[0] == "writefile" and len(magic) >= 2:
            return "", {magic[-1]: "\n".join(lines[1:]) + "\n"}
        if magic and magic[0] in ("time", "timeit", "capture"):  # the body is Python
            lines = lines[1:]
        else:
            return "", {}
    out = []
    for line in lines:
        m = MAGIC.match(line)
        out.append(f"{m.group(1)}pass  # (an IPython line, dropped)" if m else line)
    return "\n".join(out), {}


def _calls(node: ast.AST, own: set) -> bool:
    """Whether ``node`` calls something that runs an experiment: the notebook's own classes and
    functions, or a loader/trainer/plotter by its name."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in own or LOADERS.match(name):
                return True
    return False


def _keep(node: ast.stmt, own: set) -> bool:
    """A statement a module needs at import (definitions, imports, constants); not one that runs
    the notebook's experiments (loops, calls, training, plots), nor the import of a display
    library (matplotlib alone takes ~1 s to import, in every check)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
            a.name for a in node.names]
        return not any(m.split(".")[0] in DISPLAY for m in modules)
    if isinstance(node, KEPT):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return node.value is not None and not _calls(node.value, own)
    if isinstance(node, ast.Expr):  # a docstring stays; a call or a bare expression does not
        return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    if isinstance(node, (ast.If, ast.Try)):  # `try: import x / except ImportError: ...`
        blocks = [node.body, node.orelse] + [h.body for h in getattr(node, "handlers", [])]
        return all(_keep(n, own) for b in blocks for n in b) and not (
            isinstance(node, ast.If) and _calls(node.test, own))
    return False


def notebook_to_module(path) -> tuple[str, dict]:
    """(a module's source, {file name: text} the notebook writes with %%writefile) from a
    notebook: its code cells in order, magics and shell lines dropped, and of each cell only the
    statements needed at import. The statements left out (training loops, plots, top-level calls,
    prints) are listed in comments, so that importing the module runs no experiment."""
    path = Path(path)
    cells = [_strip_magics(c) for c in _cells(path)]
    written = {name: text for _, files in cells for name, text in files.items()}
    parsed = []
    own = set()
    for i, (text, _) in enumerate(cells, start=1):
        try:
            tree = ast.parse(text)
        except UNPARSABLE:
            tree = None
        parsed.append((i, text, tree))
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
    parts = [f"# made by refmlp check from the notebook {path.name}: its code cells' imports,\n"
             "# definitions and constants; what runs experiments is left out (named below)\n"]
    for i, text, tree in parsed:
        if not text.strip():
            continue
        if tree is None:
            # kept as it is: if it holds the class, the sandbox reports the syntax error
            parts.append(f"# ---- cell {i} (does not parse)\n{text}\n")
            continue
        lines = text.splitlines()
        kept, dropped = [], []
        for node in tree.body:
            start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
            seg = "\n".join(lines[start - 1:node.end_lineno])
            (kept if _keep(node, own) else dropped).append(seg)
        if not kept and not dropped:
            continue
        parts.append(f"# ---- cell {i}")
        parts += kept
        parts += ["# left out: " + seg.splitlines()[0][:90] for seg in dropped
                  if not seg.lstrip().startswith("pass  # (an IPython line")]
        parts.append("")
    return "\n".join(parts) + "\n", written


def module_name(path) -> str:
    """A notebook's stem as an importable module name ('HW6 final (1)' -> 'HW6_final__1_')."""
    stem = re.sub(r"\W", "_", Path(path).stem) or "notebook"
    return ("nb_" + stem) if stem[0].isdigit() else stem
