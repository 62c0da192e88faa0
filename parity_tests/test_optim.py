"""refmlp.optim against torch.optim step by step, the documented formulas, and the course's loop."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from refmlp.network import MLP, Spec, train
from refmlp.optim import OPTIMIZERS, SGD, Adam, CourseLoop, TORCH_NAMES, make_optimizer, parameters

# Each preset turns on one more part of the rule, so a wrong part shows in its own test id.
PRESETS = {
    "sgd": ("sgd", dict(lr=0.1)),
    "sgd-weight-decay": ("sgd", dict(lr=0.1, weight_decay=0.01)),
    "sgd-momentum-dampening": ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    "sgd-nesterov": ("sgd", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "adam": ("adam", dict(lr=0.01)),
    "adam-l2-amsgrad": ("adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.05, amsgrad=True)),
    "adam-small-beta1": ("adam", dict(lr=0.01, betas=(0.3, 0.9))),  # torch's lerp_ takes its other branch
    "adamw": ("adamw", dict(lr=0.01)),
    "adamw-amsgrad-eps": ("adamw", dict(lr=0.01, eps=1e-3, weight_decay=0.1, amsgrad=True)),
}
SHAPES = [(5, 3), (5,), (2, 5), (2,)]
# Normwise relative agreement after 30 steps on random gradients: the same operations in the same
# order, off only where torch's kernels round differently (lerp, addcmul, add with alpha may fuse a
# multiply-add). Measured: at most 2.8e-16 (float64) and 1.8e-7 (float32), about 1.5 eps of each
# dtype. The tolerances, 1e-14 (45 eps) and 2e-6 (17 eps), leave 35x and 11x room over 30 steps;
# a wrong rule is off by far more (test_trajectory.py: 4e-5 or more after one step).
RTOL = {np.float64: 1e-14, np.float32: 2e-6}


def torch_run(name, options, params, grads_seq, dtype):
    tp = [torch.tensor(p, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                       requires_grad=True) for p in params]
    opt = getattr(torch.optim, TORCH_NAMES[name])(tp, **options)
    for grads in grads_seq:
        for t, g in zip(tp, grads):
            t.grad = torch.tensor(g)
        opt.step()
    return [t.detach().numpy() for t in tp]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("preset", PRESETS)
def test_every_step_matches_torch_optim(preset, dtype):
    name, options = PRESETS[preset]
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    # gradients of mixed sizes and signs, some tiny, as training produces them
    grads_seq = [[(rng.standard_normal(s) * 10.0 ** rng.integers(-6, 1, s)).astype(dtype) for s in SHAPES]
                 for _ in range(30)]
    expected = torch_run(name, options, params, grads_seq, dtype)
    mine = [p.copy() for p in params]
    opt = make_optimizer(name, **options)
    for grads in grads_seq:
        opt.step(mine, grads)
    for p, q, start in zip(mine, expected, params):
        assert p.dtype == dtype
        moved = np.abs(q - start).max()
        assert moved > 1e-3  # the optimizer did move the weights: the check below can fail
        assert np.abs(p - q).max() <= RTOL[dtype] * np.abs(q).max(), (preset, np.abs(p - q).max())


def test_sgd_first_momentum_buffer_is_the_undamped_gradient():
    # b_1 = g_1 (no (1 - tau)), b_2 = mu b_1 + (1 - tau) g_2: torch's documented rule
    p, g1, g2 = np.array([1.0]), np.array([2.0]), np.array([4.0])
    opt = SGD(lr=0.5, momentum=0.9, dampening=0.5)
    opt.step([p], [g1])
    assert p[0] == 1.0 - 0.5 * 2.0
    opt.step([p], [g2])
    assert p[0] == pytest.approx(0.0 - 0.5 * (0.9 * 2.0 + 0.5 * 4.0), rel=1e-15)


def test_adam_first_step_is_lr_times_g_over_abs_g_plus_eps():
    # t = 1: m_hat = g, v_hat = g^2, so theta -= lr g / (|g| + eps) exactly as the docs' box says
    g = np.array([3.0, -1e-9, 0.0])
    p = np.zeros(3)
    Adam(lr=0.1, eps=1e-8).step([p], [g])
    np.testing.assert_allclose(p, -0.1 * g / (np.abs(g) + 1e-8), rtol=1e-15, atol=0)


def test_adamw_decays_the_weight_before_the_update_and_adam_adds_it_to_the_gradient():
    p_w, p_l2, g = np.array([2.0]), np.array([2.0]), np.array([0.0])
    make_optimizer("adamw", lr=0.1, weight_decay=0.5).step([p_w], [g])
    assert p_w[0] == 2.0 * (1 - 0.1 * 0.5)  # g = 0: only the decoupled decay moves it
    make_optimizer("adam", lr=0.1, weight_decay=0.5).step([p_l2], [g])
    # g + lambda theta = 1: a full lr step, lr g / (|g| + eps); rel 1e-15 is a few roundings (of
    # 1 - beta1, the bias corrections), far below what a misplaced or missing eps moves (5e-10)
    assert p_l2[0] == pytest.approx(2.0 - 0.1 / (1.0 + 1e-8), rel=1e-15)


@pytest.mark.parametrize(
    "name,options,fragment",
    [
        ("sgd", dict(lr=-0.1), "lr must be >= 0.0; got -0.1"),
        ("sgd", dict(lr=0.1, nesterov=True), "Nesterov momentum requires momentum > 0"),
        ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening 0"),
        ("adam", dict(lr=0.1, betas=(0.9, 1.0)), "beta2 must be >= 0.0 and < 1.0; got 1.0"),
        ("adam", dict(lr=0.1, betas=0.9), "betas must be a pair (beta1, beta2); got 0.9"),
        ("adam", dict(lr=0.1, betas="ab"), "betas must be a pair (beta1, beta2); got 'ab'"),
        ("adam", dict(lr=float("nan")), "lr must be a finite number"),
        ("adam", dict(lr=0.1, momentum=0.9), "optimizer 'adam':"),
        ("rmsprop", dict(lr=0.1), "unknown optimizer 'rmsprop'; expected one of sgd, adam, adamw"),
    ],
)
def test_bad_options_say_what_was_received(name, options, fragment):
    with pytest.raises(ValueError, match=None) as err:
        make_optimizer(name, **options)
    assert fragment in str(err.value)


def test_a_gradient_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\), its parameter \(2,\)"):
        SGD(lr=1.0).step([np.zeros(2)], [np.zeros(3)])


def disc_net(dtype=np.float64):
    spec = Spec.build(2, [10, 2], 1, activation="leaky_relu", loss="logistic")
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 2))
    y = (np.sum(X**2, axis=1) < 1).astype(float)
    return MLP(spec, seed=1, dtype=dtype), X, y


def test_course_per_sample_loop_is_network_train_with_batches_of_one():
    # the course: for each sample of a seeded permutation, backward, step, zero_grad
    net, X, y = disc_net()
    reference = MLP(net.spec, net.W, net.b)
    train(reference, X, y, epochs=3, lr=0.05, batch_size=1, reduction="sum", path="per_sample", seed=4)
    loop, rng = CourseLoop(net, 0.05), np.random.default_rng(4)
    for _ in range(3):
        for i in rng.permutation(len(X)):
            loop.backward(X[i], y[i])
            loop.step()
            loop.zero_grad()
    for k in range(1, net.L + 1):
        np.testing.assert_array_equal(net.W[k], reference.W[k])
        np.testing.assert_array_equal(net.b[k], reference.b[k])
    assert not np.array_equal(net.W[1], MLP(net.spec, seed=1).W[1])


def test_course_mini_batch_sums_per_sample_gradients_and_zero_grad_resets_all():
    net, X, y = disc_net()
    loop = CourseLoop(net, make_optimizer("adam", lr=0.01))
    for i in range(16):
        loop.backward(X[i], y[i])
    batch = net.backward(X[:16], y[:16], reduction="sum", path="batched")
    for k in range(1, net.L + 1):
        np.testing.assert_allclose(loop.W_derivs[k], batch.W_derivs[k], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(loop.b_derivs[k], batch.b_derivs[k], rtol=1e-13, atol=1e-15)
    before = [p.copy() for p in parameters(net)]
    loop.step()
    assert all(not np.array_equal(p, q) for p, q in zip(parameters(net), before))
    loop.zero_grad()
    assert all(not d.any() for d in loop.W_derivs[1:] + loop.b_derivs[1:])


def test_registry_names_match_torch_optim():
    assert set(OPTIMIZERS) == set(TORCH_NAMES)
    for name in TORCH_NAMES.values():
        assert hasattr(torch.optim, name)


def test_optim_never_imports_torch():
    code = "import sys, refmlp.optim; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
