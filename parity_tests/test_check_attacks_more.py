"""More of a hostile submission's attacks, on each OS isolation path: the calls the file-system
locks do not see (a file's mode, owner, times and attributes, another process's limits and
scheduling), and what the judge builds from a submission (its pages, its gradebook).

As in test_check_attacks.py, each attack is a buggy homework (f' missing) whose backward turns
correct when the attack works, every attack is bounded in time and size, and none contacts any
address.
"""

import csv
import io
import os
from pathlib import Path

import pytest

from refmlp.check import batch
from test_check_attacks import attacked, isolation, needs, victim  # noqa: F401  fixtures


def test_files_outside_the_scratch_keep_their_mode_owner_times_and_attributes(tmp_path, isolation):
    # Landlock guards opening, creating and removing files, not chmod, chown, utime or xattrs:
    # run as the files' owner (a user grading their class, or uid 0 without capabilities), a
    # submission could make a classmate's file (or /etc/passwd) writable by all or unreadable
    needs(isolation, "seccomp")
    bob = tmp_path / "class" / "bob" / "mlp.py"
    bob.parent.mkdir(parents=True)
    bob.write_text("CANARY = 1\n")
    bob.chmod(0o644)
    os.utime(bob, (1_000_000, 1_000_000))
    before = os.stat(bob)
    attacked(tmp_path / "class" / "alice", '''
done = []
for name, call in (("chmod", lambda: os.chmod(P["bob"], 0o777)),
                   ("utime", lambda: os.utime(P["bob"], (0, 0))),
                   ("chown", lambda: os.chown(P["bob"], os.getuid(), os.getgid())),
                   ("setxattr", lambda: os.setxattr(P["bob"], "user.refmlp", b"1")),
                   ("removexattr", lambda: os.removexattr(P["bob"], "user.refmlp"))):
    try:
        call()
        done.append(name)
    except OSError as exc:
        print("refused:", name, exc)
print("done", done)
return bool(done)
''', bob=str(bob))
    after = os.stat(bob)
    assert (after.st_mode, after.st_uid, after.st_gid, after.st_mtime) == \
        (before.st_mode, before.st_uid, before.st_gid, before.st_mtime)


def limits(pid):
    with open(f"/proc/{pid}/limits") as fh:
        return fh.read()


def test_the_limits_and_scheduling_of_processes_outside_the_check_are_out_of_reach(
        tmp_path, isolation, victim):  # noqa: F811  the fixture
    # a process of the same uid may set another's limits (prlimit): RLIMIT_CPU 0 kills it, and
    # the judge is such a process; the victim stands in for it (the judge's own are only read)
    needs(isolation, "seccomp")
    before = limits(victim.pid), os.sched_getaffinity(victim.pid)
    attacked(tmp_path / "sub", '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
class Limit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]
got = []
old = Limit()
for pid in (P["judge"], os.getppid()):
    if libc.prlimit64(pid, 7, None, ctypes.byref(old)) == 0:  # RLIMIT_NOFILE, only read
        got.append(("read", pid))
one = Limit(1, 1)
if libc.prlimit64(P["victim"], 0, ctypes.byref(one), None) == 0:  # RLIMIT_CPU 1 s
    got.append("prlimit")
try:
    os.sched_setaffinity(P["victim"], {0})
    got.append("affinity")
except OSError as exc:
    print("refused: affinity", exc)
