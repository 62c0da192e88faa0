import numpy as np


class MLP:
    """Weights stored (in, out) like in Keras, so that a row vector goes through as h @ W + b."""

    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.weights = []   # (n_in, n_out) each
        self.biases = []
        self.acts = []
        self.names = []
        self.grad_w = []
        self.grad_b = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.weights else self.weights[-1].shape[1]
        self.weights.append(0.1 * np.random.randn(n, m))
        self.biases.append(0.1 * np.random.randn(m))
        self.acts.append((f, fderiv))
        self.names.append(name)
        self.grad_w.append(np.zeros((n, m)))
        self.grad_b.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        lo = self.names.index(start) if start is not None else 0
        hi = self.names.index(end) if end is not None else len(self.weights) - 1
        self.cache = {}
        h = x
        for k in range(lo, hi + 1):
            a = h @ self.weights[k] + self.biases[k]
            self.cache[k] = (h, a)
            h = self.acts[k][0](a)
        return h

    def backward(self, x, y):
        out = self.forward(x)
        delta = self.est_lossderiv(out, y)
        last = len(self.weights) - 1
        for k in range(last, -1, -1):
            h_in, a = self.cache[k]
            if k != last:
                delta = delta * self.acts[k][1](a)
            self.grad_b[k] += delta
            self.grad_w[k] += np.outer(h_in, delta)
            delta = self.weights[k] @ delta

    def step(self, alpha):
        for k in range(len(self.weights)):
            self.weights[k] -= alpha * self.grad_w[k]
            self.biases[k] -= alpha * self.grad_b[k]

    def zero_grad(self):
        for k in range(len(self.weights)):
            self.grad_w[k][:] = 0.0
            self.grad_b[k][:] = 0.0
