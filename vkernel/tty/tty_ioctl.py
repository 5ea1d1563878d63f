"""Terminal ioctls: termios, window size, process groups, flushing, flow.

Linux counterparts: drivers/tty/tty_ioctl.c (TCGETS/TCSETS*, TCFLSH,
TCXONC), tty_io.c (TIOCSTI, TIOCSWINSZ, TIOCSCTTY, TIOCNOTTY, TIOCEXCL)
and tty_jobctrl.c (TIOCGPGRP, TIOCSPGRP, TIOCGSID); BSD's are ttioctl in
sys/kern/tty.c.  Each handler is `fn(tty, td, fp, arg)` and returns an int
or raises KernelError; `IOCTLS` maps request numbers to handlers.  Anything
else (TIOCGPTN: not a pty master; TCGETA, TIOCM*) is ENOTTY.

Handlers that may sleep (the draining TCSETSW, TCSBRK) or that send
SIGTTOU do so before they change anything.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import ioctl as I
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import termios as T
from vkernel.kernel import kern_proc
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin, copyin_i32, copyout, copyout_i32


def _uid(td):
    return td.lwp_proc.p_ucred.uid


# -- termios ------------------------------------------------------------------------
def _termios_fields(tp):
    return dict(iflag=tp.t_iflag, oflag=tp.t_oflag, cflag=tp.t_cflag,
                lflag=tp.t_lflag, line=tp.t_line, cc=bytes(tp.t_cc))


def tcgets(tp, td, fp, arg):
    copyout(td, arg, T.pack_termios(**_termios_fields(tp)))
    return 0


def tcgets2(tp, td, fp, arg):
    copyout(td, arg, T.pack_termios2(ispeed=tp.t_ispeed, ospeed=tp.t_ospeed,
                                     **_termios_fields(tp)))
    return 0


def _set(tp, td, fp, arg, v2, drain, flush):
    """set_termios: job control, copy in, wait for output, flush, install."""
    tp.check_job(td, S.SIGTTOU)
    if v2:
        t = T.unpack_termios2(copyin(td, arg, T.TERMIOS2_SIZE))
        speeds = (t.c_ispeed, t.c_ospeed)
    else:
        t = T.unpack_termios(copyin(td, arg, T.TERMIOS_SIZE))
        speeds = (None, None)
    if drain:
        tp.wait_drain(td)
    if flush:
        tp.flush_input()
    tp.set_termios2(t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, t.c_cc, *speeds)
    return 0


def _setter(v2=False, drain=False, flush=False):
    return lambda tp, td, fp, arg: _set(tp, td, fp, arg, v2, drain, flush)


# -- window size ----------------------------------------------------------------------
def tiocgwinsz(tp, td, fp, arg):
    copyout(td, arg, T.pack_winsize(*tp.t_winsize))
    return 0


def tiocswinsz(tp, td, fp, arg):
    ws = T.unpack_winsize(copyin(td, arg, T.WINSIZE_SIZE))
    tp.set_winsize(ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel)
    return 0


# -- process groups and the controlling terminal -------------------------------------------
def tiocgpgrp(tp, td, fp, arg):
    if not tp.is_ctty(td.lwp_proc):
        raise KernelError(E.ENOTTY)
    copyout_i32(td, arg, tp.t_pgid)
    return 0


def tiocspgrp(tp, td, fp, arg):
    """tcsetpgrp: the caller's ctty, a group of the caller's session."""
    try:
        tp.check_job(td, S.SIGTTOU)
    except KernelError as e:
        if e.errno == E.EIO:
            raise KernelError(E.ENOTTY) from None
        raise
    pgid = copyin_i32(td, arg)
    if pgid < 0:
        raise KernelError(E.EINVAL)
    p = td.lwp_proc
    if not tp.is_ctty(p):
        raise KernelError(E.ENOTTY)
    pg = kern_proc.pgfind(pgid)
    if pg is None:
        raise KernelError(E.ESRCH)
    if pg.pg_session is not p.p_session:
        raise KernelError(E.EPERM)
    tp.t_pgid = pgid
    return 0


def tiocgsid(tp, td, fp, arg):
    if not tp.is_ctty(td.lwp_proc) or tp.t_session is None:
        raise KernelError(E.ENOTTY)
    copyout_i32(td, arg, tp.t_session.s_sid)
    return 0


def tiocsctty(tp, td, fp, arg):
    """Make this the caller's controlling terminal (arg 1: root may steal)."""
    p = td.lwp_proc
    leader = p.p_session is not None and p.p_session.s_sid == p.p_pid
    if leader and p.p_session is tp.t_session:
        return 0
    if not leader or p.p_session.s_ttyp is not None:
        raise KernelError(E.EPERM)
    if tp.t_session is not None:
        if arg != 1 or _uid(td) != 0:
            raise KernelError(E.EPERM)
        tp.disassociate()
    if not fp.readable and _uid(td) != 0:
        raise KernelError(E.EPERM)
    tp.set_ctty(p)
    return 0


