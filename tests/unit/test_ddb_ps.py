"""ps, show all procs, show proc, show thread, show files, trace of other threads."""
from ddbfake import machine_fixture, make_proc
from test_ddb_command import out_after
import vkernel.syscalls.linux64  # noqa: F401  (fills the syscall table)
from vkernel.kernel.proc import SZOMB

machine = machine_fixture()

HEADER = "  pid      lwp  uid  ppid  pgrp  pflag  lflag stat  wmesg    wchan cmd"


def table(machine):
    init, itd = make_proc(1, "init")
    itd.td_wchans, itd.td_wmesg, itd.td_insyscall = (("wait", init),), "wait", True
    p, td = make_proc(692, "ktrace", init, uid=1001, orig_rax=0x27f, rip=0x4023e4,
                      rsp=0x7ffd4a3c1e28, rbp=0x7ffd4a3c1e50)
    td.td_insyscall = True
    z, ztd = make_proc(690, "t_aio", init)
    z.p_lwps.clear()
    z.p_stat = SZOMB
    machine.cpu.curthread = td
    return init, itd, p, td


def test_ps_rows_and_cpu_section(machine):
    init, itd, p, td = table(machine)
    text, _ = machine.ddb("ps", "c", td=td)
    lines = out_after(text, "ps").splitlines()
    assert lines[0] == HEADER
    assert lines[1] == (f"    1 {id(itd):#x}    0     0     1 000000 000002  2 3   wait "
                        f"{id(init):#x} init")
    assert lines[2] == "  690        0    0     1     1 000000 000000  4 4                  t_aio"
    assert lines[3] == (f"  692 {id(td):#x} 1001     1     1 000000 000002  2 1"
                        + " " * 17 + " ktrace")
    assert lines[4] == f"cpu 0 curthread {id(td):#x} reqflags 0000"
    assert lines[5] == f"CURCPU 0 CURTHREAD {id(td):#x} (692)"


def test_show_all_procs_is_ps(machine):
    *_, td = table(machine)
    text, _ = machine.ddb("ps", "show all procs", "c", td=td)
    assert out_after(text, "ps") == out_after(text, "show all procs")


def test_show_proc_by_pid_and_address(machine):
    init, itd, p, td = table(machine)
    text, _ = machine.ddb("show proc 692", f"show proc {id(p):#x}", "show proc", "show proc 5",
                          f"show proc {id(p.p_ucred):#x}", "c", td=td)
    one = out_after(text, "show proc 692")
    assert one.startswith(f"Process 692 (ktrace) at {id(p):#x}:\n state: SACTIVE  flags: 0x0\n"
                          " pid: 692  ppid: 1  pgrp: 1  session: 1\n uid: 1001  ruid: 1001")
    assert " p_tracenode: 0x0  p_traceflag: 0x0\n" in one
    assert f"  tid 692 at {id(td):#x}: in the kernel\n" in one
    assert out_after(text, f"show proc {id(p):#x}") == one
    assert out_after(text, "show proc") == one                 # the current process
    assert out_after(text, "show proc 5") == "No process 5\n"
    assert out_after(text, f"show proc {id(p.p_ucred):#x}") == \
        f"{id(p.p_ucred):#x} is a struct ucred, not a struct proc\n"


def test_show_thread(machine):
    init, itd, p, td = table(machine)
    text, _ = machine.ddb("show thread 1", "c", td=td)
    out = out_after(text, "show thread 1")
    assert out.startswith(f"Thread 1 at {id(itd):#x}:\n proc: 1 (init) at {id(init):#x}\n"
                          f" state: asleep on \"wait\" (wchan {id(init):#x})  lwp_stat 3")
    assert " syscall: 0x0 (read)\n" in out


def test_trace_of_a_sleeping_thread(machine):
    init, itd, p, td = table(machine)
    itd.regs.orig_rax = 61                       # wait4
    text, _ = machine.ddb("trace 1", "trace 5", "c", td=td)
    out = out_after(text, "trace 1").splitlines()
    assert out[0] == f"Tracing pid 1 tid 1 td {id(itd):#x}"
    assert out[1].startswith('(asleep on "wait";')
    assert out[2].startswith(f"sys_wait4({id(itd):x},0,0,0,0) at sys_wait4 [sys_process.py:")
    assert out[3] == "--- syscall 3d (wait4), rip = 0x0, rsp = 0x0, rbp = 0x0 ---"
    assert out_after(text, "trace 5") == "No process or thread 5\n"


def test_kill_from_ddb(machine, monkeypatch):
    from vkernel.kernel import kern_sig
    *_, td = table(machine)
    sent = []
    monkeypatch.setattr(kern_sig, "psignal", lambda p, sig: sent.append((p.p_pid, sig)))
    text, _ = machine.ddb("kill 15 692", "kill 9 77", "kill x", "c", td=td)
    assert sent == [(692, 15)]
    assert out_after(text, "kill 9 77") == "Can't find process with pid 77\n"
    assert out_after(text, "kill x") == "usage: kill sig pid\n"


def test_show_files(machine):
    from vkernel.kernel.file import File, FileOps
    from vkernel.kernel.kern_descrip import FileDesc
    *_, p, td = table(machine)
    p.p_fd = FileDesc()
    fp = File(FileOps(), 0o2 | 0o2000, path="/tmp/ktrace.out")
    p.p_fd.install(3, fp, cloexec=True)
    text, _ = machine.ddb("show files 692", "c", td=td)
    lines = out_after(text, "show files 692").splitlines()
    assert lines[0] == f"pid 692 (ktrace) filedesc at {id(p.p_fd):#x}, 1 open:"
    assert lines[2] == f"   3 {id(fp):#x}    1        0 rwae FileOps        /tmp/ktrace.out"
