"""hostfs helpers: the only place that shapes host path names and errors.

No BSD/Linux file of its own (cf. gVisor's fsgofer helpers).  The rules
that keep hostfs inside its directory are written here once:

  * a host name is one guest component: non-empty, not '.' or '..', no '/'
    and no NUL (hostname() refuses anything else with EINVAL);
  * names are passed as bytes, encoded like the guest's (UTF-8 with
    surrogateescape), so no host locale changes them;
  * an open vnode is re-reached through its O_PATH descriptor with
    fdpath(fd): the kernel resolves /proc/self/fd/N to that very inode, so
    nothing is followed or looked up by name.
"""
import ctypes
import os
import resource

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError, host_errors
from vkernel.vfs.namei import NAME_MAX

_libc = ctypes.CDLL(None, use_errno=True)


def hostname(name):
    """The bytes of a validated single component."""
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise KernelError(E.EINVAL)
    b = name.encode("utf-8", "surrogateescape")
    if len(b) > NAME_MAX:
        raise KernelError(E.ENAMETOOLONG)
    return b


def guestname(b):
    """A host name (bytes, or str from os.scandir) as a guest string."""
    if isinstance(b, str):
        b = os.fsencode(b)
    return b.decode("utf-8", "surrogateescape")


def fdpath(fd):
    return f"/proc/self/fd/{fd}"


host = host_errors          # run host calls, OSError -> KernelError (same errno)


def renameat2(olddirfd, old, newdirfd, new, flags):
    """renameat2(2), which the os module lacks; flags are RENAME_*."""
    if not flags:
        os.rename(old, new, src_dir_fd=olddirfd, dst_dir_fd=newdirfd)
        return
    if _libc.renameat2(olddirfd, old, newdirfd, new, ctypes.c_uint(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def utimens_fd(fd, atime_ns, mtime_ns):
    """utimensat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW): the times of
    the file an O_PATH descriptor names, a symlink included (Linux >= 5.8)."""
    ts = (ctypes.c_long * 4)(*divmod(atime_ns, 10**9), *divmod(mtime_ns, 10**9))
    if _libc.utimensat(fd, b"", ts, 0x1000 | 0x100) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def raise_nofile_limit():
    """Every live hostfs vnode holds a descriptor: allow as many as we may."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
