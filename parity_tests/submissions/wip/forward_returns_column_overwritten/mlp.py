import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fds = []
        self.names = []
        self.dWs = []
        self.dbs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m, 1))
        self.fs.append(f)
        self.fds.append(fderiv)
        self.names.append(name)
        self.dWs.append(np.zeros((m, n)))
        self.dbs.append(np.zeros((m, 1)))

    def forward(self, x, start=None, end=None):
        s = 0 if start is None else self.names.index(start)
        e = len(self.Ws)-1 if end is None else self.names.index(end)
        h = x.reshape(-1, 1)
        self.h = {s-1: h}
        self.a = {}
        for k in range(s, e+1):
            self.a[k] = self.Ws[k] @ h + self.bs[k]
            h = self.fs[k](self.a[k])
            self.h[k] = h
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, np.reshape(y, (-1, 1)))
        for k in range(len(self.Ws)-1, -1, -1):
            if k < len(self.Ws)-1:
                g = g*self.fds[k](self.a[k])
            self.dbs[k] = g
            self.dWs[k] = g @ self.h[k-1].T
            g = self.Ws[k].T @ g

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.dWs[k]
            self.bs[k] -= alpha*self.dbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k] = 0*self.dWs[k]
            self.dbs[k] = 0*self.dbs[k]
