"""Sockets (Linux net/socket.c): no address family is supported yet.

socket(2) and socketpair(2) answer EAFNOSUPPORT, which programs treat as
"no such network here" (glibc's nscd probe, bash's /dev/tcp) rather than a
missing system call.
"""
from vkernel.abi.linux import errno as E
from vkernel.syscalls.table import I32, NR, PTR, syscall


@syscall(NR.socket, I32, I32, I32, level="unsupported")
def sys_socket(td, domain, stype, protocol):
    """Implements Linux socket(2): every family is EAFNOSUPPORT for now."""
    return -E.EAFNOSUPPORT


@syscall(NR.socketpair, I32, I32, I32, PTR, level="unsupported")
def sys_socketpair(td, domain, stype, protocol, sv):
    """Implements Linux socketpair(2): every family is EAFNOSUPPORT for now."""
    return -E.EAFNOSUPPORT


def _notsock(td, fd):
    td.lwp_proc.p_fd.get(fd)
    return -E.ENOTSOCK


@syscall(NR.getpeername, I32, PTR, PTR)
def sys_getpeername(td, fd, addr, alen):
    """Implements Linux getpeername(2): no descriptor is a socket (ENOTSOCK)."""
    return _notsock(td, fd)


@syscall(NR.getsockname, I32, PTR, PTR)
def sys_getsockname(td, fd, addr, alen):
    """Implements Linux getsockname(2): no descriptor is a socket (ENOTSOCK)."""
    return _notsock(td, fd)
