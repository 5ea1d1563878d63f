"""The platform interface: how guest code runs (gVisor's pkg/sentry/platform).

The kernel never imports an implementation module; it receives a Platform
object at boot.  A platform answers one question -- "run this guest thread
until it traps, and tell me why" -- and gives access to guest memory.

    Platform.new_space()        a fresh host process holding only the stub
    Platform.wait(timeout, fds) collect traps from all guest threads
    Thread.regs / set_regs      the user_regs_struct of a stopped thread
    Thread.resume(sig)          run it natively until its next trap
    Thread.inject(nr, *args)    run one host syscall of the kernel's choosing
    Space.read / write          copy bytes from / to guest memory

Implementations: ptrace.py (host ptrace + PTRACE_SYSEMU), fake.py (tests).
"""

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
