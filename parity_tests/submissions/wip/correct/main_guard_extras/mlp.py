import numpy as np
from layers import *
from losses import *


class MLP:
    def __init__(self, d, est_lossderiv):
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []
        self.names = {}
        self.dWs = []
        self.dbs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d
        if self.Ws:
            n = self.Ws[-1].shape[0]
        self.names[name] = len(self.Ws)
        self.Ws.append(np.random.randn(m, n)*0.1)
        self.bs.append(np.random.randn(m)*0.1)
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.dWs.append(np.zeros_like(self.Ws[-1]))
        self.dbs.append(np.zeros_like(self.bs[-1]))

    def forward(self, x, start=None, end=None):
        s = self.names[start] if start is not None else 0
        e = self.names[end] if end is not None else len(self.Ws)-1
        self.ins = [None]*len(self.Ws)
        self.pre = [None]*len(self.Ws)
        h = x
        for i in range(s, e+1):
            self.ins[i] = h
            self.pre[i] = np.dot(self.Ws[i], h) + self.bs[i]
            h = self.fs[i](self.pre[i])
        return h

    def backward(self, x, y):
        g = self.est_lossderiv(self.forward(x), y)
        for i in reversed(range(len(self.Ws))):
            if i != len(self.Ws)-1:
                g *= self.fderivs[i](self.pre[i])
            self.dbs[i] += g
            self.dWs[i] += np.outer(g, self.ins[i])
            g = np.dot(self.Ws[i].T, g)

    def step(self, alpha):
        for i in range(len(self.Ws)):
            self.Ws[i] -= alpha*self.dWs[i]
            self.bs[i] -= alpha*self.dbs[i]

    def zero_grad(self):
        for i in range(len(self.Ws)):
            self.dWs[i] *= 0
            self.dbs[i] *= 0


if __name__ == "__main__":
    import matplotlib.pyplot as plt
    np.random.seed(0)
    X = np.random.randn(1000, 2)
    y = np.array(np.sum(X**2, axis=1) < 1, dtype=float)
    nn = MLP(2, logistic_est_loss_deriv)
    nn.add_layer(100, leaky_relu, leaky_relu_deriv, "layer1")
    nn.add_layer(2, leaky_relu, leaky_relu_deriv, "layer2")
    nn.add_layer(1, logistic, None, "lastlayer")
    losses = []
    for epoch in range(100):
        loss = 0
        for i in np.random.permutation(1000):
            loss += logistic_est_loss(nn.forward(X[i]), y[i])
            nn.backward(X[i], y[i])
            nn.step(1e-3)
            nn.zero_grad()
        losses.append(loss)
    plt.plot(losses)
    plt.savefig("loss.png")
