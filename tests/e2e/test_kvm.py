"""`vkernel ps -M -N` and `vkernel dmesg`: a vkernel's process list and
message buffer read from outside it, from the running kernel's
/proc/PID/mem or from a crash dump (the seed's last step; vkernel/kvm).

A vkernel is booted in the background with a few guest processes asleep;
its kernel (the supervisor's child) writes its namelist into a private run
directory (VKERNEL_RUNDIR).  ps must list what the guest's own ps lists.
Dumps: a panic with -D writes vmcore.0, and ddb's `dump` writes one that
is read after the kernel is gone.
"""
import json
import os
import re
import select
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_vk, vkernel_cmd
from hostshell import HostShell

LHEADER = ("  UID    PID   PPID CPU PRI  NI    VSZ    RSS WCHAN    STAT   TT        TIME "
           "COMMAND")
# two sleepers, on until both have exec'd sleep and sleep in it
SLEEPERS = ("sleep 30 & a=$!; sleep 31 & b=$!; for p in $a $b; do "
            "while [ \"$(cat /proc/$p/comm)\" != sleep ] || ! grep -q 'State:.S' /proc/$p/status; "
            "do sleep 0.1; done; done")
# ... and the guest's own view of them
SCRIPT = SLEEPERS + "; ps -o pid,ppid,pgid,comm,args; echo READY; wait"


def env(rundir):
    return dict(os.environ, PYTHONPATH=REPO, VKERNEL_RUNDIR=rundir)


def vk(rundir, *args, timeout=60):
    """Run `python3 -m vkernel ARGS` with this run directory; CompletedProcess (text)."""
    return subprocess.run(vkernel_cmd(*args), capture_output=True, text=True,
                          env=env(rundir), cwd=REPO, timeout=timeout)


def read_until(proc, word, timeout=90):
    """Lines of proc's stdout up to the line `word`."""
    lines, buf, deadline = [], b"", time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            data = os.read(fd, 4096)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.decode() == word:
                    return lines
                lines.append(line.decode())
    raise AssertionError(f"no {word!r} from the vkernel; got {lines} {buf!r}")


def kernel_namelist(rundir, supervisor):
    """(kernel pid, namelist path) of the kernel the supervisor forked."""
    for _ in range(200):
        for name in os.listdir(rundir) if os.path.isdir(rundir) else ():
            path = os.path.join(rundir, name)
            try:
                with open(path) as f:
                    nl = json.load(f)
            except (OSError, ValueError):
                continue
            if nl.get("ppid") == supervisor:
                return nl["pid"], path
        time.sleep(0.1)
    raise AssertionError(f"no namelist of a kernel of {supervisor} in {rundir}")


class Running:
    """A vkernel running SCRIPT in the background."""

    def __init__(self, root, rundir):
        self.rundir = rundir
        self.proc = subprocess.Popen(vkernel_cmd("-r", root, "--", "/bin/sh", "-c", SCRIPT),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env(rundir), cwd=REPO)
        self.guest_ps = read_until(self.proc, "READY")
        self.kpid, self.nlist = kernel_namelist(rundir, self.proc.pid)

    def kill(self):
        """SIGKILL to the supervisor: the kernel dies with it (PDEATHSIG)."""
        self.proc.kill()
        self.proc.wait()
        for _ in range(100):
            if not os.path.exists(f"/proc/{self.kpid}"):
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def running(root, tmp_path_factory):
    r = Running(root, str(tmp_path_factory.mktemp("run")))
    yield r
    r.kill()


def guest_table(lines):
    """{pid: (ppid, pgid, comm, args)} from the guest's `ps -o pid,ppid,pgid,comm,args`,
    without the ps itself."""
    rows = {}
    for line in lines[1:]:
        pid, ppid, pgid, comm, args = line.split(None, 4)
        if comm != "ps":
            rows[int(pid)] = (int(ppid), int(pgid), comm, args)
    return rows


