"""Host ptrace platform: guest threads are host threads under PTRACE_SYSEMU.

Counterpart of gVisor's platform/ptrace and of DragonFly's
sys/platform/vkernel64 (where the host's vmspace_*() calls play this part).

Every guest process is a host process that was started from a tiny stub
ELF (generated below; never a guest file) and emptied of all host mappings.
Its instructions run natively.  Every syscall instruction stops it
(PTRACE_SYSEMU: the host never executes the call) and every fault or trap
arrives as a signal-delivery stop.  The only host syscalls a guest ever
runs are the ones `Thread.inject` places on the stub's `syscall`
instruction: mmap/munmap/mprotect/mremap/madvise, clone for fork and
threads, and exit.

Ptrace rule: only the host thread that attached a tracee may issue ptrace
requests for it.  Each virtual CPU is a host thread with its own tracees
(ptrace_cpu.Tracer); a Thread knows its tracer, and work for it that
another CPU needs (its exit) is handed to that tracer.  A thread moves to
another CPU by being parked in the stub and detached, then seized by the
new tracer (Thread.detach, Tracer.adopt).  Every guest's first host process
is forked by one host thread that never waits for children (Forker: the
host parent of all guests), so no CPU's waitpid sees another CPU's tracees.
Guests never outlive us: PTRACE_O_EXITKILL on every tracee plus
PR_SET_PDEATHSIG on every first process.
"""
import ctypes
import errno
import os
import signal
import queue
import struct
import threading
import time

from . import REG_NAMES, PlatformError, spawn_thread
from .fastpath import load_step

libc = ctypes.CDLL(None, use_errno=True)
_ptrace = libc.ptrace
_ptrace.restype = ctypes.c_long
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

PTRACE_TRACEME = 0
PTRACE_CONT = 7
PTRACE_SINGLESTEP = 9
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_GETFPREGS = 14
PTRACE_SETFPREGS = 15
PTRACE_SYSEMU = 31
PTRACE_SYSEMU_SINGLESTEP = 32
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_DETACH = 17
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_STOP = 0x80
PTRACE_O_TRACEEXEC = 1 << 4
PTRACE_O_TRACESYSGOOD = 1
PTRACE_O_TRACEFORK = 1 << 1
PTRACE_O_TRACEVFORK = 1 << 2
PTRACE_O_TRACECLONE = 1 << 3
PTRACE_O_EXITKILL = 1 << 20
OPTIONS = (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
           | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL)
WALL = 0x40000000 | 0x20000000       # __WALL | __WNOTHREAD: this CPU's tracees only
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
ADDR_NO_RANDOMIZE = 0x0040000

# Host syscall numbers used for injection (x86-64).
HOST_MMAP, HOST_MPROTECT, HOST_MUNMAP, HOST_MREMAP, HOST_MADVISE = 9, 10, 11, 25, 28
HOST_CLONE, HOST_EXIT = 56, 60
HOST_CLOSE, HOST_PIDFD_OPEN, HOST_PIDFD_GETFD = 3, 434, 438
SYS_TGKILL = 234
CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_PARENT, CLONE_THREAD, CLONE_SYSVSEM = 0x8000, 0x10000, 0x40000

# The stub: one page at a fixed address, `syscall; int3`, then the parking
# place of a thread moving between CPUs (untraced for a moment):
# `prctl(PR_SET_PDEATHSIG, SIGKILL); 1: pause(); jmp 1b` -- it dies with the
# vkernel even then (a host fork clears the parent-death signal).
STUB_BASE = 0x7FF000000000
STUB_SIZE = 0x1000
STUB_SYSCALL = STUB_BASE + 0x78       # code follows the ELF and program headers
STUB_PARK = STUB_SYSCALL + 4
STUB_CODE = (b"\x0f\x05\xcc\xcc"
             b"\xbf\x01\x00\x00\x00\xbe\x09\x00\x00\x00\xb8\x9d\x00\x00\x00\x0f\x05"
             b"\xb8\x22\x00\x00\x00\x0f\x05\xeb\xf7")


class Regs(ctypes.Structure):
    """struct user_regs_struct (asm/user.h)."""
    _fields_ = [(n, ctypes.c_ulonglong) for n in REG_NAMES]

    def copy(self):
        r = Regs()
        ctypes.pointer(r)[0] = self
        return r

    def as_dict(self):
        return {n: getattr(self, n) for n in REG_NAMES}


class SigInfo(ctypes.Structure):
    _fields_ = [("si_signo", ctypes.c_int), ("si_errno", ctypes.c_int),
                ("si_code", ctypes.c_int), ("_pad", ctypes.c_int),
                ("si_addr", ctypes.c_ulonglong), ("_rest", ctypes.c_byte * 104)]


