import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        # an input layer, to make the picture in the notes; it is skipped in forward
        self.layers = [{"name": "input", "W": np.eye(d), "b": np.zeros(d), "m": d,
                        "dW": np.zeros((d, d)), "db": np.zeros(d)}]

    def add_layer(self, m, f, fderiv, name=None):
        n = self.layers[-1]["m"]
        self.layers.append({"name": name, "m": m, "f": f, "fderiv": fderiv,
                            "W": np.random.randn(m, n)*0.1, "b": np.random.randn(m)*0.1,
                            "dW": np.zeros((m, n)), "db": np.zeros(m)})

    def forward(self, x, start=None, end=None):
        k = 1
        if start is not None:
            while self.layers[k]["name"] != start:
                k += 1
        self.layers[k-1]["h"] = x
        while k < len(self.layers):
            layer = self.layers[k]
            layer["a"] = layer["W"] @ self.layers[k-1]["h"] + layer["b"]
            layer["h"] = layer["f"](layer["a"])
            if layer["name"] == end:
                break
            k += 1
        return self.layers[k]["h"] if k < len(self.layers) else self.layers[-1]["h"]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.layers)-1
        for k in range(L, 0, -1):
            layer = self.layers[k]
            if layer["fderiv"] is not None:
                g = g*layer["fderiv"](layer["a"])
            layer["db"] += g
            layer["dW"] += np.outer(g, self.layers[k-1]["h"])
            g = layer["W"].T @ g

    def step(self, alpha):
        for layer in self.layers[1:]:
            layer["W"] -= alpha*layer["dW"]
            layer["b"] -= alpha*layer["db"]

    def zero_grad(self):
        for layer in self.layers:
            layer["dW"][:] = 0
            layer["db"][:] = 0
