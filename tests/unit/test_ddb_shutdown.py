"""panic(9), the reboot countdown, break-ins and the exception -> trap mapping."""
import re
import sys

import pytest

from ddbfake import machine_fixture, make_proc
from vkernel.kernel import kern_shutdown, kern_sysctl
from vkernel.kernel.kern_shutdown import Halt

machine = machine_fixture()


def a_kernel_assertion():
    kern_shutdown.panic("vm_fault: fault on nofault entry")


def test_panic_prints_trace_enters_ddb_and_reboots(machine):
    kern_shutdown.panic_reboot_wait.value = 0
    io = machine.script("show panic", "trace", "c")
    with pytest.raises(Halt) as h:
        a_kernel_assertion()
    assert h.value.status == kern_shutdown.EXIT_REBOOT
    lines = io.text.splitlines()
    assert lines[:2] == ["panic: vm_fault: fault on nofault entry", "cpuid = 0"]
    assert re.fullmatch(r"Trace beginning at frame 0x[0-9a-f]+", lines[2])
    assert lines[3].startswith("panic(") and "[kern_shutdown.py:" in lines[3]
    assert lines[4] == 'Debugger("panic")'
    assert lines[5:7] == ["CPU0 stopping CPUs: 0x00000000", " stopped"]
    assert re.match(r"Stopped at      panic\+0x[0-9a-f]+:", lines[7])
    assert "panic: vm_fault: fault on nofault entry" in lines[lines.index("db> show panic") + 1]
    assert lines[-3:] == [" restarted", "Rebooting...", "cpu reset, rebooting vkernel"]


def test_panic_command_in_ddb_panics_again(machine):
    kern_shutdown.panic_reboot_wait.value = 0
    io = machine.script("panic", "c")
    with pytest.raises(Halt):
        kern_shutdown.Debugger("test")
    text = io.text
    assert 'Debugger("test")\n' in text
    assert "db> panic\npanic: from debugger\ncpuid = 0\n" in text
    assert text.count("Trace beginning") == 1          # only the first panic traces
    assert text.endswith("Rebooting...\ncpu reset, rebooting vkernel\n")


def test_countdown_is_aborted_by_a_key(machine):
    io = machine.script("c", keys=[b"x", b"y"])
    with pytest.raises(Halt) as h:
        a_kernel_assertion()
    assert h.value.status == kern_shutdown.EXIT_REBOOT
    assert ("Automatic reboot in 15 seconds - press a key on the console to abort\n"
            "--> Press a key on the console to reboot,\n"
            "--> or switch off the system now.\n"
            "Rebooting...\n") in io.text


def test_countdown_runs_out(machine):
    kern_shutdown.panic_reboot_wait.value = 1
    io = machine.script("c")
    with pytest.raises(Halt):
        a_kernel_assertion()
    assert "Automatic reboot in 1 seconds" in io.text
    assert "Press a key" not in io.text


def test_panic_with_nobody_at_the_console_exits_70(machine, capsys):
    kern_shutdown.debugger_on_panic.value = 0
    io = machine.script(interactive=False)
    try:
        raise RuntimeError("lost track of a vnode")
    except RuntimeError as exc:
        with pytest.raises(Halt) as h:
            kern_shutdown.trap_fatal(exc, None)
    assert h.value.status == kern_shutdown.EXIT_PANIC
    assert io.text.startswith("panic: RuntimeError: lost track of a vnode\ncpuid = 0\n")
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_reboot_command_takes_the_clean_path(machine, monkeypatch):
    seen = []

    def handler(how):
        seen.append(how)
        raise Halt(kern_shutdown.EXIT_REBOOT)
    monkeypatch.setattr(kern_shutdown, "shutdown_handler", handler)
    machine.script("reboot")
    with pytest.raises(Halt):
        kern_shutdown.Debugger("test")
    assert seen == ["reboot"]


def break_in():
    """What the CPU loop's safe point does."""
    kern_shutdown.kdb_poll()


def test_host_sigquit_breaks_in_at_the_safe_point(machine):
    io = machine.script("trace", "c")
    kern_shutdown.kdb_request("interrupt from console", 3, sys._getframe())
    assert io.text == "" and machine.cpu.pending_work       # the handler only notes it
    break_in()
    lines = io.text.splitlines()
    assert re.fullmatch(r"CAUGHT SIG 3 RIP [0-9a-f]{8,} RSP [0-9a-f]{8,} TD 0x0", lines[0])
    assert lines[1:4] == ['Debugger("interrupt from console")', "CPU0 stopping CPUs: 0x00000000",
                          " stopped"]
    assert lines[4].startswith("Stopped at      Debugger+0x")
    trace = lines[lines.index("db> trace") + 1:]
    assert trace[0].startswith("Debugger(") and trace[1].startswith("kdb_poll(")
    assert not any(t.startswith("---") for t in trace)         # no thread was on the CPU
    assert lines[-2:] == ["CPU0 restarting CPUs: 0x00000000", " restarted"]
    assert io.entered and io.left
    break_in()
    assert io.text.count("Debugger(") == 2                     # the request was used up


def test_sysctl_kdb_enter_requests_a_break_in(machine):
    io = machine.script("c")
    kern_sysctl.sysctl_set("debug.kdb.enter", "1")
    assert io.text == "" and machine.wakeups == 1
    break_in()
    assert 'Debugger("sysctl debug.kdb.enter")' in io.text
    assert "CAUGHT SIG" not in io.text


def test_sysctl_kdb_trap_is_a_null_dereference(machine):
    with pytest.raises(AttributeError) as e:
        kern_sysctl.sysctl_set("debug.kdb.trap", "1")
    assert kern_shutdown.classify(e.value, []) == (12, 4, 0)


def boom(kind):
    p = None
    table = {}
    if kind == "attr":
        return p.p_tracenode
    if kind == "store":
        p.p_flags = 1
    if kind == "index":
        return [][1]
    if kind == "key":
        return table["x"]
    if kind == "div":
        return 1 // len(table)
    if kind == "recursion":
        return boom(kind)
    if kind == "assert":
        raise AssertionError("KASSERT: empty table")
    raise ValueError("bad value")


@pytest.mark.parametrize("kind,trap", [("attr", (12, 4, 0)), ("store", (12, 6, 0)),
                                       ("index", (9, 0, 0)), ("key", (9, 0, 0)),
                                       ("div", (18, 0, 0)), ("recursion", (27, 0, 0)),
                                       ("assert", None), ("value", None)])
def test_exceptions_map_to_traps(kind, trap, machine, tmp_path, monkeypatch):
    from vkernel.ddb import db_sym
    from vkernel.ddb.db_trace import frames_from_traceback
    monkeypatch.setattr(db_sym, "KERNEL_DIRS", db_sym.KERNEL_DIRS + [__file__.rsplit("/", 1)[0]])
    try:
        boom(kind)
    except Exception as exc:
        frames = frames_from_traceback(exc.__traceback__)
        assert kern_shutdown.classify(exc, frames) == trap
        if trap is None:
            msg = kern_shutdown.panic_message(exc)
            assert msg == {"assert": "KASSERT: empty table", "value": "ValueError: bad value"}[kind]


def test_fatal_trap_of_a_thread_in_a_syscall_shows_it(machine):
    p, td = make_proc(692, "ktrace")
    report = kern_shutdown.fatal_trap_report((9, 0, 0), [], None, td)
    assert report.splitlines()[0] == "Fatal trap 9: general protection fault while in kernel mode"
    assert "fault virtual address" not in report
    assert "current process\t\t= 692 (ktrace)" in report
