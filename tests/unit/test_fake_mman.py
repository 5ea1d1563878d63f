"""Memory syscalls on the fake platform: brk, the -m cap, mmap/munmap/
mprotect/mremap bookkeeping in the kernel's map and in the host pages, and
the platform's reserved ranges (stub, vvar, vdso)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import BRK_BASE, FakeKernel, call  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import mman as M  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.platform.fake import VDSO_SIZE, VVAR_SIZE  # noqa: E402
from vkernel.platform.fake_mm import MMAP_BASE  # noqa: E402
from vkernel.platform.ptrace import STUB_BASE  # noqa: E402

PAGE = 4096
RW = M.PROT_READ | M.PROT_WRITE
ANON = M.MAP_PRIVATE | M.MAP_ANONYMOUS


def mmap(td, addr, length, prot=RW, flags=ANON, fd=-1, off=0):
    return call(td, NR.mmap, addr, length, prot, flags, fd, off)


def test_brk_grows_and_shrinks_the_heap(k):
    td, space, vm = k.td, k.space(), k.init.p_vmspace
    assert call(td, NR.brk, 0) == BRK_BASE
    assert call(td, NR.brk, BRK_BASE + 10000) == BRK_BASE + 10000
    assert [space.page(BRK_BASE + i * PAGE).prot for i in range(3)] == [RW] * 3
    assert space.page(BRK_BASE + 3 * PAGE) is None
    assert vm.find(BRK_BASE).name == "[heap]"
    space.write(BRK_BASE + 9000, b"heap data")
    assert call(td, NR.brk, BRK_BASE + 100) == BRK_BASE + 100
    assert space.page(BRK_BASE) is not None and space.page(BRK_BASE + PAGE) is None
    assert vm.find(BRK_BASE + PAGE) is None
    assert call(td, NR.brk, BRK_BASE - PAGE) == BRK_BASE + 100     # below the base: refused
    assert call(td, NR.brk, BRK_BASE + 2 * PAGE) == BRK_BASE + 2 * PAGE
    assert space.read(BRK_BASE + PAGE, 8) == bytes(8)           # regrown pages are new


def test_memory_cap_gives_enomem_and_a_log_line():
    k = FakeKernel(memsize=4 << 20)          # init holds 1 MiB scratch + 64 KiB stack
    try:
        td = k.td
        assert mmap(td, 0, 8 << 20) == -E.ENOMEM
        assert "pid 1 (init): out of guest memory (-m 4M, 1M in use, 8192K wanted)" in k.log()
        ro = mmap(td, 0, 8 << 20, M.PROT_READ)                  # not writable: not charged
        assert ro > 0
        assert call(td, NR.mprotect, ro, 8 << 20, RW) == -E.ENOMEM
        assert mmap(td, 0, 8 << 20, RW, ANON | M.MAP_NORESERVE) > 0
        assert call(td, NR.brk, BRK_BASE + (6 << 20)) == BRK_BASE    # brk: the old break
        assert k.log().count("out of guest memory") == 3
        assert mmap(td, 0, 1 << 20) > 0                         # what fits still does
        assert mmap(td, 0, 2 << 20) == -E.ENOMEM
    finally:
        k.shutdown()


def test_mmap_munmap_mprotect_bookkeeping(k):
    td, space, vm = k.td, k.space(), k.init.p_vmspace
    a = mmap(td, 0, 3 * PAGE)
    assert a == MMAP_BASE - VDSO_SIZE - VVAR_SIZE - 3 * PAGE    # top-down, below the vvar
    e = vm.find(a)
    assert (e.start, e.end, e.prot) == (a, a + 3 * PAGE, RW)
    assert call(td, NR.munmap, a + PAGE, PAGE) == 0
    assert [(x.start, x.end) for x in vm.overlapping(a, a + 3 * PAGE)] == \
        [(a, a + PAGE), (a + 2 * PAGE, a + 3 * PAGE)]
    assert space.page(a + PAGE) is None
    assert call(td, NR.mprotect, a, PAGE, M.PROT_READ) == 0
    assert vm.find(a).prot == M.PROT_READ and space.page(a).prot == M.PROT_READ
    assert call(td, NR.mprotect, a, 3 * PAGE, M.PROT_READ) == -E.ENOMEM   # the hole
    assert call(td, NR.munmap, a + 1, PAGE) == -E.EINVAL
    assert mmap(td, 0, PAGE, RW, M.MAP_ANONYMOUS) == -E.EINVAL           # no map type
    fds = k.alloc(8)
    assert call(td, NR.pipe2, fds, 0) == 0
    wfd = k.i32(fds + 4)
    assert call(td, NR.write, wfd, a + PAGE, 1) == -E.EFAULT         # unmapped now
    assert call(td, NR.write, wfd, a, 1) == 1                          # read-only: readable


def test_map_fixed_noreplace_and_reserved_ranges(k):
    td, vm = k.td, k.init.p_vmspace
    a = mmap(td, 0, 2 * PAGE)
    fixed = ANON | M.MAP_FIXED
    assert mmap(td, a + PAGE, PAGE, RW, ANON | M.MAP_FIXED_NOREPLACE) == -E.EEXIST
    assert mmap(td, a - PAGE, PAGE, RW, ANON | M.MAP_FIXED_NOREPLACE) == a - PAGE
    assert mmap(td, a, PAGE, M.PROT_READ, fixed) == a                    # replaces
    assert vm.find(a).prot == M.PROT_READ and vm.find(a + PAGE).prot == RW
    vdso = k.platform.vdso_range(td.host)
    for lo in (STUB_BASE, vdso[0], MMAP_BASE - VDSO_SIZE - VVAR_SIZE):
        assert mmap(td, lo, PAGE, RW, fixed) == -E.ENOMEM
        assert mmap(td, lo - PAGE, 2 * PAGE, RW, ANON | M.MAP_FIXED_NOREPLACE) == -E.ENOMEM
        assert call(td, NR.munmap, lo, PAGE) == -E.ENOMEM
        assert call(td, NR.mprotect, lo, PAGE, RW) == -E.ENOMEM
    assert k.peek(STUB_BASE, 4) == b"\x7fELF"                           # untouched
    assert k.space().page(vdso[0]).name == "[vdso]"


def test_mremap_moves_pages_and_the_map(k):
    td, space, vm = k.td, k.space(), k.init.p_vmspace
    a = mmap(td, 0, PAGE)
    below = mmap(td, 0, PAGE)
    assert below == a - PAGE
    space.write(a, b"moved")
    assert call(td, NR.mremap, a, PAGE, 2 * PAGE, 0, 0) == -E.ENOMEM      # vvar above
    b = call(td, NR.mremap, a, PAGE, 2 * PAGE, M.MREMAP_MAYMOVE, 0)
    assert b not in (a, below) and k.peek(b, 5) == b"moved"
    assert vm.find(a) is None and (vm.find(b).start, vm.find(b).end) == (b, b + 2 * PAGE)
    assert space.page(a) is None and space.page(b + PAGE).prot == RW


def test_shared_anonymous_memory_is_shared_with_a_fork_child(k):
    shared = mmap(k.td, 0, PAGE, RW, M.MAP_SHARED | M.MAP_ANONYMOUS)
    private = mmap(k.td, 0, PAGE)
    child = k.fork()
    k.space(child).write(shared, b"from child")
    k.space(child).write(private, b"from child")
    assert k.peek(shared, 10) == b"from child"
    assert k.peek(private, 10) == bytes(10)


def test_file_mapping_is_a_private_copy_of_a_memfs_file(k):
    k.install("/data", b"file contents" + bytes(5000), 0o644)
    fd = call(k.td, NR.openat, F.AT_FDCWD, k.cstr("/data"), F.O_RDONLY, 0)
    assert fd >= 0
    a = mmap(k.td, 0, 2 * PAGE, M.PROT_READ, M.MAP_PRIVATE, fd, 0)
    assert k.peek(a, 13) == b"file contents"
    assert k.space().page(a).prot == M.PROT_READ and k.init.p_vmspace.find(a).name == "/data"
    assert mmap(k.td, 0, PAGE, RW, M.MAP_SHARED, fd, 0) == -E.EACCES    # read-only open
    assert call(k.td, NR.madvise, a, PAGE, M.MADV_DONTNEED) == 0
    assert k.peek(a, 4) == bytes(4)                                     # private pages dropped
