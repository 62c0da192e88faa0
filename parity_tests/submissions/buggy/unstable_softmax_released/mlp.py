import numpy as np

DTYPE = np.float32  # half the memory, and it is what GPUs use anyway


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws, self.bs, self.fs, self.fds, self.names = [], [], [], [], []
        self.dWs, self.dbs = [], []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if not self.Ws else self.Ws[-1].shape[0]
        self.Ws.append((0.1 * np.random.randn(m, n)).astype(DTYPE))
        self.bs.append((0.1 * np.random.randn(m)).astype(DTYPE))
        self.fs.append(f)
        self.fds.append(fderiv)
        self.names.append(name)
        self.dWs.append(np.zeros((m, n), dtype=DTYPE))
        self.dbs.append(np.zeros(m, dtype=DTYPE))

    def forward(self, x, start=None, end=None):
        i = 0 if start is None else self.names.index(start)
        j = len(self.Ws) if end is None else self.names.index(end) + 1
        h = np.asarray(x, dtype=DTYPE)
        self.inputs, self.as_ = {}, {}
        for k in range(i, j):
            self.inputs[k] = h
            self.as_[k] = self.Ws[k] @ h + self.bs[k]
            h = self.fs[k](self.as_[k]).astype(DTYPE)
        return h

    def backward(self, x, y):
        y_est = self.forward(x)
        g = np.asarray(self.est_lossderiv(y_est, y), dtype=DTYPE)
        for k in reversed(range(len(self.Ws))):
            if k != len(self.Ws) - 1:
                g = g * self.fds[k](self.as_[k]).astype(DTYPE)
            self.dbs[k] += g
            self.dWs[k] += np.outer(g, self.inputs[k])
            g = self.Ws[k].T @ g

    def step(self, alpha):
        alpha = DTYPE(alpha)
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha * self.dWs[k]
            self.bs[k] -= alpha * self.dbs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.dWs[k][...] = 0
            self.dbs[k][...] = 0
