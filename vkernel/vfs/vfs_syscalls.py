"""The VFS workers behind the file-system syscalls: kern_openat and friends.

FreeBSD counterpart: sys/kern/vfs_syscalls.c (kern_openat, kern_statat,
kern_mkdirat, kern_unlinkat, kern_renameat, ...); the semantics, checks and
their order follow Linux fs/namei.c and fs/open.c, since guests are Linux
programs.  Attribute changes (chmod, chown, utimens, truncate, access) are
in vfs_setattr.py and re-exported here, so handlers import one module.

Every worker takes a `ctx` describing the caller: ctx.root, ctx.cwd (the
process's directories), ctx.cred (.uid .gid .groups, effective ids; .ruid
.rgid for access(2)), ctx.umask, ctx.mounts (the MountTable) and
ctx.ktrnamei(path), called once per path looked up.  `dirvp` is the
directory a relative path starts from: the handler resolves the dirfd
(AT_FDCWD is ctx.cwd).  AT_EMPTY_PATH is the handler's business too.

Permission checks live here, not in the filesystems; so does EROFS.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError

from . import vfs_cache
from .mount import MNT_NODEV
from .namei import DOTS, PATH_MAX, R_OK, W_OK, X_OK, check_access, nlookup
from .vfs_dev import bdev_open, cdev_open
from .vfs_setattr import (NOW, kern_accessat, kern_chmod, kern_chown,  # noqa: F401
                          kern_truncate, kern_utimens, vn_access, vn_chmod,
                          vn_chown, vn_truncate, vn_utimens)
from .vfs_vnops import VnodeFileOps, fifo_open
from .vnode import (MODE_MASK, VBLK, VCHR, VDIR, VFIFO, VLNK, VREG, VSOCK,
                    iftovt)

SPECIAL_NAMES = DOTS + ("/",)       # namei's last names that are no entry
_RENAME_FLAGS = F.RENAME_NOREPLACE | F.RENAME_EXCHANGE | F.RENAME_WHITEOUT


# -- lookup --------------------------------------------------------------
def kern_lookup(ctx, dirvp, path, follow=True):
    """A path's vnode and resolved path, for callers such as exec."""
    res = nlookup(ctx, dirvp, path, follow)
    return res.vp, res.path


def _existing(ctx, dirvp, path, follow=True):
    return nlookup(ctx, dirvp, path, follow).vp


def _parent(ctx, dirvp, path, follow=False):
    """Lookup for creating or removing the last component."""
    return nlookup(ctx, dirvp, path, follow, want_parent=True)


def vn_fullpath(vp, ctx):
    """The path of vp seen from ctx.root (getcwd, /proc); ENOENT if none."""
    return vfs_cache.vn_fullpath(vp, ctx.root)


# -- shared checks -------------------------------------------------------
def _may_create(ctx, dvp):
    """Write and search permission on the directory, and a writable mount."""
    dvp.mount.check_writable()
    check_access(dvp, ctx.cred, W_OK | X_OK)


def _may_delete(ctx, dvp, vp):
    """_may_create plus the sticky-directory rule (Linux may_delete)."""
    _may_create(ctx, dvp)
    if ctx.cred.uid == 0:
        return
    dva = dvp.getattr()
    if dva.mode & S.S_ISVTX and ctx.cred.uid not in (dva.uid, vp.getattr().uid):
        raise KernelError(E.EPERM)


def _is_mount_root(vp):
    return vp is vp.mount.root


def _new_owner(ctx, dvp):
    """(uid, gid, setgid dir?) of a new file: a setgid directory gives its gid."""
    dva = dvp.getattr()
    if dva.mode & S.S_ISGID:
        return ctx.cred.uid, dva.gid, True
    return ctx.cred.uid, ctx.cred.gid, False


def _create_mode(ctx, mode):
    return mode & MODE_MASK & ~ctx.umask


