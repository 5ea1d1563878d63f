"""Linux x86-64 signal numbers, flags, and the sigaction/stack_t/siginfo_t layouts.

Linux counterparts: arch/x86/include/uapi/asm/signal.h (numbers, struct
sigaction, stack_t), include/uapi/asm-generic/signal-defs.h (SA_*, SIG_*),
include/uapi/linux/signal.h (SS_*), include/uapi/asm-generic/siginfo.h
(siginfo_t and si_code values), include/uapi/linux/signalfd.h, and the
default actions of signal(7) / include/linux/signal.h (SIG_KERNEL_*_MASK).
Data only.
"""
from ._layout import Layout

SIGHUP = 1
SIGINT = 2
SIGQUIT = 3
SIGILL = 4
SIGTRAP = 5
SIGABRT = 6
SIGIOT = 6
SIGBUS = 7
SIGFPE = 8
SIGKILL = 9
SIGUSR1 = 10
SIGSEGV = 11
SIGUSR2 = 12
SIGPIPE = 13
SIGALRM = 14
SIGTERM = 15
SIGSTKFLT = 16
SIGCHLD = 17
SIGCONT = 18
SIGSTOP = 19
SIGTSTP = 20
SIGTTIN = 21
SIGTTOU = 22
SIGURG = 23
SIGXCPU = 24
SIGXFSZ = 25
SIGVTALRM = 26
SIGPROF = 27
SIGWINCH = 28
SIGIO = 29
SIGPOLL = SIGIO
SIGPWR = 30
SIGSYS = 31
SIGUNUSED = 31

# Kernel view of the real-time range (glibc reserves 32 and 33 and reports
# SIGRTMIN as 34 to programs; the kernel itself starts at 32).
SIGRTMIN = 32
SIGRTMAX = 64
NSIG = 64          # kernel _NSIG: highest signal number; sigset_t is 64 bits
NSIG_WORDS = 1     # _NSIG_WORDS on x86-64

SIGNAL_NAMES = {
    1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
    6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
    11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
    16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP",
    21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
    26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR",
    31: "SIGSYS", 32: "SIGRTMIN",
}
# strace-style names for the rest of the real-time range: SIGRT_1 .. SIGRT_32.
SIGNAL_NAMES.update({n: f"SIGRT_{n - SIGRTMIN}" for n in range(33, SIGRTMAX + 1)})

# glibc 2.36 strsignal() text for 1..31 (generated on this machine).
SIGNAL_DESCRIPTIONS = {
    1: "Hangup", 2: "Interrupt", 3: "Quit", 4: "Illegal instruction",
    5: "Trace/breakpoint trap", 6: "Aborted", 7: "Bus error",
    8: "Floating point exception", 9: "Killed", 10: "User defined signal 1",
    11: "Segmentation fault", 12: "User defined signal 2", 13: "Broken pipe",
    14: "Alarm clock", 15: "Terminated", 16: "Stack fault",
    17: "Child exited", 18: "Continued", 19: "Stopped (signal)",
    20: "Stopped", 21: "Stopped (tty input)", 22: "Stopped (tty output)",
    23: "Urgent I/O condition", 24: "CPU time limit exceeded",
    25: "File size limit exceeded", 26: "Virtual timer expired",
    27: "Profiling timer expired", 28: "Window changed", 29: "I/O possible",
    30: "Power failure", 31: "Bad system call",
}
GLIBC_SIGRTMIN = 34  # what glibc reports as SIGRTMIN to applications


def strsignal(sig):
    """Return glibc's strsignal() text for sig (glibc numbers RT signals from 34)."""
    if sig in SIGNAL_DESCRIPTIONS:
        return SIGNAL_DESCRIPTIONS[sig]
    if GLIBC_SIGRTMIN <= sig <= SIGRTMAX:
        return f"Real-time signal {sig - GLIBC_SIGRTMIN}"
    return f"Unknown signal {sig}"


# Default actions, per signal(7).  Real-time signals all default to "term".
ACT_TERM = "term"
ACT_CORE = "core"
ACT_STOP = "stop"
ACT_CONT = "cont"
ACT_IGN = "ign"

