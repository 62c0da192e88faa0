import numpy as np


class MLP:
    def __init__(self, d, est_lossderiv, seed=42):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.rng = np.random.default_rng(seed)
        self.order = []      # layer names, input to output
        self.params = {}     # name -> {"W": ..., "b": ...}
        self.grads = {}      # name -> {"W": ..., "b": ...}
        self.funcs = {}      # name -> (f, fderiv)
        self.cache = {}

    def add_layer(self, m, f, fderiv, name=None):
        if name is None:
            name = "layer%i" % len(self.order)
            while name in self.params:
                name += "_"
        n = self.d if not self.order else self.params[self.order[-1]]["W"].shape[0]
        self.params[name] = {"W": 0.1 * self.rng.standard_normal((m, n)),
                             "b": 0.1 * self.rng.standard_normal(m)}
        self.grads[name] = {"W": np.zeros((m, n)), "b": np.zeros(m)}
        self.funcs[name] = (f, fderiv)
        self.order.append(name)

    def forward(self, x, start=None, end=None):
        i = self.order.index(start) if start else 0
        j = self.order.index(end) if end else len(self.order) - 1
        h = x
        for name in self.order[i:j + 1]:
            p = self.params[name]
            a = np.dot(p["W"], h) + p["b"]
            self.cache[name] = (h, a)
            h = self.funcs[name][0](a)
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for idx, name in enumerate(reversed(self.order)):
            h_prev, a = self.cache[name]
            if idx > 0:
                g = g * self.funcs[name][1](a)
            self.grads[name]["b"] += g
            self.grads[name]["W"] += np.outer(g, h_prev)
            g = np.dot(self.params[name]["W"].T, g)

    def step(self, alpha):
        for name in self.order:
            for key in ("W", "b"):
                self.params[name][key] -= alpha * self.grads[name][key]

    def zero_grad(self):
        for name in self.order:
            for key in ("W", "b"):
                self.grads[name][key][:] = 0
