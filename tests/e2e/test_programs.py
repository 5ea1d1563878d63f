"""Guest programs run natively and inside vkernel; the host kernel is the reference."""
import subprocess

import pytest

from conftest import run_vk

SAME_OUTPUT = [
    ("t_hello",), ("t_true",), ("t_cpuloop", "1000000"), ("t_threads",),
    ("t_signals",), ("t_forkstorm", "50"), ("t_mmap", "/tmp"), ("t_time",),
    ("t_files", "/tmp"), ("t_robust",),
]


def native(guest_bins, name, *args):
    return subprocess.run([guest_bins[name], *args], capture_output=True, timeout=60)


@pytest.mark.parametrize("prog", SAME_OUTPUT, ids=lambda p: p[0])
def test_same_as_native(root, guest_bins, prog):
    name, *args = prog
    ref = native(guest_bins, name, *args)
    got = run_vk(root, f"/usr/local/bin/{name}", *args)
    assert got.stdout.decode() == ref.stdout.decode()
    assert got.returncode == ref.returncode, got.stderr.decode()[-2000:]


def test_exit_status_is_passed_through(root):
    r = run_vk(root, "/bin/sh", "-c", "exit 42")
    assert r.returncode == 42


def test_t_aio_reports_enosys(root):
    r = run_vk(root, "/usr/local/bin/t_aio", "/tmp")
    assert r.returncode == 1
    assert b"aio_read: Function not implemented" in r.stderr + r.stdout
    assert b"unimplemented syscall io_setup (206)" in r.stderr + r.stdout


@pytest.mark.parametrize("kind,sig", [("segv", 11), ("null", 11), ("ill", 4),
                                      ("fpe", 8), ("abort", 6)])
def test_fault_kills_with_signal(root, kind, sig):
    r = run_vk(root, "/usr/local/bin/t_fault", kind)
    assert r.returncode == 128 + sig
    if kind != "abort":
        assert f"signal {sig}, fault address".encode() in r.stderr + r.stdout


@pytest.mark.parametrize("kind", ["segv", "ill", "fpe", "trap"])
def test_fault_handled(root, guest_bins, kind):
    ref = native(guest_bins, "t_fault", kind, "handle")
    got = run_vk(root, "/usr/local/bin/t_fault", kind, "handle")
    assert got.stdout == ref.stdout
