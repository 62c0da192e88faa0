import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.net = []    # one dict per layer
        self.grad_W = []
        self.grad_b = []

    def add_layer(self, m, f, fderiv, name=None):
        n_in = self.d if len(self.net) == 0 else self.net[-1]["bias"].size
        self.net.append({"weights": np.random.randn(m, n_in)*0.1,
                         "bias": np.random.randn(m)*0.1,
                         "f": f, "df": fderiv, "name": name})
        self.grad_W.append(np.zeros((m, n_in)))
        self.grad_b.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        names = [layer["name"] for layer in self.net]
        s = 0 if start is None else names.index(start)
        e = len(self.net) if end is None else names.index(end)+1
        self.inputs = []
        self.pre = []
        h = x
        for layer in self.net[s:e]:
            self.inputs.append(h)
            a = layer["weights"] @ h + layer["bias"]
            self.pre.append(a)
            h = layer["f"](a)
        return h

    def backward(self, x, y):
        # forward(x) was just called, so inputs/pre are for x
        y_est = self.net[-1]["f"](self.pre[-1])
        g = self.est_lossderiv(y_est, y)
        for k in range(len(self.net)-1, -1, -1):
            if k < len(self.net)-1:
                g = g*self.net[k]["df"](self.pre[k])
            self.grad_b[k] += g
            self.grad_W[k] = np.outer(g, self.inputs[k])
            g = self.net[k]["weights"].T @ g
        print("backward done, |g| =", np.linalg.norm(g))

    def step(self, alpha):
        for k, layer in enumerate(self.net):
            layer["weights"] -= alpha*self.grad_W[k]
            layer["bias"] -= 0.01*self.grad_b[k]

    def zero_grad(self):
        for k in range(1, len(self.net)):
            self.grad_W[k][:] = 0
            self.grad_b[k][:] = 0
