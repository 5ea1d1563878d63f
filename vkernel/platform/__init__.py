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
import dataclasses

# Trap kinds reported by Platform.wait
SYSCALL = "syscall"      # the thread executed a syscall instruction (not run)
SIGNAL = "signal"        # a host signal (a fault in guest code, int3, ...)
EXITED = "exited"        # the host thread is gone
EVENT = "event"          # platform-internal (new thread attached), ignore

REG_NAMES = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
             "orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()


@dataclasses.dataclass
class Trap:
    """Why a guest thread stopped."""
    thread: object
    kind: str
    signo: int = 0
    code: int = 0          # si_code for SIGNAL
    addr: int = 0          # fault address for SIGNAL
    status: int = 0        # wait status for EXITED


class PlatformError(Exception):
    """The host refused an operation on a guest (memory, syscall injection)."""

    def __init__(self, errno, msg=""):
        super().__init__(msg or f"platform error {errno}")
        self.errno = errno
