"""System information: uname, sysinfo, getrandom, scheduling queries, syslog.

Linux counterparts: kernel/sys.c, drivers/char/random.c, kernel/sched/core.c,
kernel/printk (syslog(2) reads the kernel message buffer).
"""
import math
import os
import struct
import time

import vkernel
from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_proc, msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import I32, NR, PTR, U32, U64, syscall

from .sys_time import BOOT_TIME

HOSTNAME = ["vkernel"]
DOMAINNAME = ["(none)"]
RELEASE = "6.1.0-vkernel"


def uname_fields():
    return ("Linux", HOSTNAME[0], RELEASE,
            f"#1 vkernel {vkernel.__version__} (Python virtual kernel)", "x86_64",
            DOMAINNAME[0])


@syscall(NR.uname, PTR)
def sys_uname(td, buf):
    """Implements Linux uname(2): a Linux identity with vkernel in the version."""
    data = b"".join(f.encode()[:64].ljust(65, b"\0") for f in uname_fields())
    copyout(td, buf, data)
    return 0


def _setname(td, which, name, n):
    if td.lwp_proc.p_ucred.uid != 0:
        raise KernelError(E.EPERM)
    if not 0 <= n <= 64:
        raise KernelError(E.EINVAL)
    which[0] = copyin(td, name, n).decode("utf-8", "replace") if n else ""
    return 0


@syscall(NR.sethostname, PTR, I32)
def sys_sethostname(td, name, n):
    """Implements Linux sethostname(2)."""
    return _setname(td, HOSTNAME, name, n)


@syscall(NR.setdomainname, PTR, I32)
def sys_setdomainname(td, name, n):
    """Implements Linux setdomainname(2)."""
    return _setname(td, DOMAINNAME, name, n)


@syscall(NR.sysinfo, PTR)
def sys_sysinfo(td, info):
    """Implements Linux sysinfo(2)."""
    limit = td.lwp_proc.p_vmspace.limit
    la = [int(x * 65536) for x in os.getloadavg()]
    free = max(0, limit.limit - limit.committed)
    data = struct.pack("<q3Q6QH6xQQI", math.ceil(time.monotonic() - BOOT_TIME), *la,
                       limit.limit, free, 0, 0, 0, 0, min(kern_proc.nprocs(), 65535), 0, 0, 1)
    copyout(td, info, data.ljust(112, b"\0"))
    return 0


@syscall(NR.getrandom, PTR, U64, U32)
def sys_getrandom(td, buf, n, flags):
    """Implements Linux getrandom(2)."""
    if flags & ~7:
        raise KernelError(E.EINVAL)
    n = min(n, 1 << 25)
    copyout(td, buf, os.urandom(n))
    return n


@syscall(NR.sched_yield)
def sys_sched_yield(td):
    """Implements Linux sched_yield(2)."""
    return 0


@syscall(NR.sched_getaffinity, I32, U32, PTR)
def sys_sched_getaffinity(td, pid, size, mask):
    """Implements Linux sched_getaffinity(2): the virtual CPUs."""
    if size < 8 or size % 8:
        raise KernelError(E.EINVAL)
    ncpu = NCPUS[0]
    copyout(td, mask, struct.pack("<Q", (1 << ncpu) - 1))
    return 8


@syscall(NR.sched_setaffinity, I32, U32, PTR)
def sys_sched_setaffinity(td, pid, size, mask):
    """Implements Linux sched_setaffinity(2) (accepted; placement is the kernel's)."""
    return 0


@syscall(NR.getcpu, PTR, PTR, PTR)
def sys_getcpu(td, cpu, node, cache):
    """Implements Linux getcpu(2)."""
    for addr in (cpu, node):
        if addr:
            copyout(td, addr, struct.pack("<I", td.lwp_cpu if addr == cpu else 0))
    return 0


@syscall(NR.sched_getscheduler, I32)
def sys_sched_getscheduler(td, pid):
    """Implements Linux sched_getscheduler(2): SCHED_OTHER."""
    return 0


@syscall(NR.sched_getparam, I32, PTR)
def sys_sched_getparam(td, pid, param):
    """Implements Linux sched_getparam(2)."""
    copyout(td, param, bytes(4))
    return 0


@syscall(NR.getpriority, I32, I32)
def sys_getpriority(td, which, who):
    """Implements Linux getpriority(2) (returns 20 - nice)."""
    return 20 - td.lwp_proc.p_nice


@syscall(NR.setpriority, I32, I32, I32)
def sys_setpriority(td, which, who, prio):
    """Implements Linux setpriority(2) for the calling process."""
    td.lwp_proc.p_nice = max(-20, min(19, prio))
    return 0


NCPUS = [1]
SYSLOG_READ_ALL, SYSLOG_READ_CLEAR, SYSLOG_CLEAR, SYSLOG_SIZE_BUFFER = 3, 4, 5, 10


@syscall(NR.syslog, I32, PTR, I32)
def sys_syslog(td, cmd, buf, n):
    """Implements Linux syslog(2): read the kernel message buffer (dmesg)."""
    if cmd in (SYSLOG_READ_ALL, SYSLOG_READ_CLEAR):
        data = msgbuf.contents().encode()[-n:] if n > 0 else b""
        copyout(td, buf, data)
        if cmd == SYSLOG_READ_CLEAR:
            msgbuf.clear()
        return len(data)
    if cmd == SYSLOG_CLEAR:
        msgbuf.clear()
        return 0
    if cmd == SYSLOG_SIZE_BUFFER:
        return msgbuf.MSGBUF_SIZE
    if cmd in (0, 1, 6, 7, 8):
        return 0
    raise KernelError(E.EINVAL)


@syscall(NR.rseq, PTR, U32, I32, U32, level="unsupported")
def sys_rseq(td, rseq, length, flags, sig):
    """Implements Linux rseq(2) as ENOSYS: restartable sequences are not
    supported; glibc and others fall back silently, so this is not logged."""
    return -E.ENOSYS
