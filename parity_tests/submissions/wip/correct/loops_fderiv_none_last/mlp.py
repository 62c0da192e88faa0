import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W, self.b, self.f, self.fd, self.names = [], [], [], [], []
        self.dW, self.db = [], []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.W) == 0 else len(self.b[-1])
        W = np.empty((m, n))
        for i in range(m):
            W[i] = 0.1*np.random.randn(n)
        self.W.append(W)
        self.b.append(0.1*np.random.randn(m))
        self.f.append(f)
        self.fd.append(fderiv)   # None for the last layer
        self.names.append(name)
        self.dW.append(np.zeros((m, n)))
        self.db.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        self.inputs = {}
        self.pre = {}
        begin = 0
        if start is not None:
            for k in range(len(self.names)):
                if self.names[k] == start:
                    begin = k
        h = np.array(x, dtype=float)
        for k in range(begin, len(self.W)):
            self.inputs[k] = h
            a = np.zeros(len(self.b[k]))
            for i in range(len(a)):
                a[i] = np.dot(self.W[k][i], h) + self.b[k][i]
            self.pre[k] = a
            h = self.f[k](a)
            if end is not None and self.names[k] == end:
                break
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for k in range(len(self.W)-1, -1, -1):
            if self.fd[k] is not None:
                g = g*self.fd[k](self.pre[k])
            for i in range(len(g)):
                self.db[k][i] += g[i]
                self.dW[k][i] += g[i]*self.inputs[k]
            g_prev = np.zeros(self.W[k].shape[1])
            for i in range(len(g)):
                g_prev += g[i]*self.W[k][i]
            g = g_prev

    def step(self, alpha):
        for k in range(len(self.W)):
            self.W[k] -= alpha*self.dW[k]
            self.b[k] -= alpha*self.db[k]

    def zero_grad(self):
        for k in range(len(self.W)):
            self.dW[k][:] = 0.0
            self.db[k][:] = 0.0
