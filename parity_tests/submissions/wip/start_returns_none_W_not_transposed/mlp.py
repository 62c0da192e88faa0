import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []   # [W, b, f, fderiv, name, dW, db]

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else self.layers[-1][0].shape[0]
        W = np.random.randn(m, n)*0.1
        b = np.random.randn(m)*0.1
        self.layers.append([W, b, f, fderiv, name, np.zeros((m, n)), np.zeros(m)])

    def forward(self, x, start=None, end=None):
        if start is not None:
            # TODO start in the middle for the autoencoder
            return
        self.a = [None]
        self.h = [x]
        for W, b, f, fderiv, name, dW, db in self.layers:
            self.a.append(W.dot(self.h[-1]) + b)
            self.h.append(f(self.a[-1]))
            if name == end:
                break
        return self.h[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.layers)
        for k in range(L, 0, -1):
            W, b, f, fderiv, name, dW, db = self.layers[k-1]
            if k < L:
                g = g*fderiv(self.a[k])
            db += g
            dW += np.outer(g, self.h[k-1])
            g = W.dot(g)

    def step(self, alpha):
        for layer in self.layers:
            layer[0] -= alpha*layer[5]
            layer[1] -= alpha*layer[6]

    def zero_grad(self):
        for layer in self.layers:
            layer[5][:] = 0
            layer[6][:] = 0
