import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.layers) == 0 else self.layers[-1]["W"].shape[0]
        self.layers.append({"W": np.random.randn(m, n)*0.1, "b": np.random.randn(m)*0.1,
                            "f": f, "fderiv": fderiv, "name": name,
                            "W_derivs": np.zeros((m, n)), "b_derivs": np.zeros(m)})

    def forward(self, x, start=None, end=None):
        self.h = [x]   # h[k] = output of layer k, h[0] = x
        self.a = [None]
        go = start is None
        for layer in self.layers:
            if layer["name"] == start:
                go = True
            if not go:  # x is the input of the layer called start
                self.h.append(x)
                self.a.append(None)
                continue
            self.a.append(layer["W"] @ self.h[-1] + layer["b"])
            self.h.append(layer["f"](self.a[-1]))
            if layer["name"] == end:
                break
        print("forward", [h.shape for h in self.h])
        return self.h[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        L = len(self.layers)
        for k in range(L, 0, -1):
            layer = self.layers[k-1]
            if k < L:
                g = g*layer["fderiv"](self.a[k])
            layer["b_derivs"] += g
            layer["W_derivs"] += np.outer(g, self.h[k])
            g = layer["W"].T @ g

    def step(self, alpha):
        for layer in self.layers:
            layer["W"] -= alpha*layer["W_derivs"]
            layer["b"] -= alpha*layer["b_derivs"]

    def zero_grad(self):
        pass
