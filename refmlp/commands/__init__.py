"""The commands of ``refmlp``: each module declares its options (``add_arguments(parser)``) and
runs from the parsed options (``run(args) -> int``); :mod:`refmlp.cli` only registers them.

Declaring options imports nothing heavier than the registries (numpy), so ``refmlp --help``
answers at once; torch, scikit-learn and the data are imported by ``run``.
"""
