"""The n_tty line discipline: input editing, echo and output processing.

Linux counterpart: drivers/tty/n_tty.c (n_tty_receive_char_special, eraser,
echo_char, do_output_char, n_tty_set_termios); BSD's is the ttyinput /
ttyoutput / ttyrub half of sys/kern/tty.c.  `LineDiscipline` holds the
termios state and the queues; tty.py's Tty adds the session, the foreground
group and job control on top of it.

Queues (BSD names): `t_rawq` is the line being edited in canonical mode and
all unread input otherwise; `t_canq` holds completed canonical lines, each
the bytes one read may return (a VEOF-terminated line carries no
terminator, so an empty one reads as end of file); `t_outq` is output held
while output is stopped (^S, TCOOFF).  Input runs without special bytes are
handled in bulk; only special bytes go through the per-character path.

Kernel contract: every method runs under mp_lock; readers sleep on
(tty, "in"), writers and drainers on (tty, "out"), and both are woken here.
"""
import re
import time
from collections import deque

from vkernel.abi.linux import signal as S
from vkernel.abi.linux import termios as T
from vkernel.kernel.kern_synch import wakeup

# Not in abi/linux/termios.py: n_tty's per-line limit (N_TTY_BUF_SIZE) and
# the "disabled" c_cc value (_POSIX_VDISABLE).
MAX_CANON = 4096
POSIX_VDISABLE = 0
TTY_HIWAT = 65536       # ask the driver to stop input above this many queued bytes
TTY_LOWAT = 16384       # ... and to resume below this
OUTQ_MAX = 65536        # output held while stopped; writers sleep beyond it

NL, CR, TAB, BS = 0x0A, 0x0D, 0x09, 0x08
ERASE, WERASE, KILL = "erase", "werase", "kill"
_SIGCHARS = ((T.VINTR, S.SIGINT), (T.VQUIT, S.SIGQUIT), (T.VSUSP, S.SIGTSTP))
_STRIP = bytes(c & 0x7F for c in range(256))
_CTRL_RE = re.compile(b"[\x00-\x1f\x7f]")
_CONT_BYTES = bytes(range(0x80, 0xC0))
_FAST_OFLAGS = T.OPOST | T.ONLCR | T.OLCUC


def iscntrl(c):
    return c < 0x20 or c == 0x7F


def _isalnum(c):
    return c < 0x80 and chr(c).isalnum()


