import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = [None]
        self.b = [None]
        self.f = [None]
        self.fderiv = [None]
        self.names = [None]
        self.dW = [None]
        self.db = [None]

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.W) == 1 else self.W[-1].shape[0]
        self.W.append(0.1*np.random.randn(m, n))
        self.b.append(0.1*np.random.randn(m))
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.names.append(name)
        self.dW.append(np.zeros((m, n)))
        self.db.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        L = len(self.W)-1
        k0 = 1 if start is None else self.names.index(start)
        k1 = L if end is None else self.names.index(end)
        self.a = [None]*(L+1)
        self.h = [None]*(L+1)
        self.h[k0-1] = x
        for k in range(k0, k1+1):
            self.a[k] = self.W[k] @ self.h[k-1] + self.b[k]
            self.h[k] = self.f[k](self.a[k])
        return self.h[k1]

    def backward(self, x, y):
        L = len(self.W)-1
        self.forward(x)
        g = self.est_lossderiv(self.h[L], y)
        for k in range(L, 0, -1):
            if k < L:
                g = g*self.fderiv[k](self.a[k])
            self.db[k] += g
            self.dW[k] += np.outer(g, x)
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(1, len(self.W)):
            self.W[k] -= alpha*self.dW[k]
            self.b[k] -= alpha*self.db[k]

    def zero_grad(self):
        for k in range(1, len(self.W)):
            self.dW[k][:] = 0
            self.db[k][:] = 0
