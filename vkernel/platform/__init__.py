"""The platform interface: how guest code runs (gVisor's pkg/sentry/platform).

The kernel never imports an implementation module; it receives a Platform
object at boot.  A platform answers one question -- "run this guest thread
until it traps, and tell me why" -- and gives access to guest memory.

    Platform.cpu(i)             virtual CPU i's half: a tracer started on the
                                host thread that runs that CPU (start), with
    Tracer.new_space()          a fresh host process holding only the stub
    Tracer.wait(deadline, fds)  collect traps of this CPU's guest threads
    Tracer.kick()               wake that CPU's wait (from any host thread)
    Tracer.adopt(thread)        take a thread another CPU detached
    Thread.regs / set_regs      the user_regs_struct of a stopped thread
    Thread.resume(sig)          run it natively until its next trap
    Thread.inject(nr, *args)    run one host syscall of the kernel's choosing
    Thread.detach(host_cpu)     leave this CPU (Tracer.adopt on the next one)
    Space.read / write          copy bytes from / to guest memory

Implementations: ptrace.py (host ptrace + PTRACE_SYSEMU), fake.py (tests).
"""
import signal
import threading

# Trap kinds reported by Platform.wait
SYSCALL = "syscall"      # the thread executed a syscall instruction (not run)
SIGNAL = "signal"        # a host signal (a fault in guest code, int3, ...)
EXITED = "exited"        # the host thread is gone
EVENT = "event"          # platform-internal (new thread attached), ignore

REG_NAMES = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
             "orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()


class Trap:
    """Why a guest thread stopped."""

    __slots__ = ("thread", "kind", "signo", "code", "addr", "status")

    def __init__(self, thread, kind, signo=0, code=0, addr=0, status=0):
        self.thread, self.kind, self.signo = thread, kind, signo
        self.code = code           # si_code for SIGNAL
        self.addr = addr           # fault address for SIGNAL
        self.status = status       # wait status for EXITED

    def __repr__(self):
        return f"Trap({self.kind}, tid={getattr(self.thread, 'tid', '?')}, signo={self.signo})"


class PlatformError(Exception):
    """The host refused an operation on a guest (memory, syscall injection)."""

    def __init__(self, errno, msg=""):
        super().__init__(msg or f"platform error {errno}")
        self.errno = errno


# Host signals the kernel handles (on its main thread): other host threads block them.
HOST_SIGNALS = {signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP,
                signal.SIGWINCH, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM}


def spawn_thread(target, name, *args):
    """Start a daemon host thread that never takes the kernel's host signals
    (they are for the main thread, which runs CPU 0)."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HOST_SIGNALS)
    try:
        t = threading.Thread(target=target, name=name, args=args, daemon=True)
        t.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return t
