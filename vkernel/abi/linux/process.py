"""Process/thread ABI: clone flags, wait(2) options and status words, futex ops,
prctl options, arch_prctl codes, utsname, reboot, scheduling and priorities.

Linux counterparts: include/uapi/linux/sched.h (CLONE_*, SCHED_*, struct
clone_args), include/uapi/linux/sched/types.h (struct sched_attr),
include/uapi/linux/wait.h (W*, P_*), kernel/exit.c and glibc
<bits/waitstatus.h> (wait status words: W_EXITCODE, W_STOPCODE),
include/uapi/linux/futex.h, include/uapi/linux/prctl.h,
arch/x86/include/uapi/asm/prctl.h (ARCH_*), include/uapi/linux/utsname.h,
include/uapi/linux/reboot.h, include/uapi/linux/resource.h (RUSAGE_*,
PRIO_*).  Data only.
"""
from ._layout import Layout

# ----------------------------------------------------------------- clone
CSIGNAL = 0x000000FF
CLONE_NEWTIME = 0x00000080
CLONE_VM = 0x00000100
CLONE_FS = 0x00000200
CLONE_FILES = 0x00000400
CLONE_SIGHAND = 0x00000800
CLONE_PIDFD = 0x00001000
CLONE_PTRACE = 0x00002000
CLONE_VFORK = 0x00004000
CLONE_PARENT = 0x00008000
CLONE_THREAD = 0x00010000
CLONE_NEWNS = 0x00020000
CLONE_SYSVSEM = 0x00040000
CLONE_SETTLS = 0x00080000
CLONE_PARENT_SETTID = 0x00100000
CLONE_CHILD_CLEARTID = 0x00200000
CLONE_DETACHED = 0x00400000
CLONE_UNTRACED = 0x00800000
CLONE_CHILD_SETTID = 0x01000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_IO = 0x80000000
CLONE_CLEAR_SIGHAND = 0x100000000
CLONE_INTO_CGROUP = 0x200000000

CLONE_FLAG_NAMES = {
    CLONE_NEWTIME: "CLONE_NEWTIME", CLONE_VM: "CLONE_VM", CLONE_FS: "CLONE_FS",
    CLONE_FILES: "CLONE_FILES", CLONE_SIGHAND: "CLONE_SIGHAND",
    CLONE_PIDFD: "CLONE_PIDFD", CLONE_PTRACE: "CLONE_PTRACE",
    CLONE_VFORK: "CLONE_VFORK", CLONE_PARENT: "CLONE_PARENT",
    CLONE_THREAD: "CLONE_THREAD", CLONE_NEWNS: "CLONE_NEWNS",
    CLONE_SYSVSEM: "CLONE_SYSVSEM", CLONE_SETTLS: "CLONE_SETTLS",
    CLONE_PARENT_SETTID: "CLONE_PARENT_SETTID",
    CLONE_CHILD_CLEARTID: "CLONE_CHILD_CLEARTID",
    CLONE_DETACHED: "CLONE_DETACHED", CLONE_UNTRACED: "CLONE_UNTRACED",
    CLONE_CHILD_SETTID: "CLONE_CHILD_SETTID",
    CLONE_NEWCGROUP: "CLONE_NEWCGROUP", CLONE_NEWUTS: "CLONE_NEWUTS",
    CLONE_NEWIPC: "CLONE_NEWIPC", CLONE_NEWUSER: "CLONE_NEWUSER",
    CLONE_NEWPID: "CLONE_NEWPID", CLONE_NEWNET: "CLONE_NEWNET",
    CLONE_IO: "CLONE_IO", CLONE_CLEAR_SIGHAND: "CLONE_CLEAR_SIGHAND",
    CLONE_INTO_CGROUP: "CLONE_INTO_CGROUP",
}

CLONE_ARGS_SIZE_VER0 = 64
CLONE_ARGS_SIZE_VER1 = 80
CLONE_ARGS_SIZE_VER2 = 88
CLONE_ARGS = Layout("clone_args", [
    ("flags", "Q"), ("pidfd", "Q"), ("child_tid", "Q"), ("parent_tid", "Q"),
    ("exit_signal", "Q"), ("stack", "Q"), ("stack_size", "Q"), ("tls", "Q"),
    ("set_tid", "Q"), ("set_tid_size", "Q"), ("cgroup", "Q"),
])


def unpack_clone_args(buf):
    """Decode clone3's struct clone_args; a short (older) struct is zero-extended."""
    return CLONE_ARGS.unpack(bytes(buf[:CLONE_ARGS.size]).ljust(CLONE_ARGS.size, b"\0"))


