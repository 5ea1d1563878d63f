"""Terminals: the controlling-terminal rules, job control and the open tty.

BSD counterpart: sys/kern/tty.c (ttread, ttwrite, ttpoll, the session and
t_pgrp fields of struct tty); Linux: drivers/tty/tty_io.c and
tty_jobctrl.c (__tty_check_change, tiocsctty, disassociate_ctty) plus the
read side of n_tty.c (canonical reads, VMIN/VTIME).

A `Tty` is one terminal: the line discipline of n_tty.py plus the session
it controls (`t_session`, mirrored in Session.s_ttyp) and the foreground
process group id (`t_pgid`).  A driver (console.py, a pty) creates it with
a `sink(bytes)` for output and feeds hardware input to `input()`.

`TtyFileOps` is an open of the tty.  Its read decides to sleep before it
takes anything, so the dispatcher can re-run it after a wakeup; a VMIN=0
read keeps its overall deadline in td.sstate.  Wait channels go to tsleep
inside a list, since tsleep takes a bare tuple for several channels.  The
ioctls live in tty_ioctl.py.
"""
import time
import weakref

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import termios as T
from vkernel.abi.linux.stat import makedev
from vkernel.kernel import kern_proc, kern_sig
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM
from vkernel.kernel.kern_synch import tsleep, wakeup
from vkernel.vfs.vfs_vnops import DevOps
from vkernel.vfs.vnode import VCHR, Vattr

from . import tty_ioctl
from .n_tty import LineDiscipline

CONSOLE_RDEV = makedev(5, 1)
TTY_GID = 5                     # the conventional "tty" group


def ctty_of(p):
    """The controlling terminal of process p, or None."""
    sess = p.p_session
    tp = sess.s_ttyp if sess is not None else None
    if tp is None or p in tp.t_detached:
        return None
    return tp


def is_session_leader(p):
    sess = p.p_session
    return sess is not None and sess.s_sid == p.p_pid


class Tty(LineDiscipline):
    """struct tty: a terminal with an n_tty line discipline."""

    def __init__(self, sink, name="console", rdev=CONSOLE_RDEV, mode=0o620, gid=TTY_GID):
        super().__init__(sink)
        self.t_name = name
        self.t_rdev = rdev
        self.t_mode, self.t_uid, self.t_gid = mode, 0, gid
        self.t_session = None               # the session this is the ctty of
        self.t_pgid = 0                     # foreground process group id
        self.t_winsize = (0, 0, 0, 0)       # rows, cols, xpixel, ypixel
        self.t_excl = False                 # TIOCEXCL
        self.t_detached = weakref.WeakSet()  # non-leaders that did TIOCNOTTY
        self.t_time = divmod(time.time_ns(), 1_000_000_000)

    def __repr__(self):
        return f"<tty {self.t_name} pgid {self.t_pgid}>"

    def ops_factory(self, flags):
        """For devfs make_dev / cdev_register: a FileOps per open."""
        return TtyFileOps(self)

    # -- controlling terminal ---------------------------------------------------
    def is_ctty(self, p):
        return self.t_session is not None and ctty_of(p) is self

    def acquire_ctty(self, p):
        """A session leader without a ctty opens this free tty: it becomes
        the session's controlling terminal.  Returns whether it did."""
        if not is_session_leader(p) or p.p_session.s_ttyp is not None:
            return False
        if self.t_session is not None:
            return False
        self.set_ctty(p)
        return True

    def set_ctty(self, p):
        """proc_set_tty: p's session now has this tty, p's group in front."""
        sess = p.p_session
        self.t_session = sess
        self.t_pgid = p.p_pgid
        sess.s_ttyp = self
        self.t_detached.discard(p)

    def disassociate(self):
        """Forget the session (session_clear_tty); no signals."""
        if self.t_session is not None and self.t_session.s_ttyp is self:
            self.t_session.s_ttyp = None
        self.t_session = None
        self.t_pgid = 0
        wakeup((self, "in"))
        wakeup((self, "out"))

    def session_exit(self, session):
        """The leader of `session` exits (or drops it with TIOCNOTTY):
        SIGHUP and SIGCONT to the foreground group, then no session."""
        if session is not self.t_session:
            return
        self.pgsignal(S.SIGHUP)
        self.pgsignal(S.SIGCONT)
        self.disassociate()

    def pgsignal(self, sig):
        if self.t_pgid:
            kern_sig.gsignal(self.t_pgid, sig)

    # -- job control --------------------------------------------------------------
    def check_job(self, td, sig):
        """__tty_check_change: may td's process read (SIGTTIN) or change or
        write (SIGTTOU) this tty?  Raises EIO, or signals its group and
        raises ERESTARTSYS so the call restarts once the group continues."""
        p = td.lwp_proc
        if not self.is_ctty(p) or not self.t_pgid or p.p_pgid == self.t_pgid:
            return
        if kern_sig.sig_ignored(p, sig) or td.lwp_sigmask & S.sigmask(sig):
            if sig == S.SIGTTIN:
                raise KernelError(E.EIO)
            return
        if kern_proc.pgrp_orphaned(p.p_pgrp):
            raise KernelError(E.EIO)
        kern_sig.gsignal(p.p_pgid, sig)
        raise KernelError(E.ERESTARTSYS)

    # -- termios and window size -----------------------------------------------
    def set_termios2(self, iflag, oflag, cflag, lflag, cc, ispeed=None, ospeed=None):
        """Install termios; speeds come from the CBAUD/CIBAUD fields or, with
        BOTHER, from ispeed/ospeed (termios2)."""
        self.t_ospeed = _speed(cflag & T.CBAUD, ospeed, self.t_ospeed)
        ibaud = (cflag & T.CIBAUD) >> T.IBSHIFT
        self.t_ispeed = _speed(ibaud, ispeed, self.t_ospeed) if ibaud else self.t_ospeed
        self.set_termios(iflag, oflag, cflag, lflag, cc)

    def set_winsize(self, rows, cols, xpixel=0, ypixel=0):
        """tty_do_resize: SIGWINCH to the foreground group on a change."""
        ws = (rows, cols, xpixel, ypixel)
        if ws == self.t_winsize:
            return
        self.t_winsize = ws
        self.pgsignal(S.SIGWINCH)

    def wait_drain(self, td):
        """tty_wait_until_sent: sleep while held output remains."""
        if self.t_outq:
            tsleep(td, [(self, "out")], "ttydrain")

    def vattr(self):
        return Vattr(type=VCHR, mode=self.t_mode, uid=self.t_uid, gid=self.t_gid,
                     rdev=self.t_rdev, blksize=1024, atime=self.t_time,
                     mtime=self.t_time, ctime=self.t_time)


