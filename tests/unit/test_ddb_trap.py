"""The seed's fatal trap, from a kernel exception to ddb's `trace`.

A fake kernel (ddbfake: go_user -> user_trap -> syscall2 -> sys_ktrace ->
allproc_scan -> ktrace_clear_callback, which reads p.p_tracenode.kn_vp of
an untraced process on kern_ktrace.py line 347) raises; trap_fatal must
print the seed's report byte for byte (tabs expanded), enter ddb, and its
addresses must be ones ddb understands.
"""
import re

import pytest

from ddbfake import load_fake_kernel, machine_fixture, make_proc
from vkernel.ddb import db_sym
from vkernel.ddb.db_output import expand
from vkernel.ddb.db_trace import frames_from_traceback
from vkernel.kernel import kern_shutdown
from vkernel.kernel.kern_synch import mp_lock

machine = machine_fixture()

REPORT = [
    r"Fatal trap 12: page fault while in kernel mode",
    r"mp_lock = 00000001; cpuid = 0",
    r"fault virtual address   = 0x0",
    r"fault code              = supervisor read, page not present",
    r"instruction pointer     = 0x1f:(0x[0-9a-f]+)",
    r"stack pointer           = 0x10:(0x[0-9a-f]+)",
    r"frame pointer           = 0x10:(0x[0-9a-f]+)",
    r"processor eflags        = interrupt enabled, resume, IOPL = 0",
    r"current process         = 692 \(ktrace\)",
    r"current thread          = pri 6 <- SMP: XXX",
    r"kernel: type 12 trap, code=4",
    r"CPU0 stopping CPUs: 0x00000000",
    r" stopped",
    r"Stopped at      (ktrace_clear_callback\+0x[0-9a-f]+):( +)"
    r"if p\.p_tracenode\.kn_vp == info\.tracenode\.kn_vp:",
    r"db> .*",
]


@pytest.fixture
def seed(machine, tmp_path, monkeypatch):
    """pid 692 (ktrace) in sys_ktrace; pid 1 (init) and 690 (t_aio) untraced."""
    monkeypatch.setattr(db_sym, "KERNEL_DIRS", db_sym.KERNEL_DIRS + [str(tmp_path)])
    mods = load_fake_kernel(str(tmp_path))
    init, _ = make_proc(1, "init")
    make_proc(690, "t_aio", init)
    p, td = make_proc(692, "ktrace", init, orig_rax=0x27f, rip=0x4023e4, rsp=0x7ffd4a3c1e28,
                      rbp=0x7ffd4a3c1e50)
    td.td_insyscall = True
    machine.td, machine.trap = td, mods["trap.py"]
    return machine


def fault(m):
    """Run the fake kernel until it faults; the exception."""
    try:
        m.trap.go_user(m.cpu, m.td)
    except AttributeError as exc:
        return exc
    raise AssertionError("the fake kernel did not fault")


def run_trap(m, *lines):
    io = m.script(*lines)
    exc = fault(m)
    with mp_lock:
        retry = kern_shutdown.trap_fatal(exc, m.td)
    return io.text.splitlines(), retry, exc


def test_fatal_trap_report_is_the_seeds(seed):
    lines, retry, _ = run_trap(seed, "continue")
    assert len(lines) >= len(REPORT)
    for pattern, line in zip(REPORT, lines):
        assert re.fullmatch(pattern, line), (pattern, line)
    stopped = lines[len(REPORT) - 2]
    sym = re.fullmatch(REPORT[-2], stopped).group(1)
    assert stopped == expand(f"Stopped at\t{sym}:\tif p.p_tracenode.kn_vp == info.tracenode.kn_vp:")
    assert lines[len(REPORT) - 1] == "db> continue"
    assert lines[len(REPORT):] == ["CPU0 restarting CPUs: 0x00000000", " restarted"]
    assert retry is True                    # continue retries the faulting operation
    assert seed.io.entered and seed.io.left


def from_report(field, template):
    """A console line made from a value of the report printed so far."""
    def line(io):
        value = re.search(rf"{field} += 0x(?:1f|10):(0x[0-9a-f]+)", io.text).group(1)
        return template.format(value)
    return line


def test_report_addresses_resolve(seed):
    io = seed.script(from_report("instruction pointer", "print/a {}"),
                     from_report("frame pointer", "trace {},1"),
                     from_report("stack pointer", "print *((struct trapframe *){})"), "c")
    exc = fault(seed)
    with mp_lock:
        kern_shutdown.trap_fatal(exc, seed.td)
    text = io.text
    assert re.search(r"\$1 = ktrace_clear_callback\+0x[0-9a-f]+\n", text)
    assert re.search(r"Trace beginning at frame 0x[0-9a-f]+\nktrace_clear_callback\(", text)
    assert "  tb_lineno = 347," in text


