"""Sockets: struct socket as an open file, socket options, soreceive, waiting.

BSD counterpart: sys/kern/uipc_socket.c (socreate, soreceive, sosetopt,
sogetopt, soclose) and sys/kern/sys_socket.c (the socket fileops); Linux's
are net/socket.c and net/core/sock.c, whose semantics guests see.

A `Socket` is the FileOps of a socket descriptor.  What a socket does is
its protocol's business: `so_proto` is the domain's user-request table
(BSD's pr_usrreqs; AF_UNIX's is uipc_usrreq.UNIX_USRREQS) and `so_pcb` its
protocol control block.  Only AF_UNIX exists: socket(2) answers
EAFNOSUPPORT for AF_INET and AF_INET6 (uipc_syscalls.kern_socket).

Waiting follows kern_synch: an operation that must wait calls `sowait`,
which sleeps (tsleep raises Sleep) and the whole syscall runs again after
a wakeup, so every operation decides to wait before it changes anything.
Wait channels, all per socket:

  ("sorcv", so)   data or a connection arrived for so to take (sorwakeup)
  ("sosnd", so)   so's own in-flight bytes went down (sowwakeup)
  ("sopeer", so)  so's queue has room for another datagram or connection
  ("sosel", so)   anything poll may report changed (every wakeup above)

A read or write interrupted by a signal restarts (ERESTARTSYS), or fails
with EINTR when the socket has a timeout (SO_RCVTIMEO / SO_SNDTIMEO), as
on Linux; bytes already moved by this call are its result instead.
"""
import itertools
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import ioctl as IO
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import socket as SK
from vkernel.abi.linux import stat as ST
from vkernel.abi.linux import time as T

from . import kern_sig
from .errors import KernelError
from .file import FileOps
from .kern_synch import tsleep, wakeup
from .kern_sysctl import sysctl_int
from .uipc_sockbuf import Sockbuf
from .usercopy import copyout_i32

# so_state (BSD sys/socketvar.h)
SS_ISCONNECTED = 0x0002       # has (or had: Linux keeps it after the peer goes) a peer
SS_CANTSENDMORE = 0x0010      # shutdown(SHUT_WR), or the peer stopped reading
SS_CANTRCVMORE = 0x0020       # shutdown(SHUT_RD), or the peer stopped writing
SS_ISLISTENING = 0x0100       # listen(2) done: SO_ACCEPTCONN
SS_NOFDREF = 0x0001           # closed: no descriptor refers to it any more
SS_SHUTMASK = SS_CANTSENDMORE | SS_CANTRCVMORE

SOCK_MIN_SNDBUF, SOCK_MIN_RCVBUF = 4608, 2304     # Linux x86-64's floors
SOCKFS_DEV = 8                                     # st_dev of every socket (0:8)
wmem_default = sysctl_int("net.core.wmem_default", 212992, "default SO_SNDBUF")
rmem_default = sysctl_int("net.core.rmem_default", 212992, "default SO_RCVBUF")
wmem_max = sysctl_int("net.core.wmem_max", 212992, "largest SO_SNDBUF a user may set")
rmem_max = sysctl_int("net.core.rmem_max", 212992, "largest SO_RCVBUF a user may set")

_next_ino = itertools.count(4096)

# Boolean and plain integer SOL_SOCKET options kept as they are set.
_FLAG_OPTS = (SK.SO_DEBUG, SK.SO_REUSEADDR, SK.SO_KEEPALIVE, SK.SO_DONTROUTE, SK.SO_BROADCAST,
              SK.SO_OOBINLINE, SK.SO_REUSEPORT, SK.SO_PASSCRED, SK.SO_PASSSEC,
              SK.SO_TIMESTAMP, SK.SO_TIMESTAMPNS, SK.SO_RXQ_OVFL, SK.SO_ZEROCOPY)
_INT_OPTS = (SK.SO_PRIORITY, SK.SO_RCVLOWAT, SK.SO_MARK, SK.SO_BUSY_POLL, SK.SO_INCOMING_CPU)


