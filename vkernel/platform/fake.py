"""Fake platform: scripted stops over in-memory address spaces (for tests).

gVisor counterpart: the test platforms its sentry unit tests run on (no
real guest, no host process).  It mirrors ptrace.py's API exactly --
FakePlatform.new_space/wait/reserved_ranges/vdso_range/flush_pending,
Space.read/write/syscall/map_host_fd/kill/set_current, Thread.get_regs/
set_regs/get_fpregs/set_fpregs/resume/resume_with/inject/fork/exit_thread/
interrupt/siginfo -- so any kernel code or syscall handler runs on it
unchanged, with no ptrace, no root and no guest program.

The model:
  * A host process's memory is a FakeMM (fake_mm.py): a dict of 4 KiB
    pages (page address -> Page: prot, flags, data filled lazily) plus
    its host descriptors.  Access to an unmapped page is
    PlatformError(EFAULT), as with /proc/PID/mem; as there, protections
    do not stop the kernel's own reads and writes, they are recorded.
  * Injected host syscalls are emulated on that model: mmap (top-down
    below MMAP_BASE like Linux's arch_get_unmapped_area_topdown, hints,
    MAP_FIXED, MAP_FIXED_NOREPLACE, file contents copied from a host fd
    obtained with pidfd_getfd), munmap, mprotect, mremap, madvise, clone
    (a new thread, or a new process whose pages are copied; MAP_SHARED
    pages stay shared), exit, close, pidfd_open, pidfd_getfd.
  * Guest code does not run.  A test queues stops on a thread
    (script_syscall, script_fault, script_exit); once the kernel resumes
    the thread, wait() returns the next one.  The fake CPU decodes one
    instruction only: a thread resumed at the two bytes of `syscall`
    (0f 05) stops there with the number in rax -- which is how a syscall
    the kernel restarted (rip moved back by 2) runs again.
  * wait() cannot block on guests that will never trap: with nothing
    scripted and no timeout (or a long one) it raises Idle.

What it cannot model: instructions other than `syscall`, coherence of
MAP_SHARED file mappings with the file (they are copies), and timing.
"""
import collections
import ctypes
import errno
import os
import select
import struct
import time

from . import EXITED, SIGNAL, SYSCALL, PlatformError, Trap
from .fake_mm import (HOST_CALLS, MAP_PRIVATE, MAP_SHARED, MMAP_BASE, PAGE, PROT_EXEC,
                      PROT_READ, FakeMM)
from .ptrace import (CLONE_VM, HOST_CLONE, HOST_EXIT, STUB_BASE, STUB_SIZE, STUB_SYSCALL,
                     Regs, SigInfo, SpaceBase, ThreadBase, TracerBase, stub_elf)

MASK64 = (1 << 64) - 1
VSYSCALL = (0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000)
VDSO_SIZE, VVAR_SIZE = 2 * PAGE, 6 * PAGE
FAKE_PID_BASE = 5_000_000           # above PID_MAX_LIMIT: never a real host pid
SYSCALL_INSN = b"\x0f\x05"
ENOSYS_RAX = -errno.ENOSYS & MASK64
SIGTRAP, SIGURG, TRAP_TRACE, SI_TKILL = 5, 23, 2, -6


class Idle(Exception):
    """wait() found nothing to report and would block forever: every guest
    thread is running with no stop scripted, or sleeping in the kernel."""


def _fxsave_default():
    """The 512-byte FXSAVE image of a freshly started process."""
    fx = bytearray(512)
    struct.pack_into("<H", fx, 0, 0x037F)              # fcw
    struct.pack_into("<II", fx, 24, 0x1F80, 0xFFFF)    # mxcsr, mxcsr_mask
    return bytes(fx)


