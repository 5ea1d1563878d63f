"""Isolation: a guest cannot reach host files, host pids or host syscalls,
and no guest outlives the vkernel."""
import os
import signal
import subprocess
import sys
import time

from conftest import REPO, run_vk, vkernel_cmd


def _stub_pids():
    """Host pids of guest processes (they all run the vkernel stub)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if "vkernel-stub" in os.readlink(f"/proc/{pid}/exe"):
                    out.append(int(pid))
            except OSError:
                pass
    return out


def test_host_file_outside_root_unreachable(root, tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("secret\n")
    r = run_vk(root, "/usr/local/bin/t_isolation", str(secret), str(os.getpid()), "/tmp")
    lines = r.stdout.decode().splitlines()
    reached = [l for l in lines if "reached!" in l and not l.startswith("kill(1, 0)")]
    assert not reached, lines
    assert "kill(hostpid, 0): ESRCH" in lines
    assert "int $0x80 getpid: ENOSYS" in lines
    assert b"secret" not in r.stdout


def test_guest_sees_virtual_pids(root):
    r = run_vk(root, "/bin/sh", "-c", "echo $$; sh -c 'echo $PPID'; true")
    assert r.stdout.decode().split() == ["1", "1"]


def test_host_symlink_escape_stays_inside(root, tmp_path):
    script = ("ln -s /../../../../etc/hostname /tmp/esc && cat /tmp/esc; "
              "ln -s ../../../../../../ /tmp/up && ls /tmp/up/ | head -3; rm -f /tmp/esc /tmp/up")
    r = run_vk(root, "/bin/sh", "-c", script)
    assert r.stdout.decode().splitlines()[0] == "vkernel"      # the guest's /etc/hostname
    assert "busybox" not in r.stdout.decode().splitlines()[1:4]


def test_crashing_guest_leaves_kernel_running(root):
    r = run_vk(root, "/bin/sh", "-c", "/usr/local/bin/t_fault segv; echo status=$?; echo alive")
    out = r.stdout.decode().splitlines()
    assert "status=139" in out and out[-1] == "alive"
    assert any("(t_fault): signal 11, fault address" in line for line in out)


def test_no_guest_outlives_a_killed_vkernel(root):
    p = subprocess.Popen(vkernel_cmd("-r", root, "--", "/bin/sh", "-c",
                                     "sleep 100 & sleep 100 & sleep 100"),
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    guests = []
    deadline = time.time() + 20
    while time.time() < deadline and len(guests) < 3:
        time.sleep(0.1)
        kernels = _children(p.pid)
        guests = [g for k in kernels for g in _children(k) if g in _stub_pids()]
    assert len(guests) >= 3
    for pid in [p.pid] + _children(p.pid):
        os.kill(pid, signal.SIGKILL)
    p.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and set(guests) & set(_stub_pids()):
        time.sleep(0.1)
    assert not set(guests) & set(_stub_pids())


def _children(pid):
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in kids.stdout.split()]
