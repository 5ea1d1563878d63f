"""memfs: an in-memory filesystem (tmpfs), also behind memfd_create and devfs.

    memfs_vnops.py   MemNode: a file and its vnode in one object
    memfs_data.py    MemData: a regular file's bytes, in a host memfd once
                     mapped (coherent MAP_SHARED), and its memfd seals
    memfs_vfsops.py  MemMount (size accounting, statfs), memfd_create()

Linux counterpart: mm/shmem.c; FreeBSD: sys/fs/tmpfs.
"""
from .memfs_vfsops import MemMount, memfd_create
from .memfs_vnops import MemNode

__all__ = ["MemMount", "MemNode", "memfd_create"]
