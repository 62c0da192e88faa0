import numpy as np
from layers import *
from losses import *


class NeuralNet:
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
        self.n_layers = 0
        self.W = []
        self.b = []
        self.f = []
        self.fderiv = []

    def add_layer(self, m, f, fderiv):
        """
        Parameters
        ----------
        m: int
            Number of neurons in the layer
        f: function ndarray(m) -> ndarray(m)
            Activation function
        fderiv: function ndarray(m) -> ndarray(m)
            Derivative of the activation function
        """
        n = self.d if self.n_layers == 0 else self.W[-1].shape[0]
        self.W.append(np.random.randn(m, n)*0.1)
        self.b.append(np.random.randn(m)*0.1)
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.n_layers += 1

    def forward(self, x):
        self.a = [None]
        self.h = [x]
        for k in range(self.n_layers):
            self.a.append(self.W[k].dot(self.h[k]) + self.b[k])
            self.h.append(self.f[k](self.a[k+1]))
        return self.h[-1]

    def backprop_descent(self, x, y, alpha=0.01):
        y_est = self.forward(x)
        L = self.n_layers
        g = self.est_lossderiv(y_est, y)
        for k in range(L, 0, -1):
            if k < L:
                g = g*self.fderiv[k-1](self.a[k])
            b_deriv = g
            W_deriv = np.outer(g, self.h[k-1])
            g = self.W[k-1].T.dot(g)
            self.W[k-1] -= alpha*W_deriv
            self.b[k-1] -= alpha*b_deriv
