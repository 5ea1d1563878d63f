"""The vkernel console: the guest's terminal, backed by the host's stdin/stdout.

DragonFly counterpart: sys/platform/vkernel64/platform/console.c (vconsole:
the host terminal in raw mode, its SIGIO-driven input fed to the tty, and
the saved modes restored on exit); Linux's closest is drivers/tty/tty_io.c's
console plus a UART driver.  Guest semantics come from the guest Tty; the
host terminal only moves bytes.

Host terminal modes: when the input fd is a terminal it is put into raw
mode (cfmakeraw, but keeping OPOST|ONLCR for stray host output unless
keep_opost=False) with ISIG and IXON off, so ^C, ^Z, ^\\ and ^S reach the
guest's line discipline.  With vquit=True (what boot uses) ISIG stays on
with only the VQUIT character left, as DragonFly's console does: ^\\ then
sends SIGQUIT to the vkernel, which enters ddb, and never reaches the
guest.  `enter_debugger()` puts the saved (sane, line-mode) settings back
while ddb owns the terminal and `leave_debugger()` returns to raw mode.
`restore()` puts the saved modes back; it is idempotent and registered
with atexit.  When the input is not a terminal the guest tty starts with
ECHO off, and when the output is not a terminal with ONLCR off, so pipes
and files carry the guest's bytes unchanged.

Kernel contract: `attach(fd_handlers)` plugs the input into the event
loop's {fd: callback} table; the console then removes itself on host EOF
and while the tty is throttled, and puts itself back.  A loop that
registers fileno()/on_readable() by hand cannot be told to stop, so the
console then ignores throttling and, at EOF, parks the host input fd on a
pipe that never becomes readable rather than let select spin.
"""
import atexit
import fcntl
import os
import select
import struct
import termios

from vkernel.abi.linux import termios as T

from .tty import CONSOLE_RDEV, Tty

READ_CHUNK = 4096


class Console:
    """The host side of the console: host fds <-> a guest Tty."""

    def __init__(self, in_fd=0, out_fd=1, name="console", keep_opost=True, vquit=False):
        self.in_fd, self.out_fd = in_fd, out_fd
        self.tty = Tty(self._host_write, name=name, rdev=CONSOLE_RDEV)
        self.tty.t_throttle = self._throttle
        self.eof = False
        self.out_dead = False                 # the host output went away
        self._saved = None                    # host termios to restore
        self._raw = None                      # the raw mode we run the guest in
        self.in_debugger = False
        self._fd_handlers = None
        self._parked = None                   # write end of the parking pipe
        self.in_is_tty = _isatty(in_fd)
        if self.in_is_tty:
            self._enter_raw(keep_opost, vquit)
        else:
            self.tty.t_lflag &= ~(T.ECHO | T.ECHONL)
        if not _isatty(out_fd):
            self.tty.t_oflag &= ~T.ONLCR
        self.update_winsize()

    # -- host terminal modes -----------------------------------------------------
    def _enter_raw(self, keep_opost, vquit=False):
        saved = termios.tcgetattr(self.in_fd)
        self._saved = saved
        atexit.register(self.restore)
        self._raw = _raw_mode(saved, keep_opost)
        if vquit:
            self._raw = _vquit_only(self._raw)
        termios.tcsetattr(self.in_fd, termios.TCSANOW, self._raw)

    def enter_debugger(self):
        """ddb owns the terminal: the host's own line mode, signals and all."""
        if self._saved is not None and not self.in_debugger:
            self.in_debugger = True
            _setattr(self.in_fd, self._saved)

    def leave_debugger(self):
        """Back to the guest's raw mode after ddb."""
        if self._saved is not None and self.in_debugger:
            self.in_debugger = False
            _setattr(self.in_fd, self._raw)

    def restore(self):
        """Put the host terminal back as we found it (idempotent)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            termios.tcsetattr(self.in_fd, termios.TCSADRAIN, saved)
        except (termios.error, OSError):
            pass
        atexit.unregister(self.restore)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()

    # -- input ------------------------------------------------------------------
    def fileno(self):
        return self.in_fd

    def attach(self, fd_handlers):
        """Register with the event loop's {fd: callback} table; the console
        adds and removes itself as EOF and throttling require."""
        self._fd_handlers = fd_handlers
        self._watch(True)

    @property
    def watching(self):
        """Should the host input be read now?"""
        if self._fd_handlers is None:
            return not self.eof
        return not self.eof and not self.tty.t_throttled

    def _watch(self, on):
        h = self._fd_handlers
        if h is None:
            return
        if on and self.watching:
            h[self.in_fd] = self.on_readable
        elif not on:
            h.pop(self.in_fd, None)

    def _throttle(self, stop):
        self._watch(not stop)

    def on_readable(self):
        """The host input is readable: feed what is there to the tty."""
        if not self.watching:
            return
        if not select.select([self.in_fd], [], [], 0)[0]:
            return
        try:
            data = os.read(self.in_fd, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.tty.input(data)
        else:
            self._host_eof()

    def _host_eof(self):
        self.eof = True
        if self._fd_handlers is None:
            self._park_input()
        self._watch(False)
        self.tty.input_eof()

    def _park_input(self):
        """Point in_fd at a pipe nobody writes (see the module docstring)."""
        if self.in_is_tty:
            self.restore()
        r, self._parked = os.pipe()
        os.dup2(r, self.in_fd)
        os.close(r)

    def update_winsize(self):
        """Host SIGWINCH: copy the host window size into the guest tty."""
        for fd in (self.out_fd, self.in_fd):
            try:
                buf = fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(8))
            except OSError:
                continue
            self.tty.set_winsize(*struct.unpack("HHHH", buf))
            return

    # -- output -----------------------------------------------------------------
    def write_kernel(self, data):
        """Kernel messages: straight to the host, through output processing."""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        self.tty.output(data, force=True)

    def _host_write(self, data):
        """The tty's sink: all of data to the host output, or drop it if the
        host output is gone (the guest cannot be told)."""
        view = memoryview(data)
        while view and not self.out_dead:
            try:
                n = os.write(self.out_fd, view)
            except BlockingIOError:
                select.select([], [self.out_fd], [], 1.0)
                continue
            except OSError:
                self.out_dead = True
                return
            view = view[n:]


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _setattr(fd, mode):
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, mode)
    except (termios.error, OSError):
        pass


def _vquit_only(raw):
    """Raw mode that still turns the VQUIT character into SIGQUIT (DragonFly's
    vconsole: VINTR and VSUSP disabled, VQUIT kept)."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = raw
    cc = list(cc)
    for c in (termios.VINTR, termios.VSUSP):
        cc[c] = b"\0"                  # _POSIX_VDISABLE on Linux
    return [iflag, oflag, cflag, lflag | termios.ISIG, ispeed, ospeed, cc]


def _raw_mode(saved, keep_opost):
    """cfmakeraw(3), optionally keeping output processing."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = saved
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
               | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    if keep_opost:
        oflag |= termios.OPOST | termios.ONLCR
    else:
        oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]
