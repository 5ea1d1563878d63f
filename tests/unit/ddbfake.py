"""Fakes for the ddb tests: a scripted console, guest registers and memory,
a fabricated process table, and a fake kernel with the seed's call chain.

The fake kernel is written as real source files (kern_ktrace.py,
kern_proc.py, trap.py) into a temporary directory that ddb is told holds
kernel code, so tracebacks through it look exactly like the seed's:
go_user -> user_trap -> syscall2 -> sys_ktrace -> allproc_scan ->
ktrace_clear_callback, which dereferences a NULL p_tracenode on line 347.
"""
import importlib.util
import os
import types

from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_proc
from vkernel.kernel.proc import SACTIVE, Lwp, Proc, Ucred
from vkernel.platform import PlatformError

REG_NAMES = ("rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags "
             "cs ss ds es fs gs fs_base gs_base orig_rax").split()


class FakeIO:
    """A console for ddb: scripted input lines (str, or fn(io) -> str), captured output."""

    def __init__(self, lines=(), interactive=True, keys=()):
        self.lines = list(lines)
        self.out = []
        self.interactive = interactive
        self.keys = list(keys)
        self.entered = self.left = 0

    @property
    def text(self):
        return "".join(self.out)

    def write(self, s):
        self.out.append(s)

    def readline(self, prompt):
        self.out.append(prompt)
        if not self.lines:
            return None
        line = self.lines.pop(0)
        line = line(self) if callable(line) else line
        self.out.append(line + "\n")
        return line

    def enter(self):
        self.entered += 1

    def leave(self):
        self.left += 1

    def column(self):
        return 0

    def checkc(self, timeout):
        return self.keys.pop(0) if self.keys else None

    def getc(self):
        return self.keys.pop(0) if self.keys else None


def regs(**kw):
    r = types.SimpleNamespace(**{n: 0 for n in REG_NAMES})
    r.cs, r.ss, r.eflags = 0x33, 0x2b, 0x202
    for k, v in kw.items():
        setattr(r, k, v)
    return r


class FakeSpace:
    """Guest memory: {base: bytes} regions; anything else faults."""

    def __init__(self, regions):
        self.regions = {b: bytes(d) for b, d in regions.items()}

    def read(self, addr, n):
        for base, data in self.regions.items():
            if base <= addr and addr + n <= base + len(data):
                return data[addr - base:addr - base + n]
        raise PlatformError(E.EFAULT, f"no memory at {addr:#x}")


def make_proc(pid, comm, parent=None, uid=0, memory=None, **reg):
    """A process with one thread, entered in the real process table."""
    p = Proc(pid, parent)
    p.p_comm = comm
    p.p_args = [comm]
    p.p_stat = SACTIVE
    p.p_ucred = Ucred(uid)
    if parent is not None:
        parent.p_children.append(p)
    kern_proc.proc_insert(p)
    kern_proc.enterpgrp(p, parent.p_pgid if parent else pid, parent is None)
    td = Lwp(p, pid, None)
    td.regs = regs(**reg)
    p.p_lwps[pid] = td
    kern_proc.alllwp[pid] = td
    p.p_vmspace = types.SimpleNamespace(space=FakeSpace(memory or {}))
    return p, td


KERN_KTRACE = '''"""Fake kern_ktrace for ddb's tests."""
from kern_proc_fake import allproc_scan


class ktrace_clear_info:
    def __init__(self, tracenode):
        self.tracenode = tracenode
        self.rootclear = 0


class ktrace_node:
    def __init__(self, vp):
        self.kn_vp = vp
        self.kn_refs = 1


def sys_ktrace(td, fname, ops, facs, pid):
    info = ktrace_clear_info(ktrace_node("vnode"))
    return allproc_scan(ktrace_clear_callback, info)
'''


def _kern_ktrace_source():
    """KERN_KTRACE padded so that the faulting line is line 347, as in the seed."""
    head = KERN_KTRACE
    body = ("\n\ndef ktrace_clear_callback(p, data):\n"
            "    info = data\n"
            "    if p.p_tracenode.kn_vp == info.tracenode.kn_vp:\n"
            "        p.p_traceflag = 0\n"
            "    return 0\n")
    pad = "\n" * (342 - head.count("\n"))          # puts the `if` on line 347
    return head + pad + body


