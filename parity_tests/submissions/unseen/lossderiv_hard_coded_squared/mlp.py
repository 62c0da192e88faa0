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
        self.W_derivs = []
        self.b_derivs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(np.random.randn(m, n)*0.1)
        self.bs.append(np.random.randn(m)*0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        i = 0 if start is None else self.names.index(start)
        j = len(self.Ws)-1 if end is None else self.names.index(end)
        self.a = []
        self.h = [x]
        for k in range(i, j+1):
            self.a.append(self.Ws[k] @ self.h[-1] + self.bs[k])
            self.h.append(self.fs[k](self.a[-1]))
        return self.h[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = 2*(y_est - y)   # derivative of the loss
        L = len(self.Ws)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderivs[k](self.a[k])
            self.b_derivs[k] += g
            self.W_derivs[k] += np.outer(g, self.h[k])
            g = self.Ws[k].T @ g

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.W_derivs[k]
            self.bs[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.W_derivs[k][:] = 0
            self.b_derivs[k][:] = 0
