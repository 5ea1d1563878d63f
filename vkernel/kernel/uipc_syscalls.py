"""The work behind the socket system calls (BSD sys/kern/uipc_syscalls.c).

Linux counterpart: net/socket.c (__sys_socket, __sys_bind, __sys_accept4,
____sys_sendmsg, ____sys_recvmsg, move_addr_to_kernel/_user) and
net/core/scm.c (control messages: __scm_send, put_cmsg, scm_detach_fds).
The handlers in syscalls/linux64/sys_socket.py decode registers and call
the kern_* functions here, which copy addresses, iovecs, msghdrs and
control messages in and out of guest memory and call the socket layer
(uipc_socket.py) and the unix domain (uipc_usrreq.py).

Only AF_UNIX exists: socket(2) and socketpair(2) answer EAFNOSUPPORT for
every other family, AF_INET and AF_INET6 included.
"""
import struct
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import socket as SK

from . import uipc_usrreq as unp
from .errors import KernelError
from .file import File
from .uipc_socket import Socket, drop_rights, soreceive, sosend, sogetopt, sosetopt
from .usercopy import copyin, copyin_i32, copyout, copyout_i32

SOCK_FLAGS = SK.SOCK_CLOEXEC | SK.SOCK_NONBLOCK
MAX_RW = 0x7FFFF000
SOMAXCONN = SK.SOMAXCONN
NOBODY = (0, 65534, 65534)          # SCM_CREDENTIALS of a message sent without them


class Control:
    """What a sendmsg's control messages carry: Files to pass (not yet
    held) and explicit credentials."""

    __slots__ = ("files", "cred")

    def __init__(self, files=(), cred=None):
        self.files, self.cred = list(files), cred


# -- descriptors ----------------------------------------------------------------------------
def getsock(td, fd):
    """(File, Socket) of a descriptor: EBADF, or ENOTSOCK for other files."""
    fp = td.lwp_proc.p_fd.get(fd)
    if not isinstance(fp.ops, Socket):
        raise KernelError(E.ENOTSOCK)
    return fp, fp.ops


def _socket_file(so, flags):
    fp = File(so, F.O_RDWR | (flags & F.O_NONBLOCK), f"socket:[{so.so_ino}]")
    so.so_file = fp
    return fp


def _install(td, fp, flags):
    try:
        return td.lwp_proc.p_fd.alloc(fp, bool(flags & F.O_CLOEXEC))
    except KernelError:
        fp.drop()
        raise


def _check_create(domain, stype, protocol):
    """__sys_socket_create / __sock_create / unix_create: the type (flags
    split off) once the arguments are valid."""
    flags, stype = stype & ~SK.SOCK_TYPE_MASK, stype & SK.SOCK_TYPE_MASK
    if flags & ~SOCK_FLAGS:
        raise KernelError(E.EINVAL)
    if domain < 0 or domain >= SK.AF_MAX:
        raise KernelError(E.EAFNOSUPPORT)
    if stype < 0 or stype >= SK.SOCK_MAX:
        raise KernelError(E.EINVAL)
    if domain != SK.AF_UNIX:
        raise KernelError(E.EAFNOSUPPORT)
    if protocol and protocol != SK.PF_UNIX:
        raise KernelError(E.EPROTONOSUPPORT)
    return flags, stype


def kern_socket(td, domain, stype, protocol):
    flags, stype = _check_create(domain, stype, protocol)
    return _install(td, _socket_file(unp.unp_socket(td, stype), flags), flags)


def kern_socketpair(td, domain, stype, protocol, usv):
    flags, stype = _check_create(domain, stype, protocol)
    so1, so2 = unp.unp_socket(td, stype), unp.unp_socket(td, stype)
    unp.unp_connect2(td, so1, so2)
    fp2 = _socket_file(so2, flags)
    try:
        fd1 = _install(td, _socket_file(so1, flags), flags)
    except KernelError:
        fp2.drop()
        raise
    fdp = td.lwp_proc.p_fd
    try:
        fd2 = _install(td, fp2, flags)
    except KernelError:
        fdp.close(fd1)
        raise
    try:
        copyout(td, usv, struct.pack("<ii", fd1, fd2))
    except KernelError:
        fdp.close(fd1)
        fdp.close(fd2)
        raise
    return 0


# -- addresses ------------------------------------------------------------------------------
def getsockaddr(td, addr, alen):
    """move_addr_to_kernel: the sockaddr bytes a caller passed."""
    if alen < 0 or alen > SK.SOCKADDR_STORAGE_SIZE:
        raise KernelError(E.EINVAL)
    return copyin(td, addr, alen) if alen else b""


