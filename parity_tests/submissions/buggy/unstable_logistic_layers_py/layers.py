import numpy as np


def logistic(u):
    return np.exp(u) / (1 + np.exp(u))


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
