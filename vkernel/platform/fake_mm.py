"""The memory of a fake host process and the host syscalls emulated on it.

Part of the fake platform (fake.py).  Linux counterparts of the emulated
semantics: mm/mmap.c (get_unmapped_area top-down, MAP_FIXED,
MAP_FIXED_NOREPLACE), mm/mprotect.c, mm/mremap.c, mm/madvise.c
(MADV_DONTNEED), kernel/fork.c (a process's pages copied, MAP_SHARED pages
shared) and kernel/pid.c + fs/file.c for pidfd_open/pidfd_getfd/close.

A FakeMM is a dict of 4 KiB pages (page address -> Page: prot, flags,
name, bytes allocated on first write) and a table of the process's host
descriptors.  Reading or writing an unmapped page is PlatformError(EFAULT);
protections are recorded, not enforced, as for /proc/PID/mem.
"""
import errno
import os

from . import PlatformError
from .ptrace import (HOST_CLONE, HOST_CLOSE, HOST_MADVISE, HOST_MMAP, HOST_MPROTECT,
                     HOST_MREMAP, HOST_MUNMAP, HOST_PIDFD_GETFD, HOST_PIDFD_OPEN, CLONE_VM)

PAGE = 4096
TASK_SIZE = 0x7FFFFFFFF000
MMAP_BASE = 0x7FFFF7FFF000          # mmap_base of a no-randomize process, 8 MiB stack rlimit
MMAP_MIN_ADDR = 0x10000             # vm.mmap_min_addr

# Host <sys/mman.h> values (the platform imports no abi).
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP = 1, 2, 4
MADV_DONTNEED, MADV_FREE = 4, 8


