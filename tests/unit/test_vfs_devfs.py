"""devfs: the standard devices, registered drivers, and device nodes elsewhere."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import err, make_world, names, open_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import stat as S  # noqa: E402
from vkernel.fs.devfs import CONSOLE_RDEV, DevfsMount  # noqa: E402
from vkernel.kernel.file import FileOps  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MNT_NODEV, MountTable  # noqa: E402
from vkernel.vfs.vfs_vnops import DevOps  # noqa: E402


@pytest.fixture
def world(tmp_path):
    ctx, hostroot, _ = make_world(tmp_path)
    os.mkdir(os.path.join(hostroot, "dev"))
    dev = DevfsMount()
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/dev")[0], dev)
    return ctx, dev


def test_standard_nodes(world):
    ctx, _ = world
    expect = {"null": (1, 3), "zero": (1, 5), "full": (1, 7),
              "random": (1, 8), "urandom": (1, 9)}
    for name, (ma, mi) in expect.items():
        va = V.kern_statat(ctx, ctx.root, "/dev/" + name)
        assert va.st_mode() == S.S_IFCHR | 0o666
        assert (S.major(va.rdev), S.minor(va.rdev)) == (ma, mi)
    assert V.kern_readlinkat(ctx, ctx.root, "/dev/fd") == "/proc/self/fd"
    assert V.kern_readlinkat(ctx, ctx.root, "/dev/stderr") == "/proc/self/fd/2"
    assert V.kern_statat(ctx, ctx.root, "/dev/shm").mode == 0o1777
    assert "pts" in names(ctx, "/dev")


def test_null_zero_full_random(world):
    ctx, _ = world
    null = open_file(ctx, "/dev/null", F.O_RDWR)
    assert null.ops.read(None, null, 100) == b""
    assert null.ops.write(None, null, b"abc") == 3
    assert null.ops.stat(None, null)["st_rdev"] == S.makedev(1, 3)
    zero = open_file(ctx, "/dev/zero")
    assert zero.ops.read(None, zero, 5) == b"\0" * 5
    assert zero.ops.kind == "zero"
    full = open_file(ctx, "/dev/full", F.O_RDWR)
    assert err(full.ops.write, None, full, b"x") == E.ENOSPC
    assert full.ops.read(None, full, 2) == b"\0\0"
    rnd = open_file(ctx, "/dev/urandom")
    a, b = rnd.ops.read(None, rnd, 32), rnd.ops.read(None, rnd, 32)
    assert len(a) == 32 and a != b


class Console(DevOps):
    kind = "console"

    def __init__(self, flags):
        self.flags = flags

    def write(self, td, fp, data):
        return len(data)


def test_make_dev_and_destroy(world):
    ctx, dev = world
    dev.make_dev("console", Console, mode=0o600, rdev=CONSOLE_RDEV)
    dev.make_dev("pts/0", Console, mode=0o620, uid=1000, gid=5)
    fp = open_file(ctx, "/dev/console", F.O_WRONLY | F.O_NOCTTY)
    assert isinstance(fp.ops, Console) and fp.ops.flags & F.O_NOCTTY
    assert fp.ops.stat(None, fp)["st_rdev"] == CONSOLE_RDEV
    va = V.kern_statat(ctx, ctx.root, "/dev/pts/0")
    assert (va.uid, va.gid, va.mode) == (1000, 5, 0o620)
    user = ctx.as_user(1001)
    assert err(open_file, user, "/dev/console", F.O_WRONLY) == E.EACCES
    assert err(dev.make_dev, "console", Console) == E.EEXIST
    dev.destroy_dev("pts/0")
    assert err(V.kern_statat, ctx, ctx.root, "/dev/pts/0") == E.ENOENT


def test_mknod_elsewhere_opens_the_driver(world):
    ctx, _ = world
    V.kern_mknodat(ctx, ctx.root, "/tmp/mynull", S.S_IFCHR | 0o666, S.makedev(1, 3))
    fp = open_file(ctx, "/tmp/mynull", F.O_RDWR)
    assert fp.ops.kind == "null" and fp.vnode.mount is ctx.root.mount
    assert fp.ops.stat(None, fp)["st_ino"] == V.kern_statat(ctx, ctx.root, "/tmp/mynull").ino
    V.kern_mknodat(ctx, ctx.root, "/tmp/nodrv", S.S_IFCHR | 0o666, S.makedev(99, 99))
    assert err(open_file, ctx, "/tmp/nodrv") == E.ENXIO
    V.kern_mknodat(ctx, ctx.root, "/tmp/sock", S.S_IFSOCK | 0o666)
    assert err(open_file, ctx, "/tmp/sock") == E.ENXIO
    V.kern_mknodat(ctx, ctx.root, "/tmp/fifo", S.S_IFIFO | 0o666)
    assert err(open_file, ctx, "/tmp/fifo") == E.ENXIO        # no pipe layer installed


def test_fifo_opener_hook(world, monkeypatch):
    from vkernel.vfs import vfs_vnops
    ctx, _ = world
    seen = []

    def opener(vp, flags):
        seen.append(vp)
        return FileOps()
    monkeypatch.setattr(vfs_vnops, "_fifo_opener", opener)
    V.kern_mknodat(ctx, ctx.root, "/tmp/fifo", S.S_IFIFO | 0o666)
    open_file(ctx, "/tmp/fifo")
    open_file(ctx, "/tmp/fifo", F.O_WRONLY)
    assert seen[0] is seen[1]                   # one vnode: one pipe


def test_nodev_mount(tmp_path):
    ctx, hostroot, _ = make_world(tmp_path)
    nodev = DevfsMount(flags=MNT_NODEV)
    ctx2 = ctx.__class__(nodev.root, MountTable(nodev))
    assert err(open_file, ctx2, "/null") == E.EACCES


def test_devfs_is_writable_by_root(world):
    ctx, _ = world
    fp = open_file(ctx, "/dev/shm/seg", F.O_RDWR | F.O_CREAT, 0o600)
    fp.ops.write(None, fp, b"shared")
    assert fp.ops.pread(None, fp, 6, 0) == b"shared"
    V.kern_symlinkat(ctx, "/proc/self/fd", ctx.root, "/dev/myfd")
    assert err(open_file, ctx.as_user(1000), "/dev/newfile", F.O_WRONLY | F.O_CREAT) == E.EACCES
