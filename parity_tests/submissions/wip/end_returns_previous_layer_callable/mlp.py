import numpy as np
from layers import *
from losses import *


class Layer:
    def __init__(self, n_in, m, f, fderiv, name):
        self.W = np.random.randn(m, n_in)*0.1
        self.b = np.random.randn(m)*0.1
        self.f = f
        self.fderiv = fderiv
        self.name = name
        self.W_deriv = np.zeros_like(self.W)
        self.b_deriv = np.zeros_like(self.b)

    def __call__(self, h_prev):
        self.a = self.W.dot(h_prev) + self.b
        self.h = self.f(self.a)
        return self.h


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n_in = self.d if not self.layers else self.layers[-1].W.shape[0]
        self.layers.append(Layer(n_in, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        names = [layer.name for layer in self.layers]
        s = 0 if start is None else names.index(start)
        self.hs = [x]   # hs[k] = output of layer k, hs[0] = x
        for layer in self.layers[s:]:
            self.hs.append(layer(self.hs[-1]))
        if end is not None:
            return self.hs[names.index(end)]
        return self.hs[-1]

    def backward(self, x, y):
        self.zero_grad()
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.layers)
        for k in range(L-1, -1, -1):
            layer = self.layers[k]
            if k != L-1:
                g = g*layer.fderiv(layer.a)
            layer.b_deriv += g
            layer.W_deriv += np.outer(g, self.hs[k])
            g = layer.W.T.dot(g)

    def step(self, alpha):
        for layer in self.layers:
            layer.W -= alpha*layer.W_deriv
            layer.b -= alpha*layer.b_deriv

    def zero_grad(self):
        for layer in self.layers:
            layer.W_deriv[:] = 0
            layer.b_deriv[:] = 0
