"""The vkd virtual disks and ext2 over them: locking, the filesystem handle,
/dev/vkdN as a file, and mount(2)/umount2(2)/remount of ext2 from a block
device node (vkernel/dev/vkd.py, vfs_dev's bdevsw, sys_mount's ext2)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import assert_clean, debugfs, mkfs, superblock  # noqa: E402
from test_vfs_helpers import err, make_world, open_file, read_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import mount as MS  # noqa: E402
from vkernel.abi.linux.stat import major, minor  # noqa: E402
from vkernel.dev.vkd import VKD_MAJOR, vkd_attach  # noqa: E402
from vkernel.fs.devfs import DevfsMount  # noqa: E402
from vkernel.fs.ext2 import ext2_mount  # noqa: E402
from vkernel.kernel import kern_proc, kern_vfs  # noqa: E402
from vkernel.syscalls.linux64 import sys_file, sys_mount  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.vfs_dev import bdev_lookup  # noqa: E402
from vkernel.vfs.vnode import VBLK  # noqa: E402


@pytest.fixture
def disk(tmp_path):
    img = mkfs(str(tmp_path / "disk.img"), "8M")
    d = vkd_attach(1, img)
    yield d
    d.detach()


@pytest.fixture
def world(tmp_path, monkeypatch, disk):
    """A hostfs root with a devfs on /dev holding /dev/vkd1, and /mnt."""
    ctx, hostroot, _ = make_world(tmp_path)
    for d in ("dev", "mnt"):
        os.mkdir(os.path.join(hostroot, d))
    dev = DevfsMount()
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/dev")[0], dev)
    dev.make_dev(disk.name, disk.open_ops, mode=0o600, rdev=disk.rdev, vtype=VBLK)
    monkeypatch.setattr(kern_vfs, "mounts", ctx.mounts)
    monkeypatch.setattr(kern_proc, "allproc", {})
    return ctx


def test_attach_locks_and_numbers(disk):
    assert (major(disk.rdev), minor(disk.rdev)) == (VKD_MAJOR, 1)
    assert bdev_lookup(disk.rdev) is disk
    with pytest.raises(Exception) as ei:
        vkd_attach(2, disk.path)
    assert ei.value.errno == E.EBUSY
    assert str(ei.value) == f"Disk image {disk.path} is already in use"
    assert err(vkd_attach, 2, disk.path, cow=True) == E.EBUSY     # -R shares, -r excludes
    assert err(vkd_attach, 3, disk.path + ".missing") == E.ENOENT


def test_cow_disks_share_and_never_write(tmp_path):
    img = mkfs(str(tmp_path / "cow.img"), "8M")
    before = open(img, "rb").read()
    a, b = vkd_attach(4, img, cow=True), vkd_attach(5, img, cow=True)
    try:
        mnt = ext2_mount(a.open_disk(), source="/dev/vkd4")
        vp = mnt.root.create("f", 0o644, 0, 0)
        vp.write(0, b"x" * 10000)
        mnt.sync()
        mnt.unmount()
        again = ext2_mount(a.open_disk())           # the COW copy survives an unmount
        assert again.root.lookup("f").read(0, 5) == b"xxxxx"
        again.unmount()
    finally:
        a.detach()
        b.detach()
    assert open(img, "rb").read() == before


def test_one_filesystem_at_a_time_and_the_image_stays_open(disk):
    h = disk.open_disk()
    assert err(disk.open_disk) == E.EBUSY
    mnt = ext2_mount(h, source="/dev/vkd1")
    mnt.root.create("a", 0o644, 0, 0).write(0, b"hello")
    mnt.unmount()                                   # closes the handle, not the image
    assert err(h.read, 0, 512) == E.EIO
    mnt = ext2_mount(disk.open_disk())
    assert mnt.root.lookup("a").read(0, 5) == b"hello"
    mnt.unmount()
    assert_clean(disk.path)


def test_device_node_reads_and_refuses_writes_while_mounted(world, disk):
    fp = open_file(world, "/dev/vkd1", F.O_RDWR)
    assert fp.ops.stat(None, fp)["st_rdev"] == disk.rdev
    sb = fp.ops.pread(None, fp, 1024, 1024)
    assert sb[56:58] == b"\x53\xef"                 # the ext2 magic
    assert fp.ops.seek(None, fp, 0, F.SEEK_END) == 8 << 20
    assert fp.ops.read(None, fp, 10) == b""
    assert err(fp.ops.pwrite, None, fp, b"x", 8 << 20) == E.ENOSPC
    fp.ops.pwrite(None, fp, b"boot", 0)             # block 0 is not the filesystem's
    assert fp.ops.pread(None, fp, 4, 0) == b"boot"
    sys_mount.kern_mount(V.kern_lookup(world, world.root, "/mnt")[0], "ext2", "/dev/vkd1",
                         0, "", world)
    assert err(fp.ops.pwrite, None, fp, b"x", 0) == E.EBUSY
    sys_mount.kern_unmount(V.kern_lookup(world, world.root, "/mnt")[0], 0)
    assert fp.ops.pwrite(None, fp, b"BOOT", 0) == 4


def test_mount_from_a_block_device(world, disk):
    mnt_vp = V.kern_lookup(world, world.root, "/mnt")[0]
    mount = lambda src, fstype="ext2", data="": sys_mount.kern_mount(   # noqa: E731
        mnt_vp, fstype, src, 0, data, world)
    assert err(mount, "/dev/null") == E.ENOTBLK
    assert err(mount, "/dev/nothing") == E.ENOENT
    assert err(mount, "/dev/vkd1", data="bogus") == E.EINVAL
    mount("/dev/vkd1")
    assert err(mount, "/dev/vkd1") == E.EBUSY       # the disk is taken
    fp = open_file(world, "/mnt/new", F.O_WRONLY | F.O_CREAT, 0o600)
    fp.ops.write(None, fp, b"on the disk\n")
    assert ("/dev/vkd1", "/mnt", "ext2", "rw") in world.mounts.list()
    assert ("ext2", False) in sys_mount.filesystems()
    assert superblock(disk.path)["Filesystem state"] == "not clean"
    sys_mount.kern_unmount(V.kern_lookup(world, world.root, "/mnt")[0], 0)
    assert_clean(disk.path)
    assert debugfs(disk.path, "cat /new") == "on the disk\n"
    mount("/dev/vkd1")                              # and again
    assert read_file(world, "/mnt/new") == b"on the disk\n"


def test_remount_readonly_marks_clean_and_back(world, disk):
    mount_vp = V.kern_lookup(world, world.root, "/mnt")[0]
    sys_mount.kern_mount(mount_vp, "ext2", "/dev/vkd1", 0, "", world)
    root = V.kern_lookup(world, world.root, "/mnt")[0]
    fp = open_file(world, "/mnt/f", F.O_WRONLY | F.O_CREAT)
    fp.ops.write(None, fp, b"data")
    sys_mount.kern_remount(root, MS.MS_RDONLY)
    assert superblock(disk.path)["Filesystem state"] == "clean"
    assert_clean(disk.path)
    assert err(V.kern_mkdirat, world, world.root, "/mnt/d", 0o755) == E.EROFS
    sys_mount.kern_remount(root, 0)
    assert superblock(disk.path)["Filesystem state"] == "not clean"
    V.kern_mkdirat(world, world.root, "/mnt/d", 0o755)
    sys_mount.kern_unmount(root, 0)
    assert_clean(disk.path)
    assert "d" in debugfs(disk.path, "ls /")
    sys_mount.kern_mount(mount_vp, "ext2", "/dev/vkd1", MS.MS_RDONLY, "", world)
    root = V.kern_lookup(world, world.root, "/mnt")[0]
    assert superblock(disk.path)["Filesystem state"] == "clean"     # ro: untouched
    assert err(V.kern_mkdirat, world, world.root, "/mnt/e", 0o755) == E.EROFS
    sys_mount.kern_remount(root, 0)
    V.kern_mkdirat(world, world.root, "/mnt/e", 0o755)
    sys_mount.kern_unmount(root, 0)
    assert_clean(disk.path)


def test_sync_and_syncfs_write_back(world, disk, monkeypatch):
    sys_mount.kern_mount(V.kern_lookup(world, world.root, "/mnt")[0], "ext2", "/dev/vkd1",
                         0, "", world)
    fp = open_file(world, "/mnt/synced", F.O_WRONLY | F.O_CREAT)
    fp.ops.write(None, fp, b"now on disk")
    assert "synced" not in debugfs(disk.path, "ls /")
    sys_file.sys_sync(None)
    assert debugfs(disk.path, "cat /synced") == "now on disk"
    fp2 = open_file(world, "/mnt/second", F.O_WRONLY | F.O_CREAT)
    fdp = type("Fd", (), {"get": lambda self, fd: fp2})()
    td = type("Td", (), {})()
    td.lwp_proc = type("P", (), {"p_fd": fdp})()
    sys_file.sys_syncfs(td, 3)
    assert "second" in debugfs(disk.path, "ls /")
