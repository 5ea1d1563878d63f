"""Unit tests for vkernel.tty: the n_tty line discipline, TtyFileOps, the
terminal ioctls and the host console.

Fakes: real Proc/Lwp/Pgrp/Session objects from vkernel.kernel.proc with a
fake guest memory behind copyin/copyout, a recording kern_sig.gsignal, a
fresh sleep queue per test and a list sink.  Line-editing and output cases
are also run through a real host pty (os.openpty) and must echo and read
exactly what Linux's n_tty does.
"""
import errno
import fcntl
import os
import select
import struct
import sys
import termios
import time
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from vkernel.abi.linux import errno as E                     # noqa: E402
from vkernel.abi.linux import fcntl as F                     # noqa: E402
from vkernel.abi.linux import ioctl as I                     # noqa: E402
from vkernel.abi.linux import signal as S                    # noqa: E402
from vkernel.abi.linux import termios as T                   # noqa: E402
from vkernel.kernel import kern_proc, kern_sig, kern_synch   # noqa: E402
from vkernel.kernel.errors import KernelError                # noqa: E402
from vkernel.kernel.file import POLLIN, POLLOUT, File        # noqa: E402
from vkernel.kernel.kern_synch import Sleep                  # noqa: E402
from vkernel.kernel.proc import SACTIVE, Lwp, Proc, SigAct   # noqa: E402
from vkernel.tty import n_tty                                # noqa: E402
from vkernel.tty import tty as tty_mod                       # noqa: E402
from vkernel.tty.console import Console                      # noqa: E402
from vkernel.tty.tty import Tty, TtyFileOps                  # noqa: E402
from vkernel.tty.tty_tty import CttyOps                      # noqa: E402

BUF = 0x10000          # a guest address for ioctl arguments


# -- fakes -------------------------------------------------------------------------
class Memory:
    """A flat guest address space (the `space` of a vmspace)."""

    def __init__(self):
        self.bytes = bytearray(1 << 20)

    def read(self, addr, n):
        return bytes(self.bytes[addr:addr + n])

    def write(self, addr, data):
        self.bytes[addr:addr + len(data)] = data


class Clock:
    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture(autouse=True)
def kernel(monkeypatch):
    """Fresh process tables and sleep queues; gsignal records (pgid, sig)."""
    monkeypatch.setattr(kern_proc, "allproc", {})
    monkeypatch.setattr(kern_proc, "pgrphash", {})
    monkeypatch.setattr(kern_synch, "sched", kern_synch.SleepQueues())
    sigs = []
    monkeypatch.setattr(kern_sig, "gsignal", lambda pgid, sig, info=None: sigs.append((pgid, sig)))
    return types.SimpleNamespace(signals=sigs)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    fake = types.SimpleNamespace(monotonic=c.monotonic, time=time.time, time_ns=time.time_ns)
    for mod in (tty_mod, n_tty, kern_synch):
        monkeypatch.setattr(mod, "time", fake)
    return c


def mkproc(pid, parent=None, pgid=None, setsid=False, uid=0):
    """A live process in group pgid (default: its own) and an Lwp for it."""
    p = Proc(pid, parent)
    p.p_stat = SACTIVE
    p.p_ucred.uid = p.p_ucred.ruid = uid
    p.p_vmspace = types.SimpleNamespace(space=Memory())
    if parent is not None:
        parent.p_children.append(p)
        p.p_pgrp = parent.p_pgrp
        parent.p_pgrp.pg_members.add(p)
    kern_proc.proc_insert(p)
    kern_proc.enterpgrp(p, pgid or pid, setsid)
    td = Lwp(p, pid, None)
    p.p_lwps[pid] = td
    return td


def setup_session():
    """A session leader (pid 10, the ctty's owner) and a child (pid 11) in
    its own group; returns (tty, sink, leader td, child td)."""
    out = []
    tp = Tty(out.append)
    leader = mkproc(10, setsid=True)
    child = mkproc(11, parent=leader.lwp_proc)
    assert tp.acquire_ctty(leader.lwp_proc)
    return tp, out, leader, child


