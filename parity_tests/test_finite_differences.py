"""Finite differences, an oracle that owes nothing to torch.

Every entry of every W[k] and b[k] is nudged by +-STEP and the batch loss ``MLP.loss`` is
re-evaluated; the central difference is compared with ``MLP.backward``'s W_derivs and b_derivs, on
both paths ("per_sample", "batched") and both reductions ("sum", "mean"). g[k] = dLoss/da_k is
checked on its own: each entry of a_k is nudged directly and the forward pass is re-run from a_k
with the network's W, b and ``net.f`` (``loss_from_preactivation``), so a slip in W_derivs cannot
hide a slip in g or the other way round.

Kinks (relu, leaky_relu at 0; the absolute loss at y - y_est = 0) are kept out of reach: a draw is
accepted only if every kinked pre-activation and every absolute-loss residual is at least
KINK_MARGIN from 0 (else the next seed is drawn), and every nudge is checked not to flip a single
one of their signs. No case is skipped.

Layout as in :mod:`refmlp.network`: lists indexed 1..L, one sample a row.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pytest

from refmlp.activations import HIDDEN_ACTIVATIONS, logistic
from refmlp.losses import PAIRINGS
from refmlp.network import MLP, PATHS, Spec

# ---- step, tolerance and their error analysis -------------------------------------------------
# The central difference [L(p + h) - L(p - h)] / (2h) errs by two terms:
#   truncation  h^2 / 6 * |L'''|          (Taylor; the even terms cancel)
#   rounding    ~ c * eps * |L| / h        (each L carries a relative error of a few eps, c ~ 1..10)
# Their sum is least at h = (3 c eps |L| / |L'''|)^(1/3). Here inputs, weights and pre-activations
# are O(1), so |L'''| ~ 1, and the summed loss of 5 samples is |L| ~ 0.1..10: h ~ 1e-5, where
# each term is ~1e-11..1e-10. (The textbook eps^(1/3) ~ 6e-6 is the same figure for |L| ~ 1.)
STEP = 1e-5

# The FD error above is absolute, ~1e-10 whatever the entry, so a plain relative error is dishonest
# for entries near 0 (a dead relu's exact 0 against FD noise of 1e-12 would read as 100% wrong).
# Each entry's error is therefore measured against |entry| + scale, where scale = max |entry| of
# the whole array: big entries are held to a relative error, near-zero ones to a fraction of the
# array's own magnitude, the natural unit of a gradient. The expected measure is then
# (eps |L| / h) / scale; the smallest scales here (~4e-4, b_derivs[1] behind three logistic
# layers, each f' <= 1/4) give 2.2e-16 * 0.6 / 1e-5 / 4e-4 ~ 3e-8, and 1.2e-8 is the worst measured
# over the whole grid (test_fd_noise_is_below_tolerance prints it under -s). RTOL leaves a factor
# of ~100 above that, and is still 50 times below the 5e-5 that a single entry off by 1e-4 of the
# scale produces (the self-test below), let alone a missing factor B, a wrong f' or a transpose.
RTOL = 1e-6

# Kinks are kept 100 STEPs away: a nudge moves a pre-activation by STEP * |h_{k-1}| <= ~3e-5 here
# (|x| <= ~3, |h| <= ~3, weights ~1, so what it propagates is of the same order), far below 1e-3;
# and every nudge is verified not to flip the sign of any kinked quantity anyway.
KINK_MARGIN = 1e-3
MAX_DRAWS = 200  # seeds tried before a case is declared impossible (a failure, not a skip)

SIZES = (3, 4, 5)  # n_0 = d, n_1, n_2; then N_OUT outputs
N_OUT = 3  # softmax needs at least 2; 3 makes every loss a sum over several outputs
BATCH = 5

KINKED = ("relu", "leaky_relu")  # activations not differentiable at 0
HIDDEN, PAIRS = HIDDEN_ACTIVATIONS, PAIRINGS
PAIR_PARAMS = [pytest.param(loss, output, id=f"{loss}({output})") for loss, output in PAIRS]
HIDDEN_PARAMS = [pytest.param(name, id=f"hidden={name}") for name in HIDDEN]


# ---- drawing a case away from every kink ------------------------------------------------------
def draw_targets(rng, loss: str, output: str, B: int):
    """Targets in the range the (loss, output) pair can reach; ints for cross_entropy."""
    if loss == "cross_entropy":
        return rng.integers(0, N_OUT, B)
    if loss in ("logistic", "course_squared_on_logistic"):
        return rng.integers(0, 2, (B, N_OUT)).astype(np.float64)  # 0/1 labels of BCE
    if output == "logistic":
        return rng.uniform(0.05, 0.95, (B, N_OUT))
    if output == "tanh":
        return rng.uniform(-0.9, 0.9, (B, N_OUT))
    return rng.standard_normal((B, N_OUT))


def kinked_quantities(net: MLP, a: list, h_L, Y) -> list:
    """The arrays whose sign picks a branch: a_k of relu/leaky_relu layers, y - y_est of |.|."""
    out = [a[k] for k in range(1, net.L + 1) if net.spec.layers[k - 1].activation.name in KINKED]
    if net.spec.loss.name == "absolute":
        out.append(Y - h_L)
    return out


def kink_distance(net: MLP, X, Y) -> float:
    """The least |value| among the kinked quantities of a batch (inf when there are none)."""
    trace = net.forward(X)
    values = kinked_quantities(net, trace.a, trace.h[-1], Y)
    return min((float(np.abs(v).min()) for v in values), default=np.inf)


def has_dead_relu(net: MLP, X) -> bool:
    """True if some relu unit is off for every sample: its gradients would be 0 on both sides,
    and the check would pass without having looked at anything."""
    trace = net.forward(X)
    return any(
        (trace.a[k] <= 0).all(axis=0).any()
        for k in range(1, net.L + 1)
        if net.spec.layers[k - 1].activation.name == "relu"
    )


@dataclass
class Case:
    net: MLP
    X: np.ndarray
    y: np.ndarray
    Y: np.ndarray  # y as the loss takes it, (B, n_L)
    seed: int


def draw_case(hidden: str, loss: str, output: str, first_seed: int = 0) -> Case:
    """A 3 -> 4 -> 5 -> 3 network and a batch of 5, from the first seed that keeps every kink at
    least KINK_MARGIN away and leaves no relu unit dead over the whole batch."""
    spec = Spec.build(SIZES[0], list(SIZES[1:]), N_OUT, activation=hidden, loss=loss,
                      output_activation=output)
    sizes = spec.sizes
    for seed in range(first_seed, first_seed + MAX_DRAWS):
        rng = np.random.default_rng(seed)
        # fan-in scaled weights keep every pre-activation O(1): the nonlinearities are exercised
        # (not all linear as with the course's 0.1 N(0, 1)), none is saturated.
        W = [None] + [rng.standard_normal((n, m)) / np.sqrt(m) for m, n in zip(sizes, sizes[1:])]
        b = [None] + [0.5 * rng.standard_normal(n) for n in sizes[1:]]
        X = rng.standard_normal((BATCH, sizes[0]))
        y = draw_targets(rng, loss, output, BATCH)
        net = MLP(spec, W, b)
        Y = net.targets(y, BATCH)
        if kink_distance(net, X, Y) >= KINK_MARGIN and not has_dead_relu(net, X):
            return Case(net, X, y, Y, seed)
    raise AssertionError(
        f"no seed in {first_seed}..{first_seed + MAX_DRAWS - 1} keeps {spec.describe()} "
        f"{KINK_MARGIN} away from its kinks; widen MAX_DRAWS or shrink the network"
    )


# "element_mean" is "sum" divided by B n_L, a property test_properties.py checks on every drawn case
REDUCTIONS = ("sum", "mean")


# ---- the finite differences -------------------------------------------------------------------
def reduce(per_sample, reduction: str) -> float:
    return float(per_sample.sum() if reduction == "sum" else per_sample.mean())


def loss_from_preactivation(net: MLP, k: int, a_k, Y, reduction: str):
    """The batch loss as a function of a_k alone: h_k = f_k(a_k), then layers k+1..L as usual.

    Returns the loss and the kinked quantities met on the way (to check a nudge crossed none).
    """
    a = [None] * (net.L + 1)
    a[k] = a_k
    h = net.f[k](a_k)
    for j in range(k + 1, net.L + 1):
        a[j] = h @ net.W[j].T + net.b[j]  # (B, n_j)
        h = net.f[j](a[j])
    value = reduce(net.spec.loss.value(a[net.L], h, Y), reduction)
    # kinked quantities upstream of layer k are constant here; only k..L can move
    kinks = [
        a[j] for j in range(k, net.L + 1)
        if net.spec.layers[j - 1].activation.name in KINKED
    ]
    if net.spec.loss.name == "absolute":
        kinks.append(Y - h)
    return value, kinks


def central_difference(evaluate, array, base_kinks) -> np.ndarray:
    """d evaluate() / d array, entry by entry, nudging ``array`` in place and restoring it exactly.

    ``evaluate()`` returns (loss, kinked quantities); every nudge must leave the sign of each
    kinked quantity as it was at the base point, or the difference straddles a kink.
    """
    grad = np.empty_like(array)
    for idx in np.ndindex(array.shape):
        original = array[idx]
        values = []
        for sign in (+1, -1):
            array[idx] = original + sign * STEP
            value, kinks = evaluate()
            for moved, base in zip(kinks, base_kinks):
                assert np.array_equal(moved > 0, base > 0), (
                    f"nudging entry {idx} by {sign * STEP:+g} crossed a kink; "
                    f"KINK_MARGIN = {KINK_MARGIN} is too small for this network"
                )
            values.append(value)
        array[idx] = original  # not original + STEP - STEP, which may round elsewhere
        grad[idx] = (values[0] - values[1]) / (2 * STEP)
    return grad


def fd_parameter_gradients(case: Case, reduction: str):
    """Central differences of ``MLP.loss`` with respect to every W[k] and b[k]: lists 1..L."""
    net, X, Y = case.net, case.X, case.Y
    base = net.forward(X)
    base_kinks = kinked_quantities(net, base.a, base.h[-1], Y)

    def evaluate():
        trace = net.forward(X)
        return net.loss(X, case.y, reduction), kinked_quantities(net, trace.a, trace.h[-1], Y)

    layers = range(1, net.L + 1)
    W_fd = [None] + [central_difference(evaluate, net.W[k], base_kinks) for k in layers]
    b_fd = [None] + [central_difference(evaluate, net.b[k], base_kinks) for k in layers]
    return W_fd, b_fd


def fd_g(case: Case, reduction: str):
    """Central differences of the loss with respect to every a_k, through the rest of the forward
    pass only (W_derivs play no part): the list g[1..L], each (B, n_k)."""
    net, Y = case.net, case.Y
    a = net.forward(case.X).a
    g = [None]
    for k in range(1, net.L + 1):
        a_k = a[k].copy()
        _, base_kinks = loss_from_preactivation(net, k, a_k.copy(), Y, reduction)
        g.append(central_difference(
            lambda: loss_from_preactivation(net, k, a_k, Y, reduction), a_k, base_kinks
        ))
    return g


@functools.lru_cache(maxsize=None)
def reference(hidden: str, loss: str, output: str, reduction: str):
    """The case and its finite differences, computed once for both paths (they do not depend on
    the path). Nothing below mutates the cached network."""
    case = draw_case(hidden, loss, output)
    W_fd, b_fd = fd_parameter_gradients(case, reduction)
    return case, W_fd, b_fd, fd_g(case, reduction)


# ---- the comparison ---------------------------------------------------------------------------
def fd_error(analytic, numeric) -> tuple[np.ndarray, float]:
    """Each entry's |analytic - numeric| / (|analytic| + scale), scale = the array's max |entry|.

    See RTOL for why the floor is the array's scale. Both exactly 0 gives 0 (a dead unit's nudge
    leaves the loss bit-for-bit unchanged, so its difference is exactly 0 too).
    """
    analytic, numeric = np.asarray(analytic, float), np.asarray(numeric, float)
    scale = max(np.abs(analytic).max(), np.abs(numeric).max())
    if scale == 0:
        return np.zeros_like(analytic), 0.0
    return np.abs(analytic - numeric) / (np.abs(analytic) + scale), scale


def assert_matches_fd(what: str, analytic, numeric, rtol: float = RTOL) -> None:
    """AssertionError naming the quantity, the worst entry, both values, the scale and the tol."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, (
        f"{what}: shape {analytic.shape} from backward, {numeric.shape} from finite differences"
    )
    err, scale = fd_error(analytic, numeric)
    bad = err > rtol
    if bad.any():
        worst = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(
            f"{what}: {bad.sum()} of {err.size} entries ({bad.mean():.0%}) differ from the "
            f"finite difference beyond {rtol:g} (measured as |diff| / (|entry| + scale), "
            f"scale = {scale:.3g}).\n"
            f"  worst at {tuple(int(i) for i in worst)}: backward {float(analytic[worst])!r}, "
            f"finite difference {float(numeric[worst])!r}, "
            f"|diff| {abs(analytic[worst] - numeric[worst]):.3g}, measure {err[worst]:.3g}"
        )


