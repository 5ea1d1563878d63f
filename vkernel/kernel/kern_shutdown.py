"""Panics, fatal traps, the debugger's entry points, reboot and halt.

DragonFly counterparts: kern/kern_shutdown.c (panic, boot, shutdown_panic),
platform/vkernel/i386/trap.c (trap_fatal, the 2009 vkernel the seed ran)
and platform/vkernel64/platform/shutdown.c (cpu_reset, cpu_halt).

A Python exception that escapes kernel code while it serves a guest is a
fatal trap (trap.py's CPU loop hands it to `trap_fatal`).  The exception
picks the trap:

    AttributeError/TypeError on None  12 page fault at 0x0 (a NULL dereference;
                                       fault code 4, or 6 for a store)
    other AttributeError               12 page fault at the object's address
    TypeError, IndexError, KeyError     9 general protection fault
    ZeroDivisionError                  18 integer divide fault
    OverflowError                      20 overflow trap
    other ArithmeticError               6 arithmetic trap
    RecursionError                     27 stack fault
    anything else (AssertionError...)  panic: <message>

The report is the seed's (the 2009 i386 trap_fatal, tabs expanded by ddb's
output), then ddb.  Our "registers": the instruction pointer is the text
address of the faulting bytecode (id(code) + offset, see ddb/db_sym.py),
the frame pointer the faulting Python frame, the stack pointer its
traceback entry (the trap frame); ddb resolves all three.  `continue`
retries the faulting operation (the guest's syscall re-runs from its
handler, and normally faults again); kill the process from ddb first
(`kill 9 PID`) to let the system run on without it.

panic(9): `panic: <msg>`, `cpuid = N`, a six-frame backtrace, then
`Debugger("panic")`; when ddb is continued the vkernel reboots after the
15 s countdown (`cpu reset, rebooting vkernel`, exit 32, which the
supervisor in boot.py answers with a fresh kernel).  ddb's `reset` kills
every guest and exits at once, without sync, with status 71 (EXIT_RESET),
which ends the supervisor too; ddb's `reboot` is the clean reboot(2) path.  With nobody at
the console (its input is not a terminal, debug.debugger_on_panic=0) the
report is followed by the Python traceback on stderr and exit status 70.

Break-ins without a fault: a host SIGQUIT (^\\ on the console, which keeps
the host's VQUIT character as DragonFly does, or `kill -QUIT`), and
`sysctl debug.kdb.enter=1` from the guest.  Both only post a request; the
CPU loop enters ddb at its next safe point (`kdb_poll`).
"""
import re
import sys
import traceback

from vkernel.ddb.db_command import db_show_command

from .kern_synch import mp_lock, sched
from .kern_sysctl import sysctl_int, sysctl_proc
from .proc import P_WEXIT

EXIT_HALT, EXIT_REBOOT, EXIT_PANIC = 0, 32, 70       # EX_VKERNEL_REBOOT, EX_SOFTWARE
EXIT_RESET = 71            # ddb `reset`: killed without sync; the supervisor does not reboot
RB_AUTOBOOT, RB_NOSYNC, RB_HALT, RB_DUMP = 0, 0x4, 0x8, 0x100

T_PRIVINFLT, T_BPTFLT, T_ARITHTRAP, T_PROTFLT, T_TRCTRAP = 1, 3, 6, 9, 10
T_PAGEFLT, T_DIVIDE, T_OFLOW, T_STKFLT = 12, 18, 20, 27
PGEX_P, PGEX_W, PGEX_U = 0x1, 0x2, 0x4
TRAP_MSG = ["", "privileged instruction fault", "", "breakpoint instruction fault", "", "",
            "arithmetic trap", "system forced exception", "", "general protection fault",
            "trace trap", "", "page fault", "", "alignment fault", "", "", "",
            "integer divide fault", "non-maskable interrupt trap", "overflow trap",
            "FPU bounds check fault", "FPU device not available", "double fault",
            "FPU operand fetch fault", "invalid TSS fault", "segment not present fault",
            "stack fault", "machine check trap", "SIMD floating-point exception",
            "reserved (unknown) fault"]
KERNEL_CS, KERNEL_SS = 0x1f, 0x10          # the selectors of the seed's report
WRITE_OPS = {"STORE_ATTR", "DELETE_ATTR", "STORE_SUBSCR", "DELETE_SUBSCR"}


