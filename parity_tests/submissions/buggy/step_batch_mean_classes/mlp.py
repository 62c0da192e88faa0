import numpy as np
from layers import *


class Layer:
    """One fully connected layer a = W h + b, h_out = f(a)."""

    def __init__(self, n_in, m, f, fderiv, name):
        self.W = np.random.randn(m, n_in) * 0.1
        self.b = np.random.randn(m) * 0.1
        self.f = f
        self.fderiv = fderiv
        self.name = name
        self.W_derivs = np.zeros_like(self.W)
        self.b_derivs = np.zeros_like(self.b)

    def forward(self, h_in):
        self.h_in = h_in
        self.a = self.W @ h_in + self.b
        self.h = self.f(self.a)
        return self.h

    def backward(self, g, last):
        """g is dLoss/dh of this layer (or dLoss/da if last); returns dLoss/dh of the layer before"""
        if not last:
            g = g * self.fderiv(self.a)
        self.b_derivs += g
        self.W_derivs += np.outer(g, self.h_in)
        return self.W.T @ g

    def step(self, alpha):
        self.W -= alpha * self.W_derivs
        self.b -= alpha * self.b_derivs

    def zero_grad(self):
        self.W_derivs.fill(0)
        self.b_derivs.fill(0)


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []
        self.n_seen = 0  # examples accumulated since zero_grad

    def add_layer(self, m, f, fderiv, name=None):
        n_in = self.d if len(self.layers) == 0 else self.layers[-1].W.shape[0]
        self.layers.append(Layer(n_in, m, f, fderiv, name))

    def forward(self, x, start=None, end=None):
        started = start is None
        for layer in self.layers:
            if not started and layer.name == start:
                started = True
            if started:
                x = layer.forward(x)
                if end is not None and layer.name == end:
                    break
        return x

    def backward(self, x, y):
        self.n_seen += 1
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for i, layer in enumerate(reversed(self.layers)):
            g = layer.backward(g, last=(i == 0))

    def step(self, alpha):
        for layer in self.layers:
            layer.step(alpha / self.n_seen)  # average over the batch

    def zero_grad(self):
        self.n_seen = 0
        for layer in self.layers:
            layer.zero_grad()