# ----------------------------------------------------------------- wait
WNOHANG = 0x00000001
WUNTRACED = 0x00000002
WSTOPPED = WUNTRACED
WEXITED = 0x00000004
WCONTINUED = 0x00000008
WNOWAIT = 0x01000000
__WNOTHREAD = 0x20000000
__WALL = 0x40000000
__WCLONE = 0x80000000
WNOTHREAD = __WNOTHREAD
WALL = __WALL
WCLONE = __WCLONE

P_ALL = 0
P_PID = 1
P_PGID = 2
P_PIDFD = 3

WCOREFLAG = 0x80
W_STOPPED = 0x7F       # low byte of a "stopped" status
W_CONTINUED = 0xFFFF   # whole status of a "continued" report


def W_EXITCODE(ret, sig):  # noqa: N802 - glibc's name
    """Status word for an exit (sig == 0) or a death by signal (| WCOREFLAG if dumped)."""
    return ((ret & 0xFF) << 8) | sig


def W_STOPCODE(sig):  # noqa: N802
    """Status word for a stop by sig (ptrace stops put extra event bits above)."""
    return (sig << 8) | W_STOPPED


def WIFEXITED(status):  # noqa: N802
    return (status & 0x7F) == 0


def WEXITSTATUS(status):  # noqa: N802
    return (status >> 8) & 0xFF


def WIFSIGNALED(status):  # noqa: N802
    return 0 < (status & 0x7F) < 0x7F


def WTERMSIG(status):  # noqa: N802
    return status & 0x7F


def WCOREDUMP(status):  # noqa: N802
    return bool(status & WCOREFLAG)


def WIFSTOPPED(status):  # noqa: N802
    return (status & 0xFF) == W_STOPPED


def WSTOPSIG(status):  # noqa: N802
    return (status >> 8) & 0xFF


def WIFCONTINUED(status):  # noqa: N802
    return status == W_CONTINUED


# ----------------------------------------------------------------- futex
FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_FD = 2
FUTEX_REQUEUE = 3
FUTEX_CMP_REQUEUE = 4
FUTEX_WAKE_OP = 5
FUTEX_LOCK_PI = 6
FUTEX_UNLOCK_PI = 7
FUTEX_TRYLOCK_PI = 8
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_WAIT_REQUEUE_PI = 11
FUTEX_CMP_REQUEUE_PI = 12
FUTEX_LOCK_PI2 = 13
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
FUTEX_WAIT_PRIVATE = FUTEX_WAIT | FUTEX_PRIVATE_FLAG
FUTEX_WAKE_PRIVATE = FUTEX_WAKE | FUTEX_PRIVATE_FLAG
FUTEX_REQUEUE_PRIVATE = FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG
FUTEX_CMP_REQUEUE_PRIVATE = FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG
FUTEX_WAKE_OP_PRIVATE = FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG
FUTEX_LOCK_PI_PRIVATE = FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG
FUTEX_LOCK_PI2_PRIVATE = FUTEX_LOCK_PI2 | FUTEX_PRIVATE_FLAG
FUTEX_UNLOCK_PI_PRIVATE = FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG
FUTEX_TRYLOCK_PI_PRIVATE = FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG
FUTEX_WAIT_BITSET_PRIVATE = FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG
FUTEX_WAKE_BITSET_PRIVATE = FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG
FUTEX_WAIT_REQUEUE_PI_PRIVATE = FUTEX_WAIT_REQUEUE_PI | FUTEX_PRIVATE_FLAG
FUTEX_CMP_REQUEUE_PI_PRIVATE = FUTEX_CMP_REQUEUE_PI | FUTEX_PRIVATE_FLAG
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF

FUTEX_CMD_NAMES = {
    FUTEX_WAIT: "FUTEX_WAIT", FUTEX_WAKE: "FUTEX_WAKE", FUTEX_FD: "FUTEX_FD",
    FUTEX_REQUEUE: "FUTEX_REQUEUE", FUTEX_CMP_REQUEUE: "FUTEX_CMP_REQUEUE",
    FUTEX_WAKE_OP: "FUTEX_WAKE_OP", FUTEX_LOCK_PI: "FUTEX_LOCK_PI",
    FUTEX_UNLOCK_PI: "FUTEX_UNLOCK_PI", FUTEX_TRYLOCK_PI: "FUTEX_TRYLOCK_PI",
    FUTEX_WAIT_BITSET: "FUTEX_WAIT_BITSET", FUTEX_WAKE_BITSET: "FUTEX_WAKE_BITSET",
    FUTEX_WAIT_REQUEUE_PI: "FUTEX_WAIT_REQUEUE_PI",
    FUTEX_CMP_REQUEUE_PI: "FUTEX_CMP_REQUEUE_PI", FUTEX_LOCK_PI2: "FUTEX_LOCK_PI2",
}

# Futex word bits for PI / robust futexes.
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048

