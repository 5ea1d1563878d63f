"""Process syscalls: ids, fork/clone/exec/exit/wait, groups and sessions, prctl.

Linux counterparts: kernel/fork.c, kernel/exit.c, kernel/sys.c, fs/exec.c;
the work is done by vkernel.kernel.kern_fork/kern_exec/kern_exit/kern_proc.
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import process as PR
from vkernel.abi.linux import signal as S
from vkernel.kernel import kern_exec, kern_exit, kern_fork, kern_futex, kern_proc
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import (copyin, copyin_ptrs, copyinstr, copyinstr_bytes,
                                     copyout, copyout_i32)
from vkernel.syscalls.table import I32, JUSTRETURN, NR, PTR, STR, U32, U64, syscall

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004


@syscall(NR.getpid)
def sys_getpid(td):
    """Implements Linux getpid(2)."""
    return td.lwp_proc.p_pid


@syscall(NR.getppid)
def sys_getppid(td):
    """Implements Linux getppid(2)."""
    return td.lwp_proc.p_ppid


@syscall(NR.gettid)
def sys_gettid(td):
    """Implements Linux gettid(2)."""
    return td.lwp_tid


@syscall(NR.set_tid_address, PTR)
def sys_set_tid_address(td, tidptr):
    """Implements Linux set_tid_address(2)."""
    td.lwp_clear_child_tid = tidptr
    return td.lwp_tid


@syscall(NR.set_robust_list, PTR, U64)
def sys_set_robust_list(td, head, size):
    """Implements Linux set_robust_list(2): walked when the thread dies
    (kern_futex.exit_robust_list)."""
    if size != kern_futex.ROBUST_HEAD_SIZE:
        raise KernelError(E.EINVAL)
    td.lwp_robust_list = head
    return 0


@syscall(NR.get_robust_list, I32, PTR, PTR)
def sys_get_robust_list(td, tid, head_ptr, len_ptr):
    """Implements Linux get_robust_list(2)."""
    other = td if tid == 0 else kern_proc.alllwp.get(tid)
    if other is None:
        raise KernelError(E.ESRCH)
    me = td.lwp_proc.p_ucred
    if me.uid != 0 and other.lwp_proc.p_ucred.ruid != me.uid:
        raise KernelError(E.EPERM)
    copyout(td, head_ptr, struct.pack("<Q", other.lwp_robust_list))
    copyout(td, len_ptr, struct.pack("<Q", kern_futex.ROBUST_HEAD_SIZE))
    return 0


@syscall(NR.arch_prctl, I32, U64)
def sys_arch_prctl(td, code, addr):
    """Implements Linux arch_prctl(2): FS/GS base."""
    if code == ARCH_SET_FS:
        td.regs.fs_base = addr
    elif code == ARCH_SET_GS:
        td.regs.gs_base = addr
    elif code in (ARCH_GET_FS, ARCH_GET_GS):
        val = td.regs.fs_base if code == ARCH_GET_FS else td.regs.gs_base
        copyout(td, addr, struct.pack("<Q", val))
    else:
        raise KernelError(E.EINVAL)
    return 0


# -- fork, clone, exec ---------------------------------------------------------------
def _vfork_finish(td):
    pid = td.sstate["child"]
    kern_fork.vfork_wait(td)
    return pid


@syscall(NR.fork)
def sys_fork(td):
    """Implements Linux fork(2)."""
    return kern_fork.kern_clone(td, S.SIGCHLD, 0, 0, 0, 0)


@syscall(NR.vfork)
def sys_vfork(td):
    """Implements Linux vfork(2): the parent sleeps until the child execs or exits."""
    if "child" not in td.sstate:
        td.sstate["child"] = kern_fork.kern_clone(td, PR.CLONE_VFORK | S.SIGCHLD, 0, 0, 0, 0)
    return _vfork_finish(td)


@syscall(NR.clone, U64, PTR, PTR, PTR, U64)
def sys_clone(td, flags, stack, ptid, ctid, tls):
    """Implements Linux clone(2) (x86-64 argument order: flags, stack, ptid, ctid, tls)."""
    if "child" in td.sstate:
        return _vfork_finish(td)
    child = kern_fork.kern_clone(td, flags, stack, ptid, ctid, tls)
    if flags & PR.CLONE_VFORK:
        td.sstate["child"] = child
        return _vfork_finish(td)
    return child


@syscall(NR.clone3, PTR, U64)
def sys_clone3(td, uargs, size):
    """Implements Linux clone3(2) (no pidfd, set_tid or cgroup)."""
    if "child" in td.sstate:
        return _vfork_finish(td)
    if size < PR.CLONE_ARGS_SIZE_VER0 or size > 4096:
        raise KernelError(E.EINVAL)
    a = PR.unpack_clone_args(copyin(td, uargs, min(size, PR.CLONE_ARGS.size)))
    if a.flags & (PR.CLONE_PIDFD | PR.CLONE_INTO_CGROUP) or a.set_tid_size or a.exit_signal > 64:
        raise KernelError(E.EINVAL if a.exit_signal > 64 else E.EOPNOTSUPP)
    if (a.stack == 0) != (a.stack_size == 0):
        raise KernelError(E.EINVAL)
    flags = (a.flags & ~PR.CSIGNAL) | a.exit_signal
    stack = a.stack + a.stack_size if a.stack else 0
    child = kern_fork.kern_clone(td, flags, stack, a.parent_tid, a.child_tid, a.tls)
    if flags & PR.CLONE_VFORK:
        td.sstate["child"] = child
        return _vfork_finish(td)
    return child


def _strings(td, addr):
    return [copyinstr_bytes(td, p, 1 << 17) for p in copyin_ptrs(td, addr)]


@syscall(NR.execve, STR, PTR, PTR)
def sys_execve(td, path, argv, envp):
    """Implements Linux execve(2)."""
    kern_exec.kern_execve(td, copyinstr(td, path), _strings(td, argv), _strings(td, envp))
    return JUSTRETURN


@syscall(NR.exit, I32)
def sys_exit(td, code):
    """Implements Linux exit(2): this thread only."""
    kern_exit.thread_exit(td, code)
    return JUSTRETURN


@syscall(NR.exit_group, I32)
def sys_exit_group(td, code):
    """Implements Linux exit_group(2)."""
    kern_exit.exit1(td.lwp_proc, kern_exit.exit_status(code))
    return JUSTRETURN


# -- wait -----------------------------------------------------------------------------
@syscall(NR.wait4, I32, PTR, I32, PTR)
def sys_wait4(td, pid, status, options, rusage):
    """Implements Linux wait4(2)."""
    if options & ~(PR.WNOHANG | PR.WUNTRACED | PR.WCONTINUED | PR.__WALL | PR.__WCLONE
                   | PR.__WNOTHREAD):
        raise KernelError(E.EINVAL)
    r = kern_exit.kern_wait(td, pid, options | PR.WEXITED)
    if r is None:
        return 0
    child, xstat, _ = r
    if status:
        copyout_i32(td, status, xstat)
    if rusage:
        copyout(td, rusage, bytes(144))
    return child.p_pid


@syscall(NR.waitid, I32, I32, PTR, I32, PTR)
def sys_waitid(td, idtype, id_, infop, options, rusage):
    """Implements Linux waitid(2)."""
    pid = {PR.P_ALL: -1, PR.P_PID: id_, PR.P_PGID: -id_ if id_ else 0}.get(idtype)
    if pid is None or not options & (PR.WEXITED | PR.WSTOPPED | PR.WCONTINUED):
        raise KernelError(E.EINVAL)
    r = kern_exit.kern_wait(td, pid, options)
    if r is None:
        if infop:
            copyout(td, infop, bytes(128))
        return 0
    child, xstat, kind = r
    if infop:
        copyout(td, infop, _waitid_info(child, xstat, kind))
    return 0


def _waitid_info(child, xstat, kind):
    uid = child.p_ucred.ruid
    if kind == "stopped":
        return S.siginfo_chld(S.CLD_STOPPED, child.p_pid, uid, (xstat >> 8) & 0xFF)
    if kind == "continued":
        return S.siginfo_chld(S.CLD_CONTINUED, child.p_pid, uid, S.SIGCONT)
    code, status = kern_exit._chld_code(xstat)
    return S.siginfo_chld(code, child.p_pid, uid, status)


# -- process groups and sessions ------------------------------------------------------
@syscall(NR.setpgid, I32, I32)
def sys_setpgid(td, pid, pgid):
    """Implements Linux setpgid(2)."""
    p = td.lwp_proc
    target = p if pid == 0 else kern_proc.pfind(pid)
    if target is None or (target is not p and target.p_pptr is not p):
        raise KernelError(E.ESRCH)
    if pgid < 0:
        raise KernelError(E.EINVAL)
    if target.p_session is not p.p_session or target.p_session.s_leader is target:
        raise KernelError(E.EPERM)
    if target is not p and target.p_flags & 0x10:
        raise KernelError(E.EACCES)
    pgid = pgid or target.p_pid
    pg = kern_proc.pgfind(pgid)
    if pgid != target.p_pid and (pg is None or pg.pg_session is not p.p_session):
        raise KernelError(E.EPERM)
    kern_proc.enterpgrp(target, pgid, False)
    return 0


def _proc_or_self(td, pid):
    p = td.lwp_proc if pid == 0 else kern_proc.pfind(pid)
    if p is None:
        raise KernelError(E.ESRCH)
    return p


@syscall(NR.getpgid, I32)
def sys_getpgid(td, pid):
    """Implements Linux getpgid(2)."""
    return _proc_or_self(td, pid).p_pgid


@syscall(NR.getpgrp)
def sys_getpgrp(td):
    """Implements Linux getpgrp(2)."""
    return td.lwp_proc.p_pgid


@syscall(NR.getsid, I32)
def sys_getsid(td, pid):
    """Implements Linux getsid(2)."""
    s = _proc_or_self(td, pid).p_session
    return s.s_sid if s else 0


@syscall(NR.setsid)
def sys_setsid(td):
    """Implements Linux setsid(2)."""
    p = td.lwp_proc
    if kern_proc.pgfind(p.p_pid) is not None:
        raise KernelError(E.EPERM)
    kern_proc.enterpgrp(p, p.p_pid, True)
    return p.p_pid


# -- prctl, personality -----------------------------------------------------------------
@syscall(NR.prctl, I32, U64, U64, U64, U64)
def sys_prctl(td, option, a2, a3, a4, a5):
    """Implements Linux prctl(2): names, pdeathsig, dumpable, subreaper, no_new_privs."""
    p = td.lwp_proc
    if option == PR.PR_SET_NAME:
        try:
            p.p_comm = copyinstr(td, a2, 16)
        except KernelError as e:            # longer names are cut to 15 bytes
            if e.errno != E.ENAMETOOLONG:
                raise
            p.p_comm = copyin(td, a2, 15).decode("utf-8", "surrogateescape")
    elif option == PR.PR_GET_NAME:
        copyout(td, a2, p.p_comm.encode("utf-8", "surrogateescape")[:15].ljust(16, b"\0"))
    elif option == PR.PR_SET_PDEATHSIG:
        if a2 > S.NSIG:
            raise KernelError(E.EINVAL)
        p.p_pdeathsig = a2
    elif option == PR.PR_GET_PDEATHSIG:
        copyout_i32(td, a2, p.p_pdeathsig)
    elif option == PR.PR_SET_DUMPABLE:
        p.p_dumpable = a2
    elif option == PR.PR_GET_DUMPABLE:
        return p.p_dumpable
    elif option == PR.PR_SET_CHILD_SUBREAPER:
        p.p_subreaper = bool(a2)
    elif option in (PR.PR_SET_NO_NEW_PRIVS, PR.PR_GET_NO_NEW_PRIVS):
        return 0 if option == PR.PR_SET_NO_NEW_PRIVS else 1
    elif option == PR.PR_CAPBSET_READ:
        return 1
    else:
        raise KernelError(E.EINVAL)
    return 0


@syscall(NR.personality, U32)
def sys_personality(td, persona):
    """Implements Linux personality(2): only PER_LINUX exists."""
    if persona not in (0, 0xFFFFFFFF):
        raise KernelError(E.EINVAL)
    return 0
