"""AF_UNIX sockets on the fake platform (kernel/uipc_*.py): sleeping readers,
acceptors and pollers woken by their peers, a stream send bigger than
SO_SNDBUF that finishes across sleeps (and returns its partial count when a
signal interrupts it), socket nodes in the VFS, SCM_RIGHTS, the collector
of sockets only reachable through themselves, and SIGPIPE."""
import os
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import SLEEPING, FakeKernel, call, retval  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import ioctl as IO  # noqa: E402
from vkernel.abi.linux import poll as P  # noqa: E402
from vkernel.abi.linux import sigframe as SF  # noqa: E402
from vkernel.abi.linux import signal as S  # noqa: E402
from vkernel.abi.linux import socket as SK  # noqa: E402
from vkernel.abi.linux import stat as ST  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.kernel import uipc_usrreq  # noqa: E402
from vkernel.kernel.uipc_socket import SS_NOFDREF  # noqa: E402

HANDLER, RESTORER = 0x400100, 0x400200
MASK64 = (1 << 64) - 1


@pytest.fixture
def k():
    kern = FakeKernel()
    yield kern
    assert not kern.platform.errors
    kern.shutdown()
    uipc_usrreq.unp_names.clear()          # names of sockets the forgotten processes held
    uipc_usrreq.unp_vnodes.clear()


def socketpair(k, td, stype=SK.SOCK_STREAM):
    sv = k.alloc(8)
    assert call(td, NR.socketpair, SK.AF_UNIX, stype, 0, sv) == 0
    return struct.unpack("<ii", k.peek(sv, 8, td))


def sockaddr(k, path):
    sa = SK.pack_sockaddr_un(path.encode() + b"\0")
    return k.put(sa), len(sa)


def sendmsg(k, td, fd, data, fds=(), flags=0):
    iov = k.put(SK.IOVEC.pack(iov_base=k.put(data, td), iov_len=len(data)), td)
    ctl = SK.pack_cmsg(SK.SOL_SOCKET, SK.SCM_RIGHTS, struct.pack(f"<{len(fds)}i", *fds))
    msg = k.put(SK.MSGHDR.pack(msg_iov=iov, msg_iovlen=1, msg_control=k.put(ctl, td),
                               msg_controllen=len(ctl)), td)
    return call(td, NR.sendmsg, fd, msg, flags)


def recvmsg(k, td, fd, n=64):
    """recvmsg into fresh buffers: (result, data, received fds)."""
    buf, ctl = k.alloc(n), k.alloc(256)
    iov = k.put(SK.IOVEC.pack(iov_base=buf, iov_len=n), td)
    msg = k.put(SK.MSGHDR.pack(msg_iov=iov, msg_iovlen=1, msg_control=ctl,
                               msg_controllen=256), td)
    r = call(td, NR.recvmsg, fd, msg, 0)
    clen = SK.MSGHDR.unpack(k.peek(msg, SK.MSGHDR_SIZE, td)).msg_controllen
    fds = []
    if clen:
        length, level, ctype = SK.CMSGHDR.struct.unpack(k.peek(ctl, SK.CMSGHDR_SIZE, td))
        raw = k.peek(ctl + SK.CMSGHDR_SIZE, length - SK.CMSGHDR_SIZE, td)
        fds = list(struct.unpack(f"<{len(raw) // 4}i", raw))
    return r, k.peek(buf, max(r, 0), td), fds


def small_sndbuf(k, td, fd):
    """SO_SNDBUF at its floor (4608 bytes of data in flight)."""
    assert call(td, NR.setsockopt, fd, SK.SOL_SOCKET, SK.SO_SNDBUF, k.put(b"\1\0\0\0"), 4) == 0
    out, olen = k.alloc(4), k.put(struct.pack("<i", 4))
    assert call(td, NR.getsockopt, fd, SK.SOL_SOCKET, SK.SO_SNDBUF, out, olen) == 0
    return k.i32(out)


def socket_of(td, fd):
    return td.lwp_proc.p_fd.get(fd).ops


def test_stream_reader_sleeps_until_the_peer_writes(k):
    a, b = socketpair(k, k.td)
    child = k.fork()
    buf = k.alloc(16)
    assert call(k.td, NR.read, a, buf, 16) == SLEEPING
    assert k.td.td_wmesg == "sbwait"
    assert call(child, NR.write, b, k.put(b"hello", child), 5) == 5
    k.run()
    assert retval(k.td) == 5 and k.peek(buf, 5) == b"hello"
    assert call(k.td, NR.recvfrom, a, buf, 16, SK.MSG_DONTWAIT, 0, 0) == -E.EAGAIN


