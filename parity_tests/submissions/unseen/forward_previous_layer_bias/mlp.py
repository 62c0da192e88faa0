import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []
        self.names = []
        self.W_derivs = []
        self.b_derivs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(np.random.randn(m, n)*0.1)
        self.bs.append(np.random.randn(m)*0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        # h[k] and a[k] for layer k = 1..L, h[0] = x
        L = len(self.Ws)
        k0 = 1 if start is None else self.names.index(start)+1
        k1 = L if end is None else self.names.index(end)+1
        self.a = [None]*(L+1)
        self.h = [None]*(L+1)
        self.h[k0-1] = x
        for k in range(k0, k1+1):
            self.a[k] = self.Ws[k-1] @ self.h[k-1] + self.bs[k-2]
            self.h[k] = self.fs[k-1](self.a[k])
        return self.h[k1]

    def backward(self, x, y):
        y_est = self.forward(x)
        L = len(self.Ws)
        g = self.est_lossderiv(y_est, y)
        for k in range(L, 0, -1):
            if k < L:
                g = g*self.fderivs[k-1](self.a[k])
            self.b_derivs[k-1] += g
            self.W_derivs[k-1] += np.outer(g, self.h[k-1])
            g = self.Ws[k-1].T @ g

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.W_derivs[k]
            self.bs[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.W_derivs[k][:] = 0
            self.b_derivs[k][:] = 0
