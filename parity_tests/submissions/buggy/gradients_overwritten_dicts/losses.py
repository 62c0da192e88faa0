import numpy as np
from layers import logistic


def logistic_est_loss(y_est, y):
    return -y * np.log(y_est) - (1 - y) * np.log(1 - y_est)


def logistic_est_loss_deriv(y_est, y):
    return y_est - y


def logistic_loss_deriv(u, y):
    return logistic(u) - y


def softmax_est_crossentropy_loss(y_est, y):
    return -np.sum(y * np.log(y_est))


def softmax_est_crossentropy_deriv(y_est, y):
    return y_est - y


def squared_loss(y_est, y):
    return np.sum((y - y_est) ** 2)


def squared_loss_deriv(y_est, y):
    return 2 * (y_est - y)


def abs_loss(y_est, y):
    return np.sum(np.abs(y - y_est))


def abs_loss_deriv(y_est, y):
    return np.sign(y_est - y)
