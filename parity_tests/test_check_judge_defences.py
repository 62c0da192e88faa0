"""Defences of the judging process, which hold on every platform: the judge chooses and verifies
the weights, collects the submission's files without following links or reading too much, gives
the sandbox none of the instructor's environment, and for grading draws a seed the submission
cannot know in advance. Each test is an attack by a submission with a real bug (f' missing),
which must never pass."""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from check_fixtures import FPRIME_MISSING, submission
from refmlp.check import check_submission, plan, runner

FAST = dict(scenarios=["disc"], timeout=20)  # generous: the machine may be loaded
ZERO_INIT = [("0.1 * np.random.randn(m, n)", "np.zeros((m, n))"),
             ("0.1 * np.random.randn(m)", "np.zeros(m)")]
KEPT = "did not keep the weights the checker wrote"

# ---- the judge chooses the weights and verifies them ---------------------------------------------
# Each attack makes the math trivial (W = 0: every hidden gradient is 0, so a missing f' gives the
# right numbers) and then keeps the checker's weights out of the network some way.
SEEDING_OFF_THROUGH_MAIN = '''
import sys
sys.modules["__main__"].processes.ops.Subject.seed_weights = lambda self, net: None
'''
SEEDING_OFF_EVERYWHERE = '''
import sys
for module in list(sys.modules.values()):
    for obj in list(getattr(module, "__dict__", {}).values()):
        if isinstance(obj, type) and hasattr(obj, "seed_weights"):
            obj.seed_weights = lambda self, net: None
        if callable(obj) and getattr(obj, "__name__", "") == "overwrite":
            module.overwrite = lambda v, values: True
'''
IGNORES_WRITES = '''
class Frozen(np.ndarray):
    def __setitem__(self, key, value):
        pass

_zeros = np.zeros
def frozen_zeros(shape):
    return _zeros(shape).view(Frozen)
'''
# reads forged to show exactly the weights the checker wrote while the network keeps zeros
FORGED_READS = '''
import sys
_ops, _seeding = sys.modules["_refmlp_sandbox.ops"], sys.modules["_refmlp_sandbox.seeding"]
_ops.Subject.seed_weights = lambda self, net: None
_read = _ops.Subject.read
def _forged_read(self, net):
    out = _read(self, net)
    if getattr(net, "_shown", False):
        return out
    net._shown = True
    names = [f"{kind}{k}" for k in range(1, len(self.sizes)) for kind in "Wb"]
    seeded = _seeding.checker_weights(self.check["seed"], [out[n].shape for n in names])
    return dict(zip(names, seeded))
_ops.Subject.read = _forged_read
'''
ZEROED_AFTER_SEEDING = [
    FPRIME_MISSING,
    ("    def forward(self, x, start=None, end=None):\n",
     "    def forward(self, x, start=None, end=None):\n"
     "        if not getattr(self, '_zeroed', False):\n"
     "            self._zeroed = True\n"
     "            for W in self.Ws: W[...] = 0\n")]

WEIGHT_ATTACKS = {
    "seeding disabled through sys.modules['__main__']": dict(
        replace=ZERO_INIT + [FPRIME_MISSING], extra=SEEDING_OFF_THROUGH_MAIN),
    "seeding and overwrite disabled in every module": dict(
        replace=ZERO_INIT + [FPRIME_MISSING], extra=SEEDING_OFF_EVERYWHERE),
    "an ndarray subclass that ignores writes": dict(
        replace=[("self.Ws.append(0.1 * np.random.randn(m, n))",
                  "self.Ws.append(frozen_zeros((m, n)))"), FPRIME_MISSING],
        extra=IGNORES_WRITES),
    "reads forged to show the checker's weights": dict(
        replace=ZERO_INIT + [FPRIME_MISSING], extra=FORGED_READS),
    "weights zeroed after seeding": dict(replace=ZEROED_AFTER_SEEDING),
}


@pytest.mark.parametrize("attack", sorted(WEIGHT_ATTACKS))
def test_vacuous_weights_never_pass_a_missing_fprime(tmp_path, attack):
    rep = check_submission(submission(tmp_path, **WEIGHT_ATTACKS[attack]), **FAST)
    assert rep.verdict in ("fail", "error") and rep.exit_code != 0, rep.to_text()
    assert all(c.verdict != "pass" for c in rep.checks if c.name == "gradients"), rep.to_text()


@pytest.mark.parametrize("attack", ["seeding disabled through sys.modules['__main__']",
                                    "seeding and overwrite disabled in every module",
                                    "an ndarray subclass that ignores writes"])
def test_weights_the_checker_did_not_write_are_an_error_with_the_reason(tmp_path, attack):
    rep = check_submission(submission(tmp_path, **WEIGHT_ATTACKS[attack]), **FAST)
    assert rep.verdict == "error" and rep.exit_code == 2, rep.to_text()
    assert KEPT in rep.message and "W1 differs" in rep.message, rep.message
    assert "read back 0" in rep.message  # the zeros the submission kept


def test_weights_the_checker_did_not_write_are_reported_in_json(tmp_path):
    rep = check_submission(submission(tmp_path, **WEIGHT_ATTACKS[
        "an ndarray subclass that ignores writes"]), **FAST)
    data = json.loads(rep.to_json())
    assert data["verdict"] == "error" and KEPT in data["message"]


EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "check_adapter"


def test_an_adapter_whose_params_are_copies_is_an_error(tmp_path):
    # params() handing out copies: the checker's writes never reach the network it wraps
    shutil.copy(EXAMPLE / "netlib.py", tmp_path / "netlib.py")
    src = (EXAMPLE / "adapter.py").read_text()
    live = "return [(layer[0].T, layer[1]) for layer in self.net.layers]"
    assert live in src
    (tmp_path / "adapter.py").write_text(src.replace(
        live, "return [(layer[0].T.copy(), layer[1].copy()) for layer in self.net.layers]"))
    rep = check_submission(tmp_path / "netlib.py", adapter=tmp_path / "adapter.py", **FAST)
    assert rep.verdict == "error", rep.to_text()
    assert KEPT in rep.message


def test_the_checker_writes_its_weights_over_a_students_good_ones(tmp_path):
    # a correct network with good weights of its own runs on the checker's, silently: a pass means
    # the judge found the checker's weights, bit for bit, in every network (weights.problem)
    rep = check_submission(submission(tmp_path, replace=[
        ("0.1 * np.random.randn(m, n)", "0.2 * np.random.rand(m, n) - 0.1")]), **FAST)
    assert rep.verdict == "pass" and not rep.message, rep.to_text()
