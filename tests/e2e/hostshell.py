"""A host shell in a pty, from which tests boot the vkernel as a user would.

Used by test_boot.py (boot, login, shutdown) and test_panic.py (fatal
traps and ddb); no tests here.  `HostShell` spawns /bin/sh with the prompt
HOST in a pty driven by pexpect, remembers the terminal's `stty -g`, and
`back_at_host(status)` checks what every way out of a vkernel must leave:
the exit status, the terminal as it was and no guest process.  Guest
processes are found from the host's /proc: host processes started from the
kernel's stub are named `memfd:vkernel...`.  Also `clean()`, terminal
output without carriage returns and escape sequences (ptyshell.py too).
"""
import os
import re
import time

import pexpect

from conftest import REPO

HOST = "HOST$ "
TIMEOUT = 60


def clean(text):
    """Terminal output as lines: no carriage returns, no escape sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


def parents():
    """{pid: parent pid} of every live process (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return parent


def children(pid):
    return [c for c, pp in parents().items() if pp == pid]


def descendants(pid):
    """Every live process below pid."""
    parent = parents()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def kernel_memfds(supervisor):
    """Host memfds held by a vkernel (the supervisor and its children): the
    data of memfs files that were mapped (vkernel/fs/memfs/memfs_data.py)."""
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as f:
        pids = [supervisor] + [int(p) for p in f.read().split()]
    n = 0
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                n += "vkernel-memfs" in os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                pass
    return n


def memfds_at_each_line(root, script):
    """Run `vkernel -r root -- /bin/sh -c script` and, at each line it prints,
    count the vkernel's host memfds: {first word of the line: count}.  The
    script must end well (exit 0)."""
    import subprocess
    from conftest import vkernel_cmd
    proc = subprocess.Popen(vkernel_cmd("-r", root, "--", "/bin/sh", "-c", script),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=REPO))
    seen = {}
    try:
        for line in proc.stdout:
            seen[line.decode().split()[0]] = kernel_memfds(proc.pid)
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    return seen


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


class HostShell:
    """/bin/sh in a 40x200 pty with PS1=HOST; `self.c` is the pexpect child."""

    def __init__(self, env=None):
        e = dict(os.environ, PS1=HOST, TERM="dumb", PYTHONPATH=REPO)
        e.update(env or {})
        self.c = pexpect.spawn("/bin/sh", env=e, cwd=REPO, encoding="utf-8",
                               timeout=TIMEOUT, dimensions=(40, 200))
        self.c.expect_exact(HOST)
        self.stty = self.host("stty -g")

    def host(self, cmd):
        """A host command; its output."""
        self.c.sendline(cmd)
        self.c.expect_exact(cmd)
        self.c.expect_exact(HOST)
        return self.c.before.strip()

    def stubs(self):
        """The guest processes (host processes started from the kernel's stub)."""
        return [p for p in descendants(self.c.pid) if comm(p).startswith("memfd:vkernel")]

    def back_at_host(self, status, seen=()):
        """The vkernel has exited with `status`: the terminal is as it was and,
        within 10 s, no guest process is left (nor any of the pids `seen`)."""
        self.c.expect_exact(HOST)
        assert self.host("echo status=$?") == f"status={status}"
        assert self.host("stty -g") == self.stty

        def left():
            return self.stubs() + [p for p in seen if os.path.exists(f"/proc/{p}")]
        deadline = time.monotonic() + 10
        while left() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left()

    def close(self):
        self.c.close(force=True)
