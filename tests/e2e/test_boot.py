"""Boot to `login:`, log in and out, and every way down (a pty driven by pexpect).

Each test starts a host shell in a pty and boots the vkernel from it as a
user would, on a root directory made by `vkernel mkroot` (its own, with
/etc/hostname changed so that the name shown can only come from there):
the boot banner, busybox init running /etc/rc and a getty, `login:`, a
root shell and an unprivileged one, then poweroff, halt, reboot (status
32 from the kernel: the supervisor boots a fresh one), SIGTERM from the
host, SIGKILL of the kernel and single-user mode.  After each exit the
host terminal must be as it was (`stty -g`) and no guest process left.
"""
import os
import re
import signal
import subprocess
import sys
import termios
import time

import pytest

from conftest import REPO, vkernel_cmd
from hostshell import HostShell, children, clean

HOSTNAME = "vkbox"
BANNER = [r"vkernel \d+\.\d+\.\d+ #0: Python [\d.]+ virtual kernel on Linux \S+ x86_64",
          r"CPU: [^\r\n]+",
          r"real memory  = 268435456 \(262144K bytes\)",
          r"Virtual CPUs: 1 \(host CPU 0\)"]
DOWN = ["The system is going down NOW!", "Sent SIGTERM to all processes",
        "Sent SIGKILL to all processes"]


@pytest.fixture(scope="module")
def boot_root(tmp_path_factory):
    """A root of our own: logins write utmp and wtmp, and the hostname differs."""
    dest = str(tmp_path_factory.mktemp("bootroot"))
    subprocess.run(vkernel_cmd("mkroot", "--no-guest-programs", dest), check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=REPO), capture_output=True)
    with open(os.path.join(dest, "etc/hostname"), "w") as f:
        f.write(HOSTNAME + "\n")
    return dest


class Console(HostShell):
    """A host shell in a pty; the vkernel runs in it as a foreground job."""

    def __init__(self, env=None):
        super().__init__(env)
        self.modes = self.terminal_modes()
        self.vk_pid = None

    def terminal_modes(self):
        """The pty's termios as seen from its master side."""
        return termios.tcgetattr(self.c.child_fd)

    def boot(self, *args):
        """Start `vkernel ARGS`; returns the supervisor's pid."""
        self.c.sendline(" ".join([sys.executable, "-m", "vkernel", *args]))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kids = [p for p in children(self.c.pid) if "vkernel" in _cmdline(p)]
            if kids:
                self.vk_pid = kids[0]
                return self.vk_pid
            time.sleep(0.05)
        raise AssertionError("the vkernel did not start")

    def expect_lines(self, patterns):
        """Each regex in turn, each ending a line (the first of init's
        messages follows the shell's prompt)."""
        for pat in patterns:
            self.c.expect(r"(?m)" + pat + r"\r*$")

    def login(self, user, prompt):
        self.c.expect_exact(f"{HOSTNAME} login: ")
        self.c.sendline(user)
        self.c.expect_exact(prompt)

    def run(self, cmd, prompt):
        """A guest command; its output lines (the echo and escapes removed)."""
        self.c.sendline(cmd)
        self.c.expect_exact(prompt)
        lines = clean(self.c.before).split("\n")
        return [ln for ln in lines if ln.strip() and ln.strip() != cmd]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture
def console():
    s = Console()
    yield s
    s.close()


def test_boot_login_logout_and_poweroff(console, boot_root):
    console.boot("-r", boot_root)
    console.expect_lines(BANNER + [re.escape(f"Mounting root from hostfs:{boot_root}")])
    console.login("root", "# ")
    assert console.run("id", "# ") == ["uid=0(root) gid=0(root) groups=0(root),10(wheel)"]
    uname = console.run("uname -a", "# ")[0]
    assert re.fullmatch(rf"Linux {HOSTNAME} \S+ #1 vkernel \S+ .* x86_64 GNU/Linux", uname), uname
    assert console.run("hostname", "# ") == [HOSTNAME]
    dmesg = console.run("dmesg", "# ")
    assert re.search(r"\] real memory  = 268435456", "\n".join(dmesg)), dmesg
    assert any(ln.endswith(f"Mounting root from hostfs:{boot_root}") for ln in dmesg)
    mounts = console.run("cat /proc/mounts", "# ")
    assert [m.split()[1] for m in mounts].count("/proc") == 1     # rc did not mount it twice
    assert console.run("echo $$; cat /proc/1/comm", "# ")[1] == "init"
    console.c.sendline("exit")

    console.login("user", "$ ")
    assert console.run("id", "$ ") == ["uid=1000(user) gid=1000(user) groups=1000(user)"]
    assert console.run("echo $HOME; touch ~/made && stat -c %U:%G ~/made", "$ ") == \
        ["/home/user", "user:user"]
    assert console.run("stat -c %U:%a /dev/console", "$ ") == ["user:600"]
    assert "Permission denied" in " ".join(console.run("cat /etc/shadow", "$ "))
    assert [ln.split()[:2] for ln in console.run("who", "$ ")] == [["user", "console"]]
    console.c.sendline("exit")

    console.login("root", "# ")
    console.c.sendline("poweroff")
    console.expect_lines(DOWN + ["Requesting system poweroff", r"syncing disks\.\.\. done",
                                 r"Uptime: \d+s", "cpu halt, exiting vkernel"])
    console.back_at_host(0)


