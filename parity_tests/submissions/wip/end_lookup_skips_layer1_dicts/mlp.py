import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        """
        Parameters
        ----------
        d: int
            Number of dimensions of the input
        est_lossderiv: function ndarray(N), ndarray(N) -> ndarray(N)
            Gradient of the loss with respect to the inputs of the last layer
        """
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []  # layers[0] is the first layer

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d
        if len(self.layers) > 0:
            n = self.layers[-1]["W"].shape[0]
        layer = {"W": np.random.randn(m, n)*0.1, "b": np.random.randn(m)*0.1,
                 "f": f, "fderiv": fderiv, "name": name,
                 "dW": np.zeros((m, n)), "db": np.zeros(m)}
        self.layers.append(layer)

    def forward(self, x, start=None, end=None):
        L = len(self.layers)
        i0 = 0
        i1 = L-1
        if start is not None:
            for i in range(L):
                if self.layers[i]["name"] == start:
                    i0 = i
        if end is not None:
            for i in range(L-1, 0, -1):
                if self.layers[i]["name"] == end:
                    i1 = i
        # self.a[k], self.h[k] are for layer k (1-based), h[0] = x
        self.a = [None]
        self.h = [x]
        for i in range(i0, i1+1):
            layer = self.layers[i]
            a = layer["W"] @ self.h[-1] + layer["b"]
            self.a.append(a)
            self.h.append(layer["f"](a))
        return self.h[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.layers)
        for k in range(L, 0, -1):
            layer = self.layers[k-1]
            if k < L:
                g = g*layer["fderiv"](self.a[k])
            layer["db"] += g
            layer["dW"] += np.outer(g, self.a[k-1] if k > 1 else x)
            g = layer["W"].T @ g

    def step(self, alpha):
        for layer in self.layers:
            layer["W"] -= alpha*layer["dW"]
            layer["b"] -= alpha*layer["db"]

    def zero_grad(self):
        for layer in self.layers:
            layer["dW"] = np.zeros(layer["dW"].shape)
            layer["db"] = np.zeros(layer["db"].shape)
