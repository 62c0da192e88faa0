"""Tracebacks as the student should read them (runs in the sandbox, numpy only)."""

import importlib.util
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))

# References taken before any student code runs (see wire.py)
_exc_info = sys.exc_info
_extract_tb = traceback.extract_tb
_format_list = traceback.format_list
_format_exception_only = traceback.format_exception_only
_FrameSummary = traceback.FrameSummary
_IMPORTLIB = os.path.dirname(importlib.util.__file__) + os.sep
where = {"scratch": None, "origin": None}  # the child's copy of the submission, and its source


def format_exc(limit=None):
    """The current exception's traceback as the student should read it: the checker's own frames
    (this sandbox's modules, importlib's) dropped, and the scratch copy's path mapped back to the
    submission's folder (the copy is deleted with the run)."""
    etype, exc, tb = _exc_info()
    scratch, origin = where["scratch"], where["origin"]
    course = os.path.join(HERE, "course") + os.sep
    frames = []
    for fs in _extract_tb(tb):
        name = fs.filename
        if name.startswith(("<frozen importlib", _IMPORTLIB)) or (
                name.startswith(HERE + os.sep) and not name.startswith(course)):
            continue
        if scratch and name.startswith(scratch + os.sep):
            name = origin + name[len(scratch):]
        frames.append(_FrameSummary(name, fs.lineno, fs.name, line=fs.line))
    if limit is not None:
        frames = frames[limit:] if limit < 0 else frames[:limit]
    text = "Traceback (most recent call last):\n" + "".join(_format_list(frames)) if frames else ""
    text += "".join(_format_exception_only(etype, exc))
    return text.replace(scratch + os.sep, origin + os.sep) if scratch else text