def copyout_sockaddr(td, sa, uaddr, ulen):
    """move_addr_to_user: as much of sa as *ulen allows; *ulen = its length."""
    n = copyin_i32(td, ulen)
    if n < 0:
        raise KernelError(E.EINVAL)
    copyout(td, uaddr, sa[:n])
    copyout_i32(td, ulen, len(sa))


def kern_bind(td, fd, addr, alen):
    _, so = getsock(td, fd)
    return unp.unp_bind(td, so, getsockaddr(td, addr, alen))


def kern_listen(td, fd, backlog):
    _, so = getsock(td, fd)
    if backlog < 0 or backlog > SOMAXCONN:
        backlog = SOMAXCONN
    return unp.unp_listen(td, so, backlog)


def kern_connect(td, fd, addr, alen):
    fp, so = getsock(td, fd)
    sa = getsockaddr(td, addr, alen)
    if so.so_type == SK.SOCK_DGRAM:
        return unp.unp_dgram_connect(td, so, sa)
    return unp.unp_connect(td, so, sa, fp.nonblock)


def kern_accept(td, fd, uaddr, ulen, flags):
    """accept4(2): a descriptor for the next connection, its peer's name at uaddr."""
    if flags & ~SOCK_FLAGS:
        raise KernelError(E.EINVAL)
    fp, so = getsock(td, fd)
    td.lwp_proc.p_fd.lowest_free()               # EMFILE before taking a connection
    newfp = _socket_file(unp.unp_accept(td, so, fp.nonblock), flags)
    if uaddr:
        try:
            copyout_sockaddr(td, unp.unp_peeraddr(newfp.ops), uaddr, ulen)
        except KernelError:
            newfp.drop()
            raise
    return _install(td, newfp, flags)


def kern_getname(td, fd, uaddr, ulen, peer):
    """getsockname(2) / getpeername(2)."""
    _, so = getsock(td, fd)
    copyout_sockaddr(td, unp.unp_peeraddr(so) if peer else unp.unp_sockaddr(so), uaddr, ulen)
    return 0


def kern_shutdown(td, fd, how):
    _, so = getsock(td, fd)
    return so.so_proto.pru_shutdown(so, how)


# -- options --------------------------------------------------------------------------------
def kern_setsockopt(td, fd, level, name, uval, vlen):
    _, so = getsock(td, fd)
    if vlen < 0:
        raise KernelError(E.EINVAL)
    val = copyin(td, uval, min(vlen, 256)) if vlen else b""
    return sosetopt(so, level, name, val, td.lwp_proc.p_ucred)


def kern_getsockopt(td, fd, level, name, uval, ulen):
    _, so = getsock(td, fd)
    n = copyin_i32(td, ulen)
    if n < 0:
        raise KernelError(E.EINVAL)
    val = sogetopt(so, level, name)[:n]
    copyout(td, uval, val)
    copyout_i32(td, ulen, len(val))
    return 0


# -- control messages -----------------------------------------------------------------------
def _cmsgs(buf):
    """(level, type, payload) of each control message (for_each_cmsghdr, CMSG_OK)."""
    off = 0
    while off + SK.CMSGHDR_SIZE <= len(buf):
        clen, level, ctype = SK.CMSGHDR.struct.unpack_from(buf, off)
        if clen < SK.CMSGHDR_SIZE or clen > len(buf) - off:
            raise KernelError(E.EINVAL)
        yield level, ctype, buf[off + SK.CMSGHDR_SIZE:off + clen]
        off += SK.CMSG_ALIGN(clen)


