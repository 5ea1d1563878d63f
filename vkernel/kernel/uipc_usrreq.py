"""AF_UNIX sockets: names, connections, sending, shutdown, poll (the unix domain).

BSD counterpart: sys/kern/uipc_usrreq.c (the unpcb, uipc_* user requests,
unp_bind/unp_connect/unp_connect2/unp_disconnect, unp_internalize); the
semantics are Linux's net/unix/af_unix.c, which guests expect.  Generic
socket code (options, soreceive, waiting) is in uipc_socket.py; the
descriptor garbage collector in uipc_gc.py.

Names.  A filesystem name (sun_path not starting with NUL) is a socket
node made with mknod in the VFS (stat shows S_IFSOCK, unlink removes it,
the socket stays bound to its vnode: `unp_vnodes`).  An abstract name
(leading NUL, Linux only) lives in `unp_names`, per socket type, and goes
away with the socket.  bind with just the family, or SO_PASSCRED on an
unbound socket that connects or sends, autobinds to an abstract "\\0XXXXX".

Data.  A send appends a Record to the receiving socket's buffer; the
sender's so_wmem pays for it until it is read (Linux's sk_wmem_alloc), so
SO_SNDBUF is the flow control of streams.  A datagram receiver that is not
connected back to its sender also limits its queue to
net.unix.max_dgram_qlen messages.  A stream send of n bytes finishes when
all n are queued: partial progress is kept in td.sstate across sleeps and
is the result if a signal or timeout ends the call.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import poll as P
from vkernel.abi.linux import socket as SK
from vkernel.abi.linux import stat as ST
from vkernel.ddb.db_command import db_show_command
from vkernel.vfs import vfs_syscalls as V
from vkernel.vfs.namei import W_OK, check_access
from vkernel.vfs.vnode import VSOCK

from . import kern_vfs, uipc_gc
from .errors import KernelError
from .kern_sysctl import sysctl_int
from .uipc_sockbuf import Record
from .uipc_socket import (SS_CANTRCVMORE, SS_CANTSENDMORE, SS_ISCONNECTED, SS_ISLISTENING,
                          SS_NOFDREF, SS_SHUTMASK, Socket, cannot_wait, sopeerwakeup,
                          sorwakeup, sowait, sowakeup, sowwakeup)

max_dgram_qlen = sysctl_int("net.unix.max_dgram_qlen", 10,
                            "datagrams queued for a receiver not connected to the sender")
CONNECTED_TYPES = (SK.SOCK_STREAM, SK.SOCK_SEQPACKET)
SUN_PATH = SK.SOCKADDR_UN_PATH_OFFSET          # 2: where sun_path starts
FAMILY = SK.AF_UNIX.to_bytes(2, "little")

unp_vnodes = {}         # socket node vnode -> the Socket bound to it
unp_names = {}          # (type, abstract sockaddr bytes) -> Socket
_autobind_seq = [0]


class UnpCb:
    """struct unpcb: the AF_UNIX protocol control block of a socket."""

    __slots__ = ("unp_socket", "unp_conn", "unp_refs", "unp_vnode", "unp_addr", "unp_listener")

    def __init__(self, so):
        self.unp_socket = so
        self.unp_conn = None              # the peer Socket
        self.unp_refs = set()             # datagram sockets connected to this one
        self.unp_vnode = None             # the socket node of a filesystem name
        self.unp_addr = None              # sockaddr bytes once bound
        self.unp_listener = None          # a pending connection's listening socket


def td_peercred(td):
    """(pid, euid, egid): what SO_PEERCRED reports of td (init_peercred)."""
    p = td.lwp_proc
    return (p.p_pid, p.p_ucred.uid, p.p_ucred.gid)


def td_scmcred(td):
    """(pid, uid, gid) with the real ids: a default SCM_CREDENTIALS."""
    p = td.lwp_proc
    return (p.p_pid, p.p_ucred.ruid, p.p_ucred.rgid)


def unp_socket(td, stype):
    """pru_attach for socket(2): a new AF_UNIX socket (SOCK_RAW is SOCK_DGRAM)."""
    if stype == SK.SOCK_RAW:
        stype = SK.SOCK_DGRAM
    if stype not in (SK.SOCK_STREAM, SK.SOCK_DGRAM, SK.SOCK_SEQPACKET):
        raise KernelError(E.ESOCKTNOSUPPORT)
    so = Socket(stype, UNIX_USRREQS, td.lwp_proc.p_ucred)
    so.so_pcb = UnpCb(so)
    uipc_gc.unp_register(so)
    return so


def unp_connect2(td, so1, so2):
    """socketpair(2): join two fresh sockets back to back."""
    so1.so_pcb.unp_conn, so2.so_pcb.unp_conn = so2, so1
    if so1.so_type == SK.SOCK_DGRAM:
        so1.so_pcb.unp_refs.add(so2)
        so2.so_pcb.unp_refs.add(so1)
    so1.so_peercred = so2.so_peercred = td_peercred(td)
    so1.so_state |= SS_ISCONNECTED
    so2.so_state |= SS_ISCONNECTED


# -- names ---------------------------------------------------------------------------------
def _validate(sa):
    if len(sa) <= SUN_PATH or len(sa) > SK.SOCKADDR_UN.size or sa[:2] != FAMILY:
        raise KernelError(E.EINVAL)


def _path_of(sa):
    """unix_mkname_bsd: sun_path up to its NUL, as a guest path."""
    return sa[SUN_PATH:].split(b"\0", 1)[0]


def _vfs_path(path):
    return path.decode("utf-8", "surrogateescape")


def unp_bind(td, so, sa):
    """bind(2) to a filesystem or an abstract name (or autobind)."""
    if len(sa) == SUN_PATH and sa[:2] == FAMILY:
        return unp_autobind(so)
    _validate(sa)
    if sa[SUN_PATH]:
        _bind_path(td, so, _path_of(sa))
    else:
        _bind_abstract(so, sa)
    return 0


def _bind_path(td, so, path):
    ctx, cwd = kern_vfs.ctx(td), kern_vfs.dirvp(td, F.AT_FDCWD)
    try:
        vp = V.kern_mknodat(ctx, cwd, _vfs_path(path), ST.S_IFSOCK | 0o777)
    except KernelError as e:
        raise KernelError(E.EADDRINUSE if e.errno == E.EEXIST else e.errno) from None
    unp = so.so_pcb
    if unp.unp_addr is not None:              # bound already: take the node back
        V.kern_unlinkat(ctx, cwd, _vfs_path(path))
        raise KernelError(E.EINVAL)
    unp.unp_vnode = vp
    unp.unp_addr = FAMILY + path + b"\0"
    unp_vnodes[vp] = so


def _bind_abstract(so, sa):
    if so.so_pcb.unp_addr is not None:
        raise KernelError(E.EINVAL)
    if (so.so_type, sa) in unp_names:
        raise KernelError(E.EADDRINUSE)
    unp_names[(so.so_type, sa)] = so
    so.so_pcb.unp_addr = sa


def unp_autobind(so):
    """unix_autobind: a free abstract name "\\0" + five hex digits."""
    if so.so_pcb.unp_addr is not None:
        return 0
    for _ in range(0x100000):
        _autobind_seq[0] = (_autobind_seq[0] + 1) & 0xFFFFF
        sa = FAMILY + b"\0" + b"%05x" % _autobind_seq[0]
        if (so.so_type, sa) not in unp_names:
            _bind_abstract(so, sa)
            return 0
    raise KernelError(E.ENOSPC)


def _unbind(so):
    unp = so.so_pcb
    if unp.unp_vnode is not None:
        if unp_vnodes.get(unp.unp_vnode) is so:
            del unp_vnodes[unp.unp_vnode]
        unp.unp_vnode = None
    elif unp.unp_addr is not None and unp_names.get((so.so_type, unp.unp_addr)) is so:
        del unp_names[(so.so_type, unp.unp_addr)]


def unp_lookup(td, so, sa):
    """unix_find_other: the live socket a name leads to."""
    _validate(sa)
    if not sa[SUN_PATH]:
        other = unp_names.get((so.so_type, sa))
        if other is None:
            raise KernelError(E.ECONNREFUSED)
        return other
    vp, _ = kern_vfs.lookup(td, _vfs_path(_path_of(sa)))
    check_access(vp, td.lwp_proc.p_ucred, W_OK)
    other = unp_vnodes.get(vp) if vp.vtype == VSOCK else None
    if other is None:
        raise KernelError(E.ECONNREFUSED)
    if other.so_type != so.so_type:
        raise KernelError(E.EPROTOTYPE)
    return other


def unp_sockaddr(so):
    """getsockname: the bound name, or just the family."""
    return so.so_pcb.unp_addr or FAMILY


def unp_peeraddr(so):
    """getpeername: the peer's name (ENOTCONN without a peer)."""
    peer = so.so_pcb.unp_conn
    if peer is None:
        raise KernelError(E.ENOTCONN)
    return unp_sockaddr(peer)


