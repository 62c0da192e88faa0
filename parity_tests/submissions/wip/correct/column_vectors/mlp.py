import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = []
        self.b = []     # (m, 1) columns like in the notes
        self.f = []
        self.fderiv = []
        self.name = []
        self.W_derivs = []
        self.b_derivs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.W else self.W[-1].shape[0]
        self.W.append(0.1*np.random.randn(m, n))
        self.b.append(0.1*np.random.randn(m, 1))
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.name.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros((m, 1)))

    def forward(self, x, start=None, end=None):
        k0 = 0 if start is None else self.name.index(start)
        k1 = len(self.W) if end is None else self.name.index(end)+1
        h = np.array(x, dtype=float).reshape((-1, 1))
        self.hs = {k0: h}   # hs[k] is the input of layer k (0-based)
        self.as_ = {}
        for k in range(k0, k1):
            self.as_[k] = self.W[k].dot(self.hs[k]) + self.b[k]
            self.hs[k+1] = self.f[k](self.as_[k])
        return self.hs[k1].flatten()

    def backward(self, x, y):
        y_est = self.forward(x)
        g = np.reshape(self.est_lossderiv(y_est, y), (-1, 1))
        L = len(self.W)
        for k in range(L-1, -1, -1):
            if k != L-1:
                g = g*self.fderiv[k](self.as_[k])
            self.b_derivs[k] += g
            self.W_derivs[k] += g.dot(self.hs[k].T)
            g = self.W[k].T.dot(g)

    def step(self, alpha):
        for k in range(len(self.W)):
            self.W[k] -= alpha*self.W_derivs[k]
            self.b[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(len(self.W)):
            self.W_derivs[k].fill(0)
            self.b_derivs[k].fill(0)