# ---- the tests --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, output", PAIR_PARAMS)
@pytest.mark.parametrize("hidden", HIDDEN_PARAMS)
def test_weight_and_bias_derivatives(hidden, loss, output, reduction, path):
    case, W_fd, b_fd, _ = reference(hidden, loss, output, reduction)
    assert kink_distance(case.net, case.X, case.Y) >= KINK_MARGIN  # the draw's promise, checked
    trace = case.net.backward(case.X, case.y, reduction=reduction, path=path)
    for k in range(1, case.net.L + 1):
        assert_matches_fd(f"W_derivs[{k}] ({path}, {reduction}, seed {case.seed})",
                          trace.W_derivs[k], W_fd[k])
        assert_matches_fd(f"b_derivs[{k}] ({path}, {reduction}, seed {case.seed})",
                          trace.b_derivs[k], b_fd[k])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss, output", PAIR_PARAMS)
@pytest.mark.parametrize("hidden", HIDDEN_PARAMS)
def test_g_is_dloss_dpreactivation(hidden, loss, output, reduction, path):
    case, _, _, g_fd = reference(hidden, loss, output, reduction)
    assert kink_distance(case.net, case.X, case.Y) >= KINK_MARGIN
    trace = case.net.backward(case.X, case.y, reduction=reduction, path=path)
    for k in range(1, case.net.L + 1):
        assert_matches_fd(f"g[{k}] ({path}, {reduction}, seed {case.seed})", trace.g[k], g_fd[k])


