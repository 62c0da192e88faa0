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
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []
        self.n_calls = 0

    def add_layer(self, m, f, fderiv):
        n = self.d
        if len(self.Ws) > 0:
            n = self.Ws[-1].shape[0]
        self.Ws.append(np.random.randn(m, n)*0.1)
        self.bs.append(np.random.randn(m)*0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)

    def forward(self, x):
        self.a = []
        self.h = [x]
        for W, b, f in zip(self.Ws, self.bs, self.fs):
            self.a.append(W.dot(self.h[-1]) + b)
            self.h.append(f(self.a[-1]))
        return self.h[-1]

    def backprop_descent(self, x, y, alpha=0.01):
        if not hasattr(self, "h"):
            self.forward(x)
        self.n_calls += 1
        if self.n_calls % 100 == 0:
            print("call", self.n_calls, "y_est", self.h[-1], "y", y)
        L = len(self.Ws)
        g = self.est_lossderiv(self.h[-1], y)
        W_derivs = []
        b_derivs = []
        for k in range(L-1, -1, -1):
            b_derivs.insert(0, g)
            if k < L-1:
                g = g*self.fderivs[k](self.a[k])
            W_derivs.insert(0, np.outer(g, self.h[k]))
            g = self.Ws[k].T.dot(g)
        for k in range(L):
            self.Ws[k] -= alpha*W_derivs[k]
            self.bs[k] -= alpha*b_derivs[k]
