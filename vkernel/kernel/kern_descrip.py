"""Descriptor tables (BSD kern_descrip.c): fd -> File, close-on-exec flags.

The File objects and their operations are in file.py.
"""
from vkernel.abi.linux import errno as E

from .errors import KernelError

NOFILE_DEFAULT = 1024


class FileDesc:
    """struct filedesc: one process's descriptor table (shared with CLONE_FILES)."""

    def __init__(self):
        self.files = {}           # fd -> File
        self.cloexec = set()
        self.refs = 1
        self.limit = NOFILE_DEFAULT

    def get(self, fd):
        fp = self.files.get(fd)
        if fp is None:
            raise KernelError(E.EBADF)
        return fp

    def lowest_free(self, start=0):
        fd = start
        while fd in self.files:
            fd += 1
        if fd >= self.limit:
            raise KernelError(E.EMFILE)
        return fd

    def alloc(self, fp, cloexec=False, start=0):
        fd = self.lowest_free(start)
        self.install(fd, fp, cloexec)
        return fd

    def install(self, fd, fp, cloexec=False):
        """Put fp at fd, closing what was there (dup2)."""
        old = self.files.get(fd)
        self.files[fd] = fp
        if cloexec:
            self.cloexec.add(fd)
        else:
            self.cloexec.discard(fd)
        if old is not None and old is not fp:
            old.drop()

    def close(self, fd):
        fp = self.files.pop(fd, None)
        if fp is None:
            raise KernelError(E.EBADF)
        self.cloexec.discard(fd)
        fp.drop()

    def copy(self):
        fdp = FileDesc()
        fdp.files = {fd: fp.hold() for fd, fp in self.files.items()}
        fdp.cloexec = set(self.cloexec)
        fdp.limit = self.limit
        return fdp

    def close_on_exec(self):
        for fd in sorted(self.cloexec):
            if fd in self.files:
                self.close(fd)

    def close_all(self):
        for fd in sorted(self.files):
            self.close(fd)
