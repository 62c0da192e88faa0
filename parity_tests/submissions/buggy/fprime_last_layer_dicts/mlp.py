import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.layers else self.layers[-1]["m"]
        layer = {
            "m": m,
            "W": 0.1 * np.random.randn(m, n),
            "b": 0.1 * np.random.randn(m),
            "f": f,
            "fderiv": fderiv,
            "name": name,
            "dW": np.zeros((m, n)),
            "db": np.zeros(m),
        }
        self.layers.append(layer)

    def _index(self, name, default):
        if name is None:
            return default
        for i, layer in enumerate(self.layers):
            if layer["name"] == name:
                return i
        raise ValueError("no layer named " + str(name))

    def forward(self, x, start=None, end=None):
        i1 = self._index(start, 0)
        i2 = self._index(end, len(self.layers) - 1)
        h = x
        for layer in self.layers[i1:i2 + 1]:
            layer["input"] = h
            layer["a"] = layer["W"] @ h + layer["b"]
            layer["h"] = layer["f"](layer["a"])
            h = layer["h"]
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            g = g * layer["fderiv"](layer["a"])
            layer["db"] += g
            layer["dW"] += np.outer(g, layer["input"])
            g = layer["W"].T @ g

    def step(self, alpha):
        for layer in self.layers:
            layer["W"] -= alpha * layer["dW"]
            layer["b"] -= alpha * layer["db"]

    def zero_grad(self):
        for layer in self.layers:
            layer["dW"] = np.zeros_like(layer["dW"])
            layer["db"] = np.zeros_like(layer["db"])
