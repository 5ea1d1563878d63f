"""Time syscalls: clocks, sleeps, interval timers, alarm, times, rusage, rlimits.

Linux counterparts: kernel/time/*.c, kernel/sys.c (getrusage, prlimit).
Sleeps never block the virtual CPU: the thread sleeps on a wait channel
with a deadline (kern_synch callouts).
"""
import os
import struct
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import time as T
from vkernel.kernel import kern_sig, kern_proc
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_synch import sched, tsleep
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import I32, NR, PTR, U32, syscall

CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID = 0, 1, 2, 3
CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME = 4, 5, 6, 7
TIMER_ABSTIME = 1
ITIMER_REAL = 0
BOOT_TIME = time.monotonic()
RLIM_INFINITY = (1 << 64) - 1
DEFAULT_RLIMITS = {3: (8 << 20, RLIM_INFINITY), 7: (1024, 4096)}   # STACK, NOFILE


def read_timespec(td, addr):
    sec, nsec = struct.unpack("<qq", copyin(td, addr, 16))
    if sec < 0 or not 0 <= nsec < 1_000_000_000:
        raise KernelError(E.EINVAL)
    return sec + nsec / 1e9


def pack_timespec(t):
    sec = int(t)
    return struct.pack("<qq", sec, int(round((t - sec) * 1e9)) % 1_000_000_000)


def _clock(clk):
    if clk in (CLOCK_REALTIME, CLOCK_REALTIME_COARSE):
        return time.time()
    if clk in (CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME):
        return time.monotonic()
    if clk in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID):
        return time.monotonic() - BOOT_TIME
    raise KernelError(E.EINVAL)


def _cpu_clock(td, clk):
    """CPU-time clocks: the CPU clock of the host process (thread) behind td."""
    try:
        if clk == CLOCK_THREAD_CPUTIME_ID:
            return time.clock_gettime(T.make_thread_cpuclock(td.host.tid, T.CPUCLOCK_SCHED))
        tgid = td.lwp_proc.p_vmspace.space.tgid
        return time.clock_gettime(T.make_process_cpuclock(tgid, T.CPUCLOCK_SCHED))
    except (OSError, AttributeError):
        return _clock(clk)


@syscall(NR.clock_gettime, I32, PTR)
def sys_clock_gettime(td, clk, tp):
    """Implements Linux clock_gettime(2)."""
    cpu = clk in (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID)
    copyout(td, tp, pack_timespec(_cpu_clock(td, clk) if cpu else _clock(clk)))
    return 0


@syscall(NR.clock_getres, I32, PTR)
def sys_clock_getres(td, clk, tp):
    """Implements Linux clock_getres(2)."""
    _clock(clk)
    if tp:
        copyout(td, tp, struct.pack("<qq", 0, 1))
    return 0


@syscall(NR.gettimeofday, PTR, PTR)
def sys_gettimeofday(td, tv, tz):
    """Implements Linux gettimeofday(2)."""
    if tv:
        t = time.time()
        copyout(td, tv, struct.pack("<qq", int(t), int((t % 1) * 1e6)))
    if tz:
        copyout(td, tz, bytes(8))
    return 0


@syscall(NR.time, PTR)
def sys_time(td, tloc):
    """Implements Linux time(2)."""
    t = int(time.time())
    if tloc:
        copyout(td, tloc, struct.pack("<q", t))
    return t


def _sleep_until(td, deadline, rem, absolute=False):
    """hrtimer_nanosleep: sleep until `deadline` (monotonic).  A relative
    sleep interrupted by a signal is -ERESTART_RESTARTBLOCK: after a stop
    it goes on to the same deadline (restart_syscall(2)), after a handler
    it fails with EINTR and the time left goes to `rem`; an absolute one
    (TIMER_ABSTIME) is -ERESTARTNOHAND and simply runs again."""
    now = time.monotonic()
    if now >= deadline:
        return 0
    if absolute:
        td.sstate["eintr"] = -E.ERESTARTNOHAND
    else:
        td.sstate["eintr"] = -E.ERESTART_RESTARTBLOCK
        td.td_restart_block = kern_sig.RestartBlock(
            lambda t: _sleep_until(t, deadline, rem),
            lambda t: _copyout_rem(t, rem, deadline))
    tsleep(td, ("nanosleep", td), "nanslp", deadline)