def fopen(tp, flags=F.O_RDWR):
    return File(TtyFileOps(tp), flags)


def ioctl(td, fp, cmd, arg=BUF):
    return fp.ops.ioctl(td, fp, cmd, arg)


def mem(td):
    return td.lwp_proc.p_vmspace.space


def read_all_lines(tp):
    return b"".join(tp.t_canq) if tp.canonical else bytes(tp.t_rawq)


# -- the line discipline ---------------------------------------------------------------
def test_canonical_editing():
    tp, out, *_ = setup_session()
    tp.input(b"helo\x7flo\n")                 # VERASE
    tp.input(b"junk\x15ok\n")                 # VKILL
    tp.input(b"one two\x17three\n")           # VWERASE
    tp.input(b"partial")
    assert list(tp.t_canq) == [b"hello\n", b"ok\n", b"one three\n"]
    assert tp.t_rawq == b"partial"
    tp.input(b"\x04")                          # VEOF completes without a terminator
    tp.input(b"\x04")                          # ... and on an empty line is end of file
    assert list(tp.t_canq)[-2:] == [b"partial", b""]


def test_canonical_read_one_line_at_a_time():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    tp.input(b"first line\nsecond\n\x04")
    assert fp.ops.read(leader, fp, 5) == b"first"
    assert fp.ops.read(leader, fp, 100) == b" line\n"
    assert fp.ops.read(leader, fp, 100) == b"second\n"
    assert fp.ops.read(leader, fp, 100) == b""          # ^D on an empty line
    with pytest.raises(Sleep):
        fp.ops.read(leader, fp, 100)


def test_echo_and_echoctl():
    tp, out, *_ = setup_session()
    tp.input(b"a\x01b\x7f\n")
    assert b"".join(out) == b"a^Ab\b \b\r\n"
    out.clear()
    tp.t_lflag &= ~T.ECHOCTL
    tp.input(b"\x01\n")
    assert b"".join(out) == b"\x01\r\n"
    out.clear()
    tp.t_lflag &= ~T.ECHO
    tp.input(b"secret\n")
    assert out == []
    tp.t_lflag |= T.ECHONL
    tp.input(b"x\n")
    assert b"".join(out) == b"\r\n"


def test_max_canon_drops_but_echoes():
    tp, out, *_ = setup_session()
    tp.input(b"a" * 4094 + b"bcd\n")
    line = tp.t_canq[0]
    assert len(line) == n_tty.MAX_CANON and line.endswith(b"ab\n")
    assert len(b"".join(out)) == 4097 + 2


@pytest.mark.parametrize("char, sig", [(b"\x03", S.SIGINT), (b"\x1c", S.SIGQUIT),
                                       (b"\x1a", S.SIGTSTP)])
def test_isig_signals_foreground_group_and_flushes(kernel, char, sig):
    tp, out, leader, child = setup_session()
    tp.t_pgid = 11
    tp.input(b"line\npartial")
    tp.input(char + b"x")
    assert kernel.signals == [(11, sig)]
    assert not tp.t_canq and tp.t_rawq == b"x"
    assert b"".join(out).endswith(b"^" + bytes([char[0] ^ 0x40]) + b"x")


def test_isig_noflsh_and_isig_off(kernel):
    tp, out, *_ = setup_session()
    tp.t_lflag |= T.NOFLSH
    tp.input(b"keep\x03")
    assert kernel.signals == [(10, S.SIGINT)] and tp.t_rawq == b"keep"
    tp.t_lflag &= ~T.ISIG
    tp.input(b"\x03")
    assert len(kernel.signals) == 1 and tp.t_rawq == b"keep\x03"


def test_lnext_takes_next_byte_literally(kernel):
    tp, out, *_ = setup_session()
    tp.input(b"\x16\x03\x16\x7f\n")
    assert tp.t_canq[0] == b"\x03\x7f\n" and kernel.signals == []


def test_input_mapping():
    tp, out, *_ = setup_session()
    tp.input(b"a\r")                       # ICRNL
    assert tp.t_canq[-1] == b"a\n"
    tp.t_iflag |= T.IGNCR
    tp.input(b"b\r\n")
    assert tp.t_canq[-1] == b"b\n"
    tp.t_iflag = T.ISTRIP
    tp.input(b"\xe3\n")
    assert tp.t_canq[-1] == b"c\n"


