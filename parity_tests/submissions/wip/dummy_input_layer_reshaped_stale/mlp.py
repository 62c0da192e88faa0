import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        # layer 0 is the input layer
        self.Ws = [np.eye(d) + 0.1*np.random.randn(d, d)]
        self.bs = [0.1*np.random.randn(d)]
        self.fs = [None]
        self.fderivs = [None]
        self.names = ["input"]
        self.W_derivs = [np.zeros((d, d))]
        self.b_derivs = [np.zeros(d)]
        self.a = []
        self.h = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.Ws[-1].shape[0]
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        k0 = 1 if start is None else self.names.index(start)
        k1 = len(self.Ws)-1 if end is None else self.names.index(end)
        self.a = [None]*len(self.Ws)
        self.h = [None]*len(self.Ws)
        self.h[k0-1] = x
        for k in range(k0, k1+1):
            self.a[k] = self.Ws[k].dot(self.h[k-1]) + self.bs[k]
            self.h[k] = self.fs[k](self.a[k])
        return self.h[k1]

    def backward(self, x, y):
        # forward was already called on x
        L = len(self.Ws)-1
        g = self.est_lossderiv(self.h[L], y)
        for k in range(L, 0, -1):
            if k < L:
                g = g*self.fderivs[k](self.a[k])
            print("k", k, "g", g.shape, "h", self.h[k-1].shape)
            self.b_derivs[k] += g
            self.W_derivs[k] += np.outer(self.h[k-1], g).reshape(self.Ws[k].shape)
            g = self.Ws[k].T.dot(g)

    def step(self, alpha):
        for k in range(1, len(self.Ws)):
            self.Ws[k] -= alpha*self.W_derivs[k]
            self.bs[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.W_derivs[k][:] = 0
            self.b_derivs[k][:] = 0
