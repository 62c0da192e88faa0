import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.order = []     # layer names in order
        self.params = {}    # name -> {"W", "b", "f", "fderiv", "gW", "gb"}
        self.lr = 0.01

    def add_layer(self, m, f, fderiv, name=None):
        if name is None:
            name = "layer%i" % (len(self.order)+1)
        n = self.d if len(self.order) == 0 else self.params[self.order[-1]]["W"].shape[0]
        self.params[name] = dict(W=0.1*np.random.randn(m, n), b=0.1*np.random.randn(m),
                                 f=f, fderiv=fderiv, gW=np.zeros((m, n)), gb=np.zeros(m))
        self.order.append(name)

    def forward(self, x, start=None, end=None):
        names = self.order
        if start is not None:
            names = names[names.index(start):]
        if end is not None:
            names = names[:names.index(end)+1]
        self.cache = {}
        h = x
        for name in names:
            p = self.params[name]
            a = p["W"] @ h + p["b"]
            self.cache[name] = (h, a)
            h = p["f"](a)
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        for i, name in enumerate(reversed(self.order)):
            p = self.params[name]
            h_prev, a = self.cache[name]
            if i > 0:
                g = g*p["fderiv"](a)
            p["gW"] += np.outer(g, h_prev)
            p["gb"] += g
            g = p["W"].T @ g
        self.step(self.lr)
        self.zero_grad()

    def step(self, alpha):
        for name in self.order:
            p = self.params[name]
            p["W"] -= alpha*p["gW"]
            p["b"] -= alpha*p["gb"]

    def zero_grad(self):
        for name in self.order:
            self.params[name]["gW"][:] = 0