def test_stream_send_bigger_than_sndbuf_finishes_across_sleeps(k):
    a, b = socketpair(k, k.td)
    assert small_sndbuf(k, k.td, a) == 4608
    child = k.fork()
    data = bytes(range(256)) * 80                        # 20480 bytes
    assert call(k.td, NR.sendto, a, k.put(data), len(data), 0, 0, 0) == SLEEPING
    got, buf = b"", k.alloc(65536)
    while len(got) < len(data):
        n = call(child, NR.read, b, buf, 65536)
        assert n > 0
        got += k.peek(buf, n, child)
        k.run()                                           # the sender goes on
    assert retval(k.td) == len(data) and got == data


def test_signal_ends_a_partial_send_with_its_count(k):
    a, b = socketpair(k, k.td)
    small_sndbuf(k, k.td, a)
    child = k.fork()
    act = k.put(S.pack_sigaction(HANDLER, S.SA_RESTORER, RESTORER, 0))
    assert call(k.td, NR.rt_sigaction, S.SIGUSR1, act, 0, 8) == 0
    assert call(k.td, NR.write, a, k.put(b"x" * 20000), 20000) == SLEEPING
    assert call(child, NR.kill, 1, S.SIGUSR1) == 0
    k.run()                                     # the handler runs; write(2) returned 4608
    assert k.td.regs.rip == HANDLER
    frame = SF.unpack_rt_sigframe(k.peek(k.td.regs.rsp, SF.RT_SIGFRAME_SIZE))
    assert frame["regs"]["rax"] == 4608
    inq = k.alloc(4)
    assert call(child, NR.ioctl, b, IO.SIOCINQ, inq) == 0 and k.i32(inq, child) == 4608


def test_bind_makes_a_socket_node_that_unlink_removes(k):
    td = k.td
    srv = call(td, NR.socket, SK.AF_UNIX, SK.SOCK_STREAM, 0)
    addr, alen = sockaddr(k, "/srv")
    assert call(td, NR.bind, srv, addr, alen) == 0
    st = k.alloc(256)
    assert call(td, NR.newfstatat, F.AT_FDCWD, k.cstr("/srv"), st, 0) == 0
    mode = struct.unpack_from("<I", k.peek(st, 256), 24)[0]
    assert mode == ST.S_IFSOCK | 0o755
    assert call(td, NR.bind, call(td, NR.socket, SK.AF_UNIX, SK.SOCK_STREAM, 0),
                addr, alen) == -E.EADDRINUSE
    cli = call(td, NR.socket, SK.AF_UNIX, SK.SOCK_STREAM, 0)
    assert call(td, NR.connect, cli, addr, alen) == -E.ECONNREFUSED     # not listening
    assert call(td, NR.listen, srv, 1) == 0
    assert call(td, NR.connect, cli, addr, alen) == 0
    assert call(td, NR.accept4, srv, 0, 0, SK.SOCK_CLOEXEC) > cli
    assert call(td, NR.unlink, k.cstr("/srv")) == 0
    cli2 = call(td, NR.socket, SK.AF_UNIX, SK.SOCK_STREAM, 0)
    assert call(td, NR.connect, cli2, addr, alen) == -E.ENOENT
    assert socket_of(td, srv) in uipc_usrreq.unp_vnodes.values()  # still bound, nameless
    assert call(td, NR.close, srv) == 0
    assert not uipc_usrreq.unp_vnodes


def test_accept_sleeps_until_a_client_connects(k):
    td = k.td
    srv = call(td, NR.socket, SK.AF_UNIX, SK.SOCK_SEQPACKET, 0)
    addr, alen = k.put(SK.pack_sockaddr_un(b"\0uipc-test")), 2 + len(b"\0uipc-test")
    assert call(td, NR.bind, srv, addr, alen) == 0
    assert call(td, NR.listen, srv, 0) == 0
    child = k.fork()
    assert call(td, NR.accept, srv, 0, 0) == SLEEPING and td.td_wmesg == "accept"
    cli = call(child, NR.socket, SK.AF_UNIX, SK.SOCK_SEQPACKET, 0)
    assert call(child, NR.connect, cli, addr, alen) == 0
    k.run()
    conn = retval(td)
    assert conn > srv
    assert call(child, NR.write, cli, k.put(b"record", child), 6) == 6
    r, data, _ = recvmsg(k, td, conn)
    assert (r, data) == (6, b"record")


