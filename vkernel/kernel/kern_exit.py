"""Process and thread exit, zombies, reparenting and wait (BSD kern_exit.c).

`exit1(p, xstat)` is the one way a process dies: exit_group(2), a fatal
signal, a failed exec past the point of no return.  `xstat` is a wait
status: (code << 8) for an exit, or the signal number (| 0x80 for a core).
"""
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import process as PR

from . import kern_futex, kern_proc
from .kern_synch import sched
from .proc import P_CONTINUED, P_PPWAIT, P_STOPPED_REPORT, P_WEXIT, SSTOP, SZOMB
from .errors import KernelError
from vkernel.platform import PlatformError
from vkernel.abi.linux import errno as E

hooks = {"halt": None, "ktrace_exit": None, "futex_wake": None}
state = {"shutting_down": False}


def exit_status(code):
    return (code & 0xFF) << 8


def exit1(p, xstat):
    """Terminate process p with wait status xstat."""
    if p.p_flags & P_WEXIT:
        return
    p.p_flags |= P_WEXIT
    for td in list(p.p_lwps.values()):
        kern_futex.exit_robust_list(td)         # while the memory is still there
        sched.unsleep(td)
        kern_proc.alllwp.pop(td.lwp_tid, None)
    _release_resources(p)
    p.p_lwps.clear()
    p.p_stat = SZOMB
    p.p_xstat = xstat
    children = list(p.p_children)
    _reparent_children(p)
    _orphan_pgrps(p, children)
    _release_vfork_parent(p)
    if p.p_pid == 1 and not state["shutting_down"]:
        hooks["halt"](p, xstat)
        return
    _notify_parent(p)


def exit1_quiet(p, xstat):
    """exit1 during shutdown: init's death no longer halts the system."""
    state["shutting_down"] = True
    exit1(p, xstat)


def _release_resources(p):
    vm = p.p_vmspace
    if vm is not None:
        vm.refs -= 1
        if vm.refs == 0:
            vm.release()
            vm.space.kill()
    if p.p_fd is not None:
        p.p_fd.refs -= 1
        if p.p_fd.refs == 0:
            p.p_fd.close_all()
    if hooks["ktrace_exit"]:
        hooks["ktrace_exit"](p)
    tty = p.p_session.s_ttyp if p.p_session and p.p_session.s_leader is p else None
    if tty is not None:
        tty.session_exit(p.p_session)


def _reparent_children(p):
    init = kern_proc.allproc.get(1)
    for c in list(p.p_children):
        c.p_pptr = init if init is not p else None
        if init is not None and init is not p:
            init.p_children.append(c)
            if c.p_stat == SZOMB:
                sched.wakeup(("wait", init))
        if c.p_pdeathsig:
            from .kern_sig import psignal
            psignal(c, c.p_pdeathsig)
    p.p_children = []


# -- orphaned process groups (Linux kill_orphaned_pgrp, POSIX _exit(2)) ---------------
def _orphan_pgrps(p, children):
    """A group that p's exit orphans, with a stopped member, gets SIGHUP and
    SIGCONT: p's own group (p was its link to the session) and its
    children's groups (reparented to init, outside their session)."""
    _kill_orphaned_pgrp(p, p.p_pptr, ignored=p)
    for c in children:
        if c.p_stat != SZOMB:
            _kill_orphaned_pgrp(c, p)


def _kill_orphaned_pgrp(q, parent, ignored=None):
    pg = q.p_pgrp
    if pg is None or parent is None or parent.p_pgrp is pg:
        return
    if parent.p_session is not pg.pg_session:
        return
    if kern_proc.pgrp_orphaned(pg, ignored) and any(m.p_stat == SSTOP for m in pg.pg_members):
        from .kern_sig import gsignal
        gsignal(pg.pg_id, S.SIGHUP)
        gsignal(pg.pg_id, S.SIGCONT)



