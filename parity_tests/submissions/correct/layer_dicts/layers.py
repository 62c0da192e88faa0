import numpy as np


def logistic(u):
    u = np.asarray(u, dtype=float)
    # written so that exp never sees a large positive number
    out = np.empty_like(u, dtype=float)
    pos = u >= 0
    out[pos] = 1 / (1 + np.exp(-u[pos]))
    e = np.exp(u[~pos])
    out[~pos] = e / (1 + e)
    return out


def logistic_deriv(u):
    s = logistic(u)
    return s * (1 - s)


def leaky_relu(u, alpha=0.01):
    return np.where(u > 0, u, alpha * u)


def leaky_relu_deriv(u, alpha=0.01):
    return np.where(u > 0, 1.0, alpha)


def softmax(u):
    e = np.exp(u - np.max(u))
    return e / np.sum(e)