# -- connections -------------------------------------------------------------------------
def unp_listen(td, so, backlog):
    if so.so_type not in CONNECTED_TYPES:
        raise KernelError(E.EOPNOTSUPP)
    if so.so_pcb.unp_addr is None or so.connected:
        raise KernelError(E.EINVAL)
    if backlog > so.so_qlimit:
        sopeerwakeup(so)
    so.so_qlimit = backlog
    so.so_state |= SS_ISLISTENING
    so.so_peercred = td_peercred(td)
    return 0


def unp_connect(td, so, sa, nonblock):
    """unix_stream_connect: queue a new server-side socket on the listener.

    The connection is complete at once; accept(2) hands the server side out.
    A full backlog makes the caller wait (EAGAIN without blocking)."""
    _validate(sa)
    if so.opt(SK.SO_PASSCRED):
        unp_autobind(so)
    other = unp_lookup(td, so, sa)
    if not other.listening or other.so_state & SS_CANTRCVMORE:
        raise KernelError(E.ECONNREFUSED)
    if len(other.so_comp) > other.so_qlimit:
        if cannot_wait(td, nonblock, so.so_sndtimeo):
            raise KernelError(E.EAGAIN)
        sowait(td, [("sopeer", other)], "unpconn", so.so_sndtimeo)
    if so.connected or so.listening:
        raise KernelError(E.EISCONN if so.connected else E.EINVAL)
    newso = Socket(so.so_type, UNIX_USRREQS, td.lwp_proc.p_ucred)
    newso.so_pcb = UnpCb(newso)
    newso.so_pcb.unp_listener = other
    newso.so_pcb.unp_addr = other.so_pcb.unp_addr
    newso.so_peercred = td_peercred(td)
    so.so_peercred = other.so_peercred
    so.so_pcb.unp_conn, newso.so_pcb.unp_conn = newso, so
    so.so_state |= SS_ISCONNECTED
    newso.so_state |= SS_ISCONNECTED
    uipc_gc.unp_register(newso)
    other.so_comp.append(newso)
    sorwakeup(other)
    sowakeup(so)
    return 0