def test_poll_sleeps_until_the_peer_writes(k):
    a, b = socketpair(k, k.td, SK.SOCK_DGRAM)
    child = k.fork()
    pfd = k.put(P.pack_pollfd(a, P.POLLIN))
    assert call(k.td, NR.poll, pfd, 1, -1) == SLEEPING
    assert call(child, NR.write, b, k.put(b"d", child), 1) == 1
    k.run()
    assert retval(k.td) == 1
    assert P.unpack_pollfds(k.peek(pfd, 8), 1)[0][2] == P.POLLIN


def test_scm_rights_hands_over_a_pipe_end(k):
    td = k.td
    a, b = socketpair(k, td)
    fds = k.alloc(8)
    assert call(td, NR.pipe2, fds, 0) == 0
    rfd, wfd = struct.unpack("<ii", k.peek(fds, 8))
    assert sendmsg(k, td, a, b"fd", [rfd]) == 2
    assert call(td, NR.close, rfd) == 0                  # in flight, still open
    r, data, got = recvmsg(k, td, b)
    assert (r, data, len(got)) == (2, b"fd", 1)
    assert call(td, NR.write, wfd, k.put(b"through"), 7) == 7
    buf = k.alloc(8)
    assert call(td, NR.read, got[0], buf, 8) == 7 and k.peek(buf, 7) == b"through"
    assert sendmsg(k, td, a, b"bad", [77]) == -E.EBADF


def test_a_socket_sent_over_itself_is_collected(k):
    td = k.td
    a, b = socketpair(k, td, SK.SOCK_DGRAM)
    so_b = socket_of(td, b)
    assert sendmsg(k, td, a, b"self", [b]) == 4          # b's own File now queued on b
    assert call(td, NR.close, b) == 0
    assert not so_b.so_state & SS_NOFDREF                # alive: its reference is in flight
    assert call(td, NR.close, a) == 0                    # unp_gc finds b unreachable
    assert so_b.so_state & SS_NOFDREF and not so_b.so_rcv


@pytest.mark.parametrize("stype,flags,signalled", [
    (SK.SOCK_STREAM, 0, True), (SK.SOCK_STREAM, SK.MSG_NOSIGNAL, False),
    (SK.SOCK_SEQPACKET, 0, False)], ids=["stream", "nosignal", "seqpacket"])
def test_epipe_and_sigpipe(k, stype, flags, signalled):
    td = k.td
    block = k.put(struct.pack("<Q", S.sigmask(S.SIGPIPE)))
    assert call(td, NR.rt_sigprocmask, S.SIG_BLOCK, block, 0, 8) == 0
    a, b = socketpair(k, td, stype)
    assert call(td, NR.close, b) == 0
    assert call(td, NR.sendto, a, k.put(b"x"), 1, flags, 0, 0) == -E.EPIPE
    pend = k.alloc(8)
    assert call(td, NR.rt_sigpending, pend, 8) == 0
    assert bool(k.u64(pend) & S.sigmask(S.SIGPIPE)) == signalled


class _Db:
    """Just what a show command uses of ddb: printf."""

    def __init__(self):
        self.out = ""

    def printf(self, text):
        self.out += text


def test_ddb_show_unpcb_lists_sockets_names_and_queues(k):
    td = k.td
    srv = call(td, NR.socket, SK.AF_UNIX, SK.SOCK_DGRAM, 0)
    addr, alen = sockaddr(k, "/log")
    assert call(td, NR.bind, srv, addr, alen) == 0
    cli = call(td, NR.socket, SK.AF_UNIX, SK.SOCK_DGRAM, 0)
    assert call(td, NR.sendto, cli, k.put(b"hello"), 5, 0, addr, alen) == 5
    db = _Db()
    uipc_usrreq.db_show_unpcb(db, "", "")
    rows = {line.split()[1]: line.split() for line in db.out.splitlines()[1:]}
    s_srv, s_cli = socket_of(td, srv), socket_of(td, cli)
    srv_row, cli_row = rows[f"socket:[{s_srv.so_ino}]"], rows[f"socket:[{s_cli.so_ino}]"]
    assert srv_row[2] == "dgram" and srv_row[4] == "1/5" and srv_row[-1] == "/log"
    assert cli_row[5] == "5" and cli_row[-1] == "-"           # 5 bytes in flight, unbound