class Space(SpaceBase):
    """A guest address space: one fake host process (its FakeMM)."""

    def __init__(self, platform, tgid):
        self.platform = platform
        self.tgid = tgid
        self.mm = platform._mms.pop(tgid, None) or FakeMM()
        self.memfd = FAKE_PID_BASE      # no host descriptor exists; >= 0 while alive
        self.threads = {}
        self.cur = None
        self.host_calls = []            # (nr, args, result) of every injected call

    def read(self, addr, n):
        return self.mm.read(addr, n)

    def write(self, addr, data):
        self.mm.write(addr, bytes(data))

    def kernel_pid(self):
        return self.platform.kernel_pid


    def close(self):
        self.memfd = -1
        self.mm.alive = False

    def kill(self):
        """SIGKILL to the process: every thread gone, the memory with them."""
        for tid in list(self.threads):
            self.platform.reap(tid)
        self.close()

    # -- for tests -------------------------------------------------------------------------
    def page(self, addr):
        """The Page holding addr, or None."""
        return self.mm.pages.get(addr & ~(PAGE - 1))

    def maps(self):
        """[(lo, hi, prot, name)] with like pages merged: /proc/PID/maps of the fake."""
        out = []
        for a in sorted(self.mm.pages):
            p = self.mm.pages[a]
            if out and out[-1][1] == a and tuple(out[-1][2:]) == (p.prot, p.name):
                out[-1][1] = a + PAGE
            else:
                out.append([a, a + PAGE, p.prot, p.name])
        return [tuple(m) for m in out]


