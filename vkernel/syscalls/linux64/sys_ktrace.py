"""The vkernel's tracing calls: ktrace(2) and utrace(2), at private numbers.

DragonFly counterpart: sys/kern/kern_ktrace.c (sys_ktrace, sys_utrace).
Linux has neither, so they live above the Linux x86-64 table (numbers in
vkernel.abi.vkernel.syscalls).  ktrace(2) is kern_ktrace.sys_ktrace itself,
registered here, so a trap inside it shows DragonFly's frames
(ktrace_clear_callback, allproc_scan, sys_ktrace, syscall2).

Importing this module also connects the trace points of the syscall layer,
the dispatcher's CALL/RET hooks and the read/write workers' GIO hook, and
calls kern_ktrace.ktrace_init() for the kernel's.  The sysctls are read and
written through /proc/sys (kern_sysctl), so there is no sysctl syscall.
"""
from vkernel.abi.vkernel.ktrace import KTR_USER, KTR_USER_MAXLEN
from vkernel.abi.vkernel.syscalls import VKNR
from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_ktrace
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin
from vkernel.syscalls import dispatch
from vkernel.syscalls.table import I32, PTR, STR, U64, syscall

from . import sys_generic

syscall(VKNR.ktrace, STR, I32, I32, I32)(kern_ktrace.sys_ktrace)


@syscall(VKNR.utrace, PTR, U64)
def sys_utrace(td, addr, length):
    """Implements vkernel utrace(2): a KTR_USER record of `length` bytes at addr."""
    if not kern_ktrace.KTRPOINT(td, KTR_USER):
        return 0
    if length > KTR_USER_MAXLEN:
        raise KernelError(E.EINVAL)
    try:
        data = copyin(td, addr, length)
    except KernelError:
        return 0                  # DragonFly drops the record silently
    kern_ktrace.ktruser(td, data)
    return 0


def _install():
    dispatch.ktr.syscall = kern_ktrace.ktrsyscall
    dispatch.ktr.sysret = kern_ktrace.ktrsysret
    sys_generic.genio.fn = kern_ktrace.ktrgenio
    kern_ktrace.ktrace_init()


_install()
