"""Clocks, timers, time structs, struct tms/sysinfo/rusage and resource limits.

Linux counterparts: include/uapi/linux/time.h (CLOCK_*, TIMER_ABSTIME,
ITIMER_*, struct timespec/timeval/itimerspec/itimerval/timezone),
include/uapi/linux/time_types.h, include/uapi/linux/timerfd.h (TFD_*),
include/uapi/linux/times.h (struct tms), include/uapi/linux/sysinfo.h
(struct sysinfo, 112 bytes on x86-64), include/uapi/linux/resource.h
(struct rusage 144 bytes, struct rlimit), include/uapi/asm-generic/resource.h
(RLIMIT_*, RLIM_INFINITY), include/asm-generic/resource.h (INIT_RLIMITS) and
include/linux/posix-timers.h (CPU clock id encoding).  Data only.
"""
from ._layout import Layout
from .ioctl import _IOW

NSEC_PER_SEC = 1_000_000_000
USEC_PER_SEC = 1_000_000
NSEC_PER_USEC = 1_000
USER_HZ = 100            # AT_CLKTCK / sysconf(_SC_CLK_TCK); clock_t unit

CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_PROCESS_CPUTIME_ID = 2
CLOCK_THREAD_CPUTIME_ID = 3
CLOCK_MONOTONIC_RAW = 4
CLOCK_REALTIME_COARSE = 5
CLOCK_MONOTONIC_COARSE = 6
CLOCK_BOOTTIME = 7
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
CLOCK_SGI_CYCLE = 10
CLOCK_TAI = 11
MAX_CLOCKS = 16

CLOCK_NAMES = {
    CLOCK_REALTIME: "CLOCK_REALTIME", CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
    CLOCK_PROCESS_CPUTIME_ID: "CLOCK_PROCESS_CPUTIME_ID",
    CLOCK_THREAD_CPUTIME_ID: "CLOCK_THREAD_CPUTIME_ID",
    CLOCK_MONOTONIC_RAW: "CLOCK_MONOTONIC_RAW",
    CLOCK_REALTIME_COARSE: "CLOCK_REALTIME_COARSE",
    CLOCK_MONOTONIC_COARSE: "CLOCK_MONOTONIC_COARSE",
    CLOCK_BOOTTIME: "CLOCK_BOOTTIME", CLOCK_REALTIME_ALARM: "CLOCK_REALTIME_ALARM",
    CLOCK_BOOTTIME_ALARM: "CLOCK_BOOTTIME_ALARM", CLOCK_TAI: "CLOCK_TAI",
}

TIMER_ABSTIME = 0x01

# Negative clock ids name a process/thread CPU clock (clock_getcpuclockid).
CPUCLOCK_PROF = 0
CPUCLOCK_VIRT = 1
CPUCLOCK_SCHED = 2
CPUCLOCK_MAX = 3
CLOCKFD = CPUCLOCK_MAX
CPUCLOCK_CLOCK_MASK = 3
CPUCLOCK_PERTHREAD_MASK = 4


def make_process_cpuclock(pid, clock):
    """MAKE_PROCESS_CPUCLOCK(pid, clock) as a (negative) clockid_t."""
    return (~pid << 3) | clock


def make_thread_cpuclock(tid, clock):
    """MAKE_THREAD_CPUCLOCK(tid, clock)."""
    return make_process_cpuclock(tid, clock | CPUCLOCK_PERTHREAD_MASK)


def cpuclock_pid(clockid):
    """CPUCLOCK_PID(): the pid/tid a negative clock id refers to (0 = self)."""
    return ~(clockid >> 3)


ITIMER_REAL = 0
ITIMER_VIRTUAL = 1
ITIMER_PROF = 2

# timerfd_create / timerfd_settime.
TFD_TIMER_ABSTIME = 1 << 0
TFD_TIMER_CANCEL_ON_SET = 1 << 1
TFD_CLOEXEC = 0o2000000
TFD_NONBLOCK = 0o4000
TFD_IOC_SET_TICKS = _IOW("T", 0, 8)

# ----------------------------------------------------------------- layouts

