import numpy as np


def col(v):
    """as an (n, 1) column, like in the notes"""
    return np.array(v, dtype=float).reshape(-1, 1)


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.W = []
        self.b = []  # (m, 1) columns
        self.f = []
        self.fderiv = []
        self.names = []
        self.dW = []
        self.db = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.W else self.W[-1].shape[0]
        self.W.append(0.1 * np.random.randn(m, n))
        self.b.append(0.1 * np.random.randn(m, 1))
        self.f.append(f)
        self.fderiv.append(fderiv)
        self.names.append(name)
        self.dW.append(np.zeros((m, n)))
        self.db.append(np.zeros((m, 1)))

    def _forward_cols(self, x, start, end):
        k1 = 0 if start is None else self.names.index(start)
        k2 = len(self.W) - 1 if end is None else self.names.index(end)
        hs = [col(x)]
        as_ = []
        for k in range(k1, k2 + 1):
            a = self.W[k] @ hs[-1] + self.b[k]  # (m, 1)
            as_.append(a)
            hs.append(self.f[k](a))
        return as_, hs

    def forward(self, x, start=None, end=None):
        as_, hs = self._forward_cols(x, start, end)
        return hs[-1].flatten()  # the API wants 1-D

    def backward(self, x, y):
        as_, hs = self._forward_cols(x, None, None)
        L = len(self.W)
        y_est = hs[-1].flatten()
        g = col(self.est_lossderiv(y_est, y))
        for k in range(L - 1, -1, -1):
            if k < L - 1:
                g = g * self.fderiv[k](as_[k])
            self.db[k] += g
            self.dW[k] += g @ hs[k].T
            g = self.W[k].T @ g

    def step(self, alpha):
        for k in range(len(self.W)):
            self.W[k] -= alpha * self.dW[k]
            self.b[k] -= alpha * self.db[k]

    def zero_grad(self):
        for k in range(len(self.W)):
            self.dW[k] *= 0
            self.db[k] *= 0
