"""Name-space syscalls: mkdir, unlink, rename, link, symlink, readlink, chdir,
getcwd, chmod, chown, umask, utimens, access, statfs.

Linux counterparts: fs/namei.c, fs/open.c, fs/d_path.c, fs/utimes.c,
fs/statfs.c; the work is in vkernel.vfs.vfs_syscalls.
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import stat as ST
from vkernel.kernel import kern_vfs
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin, copyinstr, copyout
from vkernel.syscalls.table import FD, I32, NR, PTR, STR, U32, U64, syscall
from vkernel.vfs import vfs_syscalls as V

UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


def _ctx(td):
    return kern_vfs.ctx(td)


def _dir(td, dirfd):
    return kern_vfs.dirvp(td, dirfd)


def _path(td, addr):
    return copyinstr(td, addr)


@syscall(NR.mkdirat, FD, STR, U32)
def sys_mkdirat(td, dirfd, path, mode):
    """Implements Linux mkdirat(2)."""
    V.kern_mkdirat(_ctx(td), _dir(td, dirfd), _path(td, path), mode)
    return 0


@syscall(NR.mkdir, STR, U32)
def sys_mkdir(td, path, mode):
    """Implements Linux mkdir(2)."""
    return sys_mkdirat(td, F.AT_FDCWD, path, mode)


@syscall(NR.mknodat, FD, STR, U32, U32)
def sys_mknodat(td, dirfd, path, mode, dev):
    """Implements Linux mknodat(2)."""
    V.kern_mknodat(_ctx(td), _dir(td, dirfd), _path(td, path), mode, dev)
    return 0


@syscall(NR.mknod, STR, U32, U32)
def sys_mknod(td, path, mode, dev):
    """Implements Linux mknod(2)."""
    return sys_mknodat(td, F.AT_FDCWD, path, mode, dev)


@syscall(NR.unlinkat, FD, STR, I32)
def sys_unlinkat(td, dirfd, path, flags):
    """Implements Linux unlinkat(2)."""
    if flags & ~F.AT_REMOVEDIR:
        raise KernelError(E.EINVAL)
    V.kern_unlinkat(_ctx(td), _dir(td, dirfd), _path(td, path), bool(flags & F.AT_REMOVEDIR))
    return 0


@syscall(NR.unlink, STR)
def sys_unlink(td, path):
    """Implements Linux unlink(2)."""
    return sys_unlinkat(td, F.AT_FDCWD, path, 0)


@syscall(NR.rmdir, STR)
def sys_rmdir(td, path):
    """Implements Linux rmdir(2)."""
    return sys_unlinkat(td, F.AT_FDCWD, path, F.AT_REMOVEDIR)


@syscall(NR.renameat2, FD, STR, FD, STR, U32)
def sys_renameat2(td, ofd, opath, nfd, npath, flags):
    """Implements Linux renameat2(2)."""
    V.kern_renameat2(_ctx(td), _dir(td, ofd), _path(td, opath), _dir(td, nfd),
                     _path(td, npath), flags)
    return 0


@syscall(NR.renameat, FD, STR, FD, STR)
def sys_renameat(td, ofd, opath, nfd, npath):
    """Implements Linux renameat(2)."""
    return sys_renameat2(td, ofd, opath, nfd, npath, 0)


@syscall(NR.rename, STR, STR)
def sys_rename(td, opath, npath):
    """Implements Linux rename(2)."""
    return sys_renameat2(td, F.AT_FDCWD, opath, F.AT_FDCWD, npath, 0)


@syscall(NR.linkat, FD, STR, FD, STR, I32)
def sys_linkat(td, ofd, opath, nfd, npath, flags):
    """Implements Linux linkat(2)."""
    if flags & ~(F.AT_SYMLINK_FOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL)
    V.kern_linkat(_ctx(td), _dir(td, ofd), _path(td, opath), _dir(td, nfd), _path(td, npath),
                  bool(flags & F.AT_SYMLINK_FOLLOW))
    return 0


@syscall(NR.link, STR, STR)
def sys_link(td, opath, npath):
    """Implements Linux link(2)."""
    return sys_linkat(td, F.AT_FDCWD, opath, F.AT_FDCWD, npath, 0)


@syscall(NR.symlinkat, STR, FD, STR)
def sys_symlinkat(td, target, dirfd, path):
    """Implements Linux symlinkat(2)."""
    V.kern_symlinkat(_ctx(td), _path(td, target), _dir(td, dirfd), _path(td, path))
    return 0


@syscall(NR.symlink, STR, STR)
def sys_symlink(td, target, path):
    """Implements Linux symlink(2)."""
    return sys_symlinkat(td, target, F.AT_FDCWD, path)


@syscall(NR.readlinkat, FD, STR, PTR, I32)
def sys_readlinkat(td, dirfd, path, buf, size):
    """Implements Linux readlinkat(2)."""
    if size <= 0:
        raise KernelError(E.EINVAL)
    target = V.kern_readlinkat(_ctx(td), _dir(td, dirfd), _path(td, path))
    data = target.encode("utf-8", "surrogateescape")[:size]
    copyout(td, buf, data)
    return len(data)


@syscall(NR.readlink, STR, PTR, I32)
def sys_readlink(td, path, buf, size):
    """Implements Linux readlink(2)."""
    return sys_readlinkat(td, F.AT_FDCWD, path, buf, size)


# -- working directory --------------------------------------------------------------------
@syscall(NR.chdir, STR)
def sys_chdir(td, path):
    """Implements Linux chdir(2)."""
    vp, _ = V.kern_chdir(_ctx(td), td.lwp_proc.p_cwd, _path(td, path))
    td.lwp_proc.p_cwd = vp
    return 0


@syscall(NR.fchdir, FD)
def sys_fchdir(td, fd):
    """Implements Linux fchdir(2)."""
    fp = td.lwp_proc.p_fd.get(fd)
    if fp.vnode is None:
        raise KernelError(E.ENOTDIR)
    V.vn_chdir(_ctx(td), fp.vnode)
    td.lwp_proc.p_cwd = fp.vnode
    return 0


@syscall(NR.chroot, STR)
def sys_chroot(td, path):
    """Implements Linux chroot(2)."""
    if td.lwp_proc.p_ucred.uid != 0:
        raise KernelError(E.EPERM)
    vp, _ = V.kern_chdir(_ctx(td), td.lwp_proc.p_cwd, _path(td, path))
    td.lwp_proc.p_root = vp
    return 0


@syscall(NR.getcwd, PTR, U64)
def sys_getcwd(td, buf, size):
    """Implements Linux getcwd(2)."""
    path = V.vn_fullpath(td.lwp_proc.p_cwd, _ctx(td)).encode("utf-8", "surrogateescape") + b"\0"
    if len(path) > size:
        raise KernelError(E.ERANGE)
    copyout(td, buf, path)
    return len(path)


@syscall(NR.umask, U32)
def sys_umask(td, mask):
    """Implements Linux umask(2)."""
    p = td.lwp_proc
    old, p.p_umask = p.p_umask, mask & 0o777
    return old


# -- attributes -----------------------------------------------------------------------------
def _fdvp(td, fd):
    fp = td.lwp_proc.p_fd.get(fd)
    if fp.vnode is None:
        raise KernelError(E.EBADF if fd < 0 else E.EINVAL)
    return fp.vnode


@syscall(NR.fchmodat, FD, STR, U32)
def sys_fchmodat(td, dirfd, path, mode):
    """Implements Linux fchmodat(2)."""
    V.kern_chmod(_ctx(td), _dir(td, dirfd), _path(td, path), mode)
    return 0


@syscall(NR.chmod, STR, U32)
def sys_chmod(td, path, mode):
    """Implements Linux chmod(2)."""
    return sys_fchmodat(td, F.AT_FDCWD, path, mode)


@syscall(NR.fchmod, FD, U32)
def sys_fchmod(td, fd, mode):
    """Implements Linux fchmod(2)."""
    V.vn_chmod(_ctx(td), _fdvp(td, fd), mode)
    return 0


def _id(v):
    return -1 if v == 0xFFFFFFFF else v


@syscall(NR.fchownat, FD, STR, U32, U32, I32)
def sys_fchownat(td, dirfd, path, uid, gid, flags):
    """Implements Linux fchownat(2)."""
    p = _path(td, path)
    if not p and flags & F.AT_EMPTY_PATH:
        vp = _fdvp(td, dirfd) if dirfd != F.AT_FDCWD else td.lwp_proc.p_cwd
        V.vn_chown(_ctx(td), vp, _id(uid), _id(gid))
        return 0
    V.kern_chown(_ctx(td), _dir(td, dirfd), p, _id(uid), _id(gid),
                 follow=not flags & F.AT_SYMLINK_NOFOLLOW)
    return 0


@syscall(NR.chown, STR, U32, U32)
def sys_chown(td, path, uid, gid):
    """Implements Linux chown(2)."""
    return sys_fchownat(td, F.AT_FDCWD, path, uid, gid, 0)


@syscall(NR.lchown, STR, U32, U32)
def sys_lchown(td, path, uid, gid):
    """Implements Linux lchown(2)."""
    return sys_fchownat(td, F.AT_FDCWD, path, uid, gid, F.AT_SYMLINK_NOFOLLOW)


@syscall(NR.fchown, FD, U32, U32)
def sys_fchown(td, fd, uid, gid):
    """Implements Linux fchown(2)."""
    V.vn_chown(_ctx(td), _fdvp(td, fd), _id(uid), _id(gid))
    return 0


def _times(td, addr):
    """A timespec[2] argument -> (atime, mtime) for the vfs workers."""
    if not addr:
        return V.NOW, V.NOW
    a_s, a_ns, m_s, m_ns = struct.unpack("<qqqq", copyin(td, addr, 32))
    return _one_time(a_s, a_ns), _one_time(m_s, m_ns)


def _one_time(sec, nsec):
    if nsec == UTIME_NOW:
        return V.NOW
    if nsec == UTIME_OMIT:
        return None
    if not 0 <= nsec < 1_000_000_000:
        raise KernelError(E.EINVAL)
    return (sec, nsec)


@syscall(NR.utimensat, FD, STR, PTR, I32)
def sys_utimensat(td, dirfd, path, times, flags):
    """Implements Linux utimensat(2) (path NULL: the file dirfd refers to)."""
    atime, mtime = _times(td, times)
    if not path:
        V.vn_utimens(_ctx(td), _fdvp(td, dirfd), atime, mtime)
        return 0
    V.kern_utimens(_ctx(td), _dir(td, dirfd), _path(td, path), atime, mtime,
                   follow=not flags & F.AT_SYMLINK_NOFOLLOW)
    return 0


@syscall(NR.utimes, STR, PTR)
def sys_utimes(td, path, tvp):
    """Implements Linux utimes(2)."""
    if tvp:
        a_s, a_us, m_s, m_us = struct.unpack("<qqqq", copyin(td, tvp, 32))
        atime, mtime = (a_s, a_us * 1000), (m_s, m_us * 1000)
    else:
        atime = mtime = V.NOW
    V.kern_utimens(_ctx(td), td.lwp_proc.p_cwd, _path(td, path), atime, mtime)
    return 0


@syscall(NR.faccessat2, FD, STR, I32, I32)
def sys_faccessat2(td, dirfd, path, mode, flags):
    """Implements Linux faccessat2(2)."""
    if mode & ~7 or flags & ~(F.AT_EACCESS | F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL)
    V.kern_accessat(_ctx(td), _dir(td, dirfd), _path(td, path), mode, flags)
    return 0


@syscall(NR.faccessat, FD, STR, I32)
def sys_faccessat(td, dirfd, path, mode):
    """Implements Linux faccessat(2)."""
    return sys_faccessat2(td, dirfd, path, mode, 0)


@syscall(NR.access, STR, I32)
def sys_access(td, path, mode):
    """Implements Linux access(2)."""
    return sys_faccessat2(td, F.AT_FDCWD, path, mode, 0)


def _out_statfs(td, buf, d):
    d = dict(d)
    if "f_fsid" in d:                       # statfs_dict's (val[0], val[1])
        d["f_fsid0"], d["f_fsid1"] = d.pop("f_fsid")
    copyout(td, buf, ST.pack_statfs(**d))
    return 0


@syscall(NR.statfs, STR, PTR)
def sys_statfs(td, path, buf):
    """Implements Linux statfs(2)."""
    return _out_statfs(td, buf, V.kern_statfs(_ctx(td), td.lwp_proc.p_cwd, _path(td, path)))


@syscall(NR.fstatfs, FD, PTR)
def sys_fstatfs(td, fd, buf):
    """Implements Linux fstatfs(2)."""
    return _out_statfs(td, buf, V.vn_statfs(_fdvp(td, fd)))
