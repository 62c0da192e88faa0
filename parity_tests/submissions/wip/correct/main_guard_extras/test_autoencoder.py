# trains the digits autoencoder: about ten minutes on my laptop
import numpy as np
from mlp import *

np.random.seed(1)
X = np.random.rand(2000, 784)
nn = MLP(784, squared_loss_deriv)
nn.add_layer(100, leaky_relu, leaky_relu_deriv, "encoder")
nn.add_layer(2, logistic, logistic_deriv, "latent")
nn.add_layer(100, leaky_relu, leaky_relu_deriv, "decoder")
nn.add_layer(784, logistic, None, "output")
for epoch in range(50):
    for i in range(0, X.shape[0], 16):
        for x in X[i:i+16]:
            nn.backward(x, x)
        nn.step(1e-3)
        nn.zero_grad()
    codes = np.array([nn.forward(x, end="latent") for x in X[:100]])
    print(epoch, codes.mean(axis=0))
