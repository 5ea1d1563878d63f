"""memfs mounts: tmpfs instances and the anonymous one behind memfd_create.

FreeBSD counterpart: sys/fs/tmpfs/tmpfs_vfsops.c (mount, statfs, the size
limit); Linux's is mm/shmem.c (shmem_fill_super, memfd's shm_mnt).

The mount counts the bytes its regular files hold, by their sizes (an
upper bound of what their host memfds can take, whatever guests store
through mappings): growing past `size_limit` is ENOSPC, one file past
`max_file` is EFBIG; statfs reports the same figures.  A file's bytes are
given back, and its host memfd closed, when the file itself goes away:
unlinked, closed and unmapped (the last reference to its MemNode dropped;
a guest's shared mapping holds its file, see vm_map.Entry.obj).
"""
import itertools
import weakref

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError
from vkernel.vfs.mount import Mount, statfs_dict
from vkernel.vfs.vnode import VDIR, VREG

from .memfs_vnops import MemNode

DEFAULT_SIZE = 1 << 30


class MemMount(Mount):
    """A tmpfs: everything in memory, gone at unmount."""

    fstype = "tmpfs"
    magic = S.TMPFS_MAGIC
    node_class = MemNode

    def __init__(self, source="tmpfs", flags=0, mode=0o1777, uid=0, gid=0,
                 size_limit=DEFAULT_SIZE, max_file=DEFAULT_SIZE):
        super().__init__(source, flags)
        self.size_limit, self.max_file = size_limit, max_file
        self.used = 0
        self._inos = itertools.count(1)
        self.root = self.node_class(self, VDIR, mode, uid, gid)

    def alloc_ino(self):
        return next(self._inos)

    def track(self, node):
        """Count `node`'s data until the node dies."""
        weakref.finalize(node, self._release, node.data)

    def _release(self, data):
        self.used -= data.size
        data.release()

    def reserve(self, delta):
        """Account for `delta` more bytes of file data (negative frees)."""
        if delta > 0 and self.used + delta > self.size_limit:
            raise KernelError(E.ENOSPC)
        self.used += delta

    def statfs(self):
        bsize = 4096
        blocks = self.size_limit // bsize
        free = max(0, blocks - (self.used + bsize - 1) // bsize)
        return statfs_dict(self, bsize, blocks=blocks, bfree=free, bavail=free,
                           files=1 << 20, ffree=(1 << 20) - 1)


_memfd_mount = None


def memfd_create(uid=0, gid=0):
    """An unnamed regular file for memfd_create(2); the caller opens it.

    It is linked nowhere; Linux shows its descriptor as "/memfd:NAME (deleted)",
    a path the caller gives the File.
    """
    global _memfd_mount
    if _memfd_mount is None:
        _memfd_mount = MemMount(source="memfd")
    return MemNode(_memfd_mount, VREG, 0o777, uid, gid)