class Socket(FileOps):
    """struct socket, and the fileops of its descriptors (sys_socket.c)."""

    kind = "socket"

    def __init__(self, stype, proto, cred):
        self.so_type = stype
        self.so_proto = proto             # the domain's usrreqs
        self.so_pcb = None                # the domain's (uipc_usrreq.UnpCb)
        self.so_state = 0
        self.so_error = 0                 # pending error (SO_ERROR), reported once
        self.so_rcv = Sockbuf(rmem_default.value)
        self.so_sndbuf = wmem_default.value
        self.so_wmem = 0                  # bytes sent and not yet read (sk_wmem_alloc)
        self.so_options = {o: 0 for o in _FLAG_OPTS}
        self.so_options.update({o: 0 for o in _INT_OPTS})
        self.so_options[SK.SO_RCVLOWAT] = 1
        self.so_linger = (0, 0)
        self.so_rcvtimeo = self.so_sndtimeo = 0.0   # seconds; 0 waits forever
        self.so_comp = []                 # listening: connections not yet accepted
        self.so_qlimit = 0                # listen backlog
        self.so_uid, self.so_gid = cred.uid, cred.gid
        self.so_peercred = None           # (pid, uid, gid) for SO_PEERCRED
        self.so_ino = next(_next_ino)
        self.so_file = None               # the File of its descriptors (none while pending)

    def __repr__(self):
        return f"<socket:[{self.so_ino}] type {self.so_type} state {self.so_state:#x}>"

    @property
    def connected(self):
        return bool(self.so_state & SS_ISCONNECTED)

    @property
    def listening(self):
        return bool(self.so_state & SS_ISLISTENING)

    def opt(self, name):
        return self.so_options.get(name, 0)

    def take_error(self):
        """sock_error(): the pending error, cleared."""
        err, self.so_error = self.so_error, 0
        return err

    # -- fileops (sys_socket.c soo_*) -------------------------------------------------------
    def read(self, td, fp, n):
        if not n:
            return b""                    # sock_read_iter: "Match SYS5 behaviour"
        r = soreceive(td, self, n, 0, fp.nonblock)
        drop_rights(r.rights)             # read(2) has no room for descriptors
        return r.data

    def write(self, td, fp, data):
        return sosend(td, self, data, None, None, 0, fp.nonblock)

    def poll(self, td, fp, events):
        return self.so_proto.pru_sopoll(self, events)

    def wchans(self, fp):
        return (("sosel", self),)

    def ioctl(self, td, fp, cmd, arg):
        if cmd == IO.SIOCINQ:
            copyout_i32(td, arg, self.so_proto.pru_inq(self))
        elif cmd == IO.SIOCOUTQ:
            copyout_i32(td, arg, self.so_wmem)
        else:
            raise KernelError(E.ENOTTY)
        return 0

    def stat(self, td, fp):
        return {"st_mode": ST.S_IFSOCK | 0o777, "st_ino": self.so_ino, "st_nlink": 1,
                "st_uid": self.so_uid, "st_gid": self.so_gid, "st_blksize": 4096,
                "st_dev": SOCKFS_DEV}

    def close(self, fp):
        soclose(self)


def sosend(td, so, data, sa, control, flags, nonblock):
    """Send through the protocol; a stream that hits a closed or shut down
    peer raises SIGPIPE unless MSG_NOSIGNAL (Linux: SOCK_SEQPACKET and
    SOCK_DGRAM answer EPIPE with no signal)."""
    try:
        return so.so_proto.pru_send(td, so, data, sa, control, flags, nonblock)
    except KernelError as e:
        if e.errno == E.EPIPE and so.so_type == SK.SOCK_STREAM and not flags & SK.MSG_NOSIGNAL:
            p = td.lwp_proc
            kern_sig.tdsignal(td, S.SIGPIPE, S.siginfo_kill(S.SIGPIPE, S.SI_USER, p.p_pid,
                                                            p.p_ucred.ruid))
        raise


def drop_rights(files):
    for fp in files:
        fp.drop()


def soclose(so):
    """The last descriptor is gone (soclose): the protocol lets go of it."""
    if so.so_state & SS_NOFDREF:
        return
    so.so_state |= SS_NOFDREF | SS_SHUTMASK
    so.so_proto.pru_detach(so)
    sowakeup(so)


# -- wakeups and waiting -------------------------------------------------------------------
def sorwakeup(so):
    """Something arrived for so to read (or accept)."""
    wakeup(("sorcv", so))
    wakeup(("sosel", so))


def sowwakeup(so):
    """so may send again: its in-flight bytes went down."""
    wakeup(("sosnd", so))
    wakeup(("sosel", so))


def sopeerwakeup(so):
    """so's queue has room for a datagram or a connection again (peer_wait)."""
    wakeup(("sopeer", so))


def sowakeup(so):
    """so's state changed (connect, shutdown, close): wake every waiter."""
    for what in ("sorcv", "sosnd", "sopeer", "sosel"):
        wakeup((what, so))


def so_timedout(td, timeo):
    """Has this call's SO_*TIMEO deadline passed (after a wait that timed out)?"""
    deadline = td.sstate.get("so_deadline")
    return bool(timeo) and deadline is not None and time.monotonic() >= deadline


