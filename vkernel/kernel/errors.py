"""Kernel error values (sys/errno.h semantics): raise KernelError(EBADF) in kernel code.

The syscall dispatcher is the single place that turns a KernelError into -errno.
"""
from vkernel.abi.linux import errno as E


class KernelError(Exception):
    """A syscall-level failure carrying a Linux errno."""

    def __init__(self, errno, msg=""):
        super().__init__(msg or E.ERRNO_NAMES.get(errno, str(errno)))
        self.errno = errno


def error(errno, msg=""):
    return KernelError(errno, msg)
