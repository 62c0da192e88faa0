"""A CI maintainer's own numpy MLP, with its own API, checked against torch in one call."""
import numpy as np
import pytest

import refmlp

# (their loss, refmlp's name for it, its reduction): sum, mean, half squared, torch's nn.MSELoss()
CONVENTIONS = [("sum", "squared", "sum"), ("mean", "squared", "mean"),
               ("half", "half_squared", "mean"), ("mse", "squared", "element_mean")]


class Net:
    """tanh hidden layers, a linear output; params stored (in, out): a = h @ W + b."""

    def __init__(self, sizes, loss="mean", dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        self.loss, self.params = loss, [(rng.normal(0, m ** -0.5, (m, n)).astype(dtype), np.zeros(n, dtype))
                                        for m, n in zip(sizes, sizes[1:])]

    def grads(self, X, Y):
        hs = [X]
        for i, (W, b) in enumerate(self.params):
            hs.append(hs[-1] @ W + b if i == len(self.params) - 1 else np.tanh(hs[-1] @ W + b))
        g, out = {"sum": 2, "mean": 2 / len(X), "half": 1 / len(X), "mse": 2 / Y.size}[self.loss] * (hs[-1] - Y), []
        for i in reversed(range(len(self.params))):
            out.insert(0, (hs[i].T @ g, g.sum(axis=0)))
            g = (g @ self.params[i][0].T) * (1 - hs[i] ** 2)
        return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("theirs, loss, reduction", CONVENTIONS)
def test_their_network_matches_torch(theirs, loss, reduction, dtype):
    net, rng = Net([4, 8, 8, 3], theirs, dtype), np.random.default_rng(1)
    X, Y = rng.normal(size=(32, 4)).astype(dtype), rng.normal(size=(32, 3)).astype(dtype)
    refmlp.assert_gradients_match(net.params, net.grads, X, Y, activations="tanh", loss=loss,
                                  reduction=reduction, layout="in_out")


def test_a_broken_gradient_names_the_layer_and_quantity_on_one_screen():
    net, rng = Net([4, 8, 8, 3]), np.random.default_rng(1)
    X, Y = rng.normal(size=(32, 4)), rng.normal(size=(32, 3))
    broken = lambda X, Y: [(dW * (1.001 if k == 1 else 1), db) for k, (dW, db) in enumerate(net.grads(X, Y))]
    with pytest.raises(AssertionError, match=r"first divergence: layer 2, W_derivs") as failure:
        refmlp.assert_gradients_match(net.params, broken, X, Y, activations="tanh", loss="squared",
                                      reduction="mean", layout="in_out")
    assert len(str(failure.value).splitlines()) <= 6 and len(str(failure.value)) < 1500
