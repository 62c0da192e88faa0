import numpy as np
from layers import *
from losses import *

CLIP = 1.0  # keeps the training from blowing up


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else self.layers[-1]["W"].shape[0]
        self.layers.append({"W": 0.1*np.random.randn(m, n), "b": 0.1*np.random.randn(m),
                            "f": f, "fderiv": fderiv, "name": name,
                            "dW": np.zeros((m, n)), "db": np.zeros(m)})

    def forward(self, x, start=None, end=None):
        names = [layer["name"] for layer in self.layers]
        k0 = 0 if start is None else names.index(start)
        k1 = len(self.layers)-1 if end is None else names.index(end)
        h = x
        for layer in self.layers[k0:k1+1]:
            layer["x"] = h
            layer["a"] = layer["W"] @ h + layer["b"]
            h = layer["f"](layer["a"])
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for k in range(len(self.layers)-1, -1, -1):
            layer = self.layers[k]
            if k < len(self.layers)-1:
                g = g*layer["fderiv"](layer["a"])
            g = np.clip(g, -CLIP, CLIP)
            layer["db"] += g
            layer["dW"] += np.outer(g, layer["x"])
            g = layer["W"].T @ g

    def step(self, alpha):
        for layer in self.layers:
            layer["W"] -= alpha*layer["dW"]
            layer["b"] -= alpha*layer["db"]

    def zero_grad(self):
        for layer in self.layers:
            layer["dW"][:] = 0
            layer["db"][:] = 0