def test_trace_lists_the_seed_frames(seed):
    lines, _, exc = run_trap(seed, "trace", "c")
    start = lines.index("db> trace") + 1
    trace = lines[start:start + 7]
    p, info = seed_objects(exc)
    word = f"{id(p):x},{id(info):x},0,0,0"
    assert re.fullmatch(rf"ktrace_clear_callback\({word}\) at ktrace_clear_callback\+0x[0-9a-f]+ "
                        r"\[kern_ktrace\.py:347\]", trace[0])
    callback_text = id(seed.trap.kern_ktrace_fake.ktrace_clear_callback.__code__)
    assert re.fullmatch(rf"allproc_scan\({callback_text:x},{id(info):x},0,0,0\) at "
                        r"allproc_scan\+0x[0-9a-f]+ \[kern_proc\.py:\d+\]", trace[1])
    assert re.fullmatch(rf"sys_ktrace\({id(seed.td):x},407170,2,be,0\) at sys_ktrace\+0x[0-9a-f]+ "
                        r"\[kern_ktrace\.py:\d+\]", trace[2])
    assert [t.split("(")[0] for t in trace[3:6]] == ["syscall2", "user_trap", "go_user"]
    assert trace[5].startswith(f"go_user({id(seed.cpu):x},{id(seed.td):x},0,0,0) at go_user+0x")
    assert trace[6] == ("--- syscall 27f (ktrace), rip = 0x4023e4, rsp = 0x7ffd4a3c1e28, "
                        "rbp = 0x7ffd4a3c1e50 ---")


def seed_objects(exc):
    frames = frames_from_traceback(exc.__traceback__)
    loc = frames[0].frame.f_locals
    return loc["p"], loc["data"]


def test_print_in_the_faulting_frame(seed):
    lines, _, exc = run_trap(seed, "print p", "print p->p_tracenode", "print p->p_pid",
                             "print p->p_tracenode->kn_vp", "print info->tracenode->kn_refs", "c")
    p, _ = seed_objects(exc)
    assert p.p_pid == 1                       # the first untraced process faults
    assert f"$1 = (struct proc *) {id(p):#x}" in lines
    assert "$2 = (struct ktrace_node *) 0x0" in lines
    assert "$3 = 1" in lines
    assert "Cannot access memory at address 0x0" in lines
    assert "$4 = 1" in lines


def test_frame_selects_locals_of_an_outer_frame(seed):
    lines, _, _ = run_trap(seed, "frame 2", "print fname", "print/x facs", "c")
    assert lines[lines.index("db> frame 2") + 1].startswith("#2 sys_ktrace(")
    assert "$1 = 4223344" in lines
    assert "$2 = 0xbe" in lines


def test_continue_when_the_process_was_killed_does_not_retry(seed, monkeypatch):
    from vkernel.kernel import kern_sig
    from vkernel.kernel.proc import P_WEXIT

    def exit1(p, sig):
        p.p_flags |= P_WEXIT
        p.p_xstat = sig
    monkeypatch.setitem(kern_sig.hooks, "exit", exit1)
    lines, retry, _ = run_trap(seed, "kill 9 692", "c")
    assert seed.td.lwp_proc.p_xstat == 9
    assert retry is False
    assert "db> kill 9 692" in lines


def test_reset_leaves_with_the_reset_status(seed):
    with pytest.raises(kern_shutdown.Halt) as h:
        run_trap(seed, "reset")
    assert h.value.status == kern_shutdown.EXIT_RESET
    assert seed.io.text.endswith("db> reset\ncpu reset, exiting vkernel\n")


def test_eof_at_the_prompt_of_a_fatal_trap_exits(seed):
    with pytest.raises(kern_shutdown.Halt) as h:
        run_trap(seed)
    assert h.value.status == kern_shutdown.EXIT_PANIC
    assert "vconsgetc: EOF on console" in seed.io.text


def test_without_debugger_the_trap_panics_and_exits(seed):
    kern_shutdown.debugger_on_panic.value = 0
    io = seed.script(interactive=False)
    exc = fault(seed)
    with pytest.raises(kern_shutdown.Halt) as h:
        kern_shutdown.trap_fatal(exc, seed.td)
    assert h.value.status == kern_shutdown.EXIT_PANIC
    lines = io.text.splitlines()
    assert "trap number             = 12" in lines
    assert lines[lines.index("trap number             = 12") + 1:][:3] == [
        "panic: page fault", "cpuid = 0", lines[lines.index("cpuid = 0") + 1]]
    assert re.fullmatch(r"Trace beginning at frame 0x[0-9a-f]+", lines[lines.index("cpuid = 0") + 1])
    assert "db> " not in io.text
