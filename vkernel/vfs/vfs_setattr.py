"""The VFS workers that change or test attributes: chmod, chown, utimens,
truncate, access.

FreeBSD counterpart: the setfmode/setfown/setutimes/kern_truncate/
kern_accessat part of sys/kern/vfs_syscalls.c; the rules are Linux's
(fs/attr.c setattr_prepare and notify_change, fs/open.c chmod_common,
chown_common, do_faccessat, vfs_truncate, fs/utimes.c).

Each kern_* looks its path up and calls the vn_* form, which the f*()
calls (fchmod, fchown, futimens, ftruncate) use directly.  See
vfs_syscalls.py for `ctx`.
"""
import collections
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError

from .namei import W_OK, access_ok, check_access, nlookup
from .vnode import MODE_MASK, VDIR, VLNK, VREG, ns_to_ts

NOW = "now"     # vn_utimens: UTIME_NOW (None is UTIME_OMIT)

_Ids = collections.namedtuple("_Ids", "uid gid groups")


def _owner_or_root(cred, va):
    return cred.uid == 0 or cred.uid == va.uid


def _in_group(cred, gid):
    return gid == cred.gid or gid in cred.groups


# -- chmod ---------------------------------------------------------------
def vn_chmod(ctx, vp, mode):
    """fchmod(2): owner or root; a non-member loses setgid silently."""
    vp.mount.check_writable()
    va = vp.getattr()
    if not _owner_or_root(ctx.cred, va):
        raise KernelError(E.EPERM)
    if vp.vtype == VLNK:
        raise KernelError(E.EOPNOTSUPP)
    mode &= MODE_MASK
    if ctx.cred.uid != 0 and not _in_group(ctx.cred, va.gid):
        mode &= ~S.S_ISGID
    vp.setattr(mode=mode)


def kern_chmod(ctx, dirvp, path, mode, follow=True):
    vn_chmod(ctx, nlookup(ctx, dirvp, path, follow).vp, mode)


# -- chown ---------------------------------------------------------------
def vn_chown(ctx, vp, uid, gid):
    """fchown(2); uid or gid -1 (or None) leaves it unchanged."""
    uid = None if uid in (-1, None) else uid
    gid = None if gid in (-1, None) else gid
    vp.mount.check_writable()
    va = vp.getattr()
    _check_chown(ctx.cred, va, uid, gid)
    mode = None
    if (uid is not None or gid is not None) and vp.vtype not in (VDIR, VLNK):
        mode = _kill_suid(va.mode)
    vp.setattr(uid=uid, gid=gid, mode=mode)


def _check_chown(cred, va, uid, gid):
    """Linux chown_ok/chgrp_ok: only root gives files away."""
    if cred.uid == 0:
        return
    if uid is not None and (cred.uid != va.uid or uid != va.uid):
        raise KernelError(E.EPERM)
    if gid is not None and (cred.uid != va.uid or
                            (gid != va.gid and not _in_group(cred, gid))):
        raise KernelError(E.EPERM)


def _kill_suid(mode):
    """chown clears setuid, and setgid when it means set-group-ID execution."""
    mode &= ~S.S_ISUID
    if mode & S.S_IXGRP:
        mode &= ~S.S_ISGID
    return mode


def kern_chown(ctx, dirvp, path, uid, gid, follow=True):
    vn_chown(ctx, nlookup(ctx, dirvp, path, follow).vp, uid, gid)


# -- utimens -------------------------------------------------------------
def vn_utimens(ctx, vp, atime, mtime):
    """futimens(2).  Each time is (sec, nsec), NOW or None (omit).

    Explicit times need the owner (EPERM); "now" also write access (EACCES).
    """
    if atime is None and mtime is None:
        return
    vp.mount.check_writable()
    va = vp.getattr()
    if not _owner_or_root(ctx.cred, va):
        if atime not in (NOW, None) or mtime not in (NOW, None):
            raise KernelError(E.EPERM)
        check_access(vp, ctx.cred, W_OK)
    now = ns_to_ts(time.time_ns())
    vp.setattr(atime=now if atime == NOW else atime,
               mtime=now if mtime == NOW else mtime)


def kern_utimens(ctx, dirvp, path, atime, mtime, follow=True):
    vn_utimens(ctx, nlookup(ctx, dirvp, path, follow).vp, atime, mtime)


# -- truncate ------------------------------------------------------------
def vn_truncate(ctx, vp, length):
    """truncate(2) after lookup (ftruncate goes through the FileOps)."""
    if length < 0:
        raise KernelError(E.EINVAL)
    if vp.vtype == VDIR:
        raise KernelError(E.EISDIR)
    if vp.vtype != VREG:
        raise KernelError(E.EINVAL)
    vp.mount.check_writable()
    check_access(vp, ctx.cred, W_OK)
    vp.setattr(size=length)


def kern_truncate(ctx, dirvp, path, length):
    if length < 0:
        raise KernelError(E.EINVAL)
    vn_truncate(ctx, nlookup(ctx, dirvp, path).vp, length)


# -- access --------------------------------------------------------------
def kern_accessat(ctx, dirvp, path, mode, flags=0):
    """access(2)/faccessat2(2): the real ids unless AT_EACCESS.

    mode is F_OK (0) or R_OK|W_OK|X_OK; AT_SYMLINK_NOFOLLOW tests a link.
    """
    if mode & ~7 or flags & ~(F.AT_EACCESS | F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL)
    cred = ctx.cred
    if not flags & F.AT_EACCESS:
        cred = _Ids(getattr(cred, "ruid", cred.uid), getattr(cred, "rgid", cred.gid),
                    cred.groups)
    follow = not flags & F.AT_SYMLINK_NOFOLLOW
    vp = nlookup(ctx, dirvp, path, follow, cred=cred).vp
    vn_access(vp, cred, mode)


def vn_access(vp, cred, mode):
    """The test itself (also for faccessat2 with AT_EMPTY_PATH)."""
    if mode & W_OK and vp.vtype in (VREG, VDIR, VLNK):
        vp.mount.check_writable()
    if not access_ok(vp.getattr(), cred, mode):
        raise KernelError(E.EACCES)
