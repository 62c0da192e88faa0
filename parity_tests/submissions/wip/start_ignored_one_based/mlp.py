import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        # index 0 unused so that W[k] is W_k like in the notes
        self.W = [None]
        self.b = [None]
        self.f = [None]
        self.fderiv = [None]
        self.names = [None]
        self.W_derivs = [None]
        self.b_derivs = [None]

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.W) == 1 else self.W[-1].shape[0]
        self.W.append(np.random.randn(m, n)*0.1)
        self.b.append(np.random.randn(m)*0.1)
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.names.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        L = len(self.W)-1
        self.a = [None]*(L+1)
        self.h = [None]*(L+1)
        self.h[0] = x
        for k in range(1, L+1):
            self.a[k] = self.W[k] @ self.h[k-1] + self.b[k]
            self.h[k] = self.f[k](self.a[k])
            if self.names[k] == end:
                return self.h[k]
        return self.h[L]

    def backward(self, x, y):
        L = len(self.W)-1
        y_est = self.forward(x)
        print("y_est", y_est, "y", y)
        g = self.est_lossderiv(y, y_est)
        for k in range(L, 0, -1):
            if k < L:
                g = g*self.fderiv[k](self.a[k])
            self.b_derivs[k] += g
            self.W_derivs[k] += np.outer(g, self.h[k-1])
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(1, len(self.W)):
            self.W[k] -= alpha*self.W_derivs[k]
            self.b[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(1, len(self.W)):
            self.W_derivs[k] = np.zeros_like(self.W_derivs[k])
            self.b_derivs[k] = np.zeros_like(self.b_derivs[k])