# -- open ----------------------------------------------------------------
def kern_openat(ctx, dirvp, path, flags, mode=0):
    """open(2): returns (FileOps, vnode, resolved path).

    The handler makes the File (flags as given; O_PATH descriptors must
    refuse read/write with EBADF there).  O_TMPFILE is EOPNOTSUPP.
    """
    if flags & F.O_TMPFILE == F.O_TMPFILE:
        raise KernelError(E.EOPNOTSUPP)
    if flags & F.O_PATH:
        flags &= F.O_PATH | F.O_DIRECTORY | F.O_NOFOLLOW | F.O_CLOEXEC
    if flags & F.O_CREAT and flags & F.O_DIRECTORY:
        raise KernelError(E.EINVAL)
    follow = not flags & F.O_NOFOLLOW
    if flags & F.O_CREAT:
        vp, created, rpath = _open_create(ctx, dirvp, path, flags, mode, follow)
    else:
        res = nlookup(ctx, dirvp, path, follow)
        vp, created, rpath = res.vp, False, res.path
    if flags & F.O_PATH:
        return _open_path(vp, flags), vp, rpath
    return _open_vnode(ctx, vp, flags, created), vp, rpath


def _open_create(ctx, dirvp, path, flags, mode, follow):
    """The O_CREAT half of open: (vnode, created?, path)."""
    excl = flags & F.O_EXCL
    res = _parent(ctx, dirvp, path, follow=follow and not excl)
    if res.vp is not None:
        if excl:
            raise KernelError(E.EEXIST)
        if res.vp.vtype == VDIR:
            raise KernelError(E.EISDIR)
        return res.vp, False, res.path
    if res.trailing_slash or res.name in SPECIAL_NAMES:
        raise KernelError(E.EISDIR)
    _may_create(ctx, res.dvp)
    uid, gid, _ = _new_owner(ctx, res.dvp)
    vp = res.dvp.create(res.name, _create_mode(ctx, mode), uid, gid)
    vfs_cache.cache_enter(res.dvp, res.name, vp)
    return vp, True, res.path


def _open_path(vp, flags):
    if flags & F.O_DIRECTORY and vp.vtype != VDIR:
        raise KernelError(E.ENOTDIR)
    return VnodeFileOps(vp)


def _access_wanted(flags):
    """R/W permission bits an open needs (O_ACCMODE 3 needs both)."""
    acc = flags & F.O_ACCMODE
    want = 0
    if acc != F.O_WRONLY:
        want |= R_OK
    if acc != F.O_RDONLY or flags & F.O_TRUNC:
        want |= W_OK
    return want


def _open_vnode(ctx, vp, flags, created):
    """Linux may_open + do_open: type rules, EROFS, permission, then ops."""
    want = _access_wanted(flags)
    vtype = vp.vtype
    if vtype == VLNK:
        raise KernelError(E.ELOOP)
    if flags & F.O_DIRECTORY and vtype != VDIR:
        raise KernelError(E.ENOTDIR)
    if vtype == VDIR and want & W_OK:
        raise KernelError(E.EISDIR)         # O_TRUNC counts as writing
    if vtype in (VCHR, VBLK) and vp.mount.flags & MNT_NODEV:
        raise KernelError(E.EACCES)
    if vtype == VREG and want & W_OK:
        vp.mount.check_writable()
    if not created:
        check_access(vp, ctx.cred, want)
    return _vnode_ops(vp, vtype, flags)


def _vnode_ops(vp, vtype, flags):
    ops = vp.open_ops(flags)
    if ops is not None:
        return ops
    if vtype == VCHR:
        return cdev_open(vp.getattr().rdev, flags)
    if vtype == VBLK:
        return bdev_open(vp.getattr().rdev, flags)
    if vtype == VFIFO:
        return fifo_open(vp, flags)
    if vtype == VSOCK:
        raise KernelError(E.ENXIO)
    if vtype == VREG and flags & F.O_TRUNC:     # even O_RDONLY, as Linux does
        vp.setattr(size=0)
    return VnodeFileOps(vp)


# -- stat, readlink, statfs, chdir -----------------------------------------
def kern_statat(ctx, dirvp, path, follow=True):
    """stat/lstat/fstatat: the Vattr (Vattr.stat_dict() for struct stat)."""
    return _existing(ctx, dirvp, path, follow).getattr()


def kern_readlinkat(ctx, dirvp, path):
    vp = _existing(ctx, dirvp, path, follow=False)
    if vp.vtype != VLNK:
        raise KernelError(E.EINVAL)
    return vp.readlink()


def vn_statfs(vp):
    """struct statfs fields of the filesystem holding vp (see statfs_dict)."""
    return vp.statfs()


