"""The derivation search (refmlp.check.derivation) on synthetic traces: each wrong formula,
computed here by hand from the numpy reference's a, h, g, is recovered by name; a random array is
explained by nothing; ties are resolved by the stated rule."""

from __future__ import annotations

import numpy as np
import pytest

from refmlp.check import derivation as dv
from refmlp.network import Spec, init_params

RTOL = 1e-10  # the float64 policy's: the student's numbers are float64 here


def trace(sizes=(5, 7, 4, 3), activation="tanh", loss="squared", seed=0):
    spec = Spec.build(sizes[0], list(sizes[1:-1]), sizes[-1], activation=activation, loss=loss)
    W, b = init_params(spec, "torch", seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(sizes[0])
    y = rng.random(sizes[-1]) if loss != "cross_entropy" else np.eye(sizes[-1])[1]
    return dv.sample_trace(spec, W, b, x, y, RTOL)


def f_prime(s, k, u):
    return s.spec.layers[k - 1].activation.fprime(u)


def found(s, target, cands, value, err=0.0):
    return dv.explain(target, [(value, cands, err)], RTOL)


# ---- W_derivs ---------------------------------------------------------------------------------
def test_the_reference_formula_is_recognised_as_such():
    s = trace()
    f = found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), np.outer(s.g[2], s.h[1]))
    assert f.is_reference and f.term.name == "g_2 h_1^T"


@pytest.mark.parametrize("sizes,build,name,key", [
    ((5, 7, 4, 3), lambda s: np.outer(s.g[2], s.a[1]), "g_2 a_1^T", "W_derivs_from_a"),
    ((5, 4, 4, 3), lambda s: np.outer(s.g[2], s.h[2]), "g_2 h_2^T", "h_k_for_h_k_minus_1"),
    ((5, 4, 4, 3), lambda s: np.outer(s.g[2], s.a[2]), "g_2 a_2^T", None),
    ((5, 7, 4, 3), lambda s: np.outer(s.s_p2, s.h[1]), "(W_3^T g_3, before the f' step) h_1^T", None),
    ((5, 7, 4, 3), lambda s: np.outer(s.h[1], s.g[2]).reshape(4, 7), "h_1 g_2^T reshaped to (4, 7)",
     "W_derivs_reshaped"),
], ids=["a_prev", "h_k", "a_k", "before_fprime", "reshaped"])
def test_each_wrong_W_derivs_formula_is_named(sizes, build, name, key):
    s = trace(sizes)
    s.s_p2 = s.W[3].T @ s.g[3]  # g before layer 2's f' step, written out here
    f = found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), build(s))
    assert f is not None and f.term.name == name and f.factor == 1.0, f
    assert f.term.key == key
    assert f.say().startswith(f"your W_derivs_2 equals {name}")


def test_x_for_the_input_of_a_deeper_layer_is_named():
    s = trace(sizes=(4, 4, 4, 3))
    f = found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), np.outer(s.g[2], s.x))
    assert f.term.name == "g_2 x^T" and "not x" in f.say()


def test_square_transposed_gradient_is_the_catalogued_bug():
    s = trace(sizes=(4, 4, 4, 4))
    f = found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), np.outer(s.h[1], s.g[2]))
    assert f.term.key == "W_derivs_transposed"


@pytest.mark.parametrize("c,said", [(0.25, "1/4"), (-1.0, "-1"), (1 / 3, "1/3"), (2.0, "2")])
def test_a_constant_factor_is_found_and_named(c, said):
    s = trace()
    f = found(s, "W_derivs_1", dv.W_candidates(s, 1, RTOL), c * np.outer(s.g[1], s.x))
    assert f.term.name == "g_1 x^T" and f.factor == pytest.approx(c, rel=1e-12)
    assert f.formula() == f"{said} x g_1 x^T" and f"drop the factor {said}" in f.say()


def test_a_random_array_is_explained_by_nothing():
    s = trace()
    rng = np.random.default_rng(5)
    assert found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), rng.standard_normal((4, 7))) is None
    assert found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), rng.standard_normal(4)) is None


def test_a_near_miss_beyond_rounding_is_not_equal():
    """One element off by 1e-6 relative: far beyond float64 rounding, so not "equal"."""
    s = trace()
    v = np.outer(s.g[2], s.a[1])
    v[0, 0] *= 1 + 1e-6
    assert found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), v) is None


