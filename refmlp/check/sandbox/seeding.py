"""The checker's weights: one formula for the worker that writes them and the judge that verifies them.

Every network a check builds gets, after MLP(...) and add_layer, the checker's own weights and
biases written into its W_k and b_k in place: 0.1 x randn (the handout's scale) from
``np.random.RandomState(seed)``, drawn in the order W_1, b_1, ..., W_L, b_L, each of the shape
the network stores it in, then cast to the dtype it stores it in. The judge regenerates them from
the seed and the shapes and dtypes read back (refmlp.check.weights) and requires the read-back
values to be exactly these: the judge, not the submission, chooses the weights every check
starts from, so no initialisation (zero, constant, symmetric) and no tampering with the sandbox
can make the checks vacuous. Numpy only (it runs in the sandbox too).
"""

import numpy as np

_RandomState = np.random.RandomState  # taken before any student code runs (see wire.py)

SCALE = 0.1


def checker_weights(seed, shapes):
    """[SCALE x randn(shape) for shape in shapes], float64, from RandomState(seed) in that order."""
    rng = _RandomState(seed)
    return [SCALE * rng.standard_normal(tuple(shape)) for shape in shapes]
