"""Signals on the fake platform: rt_sigaction/rt_sigprocmask/kill, the
rt_sigframe written into guest memory, rt_sigreturn, SA_RESTART vs EINTR
on an interrupted pipe read, default actions and faults."""
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import TEXT, SLEEPING, call, retval  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import sigframe as SF  # noqa: E402
from vkernel.abi.linux import signal as S  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402

HANDLER, RESTORER = 0x400100, 0x400200
MASK64 = (1 << 64) - 1


def sigaction(k, td, sig, handler=HANDLER, flags=0, mask=0):
    act = k.put(S.pack_sigaction(handler, flags | S.SA_RESTORER, RESTORER, mask))
    assert call(td, NR.rt_sigaction, sig, act, 0, 8) == 0


def sigset(k, *sigs):
    return k.put(struct.pack("<Q", S.sigset_of(sigs)))


def frame_of(k, td):
    """The rt_sigframe td's handler was entered with."""
    frame = td.regs.rsp
    return frame, SF.unpack_rt_sigframe(k.peek(frame, SF.RT_SIGFRAME_SIZE))


def test_sigaction_and_sigprocmask_arguments(k):
    td = k.td
    sigaction(k, td, S.SIGUSR1, flags=S.SA_SIGINFO, mask=S.sigmask(S.SIGUSR2))
    old = k.alloc(32)
    assert call(td, NR.rt_sigaction, S.SIGUSR1, 0, old, 8) == 0
    a = S.unpack_sigaction(k.peek(old, 32))
    assert (a.sa_handler, a.sa_restorer, a.sa_mask) == (HANDLER, RESTORER, S.sigmask(S.SIGUSR2))
    act = k.put(S.pack_sigaction(HANDLER))
    assert call(td, NR.rt_sigaction, S.SIGKILL, act, old, 8) == -E.EINVAL
    assert S.unpack_sigaction(k.peek(old, 32)).sa_handler == HANDLER   # refused: untouched
    assert call(td, NR.rt_sigaction, 65, act, 0, 8) == -E.EINVAL
    assert call(td, NR.rt_sigaction, S.SIGUSR1, act, 0, 4) == -E.EINVAL
    oset = k.alloc(8)
    everything = k.put(struct.pack("<Q", MASK64))
    assert call(td, NR.rt_sigprocmask, S.SIG_SETMASK, everything, 0, 8) == 0
    assert call(td, NR.rt_sigprocmask, S.SIG_BLOCK, 0, oset, 8) == 0
    assert k.u64(oset) == MASK64 & ~S.SIG_UNBLOCKABLE          # never KILL or STOP
    assert call(td, NR.rt_sigprocmask, 7, everything, 0, 8) == -E.EINVAL


def test_kill_delivers_an_rt_sigframe_and_sigreturn_restores(k):
    td = k.td
    sigaction(k, td, S.SIGUSR1, flags=S.SA_SIGINFO, mask=S.sigmask(S.SIGUSR2))
    usr1 = sigset(k, S.SIGUSR1)
    assert call(td, NR.rt_sigprocmask, S.SIG_BLOCK, usr1, 0, 8) == 0
    assert call(td, NR.kill, 1, S.SIGUSR1) == 0
    assert td.regs.rip == TEXT + 2                            # blocked: still pending
    pend = k.alloc(8)
    assert call(td, NR.rt_sigpending, pend, 8) == 0 and k.u64(pend) == S.sigmask(S.SIGUSR1)
    fx = bytearray(td.host.get_fpregs())
    fx[160:176] = b"xmm0 of the user"
    td.host.set_fpregs(fx)
    rsp0 = td.regs.rsp
    assert call(td, NR.rt_sigprocmask, S.SIG_UNBLOCK, usr1, 0, 8,
                r12=0x1212, rbp=0xB0B0, r15=0xF15) == 0        # delivered on the way out
    r = td.regs
    frame, f = frame_of(k, td)
    assert (r.rip, r.rdi, r.rsi, r.rdx) == (HANDLER, S.SIGUSR1, frame + SF.FRAME_INFO,
                                           frame + SF.FRAME_UC)
    assert frame % 16 == 8 and frame + SF.RT_SIGFRAME_SIZE <= rsp0 - SF.REDZONE
    assert f["pretcode"] == RESTORER and f["sigmask"] == 0
    sc = f["regs"]
    assert (sc["rip"], sc["rsp"], sc["rax"]) == (TEXT + 2, rsp0, 0)
    assert (sc["r12"], sc["rbp"], sc["r15"]) == (0x1212, 0xB0B0, 0xF15)
    fpstate = sc["fpstate"]
    assert fpstate % 64 == 0 and frame + SF.RT_SIGFRAME_SIZE <= fpstate
    assert fpstate + 512 <= rsp0 - SF.REDZONE
    assert k.peek(fpstate, 512) == bytes(fx)
    signo, _, code, _, pid, uid = struct.unpack_from("<iiiiiI", f["info"])
    assert (signo, code, pid, uid) == (S.SIGUSR1, S.SI_USER, 1, 0)
    assert td.lwp_sigmask == S.sigset_of([S.SIGUSR1, S.SIGUSR2])
    assert td.host.get_fpregs() == SF.pack_fxsave_default()  # a clean FPU in the handler
    assert call(td, NR.rt_sigreturn, rsp=frame + 8, r12=0, rbp=0) == 0
    r = td.regs
    assert (r.rip, r.rsp, r.r12, r.rbp, r.r15) == (TEXT + 2, rsp0, 0x1212, 0xB0B0, 0xF15)
    assert td.lwp_sigmask == 0 and td.host.get_fpregs() == bytes(fx)


