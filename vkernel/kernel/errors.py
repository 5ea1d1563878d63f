"""Kernel error values (sys/errno.h semantics): raise KernelError(EBADF) in kernel code.

The syscall dispatcher is the single place that turns a KernelError into -errno.
"""
import contextlib

from vkernel.abi.linux import errno as E


class KernelError(Exception):
    """A syscall-level failure carrying a Linux errno."""

    def __init__(self, errno, msg=""):
        super().__init__(msg or E.ERRNO_NAMES.get(errno, str(errno)))
        self.errno = errno


def error(errno, msg=""):
    return KernelError(errno, msg)


@contextlib.contextmanager
def host_errors():
    """Run host calls made for a guest: an OSError becomes a KernelError with
    the same errno (host and guest errnos are both Linux's)."""
    try:
        yield
    except OSError as e:
        raise KernelError(e.errno or E.EIO) from None
