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
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.dWs.append(np.zeros((m, n)))
        self.dbs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        i = 0 if start is None else self.names.index(start)
        j = len(self.Ws) if end is None else self.names.index(end)+1
        self.hs = {i: x}
        self.as_ = {}
        for k in range(i, j):
            # bias trick: [W b] [h; 1]
            Wb = np.concatenate((self.Ws[k], self.bs[k][:, None]), axis=1)
            self.as_[k] = Wb @ np.append(self.hs[k], 1)
            self.hs[k+1] = self.fs[k](self.as_[k])
        return self.hs[j]

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        L = len(self.Ws)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderivs[k](self.as_[k])
            dWb = np.outer(g, np.append(self.hs[k], 1))
            self.dbs[k] += dWb[:, 0]
            self.dWs[k] += dWb[:, 1:]
            g = self.Ws[k].T @ g

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.dWs[k]
            self.bs[k] -= alpha*self.dbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k][:] = 0
            self.dbs[k][:] = 0