def sowait(td, chans, wmesg, timeo, done=0):
    """Sleep until a wakeup on one of chans (never returns).

    timeo is the socket's SO_RCVTIMEO or SO_SNDTIMEO (0: none); done is what
    this call has already moved, its result if a signal interrupts it."""
    deadline = None
    if timeo:
        deadline = td.sstate.setdefault("so_deadline", time.monotonic() + timeo)
    done = done or td.sstate.get("so_partial", 0)     # messages of sendmmsg/recvmmsg
    td.sstate["eintr"] = done if done else (-E.EINTR if timeo else -E.ERESTARTSYS)
    tsleep(td, list(chans), wmesg, deadline)


def cannot_wait(td, nonblock, timeo):
    return nonblock or so_timedout(td, timeo)


# -- receiving (soreceive) ---------------------------------------------------------------------
class SoRecv:
    """What one receive took: bytes, sender address, descriptors, credentials."""

    __slots__ = ("data", "addr", "rights", "cred", "flags", "length")

    def __init__(self):
        self.data, self.addr, self.rights, self.cred = b"", None, [], None
        self.flags = 0                    # MSG_TRUNC for a datagram cut short
        self.length = 0                   # the result: len(data), or the whole datagram's


def soreceive(td, so, n, flags, nonblock, copied=0):
    """Take up to n bytes (one datagram) from so's receive buffer.

    copied is what earlier rounds of this call already delivered (MSG_WAITALL):
    with copied bytes an empty, closed or failing buffer ends the call
    instead of failing it.  Waits, or fails with EAGAIN, while nothing is there.
    """
    if flags & SK.MSG_OOB:
        raise KernelError(E.EOPNOTSUPP)
    nonblock = nonblock or bool(flags & SK.MSG_DONTWAIT)
    if so.so_type == SK.SOCK_STREAM:
        return _soreceive_stream(td, so, n, flags, nonblock, copied)
    return _soreceive_dgram(td, so, n, flags, nonblock)


def _nothing_there(td, so, nonblock, copied, eof_when_nonblock=True):
    """An empty receive buffer: an error, end of file, EAGAIN, or a wait."""
    err = so.take_error()
    if err:
        if copied:
            return SoRecv()
        raise KernelError(err)
    shut = so.so_state & SS_CANTRCVMORE
    if shut and (eof_when_nonblock or not nonblock):
        return SoRecv()
    if cannot_wait(td, nonblock, so.so_rcvtimeo):
        if copied:
            return SoRecv()
        raise KernelError(E.EAGAIN)
    sowait(td, [("sorcv", so)], "sbwait", so.so_rcvtimeo, copied)


def _soreceive_stream(td, so, n, flags, nonblock, copied):
    """unix_stream_read_generic: bytes across records, never gluing data
    from different writers when SO_PASSCRED is on, and stopping after a
    record that carried descriptors."""
    if not so.connected:
        raise KernelError(E.EINVAL)
    if not so.so_rcv:
        return _nothing_there(td, so, nonblock, copied)
    r, peek = SoRecv(), flags & SK.MSG_PEEK
    chunks, got, senders = [], 0, set()
    passcred = so.opt(SK.SO_PASSCRED)
    for i, rec in enumerate(list(so.so_rcv)):
        if i == 0:
            r.addr, r.cred = rec.rec_addr, rec.rec_cred
        elif passcred and rec.rec_cred != r.cred:
            break
        take = min(len(rec), n - got)
        chunks.append(rec.peek(take))
        got += take
        if peek:
            if rec.rec_rights:
                r.rights = [fp.hold() for fp in rec.rec_rights]
                break
        else:
            r.rights, rec.rec_rights = rec.rec_rights, []
            senders.add(so.so_rcv.sbconsume(rec, take))
            if len(rec) or r.rights:
                break
        if got >= n:
            break
    r.data = b"".join(chunks)
    r.length = len(r.data)
    if not passcred:
        r.cred = None
    if senders:
        so.so_proto.pru_rcvd(so, senders)
    return r


def _soreceive_dgram(td, so, n, flags, nonblock):
    """__unix_dgram_recvmsg: one datagram (SOCK_DGRAM, SOCK_SEQPACKET)."""
    seqpacket = so.so_type == SK.SOCK_SEQPACKET
    if seqpacket and not so.connected:
        raise KernelError(E.ENOTCONN)
    rec = so.so_rcv.first()
    if rec is None:
        return _nothing_there(td, so, nonblock, 0, eof_when_nonblock=seqpacket)
    r = SoRecv()
    r.data = rec.peek(n)
    r.addr, r.cred = rec.rec_addr, rec.rec_cred
    if len(r.data) < len(rec):
        r.flags |= SK.MSG_TRUNC
    r.length = len(rec) if flags & SK.MSG_TRUNC else len(r.data)
    if flags & SK.MSG_PEEK:
        r.rights = [fp.hold() for fp in rec.rec_rights]
    else:
        r.rights, rec.rec_rights = rec.rec_rights, []
        so.so_proto.pru_rcvd(so, {so.so_rcv.sbdroprecord()})
    if not so.opt(SK.SO_PASSCRED):
        r.cred = None
    return r


