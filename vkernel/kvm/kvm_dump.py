"""Crash dumps: the kernel's memory written to a file that kvm can read
(DragonFly kern/kern_shutdown.c dumpsys(), sbin/dumpon and sbin/savecore).

DragonFly's boot() calls dumpsys() on a panic when a dump device is set
(`dumpon`, sysctl kern.dumpdev); savecore later copies the dump to
/var/crash/vmcore.N, and `ps -M vmcore.N -N kernel` reads it.  Ours writes
the file directly, in the crash directory:

    -D DIR given to vkernel           DIR (dumps on a panic are then on)
    otherwise                         <rundir>/crash (kvm_nlist.rundir())

as vmcore.0, vmcore.1 ... (the first unused number, like savecore's
`bounds`).  `sysctl kern.dumpdev` reads "vmcore" when panics dump and ""
when they do not; root in the guest may write either (the host decides
where, the guest only whether).  ddb's `dump` writes one whenever asked.

The format is an ELF64 core (ET_CORE, EM_X86_64), so readelf and gdb can
look at it too:

    PT_NOTE   one note, name "VKERNEL", type 0x564b0001: the namelist
              (kvm_nlist.namelist()) as JSON, plus "dump": {time,
              monotonic, why, panicstr}
    PT_LOAD   one per private writable mapping of the kernel process
              (/proc/self/maps: the heap, the interpreter's and its
              libraries' data, the anonymous arenas where Python objects
              live, thread stacks), p_vaddr = its address, page aligned in
              the file.  Read from /proc/self/mem; a page that cannot be
              read is written as zeros, an all-zero chunk is not written at
              all (the file is sparse).

Read-only and shared mappings (program text, guest memory files) are left
out: no kernel object lives there.
"""
import json
import os
import struct
import sys
import time

from vkernel.abi.linux import errno as E

from . import kvm_nlist
from .kvm import (ELF_HEADER, ELF_PHDR, EM_X86_64, ET_CORE, NOTE_NAME, NT_VKERNEL_NAMELIST,
                  PAGE, PT_LOAD, PT_NOTE)

CHUNK = 1 << 20
SKIP = ("[vvar]", "[vvar_vclock]", "[vsyscall]", "[vdso]")
PF_X, PF_W, PF_R = 1, 2, 4

dumpdir = None            # -D DIR: where dumps go (None: <rundir>/crash)
_dump_on_panic = [False]  # kern.dumpdev is set


# -- configuration ---------------------------------------------------------------------------
def set_dumpdir(path):
    """-D DIR at boot: dumps go to DIR, and a panic writes one."""
    global dumpdir
    dumpdir = os.path.abspath(path)
    _dump_on_panic[0] = True


def crashdir():
    return dumpdir or os.path.join(kvm_nlist.rundir(), "crash")


def _get_dumpdev():
    return "vmcore" if _dump_on_panic[0] else ""


def _set_dumpdev(value):
    from vkernel.kernel.errors import KernelError
    value = value.strip()
    if value not in ("", "none", "vmcore"):
        raise KernelError(E.EINVAL)
    _dump_on_panic[0] = value == "vmcore"


def _register_sysctl():
    from vkernel.kernel.kern_sysctl import sysctl_proc
    sysctl_proc("kern.dumpdev", _get_dumpdev, _set_dumpdev, kind=str,
                descr="crash dump on panic: \"vmcore\" (into the host's crash directory) or \"\"")


_register_sysctl()


# -- what to dump -------------------------------------------------------------------------------
def dump_mappings(maps="/proc/self/maps"):
    """[(start, end, flags)] of the private writable mappings of this process."""
    out = []
    with open(maps) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            perms = parts[1]
            name = parts[5].strip() if len(parts) > 5 else ""
            if perms[0] != "r" or perms[1] != "w" or perms[3] != "p" or name in SKIP:
                continue
            flags = PF_R | PF_W | (PF_X if perms[2] == "x" else 0)
            out.append((lo, hi, flags))
    return out


def _note(ntype, desc):
    def pad(b):
        return b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(NOTE_NAME), len(desc), ntype) + pad(NOTE_NAME) + pad(desc)


def _page_up(n):
    return (n + PAGE - 1) & ~(PAGE - 1)


