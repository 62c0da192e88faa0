"""The networks a submission is checked on: a registry of scenarios, and instructors' own files.

A scenario is the course's way of building a network: an input size d, layers (m, activation,
name) added in order, and the loss derivative ``est_lossderiv`` handed to ``MLP(d, ...)``, plus
the data its samples come from. Built-in scenarios (names fixed by the contract):

=============  ==================================================================  ====================
disc           2 -> 100 leaky "layer1" -> 2 leaky "layer2" -> 1 logistic "lastlayer"  logistic_est_loss_deriv
digits         64 -> 20 leaky "hidden" -> 10 softmax "output"                      softmax_est_crossentropy_deriv
autoencoder    64 -> 16 leaky "encoder" -> 2 logistic "latent" -> 16 leaky          squared_loss_deriv
               "decoder" -> 64 logistic "output"
regression     10 -> 16 leaky "hidden" -> 1 identity "output"                       squared_loss_deriv
square         6 -> 6 leaky "layer1" -> 6 leaky "layer2" -> 6 identity "output"     squared_loss_deriv
=============  ==================================================================  ====================

The course skips f'_L, so each (loss derivative, output activation) pair is the gradient of one
refmlp loss with respect to a_L (:data:`PAIRS`); the autoencoder's logistic output with
squared_loss_deriv is ``course_squared_on_logistic`` (2 x BCE, not the squared loss).

**Scenario file** (``--scenario-file``, TOML or JSON, the same keys)::

    [[scenario]]
    name = "wide_disc"                 # letters, digits, _ and -
    input = 2                          # d
    layers = [[64, "leaky_relu", "h1"], [1, "logistic", "out"]]   # [m, activation, name]
    loss_deriv = "logistic_est_loss_deriv"
    data = "disc"                      # a dataset of `refmlp datasets` with `input` features,
                                       # or "random" (seeded normal inputs, targets fitting the loss)

Activations: leaky_relu, logistic, identity (hidden or output), softmax (output only). Loss
derivatives: logistic_est_loss_deriv (after logistic), softmax_est_crossentropy_deriv (after
softmax), squared_loss_deriv (after identity or logistic), abs_loss_deriv (after identity).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..network import Layer, Spec

ACTIVATIONS = ("leaky_relu", "logistic", "identity", "softmax")
PAIRS = {
    ("logistic_est_loss_deriv", "logistic"): "logistic",
    ("softmax_est_crossentropy_deriv", "softmax"): "cross_entropy",
    ("squared_loss_deriv", "identity"): "squared",
    ("squared_loss_deriv", "logistic"): "course_squared_on_logistic",
    ("abs_loss_deriv", "identity"): "absolute",
}
"""(est_lossderiv, output activation) -> the refmlp loss whose dLoss/da_L the course computes."""


@dataclass(frozen=True)
class Scenario:
    name: str
    d: int
    layers: tuple  # ((m, activation, name), ...)
    loss_deriv: str
    data: str  # a dataset name, "random", or "autoencoder" (digits rescaled, target = input)

    @property
    def sizes(self) -> list[int]:
        return [self.d] + [m for m, _, _ in self.layers]

    @property
    def L(self) -> int:
        return len(self.layers)

    @property
    def loss(self) -> str:
        return PAIRS[(self.loss_deriv, self.layers[-1][1])]

    def spec(self) -> Spec:
        return Spec(self.d, tuple(Layer(m, act, name) for m, act, name in self.layers), self.loss)

    def describe(self) -> str:
        parts = [str(self.d)] + [f"{m} {act} {name!r}" for m, act, name in self.layers]
        return " -> ".join(parts) + f", {self.loss_deriv}"

    def samples(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n samples (X (n, d), Y (n, n_L) float rows), drawn with ``seed``."""
        rng = np.random.default_rng(seed)
        n_out = self.layers[-1][0]
        if self.data == "random":
            X = rng.standard_normal((n, self.d))
            if self.loss == "cross_entropy":
                Y = np.eye(n_out)[rng.integers(0, n_out, n)]
            elif self.loss in ("logistic", "course_squared_on_logistic"):
                Y = rng.integers(0, 2, (n, n_out)).astype(float)
            else:
                Y = rng.standard_normal((n, n_out))
            return X, Y
        from ..data import load_dataset

        data = load_dataset("digits" if self.data == "autoencoder" else self.data)
        idx = rng.choice(data.n_samples, n, replace=False)
        X = np.array(data.X[idx])
        if self.data == "autoencoder":  # pixels in [0, 1], reconstructed: the target is the input
            lo, hi = X.min(axis=1, keepdims=True), X.max(axis=1, keepdims=True)
            X = (X - lo) / np.where(hi > lo, hi - lo, 1.0)
            return X, X.copy()
        return X, np.array(data.targets("vector")[idx], dtype=float)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("disc", 2, ((100, "leaky_relu", "layer1"), (2, "leaky_relu", "layer2"),
                         (1, "logistic", "lastlayer")), "logistic_est_loss_deriv", "disc"),
    Scenario("digits", 64, ((20, "leaky_relu", "hidden"), (10, "softmax", "output")),
             "softmax_est_crossentropy_deriv", "digits"),
    Scenario("autoencoder", 64, ((16, "leaky_relu", "encoder"), (2, "logistic", "latent"),
                                 (16, "leaky_relu", "decoder"), (64, "logistic", "output")),
             "squared_loss_deriv", "autoencoder"),
    Scenario("regression", 10, ((16, "leaky_relu", "hidden"), (1, "identity", "output")),
             "squared_loss_deriv", "diabetes"),
    Scenario("square", 6, ((6, "leaky_relu", "layer1"), (6, "leaky_relu", "layer2"),
                           (6, "identity", "output")), "squared_loss_deriv", "random"),
)}
"""The built-in scenarios, in run order."""