def page_round(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


class Page:
    """One 4 KiB page: protection, mapping flags, a name and its bytes."""

    __slots__ = ("prot", "flags", "name", "data")

    def __init__(self, prot, flags, name="", data=None):
        self.prot, self.flags, self.name = prot, flags, name
        if data is None and flags & MAP_SHARED:
            data = bytearray(PAGE)          # shared pages need one object to share
        self.data = data

    def copy(self):
        """The child's page after a host fork: shared pages stay shared."""
        if self.flags & MAP_SHARED or self.data is None:
            return Page(self.prot, self.flags, self.name, self.data)
        return Page(self.prot, self.flags, self.name, bytearray(self.data))


class FakeMM:
    """The memory and descriptors of one fake host process (its mm)."""

    def __init__(self):
        self.pages = {}          # page address -> Page
        self.fds = {}            # this process's host fds -> ("pidfd", pid) | ("file", kernel fd)
        self.gate = None         # default address of scripted syscall instructions
        self.alive = True

    def copy(self):
        mm = FakeMM()
        mm.pages = {a: p.copy() for a, p in self.pages.items()}
        mm.gate = self.gate
        return mm

    # -- pages -----------------------------------------------------------------------
    def map(self, lo, hi, prot, flags, name="", contents=b""):
        for i, a in enumerate(range(lo, hi, PAGE)):
            chunk = contents[i * PAGE:(i + 1) * PAGE]
            page = Page(prot, flags, name)
            if chunk:
                page.data = page.data or bytearray(PAGE)
                page.data[:len(chunk)] = chunk
            self.pages[a] = page

    def unmap(self, lo, hi):
        for a in range(lo, hi, PAGE):
            self.pages.pop(a, None)

    def all_mapped(self, lo, hi):
        return all(a in self.pages for a in range(lo, hi, PAGE))

    def any_mapped(self, lo, hi):
        return any(a in self.pages for a in range(lo, hi, PAGE))

    def intervals(self):
        """Mapped ranges as sorted (lo, hi), contiguous pages merged."""
        out = []
        for a in sorted(self.pages):
            if out and out[-1][1] == a:
                out[-1][1] = a + PAGE
            else:
                out.append([a, a + PAGE])
        return [tuple(r) for r in out]

    def find_free(self, length, hint=0):
        """get_unmapped_area: the hint if it is free, else the highest gap below MMAP_BASE."""
        if hint and MMAP_MIN_ADDR <= hint and hint + length <= TASK_SIZE \
                and not self.any_mapped(hint, hint + length):
            return hint
        top = MMAP_BASE
        for lo, hi in reversed(self.intervals()):
            if lo >= top:
                continue
            if hi < top and top - hi >= length:
                return top - length
            top = lo
        return top - length if top - MMAP_MIN_ADDR >= length else None

    # -- bytes ---------------------------------------------------------------------------
    def _page(self, a, addr):
        page = self.pages.get(a) if self.alive else None
        if page is None:
            raise PlatformError(errno.EFAULT, f"no page at {addr:#x}")
        return page

    def read(self, addr, n):
        if addr < 0 or n < 0 or addr + n > 1 << 64:
            raise PlatformError(errno.EFAULT, f"read {addr:#x}")
        out = bytearray()
        while n > 0:
            a, off = addr & ~(PAGE - 1), addr & (PAGE - 1)
            k = min(n, PAGE - off)
            data = self._page(a, addr).data
            out += data[off:off + k] if data is not None else bytes(k)
            addr, n = addr + k, n - k
        return bytes(out)

    def write(self, addr, data):
        if addr < 0 or addr + len(data) > 1 << 64:
            raise PlatformError(errno.EFAULT, f"write {addr:#x}")
        for a in range(addr & ~(PAGE - 1), addr + len(data), PAGE):
            self._page(a, addr)                   # all or nothing, like one pwrite
        pos = 0
        while pos < len(data):
            a, off = addr & ~(PAGE - 1), addr & (PAGE - 1)
            k = min(len(data) - pos, PAGE - off)
            page = self.pages[a]
            if page.data is None:
                page.data = bytearray(PAGE)
            page.data[off:off + k] = data[pos:pos + k]
            addr, pos = addr + k, pos + k

    def new_fd(self, what):
        fd = 0
        while fd in self.fds:
            fd += 1
        self.fds[fd] = what
        return fd


# -- the emulated host syscalls: fn(thread, mm, args) -> result or -errno ----------------
def _mmap(th, mm, a):
    addr, length, prot, flags, fd, off = a[0], a[1], a[2], a[3], a[4], a[5]
    mtype = flags & (MAP_SHARED | MAP_PRIVATE)
    if not length or off % PAGE or not mtype:
        return -errno.EINVAL
    length = page_round(length)
    if length > TASK_SIZE:
        return -errno.ENOMEM
    contents = b""
    if not flags & MAP_ANONYMOUS:
        src = mm.fds.get(fd if fd < 1 << 63 else fd - (1 << 64))
        if src is None or src[0] != "file":
            return -errno.EBADF
        contents = _host_pread(src[1], length, off)
        if contents is None:
            return -errno.EACCES
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr % PAGE:
            return -errno.EINVAL
        if addr + length > TASK_SIZE:
            return -errno.ENOMEM
        if addr < MMAP_MIN_ADDR:
            return -errno.EPERM
        if flags & MAP_FIXED_NOREPLACE and mm.any_mapped(addr, addr + length):
            return -errno.EEXIST
        start = addr
    else:
        start = mm.find_free(length, page_round(addr))
        if start is None:
            return -errno.ENOMEM
    mm.unmap(start, start + length)
    mm.map(start, start + length, prot, flags, "" if flags & MAP_ANONYMOUS else "file", contents)
    return start


def _host_pread(fd, n, off):
    try:
        return os.pread(fd, n, off)
    except OSError:
        return None


def _munmap(th, mm, a):
    addr, length = a[0], a[1]
    if addr % PAGE or not length or addr + length > TASK_SIZE:
        return -errno.EINVAL
    mm.unmap(addr, page_round(addr + length))
    return 0


def _mprotect(th, mm, a):
    addr, length, prot = a[0], a[1], a[2]
    if addr % PAGE:
        return -errno.EINVAL
    hi = page_round(addr + length)
    if not mm.all_mapped(addr, hi):
        return -errno.ENOMEM
    for p in range(addr, hi, PAGE):
        mm.pages[p].prot = prot
    return 0


def _mremap(th, mm, a):
    old, oldlen, newlen, flags, new = a[0], page_round(a[1]), page_round(a[2]), a[3], a[4]
    if old % PAGE or not newlen or not oldlen or flags & ~7 \
            or (flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) and not flags & MREMAP_MAYMOVE):
        return -errno.EINVAL
    if not mm.all_mapped(old, old + oldlen):
        return -errno.EFAULT
    if flags & MREMAP_FIXED:
        if new % PAGE or (new < old + oldlen and old < new + newlen):
            return -errno.EINVAL
        return _move(mm, old, oldlen, newlen, new, flags)
    if newlen <= oldlen and not flags & MREMAP_DONTUNMAP:
        mm.unmap(old + newlen, old + oldlen)
        return old
    if not flags & MREMAP_DONTUNMAP and not mm.any_mapped(old + oldlen, old + newlen) \
            and old + newlen <= TASK_SIZE:
        _grow(mm, old + oldlen, old + newlen, mm.pages[old + oldlen - PAGE])
        return old
    if not flags & MREMAP_MAYMOVE:
        return -errno.ENOMEM
    dest = mm.find_free(newlen)
    return -errno.ENOMEM if dest is None else _move(mm, old, oldlen, newlen, dest, flags)


