"""Mounts: crossing mount points both ways, the mount table, chroot-style roots."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import Ctx, err, make_world, read_file, write_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.fs.devfs import DevfsMount  # noqa: E402
from vkernel.fs.memfs import MemMount  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MNT_NOSUID, MNT_RDONLY  # noqa: E402


@pytest.fixture
def world(tmp_path):
    """hostfs root with a tmpfs on /tmp and a devfs on /a/b."""
    ctx, hostroot, outside = make_world(tmp_path)
    tmp = MemMount(source="tmpfs", flags=MNT_NOSUID)
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/tmp")[0], tmp, "/tmp")
    dev = DevfsMount()
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/a/b")[0], dev)
    return ctx, tmp, dev


def test_crossing_down_and_up(world):
    ctx, tmp, dev = world
    assert V.kern_lookup(ctx, ctx.root, "/tmp")[0] is tmp.root
    assert V.kern_lookup(ctx, ctx.root, "/a/b")[0] is dev.root
    assert V.kern_lookup(ctx, ctx.root, "/a/b/null")[0].mount is dev
    assert V.kern_lookup(ctx, ctx.root, "/tmp/..")[0] is ctx.root
    assert V.kern_lookup(ctx, ctx.root, "/a/b/../b/..")[0] is V.kern_lookup(ctx, ctx.root, "/a")[0]
    vp, path = V.kern_lookup(ctx, tmp.root, "../etc/passwd")
    assert path == "/etc/passwd"
    assert err(V.kern_lookup, ctx, ctx.root, "/a/b/c") == E.ENOENT     # covered


def test_mount_path_and_fullpath(world):
    ctx, tmp, dev = world
    assert dev.path == "/a/b"
    write_file(ctx, "/tmp/x", b"1")
    V.kern_mkdirat(ctx, ctx.root, "/tmp/d", 0o755)
    d = V.kern_lookup(ctx, ctx.root, "/tmp/d")[0]
    assert V.vn_fullpath(d, ctx) == "/tmp/d"
    assert V.vn_fullpath(dev.root, ctx) == "/a/b"
    assert V.kern_lookup(ctx, d, "../x")[1] == "/tmp/x"


def test_proc_mounts_listing(world):
    ctx, tmp, dev = world
    rows = ctx.mounts.list()
    assert rows[1:] == [("tmpfs", "/tmp", "tmpfs", "rw,nosuid"),
                        ("devtmpfs", "/a/b", "devtmpfs", "rw")]
    assert rows[0][1:] == ("/", "hostfs", "rw")
    assert ctx.mounts.find("/tmp") is tmp


def test_cross_mount_operations(world):
    ctx, tmp, dev = world
    root = ctx.root
    write_file(ctx, "/tmp/x", b"1")
    assert err(V.kern_renameat2, ctx, root, "/tmp/x", root, "/etc/x") == E.EXDEV
    assert err(V.kern_linkat, ctx, root, "/tmp/x", root, "/etc/x") == E.EXDEV
    assert err(V.kern_unlinkat, ctx, root, "/tmp", rmdir=True) == E.EBUSY
    assert err(V.kern_renameat2, ctx, root, "/tmp", root, "/tmp2") == E.EBUSY
    assert err(V.kern_renameat2, ctx, root, "/a/b", root, "/a/c") == E.EBUSY


def test_unmount_rules(world):
    ctx, tmp, dev = world
    inner = MemMount()
    V.kern_mkdirat(ctx, ctx.root, "/tmp/sub", 0o755)
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/tmp/sub")[0], inner)
    assert err(ctx.mounts.unmount, tmp) == E.EBUSY
    assert err(ctx.mounts.unmount, ctx.mounts.root) == E.EBUSY
    ctx.mounts.unmount(inner)
    ctx.mounts.unmount(tmp)
    assert V.kern_lookup(ctx, ctx.root, "/tmp")[0].mount is ctx.root.mount
    assert err(ctx.mounts.unmount, tmp) == E.EINVAL


def test_stacked_mounts_show_the_newest(world):
    ctx, tmp, dev = world
    top = MemMount()
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/a")[0], top)
    assert V.kern_lookup(ctx, ctx.root, "/a")[0] is top.root
    assert err(V.kern_lookup, ctx, ctx.root, "/a/b") == E.ENOENT
    ctx.mounts.unmount(top)
    assert V.kern_lookup(ctx, ctx.root, "/a/b")[0] is dev.root


def test_chroot_root_confines_dotdot_and_symlinks(world):
    ctx, tmp, dev = world
    root = ctx.root
    V.kern_mkdirat(ctx, root, "/tmp/jail", 0o755)
    V.kern_mkdirat(ctx, root, "/tmp/jail/etc", 0o755)
    write_file(ctx, "/tmp/jail/etc/passwd", b"jailed")
    V.kern_symlinkat(ctx, "/etc/passwd", root, "/tmp/jail/pw")
    jail = V.kern_chdir(ctx, root, "/tmp/jail")[0]
    jctx = Ctx(jail, ctx.mounts)
    assert read_file(jctx, "/../../../etc/passwd") == b"jailed"
    assert read_file(jctx, "/pw") == b"jailed"
    assert V.kern_lookup(jctx, jail, "..")[0] is jail
    assert V.vn_fullpath(V.kern_lookup(jctx, jail, "etc")[0], jctx) == "/etc"
    assert err(V.vn_fullpath, ctx.root, jctx) == E.ENOENT       # outside the jail


def test_chdir_checks(world):
    ctx, tmp, dev = world
    assert err(V.kern_chdir, ctx, ctx.root, "/etc/passwd") == E.ENOTDIR
    V.kern_mkdirat(ctx, ctx.root, "/etc/closed", 0o700)
    user = ctx.as_user(1000)
    assert err(V.kern_chdir, user, ctx.root, "/etc/closed") == E.EACCES
    vp = V.kern_lookup(ctx, ctx.root, "/etc/closed")[0]
    assert err(V.vn_chdir, user, vp) == E.EACCES
    assert V.vn_chdir(ctx, vp) is vp


def test_removed_cwd_has_no_path(world):
    ctx, tmp, dev = world
    V.kern_mkdirat(ctx, ctx.root, "/etc/gone", 0o755)
    vp = V.kern_lookup(ctx, ctx.root, "/etc/gone")[0]
    V.kern_unlinkat(ctx, ctx.root, "/etc/gone", rmdir=True)
    assert err(V.vn_fullpath, vp, ctx) == E.ENOENT


def test_readonly_tmpfs(world):
    ctx, tmp, dev = world
    ro = MemMount(flags=MNT_RDONLY)
    V.kern_mkdirat(ctx, ctx.root, "/ro", 0o755)
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/ro")[0], ro)
    assert err(write_file, ctx, "/ro/f", b"") == E.EROFS
    assert ctx.mounts.list()[-1][3] == "ro"


def test_mountroot(tmp_path):
    from vkernel.fs.fs_mountroot import mountroot
    from test_vfs_helpers import err, populate
    hostroot = str(tmp_path / "r")
    populate(hostroot)
    os.mkdir(os.path.join(hostroot, "dev"))
    mounts = mountroot(hostroot, tmp=True)
    assert [row[1:3] for row in mounts.list()] == [
        ("/", "hostfs"), ("/dev", "devtmpfs"), ("/dev/shm", "tmpfs"), ("/tmp", "tmpfs")]
    ctx = Ctx(mounts.root.root, mounts)
    assert V.kern_statat(ctx, ctx.root, "/dev/null").rdev == 0x103
    assert V.kern_statat(ctx, ctx.root, "/tmp").mode == 0o1777
    bare = mountroot(str(tmp_path / "r" / "a"))
    assert len(bare.list()) == 1                    # no /dev there: nothing mounted
