import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []   # [W, b, f, fderiv, name]
        self.grads = []    # [dW, db]

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else self.layers[-1][0].shape[0]
        self.layers.append([np.random.randn(m, n)*0.1, np.random.randn(m)*0.1, f, fderiv, name])
        self.grads.append([np.zeros((m, n)), np.zeros(m)])

    def forward(self, x, start=None, end=None):
        names = [layer[4] for layer in self.layers]
        first = names.index(start) if start is not None else 0
        last = names.index(end) if end is not None else len(self.layers)-1
        self.cache = []
        h = x
        for W, b, f, fderiv, name in self.layers[first:last+1]:
            a = W.dot(h) + b
            self.cache.append((h, a))
            h = f(a)
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        L = len(self.layers)
        for k in range(L-1, -1, -1):
            W, b, f, fderiv, name = self.layers[k]
            h_prev, a = self.cache[k]
            if k < L-1:
                g = g*fderiv(a)
            self.grads[k][0] += np.outer(g, h_prev)
            self.grads[k][1] += g
            g = W.T.dot(g)

    def step(self, alpha):
        for layer, (dW, db) in zip(self.layers, self.grads):
            layer[0] -= alpha*dW
            layer[1] -= alpha*db

    def zero_grad(self):
        for layer, grad in zip(self.layers, self.grads):
            for i in range(2):
                layer[i][:] = 0
