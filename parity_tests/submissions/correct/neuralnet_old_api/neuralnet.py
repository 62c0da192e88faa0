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
            Gradient of the loss function with respect to the inputs
            to the last layer, using the output of the last layer
        """
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []

    def add_layer(self, m, f, fderiv):
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(np.random.randn(m, n) * 0.1)
        self.bs.append(np.random.randn(m) * 0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)

    def forward(self, x):
        self.as_ = [None]
        self.hs = [x]
        for W, b, f in zip(self.Ws, self.bs, self.fs):
            a = W.dot(self.hs[-1]) + b
            self.as_.append(a)
            self.hs.append(f(a))
        return self.hs[-1]

    def backprop_descent(self, x, y, alpha=0.01):
        """one step of backprop and gradient descent on the example (x, y)"""
        y_est = self.forward(x)
        L = len(self.Ws)
        g = self.est_lossderiv(y_est, y)
        W_derivs = [None] * L
        b_derivs = [None] * L
        for k in range(L, 0, -1):
            if k < L:
                g = g * self.fderivs[k - 1](self.as_[k])
            b_derivs[k - 1] = g
            W_derivs[k - 1] = np.outer(g, self.hs[k - 1])
            g = self.Ws[k - 1].T.dot(g)
        for i in range(L):
            self.Ws[i] -= alpha * W_derivs[i]
            self.bs[i] -= alpha * b_derivs[i]
