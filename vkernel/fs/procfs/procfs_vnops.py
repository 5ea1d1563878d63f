"""procfs nodes: directories, generated files, symlinks and magic links.

FreeBSD counterpart: sys/fs/pseudofs (the pfs_node kinds pfstype_dir,
pfstype_file, pfstype_symlink, pfstype_procdir and pseudofs_vnops.c);
Linux's are fs/proc/generic.c, the pid_entry tables of fs/proc/base.c and
seq_file (text generated when read from offset 0).

A node's identity is its `key`, a tuple naming it from the mount root
(("pid", 42, token, "fd", "3")); the mount hands out one vnode per key and
derives the inode number from it.  Nodes at and below /proc/PID hold their
process (and thread) weakly: once it is reaped, or its pid names another
process, they are stale and every operation on them is ENOENT.

Permissions are plain modes owned by the process's effective ids, so the
VFS's usual checks give Linux's rules (environ 0400, fd/ 0500); magic
links also want ptrace access to the process (procfs_subr.may_ptrace).
"""
import weakref

from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_proc
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vfs_vnops import VnodeFileOps
from vkernel.vfs.vnode import VDIR, VLNK, VREG, Vattr, Vnode, ns_to_ts, vttodt

from .procfs_subr import check_ptrace, curcred

ENOENT = E.ENOENT


class PfsNode(Vnode):
    """Common part of every procfs node: key, inode, mode, owner process."""

    def __init__(self, mount, vtype, key, mode, parent=None, proc=None, lwp=None):
        super().__init__(mount, vtype)
        self.key = key
        self.ino = mount.key_ino(key)
        self.mode = mode
        self.dparent = parent
        self._proc = weakref.ref(proc) if proc is not None else getattr(parent, "_proc", None)
        self._lwp = weakref.ref(lwp) if lwp is not None else getattr(parent, "_lwp", None)

    # -- the process shown ---------------------------------------------------------
    @property
    def proc(self):
        """The process this node shows (None above /proc/PID); ENOENT once gone."""
        if self._proc is None:
            return None
        p = self._proc()
        if p is None or kern_proc.allproc.get(p.p_pid) is not p:
            raise KernelError(ENOENT)
        return p

    @property
    def lwp(self):
        """The thread of a /proc/PID/task/TID node, else None; ENOENT once gone."""
        if self._lwp is None:
            return None
        td = self._lwp()
        if td is None or not td.is_live():
            raise KernelError(ENOENT)
        return td

    def thread(self):
        """The thread whose state the node shows: its own, or the main one."""
        td = self.lwp
        return td if td is not None else self.proc.main_lwp()

    def check(self):
        """ENOENT when the process (or thread) shown is gone."""
        if self._lwp is not None:
            self.lwp
        elif self._proc is not None:
            self.proc

    def stale(self):
        try:
            self.check()
            return False
        except KernelError:
            return True

    # -- attributes ------------------------------------------------------------------
    def owner(self):
        p = self.proc
        if p is None or not p.p_dumpable:
            return 0, 0
        return p.p_ucred.uid, p.p_ucred.gid

    def _time(self):
        p = self.proc
        if p is None:
            return self.mount.mtime
        return ns_to_ts(int(p.p_start * 1_000_000_000))

    def nlink(self):
        return 1

    def getattr(self):
        uid, gid = self.owner()
        t = self._time()
        return Vattr(type=self.vtype, mode=self.mode, nlink=self.nlink(), uid=uid,
                     gid=gid, size=0, ino=self.ino, dev=self.mount.dev, blksize=1024,
                     atime=t, mtime=t, ctime=t)

    def setattr(self, mode=None, uid=None, gid=None, size=None, atime=None, mtime=None):
        if mode is None and uid is None and gid is None and atime is None and mtime is None:
            return          # truncating a writable file: writes replace it anyway
        raise KernelError(E.EPERM)

    def parent(self):
        return self.dparent if self.dparent is not None else self


