"""``refmlp datasets``: the frozen dataset snapshots, with their shapes and tasks."""

from __future__ import annotations

import argparse

from .options import EXIT_PASS, UsageError, emit

HELP = "list the datasets with their shapes and tasks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("List the frozen dataset snapshots refmlp ships (compare and train take "
                          "one by --dataset NAME, or your own by --data FILE.npz).")
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")


def run(args) -> int:
    import dataclasses
    import json

    from ..data import DatasetIntegrityError, list_datasets

    try:
        infos = list_datasets()
    except (OSError, ValueError, DatasetIntegrityError) as exc:  # no folder, a broken manifest
        raise UsageError(str(exc)) from None
    if args.json:
        emit(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return EXIT_PASS
    lines = [f"{'name':<16}{'task':<12}{'samples':>8}{'features':>10}{'classes/targets':>17}  description"]
    for i in infos:
        outs = i.n_classes if i.task != "regression" else i.n_targets
        lines.append(f"{i.name:<16}{i.task:<12}{i.n_samples:>8}{i.n_features:>10}{outs:>17}  {i.description}")
    emit("\n".join(lines))
    return EXIT_PASS