def _copyout_rem(td, rem, deadline):
    if rem:
        copyout(td, rem, pack_timespec(max(0.0, deadline - time.monotonic())))


@syscall(NR.nanosleep, PTR, PTR)
def sys_nanosleep(td, req, rem):
    """Implements Linux nanosleep(2)."""
    if "deadline" not in td.sstate:
        td.sstate["deadline"] = time.monotonic() + read_timespec(td, req)
    return _sleep_until(td, td.sstate["deadline"], rem)


@syscall(NR.clock_nanosleep, I32, I32, PTR, PTR)
def sys_clock_nanosleep(td, clk, flags, req, rem):
    """Implements Linux clock_nanosleep(2)."""
    if "deadline" not in td.sstate:
        t = read_timespec(td, req)
        now = _clock(clk)
        delta = t - now if flags & TIMER_ABSTIME else t
        td.sstate["deadline"] = time.monotonic() + max(0.0, delta)
    return _sleep_until(td, td.sstate["deadline"], rem, absolute=bool(flags & TIMER_ABSTIME))


# -- interval timers ------------------------------------------------------------------
def _arm_real(p, value, interval):
    gen = (p.p_itimer_real[2] + 1) if p.p_itimer_real else 1
    if value <= 0:
        p.p_itimer_real = (None, 0.0, gen)
        return
    deadline = time.monotonic() + value
    p.p_itimer_real = (deadline, interval, gen)
    sched.callout(deadline, lambda: _fire_real(p, gen))


def _fire_real(p, gen):
    cur = p.p_itimer_real
    if cur is None or cur[2] != gen or p.p_stat == "SZOMB":
        return
    kern_sig.psignal(p, S.SIGALRM, S.siginfo_kill(S.SIGALRM, S.SI_KERNEL))
    if cur[1] > 0:
        _arm_real(p, cur[1], cur[1])
    else:
        p.p_itimer_real = (None, 0.0, gen)


def _itimer_left(p):
    cur = p.p_itimer_real
    if not cur or cur[0] is None:
        return 0.0, 0.0
    return max(0.000001, cur[0] - time.monotonic()), cur[1]


def _pack_itimerval(value, interval):
    tv = lambda t: struct.pack("<qq", int(t), int(round((t % 1) * 1e6)))
    return tv(interval) + tv(value)


@syscall(NR.setitimer, I32, PTR, PTR)
def sys_setitimer(td, which, new, old):
    """Implements Linux setitimer(2) (ITIMER_REAL; VIRTUAL/PROF are not kept)."""
    if which not in (0, 1, 2):
        raise KernelError(E.EINVAL)
    p = td.lwp_proc
    if old:
        copyout(td, old, _pack_itimerval(*_itimer_left(p)) if which == ITIMER_REAL
                else bytes(32))
    if new and which == ITIMER_REAL:
        isec, iusec, vsec, vusec = struct.unpack("<qqqq", copyin(td, new, 32))
        _arm_real(p, vsec + vusec / 1e6, isec + iusec / 1e6)
    return 0


@syscall(NR.getitimer, I32, PTR)
def sys_getitimer(td, which, cur):
    """Implements Linux getitimer(2)."""
    if which not in (0, 1, 2):
        raise KernelError(E.EINVAL)
    left = _itimer_left(td.lwp_proc) if which == ITIMER_REAL else (0.0, 0.0)
    copyout(td, cur, _pack_itimerval(*left))
    return 0