# FUTEX_WAKE_OP: val3 = FUTEX_OP(op, oparg, cmp, cmparg).
FUTEX_OP_SET = 0
FUTEX_OP_ADD = 1
FUTEX_OP_OR = 2
FUTEX_OP_ANDN = 3
FUTEX_OP_XOR = 4
FUTEX_OP_OPARG_SHIFT = 8   # flag within the 4-bit op field: oparg = 1 << oparg
FUTEX_OP_CMP_EQ = 0
FUTEX_OP_CMP_NE = 1
FUTEX_OP_CMP_LT = 2
FUTEX_OP_CMP_LE = 3
FUTEX_OP_CMP_GT = 4
FUTEX_OP_CMP_GE = 5
FUTEX_OP_OP_SHIFT = 28
FUTEX_OP_CMP_SHIFT = 24
FUTEX_OP_OPARG_BITSHIFT = 12
FUTEX_OP_ARG_MASK = 0xFFF


def FUTEX_OP(op, oparg, cmp, cmparg):  # noqa: N802 - Linux's name
    """Encode a FUTEX_WAKE_OP operation word."""
    return (((op & 0xF) << 28) | ((cmp & 0xF) << 24) |
            ((oparg & 0xFFF) << 12) | (cmparg & 0xFFF))


def _sign12(v):
    return v - 0x1000 if v & 0x800 else v


def futex_op_decode(encoded):
    """Split a FUTEX_WAKE_OP word like the kernel -> (op, shift, oparg, cmp, cmparg).

    op is the 3-bit operation, shift is True when FUTEX_OP_OPARG_SHIFT was
    set (the caller then uses 1 << (oparg & 31)), oparg/cmparg are the
    sign-extended 12-bit arguments.
    """
    return ((encoded >> 28) & 7, bool((encoded >> 28) & FUTEX_OP_OPARG_SHIFT),
            _sign12((encoded >> 12) & 0xFFF), (encoded >> 24) & 0xF,
            _sign12(encoded & 0xFFF))


# struct robust_list_head (set_robust_list(2)), 24 bytes.
ROBUST_LIST_HEAD = Layout("robust_list_head", [
    ("list_next", "Q"), ("futex_offset", "q"), ("list_op_pending", "Q"),
])
ROBUST_LIST_HEAD_SIZE = ROBUST_LIST_HEAD.size

FUTEX_WAITV_MAX = 128
FUTEX_32 = 2
FUTEX_WAITV = Layout("futex_waitv", [
    ("val", "Q"), ("uaddr", "Q"), ("flags", "I"), ("_reserved", "4x"),
])

# ----------------------------------------------------------------- prctl
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_GET_UNALIGN = 5
PR_SET_UNALIGN = 6
PR_GET_KEEPCAPS = 7
PR_SET_KEEPCAPS = 8
PR_GET_FPEMU = 9
PR_SET_FPEMU = 10
PR_GET_FPEXC = 11
PR_SET_FPEXC = 12
PR_GET_TIMING = 13
PR_SET_TIMING = 14
PR_SET_NAME = 15
PR_GET_NAME = 16
PR_GET_ENDIAN = 19
PR_SET_ENDIAN = 20
PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_GET_TSC = 25
PR_SET_TSC = 26
PR_TSC_ENABLE = 1
PR_TSC_SIGSEGV = 2
PR_GET_SECUREBITS = 27
PR_SET_SECUREBITS = 28
PR_SET_TIMERSLACK = 29
PR_GET_TIMERSLACK = 30
PR_TASK_PERF_EVENTS_DISABLE = 31
PR_TASK_PERF_EVENTS_ENABLE = 32
PR_MCE_KILL = 33
PR_MCE_KILL_GET = 34
PR_SET_MM = 35
PR_SET_MM_START_CODE = 1
PR_SET_MM_END_CODE = 2
PR_SET_MM_START_DATA = 3
PR_SET_MM_END_DATA = 4
PR_SET_MM_START_STACK = 5
PR_SET_MM_START_BRK = 6
PR_SET_MM_BRK = 7
PR_SET_MM_ARG_START = 8
PR_SET_MM_ARG_END = 9
PR_SET_MM_ENV_START = 10
PR_SET_MM_ENV_END = 11
PR_SET_MM_AUXV = 12
PR_SET_MM_EXE_FILE = 13
PR_SET_MM_MAP = 14
PR_SET_MM_MAP_SIZE = 15
PR_SET_PTRACER = 0x59616D61
PR_SET_PTRACER_ANY = (1 << 64) - 1   # (unsigned long)-1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_GET_TID_ADDRESS = 40
PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42
PR_SET_FP_MODE = 45
PR_GET_FP_MODE = 46
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_IS_SET = 1
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_LOWER = 3
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_GET_SPECULATION_CTRL = 52
PR_SET_SPECULATION_CTRL = 53
PR_SET_TAGGED_ADDR_CTRL = 55
PR_GET_TAGGED_ADDR_CTRL = 56
PR_SET_IO_FLUSHER = 57
PR_GET_IO_FLUSHER = 58
PR_SET_SYSCALL_USER_DISPATCH = 59
PR_SCHED_CORE = 62
PR_SET_VMA = 0x53564D41
PR_SET_VMA_ANON_NAME = 0
TASK_COMM_LEN = 16   # PR_SET_NAME/PR_GET_NAME buffer, NUL included

