"""Fatal traps, panics and ddb on a real console (a pty driven by pexpect).

Each test starts a host shell in a pty, boots the vkernel from it with a
single-user shell (-s), gets into ddb (^\\ on the console, a sysctl written
through /proc/sys, or the seed's `ktrace -c ./t_aio` with the 2009 bug
switched back on), looks around with ddb's commands, and leaves with
`reset`: back at the host shell, with the terminal as it was and no guest
process left behind.  The guest shell runs `set +m` first: job control is
not what these tests are about.
"""
import re
import sys

import pytest

from conftest import run_vk
from hostshell import HostShell, clean

GUEST = "guest> "
PROMPT = "db> "


class Session(HostShell):
    """A host shell in a pty, from which the vkernel is booted."""

    def __init__(self, root):
        super().__init__()
        self.root = root

    def boot(self, *options):
        self.c.sendline(" ".join([sys.executable, "-m", "vkernel", "-r", self.root, *options,
                                  "-s"]))
        self.c.expect_exact("built-in shell")
        self.c.expect_exact("# ")
        self.guest("set +m; PS1='gu''est> '")

    def guest(self, cmd, until=GUEST):
        self.c.sendline(cmd)
        self.c.expect_exact(until)
        return self.c.before

    def ddb(self, cmd):
        """Run a ddb command; its output (without the echoed command)."""
        self.c.sendline(cmd)
        self.c.expect_exact(PROMPT)
        lines = clean(self.c.before).split("\n")
        while lines and lines[0].strip() in ("", cmd):      # the echo(es) of the command
            lines.pop(0)
        return "\n".join(lines)

    def reset(self):
        """ddb's reset: back at the host shell, status 71, nothing left."""
        stubs = self.stubs()
        assert stubs, "no guest process to check"
        self.c.sendline("reset")
        self.c.expect_exact("cpu reset, exiting vkernel")
        self.back_at_host(71, seen=stubs)

    def close(self):
        self.c.sendline("exit")
        super().close()


@pytest.fixture
def session(root):
    s = Session(root)
    yield s
    s.close()


REPORT = [
    r"Fatal trap 12: page fault while in kernel mode",
    r"mp_lock = 00000001; cpuid = (\d)",
    r"fault virtual address   = 0x0",
    r"fault code              = supervisor read, page not present",
    r"instruction pointer     = 0x1f:0x[0-9a-f]+",
    r"stack pointer           = 0x10:0x[0-9a-f]+",
    r"frame pointer           = 0x10:0x[0-9a-f]+",
    r"processor eflags        = interrupt enabled, resume, IOPL = 0",
    r"current process         = (\d+) \((\w+)\)",
    r"current thread          = pri 6 <- SMP: XXX",
    r"kernel: type 12 trap, code=4",
    r"CPU(\d) stopping CPUs: 0x(\d{8})",
    r" stopped",
    r"Stopped at      (\w+\+0x[0-9a-f]+): +(.*)",
]


def fatal_report(s, command, cpu=0, others=0):
    """Type command in the guest; it must end in the fatal-trap report and db>,
    from CPU `cpu` stopping the CPUs of mask `others`."""
    s.c.sendline(command)
    s.c.expect_exact(PROMPT)
    text = clean(s.c.before)
    lines = text[text.index("Fatal trap"):].splitlines()
    for pattern, line in zip(REPORT, lines):
        assert re.fullmatch(pattern, line), (pattern, line)
    assert len(lines) == len(REPORT)
    assert re.fullmatch(REPORT[1], lines[1]).group(1) == str(cpu)
    assert re.fullmatch(REPORT[11], lines[11]).groups() == (str(cpu), f"{others:08x}")
    pid, name = re.fullmatch(REPORT[8], lines[8]).groups()
    where, source = re.fullmatch(REPORT[-1], lines[-1]).groups()
    return int(pid), name, where, source


