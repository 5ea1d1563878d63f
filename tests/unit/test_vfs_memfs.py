"""memfs (tmpfs) as a root and as a mount; memfd_create; size limits."""
import gc
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import Ctx, err, names, read_file, write_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import stat as S  # noqa: E402
from vkernel.fs.memfs import MemMount, memfd_create  # noqa: E402
from vkernel.kernel.file import File  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MountTable  # noqa: E402
from vkernel.vfs.vfs_vnops import VnodeFileOps  # noqa: E402
from vkernel.vfs.vnode import VDIR, VFIFO, VLNK  # noqa: E402


@pytest.fixture
def ctx():
    mnt = MemMount(mode=0o755)
    return Ctx(mnt.root, MountTable(mnt))


def test_files_dirs_links(ctx):
    root = ctx.root
    V.kern_mkdirat(ctx, root, "/d", 0o777)
    write_file(ctx, "/d/f", b"hello")
    assert read_file(ctx, "/d/f") == b"hello"
    V.kern_symlinkat(ctx, "d/f", root, "/l")
    assert read_file(ctx, "/l") == b"hello"
    assert V.kern_statat(ctx, root, "/l", follow=False).type == VLNK
    assert V.kern_statat(ctx, root, "/l", follow=False).size == 3
    V.kern_linkat(ctx, root, "/d/f", root, "/hard")
    assert V.kern_statat(ctx, root, "/hard").nlink == 2
    assert V.kern_statat(ctx, root, "/").nlink == 3
    assert V.kern_statat(ctx, root, "/d").mode == 0o755
    assert names(ctx, "/") == [".", "..", "d", "hard", "l"]
    V.kern_unlinkat(ctx, root, "/d/f")
    assert read_file(ctx, "/hard") == b"hello"
    V.kern_unlinkat(ctx, root, "/d", rmdir=True)
    assert V.kern_statat(ctx, root, "/").nlink == 2


def test_rename_and_dotdot(ctx):
    root = ctx.root
    for d in ("/a", "/a/b", "/c"):
        V.kern_mkdirat(ctx, root, d, 0o755)
    b = V.kern_lookup(ctx, root, "/a/b")[0]
    V.kern_renameat2(ctx, root, "/a/b", root, "/c/b2")
    assert V.kern_lookup(ctx, b, "..")[0] is V.kern_lookup(ctx, root, "/c")[0]
    assert V.vn_fullpath(b, ctx) == "/c/b2"
    assert err(V.kern_renameat2, ctx, root, "/c", root, "/c/b2/x") == E.EINVAL
    write_file(ctx, "/c/b2/f", b"")
    V.kern_mkdirat(ctx, root, "/e", 0o755)
    assert err(V.kern_renameat2, ctx, root, "/e", root, "/c/b2") == E.ENOTEMPTY
    V.kern_renameat2(ctx, root, "/c/b2", root, "/e")
    assert V.kern_lookup(ctx, root, "/e/f")[0].vtype != VDIR
    V.kern_renameat2(ctx, root, "/a", root, "/e/f", F.RENAME_EXCHANGE)
    assert V.kern_statat(ctx, root, "/a").type != VDIR
    assert V.kern_statat(ctx, root, "/e/f").type == VDIR


def test_fifo_and_devices_are_just_nodes(ctx):
    V.kern_mknodat(ctx, ctx.root, "/p", S.S_IFIFO | 0o600)
    va = V.kern_statat(ctx, ctx.root, "/p")
    assert va.type == VFIFO and va.mode == 0o600


def test_memfd(ctx):
    vp = memfd_create(uid=1000, gid=1000)
    fp = File(VnodeFileOps(vp), F.O_RDWR, "/memfd:test (deleted)", vp)
    fp.ops.write(None, fp, b"abc")
    fp.ops.truncate(None, fp, 10)
    st = fp.ops.stat(None, fp)
    assert st["st_size"] == 10 and st["st_nlink"] == 0
    assert st["st_mode"] == S.S_IFREG | 0o777 and st["st_uid"] == 1000
    assert fp.ops.pread(None, fp, 5, 0) == b"abc\0\0"
    assert err(V.vn_fullpath, vp, ctx) == E.ENOENT


def test_size_limit():
    mnt = MemMount(size_limit=100, max_file=80)
    ctx = Ctx(mnt.root, MountTable(mnt))
    fp = write_file(ctx, "/f", b"x" * 60)
    assert err(fp.ops.write, None, fp, b"y" * 30) == E.EFBIG
    write_file(ctx, "/g", b"z" * 40)
    assert err(write_file, ctx, "/h", b"w" * 10) == E.ENOSPC
    assert mnt.statfs()["f_bfree"] == 0
    del fp
    V.kern_unlinkat(ctx, ctx.root, "/f")
    gc.collect()                                # tracebacks above held the file
    assert mnt.used == 40
    write_file(ctx, "/h", b"w" * 10)


def test_permissions(ctx):
    user = ctx.as_user(1000)
    assert err(V.kern_mkdirat, user, ctx.root, "/u", 0o755) == E.EACCES
    V.kern_mkdirat(ctx, ctx.root, "/t", 0o1777)
    assert V.kern_statat(ctx, ctx.root, "/t").mode == 0o1755     # umask 022
    V.kern_chmod(ctx, ctx.root, "/t", 0o1777)
    write_file(user, "/t/mine", b"")
    assert V.kern_statat(ctx, ctx.root, "/t/mine").uid == 1000
    V.kern_chmod(ctx, ctx.root, "/t", 0o2777)
    V.kern_chown(ctx, ctx.root, "/t", 0, 77)
    V.kern_mkdirat(user, ctx.root, "/t/sub", 0o755)
    va = V.kern_statat(ctx, ctx.root, "/t/sub")
    assert va.gid == 77 and va.mode & S.S_ISGID     # setgid directories pass it on
