"""Open vnodes as FileOps: read/write at the file offset, seek, getdents.

FreeBSD counterpart: sys/kern/vfs_vnops.c (vnops: vn_read, vn_write,
vn_seek via kern_lseek, vn_statfile, vn_truncate, vn_ioctl); Linux's are
generic_file_llseek, generic_file_read_iter and iterate_dir.

kern_openat (vfs_syscalls.py) wraps regular files and directories in a
VnodeFileOps; devices bring their own FileOps, and may derive from DevOps
so that fstat(2) reports the device node.  FIFOs are opened by whatever the
pipe layer installs with set_fifo_opener().
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import ioctl as IOC
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import FileOps

from .vnode import VDIR, VREG


class VnodeFileOps(FileOps):
    """A regular file or directory opened by name (struct fileops vnops)."""

    kind = "vnode"

    def __init__(self, vp):
        self.vp = vp
        self._dirents = None        # directory listing taken at dirpos 0

    def __repr__(self):
        return f"<VnodeFileOps {self.vp!r}>"

    def read(self, td, fp, n):
        data = self.vp.read(fp.offset, n)
        fp.offset += len(data)
        return data

    def write(self, td, fp, data):
        off = self._append_offset(fp, fp.offset)
        n = self.vp.write(off, data)
        fp.offset = off + n
        return n

    def pread(self, td, fp, n, off):
        if off < 0:
            raise KernelError(E.EINVAL)
        return self.vp.read(off, n)

    def pwrite(self, td, fp, data, off):
        if off < 0:
            raise KernelError(E.EINVAL)
        # Linux appends even for pwrite on an O_APPEND file (see pwrite(2) BUGS).
        return self.vp.write(self._append_offset(fp, off), data)

    def _append_offset(self, fp, off):
        if fp.flags & F.O_APPEND:
            return self.vp.getattr().size
        return off

    def seek(self, td, fp, off, whence):
        if self.vp.vtype == VDIR:
            return self._seekdir(fp, off, whence)
        size = self.vp.getattr().size
        if whence == F.SEEK_SET:
            new = off
        elif whence == F.SEEK_CUR:
            new = fp.offset + off
        elif whence == F.SEEK_END:
            new = size + off
        elif whence in (F.SEEK_DATA, F.SEEK_HOLE):
            if off < 0 or off >= size:
                raise KernelError(E.ENXIO)
            new = off if whence == F.SEEK_DATA else size   # no holes here
        else:
            raise KernelError(E.EINVAL)
        if new < 0:
            raise KernelError(E.EINVAL)
        fp.offset = new
        return new

    def _seekdir(self, fp, off, whence):
        """Directory offsets are entry indexes (rewinddir, seekdir)."""
        if whence == F.SEEK_CUR:
            off += fp.dirpos
        elif whence != F.SEEK_SET:
            raise KernelError(E.EINVAL)
        if off < 0:
            raise KernelError(E.EINVAL)
        if off == 0:
            self._dirents = None
        fp.dirpos = fp.offset = off
        return off

    def stat(self, td, fp):
        return self.vp.getattr().stat_dict()

    def truncate(self, td, fp, length):
        if length < 0 or not fp.writable or self.vp.vtype != VREG:
            raise KernelError(E.EINVAL)
        self.vp.setattr(size=length)
        return 0

    def fsync(self, td, fp):
        return self.vp.fsync()

    def getdents(self, td, fp):
        """[(ino, dtype, name)] from fp.dirpos on, '.' and '..' first.

        The caller packs what fits and advances fp.dirpos by that many
        entries; the listing is taken once per pass (at dirpos 0).
        """
        if self.vp.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        if self._dirents is None or fp.dirpos == 0:
            self._dirents = self._listing()
        return self._dirents[fp.dirpos:]

    def _listing(self):
        vp = self.vp
        ino = vp.getattr().ino
        try:
            pino = vp.parent().getattr().ino
        except KernelError:
            pino = ino
        ents = [(ino, S.DT_DIR, "."), (pino, S.DT_DIR, "..")]
        ents += [(i, dt, name) for name, i, dt in vp.readdir()]
        return ents

    def ioctl(self, td, fp, cmd, arg):
        """FIONREAD returns the count (the caller stores it at *arg)."""
        if cmd == IOC.FIONREAD and self.vp.vtype == VREG:
            return max(0, self.vp.getattr().size - fp.offset)
        raise KernelError(E.ENOTTY)


class DevOps(FileOps):
    """Base for device drivers opened through a device node.

    fstat(2) on the descriptor reports the node (fp.vnode), as Linux does.
    """

    kind = "dev"

    def stat(self, td, fp):
        if fp.vnode is None:
            raise KernelError(E.EINVAL)
        return fp.vnode.getattr().stat_dict()


def _no_fifos(vp, flags):
    raise KernelError(E.ENXIO)


_fifo_opener = _no_fifos


def set_fifo_opener(fn):
    """Install the pipe layer's `fn(vp, flags) -> FileOps` for named pipes.

    The opener keeps its per-FIFO state wherever it likes (a dict keyed by
    the vnode, or an attribute on it); vnodes are unique per file.
    """
    global _fifo_opener
    _fifo_opener = fn


def fifo_open(vp, flags):
    return _fifo_opener(vp, flags)