DEFAULT_ACTIONS = {
    SIGHUP: ACT_TERM, SIGINT: ACT_TERM, SIGQUIT: ACT_CORE, SIGILL: ACT_CORE,
    SIGTRAP: ACT_CORE, SIGABRT: ACT_CORE, SIGBUS: ACT_CORE, SIGFPE: ACT_CORE,
    SIGKILL: ACT_TERM, SIGUSR1: ACT_TERM, SIGSEGV: ACT_CORE, SIGUSR2: ACT_TERM,
    SIGPIPE: ACT_TERM, SIGALRM: ACT_TERM, SIGTERM: ACT_TERM,
    SIGSTKFLT: ACT_TERM, SIGCHLD: ACT_IGN, SIGCONT: ACT_CONT,
    SIGSTOP: ACT_STOP, SIGTSTP: ACT_STOP, SIGTTIN: ACT_STOP, SIGTTOU: ACT_STOP,
    SIGURG: ACT_IGN, SIGXCPU: ACT_CORE, SIGXFSZ: ACT_CORE,
    SIGVTALRM: ACT_TERM, SIGPROF: ACT_TERM, SIGWINCH: ACT_IGN,
    SIGIO: ACT_TERM, SIGPWR: ACT_TERM, SIGSYS: ACT_CORE,
}
DEFAULT_ACTIONS.update({n: ACT_TERM for n in range(SIGRTMIN, SIGRTMAX + 1)})


def sigmask(sig):
    """Bit for sig in a 64-bit sigset_t (Linux's sigmask(): 1 << (sig - 1))."""
    return 1 << (sig - 1)


def sigset_of(signals):
    """Build a sigset_t bitmask from an iterable of signal numbers."""
    mask = 0
    for sig in signals:
        mask |= sigmask(sig)
    return mask


def sigset_members(mask):
    """List the signal numbers present in a sigset_t bitmask, ascending."""
    return [sig for sig in range(1, NSIG + 1) if mask & sigmask(sig)]


SIGSET_FULL = (1 << NSIG) - 1
SIGSET_SIZE = 8  # sizeof(kernel sigset_t); rt_sig* syscalls require this
# include/linux/signal.h classification masks.
SIG_KERNEL_ONLY_MASK = sigset_of([SIGKILL, SIGSTOP])  # cannot block/catch/ignore
SIG_UNBLOCKABLE = SIG_KERNEL_ONLY_MASK
SIG_KERNEL_STOP_MASK = sigset_of([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU])
SIG_KERNEL_COREDUMP_MASK = sigset_of(
    [SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGSEGV, SIGBUS, SIGSYS,
     SIGXCPU, SIGXFSZ])
SIG_KERNEL_IGNORE_MASK = sigset_of([SIGCONT, SIGCHLD, SIGWINCH, SIGURG])
SIG_SYNCHRONOUS_MASK = sigset_of([SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGSYS])

# sigaction sa_flags (asm-generic/signal-defs.h, x86 asm/signal.h).
SA_NOCLDSTOP = 0x00000001
SA_NOCLDWAIT = 0x00000002
SA_SIGINFO = 0x00000004
SA_UNSUPPORTED = 0x00000400
SA_EXPOSE_TAGBITS = 0x00000800
SA_RESTORER = 0x04000000
SA_ONSTACK = 0x08000000
SA_RESTART = 0x10000000
SA_NODEFER = 0x40000000
SA_RESETHAND = 0x80000000
SA_NOMASK = SA_NODEFER
SA_ONESHOT = SA_RESETHAND

SIG_DFL = 0
SIG_IGN = 1
SIG_ERR = -1

SIG_BLOCK = 0
SIG_UNBLOCK = 1
SIG_SETMASK = 2

# sigaltstack (linux/signal.h, asm/signal.h).
SS_ONSTACK = 1
SS_DISABLE = 2
SS_AUTODISARM = 1 << 31
SS_FLAG_BITS = SS_AUTODISARM
MINSIGSTKSZ = 2048
SIGSTKSZ = 8192

# si_code values (asm-generic/siginfo.h).  <= 0 means "sent by user space".
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TIMER = -2
SI_MESGQ = -3
SI_ASYNCIO = -4
SI_SIGIO = -5
SI_TKILL = -6
SI_DETHREAD = -7
SI_ASYNCNL = -60

ILL_ILLOPC = 1
ILL_ILLOPN = 2
ILL_ILLADR = 3
ILL_ILLTRP = 4
ILL_PRVOPC = 5
ILL_PRVREG = 6
ILL_COPROC = 7
ILL_BADSTK = 8
ILL_BADIADDR = 9

