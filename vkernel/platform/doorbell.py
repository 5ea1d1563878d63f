"""The doorbell: how a virtual CPU asleep in waitpid(2) is woken (ptrace platform).

A virtual CPU blocks in waitpid(2) on its own tracees.  Another CPU that
makes one of its guests runnable, the console watcher, a host signal and a
callout deadline must all be able to end that wait.  DragonFly's vkernel
interrupts a CPU with SIGUSR1 (its IPI); a signal sent just before the CPU
enters waitpid is lost, though.  So each virtual CPU traces one extra host
process of its own, its doorbell: the stub's `syscall; int3` run as
poll(2) on a pipe and a timerfd.  A byte written to the pipe (`ring`) or
the timer firing (`set_deadline`) ends the poll, the int3 stops the
doorbell, and the CPU's waitpid returns.  The host kernel queues that stop,
so a wakeup is never lost, whenever it comes.  Host signals ring the
doorbell of the CPU on the main thread through signal.set_wakeup_fd.

The doorbell is not a guest: it runs no guest code, holds only its two
descriptors, and dies with its CPU thread (PTRACE_O_EXITKILL, and the
parent-death signal of a process forked by that thread).
"""
import ctypes
import fcntl
import os
import signal
import struct
import time

from . import PlatformError

libc = ctypes.CDLL(None, use_errno=True)

CLOCK_MONOTONIC = 1
TFD_CLOEXEC, TFD_NONBLOCK, TFD_TIMER_ABSTIME = 0o2000000, 0o4000, 1
POLLIN = 1
HOST_POLL = 7
BELL_FD, TIMER_FD, STUB_FD = 3, 4, 5


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _timerfd():
    fd = libc.timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)
    if fd < 0:
        e = ctypes.get_errno()
        raise PlatformError(e, f"timerfd_create: {os.strerror(e)}")
    return fd


class Doorbell:
    """One CPU's doorbell process; see the module docstring.

    `ring()` may be called from any host thread; everything else runs on
    the CPU's own thread (the doorbell's tracer).
    """

    def __init__(self, stub_fd, ptrace, regs_type, stub_syscall):
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.timer = _timerfd()
        self.rung = False
        self.deadline = None          # what the timer is armed for (monotonic s)
        self._ptrace = ptrace
        self.tid = self._spawn(stub_fd)
        self._arm_regs = self._prepare(regs_type, stub_syscall)
        self.arm()

    # -- the process ---------------------------------------------------------------
    def _spawn(self, stub_fd):
        parent = os.getpid()
        hi = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100) for fd in (self.r, self.timer, stub_fd)]
        pid = os.fork()
        if pid == 0:                                      # pragma: no cover (child)
            try:
                libc.prctl(1, signal.SIGKILL, 0, 0, 0)    # PR_SET_PDEATHSIG
                if os.getppid() != parent:
                    os._exit(1)
                os.setsid()                               # no terminal signals
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                for new, old in zip((BELL_FD, TIMER_FD, STUB_FD), hi):
                    os.dup2(old, new)
                os.closerange(STUB_FD + 1, 1 << 16)
                os.closerange(0, BELL_FD)
                libc.ptrace(0, 0, None, None)             # PTRACE_TRACEME
                os.execve(STUB_FD, ["vkernel-doorbell"], {})
            finally:
                os._exit(127)
        for fd in hi:
            os.close(fd)
        _, status = os.waitpid(pid, 0x40000000 | 0x20000000)     # __WALL | __WNOTHREAD
        if not os.WIFSTOPPED(status):
            raise PlatformError(0, f"doorbell did not start ({status:#x})")
        self._ptrace(0x4200, pid, 0, 1 << 20)            # SETOPTIONS: EXITKILL
        return pid

    def _prepare(self, regs_type, stub_syscall):
        """The registers of `poll(fds, 2, -1)` on the stub's syscall, with the
        pollfd array written just below the doorbell's stack pointer."""
        regs = regs_type()
        self._ptrace(12, self.tid, 0, ctypes.addressof(regs))      # GETREGS
        fds = (regs.rsp - 512) & ~0xF
        with open(f"/proc/{self.tid}/mem", "r+b", buffering=0) as mem:
            mem.seek(fds)
            mem.write(struct.pack("<ihhihh", BELL_FD, POLLIN, 0, TIMER_FD, POLLIN, 0))
        regs.rip, regs.rax, regs.orig_rax = stub_syscall, HOST_POLL, 2**64 - 1
        regs.rdi, regs.rsi, regs.rdx = fds, 2, 2**64 - 1
        return regs

    def arm(self):
        """Send the doorbell back into its poll."""
        self._ptrace(13, self.tid, 0, ctypes.addressof(self._arm_regs))   # SETREGS
        self._ptrace(7, self.tid, 0, 0)                                   # CONT

    def answer(self, status):
        """The doorbell stopped: take the rings and the timer, and re-arm it.

        The flag is cleared before the pipe is drained and before the CPU
        looks at its queues, so a ring that comes meanwhile is seen there."""
        if not os.WIFSTOPPED(status):
            raise PlatformError(0, f"the doorbell died ({status:#x})")
        self.rung = False
        _drain(self.r)
        _drain(self.timer)
        if self.deadline is not None and self._expired():
            self.deadline = None
        self.arm()

    # -- waking -------------------------------------------------------------------
    def ring(self):
        """Wake the CPU (any thread may call this)."""
        if not self.rung:
            self.rung = True
            try:
                os.write(self.w, b"\0")
            except BlockingIOError:
                pass

    def set_deadline(self, deadline):
        """Ring by itself at monotonic time `deadline` (None: no timer)."""
        if deadline == self.deadline:
            return
        self.deadline = deadline
        its = _Itimerspec()
        if deadline is not None:
            sec = int(deadline)
            its.it_value.tv_sec = sec
            its.it_value.tv_nsec = max(1, int((deadline - sec) * 1e9))
        libc.timerfd_settime(self.timer, TFD_TIMER_ABSTIME, ctypes.byref(its), None)

    def _expired(self):
        return time.monotonic() >= self.deadline

    def close(self):
        for fd in (self.r, self.w, self.timer):
            try:
                os.close(fd)
            except OSError:
                pass


def _drain(fd):
    try:
        while os.read(fd, 512):
            pass
    except OSError:
        pass
