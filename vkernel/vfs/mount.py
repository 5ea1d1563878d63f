"""Mounted filesystems and the mount table.

FreeBSD counterparts: sys/sys/mount.h (struct mount, MNT_* flags) and
sys/kern/vfs_mount.c (mounting on a covered vnode, unmount, the mount list);
Linux's are struct vfsmount and fs/namespace.c, whose /proc/mounts format
`MountTable.list()` feeds.

A filesystem subclasses Mount, builds its root vnode in its constructor and
answers statfs(); one with a backing store also overrides sync(), remount()
and unmount() (VFS_SYNC, the MNT_UPDATE half of VFS_MOUNT, VFS_UNMOUNT).  The MountTable records which vnode each mount covers;
namei asks it `covering(vp)` to cross mount points downward, and uses
`mnt.covered` to cross them upward on '..'.
"""
import itertools

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError

from .vfs_cache import vn_fullpath
from .vnode import VDIR, VnodeCache

# Mount flags: our own (struct mount's mnt_flag); the values are Linux's
# MS_* and ST_* alike, so mount(2) passes them in and statfs(2) out.
MNT_RDONLY = 0x1
MNT_NOSUID = 0x2
MNT_NODEV = 0x4
MNT_NOEXEC = 0x8

_FLAG_NAMES = ((MNT_NOSUID, "nosuid"), (MNT_NODEV, "nodev"), (MNT_NOEXEC, "noexec"))

_anon_minor = itertools.count(16)


def anon_dev():
    """A fresh device number for a filesystem with no disk (Linux's 0:N)."""
    return S.makedev(0, next(_anon_minor))


class Mount:
    """One mounted filesystem (struct mount).

    Subclasses set `self.root`.  `covered` and `path` are set by
    MountTable.mount; the root filesystem covers nothing.
    """

    fstype = "none"
    magic = 0

    def __init__(self, source="none", flags=0, dev=None):
        self.source = source
        self.flags = flags
        self.dev = anon_dev() if dev is None else dev
        self.root = None
        self.covered = None
        self.path = "/"
        self.vcache = VnodeCache()

    def __repr__(self):
        return f"<{type(self).__name__} {self.source} on {self.path}>"

    @property
    def readonly(self):
        return bool(self.flags & MNT_RDONLY)

    def check_writable(self):
        """EROFS unless the mount may be changed."""
        if self.flags & MNT_RDONLY:
            raise KernelError(E.EROFS)

    def options(self):
        """The options column of /proc/mounts."""
        opts = ["ro" if self.readonly else "rw"]
        opts += [name for bit, name in _FLAG_NAMES if self.flags & bit]
        return ",".join(opts)

    def statfs(self):
        """struct statfs fields; filesystems override with real numbers."""
        return statfs_dict(self, bsize=4096)

    # What a filesystem with a backing store overrides (ext2); the rest
    # keep nothing to write back.
    def sync(self):
        """sync(2)/syncfs(2): make everything written so far durable."""

    def remount(self, flags):
        """MS_REMOUNT: the new mount flags (a filesystem going read-only
        writes back first)."""
        self.flags = flags

    def unmount(self):
        """The mount is gone from the table: write back and release the device."""


def statfs_dict(mnt, bsize, blocks=0, bfree=0, bavail=0, files=0, ffree=0,
                namelen=255):
    """The fields of Linux struct statfs for `mnt`."""
    return {
        "f_type": mnt.magic, "f_bsize": bsize, "f_blocks": blocks,
        "f_bfree": bfree, "f_bavail": bavail, "f_files": files,
        "f_ffree": ffree, "f_fsid": (mnt.dev & 0xFFFFFFFF, mnt.dev >> 32),
        "f_namelen": namelen, "f_frsize": bsize, "f_flags": mnt.flags | S.ST_VALID,
    }


class MountTable:
    """The mounts of one namespace, rooted at `root` (the / filesystem)."""

    def __init__(self, root):
        self.root = root
        self._mounts = [root]
        self._on = {}            # covered vnode -> mounts, most recent last

    def mount(self, vp, mnt, path=None):
        """Mount `mnt` on the directory `vp`; `path` is its name for /proc.

        Mounting twice on a vnode stacks the mounts; the newest is visible.
        """
        if vp.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        if mnt in self._mounts:
            raise KernelError(E.EBUSY)
        mnt.covered = vp
        mnt.path = path if path is not None else self._path_of(vp)
        self._on.setdefault(vp, []).append(mnt)
        self._mounts.append(mnt)
        return mnt

    def _path_of(self, vp):
        try:
            return vn_fullpath(vp, self.root.root)
        except KernelError:
            return "?"

    def unmount(self, mnt):
        """EBUSY for the root and for a mount that has mounts below it."""
        if mnt is self.root or mnt not in self._mounts:
            raise KernelError(E.EINVAL if mnt not in self._mounts else E.EBUSY)
        if any(m.covered is not None and m.covered.mount is mnt for m in self._mounts):
            raise KernelError(E.EBUSY)
        stack = self._on[mnt.covered]
        stack.remove(mnt)
        if not stack:
            del self._on[mnt.covered]
        self._mounts.remove(mnt)
        mnt.covered = None

    def covering(self, vp):
        """The mount visible on `vp`, or None when `vp` is no mount point."""
        stack = self._on.get(vp)
        return stack[-1] if stack else None

    def traverse(self, vp):
        """Cross mount points downward: the vnode seen at `vp`'s place."""
        mnt = self.covering(vp)
        while mnt is not None:
            vp = mnt.root
            mnt = self.covering(vp)
        return vp

    def mounts(self):
        return list(self._mounts)

    def find(self, path):
        """The most recent mount whose mount point is `path`, or None."""
        for mnt in reversed(self._mounts):
            if mnt.path == path:
                return mnt
        return None

    def list(self):
        """[(source, target path, fstype, options)] in mount order."""
        return [(m.source, m.path, m.fstype, m.options()) for m in self._mounts]
