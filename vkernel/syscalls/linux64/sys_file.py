"""File syscalls: open, stat family, getdents, lseek, truncate, fsync, pipes.

Linux counterparts: fs/open.c, fs/stat.c, fs/readdir.c, fs/read_write.c,
fs/sync.c, fs/pipe.c; the work is in vkernel.vfs.vfs_syscalls (FreeBSD's
vfs_syscalls.c) and vkernel.kernel.sys_pipe.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import stat as ST
from vkernel.kernel import kern_vfs
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import File
from vkernel.kernel.kern_fail import fail_point
from vkernel.kernel.sys_pipe import Pipe, PipeEnd
from vkernel.kernel.usercopy import copyinstr, copyout
from vkernel.syscalls.table import FD, I32, I64, NR, PTR, STR, U32, syscall
from vkernel.vfs import vfs_syscalls as V

OPEN_FLAGS = (F.O_ACCMODE | F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC | F.O_APPEND
              | F.O_NONBLOCK | F.O_DSYNC | F.O_ASYNC | F.O_DIRECT | F.O_LARGEFILE
              | F.O_DIRECTORY | F.O_NOFOLLOW | F.O_NOATIME | F.O_CLOEXEC | F.O_SYNC
              | F.O_PATH | F.O_TMPFILE)


def path_arg(td, addr):
    return copyinstr(td, addr)


_fp_vfs_open = fail_point("vfs_open", "open(2), openat(2), creat(2); not of /proc paths")


def kern_open(td, dirfd, path, flags, mode):
    """Open path relative to dirfd and install it; returns the new fd."""
    if _fp_vfs_open.fp_entries and not path.startswith("/proc/"):
        _fp_vfs_open.check(td)          # /proc/sys stays open to switch it off
    if flags & ~OPEN_FLAGS:
        flags &= OPEN_FLAGS
    ctx = kern_vfs.ctx(td)
    ops, vp, resolved = V.kern_openat(ctx, kern_vfs.dirvp(td, dirfd), path, flags, mode)
    fp = File(ops, flags & ~(F.O_CREAT | F.O_EXCL | F.O_TRUNC | F.O_NOCTTY), resolved, vp)
    opener = getattr(ops, "open", None)
    if opener is not None:
        opener(td, fp)
    return td.lwp_proc.p_fd.alloc(fp, bool(flags & F.O_CLOEXEC))


@syscall(NR.openat, FD, STR, I32, U32)
def sys_openat(td, dirfd, path, flags, mode):
    """Implements Linux openat(2)."""
    return kern_open(td, dirfd, path_arg(td, path), flags, mode)


@syscall(NR.open, STR, I32, U32)
def sys_open(td, path, flags, mode):
    """Implements Linux open(2)."""
    return kern_open(td, F.AT_FDCWD, path_arg(td, path), flags, mode)


@syscall(NR.creat, STR, U32)
def sys_creat(td, path, mode):
    """Implements Linux creat(2)."""
    flags = F.O_CREAT | F.O_WRONLY | F.O_TRUNC
    return kern_open(td, F.AT_FDCWD, path_arg(td, path), flags, mode)


# -- stat ---------------------------------------------------------------------------------
def _fstat_dict(td, fd):
    fp = td.lwp_proc.p_fd.get(fd)
    if fp.vnode is not None:
        return fp.vnode.getattr().stat_dict()
    return fp.ops.stat(td, fp)


def _stat_dict(td, dirfd, path, flags):
    if flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH | F.AT_NO_AUTOMOUNT
                 | F.AT_STATX_SYNC_TYPE):
        raise KernelError(E.EINVAL)
    if not path:
        if not flags & F.AT_EMPTY_PATH:
            raise KernelError(E.ENOENT)
        if dirfd == F.AT_FDCWD:
            return td.lwp_proc.p_cwd.getattr().stat_dict()
        return _fstat_dict(td, dirfd)
    follow = not flags & F.AT_SYMLINK_NOFOLLOW
    va = V.kern_statat(kern_vfs.ctx(td), kern_vfs.dirvp(td, dirfd), path, follow)
    return va.stat_dict()


def _out_stat(td, buf, st):
    copyout(td, buf, ST.pack_stat(**st))
    return 0


@syscall(NR.stat, STR, PTR)
def sys_stat(td, path, buf):
    """Implements Linux stat(2)."""
    return _out_stat(td, buf, _stat_dict(td, F.AT_FDCWD, path_arg(td, path), 0))


@syscall(NR.lstat, STR, PTR)
def sys_lstat(td, path, buf):
    """Implements Linux lstat(2)."""
    st = _stat_dict(td, F.AT_FDCWD, path_arg(td, path), F.AT_SYMLINK_NOFOLLOW)
    return _out_stat(td, buf, st)


@syscall(NR.fstat, FD, PTR)
def sys_fstat(td, fd, buf):
    """Implements Linux fstat(2)."""
    return _out_stat(td, buf, _fstat_dict(td, fd))


@syscall(NR.newfstatat, FD, STR, PTR, I32)
def sys_newfstatat(td, dirfd, path, buf, flags):
    """Implements Linux newfstatat(2) (fstatat)."""
    return _out_stat(td, buf, _stat_dict(td, dirfd, path_arg(td, path), flags))


def _statx_fields(st):
    dev, rdev = st.get("st_dev", 0), st.get("st_rdev", 0)
    out = {"stx_mask": 0x7FF, "stx_blksize": st.get("st_blksize", 4096),
           "stx_nlink": st.get("st_nlink", 1), "stx_uid": st.get("st_uid", 0),
           "stx_gid": st.get("st_gid", 0), "stx_mode": st.get("st_mode", 0),
           "stx_ino": st.get("st_ino", 0), "stx_size": st.get("st_size", 0),
           "stx_blocks": st.get("st_blocks", 0),
           "stx_rdev_major": ST.major(rdev), "stx_rdev_minor": ST.minor(rdev),
           "stx_dev_major": ST.major(dev), "stx_dev_minor": ST.minor(dev)}
    for t in ("atime", "mtime", "ctime"):
        out[f"stx_{t}_sec"] = st.get(f"st_{t}", 0)
        out[f"stx_{t}_nsec"] = st.get(f"st_{t}_nsec", 0)
    return out


@syscall(NR.statx, FD, STR, I32, U32, PTR)
def sys_statx(td, dirfd, path, flags, mask, buf):
    """Implements Linux statx(2) (basic stats; no birth time)."""
    if mask & 0x80000000:
        raise KernelError(E.EINVAL)
    st = _stat_dict(td, dirfd, path_arg(td, path), flags & ~0x6000)
    copyout(td, buf, ST.pack_statx(**_statx_fields(st)))
    return 0


# -- directories ----------------------------------------------------------------------------
@syscall(NR.getdents64, FD, PTR, U32)
def sys_getdents64(td, fd, buf, count):
    """Implements Linux getdents64(2)."""
    fp = td.lwp_proc.p_fd.get(fd)
    entries = fp.ops.getdents(td, fp)
    out, used = bytearray(), 0
    for ino, dtype, name in entries:
        raw = name.encode("utf-8", "surrogateescape")
        rec = ST.pack_dirent64(ino or 1, fp.dirpos + used + 1, dtype, raw)
        if len(out) + len(rec) > count:
            if not out:
                raise KernelError(E.EINVAL)
            break
        out += rec
        used += 1
    copyout(td, buf, bytes(out))         # a fault consumes no entry
    fp.dirpos += used
    return len(out)


@syscall(NR.lseek, FD, I64, I32)
def sys_lseek(td, fd, off, whence):
    """Implements Linux lseek(2)."""
    fp = td.lwp_proc.p_fd.get(fd)
    if whence not in (F.SEEK_SET, F.SEEK_CUR, F.SEEK_END, F.SEEK_DATA, F.SEEK_HOLE):
        raise KernelError(E.EINVAL)
    return fp.ops.seek(td, fp, off, whence)


# -- size and sync ---------------------------------------------------------------------------
@syscall(NR.ftruncate, FD, I64)
def sys_ftruncate(td, fd, length):
    """Implements Linux ftruncate(2)."""
    fp = td.lwp_proc.p_fd.get(fd)
    if length < 0:
        raise KernelError(E.EINVAL)
    if not fp.writable:
        raise KernelError(E.EINVAL)      # do_sys_ftruncate: EINVAL, not EBADF
    fp.ops.truncate(td, fp, length)
    return 0


@syscall(NR.truncate, STR, I64)
def sys_truncate(td, path, length):
    """Implements Linux truncate(2)."""
    if length < 0:
        raise KernelError(E.EINVAL)
    V.kern_truncate(kern_vfs.ctx(td), td.lwp_proc.p_cwd, path_arg(td, path), length)
    return 0


@syscall(NR.fsync, FD)
def sys_fsync(td, fd):
    """Implements Linux fsync(2)."""
    fp = td.lwp_proc.p_fd.get(fd)
    return fp.ops.fsync(td, fp) or 0


@syscall(NR.fdatasync, FD)
def sys_fdatasync(td, fd):
    """Implements Linux fdatasync(2)."""
    fp = td.lwp_proc.p_fd.get(fd)
    return fp.ops.fsync(td, fp) or 0


@syscall(NR.sync)
def sys_sync(td):
    """Implements Linux sync(2): every filesystem, errors ignored (ksys_sync)."""
    for mnt in kern_vfs.mounts.mounts():
        try:
            mnt.sync()
        except KernelError:
            pass                # logged by the filesystem; sync(2) cannot fail
    return 0


@syscall(NR.syncfs, FD)
def sys_syncfs(td, fd):
    """Implements Linux syncfs(2): the filesystem holding fd."""
    fp = td.lwp_proc.p_fd.get(fd)
    if fp.vnode is not None:
        fp.vnode.mount.sync()
    return 0


@syscall(NR.fallocate, FD, I32, I64, I64)
def sys_fallocate(td, fd, mode, off, length):
    """Implements Linux fallocate(2) (mode 0: extend the file)."""
    fp = td.lwp_proc.p_fd.get(fd)
    if mode or off < 0 or length <= 0:
        raise KernelError(E.EOPNOTSUPP if mode else E.EINVAL)
    size = fp.ops.stat(td, fp)["st_size"] if fp.vnode is None else fp.vnode.getattr().size
    if off + length > size:
        fp.ops.truncate(td, fp, off + length)
    return 0


# -- pipes --------------------------------------------------------------------------------------
def kern_pipe(td, fds_addr, flags):
    if flags & ~(F.O_CLOEXEC | F.O_NONBLOCK | F.O_DIRECT):
        raise KernelError(E.EINVAL)
    p = Pipe()
    fdp = td.lwp_proc.p_fd
    cloexec = bool(flags & F.O_CLOEXEC)
    nb = flags & F.O_NONBLOCK
    rfd = fdp.alloc(File(PipeEnd(p, False), F.O_RDONLY | nb, "pipe:[%d]" % p.ino), cloexec)
    try:
        wfd = fdp.alloc(File(PipeEnd(p, True), F.O_WRONLY | nb, "pipe:[%d]" % p.ino), cloexec)
    except KernelError:
        fdp.close(rfd)
        raise
    try:
        copyout(td, fds_addr, rfd.to_bytes(4, "little") + wfd.to_bytes(4, "little"))
    except KernelError:               # do_pipe2: no descriptor unless the copy succeeded
        fdp.close(rfd)
        fdp.close(wfd)
        raise
    return 0


@syscall(NR.pipe2, PTR, I32)
def sys_pipe2(td, fds, flags):
    """Implements Linux pipe2(2)."""
    return kern_pipe(td, fds, flags)


@syscall(NR.pipe, PTR)
def sys_pipe(td, fds):
    """Implements Linux pipe(2)."""
    return kern_pipe(td, fds, 0)


@syscall(NR.fadvise64, FD, I64, I64, I32)
def sys_fadvise64(td, fd, off, length, advice):
    """Implements Linux fadvise64(2): advice is accepted and has no effect."""
    fp = td.lwp_proc.p_fd.get(fd)
    if fp.ops.kind == "pipe":
        raise KernelError(E.ESPIPE)
    if not 0 <= advice <= 5:
        raise KernelError(E.EINVAL)
    return 0