def test_rounding_of_the_candidates_own_computation_is_allowed():
    """The same formula summed in another order (float32 here, judged with float32's rtol)."""
    s = trace()
    v = np.outer(s.g[2].astype(np.float32), s.a[1].astype(np.float32))
    assert dv.explain("W_derivs_2", [(v, dv.W_candidates(s, 2, 1e-4), 0.0)], 1e-4).term.name == "g_2 a_1^T"


def test_ties_go_to_factor_one_then_fewer_changes_then_list_order():
    """leaky_relu with every a_1 > 0: h_1 = a_1, so g_2 h_1^T (the reference, cost 0) and
    g_2 a_1^T tie on the reference numbers; a student's g_2 h_2^T ties with g_2 a_2^T where a_2 > 0 too."""
    for seed in range(200):
        s = trace(sizes=(3, 4, 4, 2), activation="leaky_relu", seed=seed)
        if (s.a[1] > 0).all() and (s.a[2] > 0).all():
            break
    else:
        pytest.skip("no seed with every a_1, a_2 > 0")
    f = found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), np.outer(s.g[2], s.h[1]))
    assert f.is_reference  # fewer changes first: the notes' own formula wins its tie
    f = found(s, "W_derivs_2", dv.W_candidates(s, 2, RTOL), np.outer(s.g[2], s.h[2]))
    assert f.term.name == "g_2 h_2^T" and f.also == ("g_2 a_2^T",)
    assert "also g_2 a_2^T" in f.say()


def test_every_sample_must_agree():
    """A formula that fits one sample and not the other explains nothing."""
    s0, s1 = trace(seed=0), trace(seed=1)
    obs = [(np.outer(s0.g[2], s0.a[1]), dv.W_candidates(s0, 2, RTOL), 0.0),
           (np.outer(s1.g[2], s1.h[2]), dv.W_candidates(s1, 2, RTOL), 0.0)]
    assert dv.explain("W_derivs_2", obs, RTOL) is None
    obs[1] = (np.outer(s1.g[2], s1.a[1]), obs[1][1], 0.0)
    assert dv.explain("W_derivs_2", obs, RTOL).term.name == "g_2 a_1^T"


# ---- b_derivs (the student's g) ------------------------------------------------------------------
@pytest.mark.parametrize("build,name,key", [
    (lambda s: s.W[3].T @ s.g[3], "W_3^T g_3", "fprime_missing"),
    (lambda s: f_prime(s, 2, s.h[2]) * (s.W[3].T @ s.g[3]), "f'_2(h_2) * (W_3^T g_3)", "fprime_of_h"),
    (lambda s: f_prime(s, 2, s.W[3].T @ s.g[3]) * (s.W[3].T @ s.g[3]),
     "f'_2(g) * g, g = W_3^T g_3", "fprime_at_g"),
    (lambda s: f_prime(s, 2, s.a[2]) ** 2 * (s.W[3].T @ s.g[3]), "f'_2(a_2)^2 * (W_3^T g_3)", None),
    (lambda s: np.full(4, s.g[2].sum()), "sum(g_2) in every entry", "bias_grad_summed"),
], ids=["no_fprime", "fprime_of_h", "fprime_at_g", "fprime_twice", "summed"])
def test_each_wrong_g_formula_is_named(build, name, key):
    s = trace()
    f = found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), build(s))
    assert f is not None and f.term.name == name and f.term.key == key, f


def test_the_neighbouring_layers_derivative_is_named():
    spec = Spec.build(3, [5, 5], 2, activation="tanh", loss="squared")
    spec = Spec(3, (spec.layers[0], type(spec.layers[0])(5, "logistic"), spec.layers[2]), "squared")
    W, b = init_params(spec, "torch", 0)
    s = dv.sample_trace(spec, W, b, np.ones(3), np.zeros(2), RTOL)
    logistic_prime = spec.layers[1].activation.fprime
    v = logistic_prime(s.a[1]) * (s.W[2].T @ s.g[2])
    f = found(s, "b_derivs_1", dv.g_candidates(s, 1, RTOL), v)
    assert f.term.name == "f'_2(a_1) * (W_2^T g_2)" and "not layer 2's" in f.say()


