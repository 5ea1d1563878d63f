"""Debugger input: the `db>` line with editing and history (DragonFly
sys/ddb/db_input.c, db_readline over cngetc).

When the console's input and output are terminals, lines are read with
prompt_toolkit (emacs-style editing, arrow-key history kept for the life of
the vkernel; ^C cancels the line).  Otherwise lines are read plainly from
the input fd, one byte at a time so nothing beyond the line is consumed,
and echoed so a transcript reads like a session.  EOF returns None.

DbConsole is also ddb's way to the host terminal: `enter()` puts it in the
debugger's sane line mode (the console's enter_debugger) and `leave()` puts
the guest's raw mode back, and `checkc(timeout)` is cncheckc, used by the
panic reboot countdown.
"""
import os
import select

_history = None            # prompt_toolkit history, shared by every ddb entry


def _isatty(fd):
    try:
        return os.isatty(fd)
    except OSError:
        return False


class DbConsole:
    """The console as ddb sees it: host fds plus the guest console's modes."""

    def __init__(self, in_fd=0, out_fd=1, console=None):
        self.in_fd, self.out_fd = in_fd, out_fd
        self.console = console            # tty.console.Console, or None
        self._session = None
        self._pt_failed = False
        self._bol_at = None               # the tty column when we last ended a line

    @property
    def interactive(self):
        """Is a human at the console (its input and output are terminals)?"""
        return _isatty(self.in_fd) and _isatty(self.out_fd)

    # -- modes -----------------------------------------------------------------------
    def enter(self):
        if self.console is not None and hasattr(self.console, "enter_debugger"):
            self.console.enter_debugger()

    def leave(self):
        if self.console is not None and hasattr(self.console, "leave_debugger"):
            self.console.leave_debugger()

    def column(self):
        """The console's output column (0: a fresh line): ours if nothing was
        written through the guest tty since our last line, else the tty's."""
        tty = getattr(self.console, "tty", None)
        col = getattr(tty, "t_column", 0) if tty is not None else 0
        return 0 if col == self._bol_at else col

    # -- output -----------------------------------------------------------------------
    def write(self, text):
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        if data:
            tty = getattr(self.console, "tty", None)
            col = getattr(tty, "t_column", 0) if tty is not None else 0
            self._bol_at = col if data.endswith(b"\n") else None
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.out_fd, view)
            except BlockingIOError:
                select.select([], [self.out_fd], [], 1.0)
                continue
            except OSError:
                return
            view = view[n:]

    # -- input ------------------------------------------------------------------------
    def readline(self, prompt):
        """One line without its newline, or None at EOF."""
        if _isatty(self.in_fd) and _isatty(self.out_fd) and not self._pt_failed:
            line = self._pt_readline(prompt)
            if line is not False:
                return line
        self.write(prompt)
        line = self._plain_readline()
        if line is not None and not _isatty(self.in_fd):
            self.write(line + "\n")
        return line

    def _pt_readline(self, prompt):
        """prompt_toolkit's prompt; False when it cannot run here."""
        global _history
        try:
            from prompt_toolkit import PromptSession
            from prompt_toolkit.history import InMemoryHistory
            if self._session is None:
                _history = _history or InMemoryHistory()
                self._session = PromptSession(history=_history)
            return self._session.prompt(prompt)
        except (KeyboardInterrupt, EOFError):
            return ""
        except Exception:                       # no usable terminal after all
            self._pt_failed = True
            return False

    def _plain_readline(self):
        buf = bytearray()
        while True:
            c = self.getc()
            if c is None:
                return buf.decode("utf-8", "replace") if buf else None
            if c in (b"\n", b"\r"):
                return buf.decode("utf-8", "replace")
            buf += c

    def getc(self):
        """cngetc: one byte, blocking; None at EOF."""
        while True:
            try:
                c = os.read(self.in_fd, 1)
            except BlockingIOError:
                select.select([self.in_fd], [], [])
                continue
            except InterruptedError:
                continue
            except OSError:
                return None
            return c or None

    def checkc(self, timeout):
        """cncheckc: a byte if one arrives within timeout seconds, else None.
        A closed input counts as no key."""
        try:
            ready = select.select([self.in_fd], [], [], timeout)[0]
        except (OSError, ValueError):
            return None
        if not ready:
            return None
        try:
            return os.read(self.in_fd, 1) or None
        except OSError:
            return None
