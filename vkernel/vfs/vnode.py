"""Vnodes and their attributes: the interface every filesystem implements.

FreeBSD counterparts: sys/sys/vnode.h (struct vnode, struct vattr, enum
vtype) and the VOP_* operations of kern/vnode_if.src; Linux's are struct
inode and inode_operations.  A Vnode is one file of one mounted filesystem;
its methods are the VOPs.  They raise KernelError on failure and do no
permission checks: the callers in vfs_syscalls.py and namei.py do those, and
enforce read-only mounts, exactly as FreeBSD's kern_* / VOP_ACCESS split.

Identity: a filesystem hands out one Vnode object per file while anybody
holds it (`VnodeCache`, weak, per mount), so `vp1 is vp2` means "same file"
and vnodes can key dictionaries (the mount table does).

The name cache fields `v_parent` and `v_name` belong to vfs_cache.py.
"""
import dataclasses
import enum
import weakref

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError


class VType(enum.IntEnum):
    """enum vtype (sys/vnode.h)."""
    VNON = 0
    VREG = 1
    VDIR = 2
    VBLK = 3
    VCHR = 4
    VLNK = 5
    VSOCK = 6
    VFIFO = 7


VNON, VREG, VDIR, VBLK, VCHR, VLNK, VSOCK, VFIFO = tuple(VType)

_VT_IFMT = {
    VREG: S.S_IFREG, VDIR: S.S_IFDIR, VBLK: S.S_IFBLK, VCHR: S.S_IFCHR,
    VLNK: S.S_IFLNK, VSOCK: S.S_IFSOCK, VFIFO: S.S_IFIFO,
}
_IFMT_VT = {ifmt: vt for vt, ifmt in _VT_IFMT.items()}
_VT_DT = {
    VREG: S.DT_REG, VDIR: S.DT_DIR, VBLK: S.DT_BLK, VCHR: S.DT_CHR,
    VLNK: S.DT_LNK, VSOCK: S.DT_SOCK, VFIFO: S.DT_FIFO,
}

MODE_MASK = 0o7777          # permission bits plus setuid, setgid, sticky


def vttoif(vtype):
    """S_IF* bits of a vnode type (VTTOIF)."""
    return _VT_IFMT.get(vtype, 0)


def iftovt(mode):
    """Vnode type of an st_mode (IFTOVT); VNON when unknown."""
    return _IFMT_VT.get(mode & S.S_IFMT, VNON)


def vttodt(vtype):
    """d_type of a vnode type, for getdents."""
    return _VT_DT.get(vtype, S.DT_UNKNOWN)


def ns_to_ts(ns):
    """Nanoseconds since the epoch -> (sec, nsec)."""
    return divmod(ns, 1_000_000_000)


def ts_to_ns(ts):
    return ts[0] * 1_000_000_000 + ts[1]


@dataclasses.dataclass
class Vattr:
    """struct vattr: what stat(2) reports about a vnode."""
    type: VType
    mode: int = 0               # permission bits incl. setuid/setgid/sticky
    nlink: int = 1
    uid: int = 0
    gid: int = 0
    size: int = 0
    rdev: int = 0
    ino: int = 0
    dev: int = 0
    blksize: int = 4096
    blocks: int = 0             # 512-byte units
    atime: tuple = (0, 0)
    mtime: tuple = (0, 0)
    ctime: tuple = (0, 0)

    def st_mode(self):
        return vttoif(self.type) | (self.mode & MODE_MASK)

    def stat_dict(self):
        """The fields of Linux struct stat (FileOps.stat's result)."""
        return {
            "st_dev": self.dev, "st_ino": self.ino, "st_nlink": self.nlink,
            "st_mode": self.st_mode(), "st_uid": self.uid, "st_gid": self.gid,
            "st_rdev": self.rdev, "st_size": self.size,
            "st_blksize": self.blksize, "st_blocks": self.blocks,
            "st_atime": self.atime[0], "st_atime_nsec": self.atime[1],
            "st_mtime": self.mtime[0], "st_mtime_nsec": self.mtime[1],
            "st_ctime": self.ctime[0], "st_ctime_nsec": self.ctime[1],
        }