def stub_elf():
    """A 1-page static ELF64 whose only code is `syscall; int3`."""
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9),
                       2, 62, 1, STUB_SYSCALL + 2, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0, STUB_BASE, STUB_BASE,
                       0x78 + len(STUB_CODE), 0x78 + len(STUB_CODE), 0x1000)
    return ehdr + phdr + STUB_CODE


def ptrace(req, tid, addr=0, data=0):
    r = _ptrace(req, tid, addr, data)
    if r == -1:
        e = ctypes.get_errno()
        if e:
            raise PlatformError(e, f"ptrace({req}, {tid}): {os.strerror(e)}")
    return r


class SpaceBase:
    """What every platform's address space does through its own injected
    syscalls (shared by this platform and fake.py)."""

    def kernel_pid(self):
        """The host pid whose descriptors map_host_fd duplicates."""
        return os.getpid()

    def map_host_fd(self, fd, addr, length, prot, flags, offset):
        """mmap a kernel-owned host descriptor into this space.

        The descriptor is duplicated into the guest's host process with
        pidfd_getfd, mapped, and closed again at once: guests never keep a
        host descriptor.  Returns the raw mmap result (or -errno).
        """
        pidfd = self.syscall(HOST_PIDFD_OPEN, self.kernel_pid(), 0)
        if pidfd < 0:
            return pidfd
        try:
            gfd = self.syscall(HOST_PIDFD_GETFD, pidfd, fd, 0)
        finally:
            self.syscall(HOST_CLOSE, pidfd)
        if gfd < 0:
            return gfd
        try:
            return self.syscall(HOST_MMAP, addr, length, prot, flags, gfd, offset)
        finally:
            self.syscall(HOST_CLOSE, gfd)

    def any_thread(self):
        """A thread of this space that the calling CPU may ptrace."""
        here = current_tracer()
        for th in self.threads.values():
            if here is None or th.tracer is here:
                return th
        raise PlatformError(errno.ESRCH, f"no thread of {self.tgid} on this CPU")

    def syscall(self, nr, *args):
        """Run a host syscall in this address space, on its current thread
        (the stopped thread the kernel is serving; see set_current)."""
        th = self.cur if self.cur is not None and self.cur.tid in self.threads \
            else self.any_thread()
        return th.inject(nr, *args)

    def set_current(self, th):
        self.cur = th


class ThreadBase:
    """The deferred resume every platform's threads share: the CPU's next
    wait does set_regs + resume in one go (fastptrace's fused step)."""

    def resume_with(self, regs):
        """set_regs(regs) + resume(), fused into the CPU's next wait when possible."""
        self._fresh = False
        tr = self.tracer
        if tr.pending is None:
            tr.pending = (self, regs)
        else:
            self.set_regs(regs)
            self.resume()


class TracerBase:
    """What every platform's CPU half does with a deferred resume."""

    pending = None                # (Thread, Regs): a deferred resume_with

    def flush_pending(self):
        """Carry out a deferred resume_with() now."""
        if self.pending is not None:
            th, regs = self.pending
            self.pending = None
            try:
                th.set_regs(regs)
                th.resume()
            except PlatformError as e:
                self.resume_failed(th, e)

    def resume_failed(self, th, err):
        """The thread died before its resume; its exit is collected later."""