def test_last_layer_variants():
    s = trace(sizes=(4, 5, 3), activation="tanh", loss="logistic")
    f = found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), (s.h[2] - s.y) * s.h[2] * (1 - s.h[2]))
    assert f.term.key == "fprime_at_last_layer"
    f = found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), s.a[2] - s.y)
    assert f.term.name == "est_lossderiv(a_2, y)"
    f = found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), (s.h[2] - s.y) / 3)
    assert f.term.name == "g_2" and f.factor == pytest.approx(1 / 3)


def test_a_single_number_never_gets_a_fitted_factor():
    """One number is a multiple of any other: with a fitted factor a 1-unit layer's b_derivs
    would be "explained" by every candidate."""
    s = trace(sizes=(4, 5, 1), activation="tanh", loss="logistic")
    assert found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), np.array([0.123456])) is None


# ---- forward ------------------------------------------------------------------------------------
def test_forward_candidates():
    s = trace(sizes=(4, 4, 4, 3))
    cands = dv.a_candidates(s, 2)
    assert found(s, "a_2", cands, s.W[2] @ s.h[1]).term.key == "forward_bias_missing"
    assert found(s, "a_2", cands, s.W[2].T @ s.h[1] + s.b[2]).term.key == "forward_W_transposed"
    assert found(s, "a_2", cands, s.W[2] @ s.a[1] + s.b[2]).term.name == "W_2 a_1 + b_2"
    other = np.arange(4.0)
    f = found(s, "a_1", dv.a_candidates(s, 1, others=[other]), s.W[1] @ other + s.b[1])
    assert f.term.key == "forward_input_not_x"


def test_a_factor_that_is_no_simple_fraction_explains_nothing():
    """1 + 1e-6 is a small error, not a factor a line of code puts in."""
    s = trace()
    v = (1 + 1e-6) * np.outer(s.g[1], s.x)
    assert found(s, "W_derivs_1", dv.W_candidates(s, 1, RTOL), v) is None


def test_another_layers_input_is_named_with_its_index():
    s = trace(sizes=(4, 4, 4, 4))
    f = found(s, "W_derivs_3", dv.W_candidates(s, 3, RTOL), np.outer(s.g[3], s.h[1]))
    assert f.term.name == "g_3 h_1^T" and "not h_1" in f.say()


def test_f_prime_without_the_bias_and_a_gradient_never_computed():
    s = trace()
    p = s.W[3].T @ s.g[3]
    v = f_prime(s, 2, s.a[2] - s.b[2]) * p
    assert found(s, "b_derivs_2", dv.g_candidates(s, 2, RTOL), v).term.key == "a_stored_without_bias"
    f = found(s, "b_derivs_1", dv.g_candidates(s, 1, RTOL), np.zeros(7))
    assert f.term.name == "0" and "does the backward loop reach layer 1" in f.say()


def test_layer_1s_input_is_solved_for_when_a_1_pins_it_down():
    s = trace(sizes=(3, 6, 2))
    other = np.array([0.5, -1.0, 2.0])
    a1 = s.W[1] @ other + s.b[1]
    f = found(s, "a_1", dv.a_candidates(s, 1, target=a1), a1)
    assert f.term.key == "forward_input_not_x" and "0.5" in f.term.name
    wide = trace(sizes=(6, 3, 2))  # fewer units than inputs: every a_1 has such an x'
    assert not any("x' =" in name for name in dv.a_candidates(wide, 1, target=np.ones(3)))


@pytest.mark.parametrize("which", ["W", "b", "a"])
def test_every_candidate_is_recovered_from_its_own_numbers(which):
    """Each candidate the search builds, handed back as the student's numbers, is found: itself,
    or (where another candidate has the very same numbers on this sample) the one the tie rule
    prefers, with it listed as equal."""
    s = trace(sizes=(5, 7, 4, 3), activation="tanh", loss="squared", seed=3)
    cands = {"W": lambda: dv.W_candidates(s, 2, RTOL), "b": lambda: dv.g_candidates(s, 2, RTOL),
             "a": lambda: dv.a_candidates(s, 2)}[which]()
    assert len(cands) >= 5
    for name, term in cands.items():
        f = found(s, "target", cands, term.value)
        assert f is not None, name
        twins = [n for n, t in cands.items() if n != name and np.array_equal(t.value, term.value)]
        if not twins:
            assert f.term.name == name and f.factor == 1.0, (name, f.term.name)
        else:
            assert f.term.cost <= term.cost and (f.term.name == name or name in f.also
                                                 or cands[name].cost > f.term.cost), (name, f)
