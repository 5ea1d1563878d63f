"""System V shared memory: shmget, shmat, shmdt, shmctl inside vkernel.

A segment is an unnamed memfs file in a kernel-owned host memfd, attached
with MAP_SHARED mappings (vkernel/kernel/sysv_shm.py).  guest/src/t_sysvshm.c
runs natively and inside vkernel with the same output: keyed and private
segments, shm_nattch across fork, exec and exit, IPC_STAT/IPC_SET/IPC_RMID,
attach addresses, SHM_RDONLY faults, permissions for uid 1000 and the errno
cases.  The kernel's host memfds of removed segments must be closed once
their last attachment is gone; segments nobody removed must stay.
"""
import subprocess

from conftest import run_vk
from hostshell import memfds_at_each_line

T_SYSVSHM = "/usr/local/bin/t_sysvshm"


def _native(guest_bins):
    ref = subprocess.run([guest_bins["t_sysvshm"]], capture_output=True, timeout=120)
    assert ref.returncode == 0, ref.stderr.decode()
    return ref.stdout.decode()


def test_t_sysvshm_same_as_native(root, guest_bins):
    ref = _native(guest_bins)
    got = run_vk(root, T_SYSVSHM, timeout=300)
    assert got.stdout.decode() == ref, got.stderr.decode()[-2000:]
    assert got.returncode == 0
    assert "after RMID: SHM_DEST set, key private yes, nattch 1" in ref


def test_t_sysvshm_on_two_cpus(root, guest_bins):
    ref = _native(guest_bins)
    got = run_vk(root, T_SYSVSHM, args=("-n", "2"), timeout=300)
    assert got.stdout.decode() == ref, got.stderr.decode()[-2000:]


def test_removed_segments_free_their_memfds(root):
    """40 private segments made, attached (also by forked children), removed
    and detached: no memfd left; 3 keyed segments left unremoved keep 3
    after their process exits, until IPC_RMID."""
    script = (f"{T_SYSVSHM} leak 40 3 && echo ready && sleep 3 && "
              f"{T_SYSVSHM} unkeep 3 && echo removed && sleep 3")
    seen = memfds_at_each_line(root, script)
    assert seen == {"ready": 3, "removed": 0}
