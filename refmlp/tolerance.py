"""The tolerance policy: every allowance refmlp grants, computed here, each with its reason.

**The rule.** An element of the actual value x passes against the expected value y when

    |x - y| <= rtol (|y| + M) + UNDERFLOW_ROUNDINGS tiny

(:func:`allowed`; :data:`RULE` is the same rule as text, made from the same constants). ``rtol``
is the dtype's (:data:`POLICY`), ``M`` the element's *error scale* and ``tiny`` the dtype's
smallest normal number. Two correct implementations add in different orders (BLAS blocking,
pairwise sums), and a computed value carries a rounding error of order eps times the magnitudes of
the terms it was made from, which can be far larger than the value itself when terms cancel: M is
that magnitude. When the network is known, M comes from :func:`refmlp.rounding.error_scales`, a
running error analysis element by element; traces compared on their own get the coarser floors of
:func:`coarse_floor`, read off the expected trace. Identical values always pass, exact zeros
included; inf or nan fail wherever they stand.

Every other allowance is here too, each a function of the constants it names and a reason made from
them (:data:`REASONS`): the room for a derivative's branch choice at a kink (:data:`JUMP_ROOM`), the
representation error of a float32 result judged in float64 (:func:`float32_result_floor`), the
rounding of a gradient recovered from a step (:func:`step_rounding`), scikit-learn's log of a
clipped probability (:func:`sklearn_loss_floor`), the deviation allowed over a training run
(:data:`TRAINING`), and how closely a student's numbers must fit a known bug to name it
(:data:`VARIANT_RTOL`, :data:`CLEARLY_CLOSER`, :data:`SIGNATURE_RTOL`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

# numpy is imported by the functions, not here: the command line reads the reasons for its --help
EPS = {"float64": sys.float_info.epsilon, "float32": 2.0**-23}
TINY = {"float64": sys.float_info.min, "float32": 2.0**-126}


def fig(x: float) -> str:
    """A figure as the reasons write it: 1e-4, 1.2e-7, 0.01, 1024."""
    if x == int(x) and abs(x) >= 1:
        return str(int(x))
    if abs(x) > 1e-3:
        return f"{x:.2g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def _prose(doc: str) -> str:
    return " ".join(doc.split())


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    reason: str


# ---- the parity rule ----------------------------------------------------------------------------
UNDERFLOW_ROUNDINGS = 1024

PARITY_RTOL = {"float64": 1e-10, "float32": 1e-4}

POLICY: dict[str, Tolerance] = {
    "float64": Tolerance(
        rtol=PARITY_RTOL["float64"],
        reason=(
            f"float64 carries eps = {fig(EPS['float64'])}; a parity quantity is a few hundred "
            "accumulated roundings at most away from the exact value in networks of the test "
            "matrix's size (fan-in <= 64, depth <= 4), far below "
            f"{fig(PARITY_RTOL['float64'])} of its scale (measured over the matrix by "
            "scripts/tolerance_margins.py: the worst element uses 3.6e-6 of this tolerance), "
            "while a wrong line of backprop changes it at the first significant digits."
        ),
    ),
    "float32": Tolerance(
        rtol=PARITY_RTOL["float32"],
        reason=(
            f"float32 carries eps = {fig(EPS['float32'])}. A sum of n terms may be off by up to n "
            "eps times the magnitudes of its terms (the error scale M), n the fan-in or the batch "
            f"size; {fig(PARITY_RTOL['float32'])} = about "
            f"{PARITY_RTOL['float32'] / EPS['float32']:.0f} eps covers that worst case for the "
            "widths and batches in use (measured: the test matrix uses at most 1.8e-3 of it, "
            "784-256-256-10 networks on batches of 512 at most 0.0023 away from relu's kink), and "
            "a gradient 0.07% off still fails (scripts/tolerance_sensitivity.py)."
        ),
    ),
}
"""The parity tolerance of each dtype, with its reason; both are written into every report."""

SCALES_ANALYSIS = "refmlp.rounding: a running error analysis"
SCALES_COARSE = "coarse floors from the expected trace"
SCALES_SKLEARN = ("max|expected| for h and g, the summands' magnitudes for W_derivs and b_derivs, "
                  "and for the loss its terms plus 1/min(p, 1-p), scikit-learn's log of a "
                  "clipped probability")

RULE = (f"|actual - expected| <= rtol * (|expected| + M) + {UNDERFLOW_ROUNDINGS} tiny; M the "
        "element's error scale ({scales}), tiny the dtype's smallest normal number")
"""The rule as text; :func:`rule` fills in where M comes from."""


def rule(scales: str) -> str:
    """:data:`RULE` with the source of the error scales M (one of the ``SCALES_*`` texts)."""
    return RULE.format(scales=scales)


def parity_tolerance(dtype: str) -> Tolerance:
    """The parity tolerance of ``dtype``, or a ValueError naming the dtypes that have one."""
    try:
        return POLICY[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"no tolerance policy for dtype {dtype!r}; expected one of {list(POLICY)}") from None


def allowed(expected, rtol: float, M, dtype):
    """The largest |actual - expected| each element may show (the rule), in float64.

    ``M`` is an array of the error scales or a number; ``dtype`` the expected side's.
    """
    import numpy as np

    dtype = np.dtype(dtype)
    tiny = np.finfo(dtype).tiny if dtype.kind == "f" else 0.0
    return rtol * (np.abs(expected) + M) + UNDERFLOW_ROUNDINGS * tiny


def with_floor(v):
    import numpy as np

    v = np.abs(np.asarray(v, dtype=np.float64))
    return v + v.max(initial=0.0)


def coarse_floor(quantity: str, expected, k: int | None):
    """M for a trace compared without its network, read off the expected trace:

    - a_k, h_k and g_k: None, which :func:`refmlp.compare.compare_arrays` takes as max|Y| over
      the whole quantity;
    - W_derivs_k = sum over the batch of g_k h_{k-1}^T: (|g_k| + max|g_k|)^T (|h_{k-1}| +
      max|h_{k-1}|), the magnitudes of its summands with the floors g_k and h_{k-1} were allowed;
    - b_derivs_k: the sum over the batch of (|g_k| + max|g_k|);
    - the loss: the trace's ``loss_scale`` (:meth:`refmlp.losses.Loss.scale`).
    """
    import numpy as np

    if quantity == "loss":
        return expected.loss_scale or 0.0
    if quantity not in ("W_derivs", "b_derivs") or not expected.g:
        return None
    g, h = expected.g[k], expected.h[k - 1]
    if np.shape(g)[:1] != np.shape(h)[:1] or np.ndim(g) != 2:
        return None  # malformed trace: the shape check of the rows will say so
    g_mag = with_floor(g)
    return g_mag.T @ with_floor(h) if quantity == "W_derivs" else g_mag.sum(axis=0)


# ---- refmlp.rounding ----------------------------------------------------------------------------
JUMP_ROOM = 2.0


# ---- the homework checker -----------------------------------------------------------------------
F32_RESULT_ULPS = 1.0
F32_UNDERFLOW_TINIES = 2.0


def float32_result_floor(expected, floor, rtol: float):
    """M for a float32 result judged against a float64 expectation: the error scale (max|expected|
    when ``floor`` is None) plus the result's own representation error, eps32 |expected| per
    value and up to float32's tiny where it underflows (a saturated softmax's 1e-50 is 0 in
    float32), divided by rtol since M is multiplied by it."""
    import numpy as np

    base = np.abs(expected).max(initial=0.0) if floor is None else floor
    return base + (F32_RESULT_ULPS * EPS["float32"] * np.abs(expected)
                   + F32_UNDERFLOW_TINIES * TINY["float32"]) / rtol


def step_rounding(after, change, alpha: float, dtype: str):
    """The rounding of a gradient read as (W before - W after step(alpha)) / alpha, per element.

    alpha is a power of two, so alpha dW and the division are exact; the roundings are the step's
    own subtraction in the student's ``dtype`` (at most eps_s |W after| / 2) and ours in float64
    (at most eps_64 |change| / 2), each taken at a whole eps: a margin for a step that rounds
    alpha dW itself.
    """
    import numpy as np

    return (EPS[dtype] * np.abs(after) + EPS["float64"] * np.abs(change)) / alpha


VARIANT_RTOL = {"float64": 1e-6, "float32": 1e-3}
CLEARLY_CLOSER = 10.0
SIGNATURE_RTOL = 1e-6
EXACT_RTOL = 1e-12
# a constant slope or factor in a shipped helper's values (refmlp.check.helpers): each value is a
# few float64 operations on the probe inputs, so a constant ratio repeats to ~1e-15, while another
# leaky slope (0.02, 0.1) or a 1/n factor differs at the first digits
HELPER_RATIO_RTOL = 1e-9
INNER_STEP_RTOL = 1e-5
INNER_STEP_FLOOR = 1e-4


# ---- scikit-learn -------------------------------------------------------------------------------
def sklearn_loss_floor(loss, a, h, Y) -> float:
    """M of the loss row against scikit-learn (reduction "mean"): the size of the terms the loss
    adds up (:meth:`refmlp.losses.Loss.scale`, from refmlp's a_L: scikit-learn keeps none), plus,
    for the log losses, 1 / min(p, 1 - p) per output: scikit-learn takes log(1 - p) of a computed
    p, off by eps / (1 - p), and where p is clipped (within eps of 0 or 1) the values differ."""
    import numpy as np

    scale = np.mean(loss.scale(a, h, Y))
    if loss.torch_on_logits:  # the log losses
        eps = np.finfo(h.dtype).eps
        scale += np.mean(np.sum(1 / np.maximum(np.minimum(h, 1 - h), eps), axis=-1))
    return float(scale)


# ---- whole training runs ------------------------------------------------------------------------
# float64: measured (scripts/train_side_by_side.py, parity_tests/test_trajectory.py), refmlp vs
# torch stays below about 1e-13 over 200 steps of every optimizer on moons, digits and diabetes;
# each step's gradient agrees to ~1e-15 (the parity suite) and the update rules are the same
# operations, so only rounding differences grow, and only slowly.
# float32: a step's gradient agrees to ~1e-6 relative (sums of up to a few hundred products), and
# training amplifies earlier differences through the weights. The worst figure over 200 steps,
# printed by `scripts/train_side_by_side.py --dtypes float32`, is 1.3e-5 (digits, Adam: m / sqrt(v)
# magnifies the relative error of small gradient entries); 1e-3 leaves room for longer runs and
# still catches, at the first step, a wrong rule that moves the weights by more than that
# (measured on moons: a damped first momentum buffer 2e-3, AdamW's decay coupled to the gradient
# 6e-2). A subtler one, Adam's eps before the bias correction (4e-5 after one step), is caught in
# float64 only.
TRAINING_RTOL = {"float64": 1e-9, "float32": 1e-3}

TRAINING: dict[str, Tolerance] = {
    "float64": Tolerance(
        rtol=TRAINING_RTOL["float64"],
        reason=("per-step gradients agree to ~1e-15 and the update rules are the same operations; "
                "measured over 200 steps of every optimizer on moons, digits and diabetes: below "
                f"1e-13, far under {fig(TRAINING_RTOL['float64'])}"),
    ),
    "float32": Tolerance(
        rtol=TRAINING_RTOL["float32"],
        reason=(f"eps = {fig(EPS['float32'])} per operation, amplified by training (Adam's "
                "normalised steps most); measured over 200 steps: at most 1.3e-5 (digits, Adam); "
                f"{fig(TRAINING_RTOL['float32'])} still catches at the first step a wrong rule that "
                "moves the weights by more (a damped first momentum buffer: 2e-3)"),
    ),
}
"""The normwise relative deviation of a training run from refmlp's (refmlp.trajectory), per dtype."""


REASONS: dict[str, str] = {
    "parity float64": POLICY["float64"].reason,
    "parity float32": POLICY["float32"].reason,
    "underflow": (f"{UNDERFLOW_ROUNDINGS} tiny: an implementation may flush a subnormal result to "
                  "zero (torch's float32 sigmoid gives 0 below -88, where numpy keeps 4e-44), and "
                  f"{UNDERFLOW_ROUNDINGS} such flushes are still far below anything a bug produces"),
    "coarse floors": _prose(coarse_floor.__doc__),
    "jump room": (f"where f' jumps (relu's kink) within an input's uncertainty, each side may take "
                  f"either branch; {fig(JUMP_ROOM)} x the jump keeps such an element off the very edge "
                  "of its tolerance, where the other roundings would decide"),
    "float32 result": (f"a float32 result carries {fig(F32_RESULT_ULPS)} eps32 |y| of representation "
                       f"error and up to {fig(F32_UNDERFLOW_TINIES)} float32 tiny where it underflows; "
                       "the first-order error scale lacks both"),
    "step rounding": _prose(step_rounding.__doc__),
    "sklearn loss": _prose(sklearn_loss_floor.__doc__),
    "training float64": TRAINING["float64"].reason,
    "training float32": TRAINING["float32"].reason,
    "variant": (f"a known bug is named when the student's numbers fit its variant within "
                f"{fig(VARIANT_RTOL['float64'])} relative in float64, {fig(VARIANT_RTOL['float32'])} in "
                "float32: far looser than the parity tolerance, since the variant is only the "
                "likely bug, and far tighter than any two different bugs sit apart"),
    "clearly closer": (f"and only when they sit at least {fig(CLEARLY_CLOSER)} times closer to the "
                       "variant than to the reference: a variant that coincides with the reference "
                       "on the sample explains nothing"),
    "exact": (f"{fig(EXACT_RTOL)} relative (about {EXACT_RTOL / EPS['float64']:.0f} float64 eps): two "
              "float64 evaluations of the same formula on the same numbers, or a factor that must "
              "be 0 (a bias that did not move), agree to a few eps, and anything else differs by "
              "far more"),
    "inner step": (f"a step taken inside backward is named when its size, read off the recovered "
                   f"gradients' ratios (exact to ~1e-10), fits within {fig(INNER_STEP_RTOL)} "
                   f"relative, and only a size above {fig(INNER_STEP_FLOOR)} alpha is sought: "
                   "smaller ones would be the ratios' rounding"),
    "signature": (f"a step's signature (gradients scaled by -1, or by a factor changing with alpha) "
                  f"is read within {fig(SIGNATURE_RTOL)} relative: the recovered gradients are exact "
                  "to a few eps"),
}
"""Every allowance's reason, by name, made from the constants above."""