def test_fd_noise_is_below_tolerance():
    """The tolerance's claim, measured: the worst FD measure over the whole grid sits far under
    RTOL (run with -s to see it). Uses the cached references, so it costs almost nothing."""
    worst = 0.0
    for hidden in HIDDEN:
        for loss, output in PAIRS:
            for reduction in REDUCTIONS:
                case, W_fd, b_fd, g_fd = reference(hidden, loss, output, reduction)
                trace = case.net.backward(case.X, case.y, reduction=reduction)
                for k in range(1, case.net.L + 1):
                    for mine, fd in ((trace.W_derivs, W_fd), (trace.b_derivs, b_fd),
                                     (trace.g, g_fd)):
                        worst = max(worst, float(fd_error(mine[k], fd[k])[0].max()))
    print(f"\nworst finite-difference measure over the grid: {worst:.2e} (RTOL {RTOL:g})")
    assert worst < RTOL / 10


# ---- the check can fail ------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["largest", "smallest"])
def test_one_entry_off_by_a_ten_thousandth_of_scale_is_rejected(where):
    """The comparison is sharp enough: one entry moved by 1e-4 x the array's scale fails, both at
    the largest entry (where the measure is least sensitive, 1e-4 / 2) and the smallest."""
    case, W_fd, _, _ = reference("tanh", "squared", "identity", "sum")
    true = case.net.backward(case.X, case.y, reduction="sum").W_derivs[1]
    assert_matches_fd("W_derivs[1], unaltered", true, W_fd[1])  # the control passes
    wrong = true.copy()
    pick = np.argmax if where == "largest" else np.argmin
    idx = np.unravel_index(pick(np.abs(true)), true.shape)
    wrong[idx] += 1e-4 * np.abs(true).max()
    with pytest.raises(AssertionError, match=r"1 of 12 entries"):
        assert_matches_fd("W_derivs[1], one entry off", wrong, W_fd[1])