class LineDiscipline:
    """termios state, input/echo processing and output processing."""

    def __init__(self, sink):
        self.t_sink = sink                   # driver output: sink(bytes)
        self.t_iflag = T.DEFAULT_IFLAG
        self.t_oflag = T.DEFAULT_OFLAG
        self.t_cflag = T.DEFAULT_CFLAG
        self.t_lflag = T.DEFAULT_LFLAG
        self.t_line = T.N_TTY
        self.t_cc = list(T.DEFAULT_CC_BYTES)
        self.t_ispeed = self.t_ospeed = T.DEFAULT_SPEED
        self.t_rawq = bytearray()
        self.t_canq = deque()
        self.t_cancc = 0                     # bytes in t_canq
        self.t_outq = bytearray()
        self.t_column = self.t_canon_column = 0
        self.t_lnext = False                 # next byte is literal (VLNEXT)
        self.t_erasing = False               # inside an ECHOPRT \...\ erase
        self.t_stopped = False               # output stopped by VSTOP
        self.t_tcostopped = False            # output stopped by TCXONC TCOOFF
        self.t_eof = False                   # the hardware will send no more
        self.t_lastin = 0.0                  # monotonic time of the last input
        self.t_throttled = False
        self.t_throttle = None               # driver hook: throttle(stop: bool)
        self._special = (None, None)         # (modes, regex of special input bytes)

    # -- termios ------------------------------------------------------------
    @property
    def canonical(self):
        return bool(self.t_lflag & T.ICANON)

    def set_termios(self, iflag, oflag, cflag, lflag, cc):
        """n_tty_set_termios: install new modes and fix up the queues."""
        was_canon, had_ixon = self.canonical, self.t_iflag & T.IXON
        self.t_iflag, self.t_oflag, self.t_cflag, self.t_lflag = iflag, oflag, cflag, lflag
        self.t_cc = (list(cc) + [0] * T.NCCS)[:T.NCCS]
        if was_canon != self.canonical:
            self._switch_mode()
        if had_ixon and not iflag & T.IXON and self.t_stopped:
            self.start_output()
        wakeup((self, "in"))
        wakeup((self, "out"))

    def _switch_mode(self):
        """Leaving ICANON makes everything readable; entering it pushes
        pending input as one completed line (Linux does the same)."""
        if self.canonical:
            if self.t_rawq:
                self._push_line(bytes(self.t_rawq))
                self.t_rawq.clear()
        else:
            self.t_rawq[:0] = b"".join(self.t_canq)
            self.t_canq.clear()
            self.t_cancc = 0
        self.t_lnext = self.t_erasing = False

    def _cc(self, c, idx):
        v = self.t_cc[idx]
        return v != POSIX_VDISABLE and c == v

    def _special_re(self):
        """The input bytes that need per-character processing, cached for
        the current modes (drivers and tests may poke the flags directly)."""
        modes = (self.t_iflag, self.t_lflag, bytes(self.t_cc))
        if self._special[0] != modes:
            rx = re.compile(b"[" + re.escape(self._special_bytes()) + b"]")
            self._special = (modes, rx)
        return self._special[1]

    def _special_bytes(self):
        idx = []
        if self.t_iflag & T.IXON:
            idx += [T.VSTART, T.VSTOP]
        if self.t_lflag & T.ISIG:
            idx += [T.VINTR, T.VQUIT, T.VSUSP]
        if self.canonical:
            idx += [T.VERASE, T.VKILL, T.VWERASE, T.VLNEXT, T.VREPRINT,
                    T.VEOF, T.VEOL, T.VEOL2]
        out = {self.t_cc[i] for i in idx}
        if self.canonical or self.t_iflag & T.INLCR:
            out.add(NL)
        if self.t_iflag & (T.ICRNL | T.IGNCR):
            out.add(CR)
        if self.t_lflag & T.ECHO and self.t_lflag & T.ECHOCTL:
            out |= set(range(0x20)) | {0x7F}
        if self.t_iflag & T.PARMRK:
            out.add(0xFF)
        out.discard(POSIX_VDISABLE)
        return bytes(sorted(out)) or b"\0"

    # -- input from the hardware -----------------------------------------------
    def input(self, data):
        """Receive bytes from the hardware side (n_tty_receive_buf)."""
        if not data:
            return
        self.t_lastin = time.monotonic()
        data = bytes(data)
        if self.t_iflag & T.ISTRIP:
            data = data.translate(_STRIP)
        if self.t_iflag & T.IUCLC and self.t_lflag & T.IEXTEN:
            data = data.lower()
        self._receive(data)
        wakeup((self, "in"))
        self._check_throttle()

    def input_eof(self):
        """The hardware will send nothing more: readers get 0 once drained.

        A partial canonical line is completed first so that piped input
        without a final newline is not lost.
        """
        if self.canonical and self.t_rawq:
            self._push_line(bytes(self.t_rawq))
            self.t_rawq.clear()
        self.t_eof = True
        wakeup((self, "in"))

    hangup_input = input_eof

    def _receive(self, data):
        special, pos, n = self._special_re(), 0, len(data)
        while pos < n:
            if self.t_lnext:
                self.t_lnext = False
                self._literal(data[pos], lnext=True)
                pos += 1
                continue
            m = special.search(data, pos)
            end = m.start() if m else n
            if end > pos:
                self._ordinary(data[pos:end])
                pos = end
            if m:
                self._special_char(data[pos])
                pos += 1

    def _ordinary(self, run):
        """A run of bytes with no special meaning: echo and queue in bulk."""
        self._ixany()
        if self.t_lflag & T.ECHO:
            self._finish_erasing()
            self._set_canon_col()
            self._echo(run)
        self.t_rawq += run[:self._room(len(run))]

    def _special_char(self, c):
        """n_tty_receive_char_special: flow, signals, CR/NL, editing."""
        if self._flow_char(c) or self._signal_char(c):
            return
        self._ixany()
        if c == CR:
            if self.t_iflag & T.IGNCR:
                return
            if self.t_iflag & T.ICRNL:
                c = NL
        elif c == NL and self.t_iflag & T.INLCR:
            c = CR
        if self.canonical and self._canon_char(c):
            return
        self._literal(c)

    def _flow_char(self, c):
        if not self.t_iflag & T.IXON:
            return False
        if self._cc(c, T.VSTART):
            self.start_output()
            return True
        if self._cc(c, T.VSTOP):
            self.t_stopped = True
            return True
        return False

    def _signal_char(self, c):
        if not self.t_lflag & T.ISIG:
            return False
        for idx, sig in _SIGCHARS:
            if self._cc(c, idx):
                self._isig(sig, c)
                return True
        return False

    def _isig(self, sig, c):
        """n_tty_receive_signal_char: signal, flush, restart output, echo."""
        self.pgsignal(sig)
        if not self.t_lflag & T.NOFLSH:
            self.flush_input()
            self.flush_output()
        if self.t_iflag & T.IXON:
            self.start_output()
        if self.t_lflag & T.ECHO:
            self._echo_char(c)

    def pgsignal(self, sig):
        """Signal the foreground process group; Tty provides it."""

    def _canon_char(self, c):
        """Canonical-mode editing characters; True when c was consumed."""
        lf, iext = self.t_lflag, self.t_lflag & T.IEXTEN
        if self._cc(c, T.VERASE) or self._cc(c, T.VKILL) or (iext and self._cc(c, T.VWERASE)):
            self._eraser(c)
        elif iext and self._cc(c, T.VLNEXT):
            self.t_lnext = True
            if lf & T.ECHO:
                self._finish_erasing()
                if lf & T.ECHOCTL:
                    self._echo(b"^\b")
        elif iext and lf & T.ECHO and self._cc(c, T.VREPRINT):
            self._reprint(c)
        elif c == NL:
            if lf & (T.ECHO | T.ECHONL):
                self._echo(b"\n")
            self._complete(b"\n")
        elif self._cc(c, T.VEOF):
            self._complete(b"")
        elif self._cc(c, T.VEOL) or (iext and self._cc(c, T.VEOL2)):
            if lf & T.ECHO:
                self._set_canon_col()
                self._echo_char(c)
            self._complete(bytes([c]))
        else:
            return False
        return True

    def _literal(self, c, lnext=False):
        """n_tty_receive_char: echo and queue one ordinary byte."""
        self._ixany()
        if self.t_lflag & T.ECHO:
            self._finish_erasing()
            if c == NL and not lnext:
                self._echo(b"\n")
            else:
                self._set_canon_col()
                self._echo_char(c)
        if not self._room(1):
            return
        if c == 0xFF and self.t_iflag & T.PARMRK:
            self.t_rawq.append(c)
        self.t_rawq.append(c)

    def _room(self, n):
        """How many of n bytes fit the line being edited.  Like Linux, a
        full canonical line drops further bytes but still echoes them (one
        byte is kept free for the terminator)."""
        if not self.canonical:
            return n
        return max(0, min(n, MAX_CANON - 1 - len(self.t_rawq)))

    def _complete(self, term):
        self.t_rawq += term
        self._push_line(bytes(self.t_rawq))
        self.t_rawq.clear()

    def _push_line(self, line):
        self.t_canq.append(line)
        self.t_cancc += len(line)

    def _ixany(self):
        if self.t_stopped and self.t_iflag & T.IXON and self.t_iflag & T.IXANY:
            self.start_output()

    # -- erasing (eraser) -----------------------------------------------------
    def _cont(self, c):
        return self.t_iflag & T.IUTF8 and (c & 0xC0) == 0x80

    def _eraser(self, c):
        q, lf = self.t_rawq, self.t_lflag
        if not q:
            return
        if self._cc(c, T.VERASE):
            kind = ERASE
        elif self._cc(c, T.VWERASE):
            kind = WERASE
        elif not lf & T.ECHO:
            q.clear()
            return
        elif (lf & (T.ECHOK | T.ECHOKE | T.ECHOE)) != (T.ECHOK | T.ECHOKE | T.ECHOE):
            q.clear()
            self._finish_erasing()
            self._echo_char(self.t_cc[T.VKILL])
            if lf & T.ECHOK:
                self._echo(b"\n")
            return
        else:
            kind = KILL
        self._erase_chars(kind)
        if not q and lf & T.ECHO:
            self._finish_erasing()

    def _erase_chars(self, kind):
        """Erase one character, a word or the line, echoing the rubout."""
        q, seen = self.t_rawq, 0
        while q:
            head = len(q) - 1
            while head > 0 and self._cont(q[head]):
                head -= 1
            c = q[head]
            if self._cont(c):
                break                       # never erase half a character
            if kind == WERASE:
                if _isalnum(c) or c == ord("_"):
                    seen += 1
                elif seen:
                    break
            erased = bytes(q[head:])
            del q[head:]
            if self.t_lflag & T.ECHO:
                self._echo_rubout(kind, c, erased)
            if kind == ERASE:
                break

    def _echo_rubout(self, kind, c, erased):
        lf = self.t_lflag
        if lf & T.ECHOPRT:
            if not self.t_erasing:
                self._echo(b"\\")
                self.t_erasing = True
            self._echo_char(c)
            self._echo(erased[1:])
        elif kind == ERASE and not lf & T.ECHOE:
            self._echo_char(self.t_cc[T.VERASE])
        elif c == TAB:
            self._echo(b"\b" * self._tab_width())
        else:
            n = 1 if not iscntrl(c) else 0
            if iscntrl(c) and lf & T.ECHOCTL:
                n = 2
            self._echo(b"\b \b" * n)

    def _tab_width(self):
        """How many columns the tab just erased took (echo_erase_tab)."""
        num, after_tab = 0, False
        for c in reversed(self.t_rawq):
            if c == TAB:
                after_tab = True
                break
            if iscntrl(c):
                num += 2 if self.t_lflag & T.ECHOCTL else 0
            elif not self._cont(c):
                num += 1
        if not after_tab:
            num += self.t_canon_column
        return 8 - (num & 7)

    def _finish_erasing(self):
        if self.t_erasing:
            self._echo(b"/")
            self.t_erasing = False

    def _reprint(self, c):
        self._finish_erasing()
        self._echo_char(c)
        self._echo(b"\n")
        for ch in bytes(self.t_rawq):
            self._echo_char(ch)

    # -- echo -------------------------------------------------------------------
    def _set_canon_col(self):
        if not self.t_rawq:
            self.t_canon_column = self.t_column

    def _echo_char(self, c):
        """echo_char: ECHOCTL shows control characters as ^X."""
        if self.t_lflag & T.ECHOCTL and iscntrl(c) and c != TAB:
            self._echo(bytes((ord("^"), c ^ 0x40)))
        else:
            self._echo(bytes((c,)))

    def _echo(self, data):
        self.output(data)

    # -- reading ----------------------------------------------------------------
    def readable(self):
        """Bytes a read could return now (FIONREAD)."""
        return self.t_cancc if self.canonical else len(self.t_rawq)

    def input_ready(self, poll=False):
        """input_available_p: would a read return now?"""
        if self.canonical:
            return bool(self.t_canq)
        vmin, vtime = self.t_cc[T.VMIN], self.t_cc[T.VTIME]
        need = vmin if poll and vmin and not vtime else 1
        return len(self.t_rawq) >= need

    def take_line(self, n):
        """Up to n bytes of the first completed line (canonical read)."""
        line = self.t_canq[0]
        data = line[:n]
        if len(data) == len(line):
            self.t_canq.popleft()
        else:
            self.t_canq[0] = line[n:]
        self.t_cancc -= len(data)
        self._check_unthrottle()
        return data

    def take_raw(self, n):
        """Up to n bytes of non-canonical input."""
        data = bytes(self.t_rawq[:n])
        del self.t_rawq[:n]
        self._check_unthrottle()
        return data

    def flush_input(self):
        self.t_rawq.clear()
        self.t_canq.clear()
        self.t_cancc = 0
        self.t_lnext = False
        self._check_unthrottle()

    def _queued(self):
        return len(self.t_rawq) + self.t_cancc

    def _check_throttle(self):
        if not self.t_throttled and self._queued() >= TTY_HIWAT:
            self.t_throttled = True
            if self.t_throttle:
                self.t_throttle(True)

    def _check_unthrottle(self):
        if self.t_throttled and self._queued() < TTY_LOWAT:
            self.t_throttled = False
            if self.t_throttle:
                self.t_throttle(False)

    # -- output -----------------------------------------------------------------
    @property
    def output_stopped(self):
        return self.t_stopped or self.t_tcostopped

    def output_room(self):
        return OUTQ_MAX - len(self.t_outq) if self.output_stopped else OUTQ_MAX

    def output(self, data, force=False):
        """Process data (OPOST) and hand it to the driver, or hold it while
        output is stopped; `force` (kernel messages) ignores the stop."""
        out = self._oproc(data)
        if not out:
            return
        if self.output_stopped and not force:
            self.t_outq += out
        else:
            self.t_sink(out)

    def start_output(self):
        """Undo VSTOP; send what was held unless TCOOFF still holds it."""
        self.t_stopped = False
        self._release_output()

    def set_tcostop(self, on):
        self.t_tcostopped = bool(on)
        self._release_output()

    def _release_output(self):
        if not self.output_stopped and self.t_outq:
            out = bytes(self.t_outq)
            self.t_outq.clear()
            self.t_sink(out)
            wakeup((self, "out"))

    def flush_output(self):
        if self.t_outq:
            self.t_outq.clear()
            wakeup((self, "out"))

    def _oproc(self, data):
        """do_output_char over a buffer: OPOST, ONLCR, OCRNL, ONLRET, OLCUC..."""
        of = self.t_oflag
        if not of & T.OPOST:
            return bytes(data)
        fast = (of & (T.ONLCR | T.OCRNL | T.ONOCR | T.ONLRET) == T.ONLCR
                and of & T.TABDLY != T.XTABS)
        if not fast:
            return self._oproc_slow(data)
        if of & T.OLCUC:
            data = data.upper()
        self._track_columns(data)
        return bytes(data).replace(b"\n", b"\r\n")

    def _track_columns(self, data):
        """Column after data, knowing ONLCR is on (so NL and CR reset it)."""
        i = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if i >= 0:
            self.t_column = self.t_canon_column = 0
            data = data[i + 1:]
        if not _CTRL_RE.search(data):
            if self.t_iflag & T.IUTF8:
                data = bytes(data).translate(None, _CONT_BYTES)
            self.t_column += len(data)
            return
        for c in data:
            self._column_step(c)

    def _column_step(self, c):
        if c == TAB:
            self.t_column = (self.t_column | 7) + 1
        elif c == BS:
            self.t_column = max(0, self.t_column - 1)
        elif not iscntrl(c) and not self._cont(c):
            self.t_column += 1

    def _oproc_slow(self, data):
        out = bytearray()
        for c in data:
            out += self._ochar(c, self.t_oflag)
        return bytes(out)

    def _ochar(self, c, of):
        """One byte through do_output_char; returns what to send."""
        if c == NL:
            if of & T.ONLRET:
                self.t_column = 0
            if of & T.ONLCR:
                self.t_column = self.t_canon_column = 0
                return b"\r\n"
            self.t_canon_column = self.t_column
        elif c == CR:
            if of & T.ONOCR and self.t_column == 0:
                return b""
            if of & T.OCRNL:
                c = NL
                if of & T.ONLRET:
                    self.t_column = self.t_canon_column = 0
            else:
                self.t_column = self.t_canon_column = 0
        elif c == TAB:
            spaces = 8 - (self.t_column & 7)
            self.t_column += spaces
            if of & T.TABDLY == T.XTABS:
                return b" " * spaces
        elif c == BS:
            self.t_column = max(0, self.t_column - 1)
        elif not iscntrl(c):
            if of & T.OLCUC and 0x61 <= c <= 0x7A:
                c -= 0x20
            if not self._cont(c):
                self.t_column += 1
        return bytes((c,))