@syscall(NR.alarm, U32)
def sys_alarm(td, seconds):
    """Implements Linux alarm(2)."""
    p = td.lwp_proc
    left, _ = _itimer_left(p)
    _arm_real(p, float(seconds), 0.0)
    return int(left + 0.5) if left else 0


# -- accounting and limits --------------------------------------------------------------
def _cpu_times(p):
    """(user, system) seconds of the host process behind p."""
    vm = p.p_vmspace
    try:
        f = open(f"/proc/{vm.space.tgid}/stat").read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(f[11]) / tick, int(f[12]) / tick
    except (OSError, IndexError, AttributeError, ValueError):
        return 0.0, 0.0


def _maxrss_kb(p):
    """ru_maxrss: the peak resident size (kB) of the host process behind p."""
    try:
        for line in open(f"/proc/{p.p_vmspace.space.tgid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, AttributeError, ValueError, IndexError):
        pass
    return 0


@syscall(NR.times, PTR)
def sys_times(td, buf):
    """Implements Linux times(2)."""
    p = td.lwp_proc
    u, s = _cpu_times(p)
    if buf:
        copyout(td, buf, struct.pack("<qqqq", int(u * 100), int(s * 100),
                                     int(p.p_cru_utime * 100), int(p.p_cru_stime * 100)))
    return int((time.monotonic() - BOOT_TIME) * 100) + 1


@syscall(NR.getrusage, I32, PTR)
def sys_getrusage(td, who, ru):
    """Implements Linux getrusage(2) (user and system time)."""
    p = td.lwp_proc
    if who in (0, 1):        # RUSAGE_SELF, RUSAGE_THREAD
        u, s = _cpu_times(p)
    elif who == -1:          # RUSAGE_CHILDREN
        u, s = p.p_cru_utime, p.p_cru_stime
    else:
        raise KernelError(E.EINVAL)
    tv = lambda t: struct.pack("<qq", int(t), int((t % 1) * 1e6))
    maxrss = _maxrss_kb(p) if who in (0, 1) else 0
    copyout(td, ru, tv(u) + tv(s) + struct.pack("<q", maxrss) + bytes(144 - 40))
    return 0


def _getrlimit(p, res):
    if not 0 <= res < 16:
        raise KernelError(E.EINVAL)
    return p.p_rlimits.get(res, DEFAULT_RLIMITS.get(res, (RLIM_INFINITY, RLIM_INFINITY)))


def _setrlimit(td, p, res, cur, mx):
    old = _getrlimit(p, res)
    if cur > mx or (mx > old[1] and td.lwp_proc.p_ucred.uid != 0):
        raise KernelError(E.EINVAL if cur > mx else E.EPERM)
    p.p_rlimits[res] = (cur, mx)
    if res == 7:
        p.p_fd.limit = min(cur, 1 << 20)


@syscall(NR.getrlimit, I32, PTR)
def sys_getrlimit(td, res, rlim):
    """Implements Linux getrlimit(2)."""
    copyout(td, rlim, struct.pack("<QQ", *_getrlimit(td.lwp_proc, res)))
    return 0


@syscall(NR.setrlimit, I32, PTR)
def sys_setrlimit(td, res, rlim):
    """Implements Linux setrlimit(2)."""
    _getrlimit(td.lwp_proc, res)
    _setrlimit(td, td.lwp_proc, res, *struct.unpack("<QQ", copyin(td, rlim, 16)))
    return 0


@syscall(NR.prlimit64, I32, I32, PTR, PTR)
def sys_prlimit64(td, pid, res, new, old):
    """Implements Linux prlimit64(2)."""
    p = td.lwp_proc if pid == 0 else kern_proc.pfind(pid)
    if p is None:
        raise KernelError(E.ESRCH)
    cur = _getrlimit(p, res)
    if new:
        _setrlimit(td, p, res, *struct.unpack("<QQ", copyin(td, new, 16)))
    if old:
        copyout(td, old, struct.pack("<QQ", *cur))
    return 0