def _grow(mm, lo, hi, like):
    mm.map(lo, hi, like.prot, like.flags, like.name)


def _move(mm, old, oldlen, newlen, dest, flags):
    moved = [mm.pages[old + i] for i in range(0, min(oldlen, newlen), PAGE)]
    last = mm.pages[old + oldlen - PAGE]
    if flags & MREMAP_DONTUNMAP:
        mm.map(old, old + oldlen, last.prot, last.flags, last.name)    # emptied, still mapped
    else:
        mm.unmap(old, old + oldlen)
    mm.unmap(dest, dest + newlen)
    for i, page in enumerate(moved):
        mm.pages[dest + i * PAGE] = page
    if newlen > oldlen:
        _grow(mm, dest + oldlen, dest + newlen, last)
    return dest


def _madvise(th, mm, a):
    addr, length, advice = a[0], page_round(a[1]), a[2]
    if addr % PAGE:
        return -errno.EINVAL
    if not mm.all_mapped(addr, addr + length):
        return -errno.ENOMEM
    if advice in (MADV_DONTNEED, MADV_FREE):
        for p in range(addr, addr + length, PAGE):
            if not mm.pages[p].flags & MAP_SHARED:
                mm.pages[p].data = None          # private pages read back as zeros
    return 0


def _clone(th, mm, a):
    """The host clone: a stopped child with the injecting thread's registers."""
    flags = a[0]
    plat = th.platform
    tid = plat.alloc_tid()
    regs = th._inject_regs.copy()
    regs.rax = 0
    plat._born[tid] = (regs, th._fpregs)
    if not flags & CLONE_VM:
        plat._mms[tid] = mm.copy()
    return tid


def _close(th, mm, a):
    return 0 if mm.fds.pop(a[0], None) is not None else -errno.EBADF


def _pidfd_open(th, mm, a):
    return mm.new_fd(("pidfd", a[0]))


def _pidfd_getfd(th, mm, a):
    if mm.fds.get(a[0], ("",))[0] != "pidfd":
        return -errno.EBADF
    try:
        os.fstat(a[1])
    except OSError:
        return -errno.EBADF
    return mm.new_fd(("file", a[1]))


HOST_CALLS = {HOST_MMAP: _mmap, HOST_MUNMAP: _munmap, HOST_MPROTECT: _mprotect,
              HOST_MREMAP: _mremap, HOST_MADVISE: _madvise, HOST_CLONE: _clone,
              HOST_CLOSE: _close, HOST_PIDFD_OPEN: _pidfd_open, HOST_PIDFD_GETFD: _pidfd_getfd}