KERN_PROC = '''"""Fake kern_proc for ddb's tests."""
from vkernel.kernel.kern_proc import allproc


def allproc_scan(callback, data):
    for p in list(allproc.values()):
        if callback(p, data) < 0:
            break
'''

TRAP = '''"""Fake platform trap.c for ddb's tests."""
import kern_ktrace_fake


def go_user(cpu, td):
    return user_trap(cpu, td)


def user_trap(cpu, td):
    return syscall2(td)


def syscall2(td):
    return kern_ktrace_fake.sys_ktrace(td, 0x407170, 2, 0xbe, 0)
'''


def load_fake_kernel(directory):
    """Write and import the fake kernel; returns its trap module."""
    import sys
    files = {"kern_ktrace.py": (_kern_ktrace_source(), "kern_ktrace_fake"),
             "kern_proc.py": (KERN_PROC, "kern_proc_fake"),
             "trap.py": (TRAP, "trap_fake")}
    mods = {}
    for fname in ("kern_proc.py", "kern_ktrace.py", "trap.py"):
        src, name = files[fname]
        path = os.path.join(directory, fname)
        with open(path, "w") as f:
            f.write(src)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        mods[fname] = mod
    return mods


def _snapshot():
    from vkernel.ddb import db_command, db_examine
    from vkernel.kernel import kern_shutdown
    return (dict(kern_proc.allproc), dict(kern_proc.alllwp), dict(kern_proc.pgrphash),
            dict(kern_shutdown.hooks), kern_shutdown.debugger_on_panic.value,
            kern_shutdown.panic_reboot_wait.value, dict(db_command.db_variables),
            dict(db_examine._state))


def _restore(snap):
    from vkernel.ddb import db_command, db_examine
    from vkernel.kernel import kern_shutdown
    allproc, alllwp, pgrps, hooks, dop, wait, dbvars, exstate = snap
    for table, saved in ((kern_proc.allproc, allproc), (kern_proc.alllwp, alllwp),
                         (kern_proc.pgrphash, pgrps), (kern_shutdown.hooks, hooks),
                         (db_command.db_variables, dbvars), (db_examine._state, exstate)):
        table.clear()
        table.update(saved)
    kern_shutdown.debugger_on_panic.value = dop
    kern_shutdown.panic_reboot_wait.value = wait
    kern_shutdown.panicstr = None
    kern_shutdown._panic_depth = 0
    kern_shutdown._request = None


class Machine:
    """The state a ddb test runs against: an empty process table and a console."""

    def __init__(self, monkeypatch):
        from vkernel.kernel import kern_shutdown, kern_vfs
        self.snap = _snapshot()
        for table in (kern_proc.allproc, kern_proc.alllwp, kern_proc.pgrphash):
            table.clear()
        monkeypatch.setattr(kern_vfs, "mounts", None)
        monkeypatch.setattr(kern_proc, "curthread", None, raising=False)
        self.cpu = types.SimpleNamespace(cpuid=0, curthread=None, pending_work=False)
        self.io = FakeIO()
        kern_shutdown.hooks.update(console=self.io, cpu=self.cpu, wakeup=self._wakeup)
        kern_shutdown.debugger_on_panic.value = 1
        kern_shutdown.panicstr = None
        kern_shutdown._panic_depth = 0
        kern_shutdown._request = None
        self.wakeups = 0

    def _wakeup(self):
        self.wakeups += 1
        self.cpu.pending_work = True

    def script(self, *lines, interactive=True, keys=()):
        """Replace the console with one that types these lines."""
        from vkernel.kernel import kern_shutdown
        self.io = FakeIO(lines, interactive, keys)
        kern_shutdown.hooks["console"] = self.io
        return self.io

    def ddb(self, *lines, frames=(), td=None, fatal=False):
        """Run ddb's command loop on these lines; returns (output, action)."""
        from vkernel.ddb.db_interface import DbContext, Ddb
        io = FakeIO(lines)
        ctx = DbContext("test", frames, td=td, cpu=self.cpu, fatal=fatal, console=io)
        action = Ddb(ctx, io).cmdloop()
        return io.text, action

    def close(self):
        _restore(self.snap)


def machine_fixture():
    import pytest

    @pytest.fixture
    def machine(monkeypatch):
        m = Machine(monkeypatch)
        yield m
        m.close()
    return machine