def unp_accept(td, so, nonblock):
    """unix_accept: take the oldest pending connection (waits for one)."""
    if so.so_type not in CONNECTED_TYPES:
        raise KernelError(E.EOPNOTSUPP)
    if not so.listening:
        raise KernelError(E.EINVAL)
    if not so.so_comp:
        if so.so_state & SS_CANTRCVMORE:
            raise KernelError(E.EINVAL)
        if cannot_wait(td, nonblock, so.so_rcvtimeo):
            raise KernelError(E.EAGAIN)
        sowait(td, [("sorcv", so)], "accept", so.so_rcvtimeo)
    newso = so.so_comp.pop(0)
    newso.so_pcb.unp_listener = None
    newso.so_options[SK.SO_PASSCRED] = so.opt(SK.SO_PASSCRED)
    sopeerwakeup(so)
    return newso


def unp_dgram_connect(td, so, sa):
    """unix_dgram_connect: set (or with AF_UNSPEC clear) the default peer."""
    if len(sa) < 2:
        raise KernelError(E.EINVAL)
    other = None
    if int.from_bytes(sa[:2], "little") != SK.AF_UNSPEC:
        _validate(sa)
        if so.opt(SK.SO_PASSCRED):
            unp_autobind(so)
        other = unp_lookup(td, so, sa)
        if not _may_send(so, other):
            raise KernelError(E.EPERM)
    old = so.so_pcb.unp_conn
    _set_dgram_peer(so, other)
    if old is not None and old is not other:
        _dgram_disconnected(so, old)
    return 0