class Halt(Exception):
    """Raised to leave the run loop: the system is going down with `status`."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


#: filled in at boot: "console" (a ddb DbConsole), "cpu", "wakeup" (pokes the CPU loop)
hooks = {"console": None, "cpu": None, "wakeup": lambda: None}
panicstr = None
_panic_depth = 0
_db_active = False
_request = None            # a pending break-in: (why, signo, rip, rsp)

debugger_on_panic = sysctl_int("debug.debugger_on_panic", 1,
                               "enter ddb on a panic or fatal trap (0 when the console "
                               "input is not a terminal)")
trace_on_panic = sysctl_int("debug.trace_on_panic", 1, "print a stack trace on panic")
panic_reboot_wait = sysctl_int("kern.panic_reboot_wait_time", 15,
                               "seconds before the reboot after a panic (-1: wait for a key)")


# -- the console and the CPU ---------------------------------------------------------------
def console():
    if hooks["console"] is None:
        from vkernel.ddb.db_input import DbConsole
        hooks["console"] = DbConsole(0, 1)
    return hooks["console"]


def cpuid():
    """The CPU running kernel code now (the one holding mp_lock)."""
    return getattr(_curcpu(), "cpuid", 0)


def _curcpu():
    return sched.curcpu or hooks["cpu"]


def printf(text):
    """Kernel printf on the console, through ddb's column-tracking output."""
    from vkernel.ddb.db_output import expand
    console().write(expand(text))


def _fresh_line():
    if console().column():
        console().write("\n")


# -- fatal traps ------------------------------------------------------------------------------
def classify(exc, frames):
    """(trap type, fault code, fault address) for an exception, or None: a panic."""
    write = PGEX_W if frames and _faulting_op(frames[0]) in WRITE_OPS else 0
    if isinstance(exc, (AttributeError, TypeError)) and "'NoneType'" in str(exc):
        return T_PAGEFLT, PGEX_U | write, 0
    if isinstance(exc, AttributeError):
        obj = getattr(exc, "obj", None)
        return T_PAGEFLT, PGEX_U | write, id(obj) if obj is not None else 0
    for cls, trap in ((ZeroDivisionError, T_DIVIDE), (OverflowError, T_OFLOW),
                      (ArithmeticError, T_ARITHTRAP), (RecursionError, T_STKFLT),
                      (TypeError, T_PROTFLT), (LookupError, T_PROTFLT)):
        if isinstance(exc, cls):
            return trap, 0, 0
    return None


def _faulting_op(kf):
    import dis
    for ins in dis.get_instructions(kf.code):
        if ins.offset == kf.lasti:
            return ins.opname
    return None


def _mp_lock_count():
    m = re.search(r"count=(\d+)", repr(mp_lock))
    return int(m.group(1)) if m else 1


def fatal_trap_report(trap, frames, tb, td):
    """The lines of the 2009 i386 trap_fatal, with tabs (expanded on output)."""
    ttype, code, va = trap
    pc = frames[0].pc if frames else 0
    fp = id(frames[0].frame) if frames else 0
    sp = id(tb) if tb is not None else fp
    lines = [f"Fatal trap {ttype}: {TRAP_MSG[ttype]} while in kernel mode",
             f"mp_lock = {_mp_lock_count():08x}; cpuid = {cpuid()}"]
    if ttype == T_PAGEFLT:
        lines += [f"fault virtual address\t= {va:#x}",
                  "fault code\t\t= supervisor %s, %s" % (
                      "write" if code & PGEX_W else "read",
                      "protection violation" if code & PGEX_P else "page not present")]
    lines += [f"instruction pointer\t= {KERNEL_CS:#x}:{pc:#x}",
              f"stack pointer\t        = {KERNEL_SS:#x}:{sp:#x}",
              f"frame pointer\t        = {KERNEL_SS:#x}:{fp:#x}",
              "processor eflags\t= interrupt enabled, resume, IOPL = 0"]
    if td is not None:
        p = td.lwp_proc
        lines.append(f"current process\t\t= {p.p_pid} ({p.p_comm})")
    else:
        lines.append("current process\t\t= Idle")
    lines.append(f"current thread          = pri {getattr(td, 'td_pri', 0)} <- SMP: XXX")
    return "\n".join(lines) + "\n"