def kern_statfs(ctx, dirvp, path):
    return vn_statfs(_existing(ctx, dirvp, path))


def vn_chdir(ctx, vp):
    """The checks of chdir/fchdir/chroot: a directory we may search."""
    if vp.vtype != VDIR:
        raise KernelError(E.ENOTDIR)
    check_access(vp, ctx.cred, X_OK)
    return vp


def kern_chdir(ctx, dirvp, path):
    """chdir(2)/chroot(2): (the new directory vnode, its path)."""
    res = nlookup(ctx, dirvp, path)
    return vn_chdir(ctx, res.vp), res.path


# -- making names ----------------------------------------------------------
def _lookup_new(ctx, dirvp, path):
    """The parent and name where a new entry is to go; EEXIST if taken."""
    res = _parent(ctx, dirvp, path)
    if res.vp is not None or res.name in SPECIAL_NAMES:
        raise KernelError(E.EEXIST)
    _may_create(ctx, res.dvp)
    return res.dvp, res.name


def _entered(dvp, name, vp):
    vfs_cache.cache_enter(dvp, name, vp)
    return vp


def kern_mkdirat(ctx, dirvp, path, mode):
    dvp, name = _lookup_new(ctx, dirvp, path)
    uid, gid, sgid = _new_owner(ctx, dvp)
    mode = _create_mode(ctx, mode) | (S.S_ISGID if sgid else 0)
    return _entered(dvp, name, dvp.mkdir(name, mode, uid, gid))


def _mknod_type(ctx, mode):
    """Linux may_mknod: the vnode type a mknod mode asks for."""
    fmt = mode & S.S_IFMT
    vtype = VREG if fmt == 0 else iftovt(fmt)
    if vtype == VDIR:
        raise KernelError(E.EPERM)
    if vtype in (VCHR, VBLK) and ctx.cred.uid != 0:
        raise KernelError(E.EPERM)
    if vtype not in (VREG, VCHR, VBLK, VFIFO, VSOCK):
        raise KernelError(E.EINVAL)
    return vtype


def kern_mknodat(ctx, dirvp, path, mode, rdev=0):
    """mknod(2): regular files, FIFOs, sockets, and (root) devices."""
    vtype = _mknod_type(ctx, mode)
    dvp, name = _lookup_new(ctx, dirvp, path)
    uid, gid, _ = _new_owner(ctx, dvp)
    perm = _create_mode(ctx, mode)
    if vtype == VREG:
        vp = dvp.create(name, perm, uid, gid)
    else:
        vp = dvp.mknod(name, vtype, perm, rdev if vtype in (VCHR, VBLK) else 0, uid, gid)
    return _entered(dvp, name, vp)


