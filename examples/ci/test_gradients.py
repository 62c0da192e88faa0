"""Gradient parity of mynet.Net with torch: run by CI on every push (see parity.yml).

gradient_parity is refmlp's pytest fixture (refmlp.assert_gradients_match): it builds the torch
twin of the network from its weights and fails with the first divergence (layer, quantity,
figures, likely cause) when any gradient differs.
"""

import numpy as np
import pytest

from mynet import Net

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(64, 5)), rng.normal(size=(64, 2))
CONVENTIONS = dict(activations="relu", loss="half_squared", reduction="mean", layout="in_out")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradients_match_torch(gradient_parity, dtype):
    net = Net([5, 16, 16, 2], dtype=dtype)
    gradient_parity(net.params, net.grads, X.astype(dtype), Y.astype(dtype), **CONVENTIONS)


def test_activations_and_gradients_match_torch(gradient_parity):
    net = Net([5, 16, 16, 2])
    gradient_parity(net.params, lambda X, Y: net.grads(X, Y, with_activations=True), X, Y,
                    **CONVENTIONS)
