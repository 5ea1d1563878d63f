"""The syscall dispatcher: syscall2() (DragonFly's platform trap.c syscall2,
FreeBSD's syscallenter).

It is the single place that decodes arguments, calls the handler, turns a
KernelError into -errno, answers ENOSYS for anything not in the table
(logged once per process and name) and writes ktrace records.  Handlers
never trace themselves.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_proc, msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_synch import Sleep
from vkernel.platform import PlatformError

from .table import JUSTRETURN, MASK64, name_of, sysent

DONE, SLEEPING, GONE = "done", "sleeping", "gone"
KTRFAC_SYSCALL, KTRFAC_SYSRET = 0x02, 0x04


class Ktrace:
    """Hooks filled in by kern_ktrace; no-ops until then."""
    syscall = None
    sysret = None


ktr = Ktrace()


def _unimplemented(td, nr):
    p = td.lwp_proc
    name = name_of(nr)
    if name not in p.p_ktrace_unimpl:
        p.p_ktrace_unimpl.add(name)
        msgbuf.log(f"pid {p.p_pid} ({p.p_comm}): unimplemented syscall {name} ({nr})")
    return -E.ENOSYS


def _compat_entry(td):
    """Was this stop an `int $0x80` or `sysenter` (the 32-bit entries)?

    The `syscall` instruction leaves the return rip in rcx, so only a stop
    where rcx != rip needs a look at the instruction bytes.  32-bit system
    calls are not served: they get ENOSYS and never reach the host.
    """
    try:
        insn = td.lwp_proc.p_vmspace.space.read(td.regs.rip - 2, 2)
    except PlatformError:
        return False
    if insn in (b"\xcd\x80", b"\x0f\x34"):
        p = td.lwp_proc
        if "int80" not in p.p_ktrace_unimpl:
            p.p_ktrace_unimpl.add("int80")
            msgbuf.log(f"pid {p.p_pid} ({p.p_comm}): 32-bit system call {td.regs.orig_rax} "
                       "refused (ENOSYS)")
        return True
    return False


def syscall2(td):
    """Serve the syscall td is stopped at; returns DONE, SLEEPING or GONE."""
    regs = td.regs
    td.host.space.cur = td.host            # host calls made for this syscall run here
    if regs.rcx != regs.rip and _compat_entry(td):
        return finish(td, regs.orig_rax, -E.ENOSYS)
    nr = regs.orig_rax
    ent = sysent.get(nr)
    kern_proc.curthread = td
    if not td.td_insyscall:
        td.td_insyscall = True
        if td.sstate:
            td.sstate = {}
        if td.lwp_proc.p_traceflag & KTRFAC_SYSCALL and ktr.syscall:
            _ktrsyscall(td, nr, ent)
    if ent is None:
        return finish(td, nr, _unimplemented(td, nr))
    try:
        ret = ent.invoke(td, regs)
    except KernelError as e:
        ret = -e.errno
    except Sleep:
        return SLEEPING
    except PlatformError as e:
        if e.errno != E.EFAULT:
            raise
        ret = -E.EFAULT
    return finish(td, nr, ret)


def _ktrsyscall(td, nr, ent):
    r = td.regs
    raw = (r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9)
    ktr.syscall(td, nr, raw[:len(ent.args)] if ent else raw)


def finish(td, nr, ret):
    """Complete a syscall with ret (an int, or JUSTRETURN)."""
    p = td.lwp_proc
    if not p.p_lwps.get(td.lwp_tid) is td:
        return GONE
    if ret is not JUSTRETURN:
        td.regs.rax = ret & MASK64
    if p.p_traceflag & KTRFAC_SYSRET and ktr.sysret:
        ktr.sysret(td, nr, 0 if ret is JUSTRETURN else ret)
    return DONE
