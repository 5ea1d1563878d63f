"""Event descriptors: eventfd, timerfd, signalfd and memfd_create.

Linux counterparts: fs/eventfd.c, fs/timerfd.c, fs/signalfd.c and
mm/memfd.c.  The file objects are in vkernel.kernel.kern_event; a memfd is
a memfs file (vkernel.fs.memfs.memfd_create) opened as a VnodeFileOps that
also answers F_ADD_SEALS / F_GET_SEALS; like every memfs file its data
moves into a host memfd when first mapped, so MAP_SHARED is coherent.
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import time as T
from vkernel.abi.linux.eventfd import EFD_FLAGS_SET, EFD_SEMAPHORE
from vkernel.fs.memfs import memfd_create
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import File
from vkernel.kernel.kern_event import TIMERFD_CLOCKS, EventFd, SignalFd, TimerFd
from vkernel.kernel.usercopy import copyin, copyinstr_bytes, copyout
from vkernel.syscalls.table import FD, I32, NR, PTR, U32, U64, syscall
from vkernel.vfs.vfs_vnops import VnodeFileOps

# memfd_create(2) flags and file seals (include/uapi/linux/memfd.h, fcntl.h)
MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_HUGETLB = 0x1, 0x2, 0x4
MFD_NOEXEC_SEAL, MFD_EXEC = 0x8, 0x10
MFD_NAME_MAX = 249                        # NAME_MAX - strlen("memfd:")
F_SEAL_SEAL, F_SEAL_EXEC = 0x1, 0x20     # the others are enforced by memfs_data.py
SEALS_ALL = 0x3F


def install_anon(td, ops, name, flags):
    """Install an anonymous file (anon_inode_getfd); O_NONBLOCK/O_CLOEXEC from flags."""
    fp = File(ops, F.O_RDWR | (flags & F.O_NONBLOCK), f"anon_inode:[{name}]")
    try:
        return td.lwp_proc.p_fd.alloc(fp, bool(flags & F.O_CLOEXEC))
    except KernelError:
        fp.drop()
        raise


def _ops_of(td, fd, cls):
    fp = td.lwp_proc.p_fd.get(fd)
    if not isinstance(fp.ops, cls):
        raise KernelError(E.EINVAL)
    return fp.ops


# -- eventfd ----------------------------------------------------------------------------
@syscall(NR.eventfd2, U32, I32)
def sys_eventfd2(td, initval, flags):
    """Implements Linux eventfd2(2)."""
    if flags & ~EFD_FLAGS_SET:
        raise KernelError(E.EINVAL)
    return install_anon(td, EventFd(initval, bool(flags & EFD_SEMAPHORE)), "eventfd", flags)


@syscall(NR.eventfd, U32)
def sys_eventfd(td, initval):
    """Implements Linux eventfd(2)."""
    return sys_eventfd2(td, initval, 0)


# -- timerfd ----------------------------------------------------------------------------
@syscall(NR.timerfd_create, I32, I32)
def sys_timerfd_create(td, clockid, flags):
    """Implements Linux timerfd_create(2)."""
    if flags & ~(T.TFD_CLOEXEC | T.TFD_NONBLOCK) or clockid not in TIMERFD_CLOCKS:
        raise KernelError(E.EINVAL)
    return install_anon(td, TimerFd(clockid), "timerfd", flags)


def _itimerspec_ns(td, addr):
    (isec, insec), (vsec, vnsec) = T.unpack_itimerspec(copyin(td, addr, T.ITIMERSPEC.size))
    if not (T.timespec_valid(isec, insec) and T.timespec_valid(vsec, vnsec)):
        raise KernelError(E.EINVAL)
    return T.timespec_to_ns(vsec, vnsec), T.timespec_to_ns(isec, insec)


def _out_itimerspec(td, addr, value_ns, interval_ns):
    copyout(td, addr, T.pack_itimerspec(T.ns_to_timespec(interval_ns),
                                        T.ns_to_timespec(value_ns)))


@syscall(NR.timerfd_settime, FD, I32, PTR, PTR)
def sys_timerfd_settime(td, fd, flags, new, old):
    """Implements Linux timerfd_settime(2) (CANCEL_ON_SET is accepted, never fires)."""
    if flags & ~(T.TFD_TIMER_ABSTIME | T.TFD_TIMER_CANCEL_ON_SET):
        raise KernelError(E.EINVAL)
    value_ns, interval_ns = _itimerspec_ns(td, new)
    tfd = _ops_of(td, fd, TimerFd)
    prev = tfd.settime(value_ns, interval_ns, bool(flags & T.TFD_TIMER_ABSTIME))
    if old:
        _out_itimerspec(td, old, *prev)
    return 0


@syscall(NR.timerfd_gettime, FD, PTR)
def sys_timerfd_gettime(td, fd, cur):
    """Implements Linux timerfd_gettime(2)."""
    _out_itimerspec(td, cur, *_ops_of(td, fd, TimerFd).gettime())
    return 0


# -- signalfd ---------------------------------------------------------------------------
@syscall(NR.signalfd4, FD, PTR, U64, I32)
def sys_signalfd4(td, fd, umask, sizemask, flags):
    """Implements Linux signalfd4(2) (fd -1: a new one, else change its mask)."""
    if sizemask != 8 or flags & ~(S.SFD_CLOEXEC | S.SFD_NONBLOCK):
        raise KernelError(E.EINVAL)
    (mask,) = struct.unpack("<Q", copyin(td, umask, 8))
    mask &= ~S.SIG_UNBLOCKABLE
    if fd == -1:
        return install_anon(td, SignalFd(mask, td.lwp_proc), "signalfd", flags)
    _ops_of(td, fd, SignalFd).setmask(mask)
    return fd


@syscall(NR.signalfd, FD, PTR, U64)
def sys_signalfd(td, fd, umask, sizemask):
    """Implements Linux signalfd(2)."""
    return sys_signalfd4(td, fd, umask, sizemask, 0)


# -- memfd ------------------------------------------------------------------------------
class MemfdFileOps(VnodeFileOps):
    """An open memfd: a memfs file whose seals fcntl can see and add (mm/memfd.c).

    The seals belong to the file's data (vp.data.seals), which enforces
    them on every write and truncate, also through another open of it."""

    kind = "memfd"

    def seals(self, td, fp, cmd, arg):
        """fcntl F_ADD_SEALS / F_GET_SEALS."""
        data = self.vp.data
        if cmd == F.F_GET_SEALS:
            return data.seals
        if arg & ~SEALS_ALL:
            raise KernelError(E.EINVAL)
        if not fp.writable:
            raise KernelError(E.EPERM)
        data.add_seals(arg)
        return 0


@syscall(NR.memfd_create, PTR, U32)
def sys_memfd_create(td, uname, flags):
    """Implements Linux memfd_create(2) (no MFD_HUGETLB)."""
    if flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) or \
            flags & MFD_NOEXEC_SEAL and flags & MFD_EXEC:
        raise KernelError(E.EINVAL)
    try:
        name = copyinstr_bytes(td, uname, MFD_NAME_MAX + 1)
    except KernelError as e:
        raise KernelError(E.EINVAL if e.errno == E.ENAMETOOLONG else e.errno) from None
    cred = td.lwp_proc.p_ucred
    vp = memfd_create(cred.uid, cred.gid)
    seals = 0 if flags & MFD_ALLOW_SEALING else F_SEAL_SEAL
    if flags & MFD_NOEXEC_SEAL:
        vp.setattr(mode=0o666)
        seals = (seals & ~F_SEAL_SEAL) | F_SEAL_EXEC
    vp.data.seals = seals
    path = "/memfd:%s (deleted)" % name.decode("utf-8", "surrogateescape")
    fp = File(MemfdFileOps(vp), F.O_RDWR | F.O_LARGEFILE, path, vp)
    return td.lwp_proc.p_fd.alloc(fp, bool(flags & MFD_CLOEXEC))
