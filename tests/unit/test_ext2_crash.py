"""ext2 crash consistency: the vkernel dies part-way through its writes.

A device that stops writing after a budget of writes stands for a vkernel
killed at that moment: the image holds exactly a prefix of what was
written.  Whatever the moment, every file fsync()ed before it must be
intact, and `e2fsck -fy` must bring the image back to clean.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import debugfs, e2fsck, fsck, mkfs, superblock  # noqa: E402
from test_ext2_helpers import write  # noqa: E402
from test_vfs_helpers import Ctx  # noqa: E402

from vkernel.fs.ext2 import ext2_mount  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MountTable  # noqa: E402
from vkernel.vfs.vfs_bio import BlockDevice  # noqa: E402


class DyingDevice(BlockDevice):
    """Drops every write after the first `budget` (the process is gone)."""

    def __init__(self, path, budget):
        super().__init__(path)
        self.budget, self.writes = budget, 0

    def write(self, off, data):
        self.writes += 1
        if self.writes <= self.budget:
            super().write(off, data)


def _workload(ctx, dev):
    """Files written and fsync()ed, with unsynced churn between; returns
    [(path, contents, writes done when its fsync returned)]."""
    synced = []
    V.kern_mkdirat(ctx, ctx.root, "/d", 0o755)
    for i in range(30):
        path = f"/d/{'sub/' if i >= 10 else ''}file{i}"
        if i == 10:
            V.kern_mkdirat(ctx, ctx.root, "/d/sub", 0o755)
        data = (b"%d:" % i) * (37 * i + 1)
        fp = write(ctx, path, data)
        fp.ops.fsync(None, fp)
        synced.append((path, data, dev.writes))
        write(ctx, f"/churn{i % 7}", b"c" * (5000 * (i % 4)))
        if i % 5 == 4:
            V.kern_unlinkat(ctx, ctx.root, f"/churn{(i + 3) % 7}")
    return synced


@pytest.mark.parametrize("budget", [3, 10, 25, 60, 120, 250, 10_000])
def test_ext2_killed_vkernel_fsck_repairs_and_fsynced_files_survive(tmp_path, budget):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    dev = DyingDevice(img, budget)
    mnt = ext2_mount(dev)
    synced = _workload(Ctx(mnt.root, MountTable(mnt)), dev)
    dev.close()                                     # no unmount: the kernel died
    if budget >= 2:
        assert superblock(img)["Filesystem state"] != "clean"
    r = e2fsck(img, "-fy")
    assert r.returncode in (0, 1), r.stdout
    rc, out = fsck(img)
    assert rc == 0, out
    for path, data, writes in synced:
        if writes <= budget:
            assert debugfs(img, f"cat {path}").encode() == data, path
