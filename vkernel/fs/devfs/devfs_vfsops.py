"""devfs: the /dev filesystem, where drivers appear as they register.

FreeBSD counterpart: sys/fs/devfs (devfs_vfsops.c, devfs_devs.c) with
kern_conf.c's make_dev/destroy_dev; Linux's is devtmpfs
(drivers/base/devtmpfs.c), whose name guests see in /proc/mounts.

A devfs is a memfs whose device nodes know their driver: make_dev() adds a
DevNode (its open_ops() calls the driver's factory) and registers the
driver by rdev in vfs_dev's table, so the same device opens through a node
made with mknod elsewhere.  Root may create, remove and rename nodes like
in any tmpfs; /dev/shm is such a writable directory.
"""
import itertools

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vfs_dev import cdev_register, cdev_unregister
from vkernel.abi.linux.stat import makedev
from vkernel.vfs.vnode import VCHR, VDIR

from ..memfs.memfs_vfsops import MemMount
from ..memfs.memfs_vnops import MemNode
from .devfs_devs import MEM_DEVICES, STD_SYMLINKS

DYN_MAJOR = 240             # Linux's "local/experimental" char majors start here
_dyn_minor = itertools.count(0)


class DevNode(MemNode):
    """A character device node made by make_dev (struct cdev + its vnode)."""

    ops_factory = None

    def open_ops(self, flags):
        return self.ops_factory(flags)


class DevfsMount(MemMount):
    """A /dev with the standard devices, or a bare one (standard=False)."""

    fstype = "devtmpfs"

    def __init__(self, source="devtmpfs", flags=0, standard=True):
        super().__init__(source, flags, mode=0o755, size_limit=64 << 20)
        if standard:
            self._populate()

    def _populate(self):
        for name, rdev, factory in MEM_DEVICES:
            self.make_dev(name, factory, rdev=rdev)
        for name, target in STD_SYMLINKS:
            self.make_symlink(name, target)
        self.make_dir("pts", 0o755)
        self.make_dir("shm", 0o1777)

    def _parent_of(self, path, create=True):
        """(directory node, last name) for a devfs-relative path "a/b/c"."""
        *dirs, leaf = [c for c in path.split("/") if c]
        dnode = self.root
        for name in dirs:
            node = dnode.entries.get(name)
            if node is None and create:
                node = dnode.mkdir(name, 0o755, 0, 0)
            if node is None or node.vtype != VDIR:
                raise KernelError(E.ENOENT if node is None else E.ENOTDIR)
            dnode = node
        return dnode, leaf

    def make_dev(self, name, ops_factory, mode=0o666, uid=0, gid=0, rdev=None,
                 vtype=VCHR):
        """Create /dev/NAME for a driver: `ops_factory(flags) -> FileOps`.

        NAME may name a subdirectory ("pts/0"); rdev defaults to a fresh
        dynamic number.  A character driver is registered by rdev here; a
        block device's (vtype VBLK) driver registers itself (bdev_register).
        Returns the node.
        """
        if rdev is None:
            rdev = makedev(DYN_MAJOR, next(_dyn_minor))
        dnode, leaf = self._parent_of(name)
        if leaf in dnode.entries:
            raise KernelError(E.EEXIST)
        node = DevNode(self, vtype, mode, uid, gid, rdev)
        node.ops_factory = ops_factory
        dnode._attach(leaf, node)
        if vtype == VCHR:
            cdev_register(rdev, ops_factory)
        return node

    def destroy_dev(self, name):
        """Remove a node made by make_dev (a pty closing, say)."""
        dnode, leaf = self._parent_of(name, create=False)
        node = dnode.lookup(leaf)
        dnode.unlink(leaf)
        if isinstance(node, DevNode) and node.vtype == VCHR:
            cdev_unregister(node.rdev, node.ops_factory)

    def make_symlink(self, name, target):
        dnode, leaf = self._parent_of(name)
        return dnode.symlink(leaf, target, 0, 0)

    def make_dir(self, name, mode=0o755, uid=0, gid=0):
        dnode, leaf = self._parent_of(name)
        return dnode.mkdir(leaf, mode, uid, gid)