def test_ixon_stops_and_starts_output():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    tp.input(b"\x13")
    assert fp.ops.write(leader, fp, b"held\n") == 5
    assert out == []
    ioctl(leader, fp, I.TIOCOUTQ)
    assert struct.unpack("<i", mem(leader).read(BUF, 4))[0] == 6
    tp.input(b"\x11")
    assert b"".join(out) == b"held\r\n" and not tp.t_outq


def test_big_write_and_held_output_limit():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    big = b"x" * (n_tty.OUTQ_MAX * 2)
    assert fp.ops.write(leader, fp, big) == len(big)
    tp.input(b"\x13")
    assert fp.ops.write(leader, fp, big) == n_tty.OUTQ_MAX
    with pytest.raises(Sleep):
        fp.ops.write(leader, fp, b"more")
    fp.flags |= F.O_NONBLOCK
    expect_errno(E.EAGAIN, fp.ops.write, leader, fp, b"more")
    assert not fp.ops.poll(leader, fp, POLLOUT)


def test_input_eof_completes_partial_line():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    tp.input(b"no newline")
    tp.input_eof()
    assert fp.ops.read(leader, fp, 100) == b"no newline"
    assert fp.ops.read(leader, fp, 100) == b""
    assert fp.ops.poll(leader, fp, POLLIN) & POLLIN


# -- output processing ------------------------------------------------------------
@pytest.mark.parametrize("oflag, data, expect", [
    (T.OPOST | T.ONLCR, b"a\nb\n", b"a\r\nb\r\n"),
    (0, b"a\nb\n", b"a\nb\n"),
    (T.ONLCR, b"a\n", b"a\n"),                                  # no OPOST
    (T.OPOST | T.OCRNL, b"a\rb", b"a\nb"),
    (T.OPOST | T.ONLCR | T.OLCUC, b"hi\n", b"HI\r\n"),
    (T.OPOST | T.XTABS, b"ab\tc", b"ab      c"),
    (T.OPOST | T.ONOCR, b"\rx\r", b"x\r"),
])
def test_output_processing(oflag, data, expect):
    tp, out, leader, _ = setup_session()
    tp.t_oflag = oflag
    fp = fopen(tp)
    assert fp.ops.write(leader, fp, data) == len(data)
    assert b"".join(out) == expect


# -- non-canonical reads: VMIN / VTIME ------------------------------------------------------
def raw_mode(tp, vmin, vtime):
    tp.set_termios(tp.t_iflag, tp.t_oflag, tp.t_cflag, tp.t_lflag & ~(T.ICANON | T.ECHO),
                   [*tp.t_cc[:T.VTIME], vtime, vmin, *tp.t_cc[T.VMIN + 1:]])


def test_vmin_vtime_zero_polls():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    raw_mode(tp, 0, 0)
    assert fp.ops.read(leader, fp, 10) == b""
    tp.input(b"ab")
    assert fp.ops.read(leader, fp, 10) == b"ab"


def test_vmin_waits_for_enough_bytes():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    raw_mode(tp, 3, 0)
    tp.input(b"ab")
    with pytest.raises(Sleep):
        fp.ops.read(leader, fp, 10)
    assert leader.td_wchans == ((tp, "in"),)
    tp.input(b"c")
    assert leader in kern_synch.sched.runq
    assert fp.ops.read(leader, fp, 10) == b"abc"
    tp.input(b"xy")
    assert fp.ops.read(leader, fp, 2) == b"xy"        # min(VMIN, n)


def test_vtime_overall_timeout(clock):
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    raw_mode(tp, 0, 5)
    with pytest.raises(Sleep):
        fp.ops.read(leader, fp, 10)
    assert kern_synch.sched.next_deadline() == pytest.approx(1000.5)
    clock.now += 0.3
    with pytest.raises(Sleep):                         # re-run keeps its deadline
        fp.ops.read(leader, fp, 10)
    clock.now += 0.2
    kern_synch.sched.run_callouts()
    assert leader.td_wakeup == kern_synch.WAKE_TIMEOUT
    assert fp.ops.read(leader, fp, 10) == b""


