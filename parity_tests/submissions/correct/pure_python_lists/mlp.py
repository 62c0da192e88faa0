import random

import numpy as np


class MLP:
    """Weights as Python lists of lists; numpy only at the edges, to call f and fderiv."""

    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = []   # W[k][i][j]
        self.b = []   # b[k][i]
        self.dW = []
        self.db = []
        self.f = []
        self.fderiv = []
        self.names = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.W else len(self.W[-1])
        self.W.append([[random.gauss(0, 0.1) for j in range(n)] for i in range(m)])
        self.b.append([random.gauss(0, 0.1) for i in range(m)])
        self.dW.append([[0.0] * n for i in range(m)])
        self.db.append([0.0] * m)
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.names.append(name)

    def forward(self, x, start=None, end=None):
        first = self.names.index(start) if start is not None else 0
        last = self.names.index(end) if end is not None else len(self.W) - 1
        h = [float(v) for v in x]
        self.inputs = {}
        self.pre = {}
        for k in range(first, last + 1):
            self.inputs[k] = h
            a = [sum(w * v for w, v in zip(row, h)) + bi for row, bi in zip(self.W[k], self.b[k])]
            self.pre[k] = a
            h = [float(v) for v in self.f[k](np.array(a))]
        return np.array(h)

    def backward(self, x, y):
        y_est = self.forward(x)
        g = [float(v) for v in self.est_lossderiv(y_est, y)]
        L = len(self.W)
        for k in range(L - 1, -1, -1):
            if k < L - 1:
                fd = self.fderiv[k](np.array(self.pre[k]))
                g = [gi * float(di) for gi, di in zip(g, fd)]
            h_prev = self.inputs[k]
            for i, gi in enumerate(g):
                self.db[k][i] += gi
                row = self.dW[k][i]
                for j, hj in enumerate(h_prev):
                    row[j] += gi * hj
            g = [sum(self.W[k][i][j] * g[i] for i in range(len(g))) for j in range(len(h_prev))]

    def step(self, alpha):
        for k in range(len(self.W)):
            for i in range(len(self.W[k])):
                self.b[k][i] -= alpha * self.db[k][i]
                for j in range(len(self.W[k][i])):
                    self.W[k][i][j] -= alpha * self.dW[k][i][j]

    def zero_grad(self):
        for k in range(len(self.W)):
            self.db[k] = [0.0] * len(self.db[k])
            self.dW[k] = [[0.0] * len(row) for row in self.dW[k]]
