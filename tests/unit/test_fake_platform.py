"""The fake platform by itself: in-memory address spaces, emulated host
syscalls and scripted stops (vkernel/platform/fake.py, fake_mm.py)."""
import errno
import os

import pytest

from vkernel.platform import EXITED, SIGNAL, SYSCALL, PlatformError
from vkernel.platform import fake_mm as mm
from vkernel.platform.fake import VDSO_SIZE, VVAR_SIZE, FakePlatform, Idle
from vkernel.platform.fake_mm import (MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE,
                                      MAP_PRIVATE, MAP_SHARED, MMAP_BASE, PAGE, PROT_EXEC,
                                      PROT_READ, PROT_WRITE)
from vkernel.platform.ptrace import (CLONE_VM, HOST_CLONE, HOST_MADVISE, HOST_MMAP,
                                     HOST_MPROTECT, HOST_MREMAP, HOST_MUNMAP, STUB_BASE, Regs,
                                     stub_elf)

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
BELOW_VVAR = MMAP_BASE - VDSO_SIZE - VVAR_SIZE


@pytest.fixture
def th():
    return FakePlatform().new_space()


def mmap(th, addr, length, prot=RW, flags=ANON, fd=-1, off=0):
    return th.inject(HOST_MMAP, addr, length, prot, flags, fd, off)


def test_new_space_holds_only_stub_vvar_vdso(th):
    names = [m[3] for m in th.space.maps()]
    assert names == ["vkernel-stub", "[vvar]", "[vdso]"]
    assert th.space.read(STUB_BASE, len(stub_elf())) == stub_elf()
    plat = th.platform
    assert plat.vdso_range(th) == (BELOW_VVAR + VVAR_SIZE, MMAP_BASE)
    assert (0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000) in plat.reserved_ranges(th)
    assert (STUB_BASE, STUB_BASE + PAGE) in plat.reserved_ranges(th)
    assert isinstance(th.get_regs(), Regs) and th.get_regs().cs == 0x33
    with pytest.raises(PlatformError) as e:
        th.space.read(0x1000, 1)
    assert e.value.errno == errno.EFAULT


def test_mmap_is_top_down_and_honours_free_hints(th):
    a = mmap(th, 0, 3 * PAGE)
    assert a == BELOW_VVAR - 3 * PAGE
    b = mmap(th, 0, PAGE)
    assert b == a - PAGE
    assert mmap(th, 0x20000000, PAGE) == 0x20000000        # free hint: taken
    assert mmap(th, a, PAGE) == b - PAGE                   # busy hint: top-down again
    assert th.space.page(a).prot == RW
    assert th.space.read(a, 8) == bytes(8)                 # anonymous memory is zero


