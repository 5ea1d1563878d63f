"""kern_fail without guests: fail(9)'s grammar and read-back, evaluation
(probabilities, counts, chains, pids), the sleeping actions across the
dispatcher's re-run, the sysctl nodes and the kernel's named points."""
import pytest

from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_fail as K
from vkernel.kernel import kern_shutdown, kern_sysctl, msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_synch import Sleep, sched
from vkernel.kernel.proc import Lwp, Proc


@pytest.fixture
def td():
    """A thread in the middle of a syscall (what the dispatcher makes)."""
    p = Proc(100, None)
    t = Lwp(p, 100, host=None)
    p.p_lwps[100] = t
    t.td_insyscall = True
    t.sstate = {}
    yield t
    sched.unsleep(t)


def new_syscall(td):
    """The dispatcher's entry: a fresh per-syscall scratch."""
    sched.unsleep(td)
    td.sstate = {}


class Clock:
    """Stands in for kern_fail's time module."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(K, "time", c)
    return c


class Draws:
    """Stands in for kern_fail's random source: randrange gives these values."""

    def __init__(self, *values):
        self.values = list(values)

    def randrange(self, n):
        return self.values.pop(0)


def point(text):
    fp = K.FailPoint("t")
    fp.set(text)
    return fp


def einval(fp, text):
    with pytest.raises(KernelError) as e:
        fp.set(text)
    return e.value.errno == E.EINVAL


# -- grammar and read-back ---------------------------------------------------------------------
@pytest.mark.parametrize("text, shown", [
    ("off", "off"),
    ("return(5)", "return(5)"),
    ("100%return(5)", "return(5)"),
    ("5%return(5)", "5%return(5)"),
    ("2.1%return(5)", "2.1%return(5)"),
    (".5%print", "0.5%print"),
    ("33.33333%return", "33.3333%return"),
    ("0.00005%return", "0.0001%return"),
    ("150%return(1)", "return(1)"),
    ("1*return(28)", "1*return(28)"),
    ("2%return(5)->5%return(22)", "2%return(5)->5%return(22)"),
    ("5*return(5)->1*panic", "5*return(5)->1*panic"),
    ("1*return(5)[pid 1234]", "1*return(5)[pid 1234]"),
    ("delay(100)", "delay(100)"),
    ("sleep(0x10)", "sleep(16)"),
    ("return(010)", "return(8)"),
    ("return(-5)", "return(-5)"),
    ("return(0)", "return"),
    ("print(1)->break->yield", "print(1)->break->yield"),
    ("0%return(5)", "off"),
    ("0%return(5)->return(6)", "return(6)"),
    ("off->return(5)", "off"),
    ("return(1)->off->return(5)", "return(1)"),
    ("1*off->return(5)", "1*off->return(5)"),
    ("pause->return(3)", "pause"),
    ("10%3*return(4)", "10%3*return(4)"),
])
def test_expression_reads_back_as_freebsd_prints_it(text, shown):
    assert point(text).get() == shown


@pytest.mark.parametrize("text", [
    "", "bogus", "5return", "0*return", "1.5*return", "-1*return", ".%return", "return(",
    "return(5", "return()", "return(x)", "return(5)x", "return(5)->", "->return(5)",
    "return(5)[pid x]", "return(5)[pid 7", "return(5) ->off", "return(5)[pid -7]",
    "->".join(["return(1)"] * (K.FP_MAX_ENTRY_COUNT + 1)),
])
def test_malformed_expressions_are_einval_and_keep_the_old_setting(text):
    fp = point("1*return(7)")
    assert einval(fp, text)
    assert fp.get() == "1*return(7)"


def test_limits_and_whitespace():
    fp = point("->".join(["return(1)"] * K.FP_MAX_ENTRY_COUNT))
    assert fp.get().count("return(1)") == K.FP_MAX_ENTRY_COUNT
    assert einval(fp, "return(1)" + "0" * K.MAX_FAIL_POINT_BUF)
    fp.set("  delay(5)\n")                      # what `echo ... >` writes
    assert fp.get() == "delay(5)"


