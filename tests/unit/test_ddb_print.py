"""print, casts, call and show registers against a fabricated process table."""
from ddbfake import machine_fixture, make_proc
from test_ddb_command import out_after

machine = machine_fixture()


def test_cast_of_a_live_proc(machine):
    p, _ = make_proc(692, "ktrace")
    text, _ = machine.ddb(f"print ((struct proc *){id(p):#x})->p_pid",
                          f"print ((struct proc *){id(p):#x})->p_comm",
                          f"print/x ((struct proc *){id(p):#x})->p_pid", "c")
    assert "$1 = 692\n" in text
    assert '$2 = "ktrace"\n' in text
    assert "$3 = 0x2b4\n" in text


def test_casts_of_bad_addresses_are_errors_not_crashes(machine):
    p, td = make_proc(692, "ktrace")
    junk = object()
    text, action = machine.ddb("print ((struct proc *)0x1234)->p_pid",
                               f"print ((struct proc *){id(td):#x})->p_pid",
                               f"print ((struct proc *){id(junk):#x})->p_pid",
                               "print ((struct proc *)0)->p_pid",
                               f"print ((struct proc *){id(p):#x})->p_nosuch",
                               f"print ((struct proc *){id(p):#x})->_private",
                               "print ((struct proc *)", "c")
    assert out_after(text, "print ((struct proc *)0x1234)->p_pid") == \
        "Cannot access memory at address 0x1234\n"
    assert out_after(text, f"print ((struct proc *){id(td):#x})->p_pid") == \
        f"Cannot access memory at address {id(td):#x} (a struct lwp is there, not a struct proc)\n"
    assert out_after(text, f"print ((struct proc *){id(junk):#x})->p_pid") == \
        f"Cannot access memory at address {id(junk):#x}\n"
    assert out_after(text, "print ((struct proc *)0)->p_pid") == \
        "Cannot access memory at address 0x0\n"
    assert "There is no member named p_nosuch.\n" in text
    assert "There is no member named _private.\n" in text
    assert action == "continue"


def test_thread_casts_and_null_pointers_keep_their_type(machine):
    p, td = make_proc(692, "ktrace")
    text, _ = machine.ddb(f"print ((struct thread *){id(td):#x})->lwp_proc",
                          f"print ((struct lwp *){id(td):#x})->lwp_proc->p_tracenode",
                          f"print ((struct proc *){id(p):#x})->p_tracenode->kn_vp", "c")
    assert f"$1 = (struct proc *) {id(p):#x}\n" in text
    assert "$2 = (struct ktrace_node *) 0x0\n" in text
    assert "Cannot access memory at address 0x0\n" in text


def test_print_a_whole_structure_and_history(machine):
    p, _ = make_proc(692, "ktrace")
    text, _ = machine.ddb(f"print ((struct proc *){id(p):#x})", "print *$1", "print $1->p_pid",
                          "print $7", "c")
    dump = out_after(text, "print *$1")
    assert dump.startswith("$2 = {\n  p_pid = 692,\n")
    assert "  p_comm = \"ktrace\",\n" in dump
    assert "  p_tracenode = (struct ktrace_node *) 0x0,\n" in dump
    assert dump.endswith("}\n")
    assert "$3 = 692\n" in text
    assert "History has not yet reached $7.\n" in text


def test_kernel_globals_indexing_and_arithmetic(machine):
    p, _ = make_proc(692, "ktrace")
    text, _ = machine.ddb("print allproc[0t692]->p_pid", "print allproc[692]",
                          "print 0t10 + 0x10 * 2 - 1", "print/o 8", "print/c 0x41", "c")
    assert "$1 = 692\n" in text
    assert "No element 1682\n" in text                      # 692 is hex in radix 16
    assert "$2 = 41\n" in text
    assert "$3 = 010\n" in text
    assert "$4 = 'A'\n" in text


def test_call_runs_only_safe_functions(machine):
    p, _ = make_proc(692, "ktrace")
    text, _ = machine.ddb("call pfind(0t692)", "call nprocs()", "call pfind(0t7)",
                          "call exit1(0t692)", "call pfind(1", "!nprocs()", "c")
    assert out_after(text, "call pfind(0t692)") == f"(struct proc *) {id(p):#x}\n"
    assert out_after(text, "call nprocs()") == "0x1\n"
    assert out_after(text, "call pfind(0t7)") == "0x0\n"
    assert out_after(text, "call exit1(0t692)").startswith("Bad function: exit1 is not one")
    assert out_after(text, "call pfind(1") == "?\n"
    assert out_after(text, "!nprocs()") == "0x1\n"


def test_call_sysctl(machine):
    from vkernel.kernel import kern_sysctl
    cell = kern_sysctl.sysctl_int("debug.ddb_test_knob", 0, "a knob for ddb's tests")
    try:
        text, _ = machine.ddb('call sysctl_set("debug.ddb_test_knob", 5)',
                              'call sysctl_get("debug.ddb_test_knob")',
                              'call sysctl_get("no.such")', "c")
    finally:
        kern_sysctl._tree.pop("debug.ddb_test_knob", None)
    assert cell.value == 5
    assert out_after(text, 'call sysctl_get("debug.ddb_test_knob")') == "0x5\n"
    assert out_after(text, 'call sysctl_get("no.such")') == "sysctl_get: error 2\n"


def test_show_registers_and_register_variables(machine):
    p, td = make_proc(692, "ktrace", rip=0x401000, rsp=0x7ffd0000, rax=1,
                      memory={0x401000: b"\x0f\x05\x90\x90"})
    text, _ = machine.ddb("show registers", "print/x $rsp", "set $rax = 0x2a", "print $rax",
                          td=td)
    regs = out_after(text, "show registers").splitlines()
    assert regs[0] == "rax         0x1"
    assert "rsp         0x7ffd0000" in regs
    assert "rip         0x401000" in regs
    assert "ds          0" in regs
    assert regs[-1] == "0x401000:       syscall"
    assert "$1 = 0x7ffd0000\n" in text
    assert td.regs.rax == 0x2a and "$2 = 42\n" in text
