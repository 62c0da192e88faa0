"""Stands for your project's own network: a numpy MLP with its own API, nothing from refmlp.

ReLU hidden layers, a linear output, the half squared error averaged over the batch; weights
stored (in, out), so a layer computes a = h @ W + b.
"""

import numpy as np


class Net:
    def __init__(self, sizes, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.params = [(rng.normal(0, (2 / m) ** 0.5, (m, n)).astype(dtype), np.zeros(n, dtype))
                       for m, n in zip(sizes[:-1], sizes[1:])]

    def forward(self, X):
        """The pre-activations a and activations h of every layer, one sample a row."""
        a, h = [], [X]
        for i, (W, b) in enumerate(self.params):
            a.append(h[-1] @ W + b)
            h.append(a[-1] if i == len(self.params) - 1 else np.maximum(a[-1], 0))
        return a, h

    def grads(self, X, Y, *, with_activations=False):
        """[(dW, db), ...] of 1/2 mean over samples of sum (h_L - y)^2; with_activations: also
        a, h and g = dLoss/da of every layer."""
        a, h = self.forward(X)
        g = (h[-1] - Y) / len(X)
        grads, gs = [], []
        for i in reversed(range(len(self.params))):
            if i < len(self.params) - 1:
                g = g * (a[i] > 0)
            gs.insert(0, g)
            grads.insert(0, (h[i].T @ g, g.sum(axis=0)))
            g = g @ self.params[i][0].T
        if with_activations:
            return {"grads": grads, "a": a, "h": h[1:], "g": gs}
        return grads
