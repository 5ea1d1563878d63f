"""fork, vfork and clone: new processes and threads (BSD kern_fork.c).

A new process is a host fork of the parent's host process (the host copies
the pages, copy-on-write); a new thread is a host thread in the same host
process.  Either way the child starts stopped, with the parent's registers,
and the kernel decides every register it returns to guest code with.
vfork is a fork whose parent sleeps until the child execs or exits.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import process as PR

from . import kern_proc
from .errors import KernelError
from .kern_fail import fail_point
from .kern_synch import tsleep
from .proc import Lwp, Proc, P_PPWAIT, SACTIVE
from .usercopy import copyout_i32

HOST_THREAD_FLAGS = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000
hooks = {"ktrace_fork": None, "start": None}
_fp_fork = fail_point("fork", "fork(2), vfork(2) and clone(2) of a process")


def _child_regs(td, stack, tls, flags):
    regs = td.regs.copy()
    regs.rax = 0
    if stack:
        regs.rsp = stack
    if flags & PR.CLONE_SETTLS:
        regs.fs_base = tls
    return regs


def _new_lwp(p, host, regs, td_parent):
    tid = kern_proc.pid_alloc() if p.p_lwps else p.p_pid
    td = Lwp(p, tid, host)
    host.cookie = td
    td.regs = regs
    td.lwp_sigmask = td_parent.lwp_sigmask
    p.p_lwps[tid] = td
    kern_proc.alllwp[tid] = td
    return td


def _settids(td, child, flags, ptid, ctid):
    if flags & PR.CLONE_PARENT_SETTID:
        copyout_i32(td, ptid, child.lwp_tid)
    if flags & PR.CLONE_CHILD_SETTID:
        copyout_i32(child, ctid, child.lwp_tid)
    if flags & PR.CLONE_CHILD_CLEARTID:
        child.lwp_clear_child_tid = ctid


def fork_thread(td, flags, stack, ptid, ctid, tls):
    p = td.lwp_proc
    if not flags & PR.CLONE_VM or not flags & PR.CLONE_SIGHAND:
        raise KernelError(E.EINVAL)
    host = td.host.fork(HOST_THREAD_FLAGS)
    child = _new_lwp(p, host, _child_regs(td, stack, tls, flags), td)
    _settids(td, child, flags, ptid, ctid)
    hooks["start"](child)
    return child.lwp_tid


def _copy_proc(td, p2, flags):
    p1 = td.lwp_proc
    p2.p_comm, p2.p_args, p2.p_env, p2.p_exe = p1.p_comm, list(p1.p_args), p1.p_env, p1.p_exe
    p2.p_textvp = p1.p_textvp
    p2.p_ucred = p1.p_ucred.copy()
    p2.p_cwd, p2.p_root, p2.p_umask = p1.p_cwd, p1.p_root, p1.p_umask
    p2.p_sigacts = [a.copy() for a in p1.p_sigacts]
    p2.p_rlimits = dict(p1.p_rlimits)
    p2.p_nice = p1.p_nice
    if flags & PR.CLONE_FILES:
        p2.p_fd = p1.p_fd
        p1.p_fd.refs += 1
    else:
        p2.p_fd = p1.p_fd.copy()
    p2.p_exit_signal = flags & PR.CSIGNAL
    pptr = p1.p_pptr if flags & PR.CLONE_PARENT and p1.p_pptr else p1
    p2.p_pptr = pptr
    pptr.p_children.append(p2)
    kern_proc.enterpgrp(p2, p1.p_pgid, False)


def fork_proc(td, flags, stack, ptid, ctid, tls):
    """A new process; returns the child's pid."""
    _fp_fork.check(td)
    p1 = td.lwp_proc
    host = td.host.fork(0)
    pid = kern_proc.pid_alloc()
    p2 = Proc(pid, p1)
    try:
        p2.p_vmspace = p1.p_vmspace.fork(host.space)
    except KernelError:
        host.space.kill()
        raise
    _copy_proc(td, p2, flags)
    child = _new_lwp(p2, host, _child_regs(td, stack, tls, flags), td)
    kern_proc.proc_insert(p2)
    p2.p_stat = SACTIVE
    _settids(td, child, flags, ptid, ctid)
    if hooks["ktrace_fork"]:
        hooks["ktrace_fork"](p1, p2)
    hooks["start"](child)
    if flags & PR.CLONE_VFORK:
        p1.p_vfork_child = p2
        p1.p_flags |= P_PPWAIT
    return pid


def kern_clone(td, flags, stack, ptid, ctid, tls):
    """clone(2) and friends: dispatch to a thread or a process."""
    if flags & PR.CLONE_THREAD:
        return fork_thread(td, flags, stack, ptid, ctid, tls)
    if flags & (PR.CLONE_NEWNS | PR.CLONE_NEWPID | PR.CLONE_NEWUSER | PR.CLONE_NEWNET
                | PR.CLONE_NEWUTS | PR.CLONE_NEWIPC):
        raise KernelError(E.EPERM)
    return fork_proc(td, flags, stack, ptid, ctid, tls)


def vfork_wait(td):
    """The vfork parent sleeps until its child has exec'd or exited."""
    p = td.lwp_proc
    if p.p_flags & P_PPWAIT:
        tsleep(td, ("vfork", p), "ppwait", interruptible=False)
