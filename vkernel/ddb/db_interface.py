"""Entering and leaving ddb (DragonFly platform/vkernel64/x86_64/db_interface.c
and sys/ddb/db_trap.c): kdb_trap, the stopped-CPU messages, the context.

kdb_trap prints, for any trap but a breakpoint, `kernel: type N trap,
code=X`; then `CPU0 stopping CPUs: 0x00000002` (the mask of the other
virtual CPUs), ` stopped`, and `Stopped at<TAB>sym+0xoff:<TAB>source line`,
and runs the command loop.  While it runs, ddb's CPU holds mp_lock, so no
CPU serves anything: every guest that traps stays ptrace-stopped.  Guests
running user code on the other CPUs are interrupted (stop_cpus), so the
system is frozen as DragonFly's stopped CPUs are; guests of ddb's own CPU
may compute until their next trap.  Leaving with `continue` prints
`CPU0 restarting CPUs: ...` / ` restarted`, and the others resume them.
"""
import linecache

from .db_command import CONTINUE, DbCmd
from .db_examine import ExamineCommands
from .db_output import DbOutput
from .db_print import PrintCommands
from .db_ps import PsCommands
from .db_sym import printsym
from .db_trace import TraceCommands
from . import db_dump, db_show  # noqa: F401  (register dump and the show commands)

T_BPTFLT, T_TRCTRAP = 3, 10


class DbContext:
    """What ddb was entered with (its ddb_regs): why, the trap, the kernel
    stack (innermost first), the thread it concerns, and the CPU."""

    def __init__(self, why, frames, td=None, cpu=None, trap=(T_BPTFLT, 0, 0), exc=None,
                 fatal=False, console=None):
        self.why = why
        self.frames = list(frames)
        self.cpu = cpu
        self.cpuid = getattr(cpu, "cpuid", 0)
        self.curthread = td if td is not None else getattr(cpu, "curthread", None)
        self.td = default_thread(self.curthread)
        self.type, self.code, self.va = trap
        self.exc = exc
        self.tb = exc.__traceback__ if exc is not None else None
        self.fatal = fatal
        self.console = console


def default_thread(td):
    """The guest thread commands apply to: the one on the CPU, else the last
    one whose syscall was served, else init's."""
    if td is not None:
        return td
    from vkernel.kernel import kern_proc
    last = getattr(kern_proc, "curthread", None)
    if last is not None and last.lwp_proc.p_lwps.get(last.lwp_tid) is last:
        return last
    init = kern_proc.pfind(1)
    return init.main_lwp() if init is not None else None


class Ddb(TraceCommands, ExamineCommands, PrintCommands, PsCommands, DbCmd):
    """The debugger: the command loop with every command mixed in."""


def stopped_at(ctx):
    """`Stopped at<TAB>sym+0xoff:<TAB>source line`."""
    if not ctx.frames:
        return "Stopped at\t0:\t?\n"
    kf = ctx.frames[0]
    src = linecache.getline(kf.code.co_filename, kf.lineno).strip() or "?"
    return f"Stopped at\t{printsym(kf.pc)}:\t{src}\n"


def kdb_trap(ctx, io):
    """Announce the stop, run ddb, and return how it was left
    (continue, panic, reset, reboot or eof)."""
    out = DbOutput(io.write)
    if ctx.type not in (T_BPTFLT, T_TRCTRAP):
        out.printf(f"kernel: type {ctx.type} trap, code={ctx.code:x}\n")
    others = stop_cpus(ctx)
    out.printf(f"CPU{ctx.cpuid} stopping CPUs: 0x{others:08x}\n")
    out.printf(" stopped\n")
    out.printf(stopped_at(ctx))
    action = Ddb(ctx, io).cmdloop()
    if action == CONTINUE:
        out.printf(f"CPU{ctx.cpuid} restarting CPUs: 0x{others:08x}\n")
        out.printf(" restarted\n")
    return action


def stop_cpus(ctx):
    """Freeze the other CPUs' guests: each thread running guest code there is
    made to trap, and its CPU then waits for mp_lock, which ddb holds.
    Returns the mask of the other CPUs."""
    from vkernel.kernel import kern_proc
    from vkernel.kernel.kern_synch import sched
    others = [c for c in sched.cpus if c is not None and c is not ctx.cpu]
    for td in list(kern_proc.alllwp.values()):
        if td.td_oncpu and td.td_cpu in others:
            try:
                td.host.interrupt()
            except Exception:         # ddb must not fail on a dying thread
                pass
    return sum(1 << c.cpuid for c in others)