def _release_vfork_parent(p):
    parent = p.p_pptr
    if parent is not None and parent.p_vfork_child is p:
        parent.p_vfork_child = None
        parent.p_flags &= ~P_PPWAIT
        sched.wakeup(("vfork", parent))


def _notify_parent(p):
    from .kern_sig import psignal
    parent = p.p_pptr
    if parent is None:
        reap(p)
        return
    act = parent.p_sigacts[S.SIGCHLD]
    if act.handler == S.SIG_IGN or act.flags & S.SA_NOCLDWAIT:
        reap(p)
        sched.wakeup(("wait", parent))
        return
    if p.p_exit_signal:
        code, status = _chld_code(p.p_xstat)
        psignal(parent, p.p_exit_signal, S.siginfo_chld(code, p.p_pid, p.p_ucred.ruid, status))
    sched.wakeup(("wait", parent))


def _chld_code(xstat):
    if xstat & 0x7F == 0:
        return S.CLD_EXITED, (xstat >> 8) & 0xFF
    return (S.CLD_DUMPED if xstat & 0x80 else S.CLD_KILLED), xstat & 0x7F


def reap(p):
    """Free a zombie (the parent waited for it)."""
    parent = p.p_pptr
    if parent is not None:
        if p in parent.p_children:
            parent.p_children.remove(p)
        parent.p_cru_utime += p.p_ru_utime + p.p_cru_utime
        parent.p_cru_stime += p.p_ru_stime + p.p_cru_stime
    kern_proc.leavepgrp(p)          # a zombie stays in its group until reaped
    kern_proc.proc_remove(p)


def thread_exit(td, code):
    """exit(2) of one thread; the last thread takes the process with it."""
    p = td.lwp_proc
    if len(p.p_lwps) <= 1:
        exit1(p, exit_status(code))
        return
    kern_futex.exit_robust_list(td)
    if td.lwp_clear_child_tid:
        try:
            from .usercopy import copyout_i32
            copyout_i32(td, td.lwp_clear_child_tid, 0)
            hooks["futex_wake"](td, td.lwp_clear_child_tid)
        except KernelError:
            pass
    sched.unsleep(td)
    del p.p_lwps[td.lwp_tid]
    kern_proc.alllwp.pop(td.lwp_tid, None)
    running, td.td_oncpu = td.td_oncpu, False
    if td.td_cpu is not None:
        td.td_cpu.oncpu.discard(td)
    try:
        td.host.exit_thread(running)
    except PlatformError:
        pass                        # already gone on the host


# -- wait4 / waitid (kern_wait) ------------------------------------------------------
def _matches(p, child, pid):
    if pid > 0:
        return child.p_pid == pid
    if pid == 0:
        return child.p_pgid == p.p_pgid
    if pid < -1:
        return child.p_pgid == -pid
    return True


def kern_wait(td, pid, options):
    """Find a child to report. Returns (child, status, kind) or None (WNOHANG).

    kind is "exited", "stopped" or "continued".  Sleeps when nothing is ready.
    """
    p = td.lwp_proc
    kids = [c for c in p.p_children if _matches(p, c, pid)]
    if not kids:
        raise KernelError(E.ECHILD)
    for c in kids:
        r = _report(c, options)
        if r:
            return r
    if options & PR.WNOHANG:
        return None
    from .kern_synch import tsleep
    tsleep(td, ("wait", p), "wait")


def _report(c, options):
    keep = options & PR.WNOWAIT
    if c.p_stat == SZOMB and options & PR.WEXITED:
        if not keep:
            reap(c)
        return c, c.p_xstat, "exited"
    if c.p_stat == SSTOP and c.p_flags & P_STOPPED_REPORT and options & PR.WSTOPPED:
        if not keep:
            c.p_flags &= ~P_STOPPED_REPORT
        return c, c.p_xstat, "stopped"
    if c.p_flags & P_CONTINUED and options & PR.WCONTINUED:
        if not keep:
            c.p_flags &= ~P_CONTINUED
        return c, 0xFFFF, "continued"
    return None
