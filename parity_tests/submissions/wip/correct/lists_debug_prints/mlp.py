import numpy as np
from layers import *
from losses import *

VERBOSE = True


class MLP:
    def __init__(self, d, est_lossderiv):
        """
        Parameters
        ----------
        d: int
            Number of dimensions of the input
        est_lossderiv: function ndarray(N), ndarray(N) -> ndarray(N)
            Gradient of the loss with respect to the inputs of the last layer
        """
        self.d = d
        self.est_lossderiv = est_lossderiv
        self.Ws = []
        self.bs = []
        self.fs = []
        self.fderivs = []
        self.names = []
        self.W_derivs = []
        self.b_derivs = []

    def add_layer(self, m, f, fderiv, name=None):
        n = self.d if len(self.Ws) == 0 else self.Ws[-1].shape[0]
        self.Ws.append(0.1*np.random.randn(m, n))
        self.bs.append(0.1*np.random.randn(m))
        self.fs.append(f)
        self.fderivs.append(fderiv)
        self.names.append(name)
        self.W_derivs.append(np.zeros((m, n)))
        self.b_derivs.append(np.zeros(m))
        if VERBOSE:
            print("layer", len(self.Ws), name, (m, n))

    def forward(self, x, start=None, end=None):
        i0 = 0 if start is None else self.names.index(start)
        i1 = len(self.Ws)-1 if end is None else self.names.index(end)
        self.a = []
        self.h = [x]
        for i in range(i0, i1+1):
            self.a.append(self.Ws[i].dot(self.h[-1]) + self.bs[i])
            self.h.append(self.fs[i](self.a[-1]))
        if VERBOSE:
            print("forward", x.shape, "->", self.h[-1].shape)
        return self.h[-1]

    def backward(self, x, y):
        y_est = self.forward(x)
        g = self.est_lossderiv(y_est, y)
        if VERBOSE:
            print("g_L", g)
        L = len(self.Ws)
        for k in range(L-1, -1, -1):
            if k < L-1:
                g = g*self.fderivs[k](self.a[k])
            self.b_derivs[k] += g
            self.W_derivs[k] += np.outer(g, self.h[k])
            g = self.Ws[k].T.dot(g)

    def step(self, alpha):
        for k in range(len(self.Ws)):
            self.Ws[k] -= alpha*self.W_derivs[k]
            self.bs[k] -= alpha*self.b_derivs[k]

    def zero_grad(self):
        for k in range(len(self.Ws)):
            self.W_derivs[k][:] = 0
            self.b_derivs[k][:] = 0
