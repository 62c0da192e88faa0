import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.x = np.zeros(d)
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []
        self.names = []
        self.dWs = []
        self.dbs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.Ws) == 0 else len(self.bs[-1])
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.dWs.append(np.zeros((m, n)))
        self.dbs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        if start is None:
            h = self.x
            k0 = 0
        else:
            h = x
            k0 = self.names.index(start)
        self.a = {}
        self.h = {k0-1: h}
        for k in range(k0, len(self.Ws)):
            self.a[k] = self.Ws[k] @ self.h[k-1] + self.bs[k]
            self.h[k] = self.fs[k](self.a[k])
            if self.names[k] == end:
                break
        return self.h[k]

    def backward(self, x, y):
        self.x = x
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for k in reversed(range(len(self.Ws))):
            if k+1 < len(self.Ws):
                g = g*self.fderivs[k](self.a[k])
            self.dbs[k] += g
            self.dWs[k] += np.outer(g, self.h[k-1])
            g = self.Ws[k].T @ g
        print("dW norms", [np.linalg.norm(dW) for dW in self.dWs])

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.dWs[k]
            self.bs[k] -= alpha*self.dbs[k]

    def zero_grad(self):
        raise NotImplementedError
