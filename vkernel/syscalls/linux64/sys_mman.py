"""Memory syscalls: brk, mmap, munmap, mprotect, mremap, madvise, msync, mincore.

Linux counterpart: mm/mmap.c, mm/mprotect.c, mm/mremap.c; the work is in
vkernel.kernel.vm_map.  Guests hold no host descriptors: hostfs and memfs
files (tmpfs, /dev/shm, memfd_create) are mapped from the kernel's host
descriptor of their data, so MAP_SHARED is coherent; any other file (ext2,
procfs) gets a private copy made by the kernel, and MAP_SHARED of it is a
snapshot.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import mman as M
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_fail import fail_point
from vkernel.kernel.usercopy import copyout
from vkernel.kernel.vm_map import PAGE, page_round
from vkernel.syscalls.table import FD, I32, NR, PTR, U64, syscall

_KNOWN = (M.MAP_SHARED | M.MAP_PRIVATE | M.MAP_SHARED_VALIDATE | M.MAP_FIXED
          | M.MAP_ANONYMOUS | M.MAP_GROWSDOWN | M.MAP_DENYWRITE | M.MAP_EXECUTABLE
          | M.MAP_LOCKED | M.MAP_NORESERVE | M.MAP_POPULATE | M.MAP_NONBLOCK
          | M.MAP_STACK | M.MAP_HUGETLB | M.MAP_SYNC | M.MAP_FIXED_NOREPLACE | 0x40)


def _vm(td):
    return td.lwp_proc.p_vmspace


@syscall(NR.brk, PTR)
def sys_brk(td, addr):
    """Implements Linux brk(2): returns the (possibly unchanged) break."""
    return _vm(td).brk(addr)


def _mapfile(td, fd, prot, flags):
    """The File to map, after the access checks of mm/mmap.c."""
    fp = td.lwp_proc.p_fd.get(fd)
    if not fp.readable or (flags & M.MAP_SHARED and prot & M.PROT_WRITE and not fp.writable):
        raise KernelError(E.EACCES)
    return fp


def _host_fd(fp, prot, flags):
    """A host descriptor to map the file directly, when its filesystem has one.

    A shared mapping of a file opened for writing gets a writable descriptor
    (it may be mprotect()ed writable later, VM_MAYWRITE); any other gets a
    read-only one, so the host refuses PROT_WRITE on it as Linux does."""
    getfd = getattr(fp.vnode, "host_fd", None)
    if getfd is None:
        return None
    try:
        return getfd(bool(flags & M.MAP_SHARED and fp.writable))
    except KernelError:
        return None


def _map_file(td, addr, length, prot, flags, fd, off):
    fp = _mapfile(td, fd, prot, flags)
    vm = _vm(td)
    if fp.vnode is None and getattr(fp.ops, "kind", "") == "zero":
        return vm.mmap(addr, length, prot, flags | M.MAP_ANONYMOUS, "/dev/zero")
    hostfd = _host_fd(fp, prot, flags)
    if hostfd is not None:
        return vm.mmap(addr, length, prot, flags, fp.path, off, hostfd=hostfd, obj=fp.vnode)
    data = fp.ops.pread(td, fp, page_round(length), off) or b""
    flags = (flags & ~M.MAP_SHARED) | M.MAP_PRIVATE
    return vm.mmap(addr, length, prot, flags, fp.path, off, contents=data)


_fp_mmap = fail_point("mmap", "mmap(2): ENOMEM is the usual injection")


@syscall(NR.mmap, PTR, U64, I32, I32, FD, U64)
def sys_mmap(td, addr, length, prot, flags, fd, off):
    """Implements Linux mmap(2)."""
    _fp_mmap.check(td)
    mtype = flags & (M.MAP_SHARED | M.MAP_PRIVATE | M.MAP_SHARED_VALIDATE)
    if not length or off % PAGE or mtype == 0 or length > 1 << 47:
        raise KernelError(E.EINVAL)
    if mtype == M.MAP_SHARED_VALIDATE and flags & ~_KNOWN:
        raise KernelError(E.EOPNOTSUPP)
    if flags & M.MAP_FIXED and addr % PAGE:
        raise KernelError(E.EINVAL)
    if mtype == M.MAP_SHARED_VALIDATE:
        flags = (flags & ~M.MAP_SHARED_VALIDATE) | M.MAP_SHARED
    if not flags & M.MAP_ANONYMOUS:
        return _map_file(td, addr, length, prot, flags, fd, off)
    return _vm(td).mmap(addr, length, prot, flags)


@syscall(NR.munmap, PTR, U64)
def sys_munmap(td, addr, length):
    """Implements Linux munmap(2)."""
    if addr % PAGE or not length:
        raise KernelError(E.EINVAL)
    _vm(td).munmap(addr, length)
    return 0


@syscall(NR.mprotect, PTR, U64, I32)
def sys_mprotect(td, addr, length, prot):
    """Implements Linux mprotect(2)."""
    if addr % PAGE:
        raise KernelError(E.EINVAL)
    if length:
        _vm(td).mprotect(addr, length, prot & 7)
    return 0


@syscall(NR.mremap, PTR, U64, U64, I32, PTR)
def sys_mremap(td, old, oldlen, newlen, flags, new):
    """Implements Linux mremap(2)."""
    if old % PAGE or not newlen or flags & ~7:
        raise KernelError(E.EINVAL)
    return _vm(td).mremap(old, oldlen, newlen, flags, new)


@syscall(NR.madvise, PTR, U64, I32)
def sys_madvise(td, addr, length, advice):
    """Implements Linux madvise(2) (advice passed to the host pages)."""
    if addr % PAGE:
        raise KernelError(E.EINVAL)
    if advice in (M.MADV_DONTNEED, M.MADV_FREE, M.MADV_WILLNEED, M.MADV_NORMAL,
                  M.MADV_RANDOM, M.MADV_SEQUENTIAL, M.MADV_DONTFORK, M.MADV_DOFORK,
                  M.MADV_HUGEPAGE, M.MADV_NOHUGEPAGE):
        if length:
            _vm(td).madvise(addr, length, advice)
        return 0
    return 0 if advice in (M.MADV_MERGEABLE, M.MADV_UNMERGEABLE) else -E.EINVAL


@syscall(NR.msync, PTR, U64, I32)
def sys_msync(td, addr, length, flags):
    """Implements Linux msync(2): shared mappings are the host's pages of the
    file and private ones copies, so there is nothing to write back."""
    if addr % PAGE or flags & ~7 or (flags & M.MS_ASYNC and flags & M.MS_SYNC):
        raise KernelError(E.EINVAL)
    vm = _vm(td)
    hi = page_round(addr + length)
    covered = sum(min(e.end, hi) - max(e.start, addr) for e in vm.overlapping(addr, hi))
    if covered != hi - addr:
        raise KernelError(E.ENOMEM)
    return 0


@syscall(NR.mincore, PTR, U64, PTR)
def sys_mincore(td, addr, length, vec):
    """Implements Linux mincore(2): every mapped page reports resident."""
    if addr % PAGE:
        raise KernelError(E.EINVAL)
    hi = page_round(addr + length)
    vm = _vm(td)
    out = bytearray()
    for page in range(addr, hi, PAGE):
        if vm.find(page) is None:
            raise KernelError(E.ENOMEM)
        out.append(1)
    copyout(td, vec, bytes(out))
    return 0


@syscall(NR.mlock, PTR, U64)
def sys_mlock(td, addr, length):
    """Implements Linux mlock(2) (guest memory is never swapped by the vkernel)."""
    return 0


@syscall(NR.munlock, PTR, U64)
def sys_munlock(td, addr, length):
    """Implements Linux munlock(2)."""
    return 0
