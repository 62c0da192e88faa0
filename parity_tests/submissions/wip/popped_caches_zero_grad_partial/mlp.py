import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = []
        self.b = []
        self.f = []
        self.fd = []
        self.name = []
        self.dW = []
        self.db = []
        self.a_cache = []
        self.h_cache = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.W) == 0 else self.W[-1].shape[0]
        self.W.append(0.1*np.random.randn(m, n))
        self.b.append(0.1*np.random.randn(m))
        self.f.append(f)
        self.fd.append(fderiv)
        self.name.append(name)
        self.dW.append(np.zeros((m, n)))
        self.db.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        first = 0 if start is None else self.name.index(start)
        last = len(self.W)-1 if end is None else self.name.index(end)
        self.a_cache = []
        self.h_cache = [x]
        for k in range(first, last+1):
            a = self.W[k] @ self.h_cache[-1] + self.b[k]
            self.a_cache.append(a)
            self.h_cache.append(self.f[k](a))
        return self.h_cache[-1]

    def backward(self, x, y):
        # uses the a's and h's saved by the last call to forward
        y_est = self.h_cache.pop()
        g = self.est_lossderiv(y_est, y)
        for k in range(len(self.W)-1, -1, -1):
            a = self.a_cache.pop()
            if k != len(self.W)-1:
                g = g*self.fd[k](a)
            h_prev = self.h_cache.pop()
            self.db[k] += g
            self.dW[k] += np.outer(g, h_prev)
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(len(self.W)):
            self.W[k] -= alpha*self.dW[k]
            self.b[k] -= alpha*self.db[k]

    def zero_grad(self):
        for k in range(len(self.db)):
            self.db[k] = 0*self.db[k]
