import numpy as np
from layers import *
from losses import *

DEBUG = True

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
        if len(self.Ws) == 0:
            n = self.d
        else:
            n = self.Ws[-1].shape[0]
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))
        if DEBUG:
            print("added layer", name, "W shape", self.Ws[-1].shape)

    def forward(self, x, start=None, end=None):
        first = 0
        last = len(self.Ws)-1
        if start is not None:
            first = self.names.index(start)
            if end is not None:
                last = self.names.index(end)
        self.a = []
        self.h = []
        h = x
        for i in range(first, last+1):
            a = self.Ws[i].dot(h) + self.bs[i]
            h = self.fs[i](a)
            self.a.append(a)
            self.h.append(h)
        if DEBUG:
            print("forward output", h)
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.Ws)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderivs[k](self.a[k])
            if k > 0:
                hprev = self.h[k-1]
            else:
                hprev = x
            self.b_derivs[k] += g
            self.W_derivs[k] += np.outer(g, hprev)
            g = self.Ws[k].T.dot(g)
            if DEBUG:
                print("layer", k, "grad norm", np.linalg.norm(self.W_derivs[k]))

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.W_derivs[k]
            self.bs[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        # TODO
        pass
