"""The course's helper module ``losses.py``, written correctly (numpy only).

Copied into a submission's scratch folder when the submission does ``from losses import *``
without shipping its own. A sample's loss is a sum over outputs; every ``*_deriv`` is dLoss/da_L
for the course's pairing of that loss with its output activation (see COURSE_API.md).
"""

import numpy as np


def logistic_est_loss(y_est, y):
    """Binary cross-entropy of an estimate y_est in (0, 1): -sum(y log y_est + (1-y) log(1-y_est))."""
    y_est = np.clip(y_est, np.finfo(float).tiny, 1.0 - np.finfo(float).epsneg)
    return -np.sum(y * np.log(y_est) + (1 - y) * np.log(1 - y_est))


def logistic_est_loss_deriv(y_est, y):
    """dLoss/da_L of binary cross-entropy after a logistic output: y_est - y."""
    return y_est - y


def logistic_loss_deriv(u, y):
    """The same from the logit u = a_L: logistic(u) - y, exp(-|u|) so that nothing overflows."""
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0, e) / (1.0 + e) - y


def softmax_est_crossentropy_loss(y_est, y):
    """-sum(y log y_est)."""
    return -np.sum(y * np.log(np.maximum(y_est, np.finfo(float).tiny)))


def softmax_est_crossentropy_deriv(y_est, y):
    """dLoss/da_L of cross-entropy after a softmax output: y_est - y."""
    return y_est - y


def squared_loss(y_est, y):
    """sum((y - y_est)^2)."""
    return np.sum((y - y_est) ** 2)


def squared_loss_deriv(y_est, y):
    """2 (y_est - y)."""
    return 2 * (y_est - y)


def abs_loss(y_est, y):
    """sum(|y - y_est|)."""
    return np.sum(np.abs(y - y_est))


def abs_loss_deriv(y_est, y):
    """sign(y_est - y)."""
    return np.sign(y_est - y)