def core_headers(segments, note):
    """The ELF header, program headers and note of a core with these
    segments; returns (bytes, [file offset of each segment])."""
    phnum = len(segments) + 1
    note_off = ELF_HEADER.size + phnum * ELF_PHDR.size
    pos = _page_up(note_off + len(note))
    offsets = []
    for lo, hi, _ in segments:
        offsets.append(pos)
        pos += hi - lo
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    out = [ELF_HEADER.pack(ident, ET_CORE, EM_X86_64, 1, 0, ELF_HEADER.size, 0, 0,
                           ELF_HEADER.size, ELF_PHDR.size, phnum, 0, 0, 0),
           ELF_PHDR.pack(PT_NOTE, 0, note_off, 0, 0, len(note), 0, 4)]
    for (lo, hi, flags), off in zip(segments, offsets):
        out.append(ELF_PHDR.pack(PT_LOAD, flags, off, lo, 0, hi - lo, hi - lo, PAGE))
    return b"".join(out) + note, offsets


def _copy_region(memfd, outfd, lo, hi, off, buf, zero):
    """Copy [lo, hi) of our memory to outfd at off; unreadable pages stay zero."""
    addr = lo
    while addr < hi:
        n = min(CHUNK, hi - addr)
        view = memoryview(buf)[:n]
        try:
            got = os.preadv(memfd, [view], addr)
        except OSError:
            got = _copy_pages(memfd, outfd, addr, n, off + addr - lo, buf)
            addr += n
            continue
        if got and view[:got] != zero[:got]:
            os.pwrite(outfd, view[:got], off + addr - lo)
        addr += n


def _copy_pages(memfd, outfd, addr, n, off, buf):
    """The slow path of a chunk with unreadable pages: page by page."""
    view = memoryview(buf)[:PAGE]
    for p in range(0, n, PAGE):
        try:
            if os.preadv(memfd, [view], addr + p) == PAGE:
                os.pwrite(outfd, view, off + p)
        except OSError:
            pass
    return n


def write_core(path, note_json, maps="/proc/self/maps", mem="/proc/self/mem"):
    """Write this process's private writable memory to `path` as an ELF core
    with the namelist note; returns the number of bytes of memory dumped."""
    segments = dump_mappings(maps)
    headers, offsets = core_headers(segments, _note(NT_VKERNEL_NAMELIST, note_json))
    buf, zero = bytearray(CHUNK), memoryview(bytes(CHUNK))
    memfd = os.open(mem, os.O_RDONLY | os.O_CLOEXEC)
    outfd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.pwrite(outfd, headers, 0)
        for (lo, hi, _), off in zip(segments, offsets):
            _copy_region(memfd, outfd, lo, hi, off, buf, zero)
        end = offsets[-1] + segments[-1][1] - segments[-1][0] if segments else len(headers)
        os.ftruncate(outfd, end)
    finally:
        os.close(memfd)
        os.close(outfd)
    return sum(hi - lo for lo, hi, _ in segments)


# -- dumpsys --------------------------------------------------------------------------------------
def _next_vmcore(d):
    n = 0
    while os.path.exists(os.path.join(d, f"vmcore.{n}")):
        n += 1
    return os.path.join(d, f"vmcore.{n}")


def _dump_note(why):
    nl = kvm_nlist.namelist()
    shutdown = sys.modules.get("vkernel.kernel.kern_shutdown")
    nl["dump"] = {"time": time.time(), "monotonic": time.monotonic(), "why": why,
                  "panicstr": getattr(shutdown, "panicstr", None)}
    return json.dumps(nl, sort_keys=True).encode()


def _kernel_printf(text):
    from vkernel.kernel import kern_shutdown
    kern_shutdown.printf(text)


def dump(why="", printf=None, directory=None):
    """Write a vmcore.N of this kernel now (ddb's `dump`); returns its path,
    or None when it could not be written (the reason is printed)."""
    printf = printf or _kernel_printf
    d = directory or crashdir()
    try:
        kvm_nlist.prepare_dir(d)
        path = _next_vmcore(d)
        note = _dump_note(why)
        printf(f"dumping to {path}\n")
        size = write_core(path, note)
    except Exception as e:          # on the panic path: a failed dump must not panic again
        printf(f"dump failed: {type(e).__name__}: {e}\n")
        return None
    printf(f"dump {size >> 20} MB succeeded\n")
    return path


def dumpsys(why="panic", printf=None):
    """boot()'s dump on a panic: only when kern.dumpdev (or -D) says so."""
    if not _dump_on_panic[0]:
        return None
    return dump(why, printf)
