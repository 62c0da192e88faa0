import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else len(self.layers[-1][1])
        # [W, b, f, fderiv, name, W_deriv, b_deriv]
        self.layers.append([np.random.randn(m, n)*0.1, np.random.randn(m)*0.1, f, fderiv,
                            name, np.zeros((m, n)), np.zeros(m)])

    def forward(self, x, start=None, end=None):
        names = [layer[4] for layer in self.layers]
        k0 = names.index(start) if start is not None else 0
        k1 = names.index(end) if end is not None else len(self.layers)-1
        self.a = []
        self.h = [x]
        for layer in self.layers[k0:k1+1]:
            W, b, f = layer[0], layer[1], layer[2]
            a = np.dot(W, self.h[-1])
            self.a.append(a)
            a = a + b
            self.h.append(f(a))
        return self.h[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.layers)
        for k in range(L-1, -1, -1):
            W, b, f, fderiv, name, W_deriv, b_deriv = self.layers[k]
            if k < L-1:
                g = g*fderiv(self.a[k])
            b_deriv += g
            W_deriv += np.outer(g, self.h[k])
            g = np.dot(W.T, g)

    def step(self, alpha):
        for layer in self.layers:
            layer[0] -= alpha*layer[5]
            # layer[1] -= alpha*layer[6]   TODO biases

    def zero_grad(self):
        for layer in self.layers:
            layer[5][:] = 0
            layer[6][:] = 0
