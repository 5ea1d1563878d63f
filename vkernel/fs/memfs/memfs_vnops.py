"""memfs nodes: files, directories, symlinks and special files held in memory.

FreeBSD counterpart: sys/fs/tmpfs/tmpfs_vnops.c and tmpfs_subr.c (where a
tmpfs_node and its vnode are one object here); Linux's is mm/shmem.c.

A MemNode is its own vnode: the filesystem has no other copy of a file, so
vnode identity comes for free.  Directories hold their entries in a dict
and know their parent; a directory's link count is derived (2 + its
subdirectories, 0 once removed).  A regular file's bytes are a MemData
(memfs_data.py): kernel memory until the file is mapped, then a host memfd
that `host_fd` hands to mmap(2), so shared mappings are coherent.
"""
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vnode import (MODE_MASK, VDIR, VLNK, VREG, Vattr, Vnode,
                               ns_to_ts, vttodt)

from .memfs_data import MemData

DIRENT_SIZE = 20        # Linux shmem's BOGO_DIRENT_SIZE: a directory's "size"


def _now():
    return ns_to_ts(time.time_ns())


class MemNode(Vnode):
    """One in-memory file (tmpfs_node + vnode)."""

    def __init__(self, mount, vtype, mode, uid, gid, rdev=0):
        super().__init__(mount, vtype)
        self.ino = mount.alloc_ino()
        self.mode = mode & MODE_MASK
        self.uid, self.gid, self.rdev = uid, gid, rdev
        self.nlink = 0                  # links from directories (non-dirs)
        self.data = MemData() if vtype == VREG else None
        self.entries = {} if vtype == VDIR else None
        self.target = None              # symlink text
        self.dirparent = None           # directories: the containing one
        self.nsubdirs = 0
        self.removed = False
        self.atime = self.mtime = self.ctime = _now()
        if self.data is not None:
            mount.track(self)

    # -- attributes --------------------------------------------------------
    def getattr(self):
        return Vattr(type=self.vtype, mode=self.mode, nlink=self._nlink(),
                     uid=self.uid, gid=self.gid, size=self._size(),
                     rdev=self.rdev, ino=self.ino, dev=self.mount.dev,
                     blocks=self.data.blocks() if self.data is not None else 0,
                     atime=self.atime, mtime=self.mtime, ctime=self.ctime)

    def _nlink(self):
        if self.vtype != VDIR:
            return self.nlink
        return 0 if self.removed else 2 + self.nsubdirs

    def _size(self):
        if self.vtype == VREG:
            return self.data.size
        if self.vtype == VDIR:
            return (len(self.entries) + 2) * DIRENT_SIZE
        if self.vtype == VLNK:
            return len(self.target.encode("utf-8", "surrogateescape"))
        return 0

    def setattr(self, mode=None, uid=None, gid=None, size=None, atime=None, mtime=None):
        if size is not None:
            self._truncate(size)
        if mode is not None:
            self.mode = mode & MODE_MASK
        if uid is not None:
            self.uid = uid
        if gid is not None:
            self.gid = gid
        if atime is not None:
            self.atime = atime
        if mtime is not None:
            self.mtime = mtime
        self.ctime = _now()

    def _truncate(self, size):
        if self.vtype != VREG:
            raise self._nodata()
        self.data.check_truncate(size)
        self._resize(size, self.data.truncate, size)
        self.mtime = _now()

    def _resize(self, end, op, *args):
        """Run op(*args), which leaves the file `end` bytes long, with the
        mount's space for it: ENOSPC past the mount's size, then EFBIG past
        its largest file (a full tmpfs answers ENOSPC, as Linux's does)."""
        grow = end - self.data.size
        self.mount.reserve(max(0, grow))
        try:
            if end > self.mount.max_file:
                raise KernelError(E.EFBIG)
            result = op(*args)
        except KernelError:
            self.mount.reserve(-max(0, grow))
            raise
        if grow < 0:
            self.mount.reserve(grow)
        return result

    # -- data --------------------------------------------------------------
    def read(self, off, n):
        if self.vtype != VREG:
            raise self._nodata()
        self.atime = _now()
        return self.data.read(off, n)

    def write(self, off, data):
        if self.vtype != VREG:
            raise self._nodata()
        if not data:
            return 0
        self.data.check_write(off, len(data))
        n = self._resize(max(off + len(data), self.data.size), self.data.write, off, data)
        self.mtime = self.ctime = _now()
        return n

    def host_fd(self, write):
        """A host descriptor of this file's data for the kernel to map into a
        guest (the platform duplicates it; the file keeps ownership)."""
        if self.vtype != VREG:
            raise self._nodata()
        return self.data.host_fd(write)

    def readlink(self):
        if self.vtype != VLNK:
            raise KernelError(E.EINVAL)
        return self.target

    # -- directories -------------------------------------------------------
    def _dir(self):
        if self.vtype != VDIR:
            raise KernelError(E.ENOTDIR)

    def lookup(self, name):
        self._dir()
        node = self.entries.get(name)
        if node is None:
            raise KernelError(E.ENOENT)
        return node

    def parent(self):
        if self.vtype != VDIR or self.removed:
            raise KernelError(E.ENOENT)
        return self.dirparent or self

    def readdir(self):
        self._dir()
        return [(name, n.ino, vttodt(n.vtype)) for name, n in self.entries.items()]

    def _attach(self, name, node):
        self.entries[name] = node
        if node.vtype == VDIR:
            node.dirparent = self
            self.nsubdirs += 1
        else:
            node.nlink += 1
        node.ctime = self.mtime = self.ctime = _now()

    def _detach(self, name):
        node = self.entries.pop(name)
        if node.vtype == VDIR:
            self.nsubdirs -= 1
        else:
            node.nlink -= 1
        node.ctime = self.mtime = self.ctime = _now()
        return node

    def _new(self, name, vtype, mode, uid, gid, rdev=0):
        self._dir()
        if self.removed:
            raise KernelError(E.ENOENT)
        if name in self.entries:
            raise KernelError(E.EEXIST)
        node = self.mount.node_class(self.mount, vtype, mode, uid, gid, rdev)
        self._attach(name, node)
        return node

    def create(self, name, mode, uid, gid):
        return self._new(name, VREG, mode, uid, gid)

    def mkdir(self, name, mode, uid, gid):
        return self._new(name, VDIR, mode, uid, gid)

    def mknod(self, name, vtype, mode, rdev, uid, gid):
        return self._new(name, vtype, mode, uid, gid, rdev)

    def symlink(self, name, target, uid, gid):
        node = self._new(name, VLNK, 0o777, uid, gid)
        node.target = target
        return node

    def link(self, vp, name):
        self._dir()
        if vp.mount is not self.mount:
            raise KernelError(E.EXDEV)
        if vp.vtype == VDIR:
            raise KernelError(E.EPERM)
        if name in self.entries:
            raise KernelError(E.EEXIST)
        if vp.nlink == 0 and vp.vtype == VREG:
            raise KernelError(E.ENOENT)     # no resurrecting unlinked files
        self._attach(name, vp)

    def unlink(self, name):
        if self.lookup(name).vtype == VDIR:
            raise KernelError(E.EISDIR)
        self._detach(name)

    def rmdir(self, name):
        node = self.lookup(name)
        if node.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        if node.entries:
            raise KernelError(E.ENOTEMPTY)
        self._detach(name)
        node.removed = True
        node.dirparent = None

    def rename(self, name, tdvp, tname, flags):
        node = self.lookup(name)
        tdvp._dir()
        tnode = tdvp.entries.get(tname)
        if flags & F.RENAME_EXCHANGE:
            if tnode is None:
                raise KernelError(E.ENOENT)
            return self._exchange(name, tdvp, tname)
        if tnode is node:
            return
        if tnode is not None:
            if flags & F.RENAME_NOREPLACE:
                raise KernelError(E.EEXIST)
            if tnode.vtype == VDIR:         # the caller matched the types
                tdvp.rmdir(tname)
            else:
                tdvp._detach(tname)
        self._detach(name)
        tdvp._attach(tname, node)

    def _exchange(self, name, tdvp, tname):
        node, tnode = self._detach(name), tdvp._detach(tname)
        tdvp._attach(tname, node)
        self._attach(name, tnode)

