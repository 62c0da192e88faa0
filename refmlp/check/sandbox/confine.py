"""The worker's confinement on Linux: namespaces and a fresh root, then per check Landlock and
seccomp. Numpy-free and refmlp-free: the judge imports it to choose the mode, the worker to apply it.

Three modes (REFMLP_ISOLATION forces one; by default the strongest this machine allows):

``namespaces``
    Before any student code the worker forks into new user, mount, PID, network, IPC and UTS
    namespaces (:func:`enter_namespaces`). Its PID 1 there builds a root of its own, read-only,
    holding only the Python standard library, numpy (and numpy.libs), the sandbox's own folder,
    an adapter file when there is one, /dev/null, /dev/zero, /dev/urandom and /proc of the new PID
    namespace, at the same paths as outside; the scratch is a tmpfs of SCRATCH_SIZE bytes. No
    network interface is up. PID 1's exit kills every process left in the namespace. Run as root,
    the checks run as uid/gid NOBODY (root inside the namespace maps to root only while PID 1
    builds the root, then drops to NOBODY); run as a user, they keep that user's uid, without any
    capability.
``fallback``
    Where user namespaces are refused: no new root, the per-check locks below alone, and run as
    root a switch to NOBODY when the Python installation is readable by it (else uid 0 without
    any capability, said in the mode's description).
``none``
    No OS isolation (not Linux, or neither user namespaces nor Landlock nor seccomp): the process
    sandbox of processes.py only.

Per check, in both Linux modes (:func:`lock_check`): every inherited descriptor but the check's
own closed (by processes.py), the bounding, ambient and own capability sets emptied,
no_new_privs, RLIMIT_NPROC (namespaces: the uid's processes are counted in the user namespace),
Landlock (landlock.py: read the trees above, write the scratch) and seccomp last (seccomp.py).
"""

import ctypes
import errno
import functools
import os
import signal
import sys
import warnings

from . import landlock, seccomp

MODES = ("namespaces", "fallback", "none")
ENV = "REFMLP_ISOLATION"
NOBODY = 65534
SCRATCH_SIZE = 256 * 2**20  # every check's copy of the submission plus what it writes (64 MiB a file)
NPROC = 64  # processes and threads of the sandbox's uid: the worker, two checks and their threads
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom")

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
ST_RELATIME = 4096
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}  # glibc has no wrapper; elsewhere, no namespace path


class ConfinementError(OSError):
    """A step of the confinement failed: the worker stops rather than run a check unconfined."""


@functools.lru_cache(maxsize=1)
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise ConfinementError(err, f"{what}: {os.strerror(err)}")


def prctl(option, value, arg3=0):
    return _libc().prctl(option, ctypes.c_ulong(value), ctypes.c_ulong(arg3), 0, 0)


# ---- which mode ----------------------------------------------------------------------------------
def namespaces_work():
    """Whether this process may create the namespaces and mount in them (tried in a throwaway
    child: a kernel may let unshare succeed yet deny the capabilities inside, as AppArmor's
    restriction of unprivileged user namespaces does)."""
    if not sys.platform.startswith("linux") or seccomp.machine() not in PIVOT_ROOT:
        return False
    libc = _libc()  # loaded before the fork: the judge has threads (torch's), the child must not dlopen
    maps = [("setgroups", b"deny"), ("uid_map", f"0 {os.geteuid()} 1".encode()),
            ("gid_map", f"0 {os.getegid()} 1".encode())]
    with warnings.catch_warnings():  # 3.12 warns of fork with threads: this child only calls libc
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            if libc.unshare(NAMESPACES) != 0:
                os._exit(1)
            for name, text in maps:
                fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
                os.write(fd, text)
                os.close(fd)
            ok = (libc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None) == 0
                  and libc.mount(b"tmpfs", b"/tmp", b"tmpfs", ctypes.c_ulong(0), b"size=64k") == 0)
            os._exit(0 if ok else 1)
        finally:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def locks():
    """The per-check locks this kernel offers, e.g. ["landlock 7", "seccomp x86_64"]."""
    if not sys.platform.startswith("linux"):
        return []
    found = []
    if landlock.abi():
        found.append(f"landlock {landlock.abi()}")
    if seccomp.supported():
        found.append(f"seccomp {seccomp.machine()}")
    return found


@functools.lru_cache(maxsize=1)
def available():
    """The modes this machine allows, strongest first (probed once per process)."""
    found = ["namespaces"] if namespaces_work() else []
    if locks():  # without Landlock or seccomp the fallback would add nothing to the process sandbox
        found.append("fallback")
    return found + ["none"]


