import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []   # layers[i] = [W, b, f, fderiv, name] for layer k = i+1
        self.W_derivs = []
        self.b_derivs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else self.layers[-1][0].shape[0]
        self.layers.append([np.random.randn(m, n)*0.1, np.random.randn(m)*0.1, f, fderiv, name])
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))

    def find(self, name):
        for i, layer in enumerate(self.layers):
            if layer[4] == name:
                return i+1
        raise ValueError("no layer named " + str(name))

    def forward(self, x, start=None, end=None):
        L = len(self.layers)
        k_start = 1 if start is None else self.find(start)
        k_end = L if end is None else self.find(end)
        # a[k], h[k] for k = 1..L as in the notes, h[k_start-1] is the input
        self.a = [None]*(L+1)
        self.h = [None]*(L+1)
        self.h[k_start-1] = x
        for k in range(k_start, k_end+1):
            W, b, f, fderiv, name = self.layers[k-1]
            self.a[k] = W @ self.h[k-1] + b
            self.h[k] = f(self.a[k])
        return self.h[k_end]

    def backward(self, x, y):
        L = len(self.layers)
        self.forward(x)
        g = self.est_lossderiv(self.h[L], y)
        for k in range(L, 0, -1):
            W, b, f, fderiv, name = self.layers[k-1]
            if k < L:
                g = g*fderiv(self.a[k])
            self.b_derivs[k-1] = self.b_derivs[k-1] + g
            self.W_derivs[k-1] = self.W_derivs[k-1] + np.outer(g, self.h[k-1])
            g = W.T @ g

    def step(self, alpha):
        for i, layer in enumerate(self.layers):
            layer[0] = layer[0] - alpha*self.W_derivs[i]
            layer[1] = layer[1] - alpha*self.b_derivs[i]

    def zero_grad(self):
        for i in range(len(self.layers)):
            self.W_derivs[i] = np.zeros(self.W_derivs[i].shape)
            self.b_derivs[i] = np.zeros(self.b_derivs[i].shape)
