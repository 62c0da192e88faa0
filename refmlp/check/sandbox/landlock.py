"""Landlock for a check's child (landlock(7)), with ctypes: read only the given trees, write only
the scratch folder, no TCP, and (ABI 6) no signals or abstract sockets out of the sandbox.

:func:`abi` probes the kernel (0 where Landlock is absent or disabled); every right the kernel's
ABI knows is handled, so anything not granted below is refused. A path that does not exist is left
out (its tree is then unreadable, not an error).
"""

import ctypes
import errno
import functools
import os

CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446  # the same numbers on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
TRUNCATE, IOCTL_DEV = 1 << 14, 1 << 15
FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
             5: (1 << 16) - 1}  # v2 adds REFER, v3 TRUNCATE, v5 IOCTL_DEV
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # what a rule on a file may hold
READ = EXECUTE | READ_FILE | READ_DIR
NET_TCP = 1 | 2  # BIND_TCP, CONNECT_TCP (ABI 4)
SCOPES = 1 | 2  # ABSTRACT_UNIX_SOCKET, SIGNAL (ABI 6)


class _Ruleset(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.lru_cache(maxsize=1)
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


@functools.lru_cache(maxsize=1)
def abi():
    """The kernel's Landlock ABI version, 0 where it has none (or it is disabled)."""
    try:
        version = _libc().syscall(ctypes.c_long(CREATE_RULESET), None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def restrict(read, write, devices=()):
    """Restrict the calling thread (and what it starts) to reading the trees in ``read``, reading
    and writing those in ``write``, and reading and writing the device files ``devices``.
    Call it single-threaded, after no_new_privs. Raises OSError if the kernel refuses a step."""
    version = abi()
    if not version:
        raise OSError(errno.ENOSYS, "Landlock is not available")
    fs = FS_BY_ABI[min(version, 5)]
    attr = _Ruleset(fs, NET_TCP if version >= 4 else 0, SCOPES if version >= 6 else 0)
    libc = _libc()
    ruleset = libc.syscall(ctypes.c_long(CREATE_RULESET), ctypes.byref(attr),
                           ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    try:
        rules = [(p, READ) for p in read] + [(p, fs) for p in write] + [
            (p, READ_FILE | WRITE_FILE | TRUNCATE) for p in devices]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = _PathBeneath(rights & fs, fd)
                if libc.syscall(ctypes.c_long(ADD_RULE), ctypes.c_int(ruleset),
                                ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                                ctypes.c_uint32(0)) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"landlock_add_rule {path}: {os.strerror(err)}")
            finally:
                os.close(fd)
        if libc.syscall(ctypes.c_long(RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"landlock_restrict_self: {os.strerror(err)}")
    finally:
        os.close(ruleset)