def ps_rows(text):
    """{pid: {column: value}} of `ps axl` output (COMMAND may contain spaces)."""
    lines = text.splitlines()
    names = lines[0].split()
    rows = {}
    for line in lines[1:]:
        cells = line.split(None, len(names) - 1)
        row = dict(zip(names, cells))
        rows[int(row["PID"])] = row
    return rows


def settled_ps(running):
    """`ps axlww -M -N` once the shell sits in its `wait` (it printed READY
    just before); the output."""
    for _ in range(50):
        r = vk(running.rundir, "ps", "axlww", "-M", f"/proc/{running.kpid}/mem",
               "-N", running.nlist)
        assert r.returncode == 0, r.stderr
        if re.search(r"^ +0 +1 .* pause ", r.stdout, re.M):
            break
        time.sleep(0.2)
    return r.stdout


def test_ps_axl_of_a_running_vkernel_matches_the_guests_ps(running):
    out = settled_ps(running)
    assert out.splitlines()[0] == LHEADER
    ours = ps_rows(out)
    guest = guest_table(running.guest_ps)
    assert sorted(ours) == sorted(guest) == [1, 2, 3]
    for pid, (ppid, pgid, comm, args) in guest.items():
        assert int(ours[pid]["PPID"]) == ppid
        assert ours[pid]["COMMAND"].startswith(args.rstrip()), (ours[pid], args)
        assert ours[pid]["UID"] == "0"
    for pid, secs in ((2, "30"), (3, "31")):
        assert ours[pid]["COMMAND"] == f"sleep {secs}"
        assert ours[pid]["WCHAN"] == "nanslp"
        assert ours[pid]["STAT"] in ("S+", "I+")       # asleep (I: > 20 s), in the foreground
        assert ours[pid]["TT"] == "con"
        assert int(ours[pid]["VSZ"]) > 0 and int(ours[pid]["RSS"]) > 0
    assert ours[1]["STAT"] == "Ss+"                    # the session leader, in `wait`
    assert ours[1]["WCHAN"] == "pause"
    comms = ps_rows(vk(running.rundir, "ps", "axlcww", "-M", f"/proc/{running.kpid}/mem").stdout)
    assert {pid: row["COMMAND"] for pid, row in comms.items()} == \
        {pid: g[2] for pid, g in guest.items()}


def test_namelist_and_memory_found_by_default(running):
    """No -N: the kernel's namelist in the run directory; no -M: the one
    vkernel running; both give what -M/-N give."""
    def table(*args):
        out = vk(running.rundir, "ps", "axww", *args).stdout
        assert out.splitlines()[0] == "   PID TT   STAT        TIME COMMAND"
        return [(row["PID"], row["TT"], row["COMMAND"]) for row in ps_rows(out).values()]
    full = table("-M", f"/proc/{running.kpid}/mem", "-N", running.nlist)
    assert [pid for pid, *_ in full] == ["1", "2", "3"]
    assert table("-M", f"/proc/{running.kpid}/mem") == full
    assert table() == full
    with open(running.nlist) as f:
        nl = json.load(f)
    assert nl["pid"] == running.kpid and nl["ppid"] == running.proc.pid
    assert nl["python"] == sys.version.split()[0]


def test_a_namelist_of_another_process_is_refused(running):
    r = vk(running.rundir, "ps", "ax", "-M", f"/proc/{os.getpid()}/mem", "-N", running.nlist)
    assert r.returncode == 1
    assert "namelist does not match" in r.stderr
    sup = running.proc.pid                      # what `vkernel -p pidfile` records
    r = vk(running.rundir, "ps", "ax", "-M", f"/proc/{sup}/mem")
    assert r.returncode == 1
    assert r.stderr == (f"ps: no namelist for process {sup} in {running.rundir} (it is the "
                        f"supervisor of kernel {running.kpid}: -M /proc/{running.kpid}/mem); "
                        "give one with -N\n")


def test_dmesg_reads_the_message_buffer(running):
    r = vk(running.rundir, "dmesg", "-M", f"/proc/{running.kpid}/mem")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\[ *\d+\.\d{6}\] vkernel .* virtual kernel on ", r.stdout, re.M)
    assert "Mounting root from" in r.stdout