class Vnode:
    """One file of a mounted filesystem; subclasses implement the VOPs.

    `mount` is the Mount the vnode belongs to, `vtype` its VType (fixed for
    the vnode's life).  Directory operations take a single component
    `name`: never empty, never '.' or '..', never containing '/'; namei
    guarantees it and filesystems may rely on it.
    """

    def __init__(self, mount, vtype):
        self.mount = mount
        self.vtype = vtype
        self.v_parent = None    # name cache, see vfs_cache.py
        self.v_name = None

    def __repr__(self):
        return f"<{type(self).__name__} {self.vtype.name} {self.v_name!r}>"

    def _notdir(self):
        """The error for a directory operation this vnode cannot do."""
        return KernelError(E.ENOTDIR if self.vtype != VDIR else E.EOPNOTSUPP)

    def _nodata(self):
        """The error for a data operation this vnode cannot do."""
        return KernelError(E.EISDIR if self.vtype == VDIR else E.EINVAL)

    # -- attributes --------------------------------------------------------
    def getattr(self):
        raise KernelError(E.EOPNOTSUPP)

    def setattr(self, mode=None, uid=None, gid=None, size=None, atime=None, mtime=None):
        """Change the given attributes; times are (sec, nsec)."""
        raise KernelError(E.EOPNOTSUPP)

    def statfs(self):
        return self.mount.statfs()

    # -- data --------------------------------------------------------------
    def read(self, off, n):
        raise self._nodata()

    def write(self, off, data):
        raise self._nodata()

    def readlink(self):
        raise KernelError(E.EINVAL)

    def magiclink(self, cred):
        """A magic link's target (procfs fd/N, exe, cwd): the vnode it names.

        None for an ordinary symlink, whose readlink() text namei follows;
        otherwise namei continues from the returned vnode, as Linux's
        nd_jump_link does.  `cred` is the looker's (access checks).
        """
        return None

    def fsync(self):
        return 0

    def open_ops(self, flags):
        """A FileOps of the vnode's own (devices), or None for VnodeFileOps."""
        return None

    # -- directories -------------------------------------------------------
    def lookup(self, name):
        raise self._notdir()

    def parent(self):
        """The directory containing this one (namei's '..' below a mount root).

        The default trusts the name cache; a filesystem that knows better
        (memfs keeps real parent links) overrides it.
        """
        if self.v_parent is None:
            raise KernelError(E.ENOENT)
        return self.v_parent

    def readdir(self):
        """[(name, ino, dtype)] without '.' and '..'."""
        raise self._notdir()

    def create(self, name, mode, uid, gid):
        raise self._notdir()

    def mkdir(self, name, mode, uid, gid):
        raise self._notdir()

    def mknod(self, name, vtype, mode, rdev, uid, gid):
        raise self._notdir()

    def symlink(self, name, target, uid, gid):
        raise self._notdir()

    def link(self, vp, name):
        raise self._notdir()

    def unlink(self, name):
        raise self._notdir()

    def rmdir(self, name):
        raise self._notdir()

    def rename(self, name, tdvp, tname, flags):
        """Move `name` to `tname` in `tdvp` (same mount; checks done by caller).

        flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE.  The caller has
        already refused cross-mount renames, moving a directory below
        itself and replacing a directory by a non-directory or the reverse;
        the filesystem replaces an existing target (ENOTEMPTY for a
        non-empty directory).
        """
        raise self._notdir()


class VnodeCache:
    """Per-mount table from a filesystem's file key to its live Vnode.

    Weak, so a vnode lives exactly as long as something (an open file, a
    cwd, the mount table, the name cache of a live child) holds it.
    """

    def __init__(self):
        self._vnodes = weakref.WeakValueDictionary()

    def get(self, key):
        return self._vnodes.get(key)

    def put(self, key, vp):
        self._vnodes[key] = vp
        return vp

    def remove(self, key):
        self._vnodes.pop(key, None)

    def __len__(self):
        return len(self._vnodes)
