import numpy as np
from layers import *
from losses import *


class Dense:
    def __init__(self, n_in, n_out, f=None, fderiv=None, name=None):
        self.W = 0.1*np.random.randn(n_out, n_in)
        self.b = 0.1*np.random.randn(n_out)
        self.f, self.fderiv, self.name = f, fderiv, name
        self.dW = np.zeros(self.W.shape)
        self.db = np.zeros(self.b.shape)

    def __call__(self, x):
        self.x = x
        self.a = self.W @ x + self.b
        self.h = self.a if self.f is None else self.f(self.a)
        return self.h


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.input_layer = Dense(d, d, name="input")   # not used yet
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n_in = self.layers[-1].W.shape[0] if self.layers else self.d
        self.layers.append(Dense(n_in, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        h = x
        on = start is None
        for layer in self.layers:
            on = on or layer.name == start
            if on:
                h = layer(h)
            if layer.name == end:
                return h
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        last = True
        for layer in self.layers[::-1]:
            if not last:
                g = g*layer.fderiv(layer.a)
            last = False
            layer.db += g
            layer.dW += np.outer(g, layer.x)
            print(layer.name, "g", g.shape, "W", layer.W.shape)
            g = layer.W @ g

    def step(self, alpha):
        for layer in self.layers:
            layer.W += alpha*layer.dW
            layer.b += alpha*layer.db

    def zero_grad(self):
        for layer in [self.input_layer] + self.layers:
            layer.dW[:] = 0
            layer.db[:] = 0
