"""VnodeFileOps: offsets, O_APPEND, seeks, getdents, truncate, FIONREAD."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import err, make_world, open_file, read_file, write_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import ioctl as IOC  # noqa: E402
from vkernel.abi.linux import stat as S  # noqa: E402
from vkernel.fs.memfs import MemMount  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402


@pytest.fixture(params=["hostfs", "memfs"])
def ctx(request, tmp_path):
    """The same tests on a hostfs root and on a tmpfs mounted at /tmp."""
    c, _, _ = make_world(tmp_path)
    if request.param == "memfs":
        c.mounts.mount(V.kern_lookup(c, c.root, "/tmp")[0], MemMount())
    return c


def test_offsets_and_append(ctx):
    fp = write_file(ctx, "/tmp/f", b"hello", flags=F.O_RDWR | F.O_CREAT)
    assert fp.offset == 5
    assert fp.ops.seek(None, fp, 0, F.SEEK_SET) == 0
    assert fp.ops.read(None, fp, 3) == b"hel" and fp.offset == 3
    fp.ops.write(None, fp, b"P")
    assert read_file(ctx, "/tmp/f") == b"helPo"
    ap = open_file(ctx, "/tmp/f", F.O_WRONLY | F.O_APPEND)
    ap.ops.write(None, ap, b"!")
    ap.ops.pwrite(None, ap, b"?", 0)            # Linux appends anyway
    assert read_file(ctx, "/tmp/f") == b"helPo!?"
    assert ap.offset == 6


def test_seek(ctx):
    fp = write_file(ctx, "/tmp/f", b"0123456789", flags=F.O_RDWR | F.O_CREAT)
    assert fp.ops.seek(None, fp, -2, F.SEEK_END) == 8
    assert fp.ops.seek(None, fp, 1, F.SEEK_CUR) == 9
    assert err(fp.ops.seek, None, fp, -20, F.SEEK_CUR) == E.EINVAL
    assert fp.ops.seek(None, fp, 3, F.SEEK_DATA) == 3
    assert fp.ops.seek(None, fp, 3, F.SEEK_HOLE) == 10
    assert err(fp.ops.seek, None, fp, 10, F.SEEK_DATA) == E.ENXIO
    assert err(fp.ops.seek, None, fp, 0, 99) == E.EINVAL
    fp.ops.seek(None, fp, 20, F.SEEK_SET)
    fp.ops.write(None, fp, b"x")
    assert read_file(ctx, "/tmp/f") == b"0123456789" + b"\0" * 10 + b"x"


def test_pread_pwrite(ctx):
    fp = write_file(ctx, "/tmp/f", b"abcdef", flags=F.O_RDWR | F.O_CREAT)
    assert fp.ops.pread(None, fp, 2, 2) == b"cd"
    assert fp.ops.pwrite(None, fp, b"XY", 4) == 2
    assert fp.offset == 6
    assert read_file(ctx, "/tmp/f") == b"abcdXY"
    assert err(fp.ops.pread, None, fp, 1, -1) == E.EINVAL


def test_truncate_and_fionread(ctx):
    fp = write_file(ctx, "/tmp/f", b"abcdef", flags=F.O_RDWR | F.O_CREAT)
    fp.ops.seek(None, fp, 1, F.SEEK_SET)
    assert fp.ops.ioctl(None, fp, IOC.FIONREAD, 0) == 5
    fp.ops.truncate(None, fp, 2)
    assert fp.ops.stat(None, fp)["st_size"] == 2
    ro = open_file(ctx, "/tmp/f")
    assert err(ro.ops.truncate, None, ro, 0) == E.EINVAL
    assert err(ro.ops.ioctl, None, ro, 0x5401, 0) == E.ENOTTY
    trunc = open_file(ctx, "/tmp/f", F.O_WRONLY | F.O_TRUNC)
    assert trunc.ops.stat(None, trunc)["st_size"] == 0


def test_directory_ops(ctx):
    for n in ("a", "b", "c"):
        write_file(ctx, "/tmp/" + n, b"")
    fp = open_file(ctx, "/tmp", F.O_RDONLY | F.O_DIRECTORY)
    ents = fp.ops.getdents(None, fp)
    assert [e[2] for e in ents[:2]] == [".", ".."]
    assert sorted(e[2] for e in ents[2:]) == ["a", "b", "c"]
    tmp = V.kern_lookup(ctx, ctx.root, "/tmp")[0]
    assert ents[0][0] == tmp.getattr().ino
    parent = tmp if tmp is tmp.mount.root else ctx.root    # a mount root is its own '..'
    assert ents[1][0] == parent.getattr().ino
    fp.dirpos = 3
    assert len(fp.ops.getdents(None, fp)) == 2
    write_file(ctx, "/tmp/d", b"")
    assert fp.ops.seek(None, fp, 0, F.SEEK_SET) == 0
    assert len(fp.ops.getdents(None, fp)) == 6     # rewinddir sees new entries
    assert err(fp.ops.read, None, fp, 10) == E.EISDIR
    assert err(fp.ops.seek, None, fp, 0, F.SEEK_END) == E.EINVAL
    assert fp.ops.stat(None, fp)["st_mode"] & S.S_IFMT == S.S_IFDIR
    plain = open_file(ctx, "/tmp/a")
    assert err(plain.ops.getdents, None, plain) == E.ENOTDIR


def test_o_path_descriptor_stats(ctx):
    fp = open_file(ctx, "/etc/passwd", F.O_PATH)
    assert fp.ops.stat(None, fp)["st_size"] > 0