print("got", got, ctypes.get_errno())
return bool(got)
''', judge=os.getpid(), victim=victim.pid)
    assert (limits(victim.pid), os.sched_getaffinity(victim.pid)) == before
    assert victim.poll() is None


def graded(name):
    from refmlp.check.grade import Graded

    return Graded(student=name, verdict="fail", score=-1.0, max_score=10.0, seconds=0.5,
                  report={}, text="")


# ---- what the judge reads of a class before any sandbox runs ---------------------------------------
DEEP = "x = " + "-" * 100_000 + "1\n"  # parses to MemoryError, not SyntaxError ("too complex")


def test_a_file_too_complex_to_parse_stops_neither_the_class_nor_its_owner(tmp_path):
    import json

    from check_fixtures import submission
    from refmlp.check import find, unfinished

    alice, bob = tmp_path / "class" / "alice", tmp_path / "class" / "bob"
    submission(bob)
    submission(alice, files={"util.py": DEEP})
    nb = tmp_path / "class" / "carol" / "hw.ipynb"
    nb.parent.mkdir()
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": DEEP}]}))
    found = find.find_class(tmp_path / "class")
    assert [(s.name, s.file and s.file.name) for s in found] == \
        [("alice", "mlp.py"), ("bob", "mlp.py"), ("carol", None)], found
    assert "no submission found" in found[2].problem
    assert unfinished.unwritten(DEEP, "MLP") == []
    assert "# ---- cell 1 (does not parse)" in find.notebook_to_module(nb)[0]


def sparse(path: Path, head: str, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.write(head.encode())
        fh.truncate(size)  # a hole: no disk used, but reading it yields ``size`` bytes
    return path


def test_an_oversized_candidate_or_notebook_is_not_read_whole(tmp_path):
    import tracemalloc

    from refmlp.check import find

    size = 256 * 2**20  # a 256 MiB file, sparse: reading it whole would allocate twice that
    (tmp_path / "alice").mkdir()
    sparse(tmp_path / "alice" / "work.py", "class MLP:\n    pass\n#", size)
    sparse(tmp_path / "alice" / "hw.ipynb", '{"cells": [{"cell_type": "code", "source": "', size)
    tracemalloc.start()
    try:
        sub = find.locate_submission(tmp_path / "alice")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak} bytes allocated to look for the homework"
    assert sub.file is None and "no submission found" in sub.problem, sub


@pytest.mark.parametrize("name", ['=HYPERLINK("http://127.0.0.1/x","grade")', "+1+cmd|' /C calc'!A0",
                                  "-2+3", "@SUM(A1:A9)", "\t=1"])
def test_a_folder_named_as_a_formula_is_text_in_the_gradebook(name):
    row = list(csv.reader(io.StringIO(batch.to_csv([graded(name)]))))[1]
    # a spreadsheet reads a cell starting with = + - @ (or a tab or CR before one) as a formula:
    # the gradebook's cells of text start with a quote then, which shows the name as it is
    assert row[0] == "'" + name, row
    assert row[1] == "-1", "numbers stay numbers"


def test_a_folder_name_holding_a_line_break_cannot_add_a_row_to_the_gradebook():
    # the csv module leaves a lone CR unquoted (the lines end in LF), and spreadsheets break
    # lines at a CR: this folder would add mallory with full marks
    text = batch.to_csv([graded("x\rmallory,10,10,pass,,,0.1"), graded("y\nmallory,10,10,pass")])
    assert len(text.splitlines()) == 3, repr(text)
    assert [r[0] for r in csv.reader(io.StringIO(text))][1:] == ["x\\rmallory,10,10,pass,,,0.1",
                                                                   "y\\nmallory,10,10,pass"]


# ---- what outlives a check without being a file -----------------------------------------------------
IPC_KEYS = {"shm": 0x52464D31, "msg": 0x52464D32, "sem": 0x52464D33}  # "RFM1".. chosen for this test


def ipc_left():
    """The System V objects of IPC_KEYS still there, removed (shmctl/msgctl/semctl IPC_RMID)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    found = []
    for kind, key in IPC_KEYS.items():
        get = {"shm": lambda: libc.shmget(key, 0, 0), "msg": lambda: libc.msgget(key, 0),
               "sem": lambda: libc.semget(key, 0, 0)}[kind]
        ident = get()
        if ident >= 0:
            found.append(kind)
            {"shm": libc.shmctl, "msg": libc.msgctl, "sem": libc.semctl}[kind](ident, 0, None)
    return found


def test_no_shared_memory_queue_or_semaphore_outlives_the_check(tmp_path, isolation):
    # System V objects live until removed: a check's could hold memory after the run (a segment
    # filled, then detached) or pass a message to a later student's check
    needs(isolation, "seccomp")
    assert ipc_left() == []
    try:
        attacked(tmp_path / "sub", '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
made = []
ident = libc.shmget(P["keys"]["shm"], 2**20, 0o1600)  # IPC_CREAT | 0600, 1 MiB
if ident >= 0:
    made.append("shm")
if libc.msgget(P["keys"]["msg"], 0o1600) >= 0:
    made.append("msg")
if libc.semget(P["keys"]["sem"], 1, 0o1600) >= 0:
    made.append("sem")
fd = libc.mq_open(b"/refmlp-attack", 0o100 | 2, 0o600, None)  # O_CREAT | O_RDWR
if fd >= 0:
    made.append("mqueue")
print("made", made, ctypes.get_errno())
return bool(made)
''', keys=IPC_KEYS)
    finally:
        import ctypes

        left = ipc_left()
        had_mq = ctypes.CDLL(None).mq_unlink(b"/refmlp-attack") == 0
    assert left == [] and not had_mq


