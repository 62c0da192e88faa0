import numpy as np
from layers import *
from losses import *


class MLP:
    """No matrix operations: every sum is written out as a loop, like in the 1-D derivation."""

    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = []
        self.b = []
        self.f = []
        self.fderiv = []
        self.name = []
        self.W_derivs = []
        self.b_derivs = []

    def add_layer(self, m, f, fderiv, name=None):
        if len(self.W) == 0:
            n = self.d
        else:
            n = len(self.b[-1])
        W = np.zeros((m, n))
        b = np.zeros(m)
        for i in range(m):
            b[i] = 0.1 * np.random.randn()
            for j in range(n):
                W[i, j] = 0.1 * np.random.randn()
        self.W.append(W)
        self.b.append(b)
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.name.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        first = 0
        last = len(self.W) - 1
        for k in range(len(self.W)):
            if start is not None and self.name[k] == start:
                first = k
            if end is not None and self.name[k] == end:
                last = k
        self.hs = {first - 1: x}
        self.as_ = {}
        h = x
        for k in range(first, last + 1):
            W = self.W[k]
            m, n = W.shape
            a = np.zeros(m)
            for i in range(m):
                total = self.b[k][i]
                for j in range(n):
                    total += W[i, j] * h[j]
                a[i] = total
            h = self.f[k](a)
            self.as_[k] = a
            self.hs[k] = h
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        L = len(self.W)
        g = self.est_lossderiv(y_est, y)
        g = np.array(g, dtype=float).reshape(-1)
        for k in range(L - 1, -1, -1):
            m, n = self.W[k].shape
            if k < L - 1:
                fd = self.fderiv[k](self.as_[k])
                for i in range(m):
                    g[i] = g[i] * fd[i]
            h_prev = self.hs[k - 1]
            for i in range(m):
                self.b_derivs[k][i] += g[i]
                for j in range(n):
                    self.W_derivs[k][i, j] += g[i] * h_prev[j]
            g_prev = np.zeros(n)
            for j in range(n):
                for i in range(m):
                    g_prev[j] += self.W[k][i, j] * g[i]
            g = g_prev

    def step(self, alpha):
        for k in range(len(self.W)):
            m, n = self.W[k].shape
            for i in range(m):
                self.b[k][i] -= alpha * self.b_derivs[k][i]
                for j in range(n):
                    self.W[k][i, j] -= alpha * self.W_derivs[k][i, j]

    def zero_grad(self):
        for k in range(len(self.W)):
            m, n = self.W[k].shape
            for i in range(m):
                self.b_derivs[k][i] = 0.0
                for j in range(n):
                    self.W_derivs[k][i, j] = 0.0