def test_vtime_interbyte_timeout(clock):
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    raw_mode(tp, 4, 1)
    with pytest.raises(Sleep):                         # no byte yet: no timer
        fp.ops.read(leader, fp, 10)
    assert kern_synch.sched.next_deadline() is None
    tp.input(b"a")
    with pytest.raises(Sleep):
        fp.ops.read(leader, fp, 10)
    assert kern_synch.sched.next_deadline() == pytest.approx(1000.1)
    clock.now += 0.1
    assert fp.ops.read(leader, fp, 10) == b"a"


def test_nonblocking_read():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp, F.O_RDWR | F.O_NONBLOCK)
    with pytest.raises(KernelError) as ei:
        fp.ops.read(leader, fp, 10)
    assert ei.value.errno == E.EAGAIN
    raw_mode(tp, 5, 0)
    tp.input(b"ab")
    assert fp.ops.read(leader, fp, 10) == b"ab"        # partial data, no wait


def test_mode_switch_moves_data():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    tp.input(b"line\npart")
    raw_mode(tp, 1, 0)
    assert fp.ops.read(leader, fp, 100) == b"line\npart"


def test_poll():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    assert fp.ops.poll(leader, fp, POLLIN | POLLOUT) == POLLOUT
    tp.input(b"abc")
    assert not fp.ops.poll(leader, fp, POLLIN)          # no complete line yet
    tp.input(b"\n")
    assert fp.ops.poll(leader, fp, POLLIN) & POLLIN
    assert fp.ops.wchans(fp) == ((tp, "in"), (tp, "out"))


# -- job control ------------------------------------------------------------------------------
def test_background_read_gets_sigttin(kernel):
    tp, out, leader, child = setup_session()
    fp = fopen(tp)
    tp.input(b"data\n")
    with pytest.raises(KernelError) as ei:
        fp.ops.read(child, fp, 10)
    assert ei.value.errno == E.ERESTARTSYS
    assert kernel.signals == [(11, S.SIGTTIN)]
    assert tp.t_canq[0] == b"data\n"                   # nothing consumed


def test_background_read_eio_when_ignored_blocked_or_orphaned(kernel):
    tp, out, leader, child = setup_session()
    fp = fopen(tp)
    child.lwp_proc.p_sigacts[S.SIGTTIN] = SigAct(S.SIG_IGN)
    with pytest.raises(KernelError) as ei:
        fp.ops.read(child, fp, 10)
    assert ei.value.errno == E.EIO
    child.lwp_proc.p_sigacts[S.SIGTTIN] = SigAct()
    child.lwp_sigmask = S.sigmask(S.SIGTTIN)
    with pytest.raises(KernelError) as ei:
        fp.ops.read(child, fp, 10)
    assert ei.value.errno == E.EIO
    child.lwp_sigmask = 0
    child.lwp_proc.p_pptr = None                        # now an orphaned group
    with pytest.raises(KernelError) as ei:
        fp.ops.read(child, fp, 10)
    assert ei.value.errno == E.EIO
    assert kernel.signals == []


def test_background_write_and_tostop(kernel):
    tp, out, leader, child = setup_session()
    fp = fopen(tp)
    assert fp.ops.write(child, fp, b"ok") == 2
    tp.t_lflag |= T.TOSTOP
    with pytest.raises(KernelError) as ei:
        fp.ops.write(child, fp, b"no")
    assert ei.value.errno == E.ERESTARTSYS and kernel.signals == [(11, S.SIGTTOU)]
    child.lwp_sigmask = S.sigmask(S.SIGTTOU)            # blocked SIGTTOU: allowed
    assert fp.ops.write(child, fp, b"ok") == 2


def test_session_exit_hangs_up_foreground(kernel):
    tp, out, leader, child = setup_session()
    tp.t_pgid = 11
    sess = leader.lwp_proc.p_session
    tp.session_exit(sess)
    assert kernel.signals == [(11, S.SIGHUP), (11, S.SIGCONT)]
    assert sess.s_ttyp is None and tp.t_session is None and tp.t_pgid == 0


