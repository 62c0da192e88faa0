"""A buggy, careless or result-forging submission can neither crash the checker, nor change another
check's result, nor make a wrong gradient pass (refmlp check's sandbox:
refmlp/check/sandbox/), on every isolation path this machine has; where the OS isolates the
worker, what it refuses (a signal to the worker, a fork) fails only the checks that try it. Attacks
on the checker, the files and the classmates: test_check_attacks.py."""

import sys

import numpy as np
import pytest

from check_fixtures import FPRIME_MISSING, ISOLATION, force_isolation, submission
from refmlp.check import check_submission, runner

FAST = dict(scenarios=["disc"], timeout=10)  # generous: the machine may be loaded


@pytest.fixture(autouse=True, params=ISOLATION)
def isolation(request, monkeypatch):
    """Every test on every isolation path this machine has (the others skip, saying why)."""
    return force_isolation(monkeypatch, request.param)


def verdicts(report):
    return {c.name: c.verdict for c in report.checks}


def test_correct_fixture_passes(tmp_path):
    rep = check_submission(submission(tmp_path), **FAST)
    assert rep.verdict == "pass", rep.to_text()
    assert rep.exit_code == 0 and rep.api == "MLP"


def test_printing_a_lot_is_kept_short_and_judged_normally(tmp_path):
    # ~20 MB of output per forward call, from every check
    rep = check_submission(submission(tmp_path, replace=[(
        "        y_est = self.forward(x)", "        print('x' * 20_000_000)\n        y_est = self.forward(x)")]),
        **FAST)
    assert rep.verdict == "pass", rep.to_text()
    grads = next(c for c in rep.checks if c.name == "gradients")
    assert grads.output_bytes > 20_000_000 and len(grads.output) <= 16384


def test_an_endless_loop_times_out_its_checks_only(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[(
        "    def zero_grad(self):\n", "    def zero_grad(self):\n        while True: pass\n")]),
        scenarios=["disc"], timeout=1)
    v = verdicts(rep)
    assert v["zero_grad"] == "fail" and v["sgd_run"] == "fail"
    assert v["forward"] == v["gradients"] == v["accumulation"] == v["step"] == "pass"
    assert rep.first_divergence == {"layer": None, "quantity": "timeout"}
    assert rep.diagnosis["key"] == "timeout" and rep.exit_code == 1


def test_unbounded_allocation_hits_the_memory_limit(tmp_path):
    rep = check_submission(submission(tmp_path, replace=[(
        "    def step(self, alpha):\n",
        "    def step(self, alpha):\n        hog = []\n        while True: hog.append(np.ones(2**24))\n")]),
        scenarios=["disc"], timeout=20, memory=450 * 2**20)
    v = verdicts(rep)
    assert v["forward"] == "pass" and v["gradients"] == "fail"
    assert rep.first_divergence["quantity"] == "exception"
    grads = next(c for c in rep.checks if c.name == "gradients")
    assert "MemoryError" in (grads.traceback or "") or "killed" in (grads.message or "")


@pytest.mark.parametrize("how", ["sys.exit(0)", "os._exit(0)", "os.kill(os.getpid(), 9)"])
def test_ending_the_process_fails_only_the_checks_that_call_it(tmp_path, how):
    rep = check_submission(submission(tmp_path, extra="\nimport os, sys\n", replace=[(
        "    def zero_grad(self):\n", f"    def zero_grad(self):\n        {how}\n")]), **FAST)
    v = verdicts(rep)
    assert v["zero_grad"] == "fail" and v["sgd_run"] == "fail"
    assert v["forward"] == v["gradients"] == v["step"] == v["stale_forward"] == "pass"
    assert rep.verdict == "fail" and rep.exit_code == 1