def _innermost_tb(tb):
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def trap_fatal(exc, td, resumable=True):
    """An exception escaped kernel code serving td.  Prints the report and
    enters ddb; returns True when the faulting operation should be retried
    (ddb `continue`), False when there is nothing left to retry."""
    from vkernel.ddb.db_trace import frames_from_traceback
    frames = frames_from_traceback(exc.__traceback__)
    trap = classify(exc, frames)
    if trap is None:
        panic(panic_message(exc), frames=frames, td=td, exc=exc)
    console().enter()
    _fresh_line()
    printf(fatal_trap_report(trap, frames, _innermost_tb(exc.__traceback__), td))
    if not debugger_on_panic.value:
        printf(f"trap number\t\t= {trap[0]}\n")
        panic(TRAP_MSG[trap[0]], frames=frames, td=td, exc=exc)
    action = _ddb(_context("trap", frames, td, trap, exc, fatal=True))
    if action == "eof":
        printf("vconsgetc: EOF on console\n")
        raise Halt(EXIT_PANIC)
    console().leave()
    if not resumable:
        boot(RB_AUTOBOOT | RB_DUMP | RB_NOSYNC)
    return td is None or (not td.lwp_proc.p_flags & P_WEXIT and td.is_live())


def panic_message(exc):
    """One line: a failed assertion's own message (KASSERT), else the exception."""
    text = (str(exc).splitlines() or [""])[0]
    if isinstance(exc, AssertionError):
        return text or "assertion failed"
    return f"{type(exc).__name__}: {text}"


# -- panic and the debugger -------------------------------------------------------------------
def panic(msg, *, frames=None, td=None, exc=None):
    """panic(9): report, trace, ddb, then reboot.  Never returns."""
    global panicstr, _panic_depth
    _panic_depth += 1
    if _panic_depth > 3:
        console().write(f"panic: {msg} (recursive panic, giving up)\n")
        raise Halt(EXIT_PANIC)
    if panicstr is None:
        panicstr = msg
    if frames is None:
        from vkernel.ddb.db_trace import frames_from_frame
        frames = frames_from_frame(sys._getframe())
    console().enter()
    _fresh_line()
    printf(f"panic: {msg}\ncpuid = {cpuid()}\n")
    if trace_on_panic.value and _panic_depth == 1:
        print_backtrace(frames, 6)
    if debugger_on_panic.value:
        Debugger("panic", frames=frames, td=td, exc=exc)
    elif exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    boot(RB_AUTOBOOT | RB_DUMP | RB_NOSYNC)


def print_backtrace(frames, count):
    from vkernel.ddb.db_trace import format_frame
    if not frames:
        return
    printf(f"Trace beginning at frame {id(frames[0].frame):#x}\n")
    for kf in frames[:count]:
        printf(format_frame(kf) + "\n")


def Debugger(msg, *, frames=None, td=None, exc=None):
    """Enter ddb on purpose (a breakpoint); returns when it is continued."""
    from vkernel.ddb.db_trace import frames_from_frame
    console().enter()
    printf(f'Debugger("{msg}")\n')
    frames = frames or frames_from_frame(sys._getframe())     # the breakpoint
    action = _ddb(_context(msg, frames, td, (T_BPTFLT, 0, 0), exc, fatal=False))
    console().leave()
    return action


def _context(why, frames, td, trap, exc, fatal):
    from vkernel.ddb.db_interface import DbContext
    return DbContext(why, frames, td=td, cpu=_curcpu(), trap=trap, exc=exc,
                     fatal=fatal, console=console())


def _ddb(ctx):
    """Run the debugger; act on the commands that leave it for good."""
    global _db_active, _request
    from vkernel.ddb import db_interface
    _db_active = True
    try:
        action = db_interface.kdb_trap(ctx, console())
    finally:
        _db_active = False
        _request = None            # break-ins typed while in ddb are spent
    if action == "panic":
        panic("from debugger", frames=ctx.frames, td=ctx.td, exc=ctx.exc)
    if action == "reset":
        db_reset()
    if action == "reboot":
        boot(RB_AUTOBOOT)
    if action == "eof" and not ctx.fatal:
        printf("vconsgetc: EOF on console; continuing\n")
    return action


