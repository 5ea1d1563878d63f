"""kgdb end to end: the seed's "gdb the running virtual kernel" session,
with `python3 -m vkernel gdb` in a pty of its own and the vkernel booted
single-user (-s) from a host shell in another pty, as a user would have
them in two terminals.

The guest runs `ktrace -c ./t_aio` (the seed's command, ktrace.out
present) while the debugger holds a breakpoint on sys_ktrace: it stops
there with the source line; next, step into allproc_scan and
ktrace_clear_callback; print of locals, of struct fields and of a struct
proc cast from an address; bt down to go_user; finish; continue, and the
guest command completes.  Then ^C stops the kernel and detach leaves it
running.  Also: the client killed while the kernel is stopped, the
kernel exiting under the client, the client reading plain stdin, and the
errors for a supervisor's or an unknown pid.  A private run directory
(VKERNEL_RUNDIR) holds the kernel's socket.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from conftest import REPO, vkernel_cmd
from hostshell import HostShell, clean

GUEST = "guest> "
KGDB = "(kgdb) "
TIMEOUT = 60
HIT = (r'(?:Thread \d+ "cpu\d+" hit )?Breakpoint 1, sys_ktrace \(td=0x[0-9a-f]+, fname=\d+, '
       r"ops=\d+, facs=\d+, pid=-?\d+\) at vkernel/kernel/kern_ktrace.py:(\d+)")


def env(rundir):
    return dict(os.environ, PYTHONPATH=REPO, VKERNEL_RUNDIR=rundir, TERM="dumb")


class Vkernel(HostShell):
    """A host shell in a pty with a single-user vkernel booted from it."""

    def __init__(self, root, rundir, ncpus=1):
        super().__init__(env={"VKERNEL_RUNDIR": rundir})
        self.rundir = rundir
        self.c.sendline(" ".join([sys.executable, "-m", "vkernel", "-r", root,
                                  "-n", str(ncpus), "-s"]))
        self.c.expect_exact("built-in shell")
        self.c.expect_exact("# ")
        self.guest("set +m; cd /tmp && cp /usr/local/bin/t_aio . && touch ktrace.out; "
                   "PS1='gu''est> '")
        self.kpid = self.kernel_pid()

    def kernel_pid(self):
        for _ in range(100):
            socks = [n for n in os.listdir(self.rundir) if n.startswith("kgdb.")]
            live = [int(n[5:]) for n in socks if os.path.exists(f"/proc/{n[5:]}")]
            if live:
                return live[0]
            time.sleep(0.1)
        raise AssertionError(f"no kgdb socket in {self.rundir}")

    def guest(self, cmd, until=GUEST):
        self.c.sendline(cmd)
        self.c.expect_exact(until)
        return clean(self.c.before)

    def halt(self):
        self.c.sendline("exit")
        self.c.expect_exact("cpu halt, exiting vkernel")
        self.back_at_host(0)


class Kgdb:
    """`python3 -m vkernel gdb` in a pty."""

    def __init__(self, rundir, *args):
        self.c = pexpect.spawn(sys.executable, ["-m", "vkernel", "gdb", *args], cwd=REPO,
                               env=env(rundir), encoding="utf-8", timeout=TIMEOUT,
                               dimensions=(40, 250))
        self.c.expect(r"Attaching to vkernel, process (\d+)\r\n")
        self.pid = int(self.c.match.group(1))
        self.greeting = self.prompt()

    def prompt(self):
        self.c.expect_exact(KGDB)
        return clean(self.c.before)

    def cmd(self, line):
        """A command's output, without the echo of the line."""
        self.c.sendline(line)
        out = self.prompt().split("\n")
        while out and out[0].strip() in ("", line):
            out.pop(0)
        return "\n".join(out).rstrip("\n")

    def cont(self):
        self.c.sendline("c")
        self.c.expect_exact("Continuing.")

    def detach(self):
        self.c.sendline("detach")
        self.c.expect_exact(f"Detaching from vkernel, process {self.pid}")
        self.c.expect_exact(f"[Inferior 1 (process {self.pid}) detached]")
        self.c.expect(pexpect.EOF)
        self.c.close()
        assert self.c.exitstatus == 0


@pytest.fixture
def rundir(tmp_path):
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    return str(d)


def names_of(bt):
    return [re.match(r"#\d+ +(?:0x[0-9a-f]+ in )?(\w+) \(", ln).group(1) for ln in bt.splitlines()]


def next_until(g, text, limit=20):
    for _ in range(limit):
        out = g.cmd("next")
        if text in out:
            return out
    raise AssertionError(f"`next` never reached {text!r}")