def _set_dgram_peer(so, other):
    old = so.so_pcb.unp_conn
    if old is not None:
        old.so_pcb.unp_refs.discard(so)
    so.so_pcb.unp_conn = other
    if other is None:
        so.so_state &= ~SS_ISCONNECTED
    else:
        other.so_pcb.unp_refs.add(so)
        so.so_state |= SS_ISCONNECTED
    sowakeup(so)


def _dgram_disconnected(so, other):
    """A datagram socket left its peer: what the old peer sent is dropped,
    and a peer connected back to it learns so (ECONNRESET)."""
    if not so.so_rcv:
        return
    for sender in so.so_rcv.sbflush():
        sowwakeup(sender)
    sopeerwakeup(so)
    if not other.so_state & SS_NOFDREF and other.so_pcb.unp_conn is so:
        other.so_error = E.ECONNRESET
        sowakeup(other)


def _may_send(so, other):
    peer = other.so_pcb.unp_conn
    return peer is None or peer is so


# -- sending --------------------------------------------------------------------------------
def _record(td, so, other, data, control, first):
    """A record of data from so, with the rights held now (unp_internalize)
    and credentials when either side passes them (maybe_add_creds)."""
    rights = [fp.hold() for fp in control.files] if control and first else []
    cred = control.cred if control and control.cred else None
    if cred is None and (so.opt(SK.SO_PASSCRED) or other.opt(SK.SO_PASSCRED)):
        cred = td_scmcred(td)
    if rights:
        uipc_gc.unp_inflight_add(rights)
    return Record(data, so, so.so_pcb.unp_addr, rights, cred)


def _deliver(other, rec):
    other.so_rcv.sbappend(rec)
    sorwakeup(other)


def uipc_send(td, so, data, sa, control, flags, nonblock):
    """pru_send: queue data (with control) for the peer or the named socket;
    returns the bytes sent.  EPIPE is the caller's to turn into SIGPIPE."""
    if flags & SK.MSG_OOB:
        raise KernelError(E.EOPNOTSUPP)
    nonblock = nonblock or bool(flags & SK.MSG_DONTWAIT)
    if so.so_type == SK.SOCK_STREAM:
        return _send_stream(td, so, data, sa, control, nonblock)
    return _send_dgram(td, so, data, sa, control, nonblock)


def _send_stream(td, so, data, sa, control, nonblock):
    """unix_stream_sendmsg: as much as SO_SNDBUF allows at a time, until all is queued."""
    if sa is not None:
        raise KernelError(E.EISCONN if so.connected else E.EOPNOTSUPP)
    other = so.so_pcb.unp_conn
    if other is None:
        raise KernelError(E.ENOTCONN)
    if so.so_state & SS_CANTSENDMORE:
        raise KernelError(E.EPIPE)
    key = ("so_sent", so.so_ino)
    sent = td.sstate.get(key, 0)
    while sent < len(data):
        if other.so_state & (SS_NOFDREF | SS_CANTRCVMORE):
            if sent:
                return sent
            raise KernelError(E.EPIPE)
        room = so.so_sndbuf - so.so_wmem
        if room <= 0:
            if cannot_wait(td, nonblock, so.so_sndtimeo):
                if sent:
                    return sent
                raise KernelError(E.EAGAIN)
            sowait(td, [("sosnd", so)], "sbwait", so.so_sndtimeo, sent)
        chunk = data[sent:sent + room]
        _deliver(other, _record(td, so, other, chunk, control, sent == 0))
        sent += len(chunk)
        td.sstate[key] = sent
    return sent