# -- ioctls ---------------------------------------------------------------------------------------
def test_tcgets_tcsets_round_trip():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    assert ioctl(leader, fp, I.TCGETS) == 0
    t = T.unpack_termios(mem(leader).read(BUF, T.TERMIOS_SIZE))
    assert t.c_lflag == T.DEFAULT_LFLAG and t.c_cc == T.DEFAULT_CC_BYTES
    cc = bytearray(t.c_cc)
    cc[T.VMIN], cc[T.VINTR] = 5, 7
    mem(leader).write(BUF, T.pack_termios(t.c_iflag, t.c_oflag, t.c_cflag,
                                          t.c_lflag & ~(T.ICANON | T.ECHO), cc=bytes(cc)))
    assert ioctl(leader, fp, I.TCSETS) == 0
    assert not tp.canonical and tp.t_cc[T.VMIN] == 5
    mem(leader).write(BUF, bytes(T.TERMIOS_SIZE))
    ioctl(leader, fp, I.TCGETS)
    t2 = T.unpack_termios(mem(leader).read(BUF, T.TERMIOS_SIZE))
    assert t2.c_lflag == T.DEFAULT_LFLAG & ~(T.ICANON | T.ECHO) and t2.c_cc == bytes(cc)


def test_tcsetsf_flushes_input_and_tcgets2_speeds():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    tp.input(b"typeahead\n")
    ioctl(leader, fp, I.TCGETS)
    ioctl(leader, fp, I.TCSETSF)
    assert not tp.t_canq
    ioctl(leader, fp, I.TCGETS2)
    t = T.unpack_termios2(mem(leader).read(BUF, T.TERMIOS2_SIZE))
    assert (t.c_ispeed, t.c_ospeed) == (38400, 38400)
    mem(leader).write(BUF, T.pack_termios2(cflag=T.BOTHER | T.CS8 | T.CREAD,
                                           ispeed=12345, ospeed=12345))
    ioctl(leader, fp, I.TCSETS2)
    assert (tp.t_ispeed, tp.t_ospeed) == (12345, 12345)


def test_tcsetsw_waits_for_held_output():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    ioctl(leader, fp, I.TCGETS)
    tp.input(b"\x13")
    fp.ops.write(leader, fp, b"x")
    with pytest.raises(Sleep):
        ioctl(leader, fp, I.TCSETSW)
    tp.input(b"\x11")
    assert leader in kern_synch.sched.runq
    assert ioctl(leader, fp, I.TCSETSW) == 0


def test_winsize_and_sigwinch(kernel):
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    mem(leader).write(BUF, T.pack_winsize(50, 132))
    ioctl(leader, fp, I.TIOCSWINSZ)
    ioctl(leader, fp, I.TIOCSWINSZ)                      # unchanged: no signal
    assert kernel.signals == [(10, S.SIGWINCH)]
    mem(leader).write(BUF, bytes(8))
    ioctl(leader, fp, I.TIOCGWINSZ)
    assert T.unpack_winsize(mem(leader).read(BUF, 8))[:2] == (50, 132)


def getpgrp(td, fp):
    ioctl(td, fp, I.TIOCGPGRP)
    return struct.unpack("<i", mem(td).read(BUF, 4))[0]


def setpgrp(td, fp, pgid):
    mem(td).write(BUF, struct.pack("<i", pgid))
    return ioctl(td, fp, I.TIOCSPGRP)


def expect_errno(err, fn, *args):
    with pytest.raises(KernelError) as ei:
        fn(*args)
    assert ei.value.errno == err


def test_tiocspgrp_tiocgpgrp_rules():
    tp, out, leader, child = setup_session()
    fp = fopen(tp)
    assert getpgrp(leader, fp) == 10
    assert setpgrp(leader, fp, 11) == 0 and tp.t_pgid == 11
    assert getpgrp(child, fp) == 11
    expect_errno(E.ESRCH, setpgrp, child, fp, 99)
    expect_errno(E.EINVAL, setpgrp, child, fp, -1)
    other = mkproc(20, setsid=True)                       # another session
    expect_errno(E.EPERM, setpgrp, child, fp, 20)
    expect_errno(E.ENOTTY, setpgrp, other, fp, 20)        # not its ctty
    expect_errno(E.ENOTTY, getpgrp, other, fp)
    assert tp.t_pgid == 11