def test_map_fixed_replaces_and_noreplace_refuses(th):
    a = mmap(th, 0, 2 * PAGE)
    th.space.write(a, b"old")
    assert mmap(th, a, PAGE, PROT_READ, ANON | MAP_FIXED) == a
    assert th.space.read(a, 3) == bytes(3) and th.space.page(a).prot == PROT_READ
    assert mmap(th, a, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == -errno.EEXIST
    assert mmap(th, a - PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE) == a - PAGE
    assert mmap(th, a + 1, PAGE, RW, ANON | MAP_FIXED) == -errno.EINVAL
    assert mmap(th, 0x1000, PAGE, RW, ANON | MAP_FIXED) == -errno.EPERM    # mmap_min_addr
    assert mmap(th, 0, 0) == -errno.EINVAL
    assert mmap(th, 0, PAGE, RW, MAP_ANONYMOUS) == -errno.EINVAL          # no map type


def test_munmap_and_mprotect(th):
    a = mmap(th, 0, 3 * PAGE)
    assert th.inject(HOST_MPROTECT, a, PAGE, PROT_READ | PROT_EXEC) == 0
    assert [th.space.page(a + i * PAGE).prot for i in range(3)] == [5, RW, RW]
    assert th.inject(HOST_MUNMAP, a + PAGE, PAGE) == 0
    with pytest.raises(PlatformError):
        th.space.write(a + PAGE, b"x")
    with pytest.raises(PlatformError):                     # a write across the hole: nothing
        th.space.write(a + PAGE - 2, b"abcd")
    assert th.space.read(a + PAGE - 2, 2) == bytes(2)
    assert th.inject(HOST_MPROTECT, a, 3 * PAGE, PROT_READ) == -errno.ENOMEM
    assert th.inject(HOST_MUNMAP, a + 1, PAGE) == -errno.EINVAL
    assert th.space.host_calls[-1] == (HOST_MUNMAP, (a + 1, PAGE, 0, 0, 0, 0), -errno.EINVAL)


def test_mremap_and_madvise(th):
    a = mmap(th, 0, PAGE)
    th.space.write(a, b"keep")
    assert th.inject(HOST_MREMAP, a, PAGE, 2 * PAGE, 0, 0) == -errno.ENOMEM   # b below blocks
    b = th.inject(HOST_MREMAP, a, PAGE, 2 * PAGE, mm.MREMAP_MAYMOVE, 0)
    assert b != a and th.space.read(b, 4) == b"keep" and th.space.page(a) is None
    assert th.space.page(b + PAGE).prot == RW
    assert th.inject(HOST_MREMAP, b, 2 * PAGE, PAGE, 0, 0) == b                 # shrink
    assert th.space.page(b + PAGE) is None
    assert th.inject(HOST_MADVISE, b, PAGE, mm.MADV_DONTNEED) == 0
    assert th.space.read(b, 4) == bytes(4)
    assert th.inject(HOST_MADVISE, b + PAGE, PAGE, mm.MADV_DONTNEED) == -errno.ENOMEM


def test_fork_copies_private_pages_and_shares_shared_ones(th):
    priv = mmap(th, 0, PAGE)
    shared = mmap(th, 0, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS)
    th.space.write(priv, b"parent")
    child = th.fork(0)
    assert child.space is not th.space and child.tid == child.space.tgid
    assert child.space.read(priv, 6) == b"parent"
    child.space.write(priv, b"child!")
    child.space.write(shared, b"both")
    assert th.space.read(priv, 6) == b"parent"
    assert th.space.read(shared, 4) == b"both"
    assert child.get_regs().rax == 0 and child.state == "stopped"
    sibling = th.fork(CLONE_VM)
    assert sibling.space is th.space and set(th.space.threads) == {th.tid, sibling.tid}
    assert th.space.host_calls[-1][0] == HOST_CLONE


def test_scripted_syscall_stop_has_sysemu_registers(th):
    plat = th.platform
    th.resume()
    assert plat.wait(0) == ([], [])                        # running, nothing scripted
    with pytest.raises(Idle):
        plat.wait(None)
    th.script_syscall(1, 2, 0x1234, 5, pc=0x401000)
    (trap,), _ = plat.wait(None)
    r = th.get_regs()
    assert trap.kind == SYSCALL and trap.thread is th
    assert (r.orig_rax, r.rdi, r.rsi, r.rdx) == (1, 2, 0x1234, 5)
    assert r.rax == 2**64 - errno.ENOSYS and r.rip == r.rcx == 0x401002
    assert r.r11 == r.eflags
    with pytest.raises(PlatformError):
        th.resume() or th.get_regs()                       # running: no registers


def test_fault_and_exit_stops(th):
    plat = th.platform
    th.script_fault(11, 0xdead000, code=1)
    th.script_exit(0x9)
    th.resume()
    (trap,), _ = plat.wait(None)
    assert (trap.kind, trap.signo, trap.code, trap.addr) == (SIGNAL, 11, 1, 0xdead000)
    si = th.siginfo()
    assert (si.si_signo, si.si_code, si.si_addr) == (11, 1, 0xdead000)
    th.resume()
    (trap,), _ = plat.wait(None)
    assert trap.kind == EXITED and trap.status == 0x9
    assert th.tid not in plat.threads and th.tid not in th.space.threads
    with pytest.raises(PlatformError):
        th.get_regs()


def test_resume_at_syscall_instruction_traps_again(th):
    """A restarted syscall: rip moved back onto `syscall`, rax = the number."""
    code = mmap(th, 0, PAGE)
    th.space.write(code, b"\x0f\x05\xcc")
    r = th.get_regs()
    r.rip, r.rax = code, 0
    th.script_syscall(39)                                  # comes after the restart
    th.resume()
    assert th.next_trap().kind == SYSCALL
    assert (r.orig_rax, r.rip) == (0, code + 2)
    th.resume()
    th.next_trap()
    assert r.orig_rax == 39


def test_interrupt_stops_a_running_thread_first(th):
    th.script_syscall(39)
    th.resume()
    th.interrupt()
    trap = th.next_trap()
    assert (trap.kind, trap.signo) == (SIGNAL, 23)
    th.resume()
    assert th.next_trap().kind == SYSCALL


def test_resume_with_is_deferred_until_wait(th):
    plat = th.platform
    regs = th.get_regs().copy()
    regs.r12 = 0x1234
    th.resume_with(regs)
    assert plat.pending == (th, regs) and th.state == "stopped"
    th.script_syscall(39)
    (trap,), _ = plat.wait(None)
    assert th.get_regs().r12 == 0x1234
    th.resume()
    th.resume_with(regs)                                   # resuming a running thread
    plat.flush_pending()                                   # is a kernel bug: recorded
    assert plat.errors and "not stopped" in plat.errors[0][1]


def test_map_host_fd_copies_the_file(th, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"host file contents")
    fd = os.open(path, os.O_RDONLY)
    try:
        a = th.space.map_host_fd(fd, 0, PAGE, PROT_READ, MAP_PRIVATE, 0)
    finally:
        os.close(fd)
    assert th.space.read(a, 18) == b"host file contents"
    assert th.space.mm.fds == {}                           # pidfd and the file: closed
    assert th.space.map_host_fd(1 << 20, 0, PAGE, PROT_READ, MAP_PRIVATE, 0) == -errno.EBADF


def test_kill_and_exit_thread(th):
    plat = th.platform
    sib = th.fork(CLONE_VM)
    sib.exit_thread(running=False)
    assert sib.tid not in plat.threads and th.space.read(STUB_BASE, 4) == b"\x7fELF"
    th.space.kill()
    assert th.space.memfd == -1 and not th.space.threads
    with pytest.raises(PlatformError):
        th.space.read(STUB_BASE, 4)
    with pytest.raises(PlatformError):
        th.inject(HOST_MMAP, 0, PAGE, RW, ANON, -1, 0)
