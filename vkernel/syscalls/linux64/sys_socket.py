"""Socket syscalls (Linux net/socket.c): AF_UNIX only.

The handlers decode their arguments and call the workers of
vkernel.kernel.uipc_syscalls (BSD's uipc_syscalls.c), which drive the
socket layer (uipc_socket.py) and the unix domain (uipc_usrreq.py).
AF_UNIX supports SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET; every other
family, AF_INET and AF_INET6 included, is EAFNOSUPPORT, which programs take
as "no such network here" (glibc's nscd probe, bash's /dev/tcp).
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import time as T
from vkernel.kernel import uipc_syscalls as U
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin
from vkernel.syscalls.table import FD, I32, NR, PARTIAL, PTR, U32, U64, syscall

UNIX_ONLY = "AF_UNIX only: AF_INET and AF_INET6 are EAFNOSUPPORT"


@syscall(NR.socket, I32, I32, I32, level=PARTIAL, note=UNIX_ONLY)
def sys_socket(td, domain, stype, protocol):
    """Implements Linux socket(2) for AF_UNIX (stream, datagram, seqpacket)."""
    return U.kern_socket(td, domain, stype, protocol)


@syscall(NR.socketpair, I32, I32, I32, PTR, level=PARTIAL, note=UNIX_ONLY)
def sys_socketpair(td, domain, stype, protocol, sv):
    """Implements Linux socketpair(2) for AF_UNIX."""
    return U.kern_socketpair(td, domain, stype, protocol, sv)


@syscall(NR.bind, FD, PTR, I32)
def sys_bind(td, fd, addr, alen):
    """Implements Linux bind(2): filesystem, abstract and automatic names."""
    return U.kern_bind(td, fd, addr, alen)


@syscall(NR.listen, FD, I32)
def sys_listen(td, fd, backlog):
    """Implements Linux listen(2)."""
    return U.kern_listen(td, fd, backlog)


@syscall(NR.connect, FD, PTR, I32)
def sys_connect(td, fd, addr, alen):
    """Implements Linux connect(2)."""
    return U.kern_connect(td, fd, addr, alen)


@syscall(NR.accept, FD, PTR, PTR)
def sys_accept(td, fd, addr, alen):
    """Implements Linux accept(2)."""
    return U.kern_accept(td, fd, addr, alen, 0)


@syscall(NR.accept4, FD, PTR, PTR, I32)
def sys_accept4(td, fd, addr, alen, flags):
    """Implements Linux accept4(2) (SOCK_CLOEXEC, SOCK_NONBLOCK)."""
    return U.kern_accept(td, fd, addr, alen, flags)


@syscall(NR.getsockname, FD, PTR, PTR)
def sys_getsockname(td, fd, addr, alen):
    """Implements Linux getsockname(2)."""
    return U.kern_getname(td, fd, addr, alen, peer=False)


@syscall(NR.getpeername, FD, PTR, PTR)
def sys_getpeername(td, fd, addr, alen):
    """Implements Linux getpeername(2)."""
    return U.kern_getname(td, fd, addr, alen, peer=True)


@syscall(NR.shutdown, FD, I32)
def sys_shutdown(td, fd, how):
    """Implements Linux shutdown(2)."""
    return U.kern_shutdown(td, fd, how)


@syscall(NR.setsockopt, FD, I32, I32, PTR, I32, level=PARTIAL, note="SOL_SOCKET options")
def sys_setsockopt(td, fd, level, name, val, vlen):
    """Implements Linux setsockopt(2) at SOL_SOCKET."""
    return U.kern_setsockopt(td, fd, level, name, val, vlen)


@syscall(NR.getsockopt, FD, I32, I32, PTR, PTR, level=PARTIAL, note="SOL_SOCKET options")
def sys_getsockopt(td, fd, level, name, val, vlen):
    """Implements Linux getsockopt(2) at SOL_SOCKET."""
    return U.kern_getsockopt(td, fd, level, name, val, vlen)


@syscall(NR.sendto, FD, PTR, U64, U32, PTR, I32)
def sys_sendto(td, fd, buf, n, flags, addr, alen):
    """Implements Linux sendto(2) (send(2) is sendto with no address)."""
    sa = U.getsockaddr(td, addr, alen) if addr else None
    return U.kern_sendit(td, fd, [(buf, min(n, U.MAX_RW))], sa, b"", flags)


@syscall(NR.recvfrom, FD, PTR, U64, U32, PTR, PTR)
def sys_recvfrom(td, fd, buf, n, flags, addr, alen):
    """Implements Linux recvfrom(2) (recv(2) is recvfrom with no address)."""
    res = U.kern_recvit(td, fd, [(buf, min(n, U.MAX_RW))], flags)
    if addr:
        U.copyout_sockaddr(td, res.addr or b"", addr, alen)
    return res.n


@syscall(NR.sendmsg, FD, PTR, U32)
def sys_sendmsg(td, fd, msg, flags):
    """Implements Linux sendmsg(2) with SCM_RIGHTS and SCM_CREDENTIALS."""
    return U.kern_sendmsg(td, fd, msg, flags)


@syscall(NR.recvmsg, FD, PTR, U32)
def sys_recvmsg(td, fd, msg, flags):
    """Implements Linux recvmsg(2) with SCM_RIGHTS and SCM_CREDENTIALS."""
    return U.kern_recvmsg(td, fd, msg, flags)


@syscall(NR.sendmmsg, FD, PTR, U32, U32)
def sys_sendmmsg(td, fd, msgs, vlen, flags):
    """Implements Linux sendmmsg(2)."""
    return U.kern_sendmmsg(td, fd, msgs, vlen, flags)


@syscall(NR.recvmmsg, FD, PTR, U32, U32, PTR)
def sys_recvmmsg(td, fd, msgs, vlen, flags, timeout):
    """Implements Linux recvmmsg(2) (the timeout is checked between messages, as on Linux)."""
    secs = None
    if timeout:
        sec, nsec = T.unpack_timespec(copyin(td, timeout, T.TIMESPEC.size))
        if not T.timespec_valid(sec, nsec):
            raise KernelError(E.EINVAL)
        secs = sec + nsec / 1e9
    return U.kern_recvmmsg(td, fd, msgs, vlen, flags, secs)