FPE_INTDIV = 1
FPE_INTOVF = 2
FPE_FLTDIV = 3
FPE_FLTOVF = 4
FPE_FLTUND = 5
FPE_FLTRES = 6
FPE_FLTINV = 7
FPE_FLTSUB = 8
FPE_FLTUNK = 14
FPE_CONDTRAP = 15

SEGV_MAPERR = 1
SEGV_ACCERR = 2
SEGV_BNDERR = 3
SEGV_PKUERR = 4

BUS_ADRALN = 1
BUS_ADRERR = 2
BUS_OBJERR = 3
BUS_MCEERR_AR = 4
BUS_MCEERR_AO = 5

TRAP_BRKPT = 1
TRAP_TRACE = 2
TRAP_BRANCH = 3
TRAP_HWBKPT = 4
TRAP_UNK = 5
TRAP_PERF = 6

CLD_EXITED = 1
CLD_KILLED = 2
CLD_DUMPED = 3
CLD_TRAPPED = 4
CLD_STOPPED = 5
CLD_CONTINUED = 6

POLL_IN = 1
POLL_OUT = 2
POLL_MSG = 3
POLL_ERR = 4
POLL_PRI = 5
POLL_HUP = 6

SYS_SECCOMP = 1
SYS_USER_DISPATCH = 2

SIGEV_SIGNAL = 0
SIGEV_NONE = 1
SIGEV_THREAD = 2
SIGEV_THREAD_ID = 4

# signalfd4 flags (linux/signalfd.h) -- O_CLOEXEC / O_NONBLOCK.
SFD_CLOEXEC = 0o2000000
SFD_NONBLOCK = 0o4000

# ---------------------------------------------------------------- layouts

# Kernel struct sigaction as rt_sigaction(2) sees it on x86-64 (32 bytes).
SIGACTION = Layout("sigaction", [
    ("sa_handler", "Q"), ("sa_flags", "Q"), ("sa_restorer", "Q"), ("sa_mask", "Q"),
])

# stack_t for sigaltstack(2) and uc_stack (24 bytes).
STACK_T = Layout("stack_t", [
    ("ss_sp", "Q"), ("ss_flags", "i"), ("_pad0", "4x"), ("ss_size", "Q"),
])


def pack_sigaction(handler=SIG_DFL, flags=0, restorer=0, mask=0):
    """Pack a kernel struct sigaction (handler, flags, restorer, mask)."""
    return SIGACTION.pack(sa_handler=handler, sa_flags=flags,
                          sa_restorer=restorer, sa_mask=mask)


def unpack_sigaction(buf, offset=0):
    """Unpack a kernel struct sigaction -> namedtuple(sa_handler, sa_flags, sa_restorer, sa_mask)."""
    return SIGACTION.unpack(buf, offset)


def pack_stack(sp=0, flags=SS_DISABLE, size=0):
    """Pack a stack_t (ss_sp, ss_flags, ss_size)."""
    return STACK_T.pack(ss_sp=sp, ss_flags=flags, ss_size=size)


def unpack_stack(buf, offset=0):
    """Unpack a stack_t -> namedtuple(ss_sp, ss_flags, ss_size)."""
    return STACK_T.unpack(buf, offset)


# siginfo_t: 128 bytes; header {si_signo, si_errno, si_code} then a union
# at offset 16 (8-byte aligned).  One Layout per union member, each padded
# to the full 128 bytes.  si_value is the 8-byte sigval union (int or ptr).
SIGINFO_SIZE = 128
SIGINFO_FIELDS_OFFSET = 16
_HDR = [("si_signo", "i"), ("si_errno", "i"), ("si_code", "i"), ("_pad0", "4x")]


def _siginfo(name, fields, used):
    return Layout(name, _HDR + fields + [("_tail", f"{SIGINFO_SIZE - 16 - used}x")])


