"""The course's helper module ``layers.py``, written correctly (numpy only).

refmlp check copies this file into a submission's scratch folder when the submission does
``from layers import *`` without shipping its own, and the sandbox worker passes these functions
to ``add_layer``. Names and signatures are the course's (see COURSE_API.md); the two defects of the
released file are fixed here: leaky_relu is leaky in its forward pass and its derivative is the
slope at u == 0 (the notes' choice and torch's), and softmax subtracts the maximum first.
Everything is elementwise on any shape ((m,), (m, 1), batches); softmax normalises over all
elements, as the course's exp(u) / sum(exp(u)) does.
"""

import numpy as np


def logistic(u):
    """1 / (1 + e^{-u}), computed as e^{-|u|} / (1 + e^{-|u|}) for u < 0 so exp never overflows."""
    u = np.asarray(u, dtype=float) if not isinstance(u, np.ndarray) else u
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0, e) / (1.0 + e)


def logistic_deriv(u):
    """f'(u) = f(u) (1 - f(u))."""
    s = logistic(u)
    return s * (1.0 - s)


def leaky_relu(u, alpha=0.01):
    """u for u > 0, alpha u for u <= 0."""
    u = np.asarray(u)
    return np.where(u > 0, u, alpha * u)


def leaky_relu_deriv(u, alpha=0.01):
    """1 for u > 0, alpha for u <= 0 (alpha at u == 0, as in the notes and torch)."""
    u = np.asarray(u)
    return np.where(u > 0, 1.0, alpha).astype(np.result_type(u.dtype, np.float32))


def softmax(u):
    """e^{u_i} / sum_j e^{u_j} over all elements, the maximum subtracted first."""
    u = np.asarray(u)
    e = np.exp(u - np.max(u))
    return e / np.sum(e)


def identity(u):
    """f(u) = u (not in the course's file; used for regression outputs)."""
    return u


def identity_deriv(u):
    """f'(u) = 1."""
    return np.ones_like(np.asarray(u))
