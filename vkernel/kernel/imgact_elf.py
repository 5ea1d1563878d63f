"""The ELF image activator: load an x86-64 ELF into a guest address space.

BSD counterpart: sys/kern/imgact_elf.c; Linux: fs/binfmt_elf.c
(load_elf_binary, create_elf_tables).  Headers are parsed with pyelftools;
anything malformed is ENOEXEC, never an exception out of the kernel.
"""
import io
import os
import struct

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from vkernel.abi.linux import auxv as A
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import mman as M

from .errors import KernelError
from .vm_map import ET_DYN_BASE, PAGE, STACK_TOP, page_round, page_trunc

STACK_SIZE = 8 << 20
STACK_CHARGE = 128 << 10


class Image:
    """A parsed ELF file: its load segments, entry, interpreter and phdrs."""

    def __init__(self, data, path):
        self.path = path
        self.data = data
        try:
            elf = ELFFile(io.BytesIO(data))
            h = elf.header
            if elf.elfclass != 64 or h.e_machine != "EM_X86_64" or not elf.little_endian:
                raise KernelError(E.ENOEXEC, f"{path}: not an x86-64 ELF")
            if h.e_type not in ("ET_EXEC", "ET_DYN"):
                raise KernelError(E.ENOEXEC, f"{path}: not executable")
            self.dyn = h.e_type == "ET_DYN"
            self.entry = h.e_entry
            self.phoff, self.phnum, self.phentsize = h.e_phoff, h.e_phnum, h.e_phentsize
            self.loads, self.interp, self.phdr_vaddr = [], None, None
            for seg in elf.iter_segments():
                self._segment(seg)
        except (ELFError, struct.error, ValueError, KeyError, IndexError, AttributeError) as e:
            raise KernelError(E.ENOEXEC, f"{path}: bad ELF: {e}") from None
        if not self.loads:
            raise KernelError(E.ENOEXEC, f"{path}: no loadable segment")
        self._check()

    def _segment(self, seg):
        t = seg["p_type"]
        if t == "PT_LOAD" and seg["p_memsz"]:
            self.loads.append((seg["p_vaddr"], seg["p_memsz"], seg["p_offset"],
                               seg["p_filesz"], seg["p_flags"]))
        elif t == "PT_INTERP":
            self.interp = seg.get_interp_name()
        elif t == "PT_PHDR":
            self.phdr_vaddr = seg["p_vaddr"]

    def _check(self):
        for vaddr, memsz, off, filesz, _ in self.loads:
            if filesz > memsz or off + filesz > len(self.data) or vaddr + memsz > 1 << 47:
                raise KernelError(E.ENOEXEC, f"{self.path}: segment out of range")
            if (vaddr - off) % PAGE:
                raise KernelError(E.ENOEXEC, f"{self.path}: misaligned segment")
        if self.phentsize != 56 or self.phnum > 128:
            raise KernelError(E.ENOEXEC, f"{self.path}: bad program headers")

    def span(self):
        lo = page_trunc(min(v for v, *_ in self.loads))
        hi = page_round(max(v + m for v, m, *_ in self.loads))
        return lo, hi

    def phdr_addr(self, bias):
        if self.phdr_vaddr is not None:
            return bias + self.phdr_vaddr
        for vaddr, _, off, filesz, _ in self.loads:
            if off <= self.phoff < off + filesz:
                return bias + vaddr + (self.phoff - off)
        return 0


def _prot(flags):
    return ((M.PROT_READ if flags & 4 else 0) | (M.PROT_WRITE if flags & 2 else 0)
            | (M.PROT_EXEC if flags & 1 else 0))


def map_image(vm, img, base=None):
    """Map img's PT_LOAD segments; returns the load bias.

    One read-write anonymous mapping covers the whole image, the segments
    are copied in through guest memory, and only segments that are not
    read-write get an mprotect: 1 + (2 or 3) host calls per image.
    """
    lo, hi = img.span()
    rw = M.PROT_READ | M.PROT_WRITE
    if img.dyn and base is None:
        start = vm.mmap(0, hi - lo, rw, M.MAP_PRIVATE | M.MAP_ANONYMOUS, img.path)
    else:
        start = (base if img.dyn else 0) + lo
        vm.mmap(start, hi - lo, rw, M.MAP_PRIVATE | M.MAP_ANONYMOUS | M.MAP_FIXED, img.path)
    bias = start - lo
    for vaddr, memsz, off, filesz, flags in img.loads:
        if filesz:
            vm.space.write(bias + vaddr, img.data[off:off + filesz])
    for vaddr, memsz, off, filesz, flags in img.loads:
        if _prot(flags) != rw:
            seg_lo = page_trunc(bias + vaddr)
            vm.mprotect(seg_lo, page_round(bias + vaddr + memsz) - seg_lo, _prot(flags))
    return bias


