"""ext2: reading images that mke2fs -d filled from a staging directory.

Every block size and both revisions; files reaching double-indirect blocks,
holes, fast and slow symlinks, hard links, a FIFO, large and hashed
(dir_index) directories; the tree read through the VFS must match the
staging directory exactly, and statfs must match dumpe2fs.
"""
import hashlib
import os
import random
import stat
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import assert_clean, debugfs, mkfs, superblock  # noqa: E402
from test_ext2_helpers import mount, read, snapshot  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.kernel.errors import KernelError  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.vnode import VDIR, VFIFO, VLNK, VREG  # noqa: E402

GEOMETRIES = [(1024, 1), (2048, 1), (4096, 1), (1024, 0), (4096, 0)]


def make_stage(top, seed=1):
    """A staging tree exercising every kind of block map and entry."""
    rnd = random.Random(seed)
    os.makedirs(os.path.join(top, "dir/sub/deeper"))
    os.makedirs(os.path.join(top, "many"))
    for size in (0, 1, 1023, 1024, 1025, 4096, 12 * 1024 + 5, 300_000, 1_200_000):
        with open(os.path.join(top, f"file{size}"), "wb") as f:
            f.write(rnd.randbytes(size))
    with open(os.path.join(top, "sparse"), "wb") as f:
        f.seek(5 << 20)
        f.write(b"end")
        f.seek(70_000)
        f.write(b"middle")
    for i in range(600):
        with open(os.path.join(top, "many", f"entry-{i:04d}-{'x' * (i % 40)}"), "w") as f:
            f.write(str(i))
    os.symlink("file1", os.path.join(top, "fast"))
    os.symlink("/" + "long/" * 40 + "target", os.path.join(top, "slow"))
    os.link(os.path.join(top, "file1"), os.path.join(top, "dir/hardlink"))
    os.mkfifo(os.path.join(top, "dir/fifo"))
    os.chmod(os.path.join(top, "dir/sub"), 0o1777)
    os.chmod(os.path.join(top, "file1"), 0o4751)
    if os.geteuid() == 0:
        os.chown(os.path.join(top, "file1023"), 1234, 5678)
    return top


def host_view(top):
    """The staging tree as snapshot() shows an ext2 tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = "/" + os.path.relpath(path, top)
            kind, extra, nlink = None, None, st.st_nlink
            if stat.S_ISREG(st.st_mode):
                kind = VREG
                with open(path, "rb") as f:
                    extra = hashlib.sha1(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                kind, extra = VLNK, os.readlink(path)
            elif stat.S_ISDIR(st.st_mode):
                kind = VDIR
                nlink = 2 + sum(os.path.isdir(os.path.join(path, n)) and
                                not os.path.islink(os.path.join(path, n))
                                for n in os.listdir(path))
            elif stat.S_ISFIFO(st.st_mode):
                kind = VFIFO
            out[rel] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid,
                        st.st_size if kind != VDIR else None, nlink, extra)
    return out


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    return make_stage(str(tmp_path_factory.mktemp("stage") / "root"))


@pytest.mark.parametrize("bsize,rev", GEOMETRIES)
def test_ext2_read_matches_staging_tree(tmp_path, stage, bsize, rev):
    img = mkfs(str(tmp_path / "img"), "32M", bsize, rev, stage=stage)
    mnt, ctx = mount(img, readonly=True)
    got = snapshot(ctx)
    got.pop("/lost+found")
    for path, entry in list(got.items()):
        if entry[0] == VDIR:        # directory sizes are ext2's business
            got[path] = entry[:4] + (None,) + entry[5:]
    assert got == host_view(stage)
    mnt.unmount()
    assert_clean(img)


@pytest.mark.parametrize("bsize,rev", [(1024, 1), (4096, 0)])
def test_ext2_read_pieces_and_holes(tmp_path, stage, bsize, rev):
    img = mkfs(str(tmp_path / "img"), "32M", bsize, rev, stage=stage)
    mnt, ctx = mount(img, readonly=True)
    with open(os.path.join(stage, "file1200000"), "rb") as f:
        want = f.read()
    for off, n in ((0, 1), (1023, 2), (12 * bsize - 3, 7), (268 * 1024 - 1, 5000),
                   (len(want) - 10, 100), (len(want), 10), (len(want) + 5, 10)):
        assert read(ctx, "/file1200000", off, n) == want[off:off + n]
    data = read(ctx, "/sparse")
    assert len(data) == (5 << 20) + 3 and data.endswith(b"end")
    assert data[70_000:70_006] == b"middle" and data.count(0) == len(data) - 9
    va = V.kern_statat(ctx, ctx.root, "/sparse")
    assert va.blocks * 512 < 64 * 1024          # the holes take no blocks
    mnt.unmount()


def test_ext2_statfs_matches_dumpe2fs(tmp_path, stage):
    img = mkfs(str(tmp_path / "img"), "32M", 2048, 1, stage=stage)
    sb = superblock(img)
    mnt, ctx = mount(img, readonly=True)
    st = V.kern_statfs(ctx, ctx.root, "/")
    assert st["f_bsize"] == 2048 and st["f_namelen"] == 255
    assert st["f_bfree"] == int(sb["Free blocks"])
    assert st["f_ffree"] == int(sb["Free inodes"])
    assert st["f_files"] == int(sb["Inode count"])
    assert st["f_bavail"] == int(sb["Free blocks"]) - int(sb["Reserved block count"])
    mnt.unmount()


def test_ext2_hashed_directories_read_and_written(tmp_path, stage):
    """A dir_index (htree) directory built by e2fsck -D reads as a plain one;
    changing it drops the index flag, and e2fsck stays happy."""
    img = mkfs(str(tmp_path / "img"), "32M", 1024, 1, stage=stage)
    subprocess.run(["e2fsck", "-fyD", img], capture_output=True)
    assert "Hash_Indexed" in debugfs(img, "stat /many") or \
        "0x1000" in debugfs(img, "stat /many")
    mnt, ctx = mount(img)
    names = {n for n, _i, _t in V.kern_lookup(ctx, ctx.root, "/many")[0].readdir()}
    assert names == set(os.listdir(os.path.join(stage, "many")))
    V.kern_unlinkat(ctx, ctx.root, "/many/entry-0007-xxxxxxx")
    fd = V.kern_openat(ctx, ctx.root, "/many/new-name", os.O_CREAT | os.O_WRONLY, 0o600)
    assert fd is not None
    mnt.unmount()
    assert "Flags: 0x0" in debugfs(img, "stat /many")
    assert_clean(img)


def test_ext2_lookup_errors(tmp_path, stage):
    img = mkfs(str(tmp_path / "img"), "16M", 1024, 1, stage=stage)
    mnt, ctx = mount(img, readonly=True)
    for path, errno in (("/nope", E.ENOENT), ("/file1/x", E.ENOTDIR),
                        ("/" + "n" * 256, E.ENAMETOOLONG)):
        with pytest.raises(KernelError) as exc:
            V.kern_statat(ctx, ctx.root, path)
        assert exc.value.errno == errno
    with pytest.raises(KernelError) as exc:
        V.kern_mkdirat(ctx, ctx.root, "/newdir", 0o755)
    assert exc.value.errno == E.EROFS
    assert V.kern_readlinkat(ctx, ctx.root, "/slow") == os.readlink(os.path.join(stage, "slow"))
    mnt.unmount()
