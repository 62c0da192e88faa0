import numpy as np


class MLP:
    """The bias trick: each layer keeps one (m, n + 1) matrix [W | b], and h gets a 1 appended."""

    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.thetas = []
        self.grads = []
        self.f = []
        self.fp = []
        self.names = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.thetas else self.thetas[-1].shape[0]
        self.thetas.append(0.1 * np.random.randn(m, n + 1))
        self.grads.append(np.zeros((m, n + 1)))
        self.f.append(f)
        self.fp.append(fderiv)
        self.names.append(name)

    def forward(self, x, start=None, end=None):
        s = self.names.index(start) if start is not None else 0
        e = self.names.index(end) if end is not None else len(self.thetas) - 1
        self.hs_aug = {}
        self.as_ = {}
        h = np.asarray(x, dtype=float)
        for k in range(s, e + 1):
            h_aug = np.append(h, 1.0)
            self.hs_aug[k] = h_aug
            self.as_[k] = self.thetas[k] @ h_aug
            h = self.f[k](self.as_[k])
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for k in range(len(self.thetas) - 1, -1, -1):
            if k < len(self.thetas) - 1:
                g = g * self.fp[k](self.as_[k])
            self.grads[k] += np.outer(g, self.hs_aug[k])
            g = self.thetas[k][:, :-1].T @ g

    def step(self, alpha):
        for k in range(len(self.thetas)):
            self.thetas[k] -= alpha * self.grads[k]

    def zero_grad(self):
        for gr in self.grads:
            gr[:] = 0