def _dgram_target(td, so, sa):
    if so.so_type == SK.SOCK_SEQPACKET:
        err = so.take_error()
        if err:
            raise KernelError(err)
        if not so.connected:
            raise KernelError(E.ENOTCONN)
        sa = None
    if sa is not None:
        _validate(sa)
    elif so.so_pcb.unp_conn is None:
        raise KernelError(E.ENOTCONN)
    return sa


def _send_dgram(td, so, data, sa, control, nonblock):
    """unix_dgram_sendmsg (SOCK_DGRAM and SOCK_SEQPACKET): one message, whole."""
    sa = _dgram_target(td, so, sa)
    if so.opt(SK.SO_PASSCRED):
        unp_autobind(so)
    if len(data) > so.so_sndbuf - 32:
        raise KernelError(E.EMSGSIZE)
    if so.so_state & SS_CANTSENDMORE:         # sock_alloc_send_pskb
        raise KernelError(E.EPIPE)
    if so.so_wmem >= so.so_sndbuf:
        if cannot_wait(td, nonblock, so.so_sndtimeo):
            raise KernelError(E.EAGAIN)
        sowait(td, [("sosnd", so)], "sbwait", so.so_sndtimeo)
    other = unp_lookup(td, so, sa) if sa is not None else so.so_pcb.unp_conn
    _check_receiver(so, other)
    if other is not so and other.so_pcb.unp_conn is not so \
            and len(other.so_rcv) > max_dgram_qlen.value:
        if cannot_wait(td, nonblock, so.so_sndtimeo):
            raise KernelError(E.EAGAIN)
        sowait(td, [("sopeer", other)], "unpdgram", so.so_sndtimeo)
    _deliver(other, _record(td, so, other, data, control, True))
    return len(data)


def _check_receiver(so, other):
    if not _may_send(so, other):
        raise KernelError(E.EPERM)
    if other.so_state & SS_NOFDREF:
        if so.so_type == SK.SOCK_SEQPACKET:
            raise KernelError(E.EPIPE)
        _set_dgram_peer(so, None)         # the peer is gone: disconnect
        _dgram_disconnected(so, other)
        raise KernelError(E.ECONNREFUSED)
    if other.so_state & SS_CANTRCVMORE:
        raise KernelError(E.EPIPE)


def uipc_rcvd(so, senders):
    """pru_rcvd: so's reader took data; its senders may send again."""
    for sender in senders:
        if sender is not None:
            sowwakeup(sender)
    sopeerwakeup(so)
    for s in so.so_pcb.unp_refs:
        sowwakeup(s)


# -- shutdown and close ---------------------------------------------------------------------
def uipc_shutdown(so, how):
    """unix_shutdown: SHUT_RD, SHUT_WR or SHUT_RDWR here and, on a
    connection, the other direction at the peer."""
    if how not in (SK.SHUT_RD, SK.SHUT_WR, SK.SHUT_RDWR):
        raise KernelError(E.EINVAL)
    rd, wr = how != SK.SHUT_WR, how != SK.SHUT_RD
    so.so_state |= (SS_CANTRCVMORE if rd else 0) | (SS_CANTSENDMORE if wr else 0)
    sowakeup(so)
    other = so.so_pcb.unp_conn
    if other is not None and so.so_type in CONNECTED_TYPES:
        other.so_state |= (SS_CANTSENDMORE if rd else 0) | (SS_CANTRCVMORE if wr else 0)
        sowakeup(other)
    return 0


def uipc_detach(so, embryo=False):
    """unix_release_sock: the socket is closed (or a pending connection is
    dropped with its listener).  The peer of a connection sees end of file
    and EPIPE, and ECONNRESET if this side left data unread."""
    unp = so.so_pcb
    so.so_state |= SS_NOFDREF | SS_SHUTMASK
    _unbind(so)
    other, unp.unp_conn = unp.unp_conn, None
    if other is not None:
        if so.so_type in CONNECTED_TYPES:
            other.so_state |= SS_SHUTMASK
            if so.so_rcv or embryo:
                other.so_error = E.ECONNRESET
        other.so_pcb.unp_refs.discard(so)
        sowakeup(other)
    for s in list(unp.unp_refs):          # they learn it at their next send
        sowakeup(s)
    pending, so.so_comp = so.so_comp, []
    for newso in pending:
        uipc_detach(newso, embryo=True)
    for sender in so.so_rcv.sbflush():
        sowwakeup(sender)
    sowakeup(so)
    uipc_gc.unp_gc()


