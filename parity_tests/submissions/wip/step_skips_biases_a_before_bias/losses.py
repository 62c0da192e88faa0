import numpy as np
from layers import *

def logistic_est_loss(y_est, y):
    """
    Compute the logistic loss of an estimate y_est against
    the ground truth y

    Parameters
    ----------
    y_est: ndarray(N)
        Estimated outputs, each in (0, 1)
    y: ndarray(N)
        Ground truth labels, each 0 or 1
    
    Returns
    -------
    float
        The logistic loss
    """
    return -np.sum(y*np.log(y_est) + (1-y)*np.log(1-y_est))

def logistic_est_loss_deriv(y_est, y):
    """
    Compute the derivative of the logistic loss with respect to
    the input of the last (logistic) layer

    Parameters
    ----------
    y_est: ndarray(N)
        Estimated outputs, each in (0, 1)
    y: ndarray(N)
        Ground truth labels, each 0 or 1
    
    Returns
    -------
    ndarray(N)
        The derivative of the loss
    """
    return y_est - y

def logistic_loss_deriv(u, y):
    """
    Compute the derivative of the logistic loss with respect to
    the input u of the logistic function

    Parameters
    ----------
    u: ndarray(N)
        Inputs to the logistic function
    y: ndarray(N)
        Ground truth labels, each 0 or 1
    
    Returns
    -------
    ndarray(N)
        The derivative of the loss
    """
    return logistic(u) - y

def softmax_est_crossentropy_loss(y_est, y):
    """
    Compute the cross-entropy loss of a softmax estimate y_est
    against a one-hot ground truth y

    Parameters
    ----------
    y_est: ndarray(N)
        Outputs of the softmax
    y: ndarray(N)
        One-hot ground truth
    
    Returns
    -------
    float
        The cross-entropy loss
    """
    return -np.sum(y*np.log(y_est))

def softmax_est_crossentropy_deriv(y_est, y):
    """
    Compute the derivative of the cross-entropy loss with respect to
    the input of the softmax layer

    Parameters
    ----------
    y_est: ndarray(N)
        Outputs of the softmax
    y: ndarray(N)
        One-hot ground truth
    
    Returns
    -------
    ndarray(N)
        The derivative of the loss
    """
    return y_est - y

def squared_loss(y_est, y):
    """
    Compute the squared loss of an estimate y_est against
    the ground truth y

    Parameters
    ----------
    y_est: ndarray(N)
        Estimated outputs
    y: ndarray(N)
        Ground truth
    
    Returns
    -------
    float
        The squared loss
    """
    return np.sum((y - y_est)**2)

def squared_loss_deriv(y_est, y):
    """
    Compute the derivative of the squared loss with respect to y_est

    Parameters
    ----------
    y_est: ndarray(N)
        Estimated outputs
    y: ndarray(N)
        Ground truth
    
    Returns
    -------
    ndarray(N)
        The derivative of the loss
    """
    return 2*(y_est - y)

def abs_loss(y_est, y):
    """
    Compute the absolute loss of an estimate y_est against
    the ground truth y

    Parameters
    ----------
    y_est: ndarray(N)
        Estimated outputs
    y: ndarray(N)
        Ground truth
    
    Returns
    -------
    float
        The absolute loss
    """
    return np.sum(np.abs(y - y_est))

def abs_loss_deriv(y_est, y):
    """
    Compute the derivative of the absolute loss with respect to y_est

    Parameters
    ----------
    y_est: ndarray(N)
        Estimated outputs
    y: ndarray(N)
        Ground truth
    
    Returns
    -------
    ndarray(N)
        The derivative of the loss
    """
    return np.sign(y_est - y)
