import numpy as np
from layers import *
from losses import *


class NeuralNet:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []

    def add_layer(self, m, f, fderiv):
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(np.random.randn(m, n)*0.1)
        self.bs.append(np.random.randn(m)*0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)

    def forward(self, x):
        self.a = []
        self.h = [x]
        for W, b, f in zip(self.Ws, self.bs, self.fs):
            self.a.append(W @ self.h[-1] + b)
            self.h.append(f(self.a[-1]))
        return self.h[-1]

    def backprop_descent(self, x, y, alpha=0.01):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.Ws)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderivs[k](self.a[k])
            self.bs[k] -= alpha*g
            self.Ws[k] -= alpha*np.outer(g, self.h[k])
            g = self.Ws[k].T @ g