def _speed(code, explicit, default):
    if code == T.BOTHER and explicit is not None:
        return explicit
    return T.BAUD_RATES.get(code, default)


class TtyFileOps(DevOps):
    """An open terminal (BSD ttread/ttwrite/ttpoll, Linux tty_fops)."""

    kind = "tty"

    def __init__(self, tty):
        self.tty = tty

    def __repr__(self):
        return f"<TtyFileOps {self.tty!r}>"

    def open(self, td, fp):
        """d_open: exclusive use, and the controlling-terminal rule."""
        tp, p = self.tty, td.lwp_proc
        if tp.t_excl and p.p_ucred.uid != 0:
            raise KernelError(E.EBUSY)
        if not fp.flags & F.O_NOCTTY and fp.readable:
            tp.acquire_ctty(p)

    # -- read ---------------------------------------------------------------------
    def read(self, td, fp, n):
        tp = self.tty
        tp.check_job(td, S.SIGTTIN)
        if n <= 0:
            return b""
        if tp.canonical:
            return self._read_canon(td, fp, n)
        return self._read_raw(td, fp, n)

    def _read_canon(self, td, fp, n):
        tp = self.tty
        if tp.t_canq:
            return tp.take_line(n)
        if tp.t_eof:
            return b""
        self._wait(td, fp)

    def _read_raw(self, td, fp, n):
        """VMIN/VTIME (termios(3) "noncanonical mode")."""
        tp = self.tty
        vmin, vtime = tp.t_cc[T.VMIN], tp.t_cc[T.VTIME]
        avail = len(tp.t_rawq)
        if avail and avail >= min(vmin, n):
            return tp.take_raw(n)
        if tp.t_eof or (not vmin and not vtime):
            return tp.take_raw(n)
        if fp.nonblock:
            if avail:
                return tp.take_raw(n)
            raise KernelError(E.EAGAIN)
        now = time.monotonic()
        if not vmin:                            # overall timer from the start
            deadline = td.sstate.setdefault("tty_deadline", now + vtime / 10)
        elif vtime and avail:                   # inter-byte timer
            deadline = tp.t_lastin + vtime / 10
        else:
            deadline = None
        if deadline is not None and now >= deadline:
            return tp.take_raw(n)
        tsleep(td, [(tp, "in")], "ttyin", deadline)

    def _wait(self, td, fp):
        if fp.nonblock:
            raise KernelError(E.EAGAIN)
        tsleep(td, [(self.tty, "in")], "ttyin")

    # -- write --------------------------------------------------------------------
    def write(self, td, fp, data):
        tp = self.tty
        if tp.t_lflag & T.TOSTOP:
            tp.check_job(td, S.SIGTTOU)
        if not data:
            return 0
        if tp.output_stopped:
            room = tp.output_room()
            if room <= 0:
                if fp.nonblock:
                    raise KernelError(E.EAGAIN)
                tsleep(td, [(tp, "out")], "ttyout")
            data = data[:room]
        tp.output(data)
        return len(data)

    # -- poll, stat, ioctl ----------------------------------------------------------
    def poll(self, td, fp, events):
        tp, ready = self.tty, 0
        if tp.input_ready(poll=True) or tp.t_eof:
            ready |= POLLIN | POLLRDNORM
        if tp.output_room() > 0:
            ready |= POLLOUT | POLLWRNORM
        return ready & events

    def wchans(self, fp):
        return ((self.tty, "in"), (self.tty, "out"))

    def stat(self, td, fp):
        if fp.vnode is not None:
            return fp.vnode.getattr().stat_dict()
        return self.tty.vattr().stat_dict()

    def ioctl(self, td, fp, cmd, arg):
        fn = tty_ioctl.IOCTLS.get(cmd)
        if fn is None:
            raise KernelError(E.ENOTTY)      # TIOCGPTN and friends: not a pty master
        return fn(self.tty, td, fp, arg)
