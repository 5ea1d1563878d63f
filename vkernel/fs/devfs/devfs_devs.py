"""The memory devices of /dev: null, zero, full, random, urandom.

Linux counterpart: drivers/char/mem.c (major 1: null, zero, full) and
drivers/char/random.c (random, urandom); FreeBSD's are sys/dev/null/null.c
and sys/dev/random.  Each driver is a stateless DevOps; its factory hands
out the one instance to every open.
"""
import os

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vfs_vnops import DevOps
from vkernel.abi.linux.stat import makedev

MAXIO = 1 << 24         # a longer read returns short, as reads may

MEM_MAJOR = 1
NULL_RDEV = makedev(MEM_MAJOR, 3)
ZERO_RDEV = makedev(MEM_MAJOR, 5)
FULL_RDEV = makedev(MEM_MAJOR, 7)
RANDOM_RDEV = makedev(MEM_MAJOR, 8)
URANDOM_RDEV = makedev(MEM_MAJOR, 9)
TTY_RDEV = makedev(5, 0)            # registered by the tty layer
CONSOLE_RDEV = makedev(5, 1)


class _MemDev(DevOps):
    """Reads give read_bytes(n), writes are swallowed; offsets stay 0."""

    def read_bytes(self, n):
        return b""

    def read(self, td, fp, n):
        return self.read_bytes(min(n, MAXIO))

    def write(self, td, fp, data):
        return len(data)

    def pread(self, td, fp, n, off):
        return self.read(td, fp, n)

    def pwrite(self, td, fp, data, off):
        return self.write(td, fp, data)

    def seek(self, td, fp, off, whence):
        return 0


class NullOps(_MemDev):
    """/dev/null: end of file, and a sink."""
    kind = "null"


class ZeroOps(_MemDev):
    """/dev/zero: endless zero bytes."""
    kind = "zero"

    def read_bytes(self, n):
        return bytes(n)


class FullOps(ZeroOps):
    """/dev/full: zeros to read, ENOSPC to write."""
    kind = "full"

    def write(self, td, fp, data):
        raise KernelError(E.ENOSPC)


class RandomOps(_MemDev):
    """/dev/random and /dev/urandom: never block, never run dry."""
    kind = "random"

    def read_bytes(self, n):
        return os.urandom(n)


def _factory(ops):
    return lambda flags: ops


# (name, rdev, ops factory) of the devices every devfs has.
MEM_DEVICES = (
    ("null", NULL_RDEV, _factory(NullOps())),
    ("zero", ZERO_RDEV, _factory(ZeroOps())),
    ("full", FULL_RDEV, _factory(FullOps())),
    ("random", RANDOM_RDEV, _factory(RandomOps())),
    ("urandom", URANDOM_RDEV, _factory(RandomOps())),
)

STD_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
)