TIMESPEC = Layout("timespec", [("tv_sec", "q"), ("tv_nsec", "q")])
TIMEVAL = Layout("timeval", [("tv_sec", "q"), ("tv_usec", "q")])
ITIMERSPEC = Layout("itimerspec", [
    ("it_interval_sec", "q"), ("it_interval_nsec", "q"),
    ("it_value_sec", "q"), ("it_value_nsec", "q"),
])
ITIMERVAL = Layout("itimerval", [
    ("it_interval_sec", "q"), ("it_interval_usec", "q"),
    ("it_value_sec", "q"), ("it_value_usec", "q"),
])
TIMEZONE = Layout("timezone", [("tz_minuteswest", "i"), ("tz_dsttime", "i")])


def pack_timespec(sec, nsec=0):
    return TIMESPEC.struct.pack(sec, nsec)


def unpack_timespec(buf, offset=0):
    """-> (tv_sec, tv_nsec)."""
    return TIMESPEC.struct.unpack_from(buf, offset)


def pack_timeval(sec, usec=0):
    return TIMEVAL.struct.pack(sec, usec)


def unpack_timeval(buf, offset=0):
    """-> (tv_sec, tv_usec)."""
    return TIMEVAL.struct.unpack_from(buf, offset)


def pack_itimerspec(interval=(0, 0), value=(0, 0)):
    """interval and value are (sec, nsec) pairs."""
    return ITIMERSPEC.struct.pack(*interval, *value)


def unpack_itimerspec(buf, offset=0):
    """-> ((interval_sec, interval_nsec), (value_sec, value_nsec))."""
    s = ITIMERSPEC.struct.unpack_from(buf, offset)
    return (s[0], s[1]), (s[2], s[3])


def pack_itimerval(interval=(0, 0), value=(0, 0)):
    """interval and value are (sec, usec) pairs."""
    return ITIMERVAL.struct.pack(*interval, *value)


def unpack_itimerval(buf, offset=0):
    """-> ((interval_sec, interval_usec), (value_sec, value_usec))."""
    s = ITIMERVAL.struct.unpack_from(buf, offset)
    return (s[0], s[1]), (s[2], s[3])


def pack_timezone(minuteswest=0, dsttime=0):
    return TIMEZONE.struct.pack(minuteswest, dsttime)


def ns_to_timespec(ns):
    """Nanoseconds -> (sec, nsec) with 0 <= nsec < 1e9."""
    return divmod(ns, NSEC_PER_SEC)


def timespec_to_ns(sec, nsec):
    return sec * NSEC_PER_SEC + nsec


def timespec_valid(sec, nsec):
    """timespec64_valid(): sec >= 0 and 0 <= nsec < 1e9."""
    return sec >= 0 and 0 <= nsec < NSEC_PER_SEC


# struct tms (times(2)): four clock_t in USER_HZ ticks.
TMS = Layout("tms", [
    ("tms_utime", "q"), ("tms_stime", "q"), ("tms_cutime", "q"), ("tms_cstime", "q"),
])


def pack_tms(utime=0, stime=0, cutime=0, cstime=0):
    return TMS.struct.pack(utime, stime, cutime, cstime)


# struct sysinfo (sysinfo(2)), 112 bytes.  loads are fixed point << SI_LOAD_SHIFT.
SI_LOAD_SHIFT = 16
SYSINFO = Layout("sysinfo", [
    ("uptime", "q"), ("loads0", "Q"), ("loads1", "Q"), ("loads2", "Q"),
    ("totalram", "Q"), ("freeram", "Q"), ("sharedram", "Q"), ("bufferram", "Q"),
    ("totalswap", "Q"), ("freeswap", "Q"), ("procs", "H"), ("pad", "H"),
    ("_pad1", "4x"), ("totalhigh", "Q"), ("freehigh", "Q"), ("mem_unit", "I"),
    ("_f", "4x"),
])


def pack_sysinfo(**fields):
    """Pack struct sysinfo from keyword fields (uptime=..., loads0=..., mem_unit=...)."""
    return SYSINFO.pack(**fields)


# struct rusage (getrusage(2), wait4(2)), 144 bytes.
RUSAGE_FIELDS = (
    "ru_maxrss", "ru_ixrss", "ru_idrss", "ru_isrss", "ru_minflt", "ru_majflt",
    "ru_nswap", "ru_inblock", "ru_oublock", "ru_msgsnd", "ru_msgrcv",
    "ru_nsignals", "ru_nvcsw", "ru_nivcsw",
)
RUSAGE = Layout("rusage", [
    ("ru_utime_sec", "q"), ("ru_utime_usec", "q"),
    ("ru_stime_sec", "q"), ("ru_stime_usec", "q"),
] + [(n, "q") for n in RUSAGE_FIELDS])