class ScenarioError(ValueError):
    """A scenario file or name that cannot be used (a usage error: exit 2)."""


def load_scenario_file(path) -> list[Scenario]:
    """The scenarios of a TOML or JSON file (module docstring), validated."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario file {str(path)!r}: {exc.strerror}") from None
    try:
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            import tomllib

            doc = tomllib.loads(text)
    except ValueError as exc:
        raise ScenarioError(f"scenario file {str(path)!r} is not valid "
                            f"{'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    entries = doc.get("scenario") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"scenario file {str(path)!r} must hold a list 'scenario' of tables "
                            "([[scenario]] in TOML); see refmlp check --help")
    return [parse_scenario(e, f"{path}: scenario {i + 1}") for i, e in enumerate(entries)]


def parse_scenario(entry: dict, where: str) -> Scenario:
    def fail(msg):
        raise ScenarioError(f"{where}: {msg}")

    if not isinstance(entry, dict):
        fail(f"expected a table, got {entry!r}")
    unknown = set(entry) - {"name", "input", "layers", "loss_deriv", "data"}
    if unknown:
        fail(f"unknown keys {sorted(unknown)}; expected name, input, layers, loss_deriv, data")
    name = entry.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        fail(f"name must be letters, digits, _ or -; got {name!r}")
    d = entry.get("input")
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        fail(f"input must be a positive integer; got {d!r}")
    layers = entry.get("layers")
    if not isinstance(layers, list) or not layers:
        fail(f"layers must be a non-empty list of [m, activation, name]; got {layers!r}")
    parsed = []
    for j, layer in enumerate(layers, start=1):
        ok = (isinstance(layer, list) and len(layer) == 3 and isinstance(layer[0], int)
              and not isinstance(layer[0], bool) and layer[0] >= 1 and layer[1] in ACTIVATIONS
              and isinstance(layer[2], str) and layer[2])
        if not ok:
            fail(f"layer {j} must be [m >= 1, one of {', '.join(ACTIVATIONS)}, a name]; got {layer!r}")
        if layer[1] == "softmax" and j < len(layers):
            fail(f"softmax can only be the output layer; got it at layer {j}")
        parsed.append(tuple(layer))
    if len({n for _, _, n in parsed}) != len(parsed):
        fail("layer names must be unique")
    loss_deriv = entry.get("loss_deriv")
    if (loss_deriv, parsed[-1][1]) not in PAIRS:
        fail(f"loss_deriv {loss_deriv!r} cannot follow a {parsed[-1][1]!r} output; valid pairs: "
             + ", ".join(f"{ld} after {out}" for ld, out in PAIRS))
    data = entry.get("data", "random")
    if data != "random":
        from ..data import DatasetIntegrityError, load_dataset

        try:
            ds = load_dataset(data)
        except (ValueError, OSError, DatasetIntegrityError) as exc:
            fail(f"data: {exc}")
        if ds.X.shape[1] != d:
            fail(f"dataset {data!r} has {ds.X.shape[1]} features but input is {d}")
        if ds.targets("vector").shape[1] != parsed[-1][0]:
            fail(f"dataset {data!r} has {ds.targets('vector').shape[1]} targets per sample but "
                 f"the output layer has {parsed[-1][0]} units")
    return Scenario(name, d, tuple(parsed), loss_deriv, data)


def select(names=None, extra=()) -> list[Scenario]:
    """The scenarios to run: ``names`` (in that order) among the built-in ones and ``extra``;
    all of them when names is None."""
    pool = dict(SCENARIOS)
    pool.update({s.name: s for s in extra})
    if names is None:
        return list(pool.values())
    names = list(dict.fromkeys(names))  # a scenario named twice runs once
    unknown = [n for n in names if n not in pool]
    if unknown:
        raise ScenarioError(f"unknown scenario {', '.join(map(repr, unknown))}; expected one of "
                            + ", ".join(pool))
    return [pool[n] for n in names]
