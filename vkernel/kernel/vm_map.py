"""Guest address spaces: the map of a process's mappings, brk and the -m cap.

BSD counterpart: sys/vm/vm_map.c and vm_mmap.c; Linux: mm/mmap.c.

The pages themselves live in the host process (platform Space); the kernel
keeps its own map (start, end, prot, flags, name) so that it can account
memory against -m, answer /proc/PID/maps and mincore, refuse to touch the
platform stub, and copy file contents into private file mappings.  Guests
hold no host file descriptors: a file whose filesystem has a host
descriptor of its data (hostfs files, memfs files in a memfd) is mapped
from the kernel's descriptor (Space.map_host_fd), any other file mapping
is a private copy made by the kernel.
"""
import bisect

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import mman as M

from .errors import KernelError

PAGE = 4096
TASK_SIZE = 0x7FFFFFFFF000
STACK_TOP = 0x7FFFFFFFF000
ET_DYN_BASE = 0x555555554000
HOST_MMAP, HOST_MPROTECT, HOST_MUNMAP, HOST_MREMAP, HOST_MADVISE = 9, 10, 11, 25, 28
HOST_MSYNC, HOST_MINCORE = 26, 27
_PASS_FLAGS = (M.MAP_SHARED | M.MAP_PRIVATE | M.MAP_ANONYMOUS | M.MAP_FIXED
               | M.MAP_NORESERVE | M.MAP_FIXED_NOREPLACE | M.MAP_POPULATE)


