"""Open files (struct file, sys/file.h) and the file-operations contract.

An open file is a `File`: an offset, open flags and a `FileOps` object that
does the work (a vnode, a pipe end, a tty, an eventfd, ...).  Descriptor
tables (kern_descrip.py) hold references to Files; dup shares a File.

FileOps methods receive the calling thread `td` and the File.  A method
that must wait raises `Sleep` through `td.sleep(...)` (kern_synch.py); the
dispatcher re-runs the whole syscall when the thread is woken, so a method
must not change state before it decides to sleep.  Errors are KernelError.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F

from .errors import KernelError

POLLIN, POLLPRI, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
POLLRDNORM, POLLWRNORM, POLLRDHUP = 0x40, 0x100, 0x2000


class FileOps:
    """Default behaviour of an open-file object (fileops in sys/file.h)."""

    kind = "file"

    def read(self, td, fp, n):
        raise KernelError(E.EINVAL)

    def write(self, td, fp, data):
        raise KernelError(E.EINVAL)

    def pread(self, td, fp, n, off):
        raise KernelError(E.ESPIPE)

    def pwrite(self, td, fp, data, off):
        raise KernelError(E.ESPIPE)

    def seek(self, td, fp, off, whence):
        raise KernelError(E.ESPIPE)

    def ioctl(self, td, fp, cmd, arg):
        raise KernelError(E.ENOTTY)

    def poll(self, td, fp, events):
        """Return ready events now (no sleeping); see also wchans()."""
        return events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)

    def wchans(self, fp):
        """Wait channels a poller sleeps on to learn that poll() may change."""
        return ()

    def stat(self, td, fp):
        """Return a dict of struct stat fields (see vfs.vnode.Vattr)."""
        raise KernelError(E.EINVAL)

    def truncate(self, td, fp, length):
        raise KernelError(E.EINVAL)

    def fsync(self, td, fp):
        return 0

    def getdents(self, td, fp):
        raise KernelError(E.ENOTDIR)

    def close(self, fp):
        pass


class File:
    """struct file: shared by dup'ed descriptors and across fork."""

    __slots__ = ("ops", "flags", "offset", "refs", "path", "vnode", "dirpos", "__weakref__")

    def __init__(self, ops, flags, path="", vnode=None):
        self.ops = ops
        self.flags = flags
        self.offset = 0
        self.refs = 1
        self.path = path          # for /proc/PID/fd and ddb's show files
        self.vnode = vnode        # set for files opened by name
        self.dirpos = 0           # getdents cursor

    @property
    def readable(self):
        return (self.flags & F.O_ACCMODE) in (F.O_RDONLY, F.O_RDWR) or self.flags & F.O_PATH

    @property
    def writable(self):
        return (self.flags & F.O_ACCMODE) in (F.O_WRONLY, F.O_RDWR)

    @property
    def nonblock(self):
        return bool(self.flags & F.O_NONBLOCK)

    def hold(self):
        self.refs += 1
        return self

    def drop(self):
        self.refs -= 1
        if self.refs == 0:
            self.ops.close(self)
