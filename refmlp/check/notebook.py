"""Checking from a notebook: ``check_class(MLP)`` and ``check_source(text)``.

    from refmlp.check import check_class
    check_class(MLP)          # in Jupyter, after the cell that defines class MLP

The class is never run in the notebook's process by the checker: its source is taken, written to
a scratch folder as ``mlp.py`` (``neuralnet.py`` for ``NeuralNet``) and checked in the sandbox
like a file. The source is the class's own text plus what it uses from its module: the modules
it names (``np`` -> ``import numpy as np``), the functions and classes defined beside it (their
source, and what they use in turn), names imported from other modules (``from layers import
logistic``) and plain constants. Where Python keeps no source (a class typed into the plain
interactive interpreter, or made by ``exec``), or the class uses a global that has no source (an
array, an object), the error says so and what to do.

How the class's text is found: :func:`inspect.getsource` where the class's module has a file;
else (a Jupyter cell, whose module ``__main__`` has no file) through its methods, whose code
objects name the cell, whose text IPython keeps in :mod:`linecache`.
"""

from __future__ import annotations

import ast
import dis
import inspect
import linecache
import tempfile
import textwrap
import types
from pathlib import Path


class SourceUnavailable(ValueError):
    """The class's source, or that of something it uses, cannot be found."""


def check_source(text: str, *, name: str = "<source>", **options):
    """Check the text of an ``mlp.py`` (or ``neuralnet.py``); options as for
    :func:`refmlp.check.check_submission`. Returns the report."""
    from .submission import check_submission

    if not isinstance(text, str):
        raise TypeError(f"check_source takes the text of mlp.py as a str; got {type(text).__name__}")
    file = "neuralnet.py" if "class NeuralNet" in text and "class MLP" not in text else "mlp.py"
    with tempfile.TemporaryDirectory(prefix="refmlp-notebook-") as folder:
        (Path(folder) / file).write_text(text)
        report = check_submission(folder, **options)
    report.submission = name
    return report


def check_class(cls, **options):
    """Check a class defined in this process (a notebook's ``MLP``) by its source; options as
    for :func:`refmlp.check.check_submission`. Returns the report."""
    return check_source(class_source(cls), name=f"class {getattr(cls, '__name__', cls)}",
                        **options)


def class_source(cls) -> str:
    """A module's text that defines ``cls`` as its source does, with what it uses (see the
    module's docstring); a class named otherwise than MLP or NeuralNet is checked as MLP."""
    if not isinstance(cls, type):
        raise TypeError(f"check_class takes the class itself (check_class(MLP), not an instance "
                        f"MLP(...)); got {type(cls).__name__} {cls!r:.80}")
    glob = _globals_of(cls)
    parts = {"imports": [], "constants": [], "defs": []}
    body = _source_of(cls)
    _collect(cls, glob, parts, seen={cls.__name__})
    text = "\n".join([*dict.fromkeys(parts["imports"]), *parts["constants"], "", *parts["defs"],
                      body])
    if cls.__name__ not in ("MLP", "NeuralNet"):
        text += f"\n\nclass MLP({cls.__name__}):\n    pass\n"
    return text


def _functions(cls) -> list[types.FunctionType]:
    out = []
    for value in vars(cls).values():
        value = getattr(value, "__func__", value)  # staticmethod, classmethod
        if isinstance(value, types.FunctionType):
            out.append(value)
    return out


def _globals_of(cls) -> dict:
    fns = _functions(cls)
    if fns:
        return fns[0].__globals__
    import sys

    module = sys.modules.get(cls.__module__)
    return vars(module) if module else {}


def _source_of(obj) -> str:
    """The text of a class or a function, from its file or (a notebook cell) from linecache."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        pass
    name = obj.__name__
    codes = [f.__code__ for f in (_functions(obj) if isinstance(obj, type) else [obj])]
    for code in codes:
        lines = linecache.getlines(code.co_filename)
        if not lines:
            continue
        text = "".join(lines)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name
                    and node.lineno <= code.co_firstlineno <= (node.end_lineno or node.lineno)):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return textwrap.dedent("".join(lines[start - 1:node.end_lineno]))
    kind = "class" if isinstance(obj, type) else "function"
    raise SourceUnavailable(
        f"the source of {kind} {name} is not available: Python keeps none for code typed into the "
        "plain interactive interpreter or made by exec (Jupyter and IPython keep it, and so does "
        f"a file). Put {name} in a file and run check_submission(path), or pass its text to "
        "check_source(text)")


def _global_names(obj) -> set[str]:
    """The globals a class's methods (or a function) read: LOAD_GLOBAL in their bytecode, nested
    functions and comprehensions included, and the class's bases. Names a method binds itself
    (a local ``y``) are not globals, even when the notebook has a global ``y`` too."""
    codes = [f.__code__ for f in _functions(obj)] if isinstance(obj, type) else [obj.__code__]
    names = set()
    while codes:
        code = codes.pop()
        names |= {i.argval for i in dis.get_instructions(code)
                  if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    if isinstance(obj, type):
        names |= {b.__name__ for b in obj.__bases__ if b is not object}
    return names


def _collect(obj, glob: dict, parts: dict, seen: set) -> None:
    """Add to ``parts`` what the globals ``obj`` reads from ``glob`` need, depth first."""
    for name in sorted(_global_names(obj) - seen):
        if name not in glob:
            continue  # a builtin, or a name the code never reaches: the sandbox will say
        seen.add(name)
        value = glob[name]
        if isinstance(value, types.ModuleType):
            real = value.__name__
            parts["imports"].append(f"import {real}" if real == name else
                                    f"import {real} as {name}")
        elif isinstance(value, (types.FunctionType, type)) and value.__module__ == glob.get("__name__"):
            _collect(value, glob, parts, seen)
            parts["defs"].append(_source_of(value))
        elif callable(value) and getattr(value, "__module__", None) and hasattr(value, "__qualname__"):
            alias = "" if value.__qualname__ == name else f" as {name}"
            parts["imports"].append(f"from {value.__module__} import {value.__qualname__}{alias}")
        elif _plain(value):
            parts["constants"].append(f"{name} = {value!r}")
        else:
            raise SourceUnavailable(
                f"the class uses the global {name!r}, a {type(value).__name__}, which has no "
                f"source to send to the sandbox: define {name} inside the class (or in a function "
                "it calls), or pass the whole file's text to check_source(text)")


def _plain(value) -> bool:
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return True
    if isinstance(value, (tuple, list, frozenset)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False
