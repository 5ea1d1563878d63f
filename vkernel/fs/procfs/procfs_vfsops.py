"""The procfs mount: root directory, inode numbers, one vnode per node.

FreeBSD counterpart: sys/fs/procfs/procfs.c (procfs_init, the mount) over
pseudofs_vfsops.c; Linux's is fs/proc/root.c (proc_fill_super).

Inode numbers are derived from node keys, so a name keeps its number while
it exists, and the directory of a new process that reuses a pid gets a new
one (the key holds a token of the process it shows).
"""
import hashlib
import time

from vkernel.abi.linux import stat as S
from vkernel.vfs.mount import Mount, statfs_dict
from vkernel.vfs.vnode import ns_to_ts

PROC_ROOT_INO = 1


class ProcMount(Mount):
    """A mounted /proc (mount -t proc proc /proc)."""

    fstype = "proc"
    magic = S.PROC_SUPER_MAGIC

    def __init__(self, source="proc", flags=0):
        super().__init__(source, flags)
        self.mtime = ns_to_ts(time.time_ns())
        from .procfs_root import ProcRoot
        self.root = ProcRoot(self)

    def key_ino(self, key):
        if not key:
            return PROC_ROOT_INO
        digest = hashlib.blake2b(repr(key).encode(), digest_size=4).digest()
        return max(2, int.from_bytes(digest, "little"))

    def node(self, key, make):
        """The live vnode for `key`, made by make() when there is none."""
        vp = self.vcache.get(key)
        if vp is None or vp.stale():
            vp = self.vcache.put(key, make())
        return vp

    def statfs(self):
        return statfs_dict(self, bsize=4096)
