import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = []
        self.b = []   # column vectors (m, 1), like the notes
        self.f = []
        self.fderiv = []
        self.names = []
        self.dW = []
        self.db = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.W) == 0 else self.W[-1].shape[0]
        self.W.append(0.1*np.random.randn(m, n))
        self.b.append(0.1*np.random.randn(m, 1))
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.names.append(name)
        self.dW.append(np.zeros((m, n)))
        self.db.append(np.zeros((m, 1)))

    def forward(self, x, start=None, end=None):
        out = 0  # TODO return the output of the layer called end
        k0 = 0
        if start is not None:
            k0 = self.names.index(start)
        h = np.reshape(x, (-1, 1))
        print("x", h.shape)
        self.a = {}
        self.h = {k0-1: h}
        for k in range(k0, len(self.W)):
            a = self.W[k] @ h + self.b[k]
            h = self.f[k](a)
            self.a[k] = a
            self.h[k] = h
            print("layer", k, "a", a.shape, "h", h.shape)
        if end is None:
            out = h.flatten()
        return out

    def backward(self, x, y):
        y_est = self.forward(x)
        y = np.reshape(y, (-1, 1))
        g = self.est_lossderiv(y_est.reshape(-1, 1), y)
        L = len(self.W)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderiv[k](self.a[k])
            self.db[k] += np.sum(g)
            self.dW[k] += g @ self.h[k-1].T
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(len(self.W)):
            self.W[k] -= alpha*self.dW[k]
            self.b[k] -= alpha*self.db[k]

    def zero_grad(self):
        for k in range(len(self.W)):
            self.dW[k] *= 0
            self.db[k] *= 0
