"""kvm_openfiles, kvm_read, kvm_close: a kernel's memory and its namelist
(DragonFly lib/libkvm/kvm.c).

    kd = kvm_openfiles(execfile, corefile)      # -N namelist, -M memory
    data = kvm_read(kd, addr, n)
    kvm_close(kd)

corefile is what ps's -M names, decided as libkvm decides it:

  * `/proc/PID/mem`: a running vkernel.  A kernel address is the offset in
    that file (the host translates it), as for DragonFly's vkernels.  The
    namelist must be the one that kernel wrote at boot: its pid and process
    start time must match, or the addresses mean nothing (`namelist does not
    match`).  Reads go through a page cache that kvm_flush() empties, so
    one walk sees one snapshot of each page.
  * anything else: a crash dump, an ELF core written by kvm_dump (one
    PT_LOAD per kernel mapping, at its own virtual address, and the
    namelist in a VKERNEL note), read through mmap.  An empty file is an
    error (`empty file`).

execfile (the namelist) may be None: a dump carries its own; for
/proc/PID/mem the kernel's namelist in the run directory is used
(kvm_nlist.default_path).  With corefile None too, the one vkernel
running for this user is chosen.

Errors are KvmError with libkvm's wording: `invalid address (0x...)`,
`short read`, `empty file`, `no such symbol`.
"""
import bisect
import mmap
import os
import re
import struct

from . import kvm_nlist

PAGE = 4096
_LIVE = re.compile(r"^/proc/(\d+)/mem$")
ELF_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
ELF_PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_NOTE = 1, 4
ET_CORE, EM_X86_64 = 4, 62
NOTE_NAME = b"VKERNEL\0"
NT_VKERNEL_NAMELIST = 0x564B0001


class KvmError(Exception):
    """kvm_geterr(): what went wrong, in libkvm's words."""


class LiveMemory:
    """A running kernel's memory: /proc/PID/mem, read page by page (cached)."""

    live = True

    def __init__(self, path):
        self.path = path
        self.pid = int(_LIVE.match(path).group(1))
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise KvmError(f"{path}: {e.strerror}") from None
        self.cache = {}

    def _page(self, pno):
        page = self.cache.get(pno)
        if page is None:
            try:
                page = os.pread(self.fd, PAGE, pno * PAGE)
            except OSError:
                raise KvmError(f"invalid address ({pno * PAGE:#x})") from None
            if len(page) != PAGE:
                raise KvmError("short read")
            self.cache[pno] = page
        return page

    def read(self, addr, n):
        if addr < 0 or n < 0 or addr + n > 1 << 63:
            raise KvmError(f"invalid address ({addr:#x})")
        if n == 0:
            return b""
        first, last = addr // PAGE, (addr + n - 1) // PAGE
        off = addr - first * PAGE
        if first == last:
            return self._page(first)[off:off + n]
        data = b"".join(self._page(p) for p in range(first, last + 1))
        return data[off:off + n]

    def flush(self):
        self.cache.clear()

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class CoreMemory:
    """A crash dump: an ELF core whose PT_LOAD segments are kernel mappings."""

    live = False

    def __init__(self, path):
        self.path = path
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size == 0:
                    raise KvmError(f"{path}: empty file")
                self.map = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        except OSError as e:
            raise KvmError(f"{path}: {e.strerror}") from None
        try:
            self.segments, self.notes = parse_core(self.map, path)
        except KvmError:
            self.map.close()
            raise
        self._starts = [s[0] for s in self.segments]

    def _segment(self, addr):
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0:
            vaddr, size, offset = self.segments[i]
            if addr < vaddr + size:
                return vaddr, size, offset
        raise KvmError(f"invalid address ({addr:#x})")

    def read(self, addr, n):
        out = []
        while n > 0:
            vaddr, size, offset = self._segment(addr)
            take = min(n, vaddr + size - addr)
            start = offset + addr - vaddr
            chunk = self.map[start:start + take]
            if len(chunk) < take:       # a truncated dump
                raise KvmError("short read")
            out.append(chunk)
            addr, n = addr + take, n - take
        return b"".join(out)

    def flush(self):
        pass

    def close(self):
        self.map.close()


