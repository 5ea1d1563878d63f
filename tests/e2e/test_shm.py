"""Shared memory between guest processes: memfs files mapped MAP_SHARED.

A memfs file (a tmpfs such as /dev/shm, or a memfd) keeps its bytes in a
host memfd once mapped, so MAP_SHARED mappings in several processes and
read()/write() see the same pages (vkernel/fs/memfs/memfs_data.py).
guest/src/t_shm.c runs natively and inside vkernel with the same output:
shm_open and a process-shared mutex across fork, memfd_create, write()
against a mapping, seals, named semaphores.  python3's multiprocessing
(process-shared semaphores made with sem_open in /dev/shm) must print what
the host's python prints.  The kernel's host memfds must be closed once
their files are gone.
"""
import os
import re
import subprocess

import pytest

from conftest import REPO, run_vk, vkernel_cmd
from hostshell import memfds_at_each_line

T_SHM = "/usr/local/bin/t_shm"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
POOL_SCRIPT = r'''
import multiprocessing as mp
import sys


def square(x):
    return x * x


def bump(counter, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1


def main(method):
    ctx = mp.get_context(method)
    with ctx.Pool(3) as pool:
        print(method, "map", pool.map(square, range(12)))
        print(method, "imap_unordered", sum(pool.imap_unordered(square, range(200), chunksize=7)))
    counter = ctx.Value("i", 0)
    procs = [ctx.Process(target=bump, args=(counter, 300)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(method, "Value under its lock", counter.value, [p.exitcode for p in procs])


if __name__ == "__main__":
    for method in sys.argv[1:]:
        main(method)
'''


def native_t_shm(guest_bins, *args):
    return subprocess.run([guest_bins["t_shm"], *args], capture_output=True, timeout=120)


@pytest.mark.parametrize("where", ["/dev/shm", "/mnt"])
def test_t_shm_same_as_native(root, guest_bins, where):
    """/dev/shm is the kernel's tmpfs; /mnt a tmpfs the guest mounts."""
    ref = native_t_shm(guest_bins, "/dev/shm")
    assert ref.returncode == 0, ref.stderr.decode()
    got = run_vk(root, "/bin/sh", "-c",
                 f"mount -t tmpfs tmpfs /mnt && exec {T_SHM} {where}", timeout=300)
    assert got.stdout.decode() == ref.stdout.decode(), got.stderr.decode()[-2000:]
    assert got.returncode == 0


def test_t_shm_on_two_cpus(root, guest_bins):
    ref = native_t_shm(guest_bins, "/dev/shm")
    got = run_vk(root, T_SHM, args=("-n", "2"), timeout=300)
    assert got.stdout.decode() == ref.stdout.decode(), got.stderr.decode()[-2000:]


def test_dev_shm_is_a_tmpfs_that_counts_its_files(root):
    r = run_vk(root, "/bin/sh", "-c",
               "grep ' /dev/shm ' /proc/mounts; stat -f -c %T /dev/shm; "
               "dd if=/dev/zero of=/dev/shm/big bs=1024 count=1024 2>/dev/null; "
               "df -k /dev/shm | tail -1; rm /dev/shm/big; df -k /dev/shm | tail -1; "
               "mount -t tmpfs -o size=64k tmpfs /mnt; "
               "dd if=/dev/zero of=/mnt/f bs=1k count=100 2>&1 | head -1")
    out = r.stdout.decode()
    assert out.splitlines()[:2] == ["tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0", "tmpfs"], out
    used = [int(m) for m in re.findall(r"^tmpfs\s+\d+\s+(\d+)\s", out, re.M)]
    assert used == [1024, 0], out
    assert "No space left on device" in out


# -- the kernel's host descriptors ---------------------------------------------------------


def test_host_memfds_are_closed_when_the_files_go(root):
    """300 shm files and 300 memfds made, mapped, dropped: no memfd left;
    3 files left in /dev/shm keep 3, until they are removed."""
    script = (f"{T_SHM} leak 300 3 && echo ready && sleep 3 && "
              "rm /dev/shm/t_shm.keep.* && echo removed && sleep 3")
    seen = memfds_at_each_line(root, script)
    assert seen == {"leak:": 3, "ready": 3, "removed": 0}


# -- python3 multiprocessing ---------------------------------------------------------------
def _host_python():
    return subprocess.run(["sh", "-c", "command -v python3"], capture_output=True, text=True,
                          env=dict(os.environ, PATH=SYSTEM_PATH), check=True).stdout.strip()


@pytest.fixture(scope="module")
def pyroot(tmp_path_factory):
    """A root with the host's python3 (mkroot --host) and the Pool script."""
    dest = str(tmp_path_factory.mktemp("pyroot"))
    subprocess.run(vkernel_cmd("mkroot", "--host", "python3", dest), check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=REPO, PATH=SYSTEM_PATH),
                   capture_output=True, timeout=600)
    with open(os.path.join(dest, "tmp", "pool.py"), "w") as f:
        f.write(POOL_SCRIPT)
    return dest


def test_python_multiprocessing_pool(pyroot):
    """Pool.map and a shared Value with fork, spawn (children reopen the
    semaphores by name) and forkserver, as the host's python prints them."""
    python = _host_python()
    methods = ("fork", "spawn", "forkserver")
    ref = subprocess.run([python, os.path.join(pyroot, "tmp", "pool.py"), *methods],
                         capture_output=True, timeout=300)
    assert ref.returncode == 0, ref.stderr.decode()
    got = run_vk(pyroot, python, "/tmp/pool.py", *methods, timeout=600)
    assert got.stdout.decode() == ref.stdout.decode(), got.stderr.decode()[-3000:]
    assert got.returncode == 0
