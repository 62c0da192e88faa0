"""refmlp's pytest plugin, loaded by pytest itself (the ``pytest11`` entry point of refmlp).

The fixture ``gradient_parity`` is :func:`refmlp.assert_gradients_match`, so that a parity test
of your own network is one line::

    def test_gradients(gradient_parity):
        gradient_parity(net.params, net.grads, X, Y, activations="relu", loss="squared",
                        reduction="mean", layout="in_out")

A failure shows the report's message (the first divergence, its figures, the likely cause), and a
bare ``assert report.passed`` shows the report's one-line repr. Nothing is imported until a test
asks for the fixture: loading the plugin costs no torch import.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def gradient_parity():
    """:func:`refmlp.assert_gradients_match`: raises AssertionError with the parity report's
    message when your gradients differ from torch's; returns the report otherwise."""
    from .external import assert_gradients_match

    return assert_gradients_match

