import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W, self.b, self.f, self.fderiv, self.name = [], [], [], [], []
        self.W_derivs, self.b_derivs = [], []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.W) == 0 else self.W[-1].shape[0]
        self.W.append(0.1*np.random.randn(m, n))
        self.b.append(0.1*np.random.randn(m))
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.name.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        k0 = 0 if start is None else self.name.index(start)
        k1 = len(self.W) if end is None else self.name.index(end)+1
        self.inputs, self.a = {}, {}
        h = x
        for k in range(k0, k1):
            self.inputs[k] = h
            self.a[k] = self.W[k] @ h + self.b[k]
            h = self.f[k](self.a[k])
        return h

    def backward(self, x, y):
        self.forward(x)
        L = len(self.W)
        # the derivative of the loss with respect to the last layer's input
        g = self.est_lossderiv(self.a[L-1], y)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderiv[k](self.a[k])
            self.b_derivs[k] += g
            self.W_derivs[k] += np.outer(g, self.inputs[k])
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(len(self.W)):
            self.W[k] -= alpha*self.W_derivs[k]
            self.b[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(len(self.W)):
            self.W_derivs[k][:] = 0
            self.b_derivs[k][:] = 0
