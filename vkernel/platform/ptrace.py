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
requests for it.  All guests are attached by the thread that runs
`PtracePlatform` (the virtual CPU thread).  Guests never outlive us:
PTRACE_O_EXITKILL on every tracee plus PR_SET_PDEATHSIG on the first.
"""
import ctypes
import errno
import os
import signal
import struct
import threading

from . import EXITED, REG_NAMES, SIGNAL, SYSCALL, PlatformError, Trap
from .fastpath import load_step
from .fdwatch import FdWatcher, interrupt_handler

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
PTRACE_O_TRACESYSGOOD = 1
PTRACE_O_TRACEFORK = 1 << 1
PTRACE_O_TRACEVFORK = 1 << 2
PTRACE_O_TRACECLONE = 1 << 3
PTRACE_O_EXITKILL = 1 << 20
OPTIONS = (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK
           | PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL)
WALL = 0x40000000
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

# The stub: one page at a fixed address, `syscall; int3`.
STUB_BASE = 0x7FF000000000
STUB_SIZE = 0x1000
STUB_SYSCALL = STUB_BASE + 0x78       # code follows the ELF and program headers
STUB_CODE = b"\x0f\x05\xcc\xcc"


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
        return next(iter(self.threads.values()))

    def syscall(self, nr, *args):
        """Run a host syscall in this address space, on its current thread
        (the stopped thread the kernel is serving; see set_current)."""
        th = self.cur if self.cur is not None and self.cur.tid in self.threads \
            else self.any_thread()
        return th.inject(nr, *args)

    def set_current(self, th):
        self.cur = th



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
        """Destroy the host process and reap all of its threads.

        The leader is reaped last: waitpid on a thread-group leader waits
        until every other thread of the group has been reaped."""
        tids = sorted(self.threads, key=lambda tid: tid == self.tgid)
        try:
            os.kill(self.tgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for tid in tids:
            self.platform.reap(tid)
        self.close()


class Thread:
    """A guest thread: one traced host thread."""

    def __init__(self, space, tid):
        self.space = space
        self.tid = tid
        self.platform = space.platform
        self._regs = Regs()
        space.threads[tid] = self
        self.platform.threads[tid] = self
        self.platform.regsmap[tid] = self._regs
        self.cookie = None       # the kernel's lwp
        self._fresh = False      # _regs already hold this stop's registers

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

    def resume_with(self, regs):
        """set_regs(regs) + resume(), fused into the CPU's next wait when possible."""
        self._fresh = False
        plat = self.platform
        if plat.pending is None:
            plat.pending = (self, regs)
        else:
            self.set_regs(regs)
            self.resume()

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
        self.platform.wait_stub_trap(self)
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(r))
        res = r.rax
        self.set_regs(saved)
        return res - 2**64 if res >= 2**63 else res

    def fork(self, flags=0, stack=0):
        """Host-clone this thread's process (flags 0) or add a thread/VM sibling.

        Returns the new Thread, stopped, with this thread's registers.
        """
        space = self.space
        res = self.inject(HOST_CLONE, flags | CLONE_PARENT, stack, 0, 0, 0)
        if res < 0:
            raise PlatformError(-res, "host clone failed")
        self.platform.wait_new(res)
        if flags & CLONE_VM:
            return Thread(space, res)
        return Thread(Space(self.platform, res), res)

    def exit_thread(self, running=False):
        """Make this host thread exit (other threads of the process live on).

        A thread running guest code natively is first brought to a stop.
        """
        plat = self.platform
        if plat.pending is not None and plat.pending[0] is self:
            plat.pending, running = None, False     # its resume never happened
        if running:
            self.interrupt()
            plat.wait_signal_stop(self)
        r = Regs()
        ptrace(PTRACE_GETREGS, self.tid, 0, ctypes.addressof(r))
        r.rip, r.rax, r.orig_rax, r.rdi = STUB_SYSCALL, HOST_EXIT, 2**64 - 1, 0
        self.set_regs(r)
        ptrace(PTRACE_CONT, self.tid)
        self.platform.reap(self.tid)

    def interrupt(self):
        """Force a running guest thread to trap (a host SIGURG, swallowed by us)."""
        libc.syscall(SYS_TGKILL, self.space.tgid, self.tid, signal.SIGURG)

    def siginfo(self):
        si = SigInfo()
        ptrace(PTRACE_GETSIGINFO, self.tid, 0, ctypes.addressof(si))
        return si