# -- poll and ioctl -------------------------------------------------------------------------
def _recvq_full(so):
    return len(so.so_rcv) > max_dgram_qlen.value


def uipc_sopoll(so, events):
    """unix_poll / unix_dgram_poll."""
    m = P.POLLERR if so.so_error else 0
    shut = so.so_state & SS_SHUTMASK
    if shut == SS_SHUTMASK:
        m |= P.POLLHUP
    if shut & SS_CANTRCVMORE:
        m |= P.POLLRDHUP | P.POLLIN | P.POLLRDNORM
    if so.so_rcv or so.so_comp:
        m |= P.POLLIN | P.POLLRDNORM
    if so.so_type in CONNECTED_TYPES and not so.connected and not so.listening:
        m |= P.POLLHUP
    if _writable(so):
        m |= P.POLLOUT | P.POLLWRNORM | P.POLLWRBAND
    return m


def _writable(so):
    if so.listening or so.so_wmem * 4 > so.so_sndbuf:
        return False
    other = so.so_pcb.unp_conn
    if so.so_type == SK.SOCK_STREAM or other is None:
        return True
    return other.so_pcb.unp_conn is so or other.so_state & SS_NOFDREF or not _recvq_full(other)


def uipc_inq(so):
    """SIOCINQ: bytes queued (a datagram socket: the next datagram's size)."""
    if so.listening:
        raise KernelError(E.EINVAL)
    if so.so_type in CONNECTED_TYPES:
        return so.so_rcv.sb_cc
    first = so.so_rcv.first()
    return len(first) if first is not None else 0


class UnixUsrreqs:
    """struct pr_usrreqs of the unix domain: what the generic socket code
    (uipc_socket.py) calls for an AF_UNIX socket."""

    pr_domain = SK.AF_UNIX
    pru_send = staticmethod(uipc_send)
    pru_rcvd = staticmethod(uipc_rcvd)
    pru_shutdown = staticmethod(uipc_shutdown)
    pru_detach = staticmethod(uipc_detach)
    pru_sopoll = staticmethod(uipc_sopoll)
    pru_inq = staticmethod(uipc_inq)


UNIX_USRREQS = UnixUsrreqs()


# -- ddb ---------------------------------------------------------------------------------------
_TYPES = {SK.SOCK_STREAM: "stream", SK.SOCK_DGRAM: "dgram", SK.SOCK_SEQPACKET: "seqpacket"}


def _label(so):
    return f"socket:[{so.so_ino}]" if so is not None else "-"


def _name(sa):
    """A bound name as ls -l and ss print it: a path, or @abstract."""
    if not sa or len(sa) <= SUN_PATH:
        return "-"
    path = sa[SUN_PATH:]
    return ("@" + path[1:].decode("latin-1") if path[:1] == b"\0"
            else path.rstrip(b"\0").decode("utf-8", "replace"))


@db_show_command("unpcb")
def db_show_unpcb(db, arg, modif):
    """show unpcb: every AF_UNIX socket (FreeBSD's show unpcb): its unpcb,
    type, so_state, queued records/bytes, bytes in flight, peer and name."""
    socks = sorted(uipc_gc.unp_sockets(), key=lambda so: so.so_ino)
    db.printf("           unpcb socket          type      state  rcv       wmem  "
              "peer            name\n")
    for so in socks:
        unp = so.so_pcb
        rcv = f"{len(so.so_rcv)}/{so.so_rcv.sb_cc}"
        db.printf(f"{id(unp):#16x} {_label(so):<15s} {_TYPES.get(so.so_type, '?'):<9s} "
                  f"{so.so_state:#06x} {rcv:<9s} {so.so_wmem:5d} {_label(unp.unp_conn):<15s} "
                  f"{_name(unp.unp_addr)}\n")
