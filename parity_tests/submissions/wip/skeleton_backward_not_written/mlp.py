import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        """
        Parameters
        ----------
        d: int
            Number of dimensions of the input
        est_lossderiv: function ndarray(N), ndarray(N) -> ndarray(N)
            Gradient of the loss with respect to the inputs of the last layer
        """
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.weights = []
        self.biases = []
        self.activations = []
        self.derivs = []
        self.layer_names = []

    def add_layer(self, m, f, fderiv, name=None):
        """
        Parameters
        ----------
        m: int
            Number of nodes in this layer
        f: function ndarray(m) -> ndarray(m)
            Activation function, evaluated element-wise
        fderiv: function ndarray(m) -> ndarray(m)
            Derivative of the activation function
        name: string
            Name of this layer
        """
        n = self.d if len(self.weights) == 0 else self.weights[-1].shape[0]
        self.weights.append(np.random.randn(m, n)*0.1)
        self.biases.append(np.random.randn(m)*0.1)
        self.activations.append(f)
        self.derivs.append(fderiv)
        self.layer_names.append(name)

    def forward(self, x, start=None, end=None):
        """
        Parameters
        ----------
        x: ndarray(d)
            Input to the network (or to the layer called start)
        start: string
            Name of the layer to start at
        end: string
            Name of the layer to stop at

        Returns
        -------
        ndarray(m)
            The output of the last layer evaluated
        """
        first = 0
        if start is not None:
            first = self.layer_names.index(start)
        last = len(self.weights)-1
        if end is not None:
            last = self.layer_names.index(end)
        h = x
        for k in range(first, last+1):
            h = self.activations[k](self.weights[k].dot(h) + self.biases[k])
        return h

    def backward(self, x, y):
        """
        Parameters
        ----------
        x: ndarray(d)
            Input to the network
        y: float or ndarray(m)
            Ground truth
        """
        pass  # TODO

    def step(self, alpha):
        pass  # TODO

    def zero_grad(self):
        pass  # TODO