class PtracePlatform:
    """Runs guests as traced host processes; see the module docstring."""

    name = "ptrace"

    def __init__(self, cpu=None, cpus=None):
        """cpu: pin the tracer and its guests to this host CPU (the fast
        same-CPU stop); cpus: a set of host CPUs guests may run on instead."""
        self.threads = {}             # host tid -> Thread
        self._early = {}              # tid -> status seen before the tid was known
        self.cpu = cpu
        self.regsmap = {}             # tid -> Regs, filled by the fused wait
        self.pending = None           # (Thread, Regs): a deferred resume_with
        self._step, self.fastpath = load_step()
        for sig in (signal.SIGUSR1, signal.SIGALRM):
            signal.signal(sig, interrupt_handler)
            signal.siginterrupt(sig, True)
        self._stub = os.memfd_create("vkernel-stub", os.MFD_CLOEXEC)
        os.write(self._stub, stub_elf())
        self.watcher = FdWatcher(threading.get_ident())
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        elif cpus:
            os.sched_setaffinity(0, cpus)

    # -- creating address spaces ----------------------------------------------
    def new_space(self):
        """A new host process that holds nothing but the stub; returns its Thread."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:                                   # pragma: no cover (child)
            self._child(parent)
        status = self._waittid(pid)
        if not os.WIFSTOPPED(status):
            raise PlatformError(errno.ECHILD, f"stub did not start ({status:#x})")
        ptrace(PTRACE_SETOPTIONS, pid, 0, OPTIONS)
        th = Thread(Space(self, pid), pid)
        self._empty_space(th)
        return th

    def _child(self, parent):
        try:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:
                os._exit(1)
            os.setsid()
            libc.personality(ADDR_NO_RANDOMIZE)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            os.closerange(0, self._stub)
            os.closerange(self._stub + 1, 1 << 16)
            libc.ptrace(PTRACE_TRACEME, 0, None, None)
            os.execve(self._stub, ["vkernel-stub"], {})
        finally:
            os._exit(127)

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

    # -- waiting --------------------------------------------------------------
    def _waittid(self, tid):
        while True:
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
        """Wait for a freshly cloned tracee's initial SIGSTOP."""
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

    def _forget(self, tid):
        self.regsmap.pop(tid, None)
        if self.pending is not None and self.pending[0].tid == tid:
            self.pending = None
        th = self.threads.pop(tid, None)
        if th is not None:
            th.space.threads.pop(tid, None)

    def wait(self, timeout, fds=()):
        """Collect traps; block up to `timeout` s (None: forever) or until an fd is ready.

        The virtual CPU blocks in a raw waitpid(2) -- one host call per trap,
        like a C tracer.  Other threads interrupt it with SIGUSR1 (our
        inter-processor interrupt, DragonFly uses the same signal); timeouts
        come from ITIMER_REAL.  Host fds are watched by FdWatcher.
        """
        ready = self.watcher.take(fds)
        if ready or timeout == 0:
            self.flush_pending()
            return self._collect(), ready
        th, regs = self.pending or (None, None)
        self.pending = None
        if timeout is not None:
            signal.setitimer(signal.ITIMER_REAL, max(timeout, 1e-6))
        tid, status = self._step(th.tid if th else 0, regs, self.regsmap)
        if timeout is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if tid == -2:                    # the resume failed: the thread died under us
            return self._collect(), []
        if tid <= 0:
            return [], self.watcher.take(fds)
        trap = self._decode(tid, status, fresh=True)
        return ([trap] if trap is not None else []), []

    def flush_pending(self):
        """Carry out a deferred resume_with() now."""
        if self.pending is not None:
            th, regs = self.pending
            self.pending = None
            try:
                th.set_regs(regs)
                th.resume()
            except PlatformError:
                pass                     # it died; its exit is collected later

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
            if os.WIFSTOPPED(status):
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
