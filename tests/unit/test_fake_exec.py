"""execve(2) on the fake platform: a tiny hand-made static ELF in the memfs
root is mapped (segments, protections, break), the registers are reset and
the initial stack (argc, argv, envp, auxv) is checked in fake memory."""
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import SCRATCH, call  # noqa: E402

from vkernel.abi.linux import auxv as A  # noqa: E402
from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import mman as M  # noqa: E402
from vkernel.abi.linux import signal as S  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402

BASE = 0x400000
CODE = b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"     # mov eax, 60; xor edi, edi; syscall
DATA_OFF, DATA_VADDR, BSS = 0xC0, 0x4010C0, 0x2000


def tiny_elf(phentsize=56):
    """ET_EXEC x86-64: an r-x segment (headers + code) and an rw- one with bss."""
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1,
                       BASE + 0xB0, 64, 0, 0, 64, phentsize, 2, 0, 0, 0)
    text = struct.pack("<IIQQQQQQ", 1, 5, 0, BASE, BASE, 0xB0 + len(CODE), 0xB0 + len(CODE),
                       0x1000)
    data = struct.pack("<IIQQQQQQ", 1, 6, DATA_OFF, DATA_VADDR, DATA_VADDR, 8, BSS, 0x1000)
    return (ehdr + text + data + CODE).ljust(DATA_OFF, b"\0") + b"initdata"


@pytest.fixture
def k(k):
    """The fake kernel of tests/conftest.py, with /bin/tiny installed."""
    k.install("/bin/tiny", tiny_elf())
    return k


def execve(k, path, argv, envp):
    return call(k.td, NR.execve, k.cstr(path), k.strv(argv), k.strv(envp))


def read_stack(k, sp):
    """(argc, argv, envp, auxv dict) from an initial process stack."""
    def strings(addr):
        out = []
        while k.u64(addr):
            out.append(k.string(k.u64(addr)))
            addr += 8
        return out, addr + 8
    argc = k.u64(sp)
    argv, p = strings(sp + 8)
    envp, p = strings(p)
    auxv = {}
    while True:
        key, val = struct.unpack("<QQ", k.peek(p, 16))
        if key == A.AT_NULL:
            return argc, argv, envp, auxv
        auxv[key] = val
        p += 16


def test_execve_maps_the_image_and_resets_registers(k):
    td = k.td
    td.regs.r12 = 0x1234
    assert execve(k, "/bin/tiny", ["tiny", "-x"], ["A=1"]) == 0
    r = td.regs
    assert (r.rip, r.r12, r.rax, r.fs_base) == (BASE + 0xB0, 0, 0, 0)
    assert k.peek(r.rip, len(CODE)) == CODE
    space, vm = k.space(), k.init.p_vmspace
    assert space.page(BASE).prot == M.PROT_READ | M.PROT_EXEC
    assert space.page(DATA_VADDR).prot == M.PROT_READ | M.PROT_WRITE
    assert k.peek(DATA_VADDR, 8) == b"initdata"
    assert k.peek(DATA_VADDR + 8, 16) == bytes(16)                # bss is zero
    assert space.page(SCRATCH) is None and vm.find(SCRATCH) is None   # old image gone
    assert k.init.p_comm == "tiny" and k.init.p_args == ["tiny", "-x"]
    assert call(td, NR.brk, 0) == 0x404000                        # end of the bss


def test_execve_builds_the_initial_stack(k):
    assert execve(k, "/bin/tiny", ["tiny", "arg one"], ["HOME=/", "TERM=dumb"]) == 0
    sp = k.td.regs.rsp
    assert sp % 16 == 0
    argc, argv, envp, aux = read_stack(k, sp)
    assert (argc, argv, envp) == (2, ["tiny", "arg one"], ["HOME=/", "TERM=dumb"])
    assert aux[A.AT_PHDR] == BASE + 64 and aux[A.AT_PHNUM] == 2 and aux[A.AT_PHENT] == 56
    assert aux[A.AT_ENTRY] == BASE + 0xB0 and aux[A.AT_PAGESZ] == 4096
    assert aux[A.AT_SYSINFO_EHDR] == k.platform.vdso_range(k.td.host)[0]
    assert sp < aux[A.AT_RANDOM] and len(k.peek(aux[A.AT_RANDOM], 16)) == 16
    assert k.string(aux[A.AT_EXECFN]) == "/bin/tiny"
    assert k.peek(aux[A.AT_PLATFORM], 7) == b"x86_64\0"
    assert k.space().page(sp).name == "" and k.init.p_vmspace.find(sp).name == "[stack]"


def test_malformed_elf_is_enoexec_and_the_process_survives(k):
    k.install("/bin/junk", b"\x7fELF" + bytes(60))
    k.install("/bin/badph", tiny_elf(phentsize=32))
    k.install("/bin/script", b"#!/bin/tiny -s\n")
    k.install("/bin/noexec", tiny_elf(), mode=0o644)
    assert execve(k, "/bin/junk", ["junk"], []) == -E.ENOEXEC
    assert execve(k, "/bin/badph", ["badph"], []) == -E.ENOEXEC
    assert execve(k, "/bin/noexec", ["noexec"], []) == -E.EACCES
    assert execve(k, "/bin/missing", ["missing"], []) == -E.ENOENT
    assert call(k.td, NR.getpid) == 1 and k.space().page(SCRATCH) is not None
    assert execve(k, "/bin/script", ["script", "x"], []) == 0       # #! runs the interpreter
    argc, argv, _, _ = read_stack(k, k.td.regs.rsp)
    assert argv == ["/bin/tiny", "-s", "/bin/script", "x"]


def test_exec_resets_handlers_and_closes_cloexec(k):
    act = k.put(S.pack_sigaction(0x400100, S.SA_RESTORER, 0x400200, 0))
    assert call(k.td, NR.rt_sigaction, S.SIGUSR1, act, 0, 8) == 0
    ign = k.put(S.pack_sigaction(S.SIG_IGN))
    assert call(k.td, NR.rt_sigaction, S.SIGUSR2, ign, 0, 8) == 0
    fds = k.alloc(8)
    assert call(k.td, NR.pipe2, fds, 0o2000000) == 0               # O_CLOEXEC
    assert execve(k, "/bin/tiny", ["tiny"], []) == 0
    assert k.init.p_sigacts[S.SIGUSR1].handler == S.SIG_DFL
    assert k.init.p_sigacts[S.SIGUSR2].handler == S.SIG_IGN        # ignored stays ignored
    assert k.init.p_fd.files == {}
