"""hostfs metadata: the guest's owner, mode, file type and rdev of host files.

No BSD/Linux file of its own; the idea is gVisor's and QEMU 9p's
"mapped" security model.  The host keeps a file's data; the kernel keeps
what the guest believes about it, in the extended attribute
`user.vkernel.meta` as the text "uid:gid:mode:rdev" (mode in octal, with
the S_IF* type bits).  A file without the attribute belongs to 0:0 with
its host permission bits.  Guest device nodes, FIFOs and sockets are empty
regular host files whose attribute carries the real type.

Where the host cannot store the attribute (no user xattrs on this
filesystem, a symlink, a file we may not change) a table in memory keyed by
the host (st_dev, st_ino) stands in; it lasts as long as the mount.

A directory that holds guest special files carries `user.vkernel.special`
so that readdir knows its regular-looking entries may not be regular.
"""
import collections
import errno as host_errno
import os

META_XATTR = "user.vkernel.meta"
SPECIAL_XATTR = "user.vkernel.special"
_UNSUPPORTED = (host_errno.ENOTSUP, host_errno.EOPNOTSUPP)

Meta = collections.namedtuple("Meta", "uid gid mode rdev")


def encode(meta):
    return b"%d:%d:%o:%d" % meta


def decode(raw):
    """Meta from the attribute's bytes; None when they make no sense."""
    try:
        uid, gid, mode, rdev = raw.split(b":")
        return Meta(int(uid), int(gid), int(mode, 8), int(rdev))
    except ValueError:
        return None


class MetaStore:
    """Where one hostfs mount keeps guest metadata."""

    def __init__(self):
        self.xattrs = True          # until the host says it has none
        self.table = {}             # (st_dev, st_ino) -> Meta
        self.special_dirs = set()   # keys of directories, when no xattrs

    def _get(self, path, name):
        if not self.xattrs or path is None:
            return None
        try:
            return os.getxattr(path, name)
        except OSError as e:
            if e.errno in _UNSUPPORTED:
                self.xattrs = False
            return None

    def _set(self, path, name, value):
        """Store an attribute; False when the host would not."""
        if not self.xattrs or path is None:
            return False
        try:
            os.setxattr(path, name, value)
            return True
        except OSError as e:
            if e.errno in _UNSUPPORTED:
                self.xattrs = False
            return False

    def load(self, key, path):
        """The Meta of a file, or None.  `path` is None for symlinks."""
        meta = self.table.get(key)
        if meta is None:
            raw = self._get(path, META_XATTR)
            meta = decode(raw) if raw is not None else None
        return meta

    def store(self, key, path, meta):
        if self._set(path, META_XATTR, encode(meta)):
            self.table.pop(key, None)
        else:
            self.table[key] = meta

    def forget(self, key):
        """The file is gone: its inode number may come back as another."""
        self.table.pop(key, None)

    def mark_special_dir(self, key, path):
        if not self._set(path, SPECIAL_XATTR, b"1"):
            self.special_dirs.add(key)

    def is_special_dir(self, key, path):
        return key in self.special_dirs or self._get(path, SPECIAL_XATTR) is not None
