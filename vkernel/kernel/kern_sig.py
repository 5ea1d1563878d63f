"""Signals: posting, default actions, job control, delivery and sigreturn.

BSD counterpart: sys/kern/kern_sig.c (psignal, issignal, postsig) and the
machine-dependent sendsig/sigreturn of sys/platform/*/x86_64; Linux:
kernel/signal.c and arch/x86/kernel/signal.c for the frame layout.

Pending signals are bitmasks on the process (p_siglist) and on each thread
(lwp_siglist), each with a queue of 128-byte siginfo records.  Delivery
happens in `userret`, on the way back to guest code: the kernel writes an
x86-64 rt_sigframe (siginfo, ucontext, fxsave area) on the guest stack and
points rip at the handler.
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import sigframe as SF
from vkernel.abi.linux.syscalls import NR

from . import kern_proc
from .errors import KernelError
from .kern_synch import WAKE_NORMAL, WAKE_SIGNAL, sched
from .proc import SSTOP, SZOMB, P_CONTINUED, P_STOPPED_REPORT
from .usercopy import copyin, copyout

STOPSIGS = S.SIG_KERNEL_STOP_MASK
NR_RESTART_SYSCALL = int(NR.restart_syscall)
RESTART_ERRNOS = (E.ERESTARTSYS, E.ERESTARTNOINTR, E.ERESTARTNOHAND, E.ERESTART_RESTARTBLOCK)
RESTART_MIN = 2**64 - max(RESTART_ERRNOS)          # rax of the smallest -ERESTART*
# Hooks the rest of the kernel fills in (kern_exit, ktrace), set at boot.
hooks = {"exit": None, "ktrpsig": None, "log": print}


def sig_ignored(p, sig):
    act = p.p_sigacts[sig]
    if act.handler == S.SIG_IGN:
        return True
    return act.handler == S.SIG_DFL and S.DEFAULT_ACTIONS.get(sig, S.ACT_TERM) == S.ACT_IGN


def _blocked_by_any(p, sig):
    """Blocked signals are never dropped as ignored: signalfd or sigwait
    may take them, or the action may change before they are unblocked."""
    return any(td.lwp_sigmask & S.sigmask(sig) for td in p.p_lwps.values())


def _discarded(p, sig):
    """Linux sig_ignored() at send time: an ignored signal that no thread
    blocks is dropped.  SIGCONT's default action is done when it is sent
    (_continue), so unless caught it is dropped too, waking no sleeper."""
    act = p.p_sigacts[sig]
    if sig == S.SIGCONT:
        ignored = act.handler in (S.SIG_DFL, S.SIG_IGN)
    else:
        ignored = sig_ignored(p, sig)
    return ignored and not _blocked_by_any(p, sig)


def _queue(siglists, sig, info):
    q = siglists.setdefault(sig, [])
    if sig >= S.SIGRTMIN or not q:
        q.append(info)


# -- posting ----------------------------------------------------------------------
def psignal(p, sig, info=None):
    """Send sig to process p (kill(2)); pick a thread that does not block it."""
    if p is None or p.p_stat == SZOMB or sig == 0:
        return
    info = info or S.siginfo_kill(sig, S.SI_KERNEL)
    if sig == S.SIGKILL:
        _kill_now(p, sig)
        return
    if sig == S.SIGCONT:
        _continue(p)
    elif S.sigmask(sig) & STOPSIGS:
        p.p_siglist &= ~S.sigmask(S.SIGCONT)
        p.p_siginfo.pop(S.SIGCONT, None)
    if _discarded(p, sig):
        return
    p.p_siglist |= S.sigmask(sig)
    _queue(p.p_siginfo, sig, info)
    _signal_wake(p, sig)
    signalfd_notify(p)


def tdsignal(td, sig, info=None):
    """Send sig to one thread (tgkill, synchronous faults)."""
    p = td.lwp_proc
    if p.p_stat == SZOMB:
        return
    if sig == S.SIGKILL:
        _kill_now(p, sig)
        return
    if sig == S.SIGCONT:
        _continue(p)
    if sig_ignored(p, sig) and not (S.sigmask(sig) & S.SIG_SYNCHRONOUS_MASK) \
            and not td.lwp_sigmask & S.sigmask(sig):
        return
    td.lwp_siglist |= S.sigmask(sig)
    _queue(td.lwp_siginfo, sig, info or S.siginfo_kill(sig, S.SI_TKILL))
    _wake_td(td, sig)
    signalfd_notify(p)


def signalfd_notify(p):
    """A signal is pending for p: wake its signalfd readers and pollers
    (Linux signalfd_notify); blocked signals wake no thread otherwise."""
    sched.wakeup(("signalfd", p))


def _signal_wake(p, sig):
    """Wake a thread in rt_sigtimedwait for sig (blocked or not), else one
    that does not block it."""
    bit = S.sigmask(sig)
    for td in p.p_lwps.values():
        if td.td_wchans is not None and td.td_sigwait & bit:
            _wake_td(td, sig)
            return
    for td in p.p_lwps.values():
        if not td.lwp_sigmask & bit:
            _wake_td(td, sig)
            return


def _wake_td(td, sig):
    bit = S.sigmask(sig)
    if td.td_wchans is not None and td.td_sigwait & bit:
        sched.setrunnable(td, WAKE_NORMAL)           # rt_sigtimedwait takes it
    elif td.td_wchans is not None and td.td_sleep_intr and not td.lwp_sigmask & bit:
        sched.setrunnable(td, WAKE_SIGNAL)
    elif td.td_oncpu and not td.lwp_sigmask & bit:
        td.host.interrupt()                          # kick it out of guest code


def _kill_now(p, sig):
    hooks["exit"](p, sig)


def gsignal(pgid, sig, info=None):
    for p in kern_proc.pgrp_procs(pgid):
        psignal(p, sig, info)


# -- job control ----------------------------------------------------------------------
def _stop(p, sig):
    """Default action of a stop signal: park every thread (SSTOP)."""
    p.p_stat = SSTOP
    p.p_xstat = (sig << 8) | 0x7F
    p.p_flags |= P_STOPPED_REPORT
    p.p_flags &= ~P_CONTINUED
    parent = p.p_pptr
    if parent and not parent.p_sigacts[S.SIGCHLD].flags & S.SA_NOCLDSTOP:
        psignal(parent, S.SIGCHLD, S.siginfo_chld(S.CLD_STOPPED, p.p_pid, 0, sig))
    if parent:
        sched.wakeup(("wait", parent))


def _continue(p):
    for s in list(p.p_siginfo):
        if S.sigmask(s) & STOPSIGS:
            p.p_siginfo.pop(s)
            p.p_siglist &= ~S.sigmask(s)
    if p.p_stat != SSTOP:
        return
    p.p_stat = "SACTIVE"
    p.p_flags |= P_CONTINUED
    p.p_flags &= ~P_STOPPED_REPORT
    parent = p.p_pptr
    if parent:
        sched.wakeup(("wait", parent))
        if not parent.p_sigacts[S.SIGCHLD].flags & S.SA_NOCLDSTOP:
            psignal(parent, S.SIGCHLD, S.siginfo_chld(S.CLD_CONTINUED, p.p_pid, 0, S.SIGCONT))
    sched.wakeup(("stopped", p))


# -- choosing a signal ---------------------------------------------------------------
def _dequeue(td, blocked=None):
    """Remove and return (sig, info) of the next pending signal not in
    `blocked` (default: the thread's mask; signalfd passes its own)."""
    p = td.lwp_proc
    if blocked is None:
        blocked = td.lwp_sigmask
    pend = (td.lwp_siglist | p.p_siglist) & ~blocked
    if not pend:
        return None, None
    sync = pend & S.SIG_SYNCHRONOUS_MASK & td.lwp_siglist
    bits = sync or pend
    sig = (bits & -bits).bit_length()
    src, lists = (td, td.lwp_siginfo) if td.lwp_siglist & S.sigmask(sig) else (p, p.p_siginfo)
    q = lists.get(sig) or [S.siginfo_kill(sig, S.SI_KERNEL)]
    info = q.pop(0)
    if not q:
        lists.pop(sig, None)
        if src is td:
            td.lwp_siglist &= ~S.sigmask(sig)
        else:
            p.p_siglist &= ~S.sigmask(sig)
    return sig, info


def dequeue_signal(td, blocked):
    """Linux dequeue_signal(): take the next pending signal not in `blocked`."""
    return _dequeue(td, blocked)


def has_pending(td):
    p = td.lwp_proc
    return bool((td.lwp_siglist | p.p_siglist) & ~td.lwp_sigmask)


def issignal(td):
    """The next signal to act on, applying ignore/stop/continue defaults.

    Returns (sig, info, action) where action is "handler", "term", "core" or
    "stop"; or (None, None, None).
    """
    p = td.lwp_proc
    while True:
        sig, info = _dequeue(td)
        if sig is None:
            return None, None, None
        act = p.p_sigacts[sig]
        if act.handler == S.SIG_IGN:
            continue
        if act.handler != S.SIG_DFL:
            return sig, info, "handler"
        dfl = S.DEFAULT_ACTIONS.get(sig, S.ACT_TERM)
        if dfl in (S.ACT_IGN, S.ACT_CONT):
            continue
        if dfl == S.ACT_STOP and sig != S.SIGSTOP and kern_proc.pgrp_orphaned(p.p_pgrp):
            continue
        return sig, info, dfl


# -- delivery ---------------------------------------------------------------------------
def _frame_sp(td, act):
    sp = td.regs.rsp
    ss_sp, ss_flags, ss_size = td.lwp_sigaltstack
    onstack = ss_sp <= sp < ss_sp + ss_size if ss_size else False
    if act.flags & S.SA_ONSTACK and not ss_flags & S.SS_DISABLE and not onstack:
        sp = ss_sp + ss_size
    else:
        sp -= SF.REDZONE
    return sp


def sendsig(td, sig, info, act):
    """Build an rt_sigframe on the guest stack and enter the handler."""
    regs = td.regs
    fxsave = td.host.get_fpregs()
    sp = _frame_sp(td, act)
    fpaddr = (sp - SF.FXSAVE_SIZE) & ~(SF.FPSTATE_ALIGN - 1)
    frame = ((fpaddr - SF.RT_SIGFRAME_SIZE) & ~(SF.FRAME_ALIGN - 1)) - 8
    ss_sp, ss_flags, ss_size = td.lwp_sigaltstack
    uc = struct.pack("<QQ", SF.UC_FLAGS_DEFAULT, 0) + S.pack_stack(ss_sp, ss_flags, ss_size)
    saved_mask = td.lwp_sigmask if td.lwp_oldmask is None else td.lwp_oldmask
    td.lwp_oldmask = None                          # sigsuspend's mask ends here
    uc += SF.pack_sigcontext(_regs_dict(regs), trapno=0, oldmask=saved_mask,
                             cr2=0, fpstate=fpaddr)
    uc += struct.pack("<Q", saved_mask)
    blob = struct.pack("<Q", act.restorer) + uc + info
    try:
        copyout(td, fpaddr, fxsave)
        copyout(td, frame, blob)
    except KernelError:
        return False
    newmask = td.lwp_sigmask | act.mask
    if not act.flags & S.SA_NODEFER:
        newmask |= S.sigmask(sig)
    td.lwp_sigmask = newmask & ~S.SIG_UNBLOCKABLE
    if act.flags & S.SA_RESETHAND:
        td.lwp_proc.p_sigacts[sig] = type(act)()
    regs.rsp = frame
    regs.rip = act.handler
    regs.rdi, regs.rsi, regs.rdx, regs.rax = sig, frame + SF.FRAME_INFO, frame + SF.FRAME_UC, 0
    regs.eflags &= ~0x40100            # clear TF and AC like Linux
    td.host.set_fpregs(SF.pack_fxsave_default())
    return True


def _regs_dict(regs):
    return {n: getattr(regs, n) for n in SF.SIGRETURN_REGS}


def sigreturn(td):
    """rt_sigreturn(2): restore the context saved by sendsig."""
    regs = td.regs
    frame = regs.rsp - SF.RETURN_SP_ADJUST
    blob = copyin(td, frame, SF.RT_SIGFRAME_SIZE)
    sc = SF.unpack_sigcontext(blob, SF.FRAME_SIGCONTEXT)
    for n in SF.SIGCONTEXT_REGS:
        setattr(regs, n, sc[n])
    regs.eflags = (regs.eflags & ~0x40DD5) | (sc["eflags"] & 0x40DD5)
    regs.orig_rax = 2**64 - 1
    (mask,) = struct.unpack_from("<Q", blob, SF.FRAME_SIGMASK)
    td.lwp_sigmask = mask & ~S.SIG_UNBLOCKABLE
    ss = S.unpack_stack(blob, SF.FRAME_UC_STACK)
    td.lwp_sigaltstack = (ss.ss_sp, ss.ss_flags & ~S.SS_ONSTACK, ss.ss_size)
    if sc["fpstate"]:
        td.host.set_fpregs(copyin(td, sc["fpstate"], SF.FXSAVE_SIZE))
    return regs.rax


class RestartBlock:
    """Linux struct restart_block: a call that returned -ERESTART_RESTARTBLOCK
    continues, once no handler ran, as restart_syscall(2) calling `fn(td)`
    (a nanosleep keeps its first deadline across a stop); when a handler
    runs the call fails with EINTR and `on_eintr(td)` reports what is left."""

    def __init__(self, fn, on_eintr=None):
        self.fn = fn
        self.on_eintr = on_eintr


def _restart_block(td, act):
    """-ERESTART_RESTARTBLOCK: restart_syscall(2) without a handler, else EINTR."""
    regs = td.regs
    block = td.td_restart_block
    if act is None and block is not None:
        regs.rax, regs.rip = NR_RESTART_SYSCALL, regs.rip - 2
        return
    td.td_restart_block = None
    regs.rax = (-E.EINTR) & 0xFFFFFFFFFFFFFFFF
    if block is not None and block.on_eintr is not None:
        try:
            block.on_eintr(td)
        except KernelError:
            pass                        # an unwritable rem: EINTR all the same


def restart_syscall_regs(td, act):
    """Linux handle_signal(): turn -ERESTART* into EINTR or a restart."""
    regs = td.regs
    err = -_signed(regs.rax)
    if not td.td_insyscall or err not in RESTART_ERRNOS:
        return
    if err == E.ERESTART_RESTARTBLOCK:
        _restart_block(td, act)
        return
    if act is None:
        if err == E.ERESTART_RESTARTBLOCK or err in RESTART_ERRNOS:
            regs.rax, regs.rip = regs.orig_rax, regs.rip - 2
        return
    if err == E.ERESTARTNOINTR or (err == E.ERESTARTSYS and act.flags & S.SA_RESTART):
        regs.rax, regs.rip = regs.orig_rax, regs.rip - 2
    else:
        regs.rax = (-E.EINTR) & 0xFFFFFFFFFFFFFFFF


def _signed(v):
    return v - 2**64 if v >= 2**63 else v


def postsig(td):
    """Act on pending signals before returning to guest code.

    Returns "run" (resume the guest), "stop" (hold the thread) or "dead".
    """
    p = td.lwp_proc
    if not (td.lwp_siglist | p.p_siglist) and td.lwp_oldmask is None and p.p_stat != SSTOP:
        if td.td_insyscall:                    # the common case: nothing pending
            if td.regs.rax >= RESTART_MIN:
                restart_syscall_regs(td, None)
            td.td_insyscall = False
        return "run"
    if p.p_stat == SSTOP:
        return "stop"
    while True:
        sig, info, action = issignal(td)
        if sig is None:
            if td.lwp_oldmask is not None:
                td.lwp_sigmask, td.lwp_oldmask = td.lwp_oldmask, None
            restart_syscall_regs(td, None)
            td.td_insyscall = False
            return "run"
        ktrpsig = hooks["ktrpsig"]
        act = p.p_sigacts[sig]
        if ktrpsig:
            ktrpsig(td, sig, act, info)
        if action == "stop":
            _stop(p, sig)
            return "stop"
        if action in (S.ACT_TERM, S.ACT_CORE):
            hooks["exit"](p, sig | (0x80 if action == S.ACT_CORE else 0))
            return "dead"
        restart_syscall_regs(td, act)
        td.td_insyscall = False
        if not sendsig(td, sig, info, act):
            hooks["log"](f"pid {p.p_pid} ({p.p_comm}): cannot build signal frame, killed")
            hooks["exit"](p, S.SIGSEGV)
            return "dead"