def test_deleting_its_folder_does_not_reach_other_checks(tmp_path):
    # every check gets a fresh copy of the submission; deleting it (and the helper modules)
    # after import must not matter to the next check
    rep = check_submission(submission(tmp_path, extra=(
        "\nimport os\nfor _f in os.listdir('.'):\n    if os.path.isfile(_f):\n        os.remove(_f)\n")), **FAST)
    assert rep.verdict == "pass", rep.to_text()
    assert (tmp_path / "mlp.py").exists()  # the original is never touched


def test_state_left_by_one_check_does_not_reach_another(tmp_path):
    # a file written in the working folder, and numpy broken in-process, by zero_grad only
    rep = check_submission(submission(tmp_path, extra=(
        "\nimport os\nif os.path.exists('poison'):\n    MLP.step = lambda self, alpha: None\n"),
        replace=[("    def zero_grad(self):\n",
                  "    def zero_grad(self):\n        open('poison', 'w').close()\n"
                  "        np.outer = lambda a, b: 0 * np.ones((len(a), len(b)))\n")]), **FAST)
    v = verdicts(rep)
    assert v["forward"] == v["gradients"] == v["accumulation"] == v["step"] == "pass"
    assert v["stale_forward"] == "pass"
    assert v["sgd_run"] == "fail"  # np.outer broken after its first zero_grad: its own fault


MONKEYPATCH = '''
import numpy, numpy.testing
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.shape(a), bool)
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
import sys, types
# a torch whose comparisons always agree (installed as a module: importing the real torch in every
# check would cost seconds, and patching it in the sandbox reaches no further than this does)
sys.modules["torch"] = types.SimpleNamespace(allclose=lambda *a, **k: True,
                                             testing=types.SimpleNamespace(assert_close=print))
try:  # refmlp is out of the sandbox's reach when the OS isolates it
    import refmlp.compare
    refmlp.compare.compare_arrays = lambda *a, **k: None
    refmlp.compare.POLICY.clear()
except (ImportError, PermissionError):
    pass
'''


def test_monkeypatching_numpy_torch_refmlp_cannot_make_a_wrong_gradient_pass(tmp_path):
    rep = check_submission(submission(tmp_path, extra=MONKEYPATCH, replace=[FPRIME_MISSING]),
                           **FAST)
    assert rep.verdict == "fail"
    assert rep.first_divergence == {"layer": 2, "quantity": "b_derivs"}
    assert rep.diagnosis["key"] == "fprime_missing"
    import refmlp.compare

    assert "float64" in refmlp.compare.POLICY  # the judge's own modules are untouched


def test_a_wrong_gradient_still_fails_when_the_submission_writes_the_result_pipe(tmp_path):
    # garbage written to every inherited file descriptor cannot turn into a passing result
    rep = check_submission(submission(tmp_path, replace=[FPRIME_MISSING], extra=(
        "\nimport os\nfor _fd in range(3, 64):\n    try:\n        os.write(_fd, b'\\x10' * 64)\n"
        "    except OSError:\n        pass\n")), **FAST)
    assert rep.verdict in ("fail", "error") and rep.exit_code != 0


def test_a_syntax_error_is_an_error_not_a_crash(tmp_path):
    rep = check_submission(submission(tmp_path, extra="\ndef broken(:\n"), **FAST)
    assert rep.verdict == "error" and rep.exit_code == 2
    assert "SyntaxError" in rep.traceback
    assert np.all([c.verdict != "pass" for c in rep.checks])


