"""System call numbers private to the vkernel (DragonFly's, not Linux's).

DragonFly counterpart: sys/kern/syscalls.master (ktrace is 45, utrace 335
there).  A Linux x86-64 guest calls these with the ordinary `syscall`
instruction; the numbers sit in a range Linux leaves unused (its 64-bit
table ends below 0x200 and the x32 entries are 0x200-0x223), so a host
Linux kernel answers them with ENOSYS and the vkernel serves them.

    ktrace  0x27f  int ktrace(const char *tracefile, int ops, int trpoints, pid_t pid)
    utrace  0x280  int utrace(const void *addr, size_t len)

ktrace(2)'s number is the one ddb shows in `--- syscall 27f (ktrace) ---`.
"""
import enum


class VKNR(enum.IntEnum):
    """Syscall numbers of the vkernel's own calls."""

    ktrace = 0x27f
    utrace = 0x280


#: number -> name, merged with Linux's by the syscall table, ktrace and kdump
VKERNEL_SYSCALL_NAMES = {int(n): n.name for n in VKNR}

#: number -> argument count (what a KTR_SYSCALL record of the call carries)
VKERNEL_SYSCALL_NARGS = {VKNR.ktrace: 4, VKNR.utrace: 2}
