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
        self.fderivs = []
        self.names = []
        self.dWs = []
        self.dbs = []

    def add_layer(self, m, f, fderiv, name=None):
        self.Ws.append(np.random.randn(m, self.d)*0.1)
        self.bs.append(np.random.randn(m)*0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.dWs.append(np.zeros((m, self.d)))
        self.dbs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        L = len(self.Ws)
        i = 0 if start is None else self.names.index(start)
        j = L if end is None else self.names.index(end)+1
        self.hs = [x]
        self.as_ = []
        for k in range(i, j):
            print("W", self.Ws[k].shape, "h", self.hs[-1].shape)
            a = np.dot(self.Ws[k], self.hs[-1]) + self.bs[k]
            self.as_.append(a)
            self.hs.append(self.fs[k](a))
        return self.hs[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for k in range(len(self.Ws)-1, -1, -1):
            self.dbs[k] += g
            self.dWs[k] += np.outer(g, self.hs[k])
            g = np.dot(self.Ws[k].T, g)

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.dWs[k]
            self.bs[k] -= alpha*self.dbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k].fill(0)
            self.dbs[k].fill(0)
