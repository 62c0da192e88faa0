import numpy as np

def logistic(u):
    """
    Evaluate the logistic function on every element of u

    Parameters
    ----------
    u: ndarray(...)
        Inputs to the logistic function
    
    Returns
    -------
    ndarray(...)
        The logistic function evaluated at each element of u
    """
    return 1/(1+np.exp(-u))

def logistic_deriv(u):
    """
    Evaluate the derivative of the logistic function on every element of u

    Parameters
    ----------
    u: ndarray(...)
        Inputs to the derivative
    
    Returns
    -------
    ndarray(...)
        The derivative of the logistic function at each element of u
    """
    f = logistic(u)
    return f*(1-f)

def leaky_relu(u, alpha=0.01):
    """
    Evaluate the leaky ReLU function on every element of u

    Parameters
    ----------
    u: ndarray(...)
        Inputs to the leaky ReLU
    alpha: float
        Slope for negative inputs
    
    Returns
    -------
    ndarray(...)
        The leaky ReLU evaluated at each element of u
    """
    res = np.array(u, dtype=float)
    res[u < 0] = 0
    res[res == 0] = alpha*res[res == 0]
    return res

def leaky_relu_deriv(u, alpha=0.01):
    """
    Evaluate the derivative of the leaky ReLU on every element of u

    Parameters
    ----------
    u: ndarray(...)
        Inputs to the derivative
    alpha: float
        Slope for negative inputs
    
    Returns
    -------
    ndarray(...)
        The derivative of the leaky ReLU at each element of u
    """
    res = np.zeros(u.shape)
    res[u > 0] = 1
    res[u < 0] = alpha
    return res

def softmax(u):
    """
    Evaluate the softmax of a vector u

    Parameters
    ----------
    u: ndarray(N)
        Inputs to the softmax
    
    Returns
    -------
    ndarray(N)
        The softmax of u
    """
    return np.exp(u)/np.sum(np.exp(u))
