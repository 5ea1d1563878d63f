"""-n N virtual CPUs (trap.Cpu, platform/ptrace_cpu.py): each CPU is a host
thread pinned with its guests to its own host CPU; guests spread over the
CPUs, wake each other across them, and programs behave as on one CPU."""
import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import REPO, run_vk, vkernel_cmd

SMP = ("-n", "2")
HOST_CPUS = len(os.sched_getaffinity(0))

SAME_OUTPUT = [
    ("t_threads",), ("t_signals",), ("t_forkstorm", "50"), ("t_poll",), ("t_time",),
    ("t_spawn", "200", "/bin/true"), ("t_jobctl",), ("t_files", "/tmp"), ("t_mmap", "/tmp"),
    ("t_smp",),
]


@pytest.mark.parametrize("prog", SAME_OUTPUT, ids=lambda p: p[0])
def test_same_as_native_on_two_cpus(root, guest_bins, prog):
    name, *args = prog
    ref = subprocess.run([guest_bins[name], *args], capture_output=True, timeout=60)
    got = run_vk(root, f"/usr/local/bin/{name}", *args, args=SMP, timeout=120)
    assert got.stdout.decode() == ref.stdout.decode()
    assert got.returncode == ref.returncode, got.stderr.decode()[-2000:]


def test_a_pipeline_across_cpus(root):
    """Writer and reader of each pipe end up on different CPUs: every wakeup
    of the other end is a cross-CPU kick."""
    r = run_vk(root, "/bin/sh", "-c", "yes | head -n 200000 | md5sum", args=SMP)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert r.stdout.decode().split()[0] == hashlib.md5(b"y\n" * 200000).hexdigest()


BUSY = ("pids=; for i in 1 2 3 4; do (while :; do :; done) & pids=\"$pids $!\"; done; "
        "sleep 1; for p in $pids; do cut -d' ' -f39 /proc/$p/stat; done; "
        "echo ready; sleep 2; kill $pids")


def test_guests_spread_over_cpus_and_host_cpus(root):
    """Busy guests run on both virtual CPUs (the kernel's view, /proc/PID/stat
    field 39) and their host threads are pinned to two host CPUs."""
    p = subprocess.Popen(vkernel_cmd("-r", root, *SMP, "--", "/bin/sh", "-c", BUSY),
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while "ready" not in lines:
        line = p.stdout.readline()
        assert line, p.stderr.read()[-2000:]
        lines.append(line.strip())
    pinned = {_pinned_cpus(g) for g in _guests(p.pid)}
    out, err = p.communicate(timeout=30)
    assert p.returncode == 143 or p.returncode == 0, err[-2000:]
    assert set(lines[:-1]) == {"0", "1"}
    assert len({c for c in pinned if c is not None}) == min(2, HOST_CPUS)


REBALANCE = ("pids=; for i in 1 2 3 4; do (while :; do :; done) & pids=\"$pids $!\"; done; "
             "sleep 0.5; left=; for p in $pids; do "
             "if [ $(cut -d' ' -f39 /proc/$p/stat) = 1 ]; then kill $p; else left=\"$left $p\"; fi; "
             "done; sleep 1.5; for p in $left; do cut -d' ' -f39 /proc/$p/stat; done; kill $left")


def test_the_balancer_evens_out_the_cpus(root):
    """Busy loops on CPU 1 are killed; of those left on CPU 0, the balancer
    moves one over (interrupted where it runs, migrated at that trap)."""
    r = run_vk(root, "/bin/sh", "-c", REBALANCE, args=SMP, timeout=60)
    cpus = r.stdout.decode().split()
    assert len(cpus) >= 2 and set(cpus) == {"0", "1"}, (cpus, r.stderr.decode()[-2000:])


def test_init_exit_halts_with_guests_on_every_cpu(root):
    """Halting stops every CPU and kills the guests it traces."""
    t = time.monotonic()
    r = run_vk(root, "/bin/sh", "-c", "sleep 100 & sleep 100 & sleep 100 & exit 3", args=SMP,
               timeout=60)
    assert r.returncode == 3, r.stderr.decode()[-2000:]
    assert time.monotonic() - t < 30


def test_no_guest_outlives_a_killed_smp_vkernel(root):
    p = subprocess.Popen(vkernel_cmd("-r", root, *SMP, "--", "/bin/sh", "-c",
                                     "sleep 100 & sleep 100 & sleep 100 & wait"),
                         cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    guests = []
    deadline = time.time() + 20
    while time.time() < deadline and len(guests) < 5:       # sh, 3 x sleep, doorbells
        time.sleep(0.1)
        guests = _guests(p.pid)
    assert len(guests) >= 5
    for pid in [p.pid] + _children(p.pid):
        os.kill(pid, signal.SIGKILL)
    p.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(g) for g in guests):
        time.sleep(0.1)
    assert not [g for g in guests if _alive(g)]


# -- host-side views ------------------------------------------------------------------------
def _children(pid):
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in kids.stdout.split()]


def _guests(supervisor):
    """Host pids of the stub processes (guests and doorbells) under a vkernel."""
    out = []
    for kernel in _children(supervisor):
        for pid in _children(kernel):
            try:
                if "vkernel-stub" in os.readlink(f"/proc/{pid}/exe"):
                    out.append(pid)
            except OSError:
                pass
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _pinned_cpus(pid):
    """A host process's CPU affinity as the kernel shows it, if it is one CPU."""
    try:
        with open(f"/proc/{pid}/status") as f:
            m = re.search(r"^Cpus_allowed_list:\s*(\d+)$", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None
