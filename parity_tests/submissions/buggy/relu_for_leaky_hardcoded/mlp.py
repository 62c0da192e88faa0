import numpy as np

# each layer is a list: [W, b, f, fderiv, name]
W, B, F, FDERIV, NAME = 0, 1, 2, 3, 4


class MLP:
    def __init__(self, d, est_lossderiv):
        np.random.seed(0)  # so that my runs are reproducible
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.layers = []
        self.dW = []
        self.db = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d
        if len(self.layers) > 0:
            n = len(self.layers[-1][B])
        self.layers.append([0.1 * np.random.randn(m, n), 0.1 * np.random.randn(m), f, fderiv, name])
        self.dW.append(np.zeros((m, n)))
        self.db.append(np.zeros(m))

    def forward(self, x, start=None, end=None):
        names = [layer[NAME] for layer in self.layers]
        first = 0 if start is None else names.index(start)
        last = len(self.layers) if end is None else names.index(end) + 1
        self.hs = [x]  # the input of layer first
        self.as_ = []
        for layer in self.layers[first:last]:
            a = np.matmul(layer[W], self.hs[-1]) + layer[B]
            self.as_.append(a)
            self.hs.append(layer[F](a))
        return self.hs[-1]

    def backward(self, x, y):
        self.forward(x)
        L = len(self.layers)
        g = self.est_lossderiv(self.hs[L], y)
        for k in range(L, 0, -1):
            layer = self.layers[k - 1]
            if k < L:
                g = g * (self.as_[k - 1] > 0)
            self.db[k - 1] = self.db[k - 1] + g
            self.dW[k - 1] = self.dW[k - 1] + np.outer(g, self.hs[k - 1])
            g = np.matmul(layer[W].T, g)

    def step(self, alpha):
        for i, layer in enumerate(self.layers):
            layer[W] = layer[W] - alpha * self.dW[i]
            layer[B] = layer[B] - alpha * self.db[i]

    def zero_grad(self):
        for i in range(len(self.layers)):
            self.dW[i] = 0 * self.dW[i]
            self.db[i] = 0 * self.db[i]
