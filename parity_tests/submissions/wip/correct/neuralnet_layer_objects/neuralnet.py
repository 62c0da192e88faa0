import numpy as np
from layers import *
from losses import *


class DenseLayer(object):
    def __init__(self, n_in, m, f, fderiv):
        self.W = 0.1*np.random.randn(m, n_in)
        self.b = 0.1*np.random.randn(m)
        self.f = f
        self.fderiv = fderiv

    def forward(self, h):
        self.h_in = h
        self.a = np.dot(self.W, h) + self.b
        return self.f(self.a)


class NeuralNet(object):
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []
        self.iters = 0

    def add_layer(self, m, f, fderiv):
        n_in = self.d if len(self.layers) == 0 else self.layers[-1].W.shape[0]
        self.layers.append(DenseLayer(n_in, m, f, fderiv))

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backprop_descent(self, x, y, alpha=0.01):
        y_est = self.forward(x)
        self.iters += 1
        print("iteration", self.iters)
        g = self.est_lossderiv(y_est, y)
        grads = []
        for i in range(len(self.layers)-1, -1, -1):
            layer = self.layers[i]
            if i < len(self.layers)-1:
                g = g*layer.fderiv(layer.a)
            grads.append((layer, np.outer(g, layer.h_in), g))
            g = np.dot(layer.W.T, g)
        for layer, dW, db in grads:
            layer.W = layer.W - alpha*dW
            layer.b = layer.b - alpha*db