def test_a_check_writing_without_bound_is_stopped(
        tmp_path, isolation, monkeypatch):
    # on the fallback path the scratch is a folder on the judge's disk, each file capped by
    # RLIMIT_FSIZE but not their total: a check writing file after file for its whole time
    # limit (some deleted while kept open) would fill the disk, 35 checks' worth kept to the end
    import time

    from refmlp.check import runner

    monkeypatch.setattr(runner, "SCRATCH_LIMIT", 32 * 2**20)  # the test's writes stay small
    t0 = time.monotonic()
    rep = attacked(tmp_path / "sub", '''
import time
block = b"\\1" * 2**20
held, written, t0 = [], 0, time.monotonic()
while written < P["total"] and time.monotonic() - t0 < 6:  # 96 MiB at most, 6 s at most
    name = "fill-%d" % written
    fh = open(name, "wb")
    for _ in range(8):
        fh.write(block)
    written += 8 * 2**20
    if len(held) < 2:  # kept open, deleted: invisible to a walk of the folder
        os.unlink(name)
        held.append(fh)
    else:
        fh.close()
    time.sleep(0.05)
return True
''', total=96 * 2**20)
    assert time.monotonic() - t0 < 60
    assert "wrote more than 32 MiB" in rep.to_text(), rep.to_text()


# ---- what reaches the instructor's terminal ----------------------------------------------------------
# An escape sequence in a report printed to a terminal runs there: OSC 52 writes the clipboard,
# cursor moves and erases redraw the lines above (a FAIL overwritten by a PASS)
ESCAPES = "\x1b]52;c;aGVsbG8=\x07\x1b[1A\x1b[2K\rPASS \x9b2J\x08"


def test_escape_sequences_in_a_traceback_or_message_do_not_reach_the_terminal(tmp_path, isolation):
    from check_fixtures import submission
    from refmlp.check import check_submission

    sub = submission(tmp_path / "sub", extra=f"\nprint({ESCAPES!r})\nraise ValueError({ESCAPES!r})\n")
    rep = check_submission(sub, scenarios=["disc"], timeout=10)
    text = rep.to_text(verbose=True)
    assert rep.verdict != "pass" and "ValueError" in text, text
    assert not any(ch in text for ch in "\x1b\x07\x9b\x08\r"), repr(text)
    assert "ValueError: \\x1b]52;c;" in text, "the sequence is shown, harmless, to the instructor"


def test_escape_sequences_in_a_folder_name_do_not_reach_the_terminal():
    out = batch.line(graded("alice" + ESCAPES))
    assert not any(ch in out for ch in "\x1b\x07\x9b\x08\r"), repr(out)


def test_escape_sequences_in_a_file_name_do_not_reach_the_terminal(tmp_path):
    from refmlp.check import find

    for name in ("mlp.py", "a" + ESCAPES.replace("\x08", "") + "/mlp.py"):
        (tmp_path / "alice" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "alice" / name).write_text("class MLP:\n    pass\n")
    problem = find.locate_submission(tmp_path / "alice").problem
    assert "2 files named mlp.py" in problem and "\x1b" not in problem, repr(problem)


