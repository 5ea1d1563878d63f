"""ELF auxiliary vector entry types (AT_*) as the kernel places them on the stack.

Linux counterparts: include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/
auxvec.h (AT_SYSINFO_EHDR) and glibc's <elf.h>/<bits/auxv.h> for the values
Linux reserves for other architectures; arch/x86/include/uapi/asm/hwcap2.h.
Data only.
"""
import struct

AT_NULL = 0
AT_IGNORE = 1
AT_EXECFD = 2
AT_PHDR = 3
AT_PHENT = 4
AT_PHNUM = 5
AT_PAGESZ = 6
AT_BASE = 7
AT_FLAGS = 8
AT_ENTRY = 9
AT_NOTELF = 10
AT_UID = 11
AT_EUID = 12
AT_GID = 13
AT_EGID = 14
AT_PLATFORM = 15
AT_HWCAP = 16
AT_CLKTCK = 17
AT_FPUCW = 18
AT_DCACHEBSIZE = 19
AT_ICACHEBSIZE = 20
AT_UCACHEBSIZE = 21
AT_IGNOREPPC = 22
AT_SECURE = 23
AT_BASE_PLATFORM = 24
AT_RANDOM = 25
AT_HWCAP2 = 26
AT_RSEQ_FEATURE_SIZE = 27
AT_RSEQ_ALIGN = 28
AT_EXECFN = 31
AT_SYSINFO = 32
AT_SYSINFO_EHDR = 33
AT_L1I_CACHESHAPE = 34
AT_L1D_CACHESHAPE = 35
AT_L2_CACHESHAPE = 36
AT_L3_CACHESHAPE = 37
AT_L1I_CACHESIZE = 40
AT_L1I_CACHEGEOMETRY = 41
AT_L1D_CACHESIZE = 42
AT_L1D_CACHEGEOMETRY = 43
AT_L2_CACHESIZE = 44
AT_L2_CACHEGEOMETRY = 45
AT_L3_CACHESIZE = 46
AT_L3_CACHEGEOMETRY = 47
AT_MINSIGSTKSZ = 51

AT_NAMES = {v: k for k, v in sorted(globals().items())
            if k.startswith("AT_") and isinstance(v, int)}

# AT_HWCAP2 bits on x86.
HWCAP2_RING3MWAIT = 1 << 0
HWCAP2_FSGSBASE = 1 << 1

AT_RANDOM_SIZE = 16     # bytes AT_RANDOM points to
AUXV_ENTRY = struct.Struct("<QQ")  # Elf64_auxv_t: a_type, a_val


def pack_auxv(pairs):
    """Pack [(type, value), ...] as Elf64_auxv_t entries, appending AT_NULL."""
    out = b"".join(AUXV_ENTRY.pack(t, v) for t, v in pairs)
    return out + AUXV_ENTRY.pack(AT_NULL, 0)
