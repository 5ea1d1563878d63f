"""Signal syscalls: sigaction, masks, kill family, waits, sigaltstack, sigreturn.

Linux counterpart: kernel/signal.c; the work is in vkernel.kernel.kern_sig.
"""
import struct
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S
from vkernel.kernel import kern_proc, kern_sig
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_synch import tsleep
from vkernel.kernel.proc import SigAct, SZOMB
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import I32, JUSTRETURN, NR, PTR, U64, syscall

from .sys_time import read_timespec


def _check_sig(sig, allow0=False):
    if not (0 if allow0 else 1) <= sig <= S.NSIG:
        raise KernelError(E.EINVAL)


@syscall(NR.rt_sigaction, I32, PTR, PTR, U64)
def sys_rt_sigaction(td, sig, act, oact, sigsetsize):
    """Implements Linux rt_sigaction(2)."""
    _check_sig(sig)
    if sigsetsize != 8:
        raise KernelError(E.EINVAL)
    p = td.lwp_proc
    cur = p.p_sigacts[sig]
    if act:                           # checked before oact is written, as in do_sigaction
        a = S.unpack_sigaction(copyin(td, act, 32))
        if sig in (S.SIGKILL, S.SIGSTOP):
            raise KernelError(E.EINVAL)
        new = SigAct(a.sa_handler, a.sa_flags, a.sa_restorer, a.sa_mask & ~S.SIG_UNBLOCKABLE)
        p.p_sigacts[sig] = new
        if kern_sig.sig_ignored(p, sig):
            _discard_pending(p, sig)
    if oact:
        copyout(td, oact, S.pack_sigaction(cur.handler, cur.flags, cur.restorer, cur.mask))
    return 0


def _discard_pending(p, sig):
    bit = S.sigmask(sig)
    p.p_siglist &= ~bit
    p.p_siginfo.pop(sig, None)
    for td in p.p_lwps.values():
        td.lwp_siglist &= ~bit
        td.lwp_siginfo.pop(sig, None)


@syscall(NR.rt_sigprocmask, I32, PTR, PTR, U64)
def sys_rt_sigprocmask(td, how, set_, oset, sigsetsize):
    """Implements Linux rt_sigprocmask(2)."""
    if sigsetsize != 8:
        raise KernelError(E.EINVAL)
    old = td.lwp_sigmask
    if set_:
        (m,) = struct.unpack("<Q", copyin(td, set_, 8))
        if how == S.SIG_BLOCK:
            new = old | m
        elif how == S.SIG_UNBLOCK:
            new = old & ~m
        elif how == S.SIG_SETMASK:
            new = m
        else:
            raise KernelError(E.EINVAL)
        td.lwp_sigmask = new & ~S.SIG_UNBLOCKABLE
    if oset:
        copyout(td, oset, struct.pack("<Q", old))
    return 0


@syscall(NR.rt_sigpending, PTR, U64)
def sys_rt_sigpending(td, set_, sigsetsize):
    """Implements Linux rt_sigpending(2)."""
    pend = (td.lwp_siglist | td.lwp_proc.p_siglist) & td.lwp_sigmask
    copyout(td, set_, struct.pack("<Q", pend))
    return 0


@syscall(NR.rt_sigsuspend, PTR, U64)
def sys_rt_sigsuspend(td, mask, sigsetsize):
    """Implements Linux rt_sigsuspend(2): returns EINTR after a handler ran."""
    if "old" not in td.sstate:
        (m,) = struct.unpack("<Q", copyin(td, mask, 8))
        td.sstate["old"] = td.lwp_sigmask
        td.lwp_sigmask = m & ~S.SIG_UNBLOCKABLE
        td.sstate["eintr"] = -E.ERESTARTNOHAND
        td.lwp_oldmask = td.sstate["old"]
    tsleep(td, ("pause", td), "pause")


@syscall(NR.pause)
def sys_pause(td):
    """Implements Linux pause(2)."""
    td.sstate["eintr"] = -E.ERESTARTNOHAND
    tsleep(td, ("pause", td), "pause")


@syscall(NR.rt_sigtimedwait, PTR, PTR, PTR, U64)
def sys_rt_sigtimedwait(td, uset, uinfo, uts, sigsetsize):
    """Implements Linux rt_sigtimedwait(2)."""
    if "set" not in td.sstate:
        (m,) = struct.unpack("<Q", copyin(td, uset, 8))
        td.sstate["set"] = m & ~S.SIG_UNBLOCKABLE
        if uts:
            td.sstate["deadline"] = time.monotonic() + read_timespec(td, uts)
    want = td.sstate["set"]
    td.td_sigwait = 0
    sig, info = _take(td, want)
    if sig:
        if uinfo:
            copyout(td, uinfo, info)
        return sig
    deadline = td.sstate.get("deadline")
    if deadline is not None and time.monotonic() >= deadline:
        raise KernelError(E.EAGAIN)
    td.sstate["eintr"] = -E.EINTR
    td.td_sigwait = want             # kern_sig wakes us for these, blocked or not
    tsleep(td, ("sigwait", td), "sigwait", deadline)


def _take(td, want):
    p = td.lwp_proc
    for owner, lists, attr in ((td, td.lwp_siginfo, "lwp_siglist"),
                               (p, p.p_siginfo, "p_siglist")):
        pend = getattr(owner, attr) & want
        if pend:
            sig = (pend & -pend).bit_length()
            q = lists.get(sig) or [S.siginfo_kill(sig, S.SI_KERNEL)]
            info = q.pop(0)
            if not q:
                lists.pop(sig, None)
                setattr(owner, attr, getattr(owner, attr) & ~S.sigmask(sig))
            return sig, info
    return 0, None