def host_auxv():
    """AT_HWCAP, AT_HWCAP2 and AT_MINSIGSTKSZ of the host CPU."""
    try:
        data = open("/proc/self/auxv", "rb").read()
    except OSError:
        return {}
    vals = dict(struct.iter_unpack("<QQ", data))
    return {k: vals[k] for k in (A.AT_HWCAP, A.AT_HWCAP2, A.AT_MINSIGSTKSZ) if k in vals}


_HOST_AUXV = host_auxv()


class StackBuilder:
    """Lays out strings, auxv, envp, argv and argc at the top of the stack."""

    def __init__(self, top):
        self.sp = top
        self.blob = bytearray()
        self.top = top

    def push(self, data):
        self.sp -= len(data)
        self.blob[0:0] = data
        return self.sp

    def align(self, n):
        pad = self.sp % n
        if pad:
            self.push(bytes(pad))


def build_stack(vm, cred, argv, envp, execfn, auxv_items):
    """Map the stack and write the initial process stack; returns rsp."""
    vm.mmap(STACK_TOP - STACK_SIZE, STACK_SIZE, M.PROT_READ | M.PROT_WRITE,
            M.MAP_PRIVATE | M.MAP_ANONYMOUS | M.MAP_FIXED | M.MAP_NORESERVE, "[stack]")
    vm.limit.charge(STACK_CHARGE, vm.owner)
    sb = StackBuilder(STACK_TOP - 8)
    execfn_p = sb.push(execfn.encode("utf-8", "surrogateescape") + b"\0")
    envp_p = [sb.push(s + b"\0") for s in reversed(envp)][::-1]
    argv_p = [sb.push(s + b"\0") for s in reversed(argv)][::-1]
    platform_p = sb.push(b"x86_64\0")
    random_p = sb.push(os.urandom(16))
    sb.align(16)
    aux = list(auxv_items) + [(A.AT_UID, cred.ruid), (A.AT_EUID, cred.uid),
                              (A.AT_GID, cred.rgid), (A.AT_EGID, cred.gid),
                              (A.AT_SECURE, 0), (A.AT_RANDOM, random_p),
                              (A.AT_EXECFN, execfn_p), (A.AT_PLATFORM, platform_p),
                              (A.AT_PAGESZ, PAGE), (A.AT_CLKTCK, 100), (A.AT_FLAGS, 0)]
    aux += sorted(_HOST_AUXV.items()) + [(A.AT_NULL, 0)]
    words = [len(argv)] + argv_p + [0] + envp_p + [0] + [x for kv in aux for x in kv]
    if len(words) % 2:
        sb.push(bytes(8))
    sb.push(struct.pack(f"<{len(words)}Q", *words))
    vm.space.write(sb.sp, bytes(sb.blob))
    return sb.sp


def load(vm, img, interp, cred, argv, envp, execfn, vdso):
    """Map img (and its interpreter) and build the stack; returns (entry, rsp, brk)."""
    bias = map_image(vm, img, ET_DYN_BASE if img.dyn else None)
    lo, hi = img.span()
    brk = page_round(bias + hi)
    vm.brk_base = vm.brk_cur = brk
    entry = bias + img.entry
    aux = [(A.AT_PHDR, img.phdr_addr(bias)), (A.AT_PHENT, 56), (A.AT_PHNUM, img.phnum),
           (A.AT_ENTRY, entry), (A.AT_BASE, 0)]
    if interp is not None:
        ibias = map_image(vm, interp)
        aux[-1] = (A.AT_BASE, ibias + interp.span()[0])
        entry = ibias + interp.entry
    if vdso:
        aux.append((A.AT_SYSINFO_EHDR, vdso))
    rsp = build_stack(vm, cred, argv, envp, execfn, aux)
    return entry, rsp, brk
