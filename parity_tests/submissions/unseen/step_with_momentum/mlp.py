import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws, self.bs, self.fs, self.fds, self.names = [], [], [], [], []
        self.dWs, self.dbs = [], []
        self.vWs, self.vbs = [], []
        self.beta = 0.9

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.Ws else self.Ws[-1].shape[0]
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fds.append(fderiv)
        self.names.append(name)
        for lst, shape in ((self.dWs, (m, n)), (self.dbs, (m,)), (self.vWs, (m, n)), (self.vbs, (m,))):
            lst.append(np.zeros(shape))

    def forward(self, x, start=None, end=None):
        i = self.names.index(start) if start else 0
        j = self.names.index(end) if end else len(self.Ws)-1
        self.hs, self.as_ = {i-1: x}, {}
        for k in range(i, j+1):
            self.as_[k] = self.Ws[k].dot(self.hs[k-1]) + self.bs[k]
            self.hs[k] = self.fs[k](self.as_[k])
        return self.hs[j]

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for k in reversed(range(len(self.Ws))):
            if k != len(self.Ws)-1:
                g = g*self.fds[k](self.as_[k])
            self.dbs[k] += g
            self.dWs[k] += np.outer(g, self.hs[k-1])
            g = self.Ws[k].T.dot(g)

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.vWs[k] = self.beta*self.vWs[k] + self.dWs[k]
            self.vbs[k] = self.beta*self.vbs[k] + self.dbs[k]
            self.Ws[k] -= alpha*self.vWs[k]
            self.bs[k] -= alpha*self.vbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k][:] = 0
            self.dbs[k][:] = 0
