import numpy as np
from layers import *
from losses import *


class Layer(object):
    def __init__(self, n, m, f, fderiv, name):
        self.W = np.random.randn(m, n)*0.1
        self.b = np.random.randn(m)*0.1
        self.f = f
        self.fderiv = fderiv
        self.name = name
        self.dW = np.zeros((m, n))
        self.db = np.zeros(m)

    def forward(self, h):
        self.h_in = h
        self.a = self.W @ h + self.b
        self.h = self.f(self.a)
        return self.h


class MLP(object):
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        if len(self.layers) == 0:
            n = self.d
        else:
            n = self.layers[-1].W.shape[0]
        self.layers.append(Layer(n, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        started = start is None
        h = x
        for layer in self.layers:
            if layer.name == start:
                started = True
            if started:
                h = layer.forward(h)
            if layer.name == end:
                break
        return h

    def backward(self, x, y):
        print("backward", x.shape)
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for i, layer in enumerate(reversed(self.layers)):
            if i > 0:
                g = g*layer.fderiv(layer.a)
            layer.db += g
            layer.dW += np.outer(g, layer.h_in)
            g = layer.W.T @ g

    def step(self, alpha):
        ...

    def zero_grad(self):
        pass
