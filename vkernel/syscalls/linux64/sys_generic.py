"""Generic I/O syscalls: read/write and their vector and positional forms, ioctl.

BSD counterpart: sys/kern/sys_generic.c.  One worker per direction
(kern_readv / kern_writev) serves read, pread64, readv, preadv, preadv2 and
the write family; ktrace's GENIO records are written here by the kernel
(through the ktrace hook), never by file implementations.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S
from vkernel.kernel import kern_sig
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_fail import fail_point
from vkernel.kernel.usercopy import copyin, copyin_iovec, copyout
from vkernel.syscalls.table import FD, I32, I64, NR, PTR, U32, U64, syscall

MAX_RW = 0x7FFFF000
IOV_MAX = 1024


class GenioHook:
    """kern_ktrace sets `fn(td, fd, rw, data)` to record GENIO."""
    fn = None


genio = GenioHook()


def getfile(td, fd):
    return td.lwp_proc.p_fd.get(fd)


def _ktrgenio(td, fd, rw, data):
    if genio.fn is not None and td.lwp_proc.p_traceflag & 0x10 and data:
        genio.fn(td, fd, rw, data)


def _on_disk(fp):
    """Is fp a file of a real filesystem (what vfs_read and vfs_write cover)?
    Not procfs, so that /proc/sys can always switch the points off again."""
    return fp.ops.kind == "vnode" and fp.ops.vp.mount.fstype != "proc"


_fp_vfs_read = fail_point("vfs_read", "read(2) family on files of a filesystem")
_fp_vfs_write = fail_point("vfs_write", "write(2) family on files of a filesystem")


def copy_fail_points(td, src, dst):
    """vfs_read on src and vfs_write on dst, for the in-kernel copies
    (sendfile, copy_file_range: what busybox cat and cp use)."""
    if _fp_vfs_read.fp_entries and _on_disk(src):
        _fp_vfs_read.check(td)
    if _fp_vfs_write.fp_entries and _on_disk(dst):
        _fp_vfs_write.check(td)


def kern_readv(td, fd, iov, off=None):
    """Read into [(base, len)] guest buffers; returns the byte count."""
    fp = getfile(td, fd)
    if not fp.readable:
        raise KernelError(E.EBADF)
    if _fp_vfs_read.fp_entries and _on_disk(fp):
        _fp_vfs_read.check(td)
    total = min(sum(n for _, n in iov), MAX_RW)
    data = fp.ops.read(td, fp, total) if off is None else fp.ops.pread(td, fp, total, off)
    pos = 0
    for base, n in iov:
        if pos >= len(data):
            break
        copyout(td, base, data[pos:pos + n])
        pos += n
    _ktrgenio(td, fd, 0, data)
    return len(data)


def kern_writev(td, fd, iov, off=None):
    """Write from [(base, len)] guest buffers; returns the byte count."""
    fp = getfile(td, fd)
    if not fp.writable:
        raise KernelError(E.EBADF)
    if _fp_vfs_write.fp_entries and _on_disk(fp):
        _fp_vfs_write.check(td)
    data = b"".join(copyin(td, base, n) for base, n in iov if n)[:MAX_RW]
    try:
        n = fp.ops.write(td, fp, data) if off is None else fp.ops.pwrite(td, fp, data, off)
    except KernelError as e:
        if e.errno == E.EPIPE and fp.ops.kind != "socket":     # sockets signal for themselves
            kern_sig.tdsignal(td, S.SIGPIPE, S.siginfo_kill(S.SIGPIPE, S.SI_USER,
                                                             td.lwp_proc.p_pid, 0))
        raise
    _ktrgenio(td, fd, 1, data[:n])
    return n


def _one(buf, n):
    if n > MAX_RW:
        n = MAX_RW
    return [(buf, n)]


@syscall(NR.read, FD, PTR, U64)
def sys_read(td, fd, buf, n):
    """Implements Linux read(2)."""
    return kern_readv(td, fd, _one(buf, n))


@syscall(NR.write, FD, PTR, U64)
def sys_write(td, fd, buf, n):
    """Implements Linux write(2)."""
    return kern_writev(td, fd, _one(buf, n))


@syscall(NR.pread64, FD, PTR, U64, I64)
def sys_pread64(td, fd, buf, n, off):
    """Implements Linux pread64(2)."""
    if off < 0:
        raise KernelError(E.EINVAL)
    return kern_readv(td, fd, _one(buf, n), off)


@syscall(NR.pwrite64, FD, PTR, U64, I64)
def sys_pwrite64(td, fd, buf, n, off):
    """Implements Linux pwrite64(2)."""
    if off < 0:
        raise KernelError(E.EINVAL)
    return kern_writev(td, fd, _one(buf, n), off)


def _iov(td, addr, cnt):
    if cnt < 0 or cnt > IOV_MAX:
        raise KernelError(E.EINVAL)
    return copyin_iovec(td, addr, cnt)


@syscall(NR.readv, FD, PTR, I32)
def sys_readv(td, fd, iov, cnt):
    """Implements Linux readv(2)."""
    return kern_readv(td, fd, _iov(td, iov, cnt))


@syscall(NR.writev, FD, PTR, I32)
def sys_writev(td, fd, iov, cnt):
    """Implements Linux writev(2)."""
    return kern_writev(td, fd, _iov(td, iov, cnt))


def _pos(off):
    if off == -1:
        return None
    if off < 0:
        raise KernelError(E.EINVAL)
    return off


@syscall(NR.preadv, FD, PTR, I32, I64)
def sys_preadv(td, fd, iov, cnt, off):
    """Implements Linux preadv(2)."""
    return kern_readv(td, fd, _iov(td, iov, cnt), off if off >= 0 else _pos(-2))


@syscall(NR.pwritev, FD, PTR, I32, I64)
def sys_pwritev(td, fd, iov, cnt, off):
    """Implements Linux pwritev(2)."""
    return kern_writev(td, fd, _iov(td, iov, cnt), off if off >= 0 else _pos(-2))


@syscall(NR.preadv2, FD, PTR, I32, I64, I64, I32)
def sys_preadv2(td, fd, iov, cnt, off, _hi, flags):
    """Implements Linux preadv2(2) (offset -1: the file position)."""
    return kern_readv(td, fd, _iov(td, iov, cnt), _pos(off))


@syscall(NR.pwritev2, FD, PTR, I32, I64, I64, I32)
def sys_pwritev2(td, fd, iov, cnt, off, _hi, flags):
    """Implements Linux pwritev2(2) (offset -1: the file position)."""
    return kern_writev(td, fd, _iov(td, iov, cnt), _pos(off))


FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC = 0x5421, 0x5451, 0x5450, 0x5452


@syscall(NR.ioctl, FD, U32, U64)
def sys_ioctl(td, fd, cmd, arg):
    """Implements Linux ioctl(2): generic requests here, the rest to the file."""
    fdp = td.lwp_proc.p_fd
    fp = fdp.get(fd)
    if cmd == FIOCLEX:
        fdp.cloexec.add(fd)
        return 0
    if cmd == FIONCLEX:
        fdp.cloexec.discard(fd)
        return 0
    if cmd == FIONBIO:
        on = int.from_bytes(copyin(td, arg, 4), "little")
        fp.flags = (fp.flags | 0o4000) if on else (fp.flags & ~0o4000)
        return 0
    return fp.ops.ioctl(td, fp, cmd, arg)