class PfsDir(PfsNode):
    """A directory; subclasses say which names it has and make the children."""

    def __init__(self, mount, key, mode=0o555, parent=None, proc=None, lwp=None):
        super().__init__(mount, VDIR, key, mode, parent, proc, lwp)

    def names(self):
        """Child names, in listing order."""
        return []

    def child(self, name):
        """The vnode of `name` (through the mount's cache), or ENOENT."""
        raise KernelError(ENOENT)

    def nsubdirs(self):
        return 0

    def nlink(self):
        return 2 + self.nsubdirs()

    def lookup(self, name):
        self.check()
        return self.child(name)

    def readdir(self):
        out = []
        for name in self.names():
            try:
                vp = self.lookup(name)
            except KernelError:
                continue    # exited while we listed
            out.append((name, vp.ino, vttodt(vp.vtype)))
        return out

    def cached(self, name, make):
        """The child `name`, made by make() unless a live one exists."""
        return self.mount.node(self.key + (name,), make)


class Ent:
    """One entry of a TableDir: make(dir, name) builds the node."""

    def __init__(self, make, isdir=False):
        self.make, self.isdir = make, isdir


class TableDir(PfsDir):
    """A directory with a fixed table of entries (Linux's pid_entry arrays)."""

    table = {}          # name -> Ent

    def names(self):
        return list(self.table)

    def nsubdirs(self):
        return sum(1 for n in self.names() if self.table[n].isdir)

    def child(self, name):
        if name not in self.names():
            raise KernelError(ENOENT)
        ent = self.table[name]
        return self.cached(name, lambda: ent.make(self, name))


class PfsFile(PfsNode):
    """A file whose text gen(node) -> bytes makes; store(node, data, cred) writes."""

    def __init__(self, mount, key, gen, mode=0o444, parent=None, store=None):
        super().__init__(mount, VREG, key, mode, parent)
        self.gen, self.store = gen, store

    def text(self):
        self.check()
        return self.gen(self)

    def read(self, off, n):
        return self.text()[off:off + n]

    def write(self, off, data):
        if self.store is None:
            raise KernelError(E.EIO)
        self.check()
        self.store(self, bytes(data), curcred())
        return len(data)

    def open_ops(self, flags):
        return PfsFileOps(self)


class PfsFileOps(VnodeFileOps):
    """An open procfs file: its text is made when read at offset 0 and kept
    for the reads that follow, so a reader sees one consistent snapshot."""

    def __init__(self, vp):
        super().__init__(vp)
        self._text = None

    def read(self, td, fp, n):
        if self._text is None or fp.offset == 0:
            self._text = self.vp.text()
        data = self._text[fp.offset:fp.offset + n]
        fp.offset += len(data)
        return data

    def write(self, td, fp, data):
        n = self.vp.write(fp.offset, data)
        fp.offset += n
        return n


class PfsLink(PfsNode):
    """A symlink whose text target(node) -> str gives (/proc/self)."""

    def __init__(self, mount, key, target, parent=None, mode=0o777):
        super().__init__(mount, VLNK, key, mode, parent)
        self.target = target

    def readlink(self):
        self.check()
        return self.target(self)


class PfsMagicLink(PfsLink):
    """exe, cwd, root, fd/N: namei jumps to jump(node) -> vnode; readlink
    gives its guest path.  Both need ptrace access to the process."""

    def __init__(self, mount, key, target, jump, parent=None, mode=0o777):
        super().__init__(mount, key, target, parent, mode)
        self.jump = jump

    def readlink(self):
        check_ptrace(curcred(), self.proc)
        return self.target(self)

    def magiclink(self, cred):
        check_ptrace(cred, self.proc)
        vp = self.jump(self)
        if vp is None:
            raise KernelError(ENOENT)
        return vp


# -- table entries -------------------------------------------------------------------
def file_ent(gen, mode=0o444, store=None):
    return Ent(lambda d, name: PfsFile(d.mount, d.key + (name,), gen, mode, d, store))


def link_ent(target):
    return Ent(lambda d, name: PfsLink(d.mount, d.key + (name,), target, d))


def magic_ent(target, jump):
    return Ent(lambda d, name: PfsMagicLink(d.mount, d.key + (name,), target, jump, d))


def dir_ent(cls, **kw):
    return Ent(lambda d, name: cls(d.mount, d.key + (name,), parent=d, **kw), isdir=True)