def choose(requested=None):
    """(mode, description): ``requested`` (else $REFMLP_ISOLATION, else the strongest available).
    A mode forced but not available is a ValueError naming what is."""
    requested = requested or os.environ.get(ENV) or None
    if requested is not None and requested not in MODES:
        raise ValueError(f"{ENV}={requested!r}: expected one of {', '.join(MODES)}")
    found = available()
    if requested is not None and requested not in found:
        raise ValueError(f"isolation {requested!r} is not available on this machine "
                         f"(available: {', '.join(found)})")
    mode = requested or found[0]
    return mode, describe(mode)


@functools.lru_cache(maxsize=1)
def uid_switch_blocker():
    """Why a root fallback cannot run the checks as NOBODY (a path of the Python installation it
    could not read, or no such uid in this user namespace), or None."""
    if not _nobody_mapped():
        return f"uid {NOBODY} is not mapped in this user namespace"
    for path in read_trees():
        p = os.path.abspath(path)
        while True:
            try:
                st = os.stat(p)
            except OSError:
                break
            if not st.st_mode & 0o001 or (p == os.path.abspath(path) and not st.st_mode & 0o004):
                return f"{p} is not readable by other users"
            if p == os.path.dirname(p):
                break
            p = os.path.dirname(p)
    return None


def describe(mode):
    """The line a report shows: the mode and what it is made of."""
    if mode == "none":
        return "none"
    parts = locks()
    if mode == "namespaces":
        parts = ["user, mount, pid, net, ipc and uts namespaces, a read-only root"] + parts
        if os.geteuid() == 0 and _nobody_mapped():
            parts.append(f"uid {NOBODY}")
    elif os.geteuid() == 0:
        why = uid_switch_blocker()
        parts.append(f"uid {NOBODY}" if why is None else f"uid 0 without capabilities ({why})")
    return f"{mode}: " + ", ".join(parts)


# ---- what a check may read ------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def read_trees(adapter=None):
    """The folders and files a check may read: the standard library (and lib-dynload), numpy and
    its bundled libraries, this sandbox's folder, and the adapter file. Cached: the worker asks
    first (:func:`prepare`), and its checks' children inherit the answer."""
    # the interpreter's own library, its extension modules and zip, nothing else of sys.path (a
    # venv's lib/, or a system Python's dist-packages, would bring other packages along)
    found = [os.path.dirname(os.__file__)]
    found += [p for p in sys.path if os.path.basename(p) == "lib-dynload" or p.endswith(".zip")]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        here = os.path.dirname(os.path.realpath(numpy.__file__))
        found += [here, here + ".libs", os.path.join(here, ".libs")]
    found.append(os.path.dirname(os.path.abspath(__file__)))
    if adapter:
        found.append(os.path.abspath(adapter))
    out = []
    for p in found:
        p = os.path.realpath(p)
        if os.path.exists(p) and p not in out and not any(p.startswith(q + os.sep) for q in out):
            out.append(p)
    return tuple(out)


def prepare(adapter=None):
    """Work out, once in the worker, what every check's :func:`lock_check` needs (each check's
    child would otherwise spend ~10 ms on it)."""
    read_trees(adapter)
    uid_switch_blocker()
    landlock.abi()
    seccomp.supported()
    for libc in (_libc(), landlock._libc(), seccomp._libc()):  # ctypes looks each function up once
        libc.prctl, libc.capset, libc.syscall


# ---- namespaces -------------------------------------------------------------------------------------
def enter_namespaces(root_dir, scratch, adapter=None):
    """Fork into the new namespaces and return there as PID 1, in the new root, with the rest of the
    worker to run; the process that called it waits and exits with PID 1's status, never returning.
    ``root_dir`` is an empty folder to build the root on, ``scratch`` the path the scratch tmpfs
    takes (the same inside as outside)."""
    trees = read_trees(adapter)
    go_r, go_w = os.pipe()
    ack_r, ack_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.close(ack_r)
        try:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if _libc().unshare(NAMESPACES) != 0:
                os.write(ack_w, f"unshare: {os.strerror(ctypes.get_errno())}".encode())
                os._exit(1)
            os.write(ack_w, b"ok")
            os.close(ack_w)
            if os.read(go_r, 2) != b"ok":
                os._exit(1)
            os.close(go_r)
            pid1 = os.fork()  # the first child in the new PID namespace is its PID 1
            if pid1 == 0:
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
                _build_root(root_dir, scratch, trees)
                return
            os._exit(_exit_code(os.waitpid(pid1, 0)[1]))
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(1)
    os.close(go_r)
    os.close(ack_w)
    said = os.read(ack_r, 512)
    os.close(ack_r)
    if said != b"ok":
        os.waitpid(pid, 0)
        raise ConfinementError(errno.EPERM, said.decode(errors="replace") or "the namespace child died")
    _write_maps(pid)
    os.write(go_w, b"ok")
    os.close(go_w)
    os._exit(_exit_code(os.waitpid(pid, 0)[1]))


