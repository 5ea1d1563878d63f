"""Threads on the fake platform: clone(2) of a thread into the same host
process, futex wait/wake between threads, thread exit with
CLONE_CHILD_CLEARTID, and vfork."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import GONE, SLEEPING, call, retval  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import process as PR  # noqa: E402
from vkernel.abi.linux import signal as S  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.kernel import kern_proc  # noqa: E402

PTHREAD = (PR.CLONE_VM | PR.CLONE_FS | PR.CLONE_FILES | PR.CLONE_SIGHAND | PR.CLONE_THREAD
           | PR.CLONE_SYSVSEM | PR.CLONE_SETTLS | PR.CLONE_PARENT_SETTID
           | PR.CLONE_CHILD_CLEARTID)
FUTEX_WAIT, FUTEX_WAKE, PRIVATE = 0, 1, 128


def spawn_thread(k):
    """pthread_create's clone; returns (thread, its tid word)."""
    stack, tls, tidw = k.alloc(4096) + 4096, k.alloc(64), k.alloc(4)
    tid = call(k.td, NR.clone, PTHREAD, stack, tidw, tidw, tls)
    assert tid > 1
    child = kern_proc.lwpfind(tid)
    assert child.regs.rsp == stack and child.regs.fs_base == tls and child.regs.rax == 0
    return child, tidw


def test_clone_thread_shares_the_host_process(k):
    child, tidw = spawn_thread(k)
    assert child.lwp_proc is k.init and k.i32(tidw) == child.lwp_tid
    assert child.host.space is k.td.host.space                 # one host process
    assert set(k.td.host.space.threads) == {k.td.host.tid, child.host.tid}
    assert call(child, NR.gettid) == child.lwp_tid and call(child, NR.getpid) == 1
    buf = k.alloc(8)
    k.space(child).write(buf, b"shared!")
    assert k.peek(buf, 7) == b"shared!"
    assert call(k.td, NR.clone, PR.CLONE_THREAD, 0, 0, 0, 0) == -E.EINVAL   # needs VM+SIGHAND


def test_futex_wait_and_wake(k):
    child, _ = spawn_thread(k)
    word = k.put(b"\0\0\0\0")
    assert call(k.td, NR.futex, word, FUTEX_WAIT | PRIVATE, 1, 0, 0, 0) == -E.EAGAIN
    assert call(k.td, NR.futex, word, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0) == SLEEPING
    assert k.td.td_wmesg == "futex"
    assert call(child, NR.futex, word, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 1
    assert call(child, NR.futex, word, FUTEX_WAKE | PRIVATE, 1, 0, 0, 0) == 0   # nobody left
    k.run()
    assert retval(k.td) == 0 and k.td.td_wchans is None
    assert call(k.td, NR.futex, word + 1, FUTEX_WAIT | PRIVATE, 0, 0, 0, 0) == -E.EINVAL


def test_thread_exit_clears_tid_and_wakes_the_joiner(k):
    child, tidw = spawn_thread(k)
    host = child.host
    tid = child.lwp_tid
    assert call(k.td, NR.futex, tidw, FUTEX_WAIT, tid, 0, 0, 0) == SLEEPING   # pthread_join
    assert call(child, NR.exit, 0) == GONE
    assert k.i32(tidw) == 0
    assert host.state == "exited" and host.tid not in k.platform.threads
    assert kern_proc.lwpfind(tid) is None and list(k.init.p_lwps) == [1]
    k.run()
    assert retval(k.td) == 0 and k.init.p_stat == "SACTIVE"


def test_signal_to_a_thread_with_tgkill(k):
    child, _ = spawn_thread(k)
    act = k.put(S.pack_sigaction(0x400100, S.SA_RESTORER, 0x400200, 0))
    assert call(k.td, NR.rt_sigaction, S.SIGUSR1, act, 0, 8) == 0
    assert call(k.td, NR.tgkill, 1, child.lwp_tid, S.SIGUSR1) == 0
    k.run()                                                    # kicked out of guest code
    assert child.regs.rip == 0x400100 and k.td.regs.rip != 0x400100
    assert call(k.td, NR.tgkill, 1, 4242, S.SIGUSR1) == -E.ESRCH


def test_vfork_parent_sleeps_until_the_child_exits(k):
    assert call(k.td, NR.vfork) == SLEEPING
    assert k.td.td_wmesg == "ppwait"
    child = kern_proc.lwpfind(2)
    assert child.host.space is not k.td.host.space
    assert call(child, NR.exit_group, 0) == GONE
    k.run()
    assert retval(k.td) == 2