def parse_core(buf, path="core"):
    """([(vaddr, size, file offset)] sorted, {note type: bytes}) of an ELF core."""
    if len(buf) < ELF_HEADER.size or buf[:4] != b"\x7fELF":
        raise KvmError(f"{path}: not an ELF core (no vkernel crash dump)")
    hdr = ELF_HEADER.unpack_from(buf, 0)
    ident, etype, machine, phoff, phentsize, phnum = hdr[0], hdr[1], hdr[2], hdr[5], hdr[9], hdr[10]
    if ident[4] != 2 or ident[5] != 1 or etype != ET_CORE or machine != EM_X86_64:
        raise KvmError(f"{path}: not an x86-64 ELF core")
    segments, notes = [], {}
    for i in range(phnum):
        ptype, _, offset, vaddr, _, filesz, _, _ = ELF_PHDR.unpack_from(buf, phoff + i * phentsize)
        if ptype == PT_LOAD and filesz:
            segments.append((vaddr, filesz, offset))
        elif ptype == PT_NOTE:
            notes.update(parse_notes(buf[offset:offset + filesz]))
    segments.sort()
    return segments, notes


def _align4(n):
    return (n + 3) & ~3


def parse_notes(data):
    """{type: desc} of the VKERNEL notes in an ELF note segment."""
    out, pos = {}, 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
        pos += 12
        name = bytes(data[pos:pos + namesz])
        pos += _align4(namesz)
        desc = bytes(data[pos:pos + descsz])
        pos += _align4(descsz)
        if name == NOTE_NAME:
            out[ntype] = desc
    return out


class Kvm:
    """A kvm descriptor (kvm_t): a memory source and the namelist that maps it."""

    def __init__(self, mem, nlist, corefile, execfile):
        self.mem = mem
        self.nlist = nlist
        self.corefile = corefile
        self.execfile = execfile
        self.layout = nlist["layout"]
        self.live = mem.live

    def read(self, addr, n):
        return self.mem.read(addr, n)

    def flush(self):
        self.mem.flush()


def _live_namelist(mem, execfile):
    path = execfile or kvm_nlist.default_path(mem.pid)
    if not execfile and not os.path.exists(path):
        raise KvmError(f"no namelist for process {mem.pid} in {kvm_nlist.rundir()}"
                       f"{kvm_nlist.supervisor_hint(mem.pid)}; give one with -N")
    nl = kvm_nlist.read_namelist(path)
    if nl["pid"] != mem.pid or nl.get("starttime") != kvm_nlist.process_starttime(mem.pid):
        raise KvmError(f"{path}: namelist does not match {mem.path} "
                       f"(it is kernel pid {nl['pid']}'s)")
    return nl, path


def _core_namelist(mem, execfile):
    if execfile:
        return kvm_nlist.read_namelist(execfile), execfile
    text = mem.notes.get(NT_VKERNEL_NAMELIST)
    if text is None:
        raise KvmError(f"{mem.path}: no namelist in the dump; give one with -N")
    return kvm_nlist.parse_namelist(text, mem.path), mem.path


def kvm_openfiles(execfile=None, corefile=None):
    """Open a kernel's memory (corefile, ps -M) with its namelist (execfile, -N)."""
    if corefile is None:
        try:
            corefile = f"/proc/{kvm_nlist.running_kernel()}/mem"
        except kvm_nlist.NlistError as e:
            raise KvmError(str(e)) from None
    if _LIVE.match(corefile):
        mem = LiveMemory(corefile)
        loader = _live_namelist
    else:
        mem = CoreMemory(corefile)
        loader = _core_namelist
    try:
        nl, execfile = loader(mem, execfile)
    except (KvmError, kvm_nlist.NlistError) as e:
        mem.close()
        raise KvmError(str(e)) from None
    return Kvm(mem, nl, corefile, execfile)


def kvm_read(kd, addr, n):
    return kd.read(addr, n)


def kvm_close(kd):
    kd.mem.close()