def test_reboot_boots_again_then_halt(console, boot_root):
    console.boot("-r", boot_root)
    console.login("root", "# ")
    assert console.run("echo boot1 > /tmp/boot-mark; echo done", "# ") == ["done"]
    console.c.sendline("reboot")
    console.expect_lines(DOWN + ["Requesting system reboot", r"syncing disks\.\.\. done",
                                 r"Uptime: \d+s", r"Rebooting\.\.\.",
                                 "cpu reset, rebooting vkernel"] + BANNER)
    console.login("root", "# ")
    assert console.run("cat /tmp/boot-mark; hostname", "# ") == ["boot1", HOSTNAME]
    console.c.sendline("halt")
    console.expect_lines(DOWN + ["Requesting system halt", r"syncing disks\.\.\. done",
                                 r"Uptime: \d+s", "The operating system has halted.",
                                 "cpu halt, exiting vkernel"])
    console.back_at_host(0)


def test_sigterm_from_the_host_powers_off(console, boot_root, tmp_path):
    pidfile = str(tmp_path / "vkernel.pid")
    console.boot("-r", boot_root, "-p", pidfile)
    console.login("root", "# ")
    with open(pidfile) as f:
        supervisor = int(f.read())
    assert supervisor == console.vk_pid
    os.kill(supervisor, signal.SIGTERM)
    console.expect_lines([r"Caught SIGTERM from host system\. Shutting down\.\.\."] + DOWN +
                         ["Requesting system poweroff", r"syncing disks\.\.\. done",
                          "cpu halt, exiting vkernel"])
    console.back_at_host(0)
    assert not os.path.exists(pidfile)


def test_killed_kernel_leaves_the_terminal_as_it_was(console, boot_root):
    """SIGKILL gives the kernel no chance to clean up: the supervisor puts the
    terminal back, and the guests die with their tracer."""
    supervisor = console.boot("-r", boot_root)
    console.login("root", "# ")
    assert console.terminal_modes() != console.modes       # the console's raw mode
    (kernel,) = children(supervisor)
    os.kill(kernel, signal.SIGKILL)
    console.back_at_host(128 + signal.SIGKILL)


def test_single_user_shell(console, boot_root):
    console.boot("-r", boot_root, "-s")
    console.c.expect_exact("# ")
    assert console.run("echo pid=$$ uid=$(id -u)", "# ") == ["pid=1 uid=0"]
    console.c.sendline("exit")
    console.expect_lines(["single-user shell exited", r"syncing disks\.\.\. done",
                          "The operating system has halted.", "cpu halt, exiting vkernel"])
    console.back_at_host(0)


def test_default_root_is_built_once(tmp_path):
    """No -r: the default root is built under $XDG_CACHE_HOME/vkernel, booted,
    and reused by the next vkernel."""
    s = Console(env={"XDG_CACHE_HOME": str(tmp_path)})
    try:
        s.boot()
        s.c.expect_exact("vkernel: building the default root")
        s.c.expect_exact("vkernel login: ", timeout=300)
        s.c.sendline("root")
        s.c.expect_exact("# ")
        s.c.sendline("poweroff")
        s.c.expect_exact("cpu halt, exiting vkernel")
        s.back_at_host(0)
        cached = os.listdir(tmp_path / "vkernel")
        out = s.host(f"{sys.executable} -m vkernel -- /bin/cat /etc/hostname 2>&1")
        assert clean(out).split("\n") == ["vkernel"]
        assert os.listdir(tmp_path / "vkernel") == cached
    finally:
        s.close()