@pytest.mark.parametrize("ncpus", [1, 2])
def test_the_seeds_session(root, rundir, ncpus):
    vk = Vkernel(root, rundir, ncpus)
    g = Kgdb(rundir)
    assert g.pid == vk.kpid
    assert f"{ncpus} virtual CPU" in g.greeting
    bt = g.cmd("bt")                                    # the kernel idle in its wait
    assert re.search(r'^Thread 1 \(Thread 0x[0-9a-f]+ \(LWP \d+\) "cpu0"\):$', bt, re.M)
    assert (f'Thread {ncpus} (Thread' in bt) and " in go_user (self=0x" in bt
    procs = g.cmd("print allproc")
    addr = re.match(r"\$1 = \{1 = \(struct proc \*\) (0x[0-9a-f]+)", procs).group(1)
    assert g.cmd(f"print ((struct proc *){addr})->p_pid") == "$2 = 1"
    assert g.cmd(f"print ((struct proc *){addr})->p_comm") == '$3 = "sh"'

    out = g.cmd("break sys_ktrace")
    line = int(re.fullmatch(r"Breakpoint 1 at 0x[0-9a-f]+: file vkernel/kernel/kern_ktrace.py, "
                            r"line (\d+)\.", out).group(1))
    g.cont()
    vk.c.sendline("sh -c 'echo pid=$$; exec ktrace -c ./t_aio'")
    vk.c.expect(r"pid=(\d+)")
    pid = int(vk.c.match.group(1))
    hit = g.prompt()
    assert int(re.search(HIT, hit).group(1)) == line
    assert hit.rstrip().endswith(f"{line}\t    curp = td.lwp_proc")
    assert g.cmd("next") == f"{line + 1}\t    facs &= ~KTRFAC_ROOT & 0xFFFFFFFF"
    assert g.cmd("print curp->p_pid") == f"$4 = {pid}"
    assert g.cmd("print curp->p_comm") == '$5 = "ktrace"'
    next_until(g, "allproc_scan(ktrace_clear_callback, info)")
    out = g.cmd("step")
    assert re.match(r"allproc_scan \(callback=0x[0-9a-f]+ <ktrace_clear_callback>, "
                    r"data=0x[0-9a-f]+\) at vkernel/kernel/kern_proc.py:\d+", out)
    g.cmd("step")
    out = g.cmd("step")
    assert re.match(r"ktrace_clear_callback \(p=0x[0-9a-f]+, data=0x[0-9a-f]+\) at "
                    r"vkernel/kernel/kern_ktrace.py:\d+\n\d+\t    info = data", out)
    assert re.fullmatch(r"\$6 = \(struct proc \*\) " + addr, g.cmd("print p"))
    assert g.cmd("print p->p_tracenode") == "$7 = (struct ktrace_node *) 0x0"
    assert g.cmd("print p->p_pid") == "$8 = 1"
    names = names_of(g.cmd("bt"))
    assert names[:4] == ["ktrace_clear_callback", "allproc_scan", "sys_ktrace", "syscall2"]
    assert names[-2:] == ["user_trap", "go_user"]
    out = g.cmd("finish").split("\n")
    assert out[0].startswith("Run till exit from #0  ktrace_clear_callback (p=0x")
    assert re.match(r"0x[0-9a-f]+ in allproc_scan \(", out[1])
    assert out[-1] == "Value returned is $9 = 0"

    g.cmd("delete")
    g.cont()
    vk.c.expect_exact(GUEST)                            # the guest's command completed
    g.c.sendcontrol("c")
    stop = g.prompt()
    assert "received signal SIGINT, Interrupt." in stop and "go_user (self=0x" in stop
    g.detach()
    assert "still here" in vk.guest("echo still here")
    vk.halt()


def test_client_killed_while_the_kernel_is_stopped(root, rundir):
    vk = Vkernel(root, rundir)
    g = Kgdb(rundir)
    g.cmd("break sys_ktrace")
    g.cont()
    vk.c.sendline("ktrace -c ./t_aio; echo done=$?")
    assert re.search(HIT, g.prompt())
    os.kill(g.c.pid, signal.SIGKILL)                    # no detach
    vk.c.expect_exact("done=0")                         # the kernel went on
    vk.c.expect_exact(GUEST)
    g2 = Kgdb(rundir, str(vk.kpid))                     # a new session, numbers from 1
    assert g2.cmd("info breakpoints") == "No breakpoints or watchpoints."
    assert g2.cmd("break allproc_scan").startswith("Breakpoint 1 at 0x")
    vk.c.sendline("exit")                               # the kernel halts under the client
    g2.c.expect_exact(f"[Inferior 1 (process {vk.kpid}) exited]")
    g2.c.expect(pexpect.EOF)
    g2.c.close()
    assert g2.c.exitstatus == 1
    vk.c.expect_exact("cpu halt, exiting vkernel")
    vk.back_at_host(0)


def test_plain_stdin_and_the_wrong_pids(root, rundir):
    vk = Vkernel(root, rundir)
    r = subprocess.run(vkernel_cmd("gdb"), input="info threads\nprint allproc[1]->p_comm\n",
                       capture_output=True, text=True, env=env(rundir), cwd=REPO, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Attaching to vkernel, process {vk.kpid}\n")
    assert re.search(r'^\* 1    Thread 0x[0-9a-f]+ \(LWP \d+\) "cpu0" ', r.stdout, re.M) is None
    assert re.search(r'^  1    Thread 0x[0-9a-f]+ \(LWP \d+\) "cpu0" 0x[0-9a-f]+ in ', r.stdout,
                     re.M)
    assert '$1 = "sh"' in r.stdout
    assert r.stdout.endswith(f"(kgdb) quit\nDetaching from vkernel, process {vk.kpid}\n"
                             f"[Inferior 1 (process {vk.kpid}) detached]\n")
    supervisor = int(open(f"/proc/{vk.kpid}/stat").read().rsplit(")", 1)[1].split()[1])
    for args, msg in [([str(supervisor)], f"process {supervisor} is a vkernel supervisor; its "
                       f"kernel is process {vk.kpid}: vkernel gdb {vk.kpid}"),
                      (["1"], "process 1 is not a running vkernel kernel"),
                      (["x"], "usage: vkernel gdb [PID]")]:
        r = subprocess.run(vkernel_cmd("gdb", *args), capture_output=True, text=True,
                           env=env(rundir), cwd=REPO, timeout=TIMEOUT)
        assert r.returncode in (1, 64) and msg in r.stderr
    assert "still here" in vk.guest("echo still here")
    vk.halt()
