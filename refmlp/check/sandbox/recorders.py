"""The functions handed to add_layer: the course's helpers, recording what they are called with.

The activation and loss-derivative functions the checker passes to the network are the course
helpers of ``course/``, wrapped so that they record the argument they are called with: that is
a_k (and, for f', whatever the submission passes, a_k or h_k), read without touching student
internals. Runs in the sandbox, numpy only.
"""

import os
import sys

import numpy as np

from .course import layers as course_layers
from .course import losses as course_losses

_array = np.array  # taken before any student code runs (see wire.py)
_float32 = np.float32

ACTIVATIONS = {
    "leaky_relu": (course_layers.leaky_relu, course_layers.leaky_relu_deriv),
    "logistic": (course_layers.logistic, course_layers.logistic_deriv),
    "softmax": (course_layers.softmax, None),
    "identity": (course_layers.identity, course_layers.identity_deriv),
}
LOSS_DERIVS = {name: getattr(course_losses, name) for name in (
    "logistic_est_loss_deriv", "softmax_est_crossentropy_deriv", "squared_loss_deriv",
    "abs_loss_deriv")}


class Recorder:
    """Collects the first argument of each recording function per operation.

    A submission may apply f (or f') element by element, calling it with 0-d arguments: those are
    collected in call order, and count as the layer's a_k when there are exactly m_k of them
    (np.vectorize's extra first call, a repeat of the first element, is dropped). Any other count
    (say two forward passes in one operation) records nothing for that key, with a note: the judge
    then has h_k but no a_k, which is not a failure.
    """

    def __init__(self, sizes=None):
        self.sizes = sizes or {}  # key -> m_k, for keys whose 0-d calls make up a vector
        self.calls, self.scalars, self.sites = {}, {}, {}
        self.root = os.getcwd() + os.sep  # the check's scratch copy of the submission

    def clear(self):
        self.calls, self.scalars, self.sites = {}, {}, {}

    def note(self, key, value, frame=None):
        if key in self.calls:
            return
        if key not in self.sites and frame is not None:
            self.sites[key] = self.site(frame)
        v = as_float(value)
        if v.ndim == 0 and key in self.sizes:
            self.scalars.setdefault(key, []).append(v)
        elif key not in self.scalars:
            self.calls[key] = v

    def site(self, frame):
        """ "file:line" of the submission's own line that made the call (the first frame, walking
        out, inside the scratch copy: np.vectorize or map may stand between), or None."""
        for _ in range(8):
            if frame is None:
                return None
            name = frame.f_code.co_filename
            if name.startswith(self.root):
                return f"{name[len(self.root):]}:{frame.f_lineno}"
            frame = frame.f_back
        return None

    def arrays(self, notes):
        """What the operation recorded: {key: array}; per-element calls assembled or noted; the
        call site of each key as "<key>.site", the text "file:line" in bytes (uint8)."""
        out = dict(self.calls)
        for key, where in self.sites.items():
            if where:
                out[key + ".site"] = np.frombuffer(where.encode(), dtype=np.uint8).copy()
        for key, values in self.scalars.items():
            m = self.sizes[key]
            if len(values) == m + 1 and m > 0 and values[0] == values[1]:
                values = values[1:]  # np.vectorize calls f once more on the first element
            if len(values) == m:
                out[key] = _array(values)
            else:  # the count tells the judge why a_k is absent (and is no a_k itself)
                out[key + ".percall"] = _array([len(values), m], dtype=float)
                note = (f"{key}: called element by element {len(values)} times in one operation "
                        f"for a layer of {m} units: its argument is not judged")
                if note not in notes:
                    notes.append(note)
        return out


def as_float(value):
    """A float copy of ``value``: float32 stays float32 (the judge gives float32 arithmetic its
    tolerance, and only that), anything else becomes float64."""
    v = _array(value, copy=True)
    return v if v.dtype == _float32 else _array(v, dtype=float)


def recording(rec, key, fn):
    def wrapped(u, *args, **kwargs):
        rec.note(key, u, sys._getframe(1))
        return fn(u, *args, **kwargs)
    wrapped.__name__ = getattr(fn, "__name__", key)
    wrapped.__doc__ = getattr(fn, "__doc__", None)
    return wrapped
