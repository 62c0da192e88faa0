"""Which of the API's methods a submission has not written yet, read from its source with ``ast``.

The judging process never imports a submission: it parses the file's text. A method is a *stub*
when its body, once its docstring is set aside, is only ``pass``, ``...``, ``return``,
``return None`` or ``raise NotImplementedError`` (a TODO comment leaves no trace in the tree, so
"# TODO" over ``return None`` is a stub too). A method the class does not define, where the class
has no base class it could inherit it from, is missing. The behaviour the sandbox sees (forward
returning None) is the other half: ``refmlp.check.submission`` adds it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

METHODS = {
    "MLP": ("__init__", "add_layer", "forward", "backward", "step", "zero_grad"),
    "NeuralNet": ("__init__", "add_layer", "forward", "backprop_descent"),
}
"""The public methods each API's checks call."""


@dataclass(frozen=True)
class Unwritten:
    """One method not written yet: its name, why it counts as such, its line (None: missing)."""

    method: str
    why: str
    line: int | None

    def say(self, file: str) -> str:
        where = f" ({file}:{self.line})" if self.line else ""
        return f"{self.method}{where}: {self.why}"


def _stub_kind(body: list) -> str | None:
    """What makes a function body a stub ("its body is `pass`"), or None when it does something."""
    stmts = list(body)
    if stmts and isinstance(stmts[0], ast.Expr) and isinstance(stmts[0].value, ast.Constant) \
            and isinstance(stmts[0].value.value, str):
        stmts = stmts[1:]  # the docstring
    if not stmts:
        return "it has only a docstring"
    kinds = []
    for st in stmts:
        if isinstance(st, ast.Pass):
            kinds.append("`pass`")
        elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
            kinds.append("`...`" if st.value.value is Ellipsis else "a bare constant")
        elif isinstance(st, ast.Return) and (st.value is None or (
                isinstance(st.value, ast.Constant) and st.value.value is None)):
            kinds.append("`return None`")
        elif isinstance(st, ast.Raise) and st.exc is not None and "NotImplementedError" in (
                ast.unparse(st.exc)):
            kinds.append("`raise NotImplementedError`")
        else:
            return None
    return "its body is " + " then ".join(dict.fromkeys(kinds))


def unwritten(source: str, cls: str) -> list[Unwritten]:
    """The API methods of class ``cls`` in ``source`` that are stubs or missing, in API order;
    [] when the source does not parse (the sandbox reports the syntax error) or has no such
    class."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls), None)
    if node is None:
        return []
    defs = {n.name: n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    inherits = any(not (isinstance(b, ast.Name) and b.id == "object") for b in node.bases)
    out = []
    for name in METHODS.get(cls, ()):
        fn = defs.get(name)
        if fn is None:
            if not inherits and name != "__init__":
                out.append(Unwritten(name, f"class {cls} defines no method {name}", None))
            continue
        why = _stub_kind(fn.body)
        if why:
            out.append(Unwritten(name, why, fn.lineno))
    return out