def page_round(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


def page_trunc(x):
    return x & ~(PAGE - 1)


class MemoryLimit:
    """Total guest memory (-m): committed private writable bytes of all spaces."""

    def __init__(self, limit):
        self.limit = limit
        self.committed = 0
        self.log = lambda msg: None

    def charge(self, n, who):
        if n > 0 and self.committed + n > self.limit:
            self.log(f"{who}: out of guest memory (-m {self.limit >> 20}M, "
                     f"{self.committed >> 20}M in use, {n >> 10}K wanted)")
            raise KernelError(E.ENOMEM)
        self.committed += n


class Entry:
    """One mapping.  `obj`: the file of a shared file mapping (its vnode),
    kept alive while mapped; shared futexes in it are keyed by (obj, offset)."""
    __slots__ = ("start", "end", "prot", "flags", "name", "offset", "obj")

    def __init__(self, start, end, prot, flags, name="", offset=0, obj=None):
        self.start, self.end, self.prot, self.flags = start, end, prot, flags
        self.name, self.offset, self.obj = name, offset, obj

    def clip(self, start, end):
        e = Entry(max(start, self.start), min(end, self.end), self.prot, self.flags,
                  self.name, self.offset + max(0, start - self.start), self.obj)
        return e

    @property
    def charge(self):
        """Bytes committed against -m: writable private or anonymous memory.
        A shared file mapping's pages belong to the file, which its own
        filesystem counts (Linux's accountable_mapping)."""
        if self.flags & M.MAP_SHARED and not self.flags & M.MAP_ANONYMOUS:
            return 0
        if self.prot & M.PROT_WRITE and not self.flags & M.MAP_NORESERVE:
            return self.end - self.start
        return 0


class VmSpace:
    """struct vmspace: one guest address space."""

    def __init__(self, space, limit, reserved=()):
        self.space = space            # platform Space
        self.limit = limit
        self.entries = []             # sorted by start, non-overlapping
        self.reserved = list(reserved)  # (lo, hi) ranges the guest may not touch
        self.brk_base = self.brk_cur = 0
        self.refs = 1
        self.owner = "?"

    # -- bookkeeping ----------------------------------------------------------
    def _starts(self):
        return [e.start for e in self.entries]

    def overlapping(self, lo, hi):
        i = max(0, bisect.bisect_right(self._starts(), lo) - 1)
        return [e for e in self.entries[i:] if e.start < hi and e.end > lo]

    def find(self, addr):
        ov = self.overlapping(addr, addr + 1)
        return ov[0] if ov else None

    def _remove(self, lo, hi):
        freed, keep = 0, []
        for e in self.entries:
            if e.end <= lo or e.start >= hi:
                keep.append(e)
                continue
            freed += e.clip(lo, hi).charge
            if e.start < lo:
                keep.append(e.clip(e.start, lo))
            if e.end > hi:
                keep.append(e.clip(hi, e.end))
        self.entries = sorted(keep, key=lambda e: e.start)
        self.limit.committed -= freed

    def _insert(self, e):
        self._remove(e.start, e.end)
        bisect.insort(self.entries, e, key=lambda x: x.start)
        self.limit.committed += e.charge

    def check_range(self, lo, hi):
        if lo & (PAGE - 1) or hi <= lo or hi > TASK_SIZE:
            raise KernelError(E.EINVAL)
        for rlo, rhi in self.reserved:
            if lo < rhi and hi > rlo:
                raise KernelError(E.ENOMEM)

    def vsize(self):
        return sum(e.end - e.start for e in self.entries)

    # -- host operations --------------------------------------------------------
    def _host(self, nr, *args):
        r = self.space.syscall(nr, *args)
        if r < 0:
            raise KernelError(-r)
        return r

    def mmap(self, addr, length, prot, flags, name="", offset=0, contents=None, hostfd=None,
             obj=None):
        """Map memory.

        `hostfd`: a kernel-owned host descriptor of the file to map directly
        (hostfs and memfs files: shared mappings stay coherent with
        read/write); `obj` is then the file, recorded for a shared mapping.
        `contents` (bytes): fills a private copy instead (files without one).
        """
        if length <= 0:
            raise KernelError(E.EINVAL)
        length = page_round(length)
        fixed = flags & (M.MAP_FIXED | M.MAP_FIXED_NOREPLACE)
        if fixed:
            self.check_range(addr, addr + length)
            if flags & M.MAP_FIXED_NOREPLACE and self.overlapping(addr, addr + length):
                raise KernelError(E.EEXIST)
        e = Entry(0, length, prot, flags, name, offset)
        self.limit.charge(e.charge, self.owner)
        self.limit.committed -= e.charge
        hprot = prot | (M.PROT_WRITE if contents else 0)
        hflags = (flags & _PASS_FLAGS) | (M.MAP_ANONYMOUS if contents is not None else 0)
        if contents is not None:
            hflags = (hflags & ~M.MAP_SHARED) | M.MAP_PRIVATE
        hint = addr if (fixed or addr) else 0
        if hostfd is not None:
            start = self._mapfd(hostfd, hint, length, prot, flags, offset)
            e.start, e.end = start, start + length
            e.obj = obj if flags & M.MAP_SHARED else None
            self._insert(e)
            return start
        start = self._host(HOST_MMAP, hint, length, hprot, hflags, -1, 0)
        try:
            if contents:
                self.space.write(start, contents[:length])
                if hprot != prot:
                    self._host(HOST_MPROTECT, start, length, prot)
        except Exception:
            self.space.syscall(HOST_MUNMAP, start, length)
            raise
        e.start, e.end = start, start + length
        self._insert(e)
        return start

    def _mapfd(self, hostfd, hint, length, prot, flags, offset):
        r = self.space.map_host_fd(hostfd, hint, length, prot,
                                   flags & _PASS_FLAGS & ~M.MAP_ANONYMOUS, offset)
        if r < 0:
            raise KernelError(-r)
        return r

    def munmap(self, addr, length):
        hi = page_round(addr + length)
        self.check_range(addr, hi)
        self._host(HOST_MUNMAP, addr, hi - addr)
        self._remove(addr, hi)

    def mprotect(self, addr, length, prot):
        hi = page_round(addr + length)
        self.check_range(addr, hi)
        ov = self.overlapping(addr, hi)
        if sum(min(e.end, hi) - max(e.start, addr) for e in ov) != hi - addr:
            raise KernelError(E.ENOMEM)
        extra = sum(Entry(max(e.start, addr), min(e.end, hi), prot, e.flags).charge
                    - e.clip(addr, hi).charge for e in ov)
        self.limit.charge(extra, self.owner)
        self.limit.committed -= extra
        self._host(HOST_MPROTECT, addr, hi - addr, prot)
        for e in ov:
            n = e.clip(addr, hi)
            n.prot = prot
            self._insert(n)

    def mremap(self, old, oldlen, newlen, flags, new):
        oldlen, newlen = page_round(oldlen), page_round(newlen)
        e = self.find(old)
        if e is None:
            raise KernelError(E.EFAULT)
        grow = Entry(0, max(0, newlen - oldlen), e.prot, e.flags).charge
        self.limit.charge(grow, self.owner)
        self.limit.committed -= grow
        if flags & M.MREMAP_FIXED:
            self.check_range(new, new + newlen)
        r = self._host(HOST_MREMAP, old, oldlen, newlen, flags, new)
        moved = e.clip(old, old + oldlen)
        self._remove(old, old + max(oldlen, 1))
        if flags & M.MREMAP_DONTUNMAP:
            self._insert(e.clip(old, old + oldlen))
        self._insert(Entry(r, r + newlen, moved.prot, moved.flags, moved.name, moved.offset,
                           moved.obj))
        return r

    def brk(self, new):
        if new < self.brk_base:
            return self.brk_cur
        old_top, new_top = page_round(self.brk_cur), page_round(new)
        try:
            if new_top > old_top:
                self.mmap(old_top, new_top - old_top, M.PROT_READ | M.PROT_WRITE,
                          M.MAP_PRIVATE | M.MAP_ANONYMOUS | M.MAP_FIXED_NOREPLACE, "[heap]")
            elif new_top < old_top:
                self.munmap(new_top, old_top - new_top)
        except KernelError:
            return self.brk_cur
        self.brk_cur = new
        return new

    def madvise(self, addr, length, advice):
        self._host(HOST_MADVISE, addr, page_round(length), advice)

    def clear(self):
        """Unmap every guest mapping (exec, exit), in as few host calls as
        possible: runs of mappings not separated by a reserved range."""
        for lo, hi in self._runs():
            self.space.syscall(HOST_MUNMAP, lo, hi - lo)
        self._remove(0, TASK_SIZE + PAGE)

    def _runs(self):
        runs = []
        for e in self.entries:
            if runs and not any(runs[-1][1] <= rlo < e.start + 1 for rlo, _ in self.reserved):
                runs[-1][1] = e.end
            else:
                runs.append([e.start, e.end])
        return runs

    def fork(self, space):
        """The child's copy after a host fork (the host copied the pages)."""
        vm = VmSpace(space, self.limit, self.reserved)
        vm.entries = [e.clip(e.start, e.end) for e in self.entries]
        vm.brk_base, vm.brk_cur = self.brk_base, self.brk_cur
        vm.owner = self.owner
        self.limit.charge(sum(e.charge for e in vm.entries), self.owner)
        return vm

    def release(self):
        """Forget the map (the host process is gone)."""
        self.limit.committed -= sum(e.charge for e in self.entries)
        self.entries = []