def _exit_code(status):
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _write_maps(pid):
    """Root inside maps to this process's uid; run as root (and NOBODY a uid here), NOBODY is
    mapped too, for the checks."""
    uid, gid = os.geteuid(), os.getegid()
    if uid == 0 and _nobody_mapped():
        uids, gids = f"0 0 1\n{NOBODY} {NOBODY} 1\n", f"0 0 1\n{NOBODY} {NOBODY} 1\n"
    else:
        with open(f"/proc/{pid}/setgroups", "w") as fh:
            fh.write("deny")
        uids, gids = f"0 {uid} 1\n", f"0 {gid} 1\n"
    for name, text in (("uid_map", uids), ("gid_map", gids)):
        with open(f"/proc/{pid}/{name}", "w") as fh:
            fh.write(text)


def _mount(source, target, fstype, flags, data=None):
    _check(_libc().mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                         ctypes.c_ulong(flags), data and data.encode()),
           f"mount {source or fstype} on {target}")


def _locked_flags(path):
    """The flags of the mount holding ``path`` that a remount in a user namespace must keep."""
    f = os.statvfs(path).f_flag
    flags = f & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    return flags | (MS_RELATIME if f & ST_RELATIME else 0)


def _bind(source, root, writable=False):
    target = root + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND)
    if not writable:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(source))


def _build_root(root, scratch, trees):
    """As PID 1 of the new namespaces: the new root on ``root``, pivoted into; then NOBODY."""
    libc = _libc()
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    for tree in trees:
        _bind(tree, root)
    for dev in DEVICES:
        if os.path.exists(dev):  # a minimal container may lack one: the checks then lack it too
            _bind(dev, root, writable=True)
    os.makedirs(root + scratch)
    owner = NOBODY if _nobody_mapped() else 0
    _mount("tmpfs", root + scratch, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={SCRATCH_SIZE},mode=0700,uid={owner},gid={owner}")
    os.makedirs(root + "/proc")
    try:
        _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except ConfinementError:
        pass  # a host /proc with masked parts (a container's) forbids it: no /proc inside then
    os.chdir(root)
    _check(libc.syscall(ctypes.c_long(PIVOT_ROOT[seccomp.machine()]), b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detaching the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    libc.sethostname(b"refmlp-sandbox", 14)
    if owner == NOBODY:
        _drop_bounding_set()
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    prctl(PR_SET_DUMPABLE, 0)  # no /proc/1/mem for the checks, whatever their capabilities


def _nobody_mapped():
    """Whether NOBODY is a uid of this process's user namespace (of the initial one: always)."""
    try:
        with open("/proc/self/uid_map") as fh:
            ranges = [[int(n) for n in line.split()] for line in fh if line.strip()]
    except OSError:
        return False
    return any(first <= NOBODY < first + count for first, _, count in ranges)


def in_namespaces():
    return os.getpid() == 1


def _drop_bounding_set():
    for cap in range(64):  # up to CAP_LAST_CAP; EINVAL past it, EPERM without CAP_SETPCAP
        if prctl(PR_CAPBSET_DROP, cap) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


# ---- per check ---------------------------------------------------------------------------------------
def drop_privileges(scratch, switch_uid):
    """Empty the bounding, ambient and own capability sets; run as root, first become NOBODY
    (``switch_uid``) with ``scratch`` handed over to it."""
    libc = _libc()
    _drop_bounding_set()
    if switch_uid:
        for top, dirs, files in os.walk(scratch):
            for name in [top] + [os.path.join(top, n) for n in dirs + files]:
                os.chown(name, NOBODY, NOBODY)
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words: all empty
    _check(libc.capset(header, data), "capset")


def lock_check(mode, scratch, adapter=None):
    """Confine the calling check's child before it imports the submission (``mode`` being
    namespaces or fallback): capabilities, no_new_privs, RLIMIT_NPROC, Landlock, seccomp."""
    import resource

    root = os.geteuid() == 0
    drop_privileges(scratch, switch_uid=mode == "fallback" and root and uid_switch_blocker() is None)
    _check(prctl(PR_SET_NO_NEW_PRIVS, 1), "no_new_privs")
    if mode == "namespaces":
        resource.setrlimit(resource.RLIMIT_NPROC, (NPROC, NPROC))
    if landlock.abi():
        landlock.restrict(read_trees(adapter), [scratch], DEVICES)
    if seccomp.supported():
        seccomp.install(os.getpid())