def test_tiocspgrp_from_background_sends_sigttou(kernel):
    tp, out, leader, child = setup_session()
    fp = fopen(tp)
    expect_errno(E.ERESTARTSYS, setpgrp, child, fp, 11)
    assert kernel.signals == [(11, S.SIGTTOU)]
    child.lwp_sigmask = S.sigmask(S.SIGTTOU)              # how shells do it
    assert setpgrp(child, fp, 11) == 0


def test_tiocsctty_tiocnotty_tiocgsid(kernel):
    out = []
    tp = Tty(out.append)
    fp = fopen(tp)
    leader = mkproc(30, setsid=True, uid=1000)
    member = mkproc(31, parent=leader.lwp_proc, pgid=30)
    expect_errno(E.EPERM, ioctl, member, fp, I.TIOCSCTTY, 0)      # not a leader
    expect_errno(E.ENOTTY, ioctl, leader, fp, I.TIOCGSID)
    assert ioctl(leader, fp, I.TIOCSCTTY, 0) == 0
    ioctl(member, fp, I.TIOCGSID)
    assert struct.unpack("<i", mem(member).read(BUF, 4))[0] == 30
    thief = mkproc(40, setsid=True, uid=1000)
    expect_errno(E.EPERM, ioctl, thief, fp, I.TIOCSCTTY, 1)       # not root
    thief.lwp_proc.p_ucred.uid = 0
    assert ioctl(thief, fp, I.TIOCSCTTY, 1) == 0                  # root steals
    assert leader.lwp_proc.p_session.s_ttyp is None
    assert thief.lwp_proc.p_session.s_ttyp is tp
    assert ioctl(thief, fp, I.TIOCNOTTY, 0) == 0
    assert kernel.signals == [(40, S.SIGHUP), (40, S.SIGCONT)]
    assert tp.t_session is None


def test_open_acquires_ctty_unless_noctty():
    tp = Tty([].append)
    leader = mkproc(50, setsid=True)
    fp = File(TtyFileOps(tp), F.O_RDWR | F.O_NOCTTY)
    fp.ops.open(leader, fp)
    assert tp.t_session is None
    fp = fopen(tp)
    fp.ops.open(leader, fp)
    assert tp.t_session is leader.lwp_proc.p_session and tp.t_pgid == 50


def test_dev_tty_binds_to_ctty():
    tp, out, leader, child = setup_session()
    fp = File(CttyOps(), F.O_RDWR)
    fp.ops.open(child, fp)
    assert isinstance(fp.ops, TtyFileOps) and fp.ops.tty is tp
    loner = mkproc(60, setsid=True)                       # a session without a ctty
    fp = File(CttyOps(), F.O_RDWR)
    expect_errno(E.ENXIO, fp.ops.open, loner, fp)


def test_misc_ioctls():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    tp.input(b"abc\nde")
    ioctl(leader, fp, I.FIONREAD)
    assert struct.unpack("<i", mem(leader).read(BUF, 4))[0] == 4
    mem(leader).write(BUF, struct.pack("<i", 1))
    ioctl(leader, fp, I.FIONBIO)
    assert fp.nonblock
    assert ioctl(leader, fp, I.TCFLSH, T.TCIFLUSH) == 0 and not tp.readable()
    expect_errno(E.EINVAL, ioctl, leader, fp, I.TCFLSH, 7)
    assert ioctl(leader, fp, I.TCSBRK, 1) == 0
    expect_errno(E.ENOTTY, ioctl, leader, fp, I.TIOCGPTN)
    mem(leader).write(BUF, b"z")
    assert ioctl(leader, fp, I.TIOCSTI) == 0 and tp.t_rawq == b"z"
    leader.lwp_proc.p_ucred.uid = 1000
    expect_errno(E.EPERM, ioctl, leader, fp, I.TIOCSTI)
    out.clear()
    assert ioctl(leader, fp, I.TCXONC, T.TCOOFF) == 0
    fp.ops.write(leader, fp, b"q")
    tp.input(b"\x11")                                      # ^Q does not undo TCOOFF
    assert out == []
    ioctl(leader, fp, I.TCXONC, T.TCOON)
    assert out == [b"q"]


