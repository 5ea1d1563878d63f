"""/proc/PID/fd and /proc/PID/fdinfo: a process's open files.

Linux counterpart: fs/proc/fd.c (proc_fd_link, proc_readfd, the fdinfo
seq_file) and fs/d_path.c for the names of files that have no path
("pipe:[ino]", "anon_inode:[eventfd]", "... (deleted)").

fd/N is a magic link: namei goes to the open file's vnode itself, so
opening /proc/self/fd/0 reopens the same file (a pipe reopens as a new end
of the same pipe, like Linux's fifo reopen), and nothing is looked up by
name again.  A link names whatever descriptor N is when it is used.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.kernel.errors import KernelError
from vkernel.kernel.sys_pipe import PipeEnd
from vkernel.vfs.vfs_cache import vn_fullpath
from vkernel.vfs.vnode import VFIFO, Vattr, Vnode, iftovt

from .procfs_subr import check_ptrace, curcred, reader_root
from .procfs_vnops import PfsDir, PfsFile, PfsMagicLink


def _fdtable(node):
    p = node.proc
    if p.p_fd is None or p.p_stat == "SZOMB":
        return {}
    return p.p_fd.files


def _file(node, fd):
    fp = _fdtable(node).get(fd)
    if fp is None:
        raise KernelError(E.ENOENT)
    return fp


def file_path(fp):
    """What readlink of fd/N says: the guest path, or a Linux-style label."""
    vp = fp.vnode
    if vp is not None and not isinstance(vp, OpenFileNode):
        try:
            return vn_fullpath(vp, reader_root())
        except KernelError:
            if fp.path.startswith("/") and not fp.path.endswith(" (deleted)"):
                return fp.path + " (deleted)"
    if isinstance(vp, OpenFileNode):
        return vp.label
    return fp.path or f"anon_inode:[{fp.ops.kind}]"


def _fstat(fp):
    """fp's struct stat fields; {} when its kind has none."""
    try:
        return fp.ops.stat(None, fp)
    except KernelError:
        return {}


class OpenFileNode(Vnode):
    """The vnode an fd link leads to when the file has none (a pipe, an
    eventfd): stat shows the file, open reopens a pipe (others: ENXIO)."""

    def __init__(self, mount, fp, owner):
        st = _fstat(fp)
        super().__init__(mount, iftovt(st.get("st_mode", 0)))
        self.st, self.owner = st, owner
        self.label = fp.path or f"anon_inode:[{fp.ops.kind}]"
        self.pipe = fp.ops.pipe if isinstance(fp.ops, PipeEnd) else None

    def getattr(self):
        st = self.st
        return Vattr(type=self.vtype, mode=st.get("st_mode", 0) & 0o7777,
                     nlink=st.get("st_nlink", 1), uid=self.owner[0], gid=self.owner[1],
                     size=st.get("st_size", 0), rdev=st.get("st_rdev", 0),
                     ino=st.get("st_ino", 0), dev=st.get("st_dev", 0),
                     blksize=st.get("st_blksize", 4096))

    def open_ops(self, flags):
        if self.pipe is None or self.vtype != VFIFO:
            raise KernelError(E.ENXIO)
        return PipeEnd(self.pipe, (flags & F.O_ACCMODE) != F.O_RDONLY)


def _fd_vnode(node):
    fp = _file(node, node.fd)
    if fp.vnode is not None:
        return fp.vnode
    return OpenFileNode(node.mount, fp, node.owner())


def _fd_target(node):
    return file_path(_file(node, node.fd))


class FdLink(PfsMagicLink):
    """/proc/PID/fd/N; its mode shows how the file is open (lrwx------)."""

    def __init__(self, mount, key, parent, fd):
        super().__init__(mount, key, _fd_target, _fd_vnode, parent, 0)
        self.fd = fd

    def getattr(self):
        va = super().getattr()
        fp = _fdtable(self).get(self.fd)
        va.mode = 0
        if fp is not None and fp.readable:
            va.mode |= 0o500
        if fp is not None and fp.writable:
            va.mode |= 0o300
        return va


class _FdDirBase(PfsDir):
    def names(self):
        check_ptrace(curcred(), self.proc)
        return [str(fd) for fd in sorted(_fdtable(self))]

    def _fd(self, name):
        if not name.isdigit() or str(int(name)) != name:
            raise KernelError(E.ENOENT)
        fd = int(name)
        _file(self, fd)
        return fd


class FdDir(_FdDirBase):
    """/proc/PID/fd: a magic link per open descriptor."""

    def child(self, name):
        fd = self._fd(name)
        key = self.key + (name,)
        return self.cached(name, lambda: FdLink(self.mount, key, self, fd))


def _fdinfo(node):
    fp = _file(node, node.fd)
    vp = fp.vnode
    ino = vp.getattr().ino if vp is not None else _fstat(fp).get("st_ino", 0)
    flags = fp.flags | (F.O_CLOEXEC if node.fd in node.proc.p_fd.cloexec else 0)
    return (f"pos:\t{fp.offset}\nflags:\t0{flags:o}\nmnt_id:\t0\nino:\t{ino}\n").encode()


class FdinfoDir(_FdDirBase):
    """/proc/PID/fdinfo: offset, flags and inode of each descriptor."""

    def child(self, name):
        fd = self._fd(name)
        key = self.key + (name,)

        def make():
            f = PfsFile(self.mount, key, _fdinfo, 0o444, self)
            f.fd = fd
            return f
        return self.cached(name, make)
