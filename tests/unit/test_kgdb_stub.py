"""kgdb (vkernel/debug) in one process: the real stub on a socket in a
temporary directory, a fake CPU thread (test_kgdb_fakekern.py) whose loop
calls kgdb_poll() under its lock, and this test as the client speaking the
stub's JSON lines.  Breakpoints, bt, print, next, step, finish, interrupt,
detach and a client that dies while the kernel is stopped; then the pure
parts: linespecs, the command parser, gdb's value and frame formats.
"""
import os
import socket
import sys
import threading
import time

import pytest

from vkernel.ddb import db_sym
from vkernel.ddb.db_sym import DbError
from vkernel.debug import gdb_break, gdb_frame, gdb_main, gdb_packet
from vkernel.debug.gdb_command import split_line
from vkernel.debug.gdb_trace import state

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_kgdb_fakekern as fk  # noqa: E402

FAKE = "tests/unit/test_kgdb_fakekern.py"
LEAF_BODY, LEAF_RETURN, MIDDLE_CALL = 11, 12, 18


@pytest.fixture(scope="module")
def stub(tmp_path_factory):
    """The stub listening in a temporary run directory, and the fake CPU."""
    db_sym.KERNEL_DIRS.append(HERE)
    gdb_frame._stoppable.clear()
    cpu = fk.FakeCpu()
    saved = (state.cpus, state.curcpu, state.holds_lock, state.freeze)
    state.cpus, state.curcpu = (lambda: [cpu]), (lambda: cpu)
    state.holds_lock, state.freeze = cpu.lock._is_owned, (lambda c: None)
    path = gdb_main.kgdb_start(str(tmp_path_factory.mktemp("run") / "kgdb.1"))
    cpu.thread.start()
    yield path, cpu
    cpu.running = False
    cpu.thread.join(2)
    state.cpus, state.curcpu, state.holds_lock, state.freeze = saved
    db_sym.KERNEL_DIRS.remove(HERE)
    gdb_frame._stoppable.clear()