class Space(SpaceBase):
    """A guest address space: one host process (its mm) and its memory file."""

    def __init__(self, platform, tgid):
        self.platform = platform
        self.tgid = tgid
        self.memfd = os.open(f"/proc/{tgid}/mem", os.O_RDWR | os.O_CLOEXEC)
        self.threads = {}
        self.cur = None

    def read(self, addr, n):
        try:
            data = os.pread(self.memfd, n, addr)
        except OSError as e:
            raise PlatformError(errno.EFAULT, f"read {addr:#x}: {e}") from None
        if len(data) != n:
            raise PlatformError(errno.EFAULT, f"short read at {addr:#x}")
        return data

    def write(self, addr, data):
        try:
            n = os.pwrite(self.memfd, data, addr)
        except OSError as e:
            raise PlatformError(errno.EFAULT, f"write {addr:#x}: {e}") from None
        if n != len(data):
            raise PlatformError(errno.EFAULT, f"short write at {addr:#x}")

    def close(self):
        if self.memfd >= 0:
            os.close(self.memfd)
            self.memfd = -1

    def kill(self):
        """Destroy the host process (SIGKILL) and reap what this CPU traces.

        The leader is reaped last: waitpid on a thread-group leader waits
        until every other thread of the group has been reaped.  Threads
        traced by other CPUs (and then the leader) are reaped by their own
        tracers when their exits arrive; the kernel has forgotten them."""
        here = current_tracer()
        mine = [tid for tid, th in self.threads.items() if here is None or th.tracer is here]
        everything = len(mine) == len(self.threads)
        try:
            os.kill(self.tgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for tid in sorted(mine, key=lambda tid: tid == self.tgid):
            if tid != self.tgid or everything:
                self.threads[tid].tracer.reap(tid)
        self.close()


class Thread(ThreadBase):
    """A guest thread: one traced host thread, traced by one CPU's tracer."""

    def __init__(self, space, tid, tracer):
        self.space = space
        self.tid = tid
        self.platform = space.platform
        self._regs = Regs()
        space.threads[tid] = self
        self.tracer = None
        self.cookie = None       # the kernel's lwp
        self._fresh = False      # _regs already hold this stop's registers
        self.exit_pending = False
        tracer.own(self)

    # -- registers ----------------------------------------------------------
    def get_regs(self):
        if self._fresh:                      # filled by the fused wait (fastptrace)
            self._fresh = False
            return self._regs
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(self._regs))
        return self._regs

    def set_regs(self, regs):
        ptrace(PTRACE_SETREGS, self.tid, 0, ctypes.addressof(regs))

    def get_fpregs(self):
        buf = ctypes.create_string_buffer(512)
        ptrace(PTRACE_GETFPREGS, self.tid, 0, ctypes.addressof(buf))
        return buf.raw

    def set_fpregs(self, data):
        buf = ctypes.create_string_buffer(bytes(data), 512)
        ptrace(PTRACE_SETFPREGS, self.tid, 0, ctypes.addressof(buf))

    # -- running --------------------------------------------------------------
    def resume(self, step=False):
        """Run natively until the next syscall, fault or signal."""
        self._fresh = False
        ptrace(PTRACE_SYSEMU_SINGLESTEP if step else PTRACE_SYSEMU, self.tid)

    def inject(self, nr, *args):
        """Execute host syscall `nr` in this thread; return its raw result.

        The thread must be stopped.  Its registers are restored afterwards.
        """
        saved = Regs()                 # private buffers: self._regs is the kernel's
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(saved))
        r = saved.copy()
        r.rip, r.rax, r.orig_rax = STUB_SYSCALL, nr, 2**64 - 1
        for name, val in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
            setattr(r, name, val & 0xFFFFFFFFFFFFFFFF)
        self.set_regs(r)
        ptrace(PTRACE_CONT, self.tid)
        self.tracer.wait_stub_trap(self)
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(r))
        res = r.rax
        self.set_regs(saved)
        return res - 2**64 if res >= 2**63 else res

    def fork(self, flags=0, stack=0):
        """Host-clone this thread's process (flags 0) or add a thread/VM sibling.

        Returns the new Thread, stopped, with this thread's registers, traced
        by this thread's CPU.
        """
        space = self.space
        res = self.inject(HOST_CLONE, flags | CLONE_PARENT, stack, 0, 0, 0)
        if res < 0:
            raise PlatformError(-res, "host clone failed")
        self.tracer.wait_new(res)
        if flags & CLONE_VM:
            return Thread(space, res, self.tracer)
        return Thread(Space(self.platform, res), res, self.tracer)

    def exit_thread(self, running=False):
        """Make this host thread exit (other threads of the process live on).

        A thread running guest code natively is first brought to a stop.
        A thread of another CPU is stopped from here at once, and its own
        CPU makes it exit."""
        here = current_tracer()
        if here is None or self.tracer is here:
            self._exit(running)
            return
        if self.tracer is None:               # moving between CPUs: adopt ends it
            self.exit_pending = True
            return
        self._hold()
        self.tracer.call(lambda: self._exit(False))

    def _exit(self, running):
        tr = self.tracer
        if tr.pending is not None and tr.pending[0] is self:
            tr.pending, running = None, False     # its resume never happened
        if running:
            self.interrupt()
            tr.wait_signal_stop(self)
        r = Regs()
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(r))
        r.rip, r.rax, r.orig_rax, r.rdi = STUB_SYSCALL, HOST_EXIT, 2**64 - 1, 0
        self.set_regs(r)
        ptrace(PTRACE_CONT, self.tid)
        if self.tid == self.space.tgid and len(self.space.threads) > 1:
            tr.leave_zombie(self)         # exec from another thread: the leader goes first
        else:
            tr.reap(self.tid)

    def _hold(self, limit=2.0):
        """Stop a thread that another CPU traces, from here: a host signal it
        takes before running another guest instruction, then wait until the
        host shows it in a tracing stop (or gone)."""
        self.interrupt()
        end = time.monotonic() + limit
        while time.monotonic() < end and _host_state(self.space.tgid, self.tid) not in "tXZ":
            time.sleep(0.0002)

    def interrupt(self):
        """Force a running guest thread to trap (a host SIGURG, swallowed by us)."""
        libc.syscall(SYS_TGKILL, self.space.tgid, self.tid, signal.SIGURG)

    def siginfo(self):
        si = SigInfo()
        ptrace(PTRACE_GETSIGINFO, self.tid, 0, ctypes.addressof(si))
        return si

    # -- moving between CPUs ----------------------------------------------------
    def detach(self, host_cpu=None):
        """Leave this CPU: park in the stub's pause loop, pinned to the next
        CPU's host CPU, and detach.  The kernel keeps the registers it will
        resume with; the FPU state stays in the host thread.  Tracer.adopt
        on the other CPU takes it from here."""
        tr = self.tracer
        if tr.pending is not None and tr.pending[0] is self:
            tr.pending = None
        r = Regs()
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(r))
        r.rip, r.orig_rax = STUB_PARK, 2**64 - 1
        self.set_regs(r)
        pin(self.tid, host_cpu)
        ptrace(PTRACE_DETACH, self.tid, 0, 0)
        tr.disown(self)