# ---- what another user of the machine leaves in /tmp ------------------------------------------------
@pytest.mark.parametrize("kind", ["fifo", "link"])
def test_a_planted_stale_folder_neither_hangs_the_judge_nor_is_followed(tmp_path, kind):
    # the judge removes /tmp/refmlp-check-* folders of dead runs, reading their judge.pid: any
    # user may plant one, with a FIFO there (opening it blocks until a writer comes) or a link
    import tempfile
    import threading

    from refmlp.check import runner

    folder = Path(tempfile.mkdtemp(prefix="refmlp-check-", dir=tempfile.gettempdir()))
    pid = folder / "judge.pid"
    target = tmp_path / "pid"
    target.write_text("999999999")  # no such process: a stale run's folder, were it followed
    (os.mkfifo(pid) if kind == "fifo" else pid.symlink_to(target))
    done = threading.Event()
    thread = threading.Thread(target=lambda: (runner.remove_stale_folders(), done.set()), daemon=True)
    try:
        thread.start()
        thread.join(10)
        assert done.is_set(), "the judge hangs on a FIFO planted in /tmp"
        assert folder.exists(), "a folder whose judge.pid is no regular file is not the judge's"
    finally:
        if kind == "fifo" and not done.is_set():  # a writer lets the blocked open return
            os.close(os.open(pid, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(10)
        pid.unlink()
        folder.rmdir()


def test_the_interpreters_own_site_packages_is_out_of_reach(tmp_path, isolation):
    # site-packages sits inside the standard library's folder (a python.org, pyenv or conda
    # Python, the python Docker images): refmlp and torch installed there, without a venv, would
    # be importable by a check that found them (and the reference called) were the folder bound.
    # The fallback path lets a check list its names (Python's imports list the stdlib's folder)
    needs(isolation, "landlock")
    attacked(tmp_path / "sub", '''
read = []
for name in ("site-packages", "dist-packages"):
    for top, dirs, files in os.walk(os.path.join(os.path.dirname(os.__file__), name)):
        for f in files[:3]:
            try:
                with open(os.path.join(top, f), "rb") as fh:
                    read.append(fh.read(64))
            except OSError as exc:
                print("refused:", f, exc)
        if len(read) or top.count(os.sep) > 12:
            break
print("read", len(read))
return bool(read)
''')


# ---- the output folder of a class run ---------------------------------------------------------------
def test_student_folders_named_as_the_runs_files_or_alike_neither_crash_nor_collide(tmp_path, capsys):
    # out/ holds the run's own seed, summary.json and index.html beside a folder per student: a
    # student folder named "seed" crashed the run once the seed was kept, and "a\\b" shared its
    # page with "a_b" (both were made "a_b"), one student's page showing the other's report
    from check_fixtures import submission
    from refmlp import cli
    from refmlp.check import pages

    names = ["seed", "summary.json", "index.html", "a_b", "a\\b", "~x", "alice"]
    folders = [pages.safe_name(n) for n in names]
    assert len(set(folders)) == len(names), folders
    assert not {"seed", "summary.json", "index.html"} & set(folders[:3])
    klass = tmp_path / "class"
    for name in ("seed", "index.html", "a_b", "a\\b"):
        submission(klass / name)
    out = tmp_path / "out"
    code = cli.main(["check", "--each", str(klass), "--scenario", "disc", "--jobs", "1",
                     "--out", str(out)])
    assert code == 0, capsys.readouterr()
    assert (out / "seed").is_file() and (out / "index.html").is_file()
    for name in ("seed", "index.html", "a_b", "a\\b"):
        folder = out / pages.safe_name(name)
        assert (folder / "report.json").is_file() and (folder / "index.html").is_file(), folder
        assert name in (folder / "index.html").read_text().replace("&#x27;", "'"), name


# ---- the scripts the judge writes for the instructor to run -----------------------------------------
def test_a_folder_name_cannot_put_code_into_the_repro_script(tmp_path):
    # --repro writes a Python script naming the submission in its docstring: a folder named
    # x""" + a line of code + """ ended the docstring there, and the instructor running the
    # script ran the student's line
    import subprocess
    import sys

    from check_fixtures import FPRIME_MISSING, submission
    from refmlp.check import check_submission
    from refmlp.check.repro import write_repro

    mark = tmp_path / "injected"
    folder = tmp_path / f'hw"""\nopen({str(mark)!r}, "w").close()\n"""\\'
    rep = check_submission(submission(folder, replace=[FPRIME_MISSING]), scenarios=["disc"],
                           timeout=10)
    script = tmp_path / "repro.py"
    assert "wrote" in write_repro(rep, script)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert not mark.exists(), "the script ran a line the folder's name held"
    assert done.returncode == 0 and "largest difference" in done.stdout, done.stderr
