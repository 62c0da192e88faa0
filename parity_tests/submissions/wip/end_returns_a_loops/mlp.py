import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws, self.bs = [], []
        self.fs, self.fds = [], []
        self.names = []
        self.dWs, self.dbs = [], []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.Ws else len(self.Ws[-1])
        W = np.zeros((m, n))
        for i in range(m):
            for j in range(n):
                W[i, j] = 0.1*np.random.randn()
        self.Ws.append(W)
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fds.append(fderiv)
        self.names.append(name)
        self.dWs.append(np.zeros((m, n)))
        self.dbs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        self.a_list = []
        self.h_list = [x]
        begin = 0 if start is None else self.names.index(start)
        h = x
        for k in range(begin, len(self.Ws)):
            W, b = self.Ws[k], self.bs[k]
            a = np.zeros(W.shape[0])
            for i in range(W.shape[0]):
                a[i] = b[i]
                for j in range(W.shape[1]):
                    a[i] += W[i, j]*h[j]
            h = self.fs[k](a)
            self.a_list.append(a)
            self.h_list.append(h)
            if self.names[k] == end:
                return a
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.Ws)
        for k in reversed(range(L)):
            if k < L-1:
                g = g*self.fds[k](g)
            h_prev = self.h_list[k]
            for i in range(len(g)):
                self.dbs[k][i] += g[i]
                for j in range(len(h_prev)):
                    self.dWs[k][i, j] += g[i]*h_prev[j]
            g_new = np.zeros(self.Ws[k].shape[1])
            for j in range(self.Ws[k].shape[1]):
                for i in range(self.Ws[k].shape[0]):
                    g_new[j] += self.Ws[k][i, j]*g[i]
            g = g_new

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] = self.Ws[k] - alpha*self.dWs[k]
            self.bs[k] = self.bs[k] - alpha*self.dbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k] = np.zeros(self.dWs[k].shape)
            self.dbs[k] = np.zeros(self.dbs[k].shape)
