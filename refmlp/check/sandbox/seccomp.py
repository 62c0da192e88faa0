"""A seccomp filter for a check's child, written as classic BPF with ctypes (seccomp(2)).

What the filter refuses (errno EPERM, so the submission sees a PermissionError it can read):

- tracing and reading other processes: ptrace, process_vm_readv/writev, process_madvise, kcmp,
  pidfd_open/getfd/send_signal;
- the network and local sockets: socket, socketpair, connect, bind, listen, accept(4);
- the file system's shape and namespaces: mount and the new mount API, umount2, pivot_root,
  chroot, unshare, setns; open_by_handle_at (reaches files by handle, around every path check);
- new processes and programs: fork, vfork, execve(at), and clone without CLONE_THREAD or with a
  namespace flag (threads stay possible: OpenBLAS starts them); clone3 answers ENOSYS, which makes
  glibc fall back to clone, where the flags can be read (clone3 passes them in memory);
- signals to anyone but itself: kill, tgkill, rt_sigqueueinfo and rt_tgsigqueueinfo only with the
  process's own pid, tkill never (glibc signals through tgkill);
- kernel facilities that have no place in a check and a history of holes: bpf, perf_event_open,
  userfaultfd, keyctl, add_key, request_key and io_uring (whose operations bypass this filter).

The filter first checks the architecture: a system call made in another ABI (x86_64's 32-bit
x32 numbers, or an architecture the table does not know) kills the process. Supported:
x86_64 and aarch64; elsewhere :func:`supported` is False and no filter is installed.
"""

import ctypes
import errno
import functools
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6] (little-endian on both tables)
NR, ARCH, ARG0 = 0, 4, 16
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
# classic BPF: ld [k]; jeq/jset #k, jt, jf; ret #k
LD_ABS, JEQ, JSET, JGE, RET = 0x20, 0x15, 0x45, 0x35, 0x06
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_THREAD = 0x00010000
CLONE_NAMESPACES = 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 \
    | 0x00020000 | 0x00000080  # cgroup, uts, ipc, user, pid, net, mount, time

# <asm/unistd_64.h> and <asm-generic/unistd.h>: aarch64 has no fork or vfork (glibc uses clone)
SYSCALLS = {
    "x86_64": dict(
        ptrace=101, process_vm_readv=310, process_vm_writev=311, process_madvise=440, kcmp=312,
        pidfd_open=434, pidfd_getfd=438, pidfd_send_signal=424, socket=41, socketpair=53,
        connect=42, bind=49, listen=50, accept=43, accept4=288, mount=165, umount2=166,
        pivot_root=155, chroot=161, unshare=272, setns=308, open_tree=428, move_mount=429,
        fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
        open_by_handle_at=304, fork=57, vfork=58, execve=59, execveat=322, tkill=200, bpf=321,
        perf_event_open=298, userfaultfd=323, keyctl=250, add_key=248, request_key=249,
        io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        clone=56, clone3=435, kill=62, tgkill=234, rt_sigqueueinfo=129, rt_tgsigqueueinfo=297),
    "aarch64": dict(
        ptrace=117, process_vm_readv=270, process_vm_writev=271, process_madvise=440, kcmp=272,
        pidfd_open=434, pidfd_getfd=438, pidfd_send_signal=424, socket=198, socketpair=199,
        connect=203, bind=200, listen=201, accept=202, accept4=242, mount=40, umount2=39,
        pivot_root=41, chroot=51, unshare=97, setns=268, open_tree=428, move_mount=429,
        fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
        open_by_handle_at=265, execve=221, execveat=281, tkill=130, bpf=280,
        perf_event_open=241, userfaultfd=282, keyctl=219, add_key=217, request_key=218,
        io_uring_setup=425, io_uring_enter=426, io_uring_register=427,
        clone=220, clone3=435, kill=129, tgkill=131, rt_sigqueueinfo=138, rt_tgsigqueueinfo=240),
}
SECCOMP = {"x86_64": 317, "aarch64": 277}  # the call that installs the filter
SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")  # allowed to its own pid only
JUDGED = ("clone", "clone3") + SIGNALS  # by their arguments; every other name is refused


def machine():
    return platform.machine().lower().replace("arm64", "aarch64").replace("amd64", "x86_64")


@functools.lru_cache(maxsize=1)
def supported():
    """True where this module has a table for the machine and the kernel has seccomp filters."""
    if machine() not in SYSCALLS:
        return False
    try:
        return _libc().prctl(21, 0, 0, 0, 0) >= 0  # PR_GET_SECCOMP: EINVAL without CONFIG_SECCOMP
    except (OSError, AttributeError):
        return False


@functools.lru_cache(maxsize=1)
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _insn(code, k, jt=0, jf=0):
    return struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF)


def program(pid, arch=None):
    """The filter's instructions (bytes of struct sock_filter) for a process whose pid is
    ``pid``: every branch ends in its own return, so no jump goes further than a few lines."""
    arch = arch or machine()
    table = SYSCALLS[arch]
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    code = [_insn(LD_ABS, ARCH), _insn(JEQ, AUDIT_ARCH[arch], 1, 0), _insn(RET, RET_KILL_PROCESS),
            _insn(LD_ABS, NR)]
    if arch == "x86_64":
        code += [_insn(JGE, X32_SYSCALL_BIT, 0, 1), _insn(RET, RET_KILL_PROCESS)]

    def when(nr, block):  # if nr == A: block (which returns); A still holds nr after it
        return [_insn(JEQ, nr, 0, len(block))] + block

    for name, nr in table.items():
        if name not in JUDGED:
            code += when(nr, [_insn(RET, eperm)])
    code += when(table["clone3"], [_insn(RET, enosys)])
    code += when(table["clone"], [
        _insn(LD_ABS, ARG0), _insn(JSET, CLONE_NAMESPACES, 2, 0), _insn(JSET, CLONE_THREAD, 0, 1),
        _insn(RET, RET_ALLOW), _insn(RET, eperm)])
    for name in SIGNALS:
        code += when(table[name], [
            _insn(LD_ABS, ARG0), _insn(JEQ, pid, 0, 1), _insn(RET, RET_ALLOW), _insn(RET, eperm)])
    return b"".join(code) + _insn(RET, RET_ALLOW)


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(pid):
    """Install the filter on the calling process (all its threads); needs no_new_privs set.
    Raises OSError when the kernel refuses it: a check must never run believing it is filtered."""
    code = program(pid)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = _libc()
    nr = SECCOMP[machine()]
    if libc.syscall(ctypes.c_long(nr), ctypes.c_ulong(SECCOMP_SET_MODE_FILTER),
                    ctypes.c_ulong(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(prog)) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.ENOSYS:  # kernels before 3.17 have the prctl only (no thread sync)
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0:
            return
        err = ctypes.get_errno()
    raise OSError(err, f"seccomp filter refused: {errno.errorcode.get(err, err)}")