def tiocnotty(tp, td, fp, arg):
    """Give up the controlling terminal; a leader hangs up its session."""
    p = td.lwp_proc
    if not tp.is_ctty(p):
        raise KernelError(E.ENOTTY)
    if p.p_session.s_sid == p.p_pid:
        tp.session_exit(p.p_session)
    else:
        tp.t_detached.add(p)
    return 0


# -- queues ------------------------------------------------------------------------------
def fionread(tp, td, fp, arg):
    copyout_i32(td, arg, tp.readable())
    return 0


def tiocoutq(tp, td, fp, arg):
    copyout_i32(td, arg, len(tp.t_outq))
    return 0


def tcflsh(tp, td, fp, arg):
    tp.check_job(td, S.SIGTTOU)
    if arg not in (T.TCIFLUSH, T.TCOFLUSH, T.TCIOFLUSH):
        raise KernelError(E.EINVAL)
    if arg in (T.TCIFLUSH, T.TCIOFLUSH):
        tp.flush_input()
    if arg in (T.TCOFLUSH, T.TCIOFLUSH):
        tp.flush_output()
    return 0


def tcxonc(tp, td, fp, arg):
    """tcflow.  TCIOFF/TCION would send VSTOP/VSTART to the far end; the
    console has no transmitter to throttle, so they are accepted quietly."""
    tp.check_job(td, S.SIGTTOU)
    if arg not in (T.TCOOFF, T.TCOON, T.TCIOFF, T.TCION):
        raise KernelError(E.EINVAL)
    if arg in (T.TCOOFF, T.TCOON):
        tp.set_tcostop(arg == T.TCOOFF)
    return 0


def tcsbrk(tp, td, fp, arg):
    """tcdrain / tcsendbreak: wait for held output; there is no line to break."""
    tp.check_job(td, S.SIGTTOU)
    tp.wait_drain(td)
    return 0


def tiocsti(tp, td, fp, arg):
    """Fake one byte of input (root only)."""
    if _uid(td) != 0:
        raise KernelError(E.EPERM)
    tp.input(copyin(td, arg, 1))
    return 0


# -- the file and the discipline ----------------------------------------------------------
def fionbio(tp, td, fp, arg):
    if copyin_i32(td, arg):
        fp.flags |= F.O_NONBLOCK
    else:
        fp.flags &= ~F.O_NONBLOCK
    return 0


def tiocgetd(tp, td, fp, arg):
    copyout_i32(td, arg, tp.t_line)
    return 0


def tiocsetd(tp, td, fp, arg):
    if copyin_i32(td, arg) != T.N_TTY:
        raise KernelError(E.EINVAL)
    return 0


def _set_excl(on):
    def fn(tp, td, fp, arg):
        tp.t_excl = on
        return 0
    return fn


def tiocgexcl(tp, td, fp, arg):
    copyout_i32(td, arg, int(tp.t_excl))
    return 0


IOCTLS = {
    I.TCGETS: tcgets,
    I.TCSETS: _setter(),
    I.TCSETSW: _setter(drain=True),
    I.TCSETSF: _setter(drain=True, flush=True),
    I.TCGETS2: tcgets2,
    I.TCSETS2: _setter(v2=True),
    I.TCSETSW2: _setter(v2=True, drain=True),
    I.TCSETSF2: _setter(v2=True, drain=True, flush=True),
    I.TIOCGWINSZ: tiocgwinsz,
    I.TIOCSWINSZ: tiocswinsz,
    I.TIOCGPGRP: tiocgpgrp,
    I.TIOCSPGRP: tiocspgrp,
    I.TIOCGSID: tiocgsid,
    I.TIOCSCTTY: tiocsctty,
    I.TIOCNOTTY: tiocnotty,
    I.FIONREAD: fionread,
    I.TIOCOUTQ: tiocoutq,
    I.TCFLSH: tcflsh,
    I.TCXONC: tcxonc,
    I.TCSBRK: tcsbrk,
    I.TCSBRKP: tcsbrk,
    I.TIOCSTI: tiocsti,
    I.FIONBIO: fionbio,
    I.TIOCGETD: tiocgetd,
    I.TIOCSETD: tiocsetd,
    I.TIOCEXCL: _set_excl(True),
    I.TIOCNXCL: _set_excl(False),
    I.TIOCGEXCL: tiocgexcl,
}
