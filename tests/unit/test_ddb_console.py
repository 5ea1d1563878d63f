"""The console as ddb uses it: ^\\ kept as a signal, the debugger's line mode,
and plain line input when the console is not a terminal."""
import os
import termios

from vkernel.ddb.db_input import DbConsole
from vkernel.tty.console import Console


def test_vquit_raw_mode_and_debugger_mode():
    m, s = os.openpty()
    try:
        before = termios.tcgetattr(s)
        con = Console(in_fd=s, out_fd=s, vquit=True)
        raw = termios.tcgetattr(s)
        assert raw[3] & termios.ISIG                              # ^\ still signals
        assert not raw[3] & (termios.ICANON | termios.ECHO)
        assert raw[6][termios.VQUIT] == before[6][termios.VQUIT]
        assert raw[6][termios.VINTR] == b"\0" and raw[6][termios.VSUSP] == b"\0"
        con.enter_debugger()
        assert termios.tcgetattr(s) == before                     # ddb: the host's own mode
        con.enter_debugger()
        con.leave_debugger()
        assert termios.tcgetattr(s) == raw
        con.restore()
        assert termios.tcgetattr(s) == before
        con.leave_debugger()                                      # after restore: nothing
        assert termios.tcgetattr(s) == before
    finally:
        os.close(m)
        os.close(s)


def test_plain_readline_echoes_and_sees_eof():
    r, w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        os.write(w, b"trace\nps\npartial")
        os.close(w)
        con = DbConsole(r, out_w)
        assert not con.interactive
        assert con.readline("db> ") == "trace"
        assert con.readline("db> ") == "ps"
        assert con.readline("db> ") == "partial"
        assert con.readline("db> ") is None
        assert os.read(out_r, 100) == b"db> trace\ndb> ps\ndb> partial\ndb> "
        assert con.checkc(0) is None
    finally:
        for fd in (r, out_r, out_w):
            os.close(fd)


def test_checkc_and_getc():
    r, w = os.pipe()
    try:
        con = DbConsole(r, w)
        assert con.checkc(0.01) is None
        os.write(w, b"ab")
        assert con.checkc(0.01) == b"a"
        assert con.getc() == b"b"
    finally:
        os.close(r)
        os.close(w)


def test_column_follows_our_own_lines():
    class Tty:
        t_column = 7

    class Con:
        tty = Tty()
    r, w = os.pipe()
    try:
        con = DbConsole(r, w, Con())
        assert con.column() == 7                 # the guest left a partial line
        con.write("report\n")
        assert con.column() == 0                 # our line ended, no guest output since
        Con.tty.t_column = 3
        assert con.column() == 3
    finally:
        os.close(r)
        os.close(w)
