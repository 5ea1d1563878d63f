"""ext2 read-write: what the driver writes, e2fsck and debugfs must agree with.

Each test makes an image with mke2fs, works on it through the VFS workers
(no vkernel boot), unmounts, runs `e2fsck -fn` (no problem, exit 0) and
looks at the result with debugfs; mounting again must show the same tree.
"""
import hashlib
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import assert_clean, debugfs, istat, md5_file, mkfs, superblock  # noqa: E402
from test_ext2_helpers import mount, read, snapshot, write  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import stat as S  # noqa: E402
from vkernel.kernel.errors import KernelError  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.vnode import VCHR, VDIR, VFIFO  # noqa: E402

GEOMETRIES = [(1024, 1), (2048, 1), (4096, 1), (1024, 0), (4096, 0)]
APPEND = F.O_WRONLY | F.O_APPEND


def err(fn, *args, **kw):
    with pytest.raises(KernelError) as exc:
        fn(*args, **kw)
    return exc.value.errno


def workload(ctx, bsize):
    """Every kind of change; returns nothing, the tree is checked afterwards."""
    r = ctx.root
    for d in ("/a", "/a/b", "/c", "/gone", "/tmp"):
        V.kern_mkdirat(ctx, r, d, 0o755)
    write(ctx, "/a/f", b"first line\n")
    write(ctx, "/a/f", b"second line\n", flags=APPEND)
    write(ctx, "/a/b/big", bytes(range(256)) * (40 * bsize // 256 + 3))
    V.kern_truncate(ctx, r, "/a/b/big", 13 * bsize + 17)        # into the indirect block
    V.kern_truncate(ctx, r, "/a/b/big", 20 * bsize)             # and back out: zeros
    write(ctx, "/a/shrink", b"s" * (300 * bsize))
    V.kern_truncate(ctx, r, "/a/shrink", 5)
    V.kern_symlinkat(ctx, "b/big", r, "/a/fast")
    V.kern_symlinkat(ctx, "/" + "x" * 200, r, "/a/slow")
    V.kern_linkat(ctx, r, "/a/f", r, "/c/hard1")
    V.kern_linkat(ctx, r, "/a/f", r, "/c/hard2")
    V.kern_unlinkat(ctx, r, "/c/hard2")
    V.kern_renameat2(ctx, r, "/a/b", r, "/c/b-moved")           # directory to a new parent
    write(ctx, "/c/victim", b"to be replaced")
    write(ctx, "/c/replacer", b"replacement")
    V.kern_renameat2(ctx, r, "/c/replacer", r, "/c/victim")
    V.kern_mkdirat(ctx, r, "/c/emptydir", 0o700)
    V.kern_renameat2(ctx, r, "/gone", r, "/c/emptydir")          # replaces an empty dir
    V.kern_mkdirat(ctx, r, "/x1", 0o755)
    write(ctx, "/x2", b"swap")
    V.kern_renameat2(ctx, r, "/x1", r, "/c/b-moved/x2", 0)
    V.kern_renameat2(ctx, r, "/x2", r, "/c/b-moved/x2", F.RENAME_EXCHANGE)
    V.kern_mknodat(ctx, r, "/tmp/fifo", S.S_IFIFO | 0o640)
    V.kern_mknodat(ctx, r, "/tmp/null", S.S_IFCHR | 0o666, S.makedev(1, 3))
    V.kern_mknodat(ctx, r, "/tmp/bigdev", S.S_IFBLK | 0o600, S.makedev(259, 70000))
    for i in range(200):
        write(ctx, f"/tmp/n{i}", b"%d" % i * i)
    for i in range(0, 200, 3):
        V.kern_unlinkat(ctx, r, f"/tmp/n{i}")
    V.kern_chown(ctx, r, "/a/f", 1001, 2002)
    V.kern_chmod(ctx, r, "/a/f", 0o4710)        # after chown, which drops setuid
    V.kern_chown(ctx, r, "/a/slow", 70000, 80000, follow=False)
    V.kern_utimens(ctx, r, "/a/f", (1_000_000_000, 123_456_789), (1_234_567_890, 5))


def assert_remount_same(img, mnt, ctx):
    """Unmount: e2fsck finds the image clean, and mounting it again shows
    the same tree (unmounted again at the end).  Returns that tree."""
    before = snapshot(ctx)
    mnt.unmount()
    assert_clean(img)
    mnt, ctx = mount(img)
    assert snapshot(ctx) == before
    mnt.unmount()
    return before


@pytest.mark.parametrize("bsize,rev", GEOMETRIES)
def test_ext2_workload_fsck_clean_and_stable(tmp_path, bsize, rev):
    img = mkfs(str(tmp_path / "img"), "16M", bsize, rev)
    mnt, ctx = mount(img)
    workload(ctx, bsize)
    before = assert_remount_same(img, mnt, ctx)
    assert_clean(img)
    mnt, ctx = mount(img, readonly=True)
    assert snapshot(ctx) == before
    mnt.unmount()


def test_ext2_workload_seen_by_debugfs(tmp_path):
    bsize = 1024
    img = mkfs(str(tmp_path / "img"), "16M", bsize, 1)
    mnt, ctx = mount(img)
    workload(ctx, bsize)
    data = read(ctx, "/c/b-moved/big")
    mnt.unmount()
    f = istat(img, "/a/f")
    assert (f["type"], f["mode"], f["uid"], f["gid"], f["size"], f["links"]) == \
        ("regular", 0o4710, 1001, 2002, 23, 2)
    assert "mtime: 0x499602d2:00000014" in f["text"]        # 1234567890 s, 5 ns
    assert debugfs(img, "cat /c/hard1") == "first line\nsecond line\n"
    big = istat(img, "/c/b-moved/big")
    assert big["size"] == 20 * bsize
    assert data == (bytes(range(256)) * 200)[:13 * bsize + 17] + bytes(7 * bsize - 17)
    assert istat(img, "/a/shrink")["size"] == 5
    assert "Blockcount: 2" in istat(img, "/a/shrink")["text"]
    assert istat(img, "/c/victim")["size"] == len(b"replacement")
    assert istat(img, "/c/emptydir")["links"] == 2
    assert istat(img, "/c/b-moved")["links"] == 2          # x2 is the file now
    assert istat(img, "/x2")["type"] == "directory"
    assert istat(img, "/c")["links"] == 4                  # ., .., b-moved, emptydir
    assert istat(img, "/")["links"] == 7
    assert "Fast link dest: \"b/big\"" in istat(img, "/a/fast")["text"]
    slow = istat(img, "/a/slow")
    assert (slow["size"], slow["uid"], slow["gid"]) == (201, 70000, 80000)
    null = istat(img, "/tmp/null")["text"]
    assert "character special" in null and "Device major/minor number: 01:03" in null
    assert "Device major/minor number: 259:70000" in istat(img, "/tmp/bigdev")["text"]
    assert istat(img, "/tmp/fifo")["type"] == "FIFO"
    listed = {line.split()[-1] for line in debugfs(img, "ls -l /tmp").splitlines()
              if line.strip()}
    assert {"n1", "n2", "fifo", "null"} <= listed and "n0" not in listed
    assert_clean(img)


def test_ext2_rename_and_remove_rules(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M")
    mnt, ctx = mount(img)
    r = ctx.root
    V.kern_mkdirat(ctx, r, "/d", 0o755)
    write(ctx, "/d/f", b"x")
    assert err(V.kern_unlinkat, ctx, r, "/d", rmdir=True) == E.ENOTEMPTY
    assert err(V.kern_mkdirat, ctx, r, "/d", 0o755) == E.EEXIST
    assert err(V.kern_renameat2, ctx, r, "/d", r, "/d/f/x") == E.ENOTDIR
    V.kern_mkdirat(ctx, r, "/e", 0o755)
    assert err(V.kern_renameat2, ctx, r, "/e", r, "/d", F.RENAME_NOREPLACE) == E.EEXIST
    assert err(V.kern_renameat2, ctx, r, "/e", r, "/d") == E.ENOTEMPTY
    assert err(V.kern_linkat, ctx, r, "/d", r, "/dlink") == E.EPERM
    V.kern_renameat2(ctx, r, "/d/f", r, "/e/g")
    V.kern_unlinkat(ctx, r, "/d", rmdir=True)
    assert sorted(n for n, _i, _t in r.readdir()) == ["e", "lost+found"]
    assert V.kern_statat(ctx, r, "/").nlink == 4
    mnt.unmount()
    assert_clean(img)


def test_ext2_directory_with_10000_entries(tmp_path):
    img = mkfs(str(tmp_path / "img"), "64M", 1024, 1)
    mnt, ctx = mount(img)
    V.kern_mkdirat(ctx, ctx.root, "/many", 0o755)
    names = [f"entry-{i:05d}" + "y" * (i % 23) for i in range(10000)]
    for name in names:
        write(ctx, "/many/" + name, name.encode())
    for name in names[::3]:
        V.kern_unlinkat(ctx, ctx.root, "/many/" + name)
    for name in names[::3][:1000]:          # refill the holes the removals left
        write(ctx, "/many/" + name + ".again", b"")
    mnt.unmount()
    assert_clean(img)
    mnt, ctx = mount(img)
    want = set(names) - set(names[::3]) | {n + ".again" for n in names[::3][:1000]}
    got = V.kern_lookup(ctx, ctx.root, "/many")[0].readdir()
    assert {n for n, _i, _t in got} == want and len(got) == len(want)
    assert read(ctx, "/many/" + names[1]) == names[1].encode()
    mnt.unmount()
    listed = re.findall(r"(\d+)\s+\(\d+\)\s+(\S+)", debugfs(img, "ls /many"))
    assert {name for ino, name in listed if ino != "0"} == want | {".", ".."}


def test_ext2_directory_blocks_are_compacted(tmp_path):
    """Free space scattered over a block (no hole big enough) is gathered
    for a long name instead of growing the directory."""
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    V.kern_mkdirat(ctx, ctx.root, "/d", 0o755)
    names = [f"n{i:02d}-" + "p" * 15 for i in range(35)]        # 28-byte records
    for name in names:
        write(ctx, "/d/" + name, b"")
    assert V.kern_statat(ctx, ctx.root, "/d").size == 1024
    for name in names[1::2]:
        V.kern_unlinkat(ctx, ctx.root, "/d/" + name)
    write(ctx, "/d/" + "L" * 200, b"long")
    assert V.kern_statat(ctx, ctx.root, "/d").size == 1024
    mnt.unmount()
    assert_clean(img)
    mnt, ctx = mount(img)
    got = {n for n, _i, _t in V.kern_lookup(ctx, ctx.root, "/d")[0].readdir()}
    assert got == set(names[::2]) | {"L" * 200}
    assert read(ctx, "/d/" + "L" * 200) == b"long"
    mnt.unmount()


def test_ext2_removed_directory_takes_no_names(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    V.kern_mkdirat(ctx, ctx.root, "/gone", 0o755)
    write(ctx, "/f", b"")
    gone = V.kern_lookup(ctx, ctx.root, "/gone")[0]
    V.kern_unlinkat(ctx, ctx.root, "/gone", rmdir=True)
    assert err(V.kern_mkdirat, ctx, gone, "x", 0o755) == E.ENOENT
    assert err(V.kern_renameat2, ctx, ctx.root, "/f", gone, "f") == E.ENOENT
    assert gone.getattr().nlink == 0 and gone.readdir() == []
    del gone
    mnt.unmount()
    assert_clean(img)


def _pattern(i):
    return hashlib.sha256(b"%d" % i).digest() * (1 << 15)        # 1 MiB


def test_ext2_100_mib_file(tmp_path):
    img = mkfs(str(tmp_path / "img"), "160M", 4096, 1)
    mnt, ctx = mount(img)
    fp = write(ctx, "/big", b"")
    for i in range(100):
        assert fp.ops.write(None, fp, _pattern(i)) == 1 << 20
    fp.ops.fsync(None, fp)
    del fp
    mnt.unmount()
    assert_clean(img)
    st = istat(img, "/big")
    assert st["size"] == 100 << 20
    mnt, ctx = mount(img, readonly=True)
    for i in (0, 1, 57, 99):
        assert read(ctx, "/big", i << 20, 1 << 20) == _pattern(i)
    assert read(ctx, "/big", (3 << 20) - 5, 10) == _pattern(2)[-5:] + _pattern(3)[:5]
    mnt.unmount()


@pytest.mark.parametrize("bsize,rev", [(1024, 1), (4096, 1), (4096, 0)])
def test_ext2_sparse_file_beyond_2_gib(tmp_path, bsize, rev):
    img = mkfs(str(tmp_path / "img"), "16M", bsize, rev)
    mnt, ctx = mount(img)
    write(ctx, "/sparse", b"head")
    write(ctx, "/sparse", b"tail", flags=F.O_WRONLY, off=(3 << 30) + 12345)
    assert read(ctx, "/sparse", 0, 8) == b"head\0\0\0\0"
    assert read(ctx, "/sparse", (3 << 30) + 12340, 100) == bytes(5) + b"tail"
    assert read(ctx, "/sparse", 2 << 30, 4096) == bytes(4096)
    va = V.kern_statat(ctx, ctx.root, "/sparse")
    assert va.size == (3 << 30) + 12349 and va.blocks < 64
    mnt.unmount()
    assert_clean(img)
    sb = superblock(img)
    assert "large_file" in sb["Filesystem features"]
    assert sb["Filesystem revision #"].startswith("1")
    assert istat(img, "/sparse")["size"] == (3 << 30) + 12349
    mnt, ctx = mount(img)
    V.kern_truncate(ctx, ctx.root, "/sparse", 5 << 20)
    mnt.unmount()
    assert_clean(img)
    assert istat(img, "/sparse")["size"] == 5 << 20


def test_ext2_file_size_limit(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    limit = mnt.max_size
    assert 16 << 30 < limit < 17 << 30          # what i_block maps with 1 KiB blocks
    fp = write(ctx, "/f", b"")
    assert err(fp.ops.pwrite, None, fp, b"x", limit) == E.EFBIG
    assert fp.ops.pwrite(None, fp, b"abc", limit - 1) == 1
    assert err(V.kern_truncate, ctx, ctx.root, "/f", limit + 1) == E.EFBIG
    del fp
    mnt.unmount()
    assert_clean(img)


@pytest.mark.parametrize("opts", [("-O", "meta_bg,^resize_inode"), ("-O", "flex_bg"),
                                  ("-O", "^filetype,^dir_index,^sparse_super,^resize_inode"),
                                  ("-I", "128"), ("-O", "has_journal")])
def test_ext2_feature_variants(tmp_path, opts):
    img = mkfs(str(tmp_path / "img"), "40M", 1024, 1, opts=opts)
    mnt, ctx = mount(img)
    workload(ctx, 1024)
    write(ctx, "/spread", b"q" * (12 << 20))     # crosses several groups
    assert_remount_same(img, mnt, ctx)


@pytest.mark.parametrize("bsize", [8192, 65536])
def test_ext2_larger_block_sizes(tmp_path, bsize):
    """Beyond 4 KiB too (65536-byte directory records are stored as 0xFFFF)."""
    img = mkfs(str(tmp_path / "img"), "128M", bsize, 1, opts=("-N", "4096"))
    mnt, ctx = mount(img)
    workload(ctx, bsize)
    assert_remount_same(img, mnt, ctx)


def test_ext2_enospc_and_recovery(tmp_path):
    img = mkfs(str(tmp_path / "img"), "2M", 1024, 1)
    mnt, ctx = mount(img)
    fp = write(ctx, "/fill", b"")
    total = 0
    with pytest.raises(KernelError) as exc:
        while True:
            total += fp.ops.write(None, fp, b"f" * 100_000)
    assert exc.value.errno == E.ENOSPC
    del exc                         # its traceback holds the file's vnode
    assert V.kern_statat(ctx, ctx.root, "/fill").size == total > 1 << 20
    assert V.kern_statfs(ctx, ctx.root, "/")["f_bfree"] == 0
    assert err(V.kern_mkdirat, ctx, ctx.root, "/nospace", 0o755) == E.ENOSPC
    del fp
    V.kern_unlinkat(ctx, ctx.root, "/fill")
    V.kern_mkdirat(ctx, ctx.root, "/space", 0o755)
    mnt.unmount()
    assert_clean(img)


def test_ext2_inodes_run_out(tmp_path):
    img = mkfs(str(tmp_path / "img"), "1M", 1024, 1, opts=("-N", "32"))
    mnt, ctx = mount(img)
    n = 0
    with pytest.raises(KernelError) as exc:
        while True:
            write(ctx, f"/f{n}", b"")
            n += 1
    assert exc.value.errno == E.ENOSPC and n > 10
    assert V.kern_statfs(ctx, ctx.root, "/")["f_ffree"] == 0
    mnt.unmount()
    assert_clean(img)


def test_ext2_unlinked_open_file_freed_on_last_close(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    free0 = V.kern_statfs(ctx, ctx.root, "/")
    fp = write(ctx, "/tmpfile", b"t" * 500_000)
    V.kern_unlinkat(ctx, ctx.root, "/tmpfile")
    assert fp.ops.stat(None, fp)["st_nlink"] == 0
    assert fp.ops.write(None, fp, b"more") == 4
    assert fp.ops.pread(None, fp, 4, 500_000) == b"more"
    assert V.kern_statfs(ctx, ctx.root, "/")["f_bfree"] < free0["f_bfree"] - 400
    del fp
    after = V.kern_statfs(ctx, ctx.root, "/")
    assert (after["f_bfree"], after["f_ffree"]) == (free0["f_bfree"], free0["f_ffree"])
    mnt.unmount()
    assert_clean(img)


def test_ext2_open_unlinked_file_freed_at_unmount(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    fp = write(ctx, "/held", b"h" * 100_000)
    V.kern_unlinkat(ctx, ctx.root, "/held")
    mnt.unmount()
    assert_clean(img)
    assert fp is not None


def test_ext2_superblock_state_and_counts(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    assert superblock(img)["Filesystem state"] == "clean"
    mnt, ctx = mount(img)
    sb = superblock(img)
    assert sb["Filesystem state"] == "not clean"
    assert sb["Mount count"] == "1" and sb["Last mount time"] != "n/a"
    write(ctx, "/f", b"data")
    mnt.unmount()
    sb = superblock(img)
    assert sb["Filesystem state"] == "clean" and sb["Mount count"] == "1"
    mnt, ctx = mount(img)
    mnt.unmount()
    assert superblock(img)["Mount count"] == "2"
    mnt, ctx = mount(img, readonly=True)
    mnt.unmount()
    assert superblock(img)["Mount count"] == "2"


def test_ext2_crash_leaves_image_not_clean_but_synced_data_intact(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    fp = write(ctx, "/durable", b"fsynced data")
    fp.ops.fsync(None, fp)
    write(ctx, "/later", b"never synced")
    mnt.disk.close()                # the vkernel dies: nothing more reaches the image
    assert superblock(img)["Filesystem state"] == "not clean"
    assert debugfs(img, "cat /durable") == "fsynced data"
    mnt2, ctx2 = mount(img)         # mountable again (with a warning), and writable
    assert read(ctx2, "/durable") == b"fsynced data"
    mnt2.unmount()
    assert superblock(img)["Filesystem state"] == "not clean"


def test_ext2_sync_writes_everything_back(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    V.kern_mkdirat(ctx, ctx.root, "/dir", 0o750)
    write(ctx, "/dir/file", b"synced")
    assert mnt.bio.dirty_count() > 0
    mnt.sync()
    assert mnt.bio.dirty_count() == 0
    assert debugfs(img, "cat /dir/file") == "synced"
    assert superblock(img)["Free inodes"] == str(mnt.free_inodes)
    mnt.unmount()


def test_ext2_dirty_data_is_bounded(tmp_path):
    img = mkfs(str(tmp_path / "img"), "32M", 1024, 1)
    mnt, ctx = mount(img)
    mnt.bio.max_dirty = 64
    for i in range(400):
        write(ctx, f"/f{i}", b"x" * 100)          # partial blocks: delayed writes
        assert mnt.bio.dirty_count() <= 64
    assert mnt.bio.stats["pressure"] > 0
    mnt.unmount()
    assert_clean(img)


def test_ext2_copy_on_write_mount_leaves_image_alone(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    digest = md5_file(img)
    mnt, ctx = mount(img, cow=True)
    workload(ctx, 1024)
    assert read(ctx, "/c/victim") == b"replacement"
    mnt.sync()
    mnt.unmount()
    assert md5_file(img) == digest


def test_ext2_readonly_mount_writes_nothing(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    digest = md5_file(img)
    mnt, ctx = mount(img, readonly=True)
    snapshot(ctx)
    assert err(write, ctx, "/new", b"") == E.EROFS
    mnt.sync()
    mnt.unmount()
    assert md5_file(img) == digest


def test_ext2_image_in_use_is_refused(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, _ctx = mount(img)
    with pytest.raises(KernelError) as exc:
        mount(img)
    assert exc.value.errno == E.EBUSY and "already in use" in str(exc.value)
    mnt.unmount()
    mount(img)[0].unmount()


def test_ext2_times(tmp_path):
    for isize, nsec in (("256", 123_456_789), ("128", 0)):
        img = mkfs(str(tmp_path / f"img{isize}"), "8M", 1024, 1, opts=("-I", isize))
        mnt, ctx = mount(img)
        write(ctx, "/f", b"x")
        V.kern_utimens(ctx, ctx.root, "/f", (5, 123_456_789), (2_000_000_000, 123_456_789))
        va = V.kern_statat(ctx, ctx.root, "/f")
        assert va.atime == (5, nsec) and va.mtime == (2_000_000_000, nsec)
        mnt.unmount()
        mnt, ctx = mount(img)
        va2 = V.kern_statat(ctx, ctx.root, "/f")
        assert (va2.atime, va2.mtime, va2.ctime) == (va.atime, va.mtime, va.ctime)
        mnt.unmount()
        assert_clean(img)


def test_ext2_types_in_readdir(tmp_path):
    img = mkfs(str(tmp_path / "img"), "8M", 1024, 1)
    mnt, ctx = mount(img)
    workload(ctx, 1024)
    types = {n: t for n, _i, t in V.kern_lookup(ctx, ctx.root, "/tmp")[0].readdir()}
    assert types["fifo"] == S.DT_FIFO and types["null"] == S.DT_CHR
    assert V.kern_statat(ctx, ctx.root, "/tmp/null").type == VCHR
    assert V.kern_statat(ctx, ctx.root, "/tmp/fifo").type == VFIFO
    assert V.kern_statat(ctx, ctx.root, "/c").type == VDIR
    assert V.kern_statat(ctx, ctx.root, "/tmp/null").rdev == S.makedev(1, 3)
    mnt.unmount()