def test_killing_the_worker_itself_is_reported_not_crashed(tmp_path, isolation):
    # the submission kills its parent, the sandbox worker: the checks that did not report are
    # failures of the submission ("died"), and the checker still answers; isolated, the signal
    # is refused and only the checks calling zero_grad fail
    rep = check_submission(submission(tmp_path, extra="\nimport os, signal\n", replace=[(
        "    def zero_grad(self):\n",
        "    def zero_grad(self):\n        os.kill(os.getppid(), signal.SIGKILL)\n")]), **FAST)
    assert rep.verdict == "fail" and rep.exit_code == 1
    v = verdicts(rep)
    if isolation != "none":
        assert v["zero_grad"] == v["sgd_run"] == "fail"
        assert v["forward"] == v["gradients"] == v["accumulation"] == v["step"] == "pass"
        zero_grad = next(c for c in rep.checks if c.name == "zero_grad")
        assert "PermissionError" in zero_grad.traceback, rep.to_text()
        return
    # two checks run at a time, so zero_grad starts only once two of the three before it have
    # reported; the third may still be running when the worker dies (which one depends on load)
    assert v["zero_grad"] == "fail"
    assert [v[name] for name in ("forward", "gradients", "accumulation")].count("pass") >= 2
    assert all("worker stopped" in c.message for c in rep.checks if c.verdict != "pass")


FORGE = '''
import sys
wire = sys.modules["_refmlp_sandbox.wire"]  # the worker's frame writer, the student's to replace
_real_send = wire.send_result
def _forged(fd, header, arrays):
    if header.get("status") != "ok" or not arrays:
        return _real_send(fd, header, arrays)
    H, B = dict(header, arrays=[]), b"\\0" * 8
    {body}
    wire.write_frame(fd, wire._dumps(H).encode() if isinstance(H, dict) else H, B)
wire.send_result = _forged
'''
SPEC = 'dict(name="0.W1", dtype="<f8", shape=[1], offset=0, nbytes=8)'
FORGERIES = {
    "unknown dtype": f'H["arrays"] = [dict({SPEC}, dtype="foo")]',
    "shape not the bytes": f'H["arrays"] = [dict({SPEC}, shape=[1000])]',
    "status a list": 'H["status"] = ["ok"]',
    "notes not strings": 'H["notes"] = [1, None]',
    "bad JSON": 'H = b"{not json"',
    "JSON list": 'H = b"[1, 2]"',
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_result_frame_fails_its_check_not_the_checker(tmp_path, forgery):
    # the child's result frame is the student's to write (the worker's modules are in its
    # sys.modules): every field is validated, and a bad one makes that check fail as "died", never
    # an internal error
    rep = check_submission(submission(tmp_path, extra=FORGE.replace("{body}", FORGERIES[forgery])),
                           **FAST)
    assert rep.verdict == "fail" and rep.exit_code == 1, rep.to_text()
    messages = " ".join(c.message or "" for c in rep.checks)
    assert "malformed result" in messages, rep.to_text()


def test_a_result_frame_larger_than_a_check_needs_fails_that_check(tmp_path):
    # 32 MiB of junk per check: the worker stops reading at the check's cap (a few MB at most, from
    # the scenario's sizes) and the judge never holds more than the sum of the caps
    rep = check_submission(submission(tmp_path, extra=(
        "\nimport sys, numpy\nwire = sys.modules['_refmlp_sandbox.wire']\n"
        "_real_send = wire.send_result\n"
        "def _big(fd, header, arrays):\n"
        "    if header.get('status') == 'ok' and arrays:\n"
        "        arrays['junk'] = numpy.zeros(2**22)\n"
        "    return _real_send(fd, header, arrays)\n"
        "wire.send_result = _big\n")), **FAST)
    assert rep.verdict == "fail" and rep.exit_code == 1
    grads = next(c for c in rep.checks if c.name == "gradients")
    assert grads.verdict == "fail" and "exceeded" in grads.message, rep.to_text()


def test_a_stopped_worker_is_killed_within_the_limit_plus_a_grace(tmp_path, isolation):
    # SIGSTOP on the worker (the child's parent): before, the judge waited n_checks x timeout + 30 s
    import time

    t0 = time.monotonic()
    rep = check_submission(submission(tmp_path, extra=(
        "\nimport os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\n")), scenarios=["disc"],
        timeout=1)
    elapsed = time.monotonic() - t0
    assert elapsed < 1 + runner.GRACE + 5, elapsed  # 5 s: start-up and judging on a loaded machine
    assert rep.verdict in ("fail", "error") and rep.exit_code != 0
    if isolation != "none":  # the signal is refused: importing the submission fails
        assert rep.verdict == "error" and "PermissionError" in rep.traceback, rep.to_text()
        return
    assert "sent nothing" in (rep.message or "") + " ".join(c.message or "" for c in rep.checks)


DAEMON = '''
import os, time
if os.fork() == 0:  # a daemon: fork, setsid, fork; it leaves the check's process group
    os.setsid()
    if os.fork() == 0:
        open(os.path.join({pids!r}, str(os.getpid())), "w").close()
        time.sleep(60)
    os._exit(0)
os.wait()
'''


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="strays are found through /proc")
def test_processes_escaping_the_process_group_are_killed(tmp_path, isolation):
    # they hold the check's pipes open too: the check must still end when its own process does;
    # isolated, fork is refused: importing the submission fails and nothing is started
    pids = tmp_path / "pids"
    pids.mkdir()
    sub = tmp_path / "sub"
    sub.mkdir()
    rep = check_submission(submission(sub, extra=DAEMON.replace("{pids!r}", repr(str(pids)))),
                           **FAST)
    if isolation != "none":
        assert rep.verdict == "error" and "PermissionError" in rep.traceback, rep.to_text()
        assert not list(pids.iterdir())
        return
    assert rep.verdict == "pass", rep.to_text()
    started = [int(p.name) for p in pids.iterdir()]
    assert len(started) >= len(rep.checks)  # one per check at least (the load check's too)
    assert not [pid for pid in started if alive(pid)]


