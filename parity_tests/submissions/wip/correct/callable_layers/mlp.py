import numpy as np
from layers import *
from losses import *


class Layer:
    """One fully connected layer: a = W h_prev + b, h = f(a)"""

    def __init__(self, n, m, f, fderiv, name):
        self.W = np.random.randn(m, n)*0.1
        self.b = np.random.randn(m)*0.1
        self.f = f
        self.fderiv = fderiv
        self.name = name
        self.zero_grad()

    def __call__(self, h_prev):
        self.h_prev = h_prev
        self.a = self.W @ h_prev + self.b
        self.h = self.f(self.a)
        return self.h

    def backward(self, g, last):
        if not last:
            g = g*self.fderiv(self.a)
        self.db += g
        self.dW += np.outer(g, self.h_prev)
        return self.W.T @ g

    def step(self, alpha):
        self.W -= alpha*self.dW
        self.b -= alpha*self.db

    def zero_grad(self):
        self.dW = np.zeros(self.W.shape)
        self.db = np.zeros(self.b.shape)


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else self.layers[-1].W.shape[0]
        self.layers.append(Layer(n, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        names = [layer.name for layer in self.layers]
        i = names.index(start) if start is not None else 0
        j = names.index(end) if end is not None else len(self.layers)-1
        h = x
        for layer in self.layers[i:j+1]:
            h = layer(h)
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for i, layer in enumerate(reversed(self.layers)):
            g = layer.backward(g, i == 0)

    def step(self, alpha):
        for layer in self.layers:
            layer.step(alpha)

    def zero_grad(self):
        for layer in self.layers:
            layer.zero_grad()