def test_stat_is_a_character_device():
    tp, out, leader, _ = setup_session()
    fp = fopen(tp)
    st = fp.ops.stat(leader, fp)
    assert st["st_mode"] & 0o170000 == 0o020000
    assert st["st_rdev"] == tp.t_rdev


# -- the same input through the host's n_tty ----------------------------------------------
def _drain(fd, quiet=0.1):
    data = b""
    while select.select([fd], [], [], quiet)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def host_ntty(iflag_set, lflag_clear, data):
    """(echo, readable input) of a real Linux pty slave given data."""
    m, s = os.openpty()
    try:
        a = termios.tcgetattr(s)
        a[0] |= iflag_set
        a[3] &= ~(lflag_clear | termios.ISIG)      # never signal ourselves
        termios.tcsetattr(s, termios.TCSANOW, a)
        os.write(m, data)
        time.sleep(0.02)
        echo = _drain(m)
        os.set_blocking(s, False)
        got = b""
        while True:
            try:
                chunk = os.read(s, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            got += chunk
        return echo, got
    finally:
        os.close(m)
        os.close(s)


EDIT_CASES = [
    (0, 0, b"ab\tc\x7f\x7f\x7f\n"),
    (0, 0, b"foo bar  \x17x\n"),
    (0, 0, b"a_b c\x17\x17\n"),
    (0, 0, b"hello\x15world\n"),
    (0, 0, b"\x01\x7f\x16\x03\x12\n"),
    (0, 0, b"\x01\t\x7f\n"),
    (0, 0, b"ab\x16\x7f\x7f\n"),
    (0, 0, b"ab\rcd\x12\n"),
    (0, T.ECHOCTL, b"\x01\x7f\x01\n"),
    (0, T.ECHOE, b"ab\x7fc\n"),
    (0, T.ECHOKE, b"abc\x15d\n"),
    (0, T.ECHO, b"quiet\x7f\n"),
    (T.IUTF8, 0, "aé\x7f€\n".encode()),
    (0, T.ICANON, b"ab\r\x01\x7f"),
    (0, 0, b"a" * 4094 + b"bcd\x7f\n"),
]


@pytest.mark.parametrize("iflag_set, lflag_clear, data", EDIT_CASES)
def test_matches_host_n_tty(iflag_set, lflag_clear, data):
    host_echo, host_data = host_ntty(iflag_set, lflag_clear, data)
    out = []
    tp = Tty(out.append)
    tp.set_termios(tp.t_iflag | iflag_set, tp.t_oflag, tp.t_cflag,
                   tp.t_lflag & ~(lflag_clear | T.ISIG), tp.t_cc)
    tp.input(data)
    assert b"".join(out) == host_echo
    assert read_all_lines(tp) == host_data


@pytest.mark.parametrize("oflag_set, oflag_clear, data", [
    (0, 0, b"a\tb\nc\r\n"),
    (termios.OCRNL | termios.ONLRET, 0, b"ab\rc\n"),
    (termios.ONOCR, 0, b"\rab\r\r"),
    (termios.OLCUC, 0, b"Hello, World\n"),
    (termios.TABDLY, 0, b"x\ty\tz\n"),
    (0, termios.ONLCR, b"a\nb"),
])
def test_output_matches_host(oflag_set, oflag_clear, data):
    m, s = os.openpty()
    try:
        a = termios.tcgetattr(s)
        a[1] = (a[1] | oflag_set) & ~oflag_clear
        termios.tcsetattr(s, termios.TCSANOW, a)
        os.write(s, data)
        host = _drain(m)
    finally:
        os.close(m)
        os.close(s)
    out = []
    tp = Tty(out.append)
    tp.t_oflag = (tp.t_oflag | oflag_set) & ~oflag_clear
    tp.output(data)
    assert b"".join(out) == host


# -- the console ---------------------------------------------------------------------
def test_console_raw_mode_set_and_restored():
    m, s = os.openpty()
    try:
        before = termios.tcgetattr(s)
        con = Console(in_fd=s, out_fd=s)
        raw = termios.tcgetattr(s)
        assert not raw[3] & (termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
        assert not raw[0] & (termios.ICRNL | termios.IXON)
        assert raw[1] & termios.OPOST and raw[1] & termios.ONLCR
        assert raw[6][termios.VMIN] == 1
        assert con.tty.t_lflag & T.ECHO                # a terminal: the guest echoes
        con.restore()
        con.restore()                                  # idempotent
        assert termios.tcgetattr(s) == before
    finally:
        os.close(m)
        os.close(s)


def test_console_input_output_and_winsize(kernel):
    m, s = os.openpty()
    try:
        fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        handlers = {}
        with Console(in_fd=s, out_fd=s) as con:
            con.attach(handlers)
            assert handlers == {s: con.on_readable}
            assert con.tty.t_winsize[:2] == (40, 100)
            con.tty.t_pgid = 7
            os.write(m, b"hi\r\x03")                    # ^C is not eaten by the host
            time.sleep(0.02)
            con.on_readable()
            assert kernel.signals == [(7, S.SIGINT)]
            assert b"hi" in _drain(m)
            con.write_kernel(b"kernel: hello\n")
            assert _drain(m).startswith(b"kernel: hello\r")
            fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 41, 101, 0, 0))
            con.update_winsize()
            assert con.tty.t_winsize[:2] == (41, 101)
            assert kernel.signals[-1] == (7, S.SIGWINCH)
    finally:
        os.close(m)
        os.close(s)


