import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.L = 0
        self.W = {}
        self.b = {}
        self.f = {}
        self.fderiv = {}
        self.index = {}   # name -> k
        self.dW = {}
        self.db = {}
        self.sizes = [d]

    def add_layer(self, m, f, fderiv, name=None):
        self.L += 1
        k = self.L
        self.W[k] = np.random.randn(m, self.sizes[-1])*0.1
        self.b[k] = np.random.randn(m)*0.1
        self.f[k] = f
        self.fderiv[k] = fderiv
        self.index[name] = k
        self.sizes.append(m)

    def forward(self, x, start=None, end=None):
        first = 1 if start is None else self.index[start]
        stop = self.L if end is None else self.index[end]+1
        self.a = {}
        self.h = {first-1: x}
        for k in range(first, stop+1):
            self.a[k] = self.W[k] @ self.h[k-1] + self.b[k]
            self.h[k] = self.f[k](self.a[k])
        return self.h[min(stop, self.L)]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for k in range(self.L, 0, -1):
            if k < self.L:
                g = g*self.fderiv[k](self.a[k])
            self.db[k] = g
            self.dW[k] = np.outer(g, self.h[k-1])
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(1, self.L+1):
            self.W[k] -= alpha*self.dW[k]
            self.b[k] -= alpha*self.db[k]

    def zero_grad(self):
        self.dW = {}
        self.db = {}
