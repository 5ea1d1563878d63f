"""One virtual CPU's half of the ptrace platform: its tracees and its wait.

Counterpart of DragonFly's per-CPU globaldata (mycpu) for the platform:
each virtual CPU is one host thread that traces its own guest threads,
pinned with them to one host CPU (a ptrace stop costs several times less
when tracer and tracee share a CPU).  The CPU blocks in waitpid(2) for its
own tracees only (__WNOTHREAD) and is woken by its doorbell (doorbell.py)
when another CPU, the console or a deadline needs it.

A Tracer is made by PtracePlatform and started on the host thread that
will run it (`start`); from then on only that thread calls its methods,
except `kick` and `call`, which any thread may use.
"""
import collections
import errno
import os
import signal
import threading
import time

from . import EXITED, SIGNAL, SYSCALL, PlatformError, Trap
from .doorbell import Doorbell
from .fdwatch import FdWatcher
from .ptrace import (OPTIONS, PTRACE_CONT, PTRACE_EVENT_EXEC, PTRACE_EVENT_STOP,
                     PTRACE_INTERRUPT, PTRACE_O_TRACEEXEC, PTRACE_SEIZE, PTRACE_SETOPTIONS,
                     PTRACE_SYSEMU, STUB_BASE, STUB_SYSCALL, HOST_MUNMAP, WALL, Regs,
                     Space, Thread, TracerBase, _host_state, _local, pin, ptrace)


