"""hostfs: a host directory as a guest filesystem, confined to that directory.

    hostfs_vfsops.py  HostMount: the root descriptor, vget, statfs
    hostfs_vnops.py   HostVnode: the VOPs, by host *at() calls
    hostfs_meta.py    guest owner/mode/type kept in user.vkernel.meta xattrs
    hostfs_subr.py    name checks, errors, renameat2

Usage: root = HostMount("/path/to/rootfs"); MountTable(root).
"""
from .hostfs_vfsops import HostMount
from .hostfs_vnops import HostVnode

__all__ = ["HostMount", "HostVnode"]