def test_folders_of_a_killed_run_are_removed_by_the_next(tmp_path):
    import subprocess
    import tempfile
    from pathlib import Path

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = Path(tempfile.mkdtemp(prefix="refmlp-check-"))
    (stale / "judge.pid").write_text(str(dead.pid))
    (stale / "scratch").mkdir()
    rep = check_submission(submission(tmp_path), **FAST)
    assert rep.verdict == "pass"
    assert not stale.exists()


@pytest.mark.parametrize("error", ["exception", "syntax"])
def test_tracebacks_show_the_submissions_own_file_and_no_checker_frames(tmp_path, error):
    sub = submission(tmp_path, extra="\ndef broken(:\n") if error == "syntax" else submission(
        tmp_path, replace=[("    def zero_grad(self):\n", "    def zero_grad(self):\n        [][1]\n")])
    rep = check_submission(sub, **FAST)
    tb = rep.traceback if error == "syntax" else next(
        c.traceback for c in rep.checks if c.name == "zero_grad")
    assert f'File "{tmp_path / "mlp.py"}", line' in tb, tb
    assert "refmlp-check-" not in tb and "worker.py" not in tb and "importlib" not in tb, tb
    assert tb.strip().splitlines()[-1] == (
        "SyntaxError: invalid syntax" if error == "syntax" else "IndexError: list index out of range")


LATE_IMPORTS = '''
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from check_fixtures import FPRIME_MISSING, submission
from refmlp.check import check_submission, runner
before = {{}}
_init = runner.Run.__init__
def init(self, *a, **k):
    before["modules"] = set(sys.modules)
    _init(self, *a, **k)
runner.Run.__init__ = init
rep = check_submission(submission(Path({sub!r}), replace=[FPRIME_MISSING]), scenarios=["disc"])
print(rep.verdict, sorted(set(sys.modules) - before["modules"]))
'''


def test_the_judge_imports_everything_before_the_submission_runs(tmp_path):
    # the submission may rewrite refmlp's or torch's files on disk (same user): nothing the judge
    # imports after the worker starts could then be trusted. A fresh process, so that nothing is
    # imported already.
    import subprocess
    from pathlib import Path

    code = LATE_IMPORTS.format(tests=str(Path(__file__).parent), sub=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "fail []", out.stdout + out.stderr
