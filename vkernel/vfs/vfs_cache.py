"""The name cache: which directory and name a vnode was last reached by.

FreeBSD counterpart: sys/kern/vfs_cache.c (cache_enter, cache_purge,
vn_fullpath); Linux's is the dentry cache (d_parent, d_name, d_path).
Ours is smaller: each vnode remembers one (parent, name) pair in its
`v_parent`/`v_name` fields.  namei enters every component it looks up,
the workers in vfs_syscalls.py enter what they create and purge what they
remove, so the entry of a directory is always right (directories have one
name) and that of a file is its most recently used link.

vn_fullpath walks these entries upward, crossing from a mount's root to the
vnode it covers, until it meets the caller's root directory.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError

MAXDEPTH = 2048     # more levels than fit in PATH_MAX; guards cache loops


def cache_enter(dvp, name, vp):
    """Record that `name` in directory `dvp` is `vp`."""
    if vp is not dvp:
        vp.v_parent = dvp
        vp.v_name = name


def cache_purge(dvp, name, vp):
    """Forget `vp`'s entry if it is `name` in `dvp` (the link is gone)."""
    if vp is not None and vp.v_parent is dvp and vp.v_name == name:
        vp.v_parent = None
        vp.v_name = None


def cache_exchange(dvp, name, vp, tdvp, tname, tvp):
    """RENAME_EXCHANGE swapped `vp` (dvp/name) and `tvp` (tdvp/tname)."""
    cache_enter(tdvp, tname, vp)
    cache_enter(dvp, name, tvp)


def vn_fullpath(vp, root):
    """Absolute path of `vp` as seen from the directory `root` (getcwd).

    ENOENT when `vp` was removed or cannot be reached from `root` (it lies
    outside a chroot, or the cache has no entry for one of its ancestors).
    """
    names = []
    for _ in range(MAXDEPTH):
        if vp is root:
            return "/" + "/".join(reversed(names))
        mnt = vp.mount
        if vp is mnt.root:
            if mnt.covered is None:
                break
            vp = mnt.covered
            continue
        if vp.v_parent is None:
            break
        names.append(vp.v_name)
        vp = vp.v_parent
    raise KernelError(E.ENOENT)
