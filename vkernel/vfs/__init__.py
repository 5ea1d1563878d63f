"""The virtual file system: vnodes, mounts, name lookup and the VFS workers.

Layers, each using only the ones above it in this list:

    vnode.py         Vattr, Vnode (the VOP interface), the per-mount vnode cache
    vfs_cache.py     the name cache: a vnode's parent and name, vn_fullpath
    mount.py         Mount, MountTable (covered vnodes, /proc/mounts)
    namei.py         path -> vnode (FreeBSD vfs_lookup.c, Linux fs/namei.c)
    vfs_dev.py       devices by rdev: cdevsw (character), bdevsw (block: disks)
    vfs_bio.py       the buffer cache over block devices (disk image files)
    vfs_vnops.py     VnodeFileOps: an open vnode as a FileOps (vfs_vnops.c)
    vfs_setattr.py   kern_chmod, kern_chown, kern_utimens, kern_truncate, access
    vfs_syscalls.py  kern_openat, kern_statat, ... called by sys_* handlers
                     (re-exports vfs_setattr's workers)

Filesystems (vkernel.fs.*) subclass Vnode and Mount.

May import: vkernel.abi, vkernel.kernel.errors, vkernel.kernel.file,
vkernel.kernel.msgbuf (vfs_bio's I/O error lines).
Never imports vkernel.fs, vkernel.syscalls or the platform.
"""
