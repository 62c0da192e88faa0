"""My test on the disc dataset (takes a few minutes)"""
import numpy as np
from mlp import *

np.random.seed(0)
X = np.random.randn(1000, 2)
y = np.array(np.sum(X**2, axis=1) < 1, dtype=float)
X[y == 0] *= 1.1

nn = MLP(2, logistic_est_loss_deriv)
nn.add_layer(100, leaky_relu, leaky_relu_deriv, "layer1")
nn.add_layer(2, leaky_relu, leaky_relu_deriv, "layer2")
nn.add_layer(1, logistic, None, "lastlayer")

for epoch in range(100):
    for i in np.random.permutation(X.shape[0]):
        nn.forward(X[i])
        nn.backward(X[i], y[i])
        nn.step(1e-3)
        nn.zero_grad()
    loss = sum(logistic_est_loss(nn.forward(X[i]), y[i]) for i in range(X.shape[0]))
    print("epoch", epoch, "loss", loss)
