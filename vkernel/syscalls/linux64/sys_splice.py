"""In-kernel copies: sendfile, copy_file_range, splice and tee.

Linux counterparts: fs/read_write.c (sendfile, copy_file_range) and
fs/splice.c.  Data moves through the FileOps of both ends: the source is
read with pread at an explicit offset and only advanced by what the
destination took, so a destination that must sleep (a full pipe) leaves
nothing changed and the re-run syscall starts over cleanly.
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_synch import tsleep
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import FD, NR, PTR, U32, U64, syscall
from vkernel.vfs.vnode import VDIR, VREG

from .sys_generic import MAX_RW, copy_fail_points

SPLICE_F_NONBLOCK = 0x02


def _fp(td, fd):
    return td.lwp_proc.p_fd.get(fd)


def _get_off(td, addr):
    (off,) = struct.unpack("<q", copyin(td, addr, 8))
    if off < 0:
        raise KernelError(E.EINVAL)
    return off


def _put_off(td, addr, off):
    copyout(td, addr, struct.pack("<q", off))


# -- sendfile ---------------------------------------------------------------------------
def kern_sendfile(td, out_fd, in_fd, uoff, count):
    """Copy count bytes from a seekable in_fd to out_fd (do_sendfile)."""
    src, dst = _fp(td, in_fd), _fp(td, out_fd)
    if not src.readable or not dst.writable:
        raise KernelError(E.EBADF)
    if dst.flags & F.O_APPEND:
        raise KernelError(E.EINVAL)
    copy_fail_points(td, src, dst)
    off = _get_off(td, uoff) if uoff else src.offset
    try:
        data = src.ops.pread(td, src, min(count, MAX_RW), off)
    except KernelError as e:          # a pipe or tty source: no splice_read
        raise KernelError(E.EINVAL if e.errno == E.ESPIPE and not uoff else e.errno) from None
    n = dst.ops.write(td, dst, data) if data else 0
    if uoff:
        _put_off(td, uoff, off + n)
    else:
        src.offset = off + n
    return n


@syscall(NR.sendfile, FD, FD, PTR, U64)
def sys_sendfile(td, out_fd, in_fd, offset, count):
    """Implements Linux sendfile(2) (the source must be seekable)."""
    return kern_sendfile(td, out_fd, in_fd, offset, count)


# -- copy_file_range ------------------------------------------------------------------------
def _regular(fp):
    vp = fp.vnode
    if vp is None:
        raise KernelError(E.EINVAL)
    if vp.vtype == VDIR:
        raise KernelError(E.EISDIR)
    if vp.vtype != VREG:
        raise KernelError(E.EINVAL)


@syscall(NR.copy_file_range, FD, PTR, FD, PTR, U64, U32)
def sys_copy_file_range(td, fd_in, uoff_in, fd_out, uoff_out, length, flags):
    """Implements Linux copy_file_range(2) between regular files."""
    src, dst = _fp(td, fd_in), _fp(td, fd_out)
    if flags:
        raise KernelError(E.EINVAL)
    if not src.readable or not dst.writable or dst.flags & F.O_APPEND:
        raise KernelError(E.EBADF)
    _regular(src)
    _regular(dst)
    copy_fail_points(td, src, dst)
    off_in = _get_off(td, uoff_in) if uoff_in else src.offset
    off_out = _get_off(td, uoff_out) if uoff_out else dst.offset
    length = min(length, MAX_RW)
    if src.vnode is dst.vnode and off_in < off_out + length and off_out < off_in + length:
        raise KernelError(E.EINVAL)
    data = src.ops.pread(td, src, length, off_in)
    n = dst.ops.pwrite(td, dst, data, off_out) if data else 0
    for uoff, fp, off in ((uoff_in, src, off_in), (uoff_out, dst, off_out)):
        if uoff:
            _put_off(td, uoff, off + n)
        else:
            fp.offset = off + n
    return n


# -- splice and tee -------------------------------------------------------------------------
def _pipe_of(fp):
    return fp.ops.pipe if fp.ops.kind == "pipe" else None


def _pipe_data(td, fp, pipe, n, flags):
    """Up to n bytes at the head of a pipe, without taking them; b"" at EOF."""
    if pipe.buf or pipe.writers == 0:
        return bytes(pipe.buf[:n])
    if fp.nonblock or flags & SPLICE_F_NONBLOCK:
        raise KernelError(E.EAGAIN)
    tsleep(td, (pipe, "r"), "splice")


def _splice_from_pipe(td, src, pipe, dst, uoff_out, n, flags):
    data = _pipe_data(td, src, pipe, n, flags)
    if not data:
        return 0
    if uoff_out:
        off = _get_off(td, uoff_out)
        done = dst.ops.pwrite(td, dst, data, off)
        _put_off(td, uoff_out, off + done)
    else:
        done = dst.ops.write(td, dst, data)
    del pipe.buf[:done]
    pipe.wake()
    return done


@syscall(NR.splice, FD, PTR, FD, PTR, U64, U32)
def sys_splice(td, fd_in, uoff_in, fd_out, uoff_out, length, flags):
    """Implements Linux splice(2): one end must be a pipe."""
    src, dst = _fp(td, fd_in), _fp(td, fd_out)
    if not src.readable or not dst.writable:
        raise KernelError(E.EBADF)
    pin, pout = _pipe_of(src), _pipe_of(dst)
    if (pin and uoff_in) or (pout and uoff_out):
        raise KernelError(E.ESPIPE)
    if pin is not None and pin is pout:
        raise KernelError(E.EINVAL)
    length = min(length, MAX_RW)
    if pin is not None:
        return _splice_from_pipe(td, src, pin, dst, uoff_out, length, flags)
    if pout is None:
        raise KernelError(E.EINVAL)
    return kern_sendfile(td, fd_out, fd_in, uoff_in, length)


@syscall(NR.tee, FD, FD, U64, U32)
def sys_tee(td, fd_in, fd_out, length, flags):
    """Implements Linux tee(2): copy pipe data into another pipe, leaving it there."""
    src, dst = _fp(td, fd_in), _fp(td, fd_out)
    pin, pout = _pipe_of(src), _pipe_of(dst)
    if pin is None or pout is None or pin is pout or not src.readable or not dst.writable:
        raise KernelError(E.EINVAL)
    data = _pipe_data(td, src, pin, min(length, MAX_RW), flags)
    return dst.ops.write(td, dst, data) if data else 0
