"""refmlp check's adapter for netlib.Net: the released MLP API in a few lines.

refmlp check --adapter examples/check_adapter/adapter.py examples/check_adapter/netlib.py
"""

from netlib import Net


class MLP:
    def __init__(self, d, est_lossderiv):
        self.net = Net(d, est_lossderiv)

    def add_layer(self, m, f, fderiv, name=None):
        self.net.add(m, f, fderiv, name)
        self.zero_grad()

    def forward(self, x, start=None, end=None):
        return self.net.predict(x, start, end)

    def backward(self, x, y):  # the course's backward accumulates
        for acc, (dW, db) in zip(self.grads, self.net.backprop(x, y)):
            acc[0] += dW
            acc[1] += db

    def step(self, alpha):
        for layer, (dW, db) in zip(self.net.layers, self.grads):
            layer[0] -= alpha * dW
            layer[1] -= alpha * db

    def zero_grad(self):
        self.grads = [[0 * layer[0], 0 * layer[1]] for layer in self.net.layers]

    def params(self):  # W_k as (out, in), b_k as (out,): the live arrays, read after every call
        return [(layer[0].T, layer[1]) for layer in self.net.layers]