SIGINFO_HEADER = Layout("siginfo_header", _HDR)
SIGINFO_KILL = _siginfo("siginfo_kill", [("si_pid", "i"), ("si_uid", "I")], 8)
SIGINFO_TIMER = _siginfo("siginfo_timer", [
    ("si_tid", "i"), ("si_overrun", "i"), ("si_value", "Q"), ("si_sys_private", "i"),
], 20)
SIGINFO_RT = _siginfo("siginfo_rt", [
    ("si_pid", "i"), ("si_uid", "I"), ("si_value", "Q"),
], 16)
SIGINFO_CHLD = _siginfo("siginfo_chld", [
    ("si_pid", "i"), ("si_uid", "I"), ("si_status", "i"), ("_pad1", "4x"),
    ("si_utime", "q"), ("si_stime", "q"),
], 32)
SIGINFO_FAULT = _siginfo("siginfo_fault", [
    ("si_addr", "Q"), ("si_addr_lsb", "h"), ("_pad1", "6x"),
    ("si_lower", "Q"), ("si_upper", "Q"),
], 32)
SIGINFO_FAULT_PKEY = _siginfo("siginfo_fault_pkey", [
    ("si_addr", "Q"), ("_pad1", "8x"), ("si_pkey", "I"),
], 20)
SIGINFO_POLL = _siginfo("siginfo_poll", [("si_band", "q"), ("si_fd", "i")], 12)
SIGINFO_SYS = _siginfo("siginfo_sys", [
    ("si_call_addr", "Q"), ("si_syscall", "i"), ("si_arch", "I"),
], 16)


def siginfo_kill(signo, code=SI_USER, pid=0, uid=0, errno=0):
    """siginfo_t for kill(2)/tkill(2)-style signals (SI_USER, SI_TKILL, SI_KERNEL)."""
    return SIGINFO_KILL.pack(si_signo=signo, si_errno=errno, si_code=code,
                             si_pid=pid, si_uid=uid)


def siginfo_rt(signo, code=SI_QUEUE, pid=0, uid=0, value=0):
    """siginfo_t for sigqueue(3)/rt_sigqueueinfo (pid, uid, sigval)."""
    return SIGINFO_RT.pack(si_signo=signo, si_code=code, si_pid=pid,
                           si_uid=uid, si_value=value)


def siginfo_chld(code, pid, uid, status, utime=0, stime=0, signo=SIGCHLD):
    """siginfo_t for SIGCHLD / waitid(2): code is CLD_*, status the exit code or signal."""
    return SIGINFO_CHLD.pack(si_signo=signo, si_code=code, si_pid=pid, si_uid=uid,
                             si_status=status, si_utime=utime, si_stime=stime)


def siginfo_fault(signo, code, addr, addr_lsb=0):
    """siginfo_t for synchronous faults (SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP)."""
    return SIGINFO_FAULT.pack(si_signo=signo, si_code=code, si_addr=addr,
                              si_addr_lsb=addr_lsb)


def siginfo_timer(signo, tid, overrun=0, value=0, code=SI_TIMER):
    """siginfo_t for POSIX timer expiry (timer id, overrun count, sigval)."""
    return SIGINFO_TIMER.pack(si_signo=signo, si_code=code, si_tid=tid,
                              si_overrun=overrun, si_value=value)


def siginfo_poll(signo, code, band, fd):
    """siginfo_t for SIGIO/SIGPOLL (code is POLL_*)."""
    return SIGINFO_POLL.pack(si_signo=signo, si_code=code, si_band=band, si_fd=fd)


def siginfo_sys(call_addr, syscall, arch, code=SYS_SECCOMP, errno=0, signo=SIGSYS):
    """siginfo_t for SIGSYS (seccomp / syscall user dispatch)."""
    return SIGINFO_SYS.pack(si_signo=signo, si_errno=errno, si_code=code,
                            si_call_addr=call_addr, si_syscall=syscall, si_arch=arch)


def unpack_siginfo_header(buf, offset=0):
    """Return namedtuple(si_signo, si_errno, si_code) from a siginfo_t."""
    return SIGINFO_HEADER.unpack(buf, offset)


# struct signalfd_siginfo (linux/signalfd.h), 128 bytes.
SIGNALFD_SIGINFO = Layout("signalfd_siginfo", [
    ("ssi_signo", "I"), ("ssi_errno", "i"), ("ssi_code", "i"), ("ssi_pid", "I"),
    ("ssi_uid", "I"), ("ssi_fd", "i"), ("ssi_tid", "I"), ("ssi_band", "I"),
    ("ssi_overrun", "I"), ("ssi_trapno", "I"), ("ssi_status", "i"),
    ("ssi_int", "i"), ("ssi_ptr", "Q"), ("ssi_utime", "Q"), ("ssi_stime", "Q"),
    ("ssi_addr", "Q"), ("ssi_addr_lsb", "H"), ("_pad2", "2x"),
    ("ssi_syscall", "i"), ("ssi_call_addr", "Q"), ("ssi_arch", "I"),
    ("_pad", "28x"),
])