class Client:
    """The client side of the wire, by hand."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.reader = gdb_packet.PacketReader(self.sock)
        self.greeting = self.collect()

    def collect(self):
        """Text until `ready` (or bye)."""
        out = []
        while True:
            msg = self.reader.read()
            assert msg is not None, "the stub closed: " + "".join(out)
            out.append(msg.get("out", "") + msg.get("notice", ""))
            if msg.get("ready") or msg.get("bye"):
                return "".join(out)

    def send(self, line):
        gdb_packet.send(self.sock, cmd=line)

    def cmd(self, line):
        self.send(line)
        return self.collect()

    def cont(self):
        """`c`, up to its "Continuing." (the kernel runs from there)."""
        self.send("c")
        assert self.reader.read() == {"out": "Continuing.\n"}

    def interrupt(self):
        gdb_packet.send(self.sock, interrupt=True)

    def close(self):
        self.sock.close()


@pytest.fixture
def gdb(stub):
    c = Client(stub[0])
    yield c, stub[1]
    c.close()
    deadline = time.monotonic() + 5
    while state.session is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert state.session is None and not state.table


def wait_results(cpu, n):
    deadline = time.monotonic() + 5
    while len(cpu.results) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return cpu.results[:n]


def test_break_bt_print_next_finish(gdb):
    c, cpu = gdb
    assert "1 virtual CPU, running" in c.greeting
    out = c.cmd("break leaf")
    assert out.startswith("Breakpoint 1 at 0x") and f"file {FAKE}, line {LEAF_BODY}." in out
    c.cont()
    n = len(cpu.results)
    cpu.run(3)
    out = c.collect()
    assert out.startswith(f"\nBreakpoint 1, leaf (x=0) at {FAKE}:{LEAF_BODY}\n")
    assert out.endswith(f"{LEAF_BODY}\t    y = x + 1\n")
    bt = c.cmd("bt").splitlines()
    assert bt[0] == f"#0  leaf (x=0) at {FAKE}:{LEAF_BODY}"
    assert bt[1].startswith("#1  0x")
    assert bt[1].endswith(f"in middle (n=3) at {FAKE}:{MIDDLE_CALL}")
    assert bt[2].startswith("#2  0x") and " in go_user (self=0x" in bt[2] and len(bt) == 3
    assert c.cmd("print x") == "$1 = 0\n"
    assert c.cmd("next") == f"{LEAF_RETURN}\t    return y * 2\n"
    assert c.cmd("p y") == "$2 = 1\n"
    assert c.cmd("print y * 10 + 0x10") == "$3 = 26\n"
    out = c.cmd("finish").splitlines()
    assert out[0] == f"Run till exit from #0  leaf (x=0) at {FAKE}:{LEAF_RETURN}"
    assert out[1].startswith("0x") and out[1].endswith(f"in middle (n=3) at {FAKE}:{MIDDLE_CALL}")
    assert out[2:] == [f"{MIDDLE_CALL}\t        total += leaf(i)", "Value returned is $4 = 2"]
    assert c.cmd("print $4 + 1") == "$5 = 3\n"
    out = c.cmd("c")                      # the next call of leaf
    assert "Breakpoint 1, leaf (x=1)" in out
    assert c.cmd("info breakpoints").splitlines()[2] == "\tbreakpoint already hit 2 times"
    c.cmd("delete")
    assert c.cmd("info breakpoints") == "No breakpoints or watchpoints.\n"
    c.send("c")
    assert wait_results(cpu, n + 1)[-1] == 2 + 4 + 6
    c.interrupt()                         # ^C while the kernel runs
    out = c.collect()
    assert "Program received signal SIGINT, Interrupt.\ngo_user (self=0x" in out
    assert c.cmd("detach").startswith("Detaching from vkernel, process")


def test_step_into_and_up_down(gdb):
    c, cpu = gdb
    c.cmd("break middle")
    c.cont()
    cpu.run(2)
    assert "Breakpoint 1, middle (n=2)" in c.collect()
    assert c.cmd("next") == "17\t    for i in range(n):\n"
    assert c.cmd("n") == "18\t        total += leaf(i)\n"
    out = c.cmd("step")
    assert out == f"leaf (x=0) at {FAKE}:{LEAF_BODY}\n{LEAF_BODY}\t    y = x + 1\n"
    out = c.cmd("up")
    assert out.startswith("#1  0x") and f"middle (n=2) at {FAKE}:{MIDDLE_CALL}\n" in out
    assert c.cmd("print total") == "$1 = 0\n"
    assert c.cmd("up").startswith("#2  0x")
    assert c.cmd("up") == "Initial frame selected; you cannot go up.\n"
    assert c.cmd("down 2").startswith("#0  leaf (x=0)")
    assert c.cmd("info args") == "x = 0\n"
    assert "total" not in c.cmd("info locals")
    listing = c.cmd("list").splitlines()
    assert listing[0].startswith("6\t") and f"{LEAF_BODY}\t    y = x + 1" in listing
    c.cmd("delete 1")
    c.send("c")
    assert wait_results(cpu, 2)[-1] == 2 + 4


def test_line_breakpoint_tbreak_and_notice(gdb):
    c, cpu = gdb
    out = c.cmd(f"tbreak test_kgdb_fakekern.py:{LEAF_RETURN}")
    assert out.startswith("Temporary breakpoint 1 at 0x") and f"line {LEAF_RETURN}." in out
    n = len(cpu.results)
    cpu.run(1)                            # the kernel runs while the prompt is up: a notice
    msg = c.reader.read()
    assert msg["notice"].startswith(f"\nBreakpoint 1, leaf (x=0) at {FAKE}:{LEAF_RETURN}")
    assert c.cmd("print y") == "$1 = 1\n"
    assert c.cmd("info breakpoints") == "No breakpoints or watchpoints.\n"
    c.send("c")
    assert wait_results(cpu, n + 1)[-1] == 2


def test_client_dying_while_stopped_lets_the_kernel_go_on(gdb, stub):
    c, cpu = gdb
    c.cmd("break leaf")
    c.cont()
    n = len(cpu.results)
    cpu.run(2)
    assert "Breakpoint 1, leaf" in c.collect()
    c.close()                             # no detach: the stub must not wedge the kernel
    assert wait_results(cpu, n + 1)[-1] == 2 + 4
    tracer = state.tracers[cpu.thread.ident]
    deadline = time.monotonic() + 5
    while tracer.installed and time.monotonic() < deadline:
        cpu.kick()
        time.sleep(0.05)
    assert not tracer.installed           # no tracing left on the CPU


def test_a_debugger_bug_is_reported_not_raised(gdb):
    c, cpu = gdb
    c.cmd("break leaf")
    deadline = time.monotonic() + 5
    while not (cpu.thread.ident in state.tracers and state.tracers[cpu.thread.ident].installed):
        assert time.monotonic() < deadline
        time.sleep(0.02)

    class Boom(dict):
        def __contains__(self, key):
            raise RuntimeError("boom")
    state.table.codes = Boom()            # the tracer's next lookup fails
    n = len(cpu.results)
    cpu.run(2)
    assert wait_results(cpu, n + 1)[-1] == 2 + 4          # the "kernel" went on
    msg = c.reader.read()
    assert msg["notice"] == ("kgdb: internal error in a CPU's tracer (tracing is off on "
                             "that CPU): RuntimeError: boom\n")
    assert not state.tracers[cpu.thread.ident].installed
    c.cmd("delete")


def test_second_client_is_refused(gdb, stub):
    c, _cpu = gdb
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(stub[0])
    r = gdb_packet.PacketReader(s)
    assert "is already being debugged" in r.read()["out"]
    assert r.read() == {"bye": True}
    s.close()
    assert c.cmd("info breakpoints") == "No breakpoints or watchpoints.\n"


def test_running_kernel_commands(gdb):
    c, _cpu = gdb
    out = c.cmd("bt")
    assert out.startswith('\nThread 1 (Thread 0x') and '"cpu0"):\n#0  0x' in out
    assert " in go_user (self=0x" in out
    assert c.cmd("next").startswith("The kernel is running")
    assert c.cmd("info threads").splitlines()[1].startswith("  1    Thread 0x")
    assert c.cmd("bogus") == 'Undefined command: "bogus".  Try "help".\n'
    assert c.cmd("break nosuchfunction") == 'Function "nosuchfunction" not defined.\n'
    assert "delete [N ...]" in c.cmd("help")


# -- the pure parts -------------------------------------------------------------------------
def test_split_line():
    assert split_line("p/x p->p_pid") == ("print", "x", "p->p_pid")
    assert split_line("bt 3") == ("backtrace", "", "3")
    assert split_line("  b sys_ktrace") == ("break", "", "sys_ktrace")


def test_linespecs(stub):
    kind, locs = gdb_break.parse_linespec("leaf")
    assert kind == "function" and locs[0].line == LEAF_BODY and locs[0].code is fk.leaf.__code__
    kind, locs = gdb_break.parse_linespec("test_kgdb_fakekern.py:13")    # blank: the next code
    assert kind == "line" and locs[0].line == 16
    _, locs = gdb_break.parse_linespec("FakeCpu.kick")
    assert locs[0].code is fk.FakeCpu.kick.__code__
    _, locs = gdb_break.parse_linespec("test_kgdb_fakekern.leaf")
    assert locs[0].code is fk.leaf.__code__
    from vkernel.kernel import kern_ktrace              # a real kernel function, by name
    _, locs = gdb_break.parse_linespec("sys_ktrace")
    assert locs[0].code is kern_ktrace.sys_ktrace.__code__
    assert locs[0].filename.endswith("vkernel/kernel/kern_ktrace.py")
    for spec, msg in [("nosuch.py:3", "No source file named nosuch.py."),
                      ("12", "No default source file: use FILE:LINE."),
                      ("test_kgdb_fakekern.py:999", f'Line 999 is out of range for "{FAKE}".')]:
        with pytest.raises(DbError) as e:
            gdb_break.parse_linespec(spec)
        assert str(e.value) == msg


def test_value_and_frame_formats():
    assert [gdb_frame.format_arg(v) for v in (None, True, 25433, "ktrace", b"a\n")] == \
        ["0x0", "true", "25433", '"ktrace"', '"a\\012"']
    assert gdb_frame.format_arg(fk.leaf) == f"{id(fk.leaf.__code__):#x} <leaf>"
    assert gdb_frame.format_arg(os) == f"{id(os):#x}"
    assert gdb_frame.body_line(fk.leaf.__code__)[0] == LEAF_BODY
    assert gdb_frame.src_name(fk.__file__) == FAKE
    assert gdb_frame.source_line(fk.__file__, LEAF_BODY) == f"{LEAF_BODY}\t    y = x + 1"


def test_no_tracing_without_a_debugger():
    seen = []

    def cpu_thread():
        from vkernel.debug import kgdb_poll
        kgdb_poll()
        seen.append(sys.gettrace())
    t = threading.Thread(target=cpu_thread)
    t.start()
    t.join()
    assert seen == [None]
