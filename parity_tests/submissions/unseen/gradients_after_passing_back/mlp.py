import numpy as np
from layers import *
from losses import *


class Layer:
    def __init__(self, n, m, f, fderiv, name):
        self.W = 0.1*np.random.randn(m, n)
        self.b = 0.1*np.random.randn(m)
        self.f, self.fderiv, self.name = f, fderiv, name
        self.dW = np.zeros((m, n))
        self.db = np.zeros(m)


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.layers else self.layers[-1].W.shape[0]
        self.layers.append(Layer(n, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        go = start is None
        h = x
        for layer in self.layers:
            go = go or layer.name == start
            if go:
                layer.h_in = h
                layer.a = layer.W @ h + layer.b
                h = layer.f(layer.a)
            if layer.name == end:
                break
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for i, layer in enumerate(reversed(self.layers)):
            if i > 0:
                g = g*layer.fderiv(layer.a)
            g_back = layer.W.T @ g
            layer.db += g_back
            layer.dW += np.outer(g_back, layer.h_in)
            g = g_back

    def step(self, alpha):
        for layer in self.layers:
            layer.W -= alpha*layer.dW
            layer.b -= alpha*layer.db

    def zero_grad(self):
        for layer in self.layers:
            layer.dW[:] = 0
            layer.db[:] = 0