@syscall(NR.sigaltstack, PTR, PTR)
def sys_sigaltstack(td, uss, uoss):
    """Implements Linux sigaltstack(2)."""
    sp, flags, size = td.lwp_sigaltstack
    on = bool(size) and sp <= td.regs.rsp < sp + size
    if uoss:
        copyout(td, uoss, S.pack_stack(sp, S.SS_ONSTACK if on else flags, size))
    if uss:
        ss = S.unpack_stack(copyin(td, uss, 24))
        if on:
            raise KernelError(E.EPERM)
        if ss.ss_flags & ~(S.SS_DISABLE | S.SS_AUTODISARM | S.SS_ONSTACK):
            raise KernelError(E.EINVAL)
        if ss.ss_flags & S.SS_DISABLE:
            td.lwp_sigaltstack = (0, S.SS_DISABLE, 0)
        elif ss.ss_size < S.MINSIGSTKSZ:
            raise KernelError(E.ENOMEM)
        else:
            td.lwp_sigaltstack = (ss.ss_sp, 0, ss.ss_size)
    return 0


@syscall(NR.rt_sigreturn)
def sys_rt_sigreturn(td):
    """Implements Linux rt_sigreturn(2)."""
    try:
        kern_sig.sigreturn(td)
    except KernelError:               # an unreadable frame: signal_fault(), SIGSEGV
        _force_sig(td, S.SIGSEGV)
        return 0
    return JUSTRETURN


def _force_sig(td, sig):
    """Linux force_sig(): a blocked or ignored sig is reset to its default action."""
    p = td.lwp_proc
    if p.p_sigacts[sig].handler == S.SIG_IGN or td.lwp_sigmask & S.sigmask(sig):
        p.p_sigacts[sig] = SigAct()
        td.lwp_sigmask &= ~S.sigmask(sig)
    kern_sig.tdsignal(td, sig, S.siginfo_kill(sig, S.SI_KERNEL))


@syscall(NR.restart_syscall)
def sys_restart_syscall(td):
    """Implements Linux restart_syscall(2): resume a call a stop interrupted.

    The call returned -ERESTART_RESTARTBLOCK (kern_sig.RestartBlock); the
    block is kept in sstate, since a sleep re-runs this handler."""
    st = td.sstate
    if "restart" not in st:
        st["restart"], td.td_restart_block = td.td_restart_block, None
    block = st["restart"]
    if block is None:
        raise KernelError(E.EINTR)
    return block.fn(td)


# -- kill family --------------------------------------------------------------------
def _cansignal(td, p, sig):
    c = td.lwp_proc.p_ucred
    t = p.p_ucred
    if c.uid == 0 or c.uid in (t.ruid, t.svuid) or c.ruid in (t.ruid, t.svuid):
        return True
    return sig == S.SIGCONT and p.p_session is td.lwp_proc.p_session


def _kill_info(td, sig, code=S.SI_USER):
    return S.siginfo_kill(sig, code, td.lwp_proc.p_pid, td.lwp_proc.p_ucred.ruid)


def _kill_list(td, pid):
    if pid > 0:
        p = kern_proc.zpfind(pid)
        return [p] if p else None
    if pid == 0:
        return kern_proc.pgrp_procs(td.lwp_proc.p_pgid) or None
    if pid == -1:                     # nobody to signal: ESRCH (kill_something_info)
        return [p for p in kern_proc.allproc.values()
                if p.p_pid > 1 and p is not td.lwp_proc and p.p_stat != SZOMB] or None
    return kern_proc.pgrp_procs(-pid) or None


@syscall(NR.kill, I32, I32)
def sys_kill(td, pid, sig):
    """Implements Linux kill(2)."""
    _check_sig(sig, allow0=True)
    procs = _kill_list(td, pid)
    if procs is None:
        raise KernelError(E.ESRCH)
    sent = 0
    for p in procs:
        if _cansignal(td, p, sig):
            sent += 1
            kern_sig.psignal(p, sig, _kill_info(td, sig))
    if not sent and pid != -1:        # kill(-1) ignores EPERM from each target
        raise KernelError(E.EPERM)
    return 0


def _tkill(td, tgid, tid, sig):
    _check_sig(sig, allow0=True)
    target = kern_proc.lwpfind(tid)
    if target is None or (tgid > 0 and target.lwp_proc.p_pid != tgid) or tid <= 0:
        raise KernelError(E.EINVAL if tid <= 0 else E.ESRCH)
    if not _cansignal(td, target.lwp_proc, sig):
        raise KernelError(E.EPERM)
    if sig:
        kern_sig.tdsignal(target, sig, _kill_info(td, sig, S.SI_TKILL))
    return 0


@syscall(NR.tgkill, I32, I32, I32)
def sys_tgkill(td, tgid, tid, sig):
    """Implements Linux tgkill(2)."""
    if tgid <= 0:
        raise KernelError(E.EINVAL)
    return _tkill(td, tgid, tid, sig)


@syscall(NR.tkill, I32, I32)
def sys_tkill(td, tid, sig):
    """Implements Linux tkill(2)."""
    return _tkill(td, 0, tid, sig)


@syscall(NR.rt_sigqueueinfo, I32, I32, PTR)
def sys_rt_sigqueueinfo(td, pid, sig, uinfo):
    """Implements Linux rt_sigqueueinfo(2)."""
    _check_sig(sig)
    p = kern_proc.pfind(pid)
    if p is None:
        raise KernelError(E.ESRCH)
    info = bytearray(copyin(td, uinfo, 128))
    struct.pack_into("<i", info, 0, sig)
    kern_sig.psignal(p, sig, bytes(info))
    return 0