class Thread(ThreadBase):
    """A guest thread: registers, FPU state and a queue of scripted stops."""

    def __init__(self, space, tid):
        self.space = space
        self.tid = tid
        self.platform = space.platform
        self.tracer = space.platform             # the one fake CPU
        regs, fpregs = self.platform._born.pop(tid, (None, None))
        self._regs = regs or Regs()
        self._fpregs = fpregs or _fxsave_default()
        self._inject_regs = self._regs
        space.threads[tid] = self
        self.platform.threads[tid] = self
        self.platform.regsmap[tid] = self._regs
        self.cookie = None
        self.state = "stopped"          # "stopped", "running" or "exited"
        self.stops = collections.deque()
        self.step = False
        self.urgent = False             # a host SIGURG is pending (interrupt)
        self._siginfo = (0, 0, 0)

    def __repr__(self):
        return f"<fake thread {self.tid} {self.state}>"

    def _check(self, running_ok=False):
        if self.state == "exited":
            raise PlatformError(errno.ESRCH, f"thread {self.tid} is gone")
        if self.state == "running" and not running_ok:
            raise PlatformError(errno.ESRCH, f"thread {self.tid} is not stopped")

    # -- registers ----------------------------------------------------------------------
    def get_regs(self):
        self._check()
        return self._regs

    def set_regs(self, regs):
        self._check()
        if regs is not self._regs:
            ctypes.pointer(self._regs)[0] = regs

    def get_fpregs(self):
        self._check()
        return self._fpregs

    def set_fpregs(self, data):
        self._check()
        self._fpregs = bytes(data).ljust(512, b"\0")[:512]

    # -- running ---------------------------------------------------------------------------
    def resume(self, step=False):
        """PTRACE_SYSEMU(_SINGLESTEP): wait() reports its next stop."""
        self._check()
        self.state, self.step = "running", step
        self.platform._running[self.tid] = self

    def inject(self, nr, *args):
        """Run emulated host syscall nr in this (stopped) thread's process."""
        self._check()
        args = tuple(a & MASK64 for a in args) + (0,) * (6 - len(args))
        if nr == HOST_EXIT:
            self.state = "exited"
            self.platform.reap(self.tid)
            raise PlatformError(errno.ESRCH, f"thread {self.tid} died in injection")
        fn = HOST_CALLS.get(nr)
        self._inject_regs = r = self._regs.copy()
        r.rip, r.rax, r.orig_rax = STUB_SYSCALL + 2, nr, MASK64
        res = fn(self, self.space.mm, args) if fn else -errno.ENOSYS
        self.space.host_calls.append((nr, args, res))
        return res

    def fork(self, flags=0, stack=0):
        """Host clone: a new process (pages copied) or, with CLONE_VM, a thread."""
        res = self.inject(HOST_CLONE, flags, stack, 0, 0, 0)
        if res < 0:
            raise PlatformError(-res, "host clone failed")
        self.platform.wait_new(res)
        if flags & CLONE_VM:
            return Thread(self.space, res)
        return Thread(Space(self.platform, res), res)

    def exit_thread(self, running=False):
        plat = self.platform
        if plat.pending is not None and plat.pending[0] is self:
            plat.pending = None
        self._check(running_ok=True)
        self.state = "exited"
        plat.reap(self.tid)

    def interrupt(self):
        """A host SIGURG: a running thread stops with it at once, a stopped
        one when it is next resumed."""
        if self.state != "exited":
            self.urgent = True

    def siginfo(self):
        si = SigInfo()
        si.si_signo, si.si_code, si.si_addr = self._siginfo
        return si

    # -- scripting (tests) ---------------------------------------------------------------
    def script_syscall(self, nr, *args, pc=None, **regs):
        """Queue a stop: the guest executes `syscall` at pc (default: the
        space's gate, else wherever it is) with rax=nr and these arguments."""
        self.stops.append(("syscall", int(nr), args, pc, regs))

    def script_fault(self, signo, addr=0, code=1):
        """Queue a stop: a fault (SIGSEGV, SIGBUS, ...) at addr; code is si_code."""
        self.stops.append(("signal", signo, code, addr))

    def script_exit(self, status=0x9):
        """Queue a stop: the host thread vanishes with this wait status."""
        self.stops.append(("exit", status))

    def next_trap(self):
        """Run this thread to its next stop now; Idle if it would run forever."""
        self.platform.flush_pending()
        trap = self._next_stop()
        if trap is None:
            raise Idle(f"thread {self.tid} ({self.state}) has nothing to stop at")
        return trap

    def _next_stop(self):
        if self.state != "running":
            return None
        r = self._regs
        if self.urgent:
            self.urgent = False
            return self._signal_stop(SIGURG, SI_TKILL, 0)
        if self._at_syscall(r.rip):
            return self._syscall_stop(r.rip)
        if self.stops:
            return self._scripted(self.stops.popleft())
        if self.step:
            return self._signal_stop(SIGTRAP, TRAP_TRACE, 0)
        return None

    def _at_syscall(self, rip):
        try:
            return self.space.mm.read(rip, 2) == SYSCALL_INSN
        except PlatformError:
            return False

    def _scripted(self, stop):
        kind = stop[0]
        if kind == "syscall":
            _, nr, args, pc, regs = stop
            r = self._regs
            for name, val in regs.items():
                setattr(r, name, val & MASK64)
            r.rax = nr
            for name, val in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
                setattr(r, name, int(val) & MASK64)
            gate = self.space.mm.gate
            return self._syscall_stop(pc if pc is not None else gate if gate else r.rip)
        if kind == "signal":
            return self._signal_stop(stop[1], stop[2], stop[3])
        self.state = "exited"
        self.platform._forget(self.tid)
        return Trap(self, EXITED, status=stop[1])

    def _syscall_stop(self, site):
        """PTRACE_SYSEMU at a syscall instruction: the call is not run."""
        r = self._regs
        r.orig_rax, r.rax = r.rax, ENOSYS_RAX
        r.rip = r.rcx = (site + 2) & MASK64
        r.r11 = r.eflags
        self._stopped()
        return Trap(self, SYSCALL)

    def _signal_stop(self, signo, code, addr):
        self._siginfo = (signo, code, addr)
        self._stopped()
        return Trap(self, SIGNAL, signo=signo, code=code, addr=addr)

    def _stopped(self):
        self.state = "stopped"
        self.platform._running.pop(self.tid, None)