def pack_rusage(**fields):
    """Pack struct rusage (ru_utime_sec=, ru_utime_usec=, ..., ru_maxrss=, ...)."""
    return RUSAGE.pack(**fields)


# ----------------------------------------------------------------- rlimits

RLIMIT_CPU = 0
RLIMIT_FSIZE = 1
RLIMIT_DATA = 2
RLIMIT_STACK = 3
RLIMIT_CORE = 4
RLIMIT_RSS = 5
RLIMIT_NPROC = 6
RLIMIT_NOFILE = 7
RLIMIT_MEMLOCK = 8
RLIMIT_AS = 9
RLIMIT_LOCKS = 10
RLIMIT_SIGPENDING = 11
RLIMIT_MSGQUEUE = 12
RLIMIT_NICE = 13
RLIMIT_RTPRIO = 14
RLIMIT_RTTIME = 15
RLIM_NLIMITS = 16
RLIM_INFINITY = (1 << 64) - 1
RLIM64_INFINITY = RLIM_INFINITY

RLIMIT_NAMES = {
    RLIMIT_CPU: "RLIMIT_CPU", RLIMIT_FSIZE: "RLIMIT_FSIZE",
    RLIMIT_DATA: "RLIMIT_DATA", RLIMIT_STACK: "RLIMIT_STACK",
    RLIMIT_CORE: "RLIMIT_CORE", RLIMIT_RSS: "RLIMIT_RSS",
    RLIMIT_NPROC: "RLIMIT_NPROC", RLIMIT_NOFILE: "RLIMIT_NOFILE",
    RLIMIT_MEMLOCK: "RLIMIT_MEMLOCK", RLIMIT_AS: "RLIMIT_AS",
    RLIMIT_LOCKS: "RLIMIT_LOCKS", RLIMIT_SIGPENDING: "RLIMIT_SIGPENDING",
    RLIMIT_MSGQUEUE: "RLIMIT_MSGQUEUE", RLIMIT_NICE: "RLIMIT_NICE",
    RLIMIT_RTPRIO: "RLIMIT_RTPRIO", RLIMIT_RTTIME: "RLIMIT_RTTIME",
}

_STK_LIM = 8 * 1024 * 1024
MLOCK_LIMIT = 8 * 1024 * 1024
INR_OPEN_CUR = 1024
INR_OPEN_MAX = 4096
MQ_BYTES_MAX = 819200

# Boot-time limits (INIT_RLIMITS) as (cur, max).  NPROC and SIGPENDING are
# {0, 0} here and replaced by fork_init() with max_threads / 2 (memory-derived).
INIT_RLIMITS = {
    RLIMIT_CPU: (RLIM_INFINITY, RLIM_INFINITY),
    RLIMIT_FSIZE: (RLIM_INFINITY, RLIM_INFINITY),
    RLIMIT_DATA: (RLIM_INFINITY, RLIM_INFINITY),
    RLIMIT_STACK: (_STK_LIM, RLIM_INFINITY),
    RLIMIT_CORE: (0, RLIM_INFINITY),
    RLIMIT_RSS: (RLIM_INFINITY, RLIM_INFINITY),
    RLIMIT_NPROC: (0, 0),
    RLIMIT_NOFILE: (INR_OPEN_CUR, INR_OPEN_MAX),
    RLIMIT_MEMLOCK: (MLOCK_LIMIT, MLOCK_LIMIT),
    RLIMIT_AS: (RLIM_INFINITY, RLIM_INFINITY),
    RLIMIT_LOCKS: (RLIM_INFINITY, RLIM_INFINITY),
    RLIMIT_SIGPENDING: (0, 0),
    RLIMIT_MSGQUEUE: (MQ_BYTES_MAX, MQ_BYTES_MAX),
    RLIMIT_NICE: (0, 0),
    RLIMIT_RTPRIO: (0, 0),
    RLIMIT_RTTIME: (RLIM_INFINITY, RLIM_INFINITY),
}

RLIMIT = Layout("rlimit", [("rlim_cur", "Q"), ("rlim_max", "Q")])


def pack_rlimit(cur, max):
    return RLIMIT.struct.pack(cur, max)


def unpack_rlimit(buf, offset=0):
    """-> (rlim_cur, rlim_max)."""
    return RLIMIT.struct.unpack_from(buf, offset)
