"""A kernel booted on the fake platform, for syscall-level unit tests (no tests here).

Counterpart of init_main.Kernel.boot/_start_init without the console, the
host root or ddb: a memfs root mounted as the system MountTable, the real
syscall table and dispatcher, the real virtual CPU (trap.Cpu) whose kernel
exceptions reach the test instead of ddb, and pid 1 built the way
_start_init builds it.  Instead of exec'ing a program, init gets a small
hand-made image: a text page holding `syscall; int3` at TEXT (the space's
syscall gate: scripted syscalls happen there, so a restarted call runs
again), a scratch area for the test's buffers, a stack and a break.

    k = FakeKernel()                   # or the `k` fixture of a test file
    td = k.td                          # init's thread
    call(td, NR.getpid)                # -> 1: syscall2 + userret, rax as a signed int
    call(td, NR.read, fd, buf, 10)     # -> SLEEPING when the handler sleeps
    k.run()                            # the CPU loop until no thread can trap
    retval(td)                         # rax after a re-dispatch

Import with:  from fakekernel import ...   (this directory is on sys.path).
"""
import struct

from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import mman as M
from vkernel.abi.linux.syscalls import NR
from vkernel.fs.memfs import MemMount
from vkernel.kernel import (kern_exec, kern_exit, kern_fork, kern_futex, kern_proc,
                            kern_shutdown, kern_sig, kern_vfs, msgbuf)
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import File
from vkernel.kernel.kern_descrip import FileDesc
from vkernel.kernel.kern_shutdown import EXIT_REBOOT, Halt
from vkernel.kernel.kern_synch import mp_lock, sched
from vkernel.kernel.proc import SACTIVE, SZOMB, Lwp, Proc
from vkernel.kernel.trap import Cpu
from vkernel.kernel.vm_map import STACK_TOP, MemoryLimit, VmSpace
from vkernel.platform.fake import FakePlatform, Idle
from vkernel.syscalls import dispatch
from vkernel.syscalls.dispatch import DONE, GONE, SLEEPING
from vkernel.vfs import vfs_syscalls as V
from vkernel.vfs.mount import MountTable
import vkernel.syscalls.linux64  # noqa: F401  (registers every handler)

__all__ = ["FakeKernel", "call", "retval", "signed", "DONE", "GONE", "SLEEPING", "Idle", "Halt",
           "NR"]

TEXT = 0x400000                 # `syscall; int3`: init's syscall gate
BRK_BASE = 0x600000
SCRATCH, SCRATCH_SIZE = 0x10000000, 1 << 20
STACK_SIZE = 64 << 10
GATE_CODE = b"\x0f\x05\xcc\xcc"
_HOOKED = (kern_sig.hooks, kern_exit.hooks, kern_fork.hooks, kern_exec.hooks,
           kern_shutdown.hooks)

current = None                  # the FakeKernel booted last


def signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def retval(td):
    """td's rax as a signed int: a syscall's result once it is done."""
    return signed(td.regs.rax)


def call(td, nr, *args, **regs):
    """Trap td with syscall nr and serve it as the CPU does (syscall2, then
    userret, which may deliver a signal); returns rax as a signed int as
    syscall2 left it, or SLEEPING / GONE.  regs: other registers to set."""
    if td.td_wchans is not None:
        raise RuntimeError(f"{td} is asleep ({td.td_wmesg}): wake it and k.run()")
    th = td.host
    th.script_syscall(nr, *args, **regs)
    mine = th.stops[-1]
    th.next_trap()
    if any(stop is mine for stop in th.stops):
        th.stops.remove(mine)
        raise RuntimeError(f"{td} stopped before its scripted syscall: k.run() it first")
    with mp_lock:
        td.td_oncpu = False
        td.regs = th.get_regs()
        r = dispatch.syscall2(td)
        if r != DONE:
            return r
        ret = retval(td)
        current.cpu.userret(td)
    return ret