def _scm_rights(td, payload, files):
    fds = struct.unpack(f"<{len(payload) // 4}i", payload[:len(payload) // 4 * 4])
    if len(files) + len(fds) > SK.SCM_MAX_FD:
        raise KernelError(E.EINVAL)
    fdp = td.lwp_proc.p_fd
    return files + [fdp.get(fd) for fd in fds]


def _scm_creds(td, payload):
    """scm_check_creds: only root may claim another pid or ids."""
    if len(payload) != SK.UCRED.size:
        raise KernelError(E.EINVAL)
    pid, uid, gid = SK.UCRED.struct.unpack(payload)
    p = td.lwp_proc
    c = p.p_ucred
    if c.uid != 0 and (pid != p.p_pid or uid not in (c.ruid, c.uid, c.svuid)
                       or gid not in (c.rgid, c.gid, c.svgid)):
        raise KernelError(E.EPERM)
    return (pid, uid, gid)


def getcontrol(td, buf):
    """__scm_send: SCM_RIGHTS and SCM_CREDENTIALS at SOL_SOCKET; other
    levels are ignored, other types are EINVAL."""
    files, cred = [], None
    for level, ctype, payload in _cmsgs(buf):
        if level != SK.SOL_SOCKET:
            continue
        if ctype == SK.SCM_RIGHTS:
            files = _scm_rights(td, payload, files)
        elif ctype == SK.SCM_CREDENTIALS:
            cred = _scm_creds(td, payload)
        else:
            raise KernelError(E.EINVAL)
    return Control(files, cred)


class CmsgOut:
    """The receiver's control buffer being filled (put_cmsg, scm_detach_fds)."""

    def __init__(self, size):
        self.size, self.buf, self.flags = size, bytearray(), 0

    @property
    def left(self):
        return self.size - len(self.buf)

    def put(self, level, ctype, data):
        if self.left < SK.CMSGHDR_SIZE:
            self.flags |= SK.MSG_CTRUNC
            return
        cmlen = SK.CMSG_LEN(len(data))
        if self.left < cmlen:
            self.flags |= SK.MSG_CTRUNC
            cmlen = self.left
        msg = SK.CMSGHDR.pack(cmsg_len=cmlen, cmsg_level=level, cmsg_type=ctype) + data
        self.buf += msg[:cmlen].ljust(min(SK.CMSG_SPACE(len(data)), self.left), b"\0")

    def rights(self, td, files, cloexec):
        """Install what fits of files as descriptors; the rest are closed."""
        room = (self.left - SK.CMSGHDR_SIZE) // 4 if self.left > SK.CMSGHDR_SIZE else 0
        fds = []
        for fp in files[:room]:
            try:
                fds.append(td.lwp_proc.p_fd.alloc(fp, cloexec))
            except KernelError:
                break
        drop_rights(files[len(fds):])
        if fds:
            self.put(SK.SOL_SOCKET, SK.SCM_RIGHTS, struct.pack(f"<{len(fds)}i", *fds))
        if len(fds) < len(files):
            self.flags |= SK.MSG_CTRUNC


def putcontrol(td, so, r, size, flags):
    """scm_recv: credentials (SO_PASSCRED) then descriptors, into a control
    buffer of size bytes; returns (bytes, MSG_CTRUNC or 0)."""
    out = CmsgOut(size)
    passcred = so.opt(SK.SO_PASSCRED)
    if not size:
        if passcred or r.rights:
            out.flags |= SK.MSG_CTRUNC
        drop_rights(r.rights)
        return b"", out.flags
    if passcred:
        out.put(SK.SOL_SOCKET, SK.SCM_CREDENTIALS, SK.UCRED.struct.pack(*(r.cred or NOBODY)))
    if r.rights:
        out.rights(td, r.rights, bool(flags & SK.MSG_CMSG_CLOEXEC))
    return bytes(out.buf), out.flags


# -- sending and receiving --------------------------------------------------------------------
def gather(td, iov):
    return b"".join(copyin(td, base, n) for base, n in iov if n)[:MAX_RW]


def scatter(td, iov, skip, data):
    """Copy data into the iovecs, starting skip bytes in."""
    pos = -skip
    for base, n in iov:
        if pos + n > 0 and pos < len(data):
            lo = max(0, -pos)
            copyout(td, base + lo, data[pos + lo:pos + n])
        pos += n


def kern_sendit(td, fd, iov, sa, control, flags):
    """sendto/sendmsg: control is the raw control buffer (or b"")."""
    fp, so = getsock(td, fd)
    ctl = getcontrol(td, control) if control else None
    return sosend(td, so, gather(td, iov), sa or None, ctl, flags, fp.nonblock)


class RecvResult:
    """What kern_recvit hands back for the caller to copy out."""

    __slots__ = ("n", "addr", "control", "flags")


def _recv_rounds(td, so, iov, flags, nonblock):
    """soreceive once, or (MSG_WAITALL on a stream) until the buffers are
    full; bytes already copied out are kept in td.sstate across waits."""
    total = min(sum(n for _, n in iov), MAX_RW)
    waitall = flags & SK.MSG_WAITALL and so.so_type == SK.SOCK_STREAM and not flags & SK.MSG_PEEK
    st = td.sstate
    copied = st.get("so_got", 0)
    while True:
        r = soreceive(td, so, total - copied, flags, nonblock, copied)
        scatter(td, iov, copied, r.data)
        first = st.setdefault("so_first", (r.addr, r.cred))
        copied += len(r.data)
        if not waitall or not r.data or r.rights or copied >= total:
            r.addr, r.cred = first
            r.length = copied if waitall else r.length
            return r
        st["so_got"] = copied


def kern_recvit(td, fd, iov, flags, controllen=0):
    """recvfrom/recvmsg: returns a RecvResult (n, sender address or None,
    control bytes, msg_flags)."""
    fp, so = getsock(td, fd)
    r = _recv_rounds(td, so, iov, flags, fp.nonblock)
    res = RecvResult()
    res.n, res.addr = r.length, r.addr
    res.control, ctrunc = putcontrol(td, so, r, controllen, flags)
    res.flags = r.flags | ctrunc
    return res


# -- msghdr -----------------------------------------------------------------------------------
def _msg_iov(td, m):
    if m.msg_iovlen > SK.UIO_MAXIOV:
        raise KernelError(E.EMSGSIZE)
    raw = copyin(td, m.msg_iov, m.msg_iovlen * SK.IOVEC_SIZE) if m.msg_iovlen else b""
    return SK.unpack_iovecs(raw, m.msg_iovlen)


def _msghdr(td, umsg):
    m = SK.unpack_msghdr(copyin(td, umsg, SK.MSGHDR_SIZE))
    if m.msg_namelen < 0 and m.msg_name:
        raise KernelError(E.EINVAL)
    if m.msg_controllen > 0x7FFFFFFF:
        raise KernelError(E.ENOBUFS)
    return m


def kern_sendmsg(td, fd, umsg, flags):
    m = _msghdr(td, umsg)
    sa = None
    if m.msg_name and m.msg_namelen:
        sa = getsockaddr(td, m.msg_name, min(m.msg_namelen, SK.SOCKADDR_STORAGE_SIZE))
    control = copyin(td, m.msg_control, m.msg_controllen) if m.msg_controllen else b""
    return kern_sendit(td, fd, _msg_iov(td, m), sa, control, flags)


def kern_recvmsg(td, fd, umsg, flags):
    m = _msghdr(td, umsg)
    clen = m.msg_controllen if m.msg_control else 0
    res = kern_recvit(td, fd, _msg_iov(td, m), flags, clen)
    off = SK.MSGHDR.offsets
    if m.msg_name:
        copyout_sockaddr(td, res.addr or b"", m.msg_name, umsg + off["msg_namelen"])
    if res.control:
        copyout(td, m.msg_control, res.control)
    copyout(td, umsg + off["msg_controllen"], struct.pack("<Q", len(res.control)))
    copyout_i32(td, umsg + off["msg_flags"], res.flags)
    return res.n


def kern_sendmmsg(td, fd, umsgs, vlen, flags):
    """sendmmsg(2): progress survives waits in td.sstate, so a re-run call
    does not send a message twice."""
    vlen = min(vlen, SK.UIO_MAXIOV)
    done = td.sstate.get("mmsg_done", 0)
    while done < vlen:
        hdr = umsgs + done * SK.MMSGHDR_SIZE
        try:
            td.sstate["so_partial"] = done
            n = kern_sendmsg(td, fd, hdr, flags)
        except KernelError:
            if done:
                return done
            raise
        copyout(td, hdr + SK.MMSGHDR_MSG_LEN_OFFSET, struct.pack("<I", n))
        done += 1
        td.sstate["mmsg_done"] = done
        td.sstate.pop("so_first", None)
        for key in [k for k in td.sstate if isinstance(k, tuple) and k[0] == "so_sent"]:
            del td.sstate[key]
    return done


def kern_recvmmsg(td, fd, umsgs, vlen, flags, timeout=None):
    """recvmmsg(2); timeout (seconds) ends it only between messages, as on Linux."""
    vlen = min(vlen, SK.UIO_MAXIOV)
    done = td.sstate.get("mmsg_done", 0)
    if timeout is not None:
        deadline = td.sstate.setdefault("mmsg_deadline", time.monotonic() + timeout)
    while done < vlen and (timeout is None or not done or time.monotonic() < deadline):
        hdr = umsgs + done * SK.MMSGHDR_SIZE
        f = flags | (SK.MSG_DONTWAIT if done and flags & SK.MSG_WAITFORONE else 0)
        try:
            td.sstate["so_partial"] = done
            n = kern_recvmsg(td, fd, hdr, f & ~SK.MSG_WAITFORONE)
        except KernelError:
            if done:
                return done
            raise
        copyout(td, hdr + SK.MMSGHDR_MSG_LEN_OFFSET, struct.pack("<I", n))
        done += 1
        td.sstate["mmsg_done"] = done
        for key in ("so_got", "so_first"):
            td.sstate.pop(key, None)
    return done