# -- evaluation --------------------------------------------------------------------------------
def test_off_and_return(td):
    fp = K.FailPoint("t")
    assert fp.eval(td) is None and fp.get() == "off"
    fp.set("return(5)")
    assert fp.eval(None) == 5 and fp.eval(None) == 5
    with pytest.raises(KernelError) as e:
        fp.check(None)
    assert e.value.errno == E.EIO
    fp.set("return(-28)")
    assert fp.eval(None) == E.ENOSPC
    fp.set("off")
    assert fp.eval(td) is None
    fp.check(td)                                # off: nothing raised


def test_counts_are_spent_then_the_next_term_fires():
    fp = point("2*return(5)->return(7)")
    assert fp.eval(None) == 5
    assert fp.get() == "1*return(5)->return(7)"
    assert fp.eval(None) == 5
    assert fp.get() == "return(7)"
    assert [fp.eval(None) for _ in range(3)] == [7, 7, 7]


def test_a_spent_point_is_off_again():
    fp = point("1*return(28)")
    assert fp.eval(None) == E.ENOSPC
    assert fp.get() == "off" and fp.fp_entries == []
    assert fp.eval(None) is None


def test_return_zero_fires_but_injects_nothing():
    fp = point("1*return->return(9)")
    assert fp.eval(None) is None
    assert fp.get() == "return(9)"
    assert fp.eval(None) == 9


def test_probability_draws(monkeypatch):
    fp = point("50%return(5)->25%return(6)")
    monkeypatch.setattr(K, "_random", Draws(499999, 500001, 249999, 500001, 250001))
    assert fp.eval(None) == 5                   # 500000 >= 499999: fires
    assert fp.eval(None) == 6                   # the first says no, the second yes
    assert fp.eval(None) is None                # neither
    counted = point("50%1*return(5)")
    monkeypatch.setattr(K, "_random", Draws(999999, 0))
    assert counted.eval(None) is None and counted.get() == "50%1*return(5)"  # no draw, no count
    assert counted.eval(None) == 5 and counted.get() == "off"


def test_probability_is_about_right(monkeypatch):
    import random
    monkeypatch.setattr(K, "_random", random.Random(4))
    fp = point("5%return(5)")
    hits = sum(fp.eval(None) == 5 for _ in range(20000))
    assert 800 < hits < 1200


def test_pid_filter(td):
    assert point("return(5)[pid 100]").eval(td) == 5
    new_syscall(td)
    assert point("return(5)[pid 7]->return(6)").eval(td) == 6
    assert point("return(5)[pid 7]").eval(None) is None


def test_print_logs_and_print_one_goes_on():
    fp = K.FailPoint("printer")
    fp.set("print")
    assert fp.eval(None) is None
    assert msgbuf.contents().endswith("fail point printer executing\n")
    fp.set("print(1)->return(5)")
    assert fp.eval(None) == 5
    fp.set("print->return(5)")
    assert fp.eval(None) is None


def test_panic_calls_the_kernels_panic(monkeypatch):
    said = []

    def panic(msg, **kw):
        said.append(msg)
        raise kern_shutdown.Halt(kern_shutdown.EXIT_PANIC)
    monkeypatch.setattr(kern_shutdown, "panic", panic)
    fp = K.FailPoint("vfs_test")
    fp.set("1*return(5)->panic")
    assert fp.eval(None) == 5
    with pytest.raises(kern_shutdown.Halt):
        fp.eval(None)
    assert said == ["fail point vfs_test panicking"]


def test_break_enters_the_debugger_and_goes_on(monkeypatch):
    entered = []
    monkeypatch.setattr(kern_shutdown, "Debugger", lambda msg, **kw: entered.append(msg))
    assert point("break->return(5)").eval(None) is None
    assert entered == ["fail point t"]


# -- sleeping: the syscall is re-run after the wakeup ---------------------------------------------
def test_delay_sleeps_with_a_deadline_and_the_rerun_goes_on(td, clock):
    fp = point("delay(200)")
    with pytest.raises(Sleep):
        fp.eval(td)
    assert td.td_wmesg == "failpt" and td.td_wchans is not None
    clock.now += 0.1                            # woken early (a stray wakeup)
    sched.unsleep(td)
    with pytest.raises(Sleep):
        fp.eval(td)
    clock.now += 0.15                           # past the deadline: the callout woke it
    sched.unsleep(td)
    assert fp.eval(td) is None
    assert fp.eval(td) is None                  # decided for this syscall
    new_syscall(td)
    with pytest.raises(Sleep):                  # the next syscall sleeps again
        fp.eval(td)


