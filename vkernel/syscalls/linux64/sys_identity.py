"""Credentials: getuid/setuid family and supplementary groups (Linux kernel/sys.c)."""
import struct

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import I32, NR, PTR, U32, syscall

NGROUPS_MAX = 65536
KEEP = 0xFFFFFFFF


def _cred(td):
    return td.lwp_proc.p_ucred


@syscall(NR.getuid)
def sys_getuid(td):
    """Implements Linux getuid(2)."""
    return _cred(td).ruid


@syscall(NR.geteuid)
def sys_geteuid(td):
    """Implements Linux geteuid(2)."""
    return _cred(td).uid


@syscall(NR.getgid)
def sys_getgid(td):
    """Implements Linux getgid(2)."""
    return _cred(td).rgid


@syscall(NR.getegid)
def sys_getegid(td):
    """Implements Linux getegid(2)."""
    return _cred(td).gid


def _setres(td, kind, r, e, s):
    """setresuid/setresgid: unprivileged callers may only pick ids they hold."""
    c = _cred(td)
    names = ("ruid", "uid", "svuid") if kind == "u" else ("rgid", "gid", "svgid")
    held = {getattr(c, n) for n in names}
    if c.uid != 0 and any(v != KEEP and v not in held for v in (r, e, s)):
        raise KernelError(E.EPERM)
    for n, v in zip(names, (r, e, s)):
        if v != KEEP:
            setattr(c, n, v)
    return 0


@syscall(NR.setresuid, U32, U32, U32)
def sys_setresuid(td, r, e, s):
    """Implements Linux setresuid(2)."""
    return _setres(td, "u", r, e, s)


@syscall(NR.setresgid, U32, U32, U32)
def sys_setresgid(td, r, e, s):
    """Implements Linux setresgid(2)."""
    return _setres(td, "g", r, e, s)


@syscall(NR.setuid, U32)
def sys_setuid(td, uid):
    """Implements Linux setuid(2)."""
    if _cred(td).uid == 0:
        return _setres(td, "u", uid, uid, uid)
    return _setres(td, "u", KEEP, uid, KEEP)


@syscall(NR.setgid, U32)
def sys_setgid(td, gid):
    """Implements Linux setgid(2)."""
    if _cred(td).uid == 0:
        return _setres(td, "g", gid, gid, gid)
    return _setres(td, "g", KEEP, gid, KEEP)


@syscall(NR.setreuid, U32, U32)
def sys_setreuid(td, r, e):
    """Implements Linux setreuid(2)."""
    return _setres(td, "u", r, e, e if e != KEEP else KEEP)


@syscall(NR.setregid, U32, U32)
def sys_setregid(td, r, e):
    """Implements Linux setregid(2)."""
    return _setres(td, "g", r, e, e if e != KEEP else KEEP)


def _getres(td, addrs, vals):
    for a, v in zip(addrs, vals):
        copyout(td, a, struct.pack("<I", v))
    return 0


@syscall(NR.getresuid, PTR, PTR, PTR)
def sys_getresuid(td, r, e, s):
    """Implements Linux getresuid(2)."""
    c = _cred(td)
    return _getres(td, (r, e, s), (c.ruid, c.uid, c.svuid))


@syscall(NR.getresgid, PTR, PTR, PTR)
def sys_getresgid(td, r, e, s):
    """Implements Linux getresgid(2)."""
    c = _cred(td)
    return _getres(td, (r, e, s), (c.rgid, c.gid, c.svgid))


@syscall(NR.getgroups, I32, PTR)
def sys_getgroups(td, size, lst):
    """Implements Linux getgroups(2)."""
    groups = _cred(td).groups
    if size == 0:
        return len(groups)
    if size < len(groups):
        raise KernelError(E.EINVAL)
    copyout(td, lst, struct.pack(f"<{len(groups)}I", *groups))
    return len(groups)


@syscall(NR.setgroups, I32, PTR)
def sys_setgroups(td, size, lst):
    """Implements Linux setgroups(2)."""
    if _cred(td).uid != 0:
        raise KernelError(E.EPERM)
    if not 0 <= size <= NGROUPS_MAX:
        raise KernelError(E.EINVAL)
    data = copyin(td, lst, 4 * size) if size else b""
    _cred(td).groups = list(struct.unpack(f"<{size}I", data))
    return 0


@syscall(NR.setfsuid, U32)
def sys_setfsuid(td, uid):
    """Implements Linux setfsuid(2) (the fs id follows the effective id)."""
    return _cred(td).uid


@syscall(NR.setfsgid, U32)
def sys_setfsgid(td, gid):
    """Implements Linux setfsgid(2)."""
    return _cred(td).gid
