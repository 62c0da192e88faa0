"""refmlp: the MLP of the backprop lecture notes in numpy, checked layer by layer against torch.

The numpy reference (activations, losses, network, data) and the comparison never import torch;
``parity``, ``assert_parity`` (refmlp's own network against torch), ``gradients_report`` and
``assert_gradients_match`` (yours against torch) do, and are loaded on first use.
"""

from .activations import ACTIVATIONS, Activation, get_activation, make_leaky_relu
from .compare import Report, compare_traces
from .losses import LOSSES, Loss, get_loss
from .network import MLP, Layer, Spec, Trace, init_params, train

__version__ = "0.1.0"

_LAZY = {
    "parity": "refmlp.oracle",
    "assert_parity": "refmlp.oracle",
    "gradients_report": "refmlp.external",
    "assert_gradients_match": "refmlp.external",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'refmlp' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS", "Activation", "LOSSES", "Layer", "Loss", "MLP", "Report", "Spec", "Trace",
    "assert_gradients_match", "assert_parity", "compare_traces", "gradients_report", "get_activation", "get_loss", "init_params",
    "make_leaky_relu", "parity", "train",
]
