"""Descriptor syscalls: close, close_range, dup, dup2, dup3, fcntl, flock.

BSD counterpart: sys/kern/kern_descrip.c (the table itself is in
vkernel.kernel.kern_descrip).
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import FD, I32, NR, U32, U64, syscall

SETFL_MASK = F.O_APPEND | F.O_NONBLOCK | F.O_ASYNC | F.O_DIRECT | F.O_NOATIME
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032
F_ADD_SEALS, F_GET_SEALS = 1033, 1034


def _fdp(td):
    return td.lwp_proc.p_fd


@syscall(NR.close, FD)
def sys_close(td, fd):
    """Implements Linux close(2)."""
    _fdp(td).close(fd)
    return 0


@syscall(NR.close_range, U32, U32, U32)
def sys_close_range(td, first, last, flags):
    """Implements Linux close_range(2) (CLOSE_RANGE_CLOEXEC = 4)."""
    if first > last or flags & ~6:
        raise KernelError(E.EINVAL)
    fdp = _fdp(td)
    for fd in [fd for fd in fdp.files if first <= fd <= last]:
        if flags & 4:
            fdp.cloexec.add(fd)
        else:
            fdp.close(fd)
    return 0


@syscall(NR.dup, FD)
def sys_dup(td, fd):
    """Implements Linux dup(2)."""
    fdp = _fdp(td)
    return fdp.alloc(fdp.get(fd).hold())


def kern_dup3(td, old, new, cloexec):
    fdp = _fdp(td)
    fp = fdp.get(old)
    if new < 0 or new >= fdp.limit:
        raise KernelError(E.EBADF)
    fdp.install(new, fp.hold(), cloexec)
    return new


@syscall(NR.dup2, FD, FD)
def sys_dup2(td, old, new):
    """Implements Linux dup2(2)."""
    if old == new:
        _fdp(td).get(old)
        return new
    return kern_dup3(td, old, new, False)


@syscall(NR.dup3, FD, FD, I32)
def sys_dup3(td, old, new, flags):
    """Implements Linux dup3(2)."""
    if old == new or flags & ~F.O_CLOEXEC:
        raise KernelError(E.EINVAL)
    return kern_dup3(td, old, new, bool(flags & F.O_CLOEXEC))


def _dupfd(td, fd, start, cloexec):
    fdp = _fdp(td)
    fp = fdp.get(fd)
    if start < 0 or start >= fdp.limit:
        raise KernelError(E.EINVAL)
    return fdp.alloc(fp.hold(), cloexec, start)


def _lock(td, fp, cmd, arg):
    """Record locks: report every range unlocked; setting succeeds (single host)."""
    if cmd in (F.F_GETLK, F.F_OFD_GETLK):
        data = bytearray(copyin(td, arg, 32))
        struct.pack_into("<h", data, 0, 2)          # F_UNLCK
        copyout(td, arg, bytes(data))
    return 0


@syscall(NR.fcntl, FD, I32, U64)
def sys_fcntl(td, fd, cmd, arg):
    """Implements Linux fcntl(2)."""
    fdp = _fdp(td)
    fp = fdp.get(fd)
    if cmd in (F.F_DUPFD, F.F_DUPFD_CLOEXEC):
        return _dupfd(td, fd, arg & 0xFFFFFFFF, cmd == F.F_DUPFD_CLOEXEC)
    if cmd == F.F_GETFD:
        return F.FD_CLOEXEC if fd in fdp.cloexec else 0
    if cmd == F.F_SETFD:
        (fdp.cloexec.add if arg & F.FD_CLOEXEC else fdp.cloexec.discard)(fd)
        return 0
    if cmd == F.F_GETFL:
        return fp.flags & ~F.O_CLOEXEC
    if cmd == F.F_SETFL:
        fp.flags = (fp.flags & ~SETFL_MASK) | (arg & SETFL_MASK)
        return 0
    if cmd in (F.F_GETLK, F.F_SETLK, F.F_SETLKW, F.F_OFD_GETLK, F.F_OFD_SETLK,
               F.F_OFD_SETLKW):
        return _lock(td, fp, cmd, arg)
    if cmd in (F.F_GETOWN, F.F_SETOWN, F.F_SETSIG, F.F_GETSIG):
        return 0
    if cmd == F_GETPIPE_SZ and fp.ops.kind == "pipe":
        return 65536
    if cmd == F_SETPIPE_SZ and fp.ops.kind == "pipe":
        return max(arg, 65536)
    if cmd in (F_ADD_SEALS, F_GET_SEALS):
        return fp.ops.seals(td, fp, cmd, arg) if hasattr(fp.ops, "seals") else -E.EINVAL
    raise KernelError(E.EINVAL)


@syscall(NR.flock, FD, I32)
def sys_flock(td, fd, op):
    """Implements Linux flock(2) (advisory; always granted in one vkernel)."""
    _fdp(td).get(fd)
    return 0