def test_mean_gradient_not_divided_by_batch_is_rejected():
    """The reduction bug class (scikit-learn #8349): a "sum" gradient offered for the "mean"
    loss is refused."""
    case, W_fd, _, _ = reference("logistic", "squared", "identity", "mean")
    summed = case.net.backward(case.X, case.y, reduction="sum").W_derivs[2]
    with pytest.raises(AssertionError, match="W_derivs"):
        assert_matches_fd("W_derivs[2]", summed, W_fd[2])


def test_wrong_activation_derivative_is_rejected():
    """A network whose hidden f' is the logistic itself instead of f (1 - f) gives W_derivs and g
    that the finite differences refuse (the instance's fprime is swapped; the package is not)."""
    case, W_fd, _, g_fd = reference("logistic", "squared", "identity", "sum")
    net = MLP(case.net.spec, case.net.W, case.net.b)
    net.fprime[1] = logistic  # wrong on purpose
    trace = net.backward(case.X, case.y, reduction="sum")
    with pytest.raises(AssertionError, match=r"W_derivs\[1\]"):
        assert_matches_fd("W_derivs[1]", trace.W_derivs[1], W_fd[1])
    with pytest.raises(AssertionError, match=r"g\[1\]"):
        assert_matches_fd("g[1]", trace.g[1], g_fd[1])
    assert_matches_fd("W_derivs[2]", trace.W_derivs[2], W_fd[2])  # above layer 1 nothing changed


def test_a_nudge_across_a_kink_is_caught():
    """The kink guard itself: a relu pre-activation STEP / 2 from 0 makes the difference straddle
    the kink, and central_difference refuses it instead of returning half a derivative."""
    case, _, _, _ = reference("relu", "squared", "identity", "sum")
    net, Y = case.net, case.Y
    a_1 = net.forward(case.X).a[1].copy()
    a_1[0, 0] = STEP / 2
    _, base_kinks = loss_from_preactivation(net, 1, a_1.copy(), Y, "sum")
    with pytest.raises(AssertionError, match="crossed a kink"):
        central_difference(lambda: loss_from_preactivation(net, 1, a_1, Y, "sum"), a_1, base_kinks)
