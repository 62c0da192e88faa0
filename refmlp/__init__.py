"""refmlp: the MLP of the backprop lecture notes in numpy, checked layer by layer against torch.

The numpy reference (activations, losses, network, data) and the comparison never import torch;
``parity``, ``assert_parity`` (refmlp's own network against torch), ``gradients_report`` and
``assert_gradients_match`` (yours against torch) do. Every name is loaded on first use, so that
``import refmlp`` (and ``refmlp --help``) costs nothing until something is asked for.
"""

__version__ = "0.1.0"

_LAZY = {
    "ACTIVATIONS": "refmlp.activations", "Activation": "refmlp.activations",
    "get_activation": "refmlp.activations", "make_leaky_relu": "refmlp.activations",
    "Report": "refmlp.compare", "compare_traces": "refmlp.compare",
    "LOSSES": "refmlp.losses", "Loss": "refmlp.losses", "get_loss": "refmlp.losses",
    "MLP": "refmlp.network", "Layer": "refmlp.network", "Spec": "refmlp.network",
    "Trace": "refmlp.network", "init_params": "refmlp.network", "train": "refmlp.network",
    "parity": "refmlp.oracle", "assert_parity": "refmlp.oracle",
    "gradients_report": "refmlp.external", "assert_gradients_match": "refmlp.external",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'refmlp' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