class Tracer(TracerBase):
    """A virtual CPU's tracees, its deferred resume and its doorbell."""

    def __init__(self, platform, cpuid, host_cpu=None):
        self.platform = platform
        self.cpuid = cpuid
        self.host_cpu = host_cpu          # host CPU this CPU and its guests run on
        self.threads = {}                 # host tid -> Thread traced here
        self.regsmap = {}                 # tid -> Regs, filled by the fused wait
        self.pending = None               # (Thread, Regs): a deferred resume_with
        self._early = {}                  # tid -> status seen before the tid was known
        self._step = platform._step
        self._kick = platform._kick       # C: mark this CPU kicked; True if it polls
        self.calls = collections.deque()  # platform work other CPUs hand us
        self.bell = None
        self.watcher = None

    def start(self):
        """Become this virtual CPU: run on the calling host thread from now on."""
        _local.tracer = self
        if self.host_cpu is not None:
            os.sched_setaffinity(0, {self.host_cpu})
        self.bell = Doorbell(self.platform.stub_fd, ptrace, Regs, STUB_SYSCALL)
        if threading.current_thread() is threading.main_thread():
            signal.set_wakeup_fd(self.bell.w, warn_on_full_buffer=False)
        self.watcher = FdWatcher(self.kick)

    def kick(self):
        """Wake this CPU if it waits (any host thread): a CPU polling while
        idle sees the kick at once, one blocked in waitpid needs its doorbell."""
        if self._kick is not None and self._kick(self.cpuid):
            return
        if self.bell is not None:
            self.bell.ring()

    def call(self, fn):
        """Run fn() on this CPU's thread before it next waits (any host thread)."""
        self.calls.append(fn)
        self.kick()

    def own(self, th):
        th.tracer = self
        self.threads[th.tid] = th
        self.regsmap[th.tid] = th._regs

    def disown(self, th):
        """th was detached (it is moving to another CPU)."""
        self.threads.pop(th.tid, None)
        self.regsmap.pop(th.tid, None)
        th.tracer = None
        th._fresh = False

    # -- new address spaces and adopted threads --------------------------------------
    def new_space(self):
        """A new host process that holds nothing but the stub; returns its Thread."""
        pid = self.platform.forker.fork()
        ptrace(PTRACE_SEIZE, pid, 0, OPTIONS | PTRACE_O_TRACEEXEC)
        execed = False
        while True:       # its SIGSTOP, its exec of the stub, then the stub's int3
            status = self._waittid(pid)
            if not os.WIFSTOPPED(status):
                raise PlatformError(errno.ECHILD, f"stub did not start ({status:#x})")
            execed = execed or status >> 16 == PTRACE_EVENT_EXEC
            if execed and status >> 16 == 0 and os.WSTOPSIG(status) == signal.SIGTRAP:
                break
            ptrace(PTRACE_CONT, pid, 0, 0)
        ptrace(PTRACE_SETOPTIONS, pid, 0, OPTIONS)
        pin(pid, self.host_cpu)
        th = Thread(Space(self.platform, pid), pid, self)
        self._empty_space(th)
        return th

    def _empty_space(self, th):
        """Unmap everything the host exec left (stack, ...) except the stub and vdso."""
        keep = ("[vdso]", "[vvar]", "[vsyscall]", "[vvar_vclock]")
        for line in open(f"/proc/{th.tid}/maps"):
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if lo == STUB_BASE or name in keep:
                continue
            th.inject(HOST_MUNMAP, lo, hi - lo)

    def adopt(self, th):
        """Seize a thread another CPU detached (Thread.detach) and stop it.

        Returns False if it died on the way (its process was killed)."""
        try:
            ptrace(PTRACE_SEIZE, th.tid, 0, OPTIONS)
            ptrace(PTRACE_INTERRUPT, th.tid)
        except PlatformError:
            _reap_untraced(th.tid)       # killed while parked: an untraced zombie
            th.space.threads.pop(th.tid, None)
            return False
        while True:
            status = self._waittid(th.tid)
            if status == 0 or not os.WIFSTOPPED(status):
                th.space.threads.pop(th.tid, None)
                return False
            if status >> 16 == PTRACE_EVENT_STOP:
                break
            ptrace(PTRACE_CONT, th.tid, 0, 0)   # a signal it got while parked: drop it
        self.own(th)
        if th.exit_pending:
            th._exit(False)
            return False
        return True

    # -- waiting ----------------------------------------------------------------------
    def wait(self, deadline, fds=(), spin_ns=0):
        """Collect traps of this CPU's guests.

        Blocks until a trap, a ready fd, a kick, or monotonic time
        `deadline` (None: no deadline; 0: do not block).  The CPU blocks in
        one raw waitpid(2), fused with the deferred resume (fastptrace);
        with `spin_ns` it first polls that long (only when no guest of this
        host CPU runs, which the caller knows).  Returns (traps, ready fds).
        """
        while self.calls:
            self._run_call(self.calls.popleft())
        ready = self.watcher.take(fds)
        if ready or deadline == 0 or (deadline is not None and deadline <= time.monotonic()):
            self.flush_pending()
            return self._collect(), ready
        if deadline != self.bell.deadline:
            self.bell.set_deadline(deadline)
        th, regs = self.pending or (None, None)
        self.pending = None
        tid, status = self._step(th.tid if th else 0, regs, self.regsmap, self.cpuid, spin_ns)
        if tid == -2:                    # the resume failed: the thread died under us
            return self._collect(), []
        if tid <= 0:                     # a kick while polling (-3), or EINTR: a host
            return [], self.watcher.take(fds)      # signal (its handler runs next)
        trap = self._decode(tid, status, fresh=True)
        return ([trap] if trap is not None else []), []

    @staticmethod
    def _run_call(fn):
        try:
            fn()
        except PlatformError:
            pass                         # the thread it was for is already gone

    def _collect(self):
        traps = []
        while True:
            try:
                tid, status = os.waitpid(-1, os.WNOHANG | WALL)
            except ChildProcessError:
                break
            if tid == 0:
                break
            trap = self._decode(tid, status)
            if trap is not None:
                traps.append(trap)
        return traps

    def _decode(self, tid, status, fresh=False):
        th = self.threads.get(tid)
        if status & 0xFFFF == 0x857F and th is not None:    # syscall stop: the hot path
            th._fresh = fresh
            return Trap(th, SYSCALL)
        if th is None:
            if self.bell is not None and tid == self.bell.tid:
                self.bell.answer(status)
            elif os.WIFSTOPPED(status):
                self._early[tid] = status      # a new tracee not yet claimed
            return None
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            self._forget(tid)
            return Trap(th, EXITED, status=status)
        sig = os.WSTOPSIG(status)
        if sig == (signal.SIGTRAP | 0x80):
            th._fresh = fresh
            return Trap(th, SYSCALL)
        if status >> 16:
            ptrace(PTRACE_SYSEMU, tid)        # stray ptrace event: keep going
            return None
        si = th.siginfo()
        return Trap(th, SIGNAL, signo=sig, code=si.si_code, addr=si.si_addr)

    # -- waiting for one thread ---------------------------------------------------------
    def _waittid(self, tid):
        """Wait for one tracee (os.waitpid retries EINTR); 0 if it is gone."""
        try:
            return os.waitpid(tid, WALL)[1]
        except ChildProcessError:
            return 0

    def wait_stub_trap(self, th):
        """Wait for the int3 after an injected syscall, absorbing clone events."""
        while True:
            status = self._waittid(th.tid)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status) or status == 0:
                self._forget(th.tid)
                raise PlatformError(errno.ESRCH, f"thread {th.tid} died in injection")
            sig = os.WSTOPSIG(status)
            if sig == signal.SIGTRAP and status >> 16 == 0:
                return
            ptrace(PTRACE_CONT, th.tid)   # clone event or stray signal: swallow

    def wait_signal_stop(self, th):
        """Wait until a running thread stops (any stop will do: it is leaving)."""
        status = self._waittid(th.tid)
        if status == 0 or not os.WIFSTOPPED(status):
            self._forget(th.tid)
            raise PlatformError(errno.ESRCH, f"thread {th.tid} is gone")

    def wait_new(self, tid):
        """Wait for a freshly cloned tracee's initial stop."""
        status = self._early.pop(tid, None)
        if status is None:
            status = self._waittid(tid)
        if not os.WIFSTOPPED(status):
            raise PlatformError(errno.ESRCH, f"new thread {tid} did not stop")

    def reap(self, tid):
        """Wait until a host thread is gone (after SIGKILL or exit)."""
        while True:
            status = self._waittid(tid)
            if status == 0 or os.WIFEXITED(status) or os.WIFSIGNALED(status):
                break
            try:
                ptrace(PTRACE_CONT, tid)
            except PlatformError:
                pass
        self._forget(tid)

    def leave_zombie(self, th, limit=2.0):
        """Wait until a thread-group leader that was sent into exit is a zombie.

        waitpid does not report a leader before the rest of its group is
        gone, so its exit is watched in /proc; the host reports the zombie
        when the process ends, and _decode drops it (an unknown tid)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                tid, status = os.waitpid(th.tid, os.WNOHANG | WALL)
            except ChildProcessError:
                break
            if tid and os.WIFSTOPPED(status):
                ptrace(PTRACE_CONT, th.tid)     # a signal it had pending: on to exit
            elif _host_state(th.space.tgid, th.tid) in "ZX":
                break
            else:
                time.sleep(0.0002)
        self._forget(th.tid)

    def _forget(self, tid):
        self.regsmap.pop(tid, None)
        if self.pending is not None and self.pending[0].tid == tid:
            self.pending = None
        th = self.threads.pop(tid, None)
        if th is not None:
            th.space.threads.pop(tid, None)


def _reap_untraced(tid):
    """Reap a guest that died while no CPU traced it.  Its host parent is
    the Forker thread, which never waits; any thread of ours may reap a
    sibling thread's child (no __WNOTHREAD here)."""
    try:
        os.waitpid(tid, os.WNOHANG | 0x40000000)      # __WALL
    except ChildProcessError:
        pass