def reset_state():
    """Forget every process, sleeper, mount and log line of a previous kernel."""
    kern_proc.allproc.clear()
    kern_proc.alllwp.clear()
    kern_proc.pgrphash.clear()
    kern_proc._lastpid = 0
    kern_proc.curthread = None
    sched.sleepers.clear()
    sched.runq.clear()
    sched.timers.clear()
    sched.knotes.clear()
    kern_exit.state["shutting_down"] = False
    kern_exec._image_cache.clear()
    kern_vfs.mounts = None
    msgbuf.console_write = None
    msgbuf.clear()


def _exists(ctx, rootvp, path):
    try:
        V.kern_lookup(ctx, rootvp, path)
        return True
    except KernelError:
        return False


class FakeCpu(Cpu):
    """The real virtual CPU, except that a kernel exception reaches the test
    (no fatal-trap report, no ddb)."""

    def _guarded(self, td, work, *args):
        return work(*args)


class FakeKernel:
    """A booted kernel on FakePlatform; see the module docstring."""

    def __init__(self, memsize=256 << 20):
        global current
        self._saved = [dict(h) for h in _HOOKED] + [kern_shutdown.shutdown_handler]
        reset_state()
        self.platform = FakePlatform()
        self.limit = MemoryLimit(memsize)
        self.limit.log = msgbuf.log
        self.rootfs = MemMount(mode=0o755)
        kern_vfs.mounts = self.mounts = MountTable(self.rootfs)
        self.rootvp = self.rootfs.root
        self.cpu = FakeCpu(0, self.platform, dispatch.syscall2, dispatch.finish)
        self.halted = None                  # init's wait status once it died
        self.howto = None                   # what boot(9) was asked for: "halt", "reboot"...
        self._next = SCRATCH
        self._hooks()
        current = self
        self.init = self._start_init()
        self.td = self.init.main_lwp()

    def _hooks(self):
        kern_sig.hooks["exit"] = kern_exit.exit1
        kern_sig.hooks["log"] = msgbuf.log
        kern_exit.hooks["halt"] = self._init_exit
        kern_exit.hooks["futex_wake"] = kern_futex.wake_on_exit
        kern_fork.hooks["start"] = self.cpu.userret
        kern_exec.hooks["log"] = msgbuf.log
        kern_shutdown.hooks["cpu"] = self.cpu
        kern_shutdown.shutdown_handler = self._boot_howto

    def _init_exit(self, p, xstat):
        self.halted = xstat

    def _boot_howto(self, how):
        """init_main's boot_howto without disks: every process killed, then Halt."""
        self.howto = how
        for p in list(kern_proc.allproc.values()):
            if p.p_stat != SZOMB:
                kern_exit.exit1_quiet(p, 9)
        raise Halt(EXIT_REBOOT if how == "reboot" else 0)

    def _start_init(self):
        """init_main.Kernel._start_init, with a hand-made image instead of an exec."""
        host = self.platform.new_space()
        vdso = self.platform.vdso_range(host)
        kern_exec.hooks["vdso"] = vdso[0] if vdso else 0
        p = Proc(1, None)
        p.p_vmspace = VmSpace(host.space, self.limit, self.platform.reserved_ranges(host))
        p.p_vmspace.owner = "pid 1 (init)"
        p.p_fd = FileDesc()
        p.p_cwd = p.p_root = self.rootvp
        p.p_comm = "init"
        td = Lwp(p, 1, host)
        host.cookie = td
        p.p_lwps[1] = td
        kern_proc.alllwp[1] = td
        kern_proc.proc_insert(p)
        kern_proc.enterpgrp(p, 1, True)
        p.p_stat = SACTIVE
        td.regs = host.get_regs()
        self._image(td)
        self.cpu.userret(td)
        return p

    def _image(self, td):
        vm = td.lwp_proc.p_vmspace
        rw, anon = M.PROT_READ | M.PROT_WRITE, M.MAP_PRIVATE | M.MAP_ANONYMOUS | M.MAP_FIXED
        vm.mmap(TEXT, 4096, M.PROT_READ | M.PROT_EXEC, anon, "init", contents=GATE_CODE)
        vm.mmap(SCRATCH, SCRATCH_SIZE, rw, anon, "[scratch]")
        vm.mmap(STACK_TOP - STACK_SIZE, STACK_SIZE, rw, anon, "[stack]")
        vm.brk_base = vm.brk_cur = BRK_BASE
        vm.space.mm.gate = TEXT
        r = td.regs
        r.rip, r.rsp = TEXT + 2, STACK_TOP - 256

    # -- running --------------------------------------------------------------------------
    def run(self):
        """The CPU loop (trap.Cpu.go_user) until no guest thread can trap."""
        try:
            self.cpu.go_user()
        except Idle:
            pass

    def shutdown(self):
        """Forget this kernel; hooks as they were before it booted."""
        for hooks, saved in zip(_HOOKED, self._saved):
            hooks.clear()
            hooks.update(saved)
        kern_shutdown.shutdown_handler = self._saved[-1]
        reset_state()

    # -- guest memory ---------------------------------------------------------------------
    def alloc(self, n, align=16):
        """n bytes of init's scratch area (also valid in its fork children)."""
        addr = (self._next + align - 1) & ~(align - 1)
        self._next = addr + n
        if self._next > SCRATCH + SCRATCH_SIZE:
            raise MemoryError("fake kernel scratch area exhausted")
        return addr

    def put(self, data, td=None):
        addr = self.alloc(max(len(data), 1))
        self.space(td).write(addr, bytes(data))
        return addr

    def cstr(self, s, td=None):
        return self.put((s.encode() if isinstance(s, str) else s) + b"\0", td)

    def strv(self, strings, td=None):
        """A NULL-terminated array of string pointers (argv, envp)."""
        ptrs = [self.cstr(s, td) for s in strings] + [0]
        return self.put(struct.pack(f"<{len(ptrs)}Q", *ptrs), td)

    def space(self, td=None):
        return (td or self.td).lwp_proc.p_vmspace.space

    def peek(self, addr, n, td=None):
        return self.space(td).read(addr, n)

    def string(self, addr, td=None):
        """The NUL-terminated string at addr, read a page at most at a time."""
        out = b""
        while True:
            chunk = self.peek(addr, 4096 - (addr & 4095), td)
            if b"\0" in chunk:
                return (out + chunk[:chunk.index(b"\0")]).decode("utf-8", "surrogateescape")
            out, addr = out + chunk, addr + len(chunk)

    def u64(self, addr, td=None):
        return struct.unpack("<Q", self.peek(addr, 8, td))[0]

    def i32(self, addr, td=None):
        return struct.unpack("<i", self.peek(addr, 4, td))[0]

    # -- processes, threads, files ------------------------------------------------------------
    def fork(self, td=None):
        """fork(2) from td (default init); returns the child's thread."""
        pid = call(td or self.td, NR.fork)
        assert pid > 0, pid
        return kern_proc.lwpfind(pid)

    def install(self, path, data, mode=0o755):
        """Create a regular file in the memfs root (and its parent directories)."""
        ctx = kern_vfs.ctx(self.td)
        parts = path.strip("/").split("/")[:-1]
        for i in range(len(parts)):
            d = "/" + "/".join(parts[:i + 1])
            if not _exists(ctx, self.rootvp, d):
                V.kern_mkdirat(ctx, self.rootvp, d, 0o755)
        ops, vp, _ = V.kern_openat(ctx, self.rootvp, path, F.O_WRONLY | F.O_CREAT | F.O_TRUNC,
                                   mode)
        fp = File(ops, F.O_WRONLY, path, vp)
        ops.write(None, fp, bytes(data))
        fp.drop()
        return vp

    def log(self):
        return msgbuf.contents()