def pin(tid, host_cpu):
    """Keep a guest host thread on host_cpu (None: leave it where it may run)."""
    if host_cpu is not None:
        try:
            os.sched_setaffinity(tid, {host_cpu})
        except OSError:
            pass                          # it is gone: its exit is collected later


def _host_state(tgid, tid):
    """The state letter of a host thread in /proc (X when it is gone)."""
    try:
        with open(f"/proc/{tgid}/task/{tid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "X"
    return chr(stat[stat.rindex(b")") + 2])


class Forker:
    """The host thread that forks every guest's first host process.

    It is the host parent of all guests (guest forks are host clones with
    CLONE_PARENT) and never waits for a child, so it takes no CPU's stops:
    a waitpid by the real parent of a tracee traced by a sibling thread
    would otherwise collect that tracee's stops.  It lives as long as the
    vkernel (the guests' parent-death signal follows this thread)."""

    def __init__(self, child):
        self._child = child
        self._requests = queue.SimpleQueue()
        self.thread = spawn_thread(self._run, "vkernel-fork")

    def fork(self):
        """A new stopped stub process; returns its pid."""
        done = queue.SimpleQueue()
        self._requests.put(done)
        pid = done.get()
        if isinstance(pid, BaseException):
            raise pid
        return pid

    def _run(self):
        parent = os.getpid()
        while True:
            done = self._requests.get()
            try:
                pid = os.fork()
                if pid == 0:                          # pragma: no cover (child)
                    self._child(parent)
                done.put(pid)
            except OSError as e:
                done.put(PlatformError(e.errno, f"fork: {e}"))


class PtracePlatform:
    """Runs guests as traced host processes; see the module docstring."""

    name = "ptrace"

    def __init__(self, host_cpus=(None,)):
        """host_cpus: for each virtual CPU, the host CPU it and its guests are
        pinned to (None: not pinned)."""
        from .ptrace_cpu import Tracer
        self._step, self._kick, self.fastpath = load_step()
        self.stub_fd = os.memfd_create("vkernel-stub", os.MFD_CLOEXEC)
        os.write(self.stub_fd, stub_elf())
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        self.forker = Forker(self._child)
        self.tracers = [Tracer(self, i, c) for i, c in enumerate(host_cpus)]
        self.ncpus = len(self.tracers)

    def cpu(self, i):
        """Virtual CPU i's half of the platform (its tracer)."""
        return self.tracers[i]

    def _child(self, parent):
        """In a fresh fork of the Forker: stop, then become the stub."""
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)
            os.setsid()
            libc.personality(ADDR_NO_RANDOMIZE)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            os.closerange(0, self.stub_fd)
            os.closerange(self.stub_fd + 1, 1 << 16)
            os.kill(os.getpid(), signal.SIGSTOP)      # the CPU seizes us here
            os.execve(self.stub_fd, ["vkernel-stub"], {})
        finally:
            os._exit(127)

    # -- what an emptied space holds --------------------------------------------
    def reserved_ranges(self, th):
        """Host mappings in an emptied space that guests must not touch
        (the stub, vdso, vvar, vsyscall), as (lo, hi) pairs."""
        out = []
        for line in open(f"/proc/{th.tid}/maps"):
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            out.append((lo, hi))
        return out

    def vdso_range(self, th):
        for line in open(f"/proc/{th.tid}/maps"):
            if line.rstrip().endswith("[vdso]"):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                return lo, hi
        return None


_local = threading.local()


def current_tracer():
    """The Tracer of the virtual CPU running on this host thread (or None)."""
    return getattr(_local, "tracer", None)