def kern_symlinkat(ctx, target, dirvp, path):
    if not target:
        raise KernelError(E.ENOENT)
    if len(target.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise KernelError(E.ENAMETOOLONG)
    dvp, name = _lookup_new(ctx, dirvp, path)
    uid, gid, _ = _new_owner(ctx, dvp)
    return _entered(dvp, name, dvp.symlink(name, target, uid, gid))


def kern_linkat(ctx, odvp, opath, ndvp, npath, follow=False):
    """link(2)/linkat(2); follow is AT_SYMLINK_FOLLOW."""
    vp = _existing(ctx, odvp, opath, follow)
    if vp.vtype == VDIR:
        raise KernelError(E.EPERM)
    dvp, name = _lookup_new(ctx, ndvp, npath)
    if dvp.mount is not vp.mount:
        raise KernelError(E.EXDEV)
    dvp.link(vp, name)
    return _entered(dvp, name, vp)


# -- removing names ----------------------------------------------------------
def kern_unlinkat(ctx, dirvp, path, rmdir=False):
    """unlink(2), rmdir(2), unlinkat(2) (rmdir is AT_REMOVEDIR)."""
    res = _parent(ctx, dirvp, path)
    _check_removable(res, rmdir)
    vp, dvp = res.vp, res.dvp
    if rmdir and vp.vtype != VDIR:
        raise KernelError(E.ENOTDIR)
    if not rmdir and vp.vtype == VDIR:
        raise KernelError(E.EISDIR)
    _may_delete(ctx, dvp, vp)
    if _is_mount_root(vp):
        raise KernelError(E.EBUSY)
    (dvp.rmdir if rmdir else dvp.unlink)(res.name)
    vfs_cache.cache_purge(dvp, res.name, vp)


def _check_removable(res, rmdir):
    """The errors of removing '.', '..', '/' or a missing name."""
    if res.name == "/":
        raise KernelError(E.EBUSY if rmdir else E.EISDIR)
    if res.name in DOTS:
        if not rmdir:
            raise KernelError(E.EISDIR)
        raise KernelError(E.EINVAL if res.name == "." else E.ENOTEMPTY)
    if res.vp is None:
        raise KernelError(E.ENOENT)


def kern_renameat2(ctx, odvp, opath, ndvp, npath, flags=0):
    """rename(2)/renameat2(2) with RENAME_NOREPLACE or RENAME_EXCHANGE."""
    _check_rename_flags(flags)
    src = _parent(ctx, odvp, opath)
    dst = _parent(ctx, ndvp, npath)
    if src.name in SPECIAL_NAMES or dst.name in SPECIAL_NAMES:
        raise KernelError(E.EEXIST if flags & F.RENAME_NOREPLACE and
                          dst.name in SPECIAL_NAMES else E.EBUSY)
    if src.dvp.mount is not dst.dvp.mount:
        raise KernelError(E.EXDEV)
    if src.vp is None:
        raise KernelError(E.ENOENT)
    _check_rename_target(src.vp, dst.vp, flags)
    if dst.vp is src.vp:
        return                              # two names of one file: nothing to do
    _check_rename_access(ctx, src, dst)
    src.dvp.rename(src.name, dst.dvp, dst.name, flags)
    _rename_cache(src, dst, flags)


def _check_rename_flags(flags):
    if flags & ~_RENAME_FLAGS:
        raise KernelError(E.EINVAL)
    if flags & F.RENAME_EXCHANGE and flags & (F.RENAME_NOREPLACE | F.RENAME_WHITEOUT):
        raise KernelError(E.EINVAL)
    if flags & F.RENAME_WHITEOUT:
        raise KernelError(E.EINVAL)     # no filesystem of ours has whiteouts


def _check_rename_target(vp, tvp, flags):
    """Existence and type rules between source vp and target tvp."""
    if flags & F.RENAME_EXCHANGE and tvp is None:
        raise KernelError(E.ENOENT)
    if tvp is None or tvp is vp:
        return
    if flags & F.RENAME_NOREPLACE:
        raise KernelError(E.EEXIST)
    if flags & F.RENAME_EXCHANGE:
        return
    if vp.vtype == VDIR and tvp.vtype != VDIR:
        raise KernelError(E.ENOTDIR)
    if vp.vtype != VDIR and tvp.vtype == VDIR:
        raise KernelError(E.EISDIR)


def _check_rename_access(ctx, src, dst):
    for vp in (src.vp, dst.vp):
        if vp is not None and _is_mount_root(vp):
            raise KernelError(E.EBUSY)
    _may_delete(ctx, src.dvp, src.vp)
    if dst.vp is not None:
        _may_delete(ctx, dst.dvp, dst.vp)
    else:
        _may_create(ctx, dst.dvp)
    if src.dvp is dst.dvp:
        return
    for vp, tdvp in ((src.vp, dst.dvp), (dst.vp, src.dvp)):
        if vp is not None and vp.vtype == VDIR:
            check_access(vp, ctx.cred, W_OK)        # its '..' changes
            _check_not_below(vp, tdvp)


def _check_not_below(dirvp, tdvp):
    """EINVAL when tdvp is dirvp or inside it (a directory into itself)."""
    vp = tdvp
    while not _is_mount_root(vp):
        if vp is dirvp:
            raise KernelError(E.EINVAL)
        try:
            vp = vp.parent()
        except KernelError:
            return


def _rename_cache(src, dst, flags):
    if flags & F.RENAME_EXCHANGE:
        vfs_cache.cache_exchange(src.dvp, src.name, src.vp, dst.dvp, dst.name, dst.vp)
        return
    vfs_cache.cache_purge(dst.dvp, dst.name, dst.vp)
    vfs_cache.cache_enter(dst.dvp, dst.name, src.vp)