# -- break-ins ----------------------------------------------------------------------------------
def kdb_request(why, signo=0, frame=None):
    """Post a break-in (from a host signal handler or a sysctl): only notes
    it and wakes the CPU loop, which calls kdb_poll at a safe point."""
    global _request
    if _db_active:
        return
    rip = (id(frame.f_code) + frame.f_lasti) if frame is not None else 0
    _request = (why, signo, rip, id(frame) if frame is not None else 0)
    hooks["wakeup"]()


def kdb_poll():
    """At a safe point of the CPU loop: enter ddb if a break-in is pending."""
    global _request
    req, _request = _request, None
    if req is None:
        return
    why, signo, rip, rsp = req
    if signo:
        td = getattr(_curcpu(), "curthread", None)
        console().enter()
        _fresh_line()
        printf(f"CAUGHT SIG {signo} RIP {rip:08x} RSP {rsp:08x} TD {id(td) if td else 0:#x}\n")
    Debugger(why)


def _sysctl_kdb_enter(value):
    if value:
        kdb_request("sysctl debug.kdb.enter")


def _sysctl_kdb_panic(value):
    if value:
        panic("kdb_sysctl_panic")


def _sysctl_kdb_trap(value):
    """debug.kdb.trap=1: a NULL dereference in kernel mode (Fatal trap 12)."""
    if value:
        tracenode = None
        return tracenode.kn_vp


sysctl_proc("debug.kdb.enter", lambda: 0, _sysctl_kdb_enter,
            descr="set to enter the debugger at the next safe point")
sysctl_proc("debug.kdb.panic", lambda: 0, _sysctl_kdb_panic, descr="set to panic the kernel")
sysctl_proc("debug.kdb.trap", lambda: 0, _sysctl_kdb_trap,
            descr="set to cause a page fault via a NULL data access")


# -- reboot and halt ------------------------------------------------------------------------------
shutdown_handler = None      # init_main's boot_howto(how): kill, sync, unmount, leave


def clean_shutdown(how):
    """The system's clean way down, as reboot(2) asks for it: `how` is "halt",
    "poweroff" (exit 0) or "reboot" (exit 32).  Does not return."""
    shutdown_handler(how)
    raise SystemExit(f"clean_shutdown({how}) returned")


def boot(howto):
    """boot(): without RB_NOSYNC, the system's clean shutdown (kill, sync,
    as reboot(2) does); for RB_DUMP the panic countdown; then halt or
    reset.  Never returns."""
    if not howto & RB_NOSYNC and shutdown_handler is not None:
        clean_shutdown("halt" if howto & RB_HALT else "reboot")
    if howto & RB_DUMP:
        from vkernel.kvm import kvm_dump
        kvm_dump.dumpsys(f"panic: {panicstr}" if panicstr else "fatal trap")   # if kern.dumpdev/-D
        if not console().interactive:
            raise Halt(EXIT_PANIC)
        shutdown_panic()
    if howto & RB_HALT:
        printf("\nThe operating system has halted.\n")
        cpu_halt()
    printf("Rebooting...\n")
    cpu_reset()


def shutdown_panic():
    """The reboot countdown after a panic; a key aborts it (then another reboots)."""
    wait = panic_reboot_wait.value
    if wait == 0:
        return
    io = console()
    if wait != -1:
        printf(f"Automatic reboot in {wait} seconds - press a key on the console to abort\n")
        for _ in range(wait * 10):
            if io.checkc(0.1) is not None:
                break
        else:
            return
    printf("--> Press a key on the console to reboot,\n")
    printf("--> or switch off the system now.\n")
    io.getc()


def cpu_reset():
    """Reset the (virtual) CPU: exit 32, which a supervisor turns into a reboot."""
    printf("cpu reset, rebooting vkernel\n")
    raise Halt(EXIT_REBOOT)


def db_reset():
    """ddb's reset: no sync, no reboot; the guests die with the vkernel."""
    printf("cpu reset, exiting vkernel\n")
    raise Halt(EXIT_RESET)


def cpu_halt():
    printf("cpu halt, exiting vkernel\n")
    raise Halt(EXIT_HALT)


@db_show_command("panic")
def db_show_panic(db, arg, modif):
    """show panic: the panic message, if the system has panicked."""
    db.printf(f"panic: {panicstr}\n" if panicstr else "*** not panic()ed ***\n")