def test_sleep_then_the_rest_of_the_chain(td, clock):
    fp = point("print(1)->1*sleep(50)->return(5)")
    with pytest.raises(Sleep):
        fp.eval(td)
    assert fp.get() == "print(1)->return(5)"    # the count was spent before sleeping
    clock.now += 0.06
    sched.unsleep(td)
    assert fp.eval(td) == 5                     # after the sleep: return(5), no new draw
    assert fp.get() == "print(1)->return(5)"


def test_one_evaluation_per_syscall(td):
    fp = point("1*return(5)->return(6)")
    assert fp.eval(td) == 5
    assert fp.eval(td) == 5                     # a re-run after some other sleep
    assert fp.get() == "return(6)"
    new_syscall(td)
    assert fp.eval(td) == 6


def test_delay_zero_and_outside_a_syscall_do_not_sleep(td):
    assert point("delay(0)").eval(td) is None
    assert point("delay(100)->return(5)").eval(None) is None
    td.td_insyscall = False
    assert point("delay(100)").eval(td) is None


def test_pause_sleeps_until_the_point_is_set_again(td):
    fp = point("pause")
    with pytest.raises(Sleep):
        fp.eval(td)
    sched.unsleep(td)
    with pytest.raises(Sleep):                  # not set again: back to sleep
        fp.eval(td)
    fp.set("off")
    assert td in sched.runq and td.td_wchans is None
    assert fp.eval(td) is None


def test_yield_sleeps_once(td, clock):
    fp = point("yield")
    with pytest.raises(Sleep):
        fp.eval(td)
    sched.unsleep(td)
    assert fp.eval(td) is None


# -- the sysctl tree and the kernel's points --------------------------------------------
def test_points_are_sysctl_nodes():
    fp = K.fail_point("unit_test_point", "a point for the unit tests")
    try:
        assert K.fail_point("unit_test_point") is fp
        name = "debug.fail_point.unit_test_point"
        assert name in kern_sysctl.sysctl_list("debug.fail_point")
        assert kern_sysctl.sysctl_get(name) == "off"
        kern_sysctl.sysctl_set(name, "5%return(5)\n")
        assert kern_sysctl.sysctl_get(name) == "5%return(5)" == fp.get()
        with pytest.raises(KernelError) as e:
            kern_sysctl.sysctl_set(name, "5%retur")
        assert e.value.errno == E.EINVAL

        class User:
            uid = 1000
        with pytest.raises(KernelError) as e:
            kern_sysctl.sysctl_set(name, "off", User())
        assert e.value.errno == E.EPERM
    finally:
        del K._fail_points["unit_test_point"]
        del kern_sysctl._tree["debug.fail_point.unit_test_point"]


def test_the_kernels_points_are_registered():
    import vkernel.kernel.kern_fork  # noqa: F401
    import vkernel.syscalls.linux64.sys_file  # noqa: F401
    import vkernel.syscalls.linux64.sys_generic  # noqa: F401
    import vkernel.syscalls.linux64.sys_mman  # noqa: F401
    names = set(K.fail_points())
    assert {"vfs_read", "vfs_write", "vfs_open", "fork", "mmap", "pipe_write"} <= names
    assert "syscall" not in names
    assert kern_sysctl.sysctl_children("debug.fail_point") == sorted(names)


def test_pipe_write_point(td):
    from vkernel.abi.linux import fcntl as F
    from vkernel.kernel.file import File
    from vkernel.kernel.sys_pipe import Pipe, PipeEnd
    pipe = Pipe()
    reader, writer = PipeEnd(pipe, False), PipeEnd(pipe, True)
    fp = File(writer, F.O_WRONLY)
    K.fail_point("pipe_write").set("1*return(5)")
    try:
        with pytest.raises(KernelError) as e:
            writer.write(td, fp, b"x")
        assert e.value.errno == E.EIO and not pipe.buf
        new_syscall(td)
        assert writer.write(td, fp, b"x") == 1 and bytes(pipe.buf) == b"x"
    finally:
        K.fail_point("pipe_write").set("off")
        reader.close(None)
