"""ktrace(2) and the trace file format: DragonFly's <sys/ktrace.h> for x86-64.

DragonFly counterpart: sys/sys/ktrace.h.  Constants are DragonFly's values;
record layouts are DragonFly's structs laid out with x86-64 (LP64) natural
alignment, which is what the reference infers for a 64-bit kernel, and with
Linux numbers inside (syscall codes, errnos, signals).

    int ktrace(const char *tracefile, int ops, int trpoints, pid_t pid);
    int utrace(const void *addr, size_t len);

at the numbers in vkernel.abi.vkernel.syscalls.  `ops` is KTROP_SET,
KTROP_CLEAR or KTROP_CLEARFILE, optionally | KTRFLAG_DESCEND; `trpoints`
is a KTRFAC_* mask (KTRFAC_INHERIT: children inherit the trace); `pid` is
a process id, or -pgid for a process group.  The file must exist and be a
regular file; tracefile may be NULL for KTROP_CLEAR.

The trace file is a sequence of records, each a 64-byte ktr_header followed
by ktr_len bytes of payload:

    off size  ktr_header                    payload by ktr_type
     0   4    int   ktr_len                 KTR_SYSCALL  ktr_syscall: short ktr_code,
     4   2    short ktr_type (KTR_*)                     short ktr_narg, 4 pad,
     6   2    short ktr_flags                            int64 ktr_args[narg]
     8   4    pid_t ktr_pid                              (only narg slots are written)
    12   4    lwpid ktr_tid (Linux tid)     KTR_SYSRET   ktr_sysret (16): short ktr_code,
    16  17    char  ktr_comm[MAXCOMLEN+1]                short ktr_eosys (0), int ktr_error
    33   7    pad                                        (Linux errno, 0 on success),
    40   8    int64 ktr_time.tv_sec                      int64 ktr_retval (-1 on error)
    48   8    int64 ktr_time.tv_usec        KTR_NAMEI    the path, no NUL
    56   8    ktr_buf (0 in the file)       KTR_GENIO    ktr_genio (8): int ktr_fd,
                                                         int ktr_rw (UIO_READ 0, UIO_WRITE 1),
    ktr_flags: KTRH_THREADED when the                    then the data
    process has more than one thread,       KTR_PSIG     ktr_psig (32): int signo, 4 pad,
    the cpu in bits 8-15                                 uint64 action (handler; SIG_DFL 0),
    (KTRH_CPUID_ENCODE).                                 int code (si_code), 4 pad,
                                                         uint64 mask (the Linux sigset)
                                            KTR_CSW      ktr_csw (8): int out, int user
                                            KTR_USER     utrace(2) data, at most
                                                         KTR_USER_MAXLEN bytes

Departures from DragonFly: ktr_tid is the Linux thread id (never 0), so
kdump prints pid:tid only for KTRH_THREADED records or with -j; the PSIG
mask is Linux's 64-bit sigset, not DragonFly's 128-bit one; syscall codes,
errnos and signal numbers are Linux's.
"""
from vkernel.abi.linux._layout import Layout

# ops
KTROP_SET = 0             # set trace points
KTROP_CLEAR = 1           # clear trace points
KTROP_CLEARFILE = 2       # stop all tracing to file
KTRFLAG_DESCEND = 4       # perform the op on all current children too


def KTROP(o):
    """The operation part of ops."""
    return o & 3


# record types
KTR_SYSCALL = 1
KTR_SYSRET = 2
KTR_NAMEI = 3
KTR_GENIO = 4
KTR_PSIG = 5
KTR_CSW = 6
KTR_USER = 7

# trace facilities (p_traceflag): one bit per record type
KTRFAC_MASK = 0x00ffffff
KTRFAC_SYSCALL = 1 << KTR_SYSCALL      # 0x02
KTRFAC_SYSRET = 1 << KTR_SYSRET        # 0x04
KTRFAC_NAMEI = 1 << KTR_NAMEI          # 0x08
KTRFAC_GENIO = 1 << KTR_GENIO          # 0x10
KTRFAC_PSIG = 1 << KTR_PSIG            # 0x20
KTRFAC_CSW = 1 << KTR_CSW              # 0x40
KTRFAC_USER = 1 << KTR_USER            # 0x80
KTRFAC_ROOT = 0x80000000               # root set this trace
KTRFAC_INHERIT = 0x40000000            # pass trace flags to children
KTRFAC_ACTIVE = 0x20000000             # ktrace logging in progress, ignore

# ktrace(1)'s sets (usr.bin/ktrace/ktrace.h)
DEF_POINTS = (KTRFAC_SYSCALL | KTRFAC_SYSRET | KTRFAC_NAMEI | KTRFAC_GENIO
              | KTRFAC_PSIG | KTRFAC_USER)
ALL_POINTS = DEF_POINTS | KTRFAC_CSW

# ktr_flags
KTRH_THREADED = 0x0001


def KTRH_CPUID_ENCODE(cpuid):
    return (cpuid & 0xFF) << 8


def KTRH_CPUID_DECODE(flags):
    return (flags >> 8) & 0xFF


MAXCOMLEN = 16
KTR_USER_MAXLEN = 2048
KTR_MAXARGS = 8            # ktr_args slots (Linux calls use at most 6)
UIO_READ, UIO_WRITE = 0, 1

ktr_header = Layout("ktr_header", [
    ("ktr_len", "i"), ("ktr_type", "h"), ("ktr_flags", "h"),
    ("ktr_pid", "i"), ("ktr_tid", "i"),
    ("ktr_comm", f"{MAXCOMLEN + 1}s"), ("_pad0", "7x"),
    ("ktr_tv_sec", "q"), ("ktr_tv_usec", "q"),
    ("ktr_buf", "Q"),
])

ktr_syscall = Layout("ktr_syscall", [       # followed by ktr_narg int64 arguments
    ("ktr_code", "h"), ("ktr_narg", "h"), ("_pad0", "4x"),
])

ktr_sysret = Layout("ktr_sysret", [
    ("ktr_code", "h"), ("ktr_eosys", "h"), ("ktr_error", "i"), ("ktr_retval", "q"),
])

ktr_genio = Layout("ktr_genio", [           # followed by the data
    ("ktr_fd", "i"), ("ktr_rw", "i"),
])

ktr_psig = Layout("ktr_psig", [
    ("signo", "i"), ("_pad0", "4x"), ("action", "Q"),
    ("code", "i"), ("_pad1", "4x"), ("mask", "Q"),
])

ktr_csw = Layout("ktr_csw", [
    ("out", "i"), ("user", "i"),
])

LAYOUTS = (ktr_header, ktr_syscall, ktr_sysret, ktr_genio, ktr_psig, ktr_csw)