# -- socket options (sosetopt / sogetopt, Linux sock_setsockopt / sk_getsockopt) --------------
def _int_arg(val):
    if len(val) < 4:
        raise KernelError(E.EINVAL)
    return int.from_bytes(val[:4], "little", signed=True)


def _timeval_arg(val):
    if len(val) < T.TIMEVAL.size:
        raise KernelError(E.EINVAL)
    sec, usec = T.unpack_timeval(val)
    if usec < 0 or usec >= 1000000:
        raise KernelError(E.EDOM)
    return 0.0 if sec < 0 else sec + usec / 1e6


def _bufsize(val, limit, floor, force, cred):
    if force and cred.uid != 0:
        raise KernelError(E.EPERM)
    v = _int_arg(val) & 0xFFFFFFFF
    v = min(v, 0x7FFFFFFF // 2) if force else min(v, limit, 0x7FFFFFFF // 2)
    return max(v * 2, floor)


def sosetopt(so, level, name, val, cred):
    """setsockopt(2) at SOL_SOCKET; val is the option's bytes."""
    if level != SK.SOL_SOCKET:
        raise KernelError(E.EOPNOTSUPP)
    if name in (SK.SO_SNDBUF, SK.SO_SNDBUFFORCE):
        so.so_sndbuf = _bufsize(val, wmem_max.value, SOCK_MIN_SNDBUF,
                                name == SK.SO_SNDBUFFORCE, cred)
        sowwakeup(so)
    elif name in (SK.SO_RCVBUF, SK.SO_RCVBUFFORCE):
        so.so_rcv.sb_hiwat = _bufsize(val, rmem_max.value, SOCK_MIN_RCVBUF,
                                      name == SK.SO_RCVBUFFORCE, cred)
    elif name in (SK.SO_RCVTIMEO, SK.SO_SNDTIMEO):
        setattr(so, "so_rcvtimeo" if name == SK.SO_RCVTIMEO else "so_sndtimeo",
                _timeval_arg(val))
    elif name == SK.SO_LINGER:
        if len(val) < SK.LINGER.size:
            raise KernelError(E.EINVAL)
        onoff, secs = SK.LINGER.struct.unpack_from(val)
        so.so_linger = (int(bool(onoff)), secs)
    elif name in _FLAG_OPTS:
        so.so_options[name] = int(bool(_int_arg(val)))
    elif name in _INT_OPTS:
        so.so_options[name] = _int_arg(val)
    else:
        raise KernelError(E.ENOPROTOOPT)
    return 0


def _pack_int(v):
    return int(v).to_bytes(4, "little", signed=True)


def _timeval(secs):
    whole = int(secs)
    return T.pack_timeval(whole, int(round((secs - whole) * 1e6)))


def _peercred(so):
    """struct ucred of the peer; nobody's (pid 0, overflow ids) when none."""
    pid, uid, gid = so.so_peercred or (0, 65534, 65534)
    return SK.UCRED.pack(pid=pid, uid=uid, gid=gid)


def sogetopt(so, level, name):
    """getsockopt(2) at SOL_SOCKET: the option's bytes (the caller truncates)."""
    if level != SK.SOL_SOCKET:
        raise KernelError(E.EOPNOTSUPP)
    simple = {
        SK.SO_TYPE: lambda: so.so_type,
        SK.SO_PROTOCOL: lambda: 0,
        SK.SO_DOMAIN: lambda: so.so_proto.pr_domain,
        SK.SO_ERROR: so.take_error,
        SK.SO_ACCEPTCONN: lambda: so.listening,
        SK.SO_SNDBUF: lambda: so.so_sndbuf,
        SK.SO_RCVBUF: lambda: so.so_rcv.sb_hiwat,
        SK.SO_SNDLOWAT: lambda: 1,
    }
    if name in simple:
        return _pack_int(simple[name]())
    if name in so.so_options:
        return _pack_int(so.so_options[name])
    if name == SK.SO_PEERCRED:
        return _peercred(so)
    if name == SK.SO_LINGER:
        return SK.LINGER.pack(l_onoff=so.so_linger[0], l_linger=so.so_linger[1])
    if name in (SK.SO_RCVTIMEO, SK.SO_SNDTIMEO):
        return _timeval(so.so_rcvtimeo if name == SK.SO_RCVTIMEO else so.so_sndtimeo)
    raise KernelError(E.ENOPROTOOPT)