def test_break_in_look_around_and_reset(session):
    s = session
    s.boot()
    s.c.sendcontrol("\\")
    s.c.expect(r"CAUGHT SIG 3 RIP [0-9a-f]+ RSP [0-9a-f]+ TD 0x[0-9a-f]+\r\n"
               r'Debugger\("interrupt from console"\)\r\n'
               r"CPU0 stopping CPUs: 0x00000000\r\n stopped\r\n"
               r"Stopped at      Debugger\+0x[0-9a-f]+: ")
    s.c.expect_exact(PROMPT)
    trace = s.ddb("trace").splitlines()
    assert trace[0].startswith("Debugger(") and "[kern_shutdown.py:" in trace[0]
    assert any(t.startswith("go_user(") for t in trace)
    ps = s.ddb("ps").splitlines()
    assert ps[0] == "  pid      lwp  uid  ppid  pgrp  pflag  lflag stat  wmesg    wchan cmd"
    assert re.fullmatch(r"    1 0x[0-9a-f]+    0     0     1 0000\d\d 00000\d  2 \d .* sh", ps[1])
    proc = s.ddb("show proc 1")
    addr = re.search(r"Process 1 \(sh\) at (0x[0-9a-f]+):", proc).group(1)
    assert s.ddb(f"print ((struct proc *){addr})->p_pid").strip() == "$1 = 1"
    assert s.ddb(f"print ((struct proc *){addr})->p_comm").strip() == '$2 = "sh"'
    assert s.ddb("print ((struct proc *)0x1234)->p_pid").strip() == \
        "Cannot access memory at address 0x1234"
    assert s.ddb("print p->p_pid").strip() == 'No symbol "p" in current context.'
    regs = s.ddb("show registers")
    assert re.search(r"^rip         0x[0-9a-f]+$", regs, re.M)
    assert re.search(r"^0x[0-9a-f]+: +\w+", regs.splitlines()[-1])
    # init's execfn string sits at the top of its stack, under 8 zero bytes
    assert s.ddb("x/s 0x7fffffffeff0").strip() == "0x7fffffffeff0: /bin/sh"
    assert re.fullmatch(r"0x[0-9a-f]+: +\w+.*", s.ddb("x/i $rip").strip())
    assert "trace" in s.ddb("help")
    s.reset()


def test_continue_after_a_break_in_resumes_the_guest(session):
    s = session
    s.boot()
    s.c.sendcontrol("\\")
    s.c.expect_exact(PROMPT)
    s.c.sendline("c")
    s.c.expect_exact("CPU0 restarting CPUs: 0x00000000\r\n restarted")
    assert "42" in s.guest("echo $((40 + 2))")
    s.c.sendline("echo 1 > /proc/sys/debug/kdb/enter")   # the guest's own way in
    s.c.expect_exact('Debugger("sysctl debug.kdb.enter")')
    s.c.expect_exact(PROMPT)
    s.reset()


def test_a_fatal_trap_without_a_console_exits_70(root):
    """Nobody to run ddb for (stdin and stdout are pipes): report, panic, exit 70."""
    r = run_vk(root, "/bin/sh", "-c", "echo 1 > /proc/sys/debug/kdb/trap; echo not reached")
    out = r.stdout.decode()
    assert r.returncode == 70
    assert "Fatal trap 12: page fault while in kernel mode\n" in out
    assert "fault virtual address   = 0x0\n" in out
    assert "trap number             = 12\npanic: page fault\ncpuid = 0\n" in out
    assert "not reached" not in out and "db> " not in out
    assert "AttributeError: 'NoneType' object has no attribute 'kn_vp'" in r.stderr.decode()


def test_fatal_trap_from_a_sysctl_continue_and_kill(session):
    s = session
    s.boot()
    pid, name, where, source = fatal_report(
        s, "(echo 1 > /proc/sys/debug/kdb/trap); echo status=$?")
    assert name == "sh" and pid > 1
    assert where.startswith("_sysctl_kdb_trap+0x") and source == "return tracenode.kn_vp"
    trace = s.ddb("trace").splitlines()
    names = [t.split("(")[0] for t in trace]
    for fn in ("_sysctl_kdb_trap", "sysctl_set", "sys_write", "syscall2", "user_trap", "go_user"):
        assert fn in names
    assert trace[-1].startswith("--- syscall 1 (write), rip = 0x")
    assert s.ddb("print tracenode").strip() == "$1 = (struct ktrace_node *) 0x0"
    s.c.sendline("c")                                   # retried: it faults again
    s.c.expect_exact("CPU0 restarting CPUs")
    s.c.expect_exact(f"current process         = {pid} (sh)")
    s.c.expect_exact(PROMPT)
    s.ddb(f"kill 9 {pid}")
    s.c.sendline("c")                                   # the system runs on without it
    s.c.expect_exact("status=137")
    s.c.expect_exact(GUEST)
    assert "alive" in s.guest("echo alive")
    s.c.sendcontrol("\\")
    s.c.expect_exact(PROMPT)
    s.reset()