def test_a_panic_with_D_writes_a_dump_that_ps_reads(root, tmp_path):
    dumps, rundir = str(tmp_path / "crash"), str(tmp_path / "run")
    script = f"{SLEEPERS}; sysctl kern.dumpdev; echo 1 > /proc/sys/debug/kdb/panic"
    r = run_vk(root, "/bin/sh", "-c", script, args=("-D", dumps),
               env={"VKERNEL_RUNDIR": rundir})
    out = r.stdout.decode()
    assert r.returncode == 70, out + r.stderr.decode()
    assert "kern.dumpdev = vmcore" in out
    assert f"dumping to {dumps}/vmcore.0" in out
    assert re.search(r"dump \d+ MB succeeded", out)
    ps = vk(rundir, "ps", "axlww", "-M", f"{dumps}/vmcore.0")
    assert ps.returncode == 0, ps.stderr
    rows = ps_rows(ps.stdout)
    assert sorted(rows) == [1, 2, 3]
    assert rows[2]["COMMAND"] == "sleep 30" and rows[3]["COMMAND"] == "sleep 31"
    assert rows[2]["WCHAN"] == "nanslp" and rows[1]["STAT"] == "Rs+"   # in its write
    assert "Mounting root from" in vk(rundir, "dmesg", "-M", f"{dumps}/vmcore.0").stdout


def test_no_dump_unless_asked(root, tmp_path):
    rundir = str(tmp_path / "run")
    r = run_vk(root, "/bin/sh", "-c", "sysctl kern.dumpdev; echo 1 > /proc/sys/debug/kdb/panic",
               env={"VKERNEL_RUNDIR": rundir})
    assert r.returncode == 70
    assert "kern.dumpdev = \n" in r.stdout.decode()
    assert "dumping" not in r.stdout.decode()
    assert not os.path.exists(os.path.join(rundir, "crash"))


def test_ddb_dump_then_kill_then_read_the_dump(root, tmp_path):
    """^\\ into ddb, `dump`, `reset` (the kernel is gone), then ps -M vmcore."""
    rundir = str(tmp_path / "run")
    s = HostShell(env={"VKERNEL_RUNDIR": rundir})
    try:
        s.c.sendline(f"{sys.executable} -m vkernel -r {root} -s")
        s.c.expect_exact("built-in shell")
        s.c.expect_exact("# ")
        s.c.sendline(f"set +m; {SLEEPERS}; PS1='gu''est> '")
        s.c.expect_exact("guest> ")
        s.c.sendcontrol("\\")
        s.c.expect_exact("db> ")
        s.c.sendline("dump")
        s.c.expect(r"dumping to (\S+)\r\n")
        path = s.c.match.group(1)
        s.c.expect(r"dump \d+ MB succeeded")
        s.c.expect_exact("db> ")
        s.c.sendline("reset")
        s.c.expect_exact("cpu reset, exiting vkernel")
        s.back_at_host(71)
    finally:
        s.close()
    assert path == os.path.join(rundir, "crash", "vmcore.0")
    ps = vk(rundir, "ps", "axlww", "-M", path)
    assert ps.returncode == 0, ps.stderr
    rows = ps_rows(ps.stdout)
    assert rows[1]["COMMAND"] == "/bin/sh -l" and "s" in rows[1]["STAT"]   # session leader
    sleeps = sorted(row["COMMAND"] for row in rows.values() if row["COMMAND"].startswith("sleep"))
    assert sleeps == ["sleep 30", "sleep 31"]
    assert all(row["PPID"] == "1" for row in rows.values() if row["PID"] != "1")


def test_ps_after_the_kernel_is_gone(root, tmp_path):
    r = Running(root, str(tmp_path))
    r.kill()
    out = vk(r.rundir, "ps", "ax", "-M", f"/proc/{r.kpid}/mem")
    assert out.returncode == 1
    assert out.stderr.startswith("ps: ")
    gone = vk(r.rundir, "ps", "ax")
    assert gone.returncode == 1
    assert "no running vkernel" in gone.stderr