class FakePlatform(TracerBase):
    """Guests as in-memory address spaces with scripted stops; see the module docstring."""

    name = "fake"
    ncpus = 1

    def __init__(self, max_block=0.5):
        self.threads = {}
        self.regsmap = {}
        self.pending = None
        self.kernel_pid = os.getpid()
        self.max_block = max_block      # longest real sleep wait() does for a timeout
        self.errors = []                # resumes that failed in flush_pending (kernel bugs)
        self._running = {}              # tid -> Thread, in resume order
        self._born = {}                 # cloned, not yet claimed: tid -> (regs, fpregs)
        self._mms = {}                  # new processes, not yet claimed: tgid -> FakeMM
        self._next = FAKE_PID_BASE

    # -- the one virtual CPU (ptrace_cpu.Tracer's interface) ------------------------------
    def cpu(self, i):
        return self

    def start(self):
        pass

    def kick(self):
        pass

    def call(self, fn):
        fn()

    def alloc_tid(self):
        self._next += 1
        return self._next

    # -- creating address spaces --------------------------------------------------------
    def new_space(self):
        """A fresh process holding only the stub, vvar and vdso; returns its Thread."""
        tgid = self.alloc_tid()
        mm = FakeMM()
        mm.map(STUB_BASE, STUB_BASE + STUB_SIZE, PROT_READ | PROT_EXEC, MAP_PRIVATE,
               "vkernel-stub", stub_elf())
        vvar = MMAP_BASE - VDSO_SIZE - VVAR_SIZE
        mm.map(vvar, vvar + VVAR_SIZE, PROT_READ, MAP_SHARED, "[vvar]")
        mm.map(vvar + VVAR_SIZE, MMAP_BASE, PROT_READ | PROT_EXEC, MAP_PRIVATE, "[vdso]",
               b"\x7fELF\x02\x01\x01")
        self._mms[tgid] = mm
        regs = Regs()
        regs.rip, regs.cs, regs.ss, regs.eflags = STUB_SYSCALL + 2, 0x33, 0x2B, 0x202
        self._born[tgid] = (regs, None)
        return Thread(Space(self, tgid), tgid)

    def reserved_ranges(self, th):
        """Everything mapped in an emptied space (stub, vvar, vdso) and vsyscall."""
        return th.space.mm.intervals() + [VSYSCALL]

    def vdso_range(self, th):
        for lo, hi, _, name in th.space.maps():
            if name == "[vdso]":
                return lo, hi
        return None

    # -- waiting --------------------------------------------------------------------------
    def wait_new(self, tid):
        if tid not in self._born:
            raise PlatformError(errno.ESRCH, f"new thread {tid} did not stop")

    def reap(self, tid):
        self._forget(tid)

    def _forget(self, tid):
        self.regsmap.pop(tid, None)
        self._running.pop(tid, None)
        if self.pending is not None and self.pending[0].tid == tid:
            self.pending = None
        th = self.threads.pop(tid, None)
        if th is not None:
            th.state = "exited"
            th.space.threads.pop(tid, None)
            if not th.space.threads:
                th.space.mm.alive = False       # the last thread took the process

    def wait(self, deadline, fds=(), spin_ns=0):
        """Traps of every resumed thread that has a stop due, in resume order.

        deadline: monotonic time to return by (None: none; 0: do not block).

        Nothing due: returns at once for timeout 0, sleeps for a short
        timeout, and raises Idle when it would block longer (or forever).
        """
        self.flush_pending()
        traps = [t for t in (th._next_stop() for th in list(self._running.values())) if t]
        ready = self._ready(fds)
        timeout = deadline if deadline in (None, 0) else max(0.0, deadline - time.monotonic())
        if traps or ready or timeout == 0:
            return traps, ready
        if timeout is None or timeout > self.max_block:
            raise Idle("no guest thread will trap")
        time.sleep(timeout)
        return [], self._ready(fds)

    @staticmethod
    def _ready(fds):
        fds = list(fds)
        return select.select(fds, [], [], 0)[0] if fds else []

    def resume_failed(self, th, err):
        self.errors.append((th.tid, str(err)))      # a kernel bug: tests check errors