def test_console_pipe_input_no_echo_and_eof():
    r, w = os.pipe()
    r2, w2 = os.pipe()
    try:
        handlers = {}
        con = Console(in_fd=r, out_fd=w2)
        con.attach(handlers)
        assert not con.tty.t_lflag & T.ECHO and not con.tty.t_oflag & T.ONLCR
        os.write(w, b"line one\nlast")
        con.on_readable()
        os.close(w)
        w = None
        con.on_readable()
        assert con.eof and handlers == {}
        assert list(con.tty.t_canq) == [b"line one\n", b"last"] and con.tty.t_eof
        con.tty.output(b"out\n")
        assert os.read(r2, 100) == b"out\n"
    finally:
        for fd in (r, w, r2, w2):
            if fd is not None:
                os.close(fd)


def test_console_parks_input_at_eof_when_not_attached():
    """init_main registers on_readable by hand: EOF must not leave an
    always-readable fd in the event loop."""
    r, w = os.pipe()
    os.close(w)
    try:
        con = Console(in_fd=r, out_fd=os.open(os.devnull, os.O_WRONLY))
        con.on_readable()
        assert con.eof and con.tty.t_eof
        assert not select.select([r], [], [], 0)[0]
        os.close(con.out_fd)
    finally:
        os.close(r)


def test_console_throttles_input():
    r, w = os.pipe()
    try:
        handlers = {}
        con = Console(in_fd=r, out_fd=os.open(os.devnull, os.O_WRONLY))
        con.attach(handlers)
        raw_mode(con.tty, 1, 0)
        chunk = b"x" * 4096
        while handlers:
            os.write(w, chunk)
            con.on_readable()
        assert con.tty.t_throttled
        con.tty.take_raw(n_tty.TTY_HIWAT)
        assert handlers == {r: con.on_readable}
        os.close(con.out_fd)
    finally:
        os.close(r)
        os.close(w)


def test_console_host_output_gone_is_ignored():
    r, w = os.pipe()
    os.close(r)
    try:
        con = Console(in_fd=os.open(os.devnull, os.O_RDONLY), out_fd=w)
        con.tty.output(b"nobody listens\n")
        assert con.out_dead
        os.close(con.in_fd)
    finally:
        os.close(w)


def test_errno_constants_agree():
    assert E.EIO == errno.EIO and E.ENOTTY == errno.ENOTTY
