"""A minimal PTRACE_SYSEMU tracer in Python: the Python floor of a syscall.

No kernel counterpart.  The Python twin of bench/c/sysemu_tracer.c, line
for line (ctypes ptrace and a raw libc waitpid, GETREGS/SETREGS, getppid
answered with a constant, other syscalls passed through to the host), with
none of the vkernel's structure around it.  The syscall benchmark records
its figure next to the C tracer's and the vkernel's, which splits the
vkernel's gap into "Python + ctypes" and "the kernel's own layers".

Usage: python3 -m bench.pytracer [-c CPU] PROGRAM [ARG ...]
Prints "getppid N other M"; exits with the child's status.
"""
import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.waitpid.restype = ctypes.c_int
libc.waitpid.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]

PTRACE_TRACEME, PTRACE_SYSCALL, PTRACE_GETREGS, PTRACE_SETREGS = 0, 24, 12, 13
PTRACE_SYSEMU, PTRACE_SETOPTIONS = 31, 0x4200
OPTIONS = 1 | (1 << 20)            # PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL
SYSCALL_STOP = 0x857f              # WIFSTOPPED with SIGTRAP | 0x80
SYS_GETPPID = 110
WALL = 0x40000000
REGS = ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs "
        "eflags rsp ss fs_base gs_base ds es fs gs").split()


class Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in REGS]


def start_child(argv):
    pid = os.fork()
    if pid == 0:                                 # pragma: no cover (child)
        try:
            libc.ptrace(PTRACE_TRACEME, 0, None, None)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    os.waitpid(pid, WALL)
    libc.ptrace(PTRACE_SETOPTIONS, pid, None, OPTIONS)
    return pid


def trace(pid):
    """The loop; returns (getppid served, others passed through, wait status)."""
    regs, status = Regs(), ctypes.c_int()
    pregs, pstatus = ctypes.addressof(regs), ctypes.byref(status)
    ptrace, waitpid = libc.ptrace, libc.waitpid
    served = other = 0
    while True:
        ptrace(PTRACE_SYSEMU, pid, None, None)
        waitpid(pid, pstatus, WALL)
        if status.value & 0xffff != SYSCALL_STOP:
            return served, other, status.value
        ptrace(PTRACE_GETREGS, pid, None, pregs)
        if regs.orig_rax == SYS_GETPPID:
            regs.rax = 1
            ptrace(PTRACE_SETREGS, pid, None, pregs)
            served += 1
            continue
        other += 1
        regs.rip -= 2                            # re-run it natively
        regs.rax = regs.orig_rax
        ptrace(PTRACE_SETREGS, pid, None, pregs)
        for _ in range(2):                       # entry stop, then exit stop
            ptrace(PTRACE_SYSCALL, pid, None, None)
            waitpid(pid, pstatus, WALL)
            if status.value & 0x7f != 0x7f:
                return served, other, status.value


def main(argv):
    if len(argv) > 2 and argv[0] == "-c":
        os.sched_setaffinity(0, {int(argv[1])})
        argv = argv[2:]
    if not argv:
        print("usage: python3 -m bench.pytracer [-c CPU] PROGRAM [ARG ...]", file=sys.stderr)
        return 64
    served, other, status = trace(start_child(argv))
    print(f"getppid {served} other {other}")
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