@pytest.mark.parametrize("flags", [S.SA_RESTART, 0], ids=["SA_RESTART", "EINTR"])
def test_interrupted_pipe_read(k, flags):
    td = k.td
    fds = k.alloc(8)
    assert call(td, NR.pipe2, fds, 0) == 0
    rfd, wfd = struct.unpack("<ii", k.peek(fds, 8))
    child = k.fork()
    sigaction(k, td, S.SIGUSR1, flags=flags)
    buf = k.alloc(8)
    assert call(td, NR.read, rfd, buf, 8) == SLEEPING
    assert call(child, NR.kill, 1, S.SIGUSR1) == 0
    k.run()                                                   # -ERESTARTSYS, then the handler
    assert td.regs.rip == HANDLER
    frame, f = frame_of(k, td)
    sc = f["regs"]
    if flags:
        assert (sc["rip"], sc["rax"]) == (TEXT, NR.read)      # back onto `syscall`
    else:
        assert (sc["rip"], sc["rax"]) == (TEXT + 2, -E.EINTR & MASK64)
    assert (sc["rdi"], sc["rsi"], sc["rdx"]) == (rfd, buf, 8)
    call(td, NR.rt_sigreturn, rsp=frame + 8)
    if not flags:
        assert retval(td) == -E.EINTR and td.regs.rip == TEXT + 2
        return
    k.run()                                                   # the CPU runs read(2) again
    assert td.td_wmesg == "piperd"
    assert call(child, NR.write, wfd, k.put(b"data", child), 4) == 4
    k.run()
    assert retval(td) == 4 and k.peek(buf, 4) == b"data"


def test_default_actions_kill_and_are_reported_to_wait(k):
    child = k.fork()
    assert child.td_oncpu                                     # running guest code
    assert call(k.td, NR.kill, child.lwp_proc.p_pid, S.SIGTERM) == 0
    k.run()                                                   # kicked out (SIGURG), then dies
    assert child.lwp_proc.p_stat == "SZOMB" and child.lwp_proc.p_xstat == S.SIGTERM
    status = k.alloc(4)
    assert call(k.td, NR.wait4, -1, status, 0, 0) == 2
    assert k.i32(status) == S.SIGTERM
    assert call(k.td, NR.kill, 2, 0) == -E.ESRCH
    assert call(k.td, NR.kill, 1, 0) == 0                    # signal 0: only a check


def test_fault_without_handler_kills_and_logs(k):
    child = k.fork()
    child.host.script_fault(S.SIGSEGV, 0xDEAD0000, code=1)
    k.run()
    p = child.lwp_proc
    assert p.p_stat == "SZOMB" and p.p_xstat & 0x7F == S.SIGSEGV
    assert f"pid {p.p_pid} (init): signal 11, fault address 0xdead0000" in k.log()


def test_fault_with_handler_gets_the_fault_address(k):
    sigaction(k, k.td, S.SIGSEGV, flags=S.SA_SIGINFO)
    k.td.host.script_fault(S.SIGSEGV, 0xBAD000, code=2)
    k.run()
    assert k.td.regs.rip == HANDLER and k.td.regs.rdi == S.SIGSEGV
    _, f = frame_of(k, k.td)
    signo, _, code, _, addr = struct.unpack_from("<iiiiQ", f["info"])
    assert (signo, code, addr) == (S.SIGSEGV, 2, 0xBAD000)
    assert k.td.lwp_sigmask == S.sigmask(S.SIGSEGV)         # blocked while it runs


def test_sigreturn_with_a_bad_frame_is_sigsegv(k):
    """Linux's rt_sigreturn: a frame it cannot read is signal_fault(), SIGSEGV."""
    child = k.fork()
    assert call(child, NR.rt_sigreturn, rsp=0xDEAD0000) == 0
    p = child.lwp_proc
    assert p.p_stat == "SZOMB" and p.p_xstat & 0x7F == S.SIGSEGV
    sigaction(k, k.td, S.SIGSEGV)
    blocked = sigset(k, S.SIGSEGV)
    assert call(k.td, NR.rt_sigprocmask, S.SIG_BLOCK, blocked, 0, 8) == 0
    assert call(k.td, NR.rt_sigreturn, rsp=0xDEAD0000) == 0
    assert k.halted & 0x7F == S.SIGSEGV             # forced: blocked, so the default action


def test_kill_minus_one_with_nobody_to_signal_is_esrch(k):
    assert call(k.td, NR.kill, -1, S.SIGTERM) == -E.ESRCH
    child = k.fork()
    assert call(child, NR.kill, -1, 0) == -E.ESRCH   # init (pid 1) and itself: not targets
    assert call(k.td, NR.kill, -1, 0) == 0           # the child is one for init
