"""memfs file data: bytes in kernel memory, or a host memfd once mapped.

FreeBSD counterpart: the anonymous VM object behind a tmpfs file
(tmpfs_subr.c, tn_reg.tn_aobj); Linux's is the shmem page cache of
mm/shmem.c; gVisor's tmpfs keeps its pages in one host memory file.

A file starts as a bytearray.  The first mmap(2) of it moves the bytes into
a host memfd that the kernel owns (`host_fd`); from then on read, write and
truncate go through that descriptor, and guest mappings of it (vm_map maps
it with Space.map_host_fd) share the host's pages, so MAP_SHARED is coherent
between processes and with read(2)/write(2).  Files nobody maps cost no host
descriptor: a tmpfs may hold more files than the kernel may open.  Guests
never hold the memfd; its descriptors are closed by `release`, when the
file dies (unlinked and closed: the MemNode is gone).

`seals` are memfd_create(2)'s file seals, enforced here for every open of
the file; once the data is in a memfd they are set on it as well, so that
the host refuses writable shared mappings of a write-sealed file (EPERM)
and F_SEAL_WRITE while one exists (EBUSY), as Linux's mm/memfd.c does.
"""
import fcntl
import os

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.kernel.errors import KernelError, host_errors

HOST_NAME = "vkernel-memfs"         # what the host shows in a guest's host maps
HOST_SEALS = (F.F_SEAL_SHRINK | F.F_SEAL_GROW | F.F_SEAL_WRITE
              | F.F_SEAL_FUTURE_WRITE)          # the seals the host memfd also gets
_HOST_IO_MAX = 0x7FFFF000                        # Linux's MAX_RW_COUNT


_host = host_errors         # run host calls, OSError -> KernelError (same errno)


class MemData:
    """The bytes of one regular memfs file and its seals."""

    def __init__(self):
        self.buf = bytearray()      # the data, until the file is first mapped
        self.fd = -1                # then: the host memfd, read-write
        self.rofd = -1              # and a read-only descriptor of it, made lazily
        self.size = 0
        self.seals = 0

    def __repr__(self):
        where = f"memfd {self.fd}" if self.fd >= 0 else "kernel memory"
        return f"<MemData {self.size} bytes in {where}>"

    # -- seals ---------------------------------------------------------------------
    def check_write(self, off, n):
        """EPERM when the seals forbid writing n bytes at off."""
        if self.seals & (F.F_SEAL_WRITE | F.F_SEAL_FUTURE_WRITE):
            raise KernelError(E.EPERM)
        if self.seals & F.F_SEAL_GROW and off + n > self.size:
            raise KernelError(E.EPERM)

    def check_truncate(self, size):
        if (size < self.size and self.seals & F.F_SEAL_SHRINK) or \
                (size > self.size and self.seals & F.F_SEAL_GROW):
            raise KernelError(E.EPERM)

    def add_seals(self, seals):
        """F_ADD_SEALS: EPERM once F_SEAL_SEAL is set; EBUSY from the host
        when F_SEAL_WRITE meets a writable shared mapping."""
        if self.seals & F.F_SEAL_SEAL:
            raise KernelError(E.EPERM)
        if self.fd >= 0 and seals & HOST_SEALS:
            with _host():
                fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, seals & HOST_SEALS)
        self.seals |= seals

    # -- data ------------------------------------------------------------------------
    def read(self, off, n):
        n = min(n, self.size - off)
        if n <= 0:
            return b""
        if self.fd < 0:
            return bytes(self.buf[off:off + n])
        chunks = []
        with _host():
            while n > 0:
                got = os.pread(self.fd, min(n, _HOST_IO_MAX), off)
                if not got:
                    break
                chunks.append(got)
                off, n = off + len(got), n - len(got)
        return b"".join(chunks)

    def write(self, off, data):
        if not data:
            return 0
        end = off + len(data)
        if self.fd < 0:
            if off > len(self.buf):
                self.buf.extend(bytes(off - len(self.buf)))
            self.buf[off:end] = data
        else:
            self._pwrite_all(self.fd, data, off)
        self.size = max(self.size, end)
        return len(data)

    @staticmethod
    def _pwrite_all(fd, data, off):
        view = memoryview(data)
        with _host():
            while view:
                n = os.pwrite(fd, view[:_HOST_IO_MAX], off)
                view, off = view[n:], off + n

    def truncate(self, size):
        if self.fd < 0:
            if size < len(self.buf):
                del self.buf[size:]
            else:
                self.buf.extend(bytes(size - len(self.buf)))
        else:
            with _host():
                os.ftruncate(self.fd, size)
        self.size = size

    def blocks(self):
        """st_blocks: what the host allocated for a memfd (holes are free)."""
        if self.fd < 0:
            return (self.size + 511) // 512
        with _host():
            return os.fstat(self.fd).st_blocks

    # -- the host memfd ----------------------------------------------------------------
    def host_fd(self, write):
        """A host descriptor of the data for map_host_fd: read-write when
        `write` (a writable shared mapping), else read-only, so that the
        host refuses mprotect(PROT_WRITE) on a read-only shared mapping.
        The first call moves the bytes into a memfd."""
        if self.fd < 0:
            self._to_memfd()
        if write:
            return self.fd
        if self.rofd < 0:
            with _host():
                self.rofd = os.open(f"/proc/self/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)
        return self.rofd

    def _to_memfd(self):
        with _host():
            fd = os.memfd_create(HOST_NAME, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            with _host():
                os.ftruncate(fd, self.size)
            self._pwrite_all(fd, self.buf, 0)
            if self.seals & HOST_SEALS:
                with _host():
                    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, self.seals & HOST_SEALS)
        except KernelError:
            os.close(fd)
            raise
        self.fd, self.buf = fd, None

    def release(self):
        """Close the host descriptors (the file is gone)."""
        for fd in (self.rofd, self.fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.rofd = -1
        self.buf = bytearray()
