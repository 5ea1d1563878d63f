"""procfs helpers: hooks, the calling process, clock ticks, host CPU times.

Linux counterpart: bits of fs/proc/base.c (proc_pid_permission, the
ptrace_may_access checks) and kernel/sched/cputime.c (task_cputime).

`hooks` hold what lives in the syscall layer, which procfs may not import;
sys_mount.py fills them in when the syscall table is loaded:

    boottime     time.monotonic() at boot (uptime, process start times)
    uname        uname() -> (sysname, nodename, release, version, machine, domain)
    rlimit       rlimit(p, resource) -> (soft, hard)
    ncpu         ncpu() -> the number of virtual CPUs
    filesystems  filesystems() -> [(fstype, nodev)] for /proc/filesystems

CPU times come from the host process behind a guest, read by the kernel
from the host's /proc; host process ids never reach the guest.
"""
import os
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import stat as S
from vkernel.kernel import kern_proc, kern_sysctl, kern_vfs
from vkernel.kernel.errors import KernelError

HZ = 100                        # USER_HZ: the unit of every time in /proc
PAGE = 4096
RLIM_INFINITY = (1 << 64) - 1

hooks = {
    "boottime": time.monotonic(),
    "uname": lambda: ("Linux", "vkernel", "6.1.0", "#1", "x86_64", "(none)"),
    "rlimit": lambda p, res: (RLIM_INFINITY, RLIM_INFINITY),
    "ncpu": lambda: 1,
    "filesystems": lambda: [("proc", True), ("tmpfs", True), ("devtmpfs", True)],
}


# -- the caller -----------------------------------------------------------------
def curthread():
    return kern_proc.curthread


def curproc():
    td = kern_proc.curthread
    return td.lwp_proc if td is not None else None


def curcred():
    p = curproc()
    return p.p_ucred if p is not None else None


def reader_root():
    """The root directory paths are shown from: the caller's, or the system's."""
    p = curproc()
    if p is not None and p.p_root is not None:
        return p.p_root
    return kern_vfs.mounts.root.root if kern_vfs.mounts is not None else None


def may_ptrace(cred, p):
    """Linux ptrace_may_access(PTRACE_MODE_READ): root, or all of p's uids.

    cred None is the kernel itself (no caller).
    """
    if cred is None or cred.uid == 0:
        return True
    pc = p.p_ucred
    return cred.uid == pc.uid == pc.ruid == pc.svuid and p.p_dumpable


def check_ptrace(cred, p):
    if not may_ptrace(cred, p):
        raise KernelError(E.EACCES)


# -- system facts -----------------------------------------------------------------
def uptime():
    return max(0.0, time.monotonic() - hooks["boottime"])


def ticks(seconds):
    return int(seconds * HZ)


def ncpu():
    try:
        return int(kern_sysctl.sysctl_get("hw.ncpu"))
    except KernelError:
        return hooks["ncpu"]()


def memlimit():
    """The MemoryLimit all guest address spaces share (-m), or None."""
    for p in list(kern_proc.allproc.values()):
        vm = p.p_vmspace
        if vm is not None and getattr(vm, "limit", None) is not None:
            return vm.limit
    return None


# -- the host process behind a guest ---------------------------------------------
def _host_ids(p, td=None):
    """(host tgid, host tid or None) of p's host process, or None."""
    vm = p.p_vmspace
    tgid = getattr(getattr(vm, "space", None), "tgid", None)
    if tgid is None:
        return None
    tid = getattr(getattr(td, "host", None), "tid", None) if td is not None else None
    return tgid, tid


def _host_read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def host_stat(p, td=None):
    """The fields after "(comm)" of the host's stat of p (or thread td)."""
    ids = _host_ids(p, td)
    if ids is None or p.p_stat == "SZOMB":
        return None
    tgid, tid = ids
    path = f"/proc/{tgid}/task/{tid}/stat" if tid else f"/proc/{tgid}/stat"
    data = _host_read(path)
    if not data:
        return None
    return data.rsplit(b")", 1)[-1].split()


def cpu_times(p, td=None):
    """(user, system) seconds used by p (or its thread td)."""
    f = host_stat(p, td)
    if f is None or len(f) < 13:
        return p.p_ru_utime, p.p_ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    return int(f[11]) / tick, int(f[12]) / tick


def rss_pages(p):
    """Resident pages of p's host process (0 when gone)."""
    ids = _host_ids(p)
    if ids is None or p.p_stat == "SZOMB":
        return 0
    data = _host_read(f"/proc/{ids[0]}/statm")
    try:
        return int(data.split()[1]) if data else 0
    except (IndexError, ValueError):
        return 0


def tty_nr(rdev):
    """Linux's encoding of a device number in /proc/PID/stat (new_encode_dev)."""
    major, minor = S.major(rdev), S.minor(rdev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)
