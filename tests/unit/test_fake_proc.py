"""Process syscalls on the fake platform: ids, fork, wait4, exit, unknown
numbers (ENOSYS) and bad pointers (EFAULT), through the real dispatcher."""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import GONE, SLEEPING, call, retval  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import process as PR  # noqa: E402
from vkernel.abi.linux import signal as S  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.kernel import kern_proc  # noqa: E402
from vkernel.syscalls.table import sysent  # noqa: E402

BAD = 0xDEAD0000                 # never mapped in the fake kernel's processes


def test_ids_of_init(k):
    assert call(k.td, NR.getpid) == 1
    assert call(k.td, NR.getppid) == 0
    assert call(k.td, NR.gettid) == 1
    assert call(k.td, NR.getpgrp) == 1 and call(k.td, NR.getsid, 0) == 1


def test_unknown_syscall_is_enosys_and_logged_once_per_process(k):
    free = next(n for n in NR if int(n) not in sysent)
    assert call(k.td, free) == -E.ENOSYS
    assert call(k.td, free) == -E.ENOSYS
    assert call(k.td, 1000) == -E.ENOSYS
    log = k.log()
    assert log.count(f"pid 1 (init): unimplemented syscall {free.name} ({int(free)})") == 1
    assert log.count("pid 1 (init): unimplemented syscall #1000 (1000)") == 1
    child = k.fork()
    assert call(child, free) == -E.ENOSYS
    assert f"pid 2 (init): unimplemented syscall {free.name}" in k.log()


def test_bad_pointers_are_efault_not_exceptions(k):
    td = k.td
    assert call(td, NR.openat, -100, BAD, 0, 0) == -E.EFAULT
    assert call(td, NR.rt_sigprocmask, S.SIG_BLOCK, BAD, 0, 8) == -E.EFAULT
    assert call(td, NR.uname, BAD) == -E.EFAULT
    fds = k.alloc(8)
    assert call(td, NR.pipe2, fds, 0) == 0
    r, w = struct.unpack("<ii", k.peek(fds, 8))
    assert call(td, NR.write, w, BAD, 10) == -E.EFAULT
    assert call(td, NR.write, w, k.put(b"data"), 4) == 4
    assert call(td, NR.read, r, BAD, 4) == -E.EFAULT
    assert call(td, NR.getpid) == 1                        # the process is unharmed


def test_fork_copies_the_address_space(k):
    buf = k.put(b"parent")
    child = k.fork()
    assert child.lwp_proc.p_pid == 2 and child.lwp_proc.p_pptr is k.init
    assert child.regs.rax == 0 and child.host.space is not k.td.host.space
    assert call(child, NR.getpid) == 2 and call(child, NR.getppid) == 1
    assert k.peek(buf, 6, child) == b"parent"
    assert call(child, NR.read, -1, 0, 0) == -E.EBADF
    fds = k.alloc(8)
    assert call(child, NR.pipe2, fds, 0) == 0              # writes into the child's copy
    assert k.peek(fds, 8, child) != k.peek(fds, 8)
    assert k.init.p_fd.files == {} and sorted(child.lwp_proc.p_fd.files) == [0, 1]


def test_wait4_sleeps_until_the_child_exits(k):
    child = k.fork()
    status = k.alloc(4)
    assert call(k.td, NR.wait4, -1, status, 0, 0) == SLEEPING
    assert k.td.td_wmesg == "wait"
    space = child.host.space
    assert call(child, NR.exit_group, 3) == GONE
    assert space.memfd == -1 and not space.threads        # the host process is gone
    assert child.lwp_proc.p_stat == "SZOMB"
    k.run()                                               # init is woken and re-dispatched
    assert retval(k.td) == 2
    assert k.i32(status) == 3 << 8
    assert kern_proc.zpfind(2) is None                     # reaped
    assert call(k.td, NR.wait4, -1, status, PR.WNOHANG, 0) == -E.ECHILD


def test_sigchld_and_exit_of_init_halts(k):
    child = k.fork()
    call(child, NR.exit_group, 0)
    assert k.init.p_siglist & S.sigmask(S.SIGCHLD) == 0   # SIG_DFL SIGCHLD is ignored
    assert call(k.td, NR.exit_group, 7) == GONE
    assert k.halted == 7 << 8


def test_prctl_name_and_arch_prctl_fs(k):
    td = k.td
    assert call(td, NR.prctl, PR.PR_SET_NAME, k.cstr("a-very-long-process-name")) == 0
    assert k.init.p_comm == "a-very-long-pro"
    out = k.alloc(16)
    assert call(td, NR.prctl, PR.PR_GET_NAME, out) == 0
    assert k.peek(out, 16) == b"a-very-long-pro\0"
    assert call(td, NR.arch_prctl, 0x1002, 0x7000_1234) == 0
    assert td.host.get_regs().fs_base == 0x7000_1234       # in the thread's registers
    assert call(td, NR.arch_prctl, 0x1003, out) == 0
    assert k.u64(out) == 0x7000_1234