def test_panic_continue_reboots_after_the_countdown(session):
    s = session
    s.boot()
    s.c.sendline("(echo 1 > /proc/sys/debug/kdb/panic)")
    s.c.expect(r"panic: kdb_sysctl_panic\r\ncpuid = 0\r\nTrace beginning at frame 0x[0-9a-f]+\r\n")
    s.c.expect_exact('Debugger("panic")')
    s.c.expect_exact(PROMPT)
    s.c.sendline("c")
    s.c.expect_exact("Automatic reboot in 15 seconds - press a key on the console to abort")
    s.c.send("x")
    s.c.expect_exact("--> Press a key on the console to reboot,\r\n--> or switch off the system now.")
    s.c.send("y")
    s.c.expect_exact("Rebooting...\r\ncpu reset, rebooting vkernel")
    s.c.expect_exact("built-in shell")                  # the supervisor booted it again
    s.c.expect_exact("# ")
    s.c.sendcontrol("\\")
    s.c.expect_exact(PROMPT)
    s.reset()


@pytest.mark.parametrize("ncpus", [1, 2])
def test_the_seeds_ktrace_panic(session, ncpus):
    """The seed: t_aio fails, then `ktrace -c ./t_aio` with ktrace.out present
    and the 2009 bug switched on is a NULL dereference in ktrace_clear_callback.
    With two CPUs, as in the seed, ktrace runs on CPU 1 (the shell is busy on
    CPU 0 when it forks) and ddb reports `cpuid = 1`, stopping CPU 0."""
    s = session
    s.boot("-n", str(ncpus))
    s.guest("cd /tmp && cp /usr/local/bin/t_aio . && touch ktrace.out")
    assert "aio_read: Function not implemented" in s.guest("./t_aio")
    s.guest("echo 1 > /proc/sys/debug/ktrace_clear_bug")
    cpu, others = (0, 0) if ncpus == 1 else (1, 1)
    pid, name, where, source = fatal_report(s, "ktrace -c ./t_aio", cpu, others)
    assert name == "ktrace"
    assert where.startswith("ktrace_clear_callback+0x")
    assert "p.p_tracenode.kn_vp" in source
    trace = s.ddb("trace").splitlines()
    frame = r"(\w+)\(([0-9a-f-]+),([0-9a-f-]+),([0-9a-f-]+),([0-9a-f-]+),([0-9a-f-]+)\) at "
    parsed = [re.fullmatch(frame + r"(\w+)\+0x[0-9a-f]+ \[(\w+\.py):(\d+)\]", t) for t in trace[:-1]]
    assert all(parsed), trace
    names = [m.group(1) for m in parsed]
    assert names[:3] == ["ktrace_clear_callback", "allproc_scan", "sys_ktrace"]
    assert [m.group(8) for m in parsed[:3]] == ["kern_ktrace.py", "kern_proc.py", "kern_ktrace.py"]
    for fn in ("syscall2", "user_trap", "go_user"):
        assert fn in names
    assert names[-1] == "go_user"
    assert re.fullmatch(r"--- syscall 27f \(ktrace\), rip = 0x[0-9a-f]+, rsp = 0x[0-9a-f]+, "
                        r"rbp = 0x[0-9a-f]+ ---", trace[-1])
    p_addr = int(parsed[0].group(2), 16)
    assert s.ddb("print p").strip() == f"$1 = (struct proc *) {p_addr:#x}"
    assert s.ddb("print p->p_tracenode").strip() == "$2 = (struct ktrace_node *) 0x0"
    untraced = int(s.ddb(f"print ((struct proc *){p_addr:#x})->p_pid").split("=")[1])
    ps = s.ddb("ps")
    assert re.search(rf"^ +{pid} 0x[0-9a-f]+ .* ktrace$", ps, re.M)
    assert re.search(rf"^ +{untraced} ", ps, re.M)
    assert re.search(rf"^CURCPU {cpu} CURTHREAD 0x[0-9a-f]+ \({pid}\)$", ps, re.M)
    assert len(re.findall(r"^cpu \d curthread ", ps, re.M)) == ncpus
    assert f"Process {pid} (ktrace)" in s.ddb(f"show proc {pid}")
    assert "/dev/console" in s.ddb(f"show files {pid}")
    s.reset()