# SUID_DUMP_* values for PR_SET_DUMPABLE (include/linux/sched/coredump.h).
SUID_DUMP_DISABLE = 0
SUID_DUMP_USER = 1
SUID_DUMP_ROOT = 2

# ----------------------------------------------------------------- arch_prctl
ARCH_SET_GS = 0x1001
ARCH_SET_FS = 0x1002
ARCH_GET_FS = 0x1003
ARCH_GET_GS = 0x1004
ARCH_GET_CPUID = 0x1011
ARCH_SET_CPUID = 0x1012
ARCH_GET_XCOMP_SUPP = 0x1021
ARCH_GET_XCOMP_PERM = 0x1022
ARCH_REQ_XCOMP_PERM = 0x1023
ARCH_GET_XCOMP_GUEST_PERM = 0x1024
ARCH_REQ_XCOMP_GUEST_PERM = 0x1025
ARCH_MAP_VDSO_X32 = 0x2001
ARCH_MAP_VDSO_32 = 0x2002
ARCH_MAP_VDSO_64 = 0x2003

# ----------------------------------------------------------------- utsname
NEW_UTS_LEN = 64
UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")
UTSNAME = Layout("new_utsname", [(n, f"{NEW_UTS_LEN + 1}s") for n in UTS_FIELDS])
UTSNAME_SIZE = UTSNAME.size  # 390


def _uts(value):
    return value.encode() if isinstance(value, str) else value


def pack_utsname(**fields):
    """Pack struct new_utsname; values are str or bytes (<= 64 bytes each)."""
    return UTSNAME.pack(**{k: _uts(v) for k, v in fields.items()})


# ----------------------------------------------------------------- reboot
LINUX_REBOOT_MAGIC1 = 0xFEE1DEAD
LINUX_REBOOT_MAGIC2 = 672274793
LINUX_REBOOT_MAGIC2A = 85072278
LINUX_REBOOT_MAGIC2B = 369367448
LINUX_REBOOT_MAGIC2C = 537993216
LINUX_REBOOT_CMD_RESTART = 0x01234567
LINUX_REBOOT_CMD_HALT = 0xCDEF0123
LINUX_REBOOT_CMD_CAD_ON = 0x89ABCDEF
LINUX_REBOOT_CMD_CAD_OFF = 0x00000000
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
LINUX_REBOOT_CMD_RESTART2 = 0xA1B2C3D4
LINUX_REBOOT_CMD_SW_SUSPEND = 0xD000FCE2
LINUX_REBOOT_CMD_KEXEC = 0x45584543

# ----------------------------------------------------------------- scheduling
SCHED_NORMAL = 0
SCHED_OTHER = SCHED_NORMAL
SCHED_FIFO = 1
SCHED_RR = 2
SCHED_BATCH = 3
SCHED_IDLE = 5
SCHED_DEADLINE = 6
SCHED_RESET_ON_FORK = 0x40000000
SCHED_FLAG_RESET_ON_FORK = 0x01
SCHED_FLAG_RECLAIM = 0x02
SCHED_FLAG_DL_OVERRUN = 0x04
SCHED_FLAG_KEEP_POLICY = 0x08
SCHED_FLAG_KEEP_PARAMS = 0x10
SCHED_FLAG_UTIL_CLAMP_MIN = 0x20
SCHED_FLAG_UTIL_CLAMP_MAX = 0x40
SCHED_ATTR_SIZE_VER0 = 48
SCHED_ATTR_SIZE_VER1 = 56
SCHED_ATTR = Layout("sched_attr", [
    ("size", "I"), ("sched_policy", "I"), ("sched_flags", "Q"),
    ("sched_nice", "i"), ("sched_priority", "I"),
    ("sched_runtime", "Q"), ("sched_deadline", "Q"), ("sched_period", "Q"),
    ("sched_util_min", "I"), ("sched_util_max", "I"),
])
SCHED_PARAM = Layout("sched_param", [("sched_priority", "i")])

RUSAGE_SELF = 0
RUSAGE_CHILDREN = -1
RUSAGE_BOTH = -2
RUSAGE_THREAD = 1

PRIO_MIN = -20
PRIO_MAX = 20
PRIO_PROCESS = 0
PRIO_PGRP = 1
PRIO_USER = 2
