"""ext2 on corrupt, hostile and unsupported images: clean errors only.

A bad superblock or descriptor table is a mount error (EINVAL or EUCLEAN)
with a kernel log line; bad metadata met later is EIO to the caller and an
"EXT2-fs error" line; unsupported features refuse the mount or mount
read-only, naming the feature.  Never a Python exception, never an access
outside the image.  The images are damaged by rewriting fields with the
driver's own struct layouts.
"""
import gc
import os
import random
import struct
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import istat, mkfs  # noqa: E402
from test_ext2_helpers import mount, read, write  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.fs.ext2 import ext2_disklayout as D  # noqa: E402
from vkernel.fs.ext2 import ext2_mount  # noqa: E402
from vkernel.kernel import msgbuf  # noqa: E402
from vkernel.kernel.errors import KernelError  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402


# -- damaging images ------------------------------------------------------------------
class Image:
    """Field-level access to an image file for breaking it on purpose."""

    def __init__(self, path):
        self.path = path
        self.sb = D.Superblock.unpack(self._read(1024, 1024))
        self.bsize = 1024 << self.sb.s_log_block_size
        self.isize = self.sb.s_inode_size if self.sb.s_rev_level else 128

    def _read(self, off, n):
        with open(self.path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def _write(self, off, data):
        with open(self.path, "r+b") as f:
            f.seek(off)
            f.write(data)

    def set_super(self, **fields):
        raw = bytearray(self._read(1024, 1024))
        for k, v in fields.items():
            setattr(self.sb, k, v)
        self.sb.pack_into(raw)
        self._write(1024, raw)

    def _gd_off(self, g):
        return (self.sb.s_first_data_block + 1) * self.bsize + g * D.GROUP_DESC_SIZE

    def group(self, g):
        return D.GroupDesc.unpack(self._read(self._gd_off(g), D.GROUP_DESC_SIZE))

    def set_group(self, g, **fields):
        gd = self.group(g)
        raw = bytearray(D.GROUP_DESC_SIZE)
        for k, v in fields.items():
            setattr(gd, k, v)
        gd.pack_into(raw)
        self._write(self._gd_off(g), raw)

    def _inode_off(self, ino):
        g, i = divmod(ino - 1, self.sb.s_inodes_per_group)
        return self.group(g).bg_inode_table * self.bsize + i * self.isize

    def inode(self, ino):
        r = D.RawInode.unpack(self._read(self._inode_off(ino), 128))
        r.i_block = list(D.I_BLOCK_STRUCT.unpack(r.i_block))
        return r

    def set_inode(self, ino, **fields):
        r = self.inode(ino)
        for k, v in fields.items():
            setattr(r, k, v)
        r.i_block = D.I_BLOCK_STRUCT.pack(*r.i_block)
        raw = bytearray(128)
        r.pack_into(raw)
        self._write(self._inode_off(ino), raw)

    def set_word(self, block, index, value):
        self._write(block * self.bsize + 4 * index, struct.pack("<I", value))

    def block(self, n):
        return bytearray(self._read(n * self.bsize, self.bsize))

    def set_block(self, n, data):
        self._write(n * self.bsize, data)


def ino_of(img, path):
    return istat(img, path)["ino"]


def dir_block(img, path):
    """(Image, number and contents of the first block of directory `path`)."""
    im = Image(img)
    blk = im.inode(ino_of(img, path)).i_block[0]
    return im, blk, im.block(blk)


def logged(since):
    return msgbuf.contents()[since:]


def mount_errno(img, **kw):
    mark = len(msgbuf.contents())
    with pytest.raises(KernelError) as exc:
        ext2_mount(img, **kw)
    return exc.value.errno, logged(mark)


def eio(fn, *args):
    """fn(*args) fails with EIO; the log lines it wrote."""
    mark = len(msgbuf.contents())
    with pytest.raises(KernelError) as exc:
        fn(*args)
    assert exc.value.errno == E.EIO, exc.value
    return logged(mark)


def stat_eio(img, path):
    """Mount img: stat of `path` fails with EIO; unmount.  The log lines."""
    mnt, ctx = mount(img)
    log = eio(V.kern_statat, ctx, ctx.root, path)
    mnt.unmount()
    return log


@pytest.fixture
def img(tmp_path):
    """A small 1 KiB-block image with a few files and directories."""
    path = mkfs(str(tmp_path / "img"), "4M", 1024, 1)
    mnt, ctx = mount(path)
    for d in ("/a", "/a/b"):
        V.kern_mkdirat(ctx, ctx.root, d, 0o755)
    write(ctx, "/a/file", bytes(range(256)) * 200)
    write(ctx, "/small", b"small")
    mnt.unmount()
    return path


# -- mount-time checks ------------------------------------------------------------------
BAD_SUPERS = [
    dict(s_magic=0x1234), dict(s_log_block_size=9), dict(s_rev_level=7),
    dict(s_blocks_count=1 << 30), dict(s_inodes_count=12345),
    dict(s_blocks_per_group=0), dict(s_blocks_per_group=1 << 20),
    dict(s_inodes_per_group=0), dict(s_first_data_block=0), dict(s_inode_size=100),
    dict(s_inode_size=2048), dict(s_first_ino=3), dict(s_log_frag_size=2),
    dict(s_reserved_gdt_blocks=60000),
]


@pytest.mark.parametrize("fields", BAD_SUPERS, ids=lambda f: ",".join(f))
def test_ext2_bad_superblock_is_a_mount_error(img, fields):
    Image(img).set_super(**fields)
    errno, log = mount_errno(img)
    assert errno == E.EINVAL and "EXT2-fs" in log


@pytest.mark.parametrize("fields", [dict(bg_inode_table=4000), dict(bg_block_bitmap=1),
                                    dict(bg_inode_bitmap=99999),
                                    dict(bg_free_blocks_count=9000),
                                    dict(bg_free_inodes_count=60000)])
def test_ext2_bad_group_descriptor_is_a_mount_error(img, fields):
    Image(img).set_group(0, **fields)
    errno, log = mount_errno(img)
    assert errno == E.EINVAL and "group descriptors corrupted" in log


def test_ext2_truncated_image_is_a_mount_error(img):
    os.truncate(img, 3 << 20)
    errno, log = mount_errno(img)
    assert errno == E.EINVAL and "exceeds size of device" in log
    os.truncate(img, 1500)
    assert mount_errno(img)[0] == E.EINVAL


def test_ext2_bad_root_inode(img):
    Image(img).set_inode(2, i_mode=0o100644)
    errno, log = mount_errno(img)
    assert errno == E.EUCLEAN and "corrupt root inode" in log


def test_ext2_unsupported_features(tmp_path):
    ext4 = mkfs(str(tmp_path / "ext4"), "8M", 4096, 1, opts=("-T", "default", "-O",
                                                             "extent,64bit"))
    errno, log = mount_errno(ext4)
    assert errno == E.EINVAL and "extent" in log and "64bit" in log
    jnl = mkfs(str(tmp_path / "jnl"), "8M", 1024, 1, opts=("-O", "has_journal"))
    Image(jnl).set_super(s_feature_incompat=Image(jnl).sb.s_feature_incompat
                         | D.INCOMPAT_RECOVER)
    errno, log = mount_errno(jnl)
    assert errno == E.EINVAL and "needs_recovery" in log


@pytest.mark.parametrize("feature", ["metadata_csum", "huge_file"])
def test_ext2_ro_compat_features_mount_read_only(tmp_path, feature):
    path = mkfs(str(tmp_path / "img"), "8M", 1024, 1, opts=("-O", feature))
    mark = len(msgbuf.contents())
    mnt, ctx = mount(path)
    assert mnt.readonly and feature in logged(mark) and "read-only" in logged(mark)
    with pytest.raises(KernelError) as exc:
        V.kern_mkdirat(ctx, ctx.root, "/x", 0o755)
    assert exc.value.errno == E.EROFS
    assert V.kern_statat(ctx, ctx.root, "/lost+found").nlink == 2
    mnt.unmount()
    assert subprocess.run(["e2fsck", "-fn", path], capture_output=True).returncode == 0


# -- damage met while running -------------------------------------------------------------
def test_ext2_bad_directory_entries_give_eio(img):
    im = Image(img)
    blk = im.inode(ino_of(img, "/a")).i_block[0]
    for rec_len in (0, 3, 6, 2000, 14):
        data = im.block(blk)
        struct.pack_into("<H", data, 12 + 4, rec_len)       # '..' entry
        im.set_block(blk, data)
        mnt, ctx = mount(img)
        assert "bad entry in directory" in eio(V.kern_statat, ctx, ctx.root, "/a/file")
        assert read(ctx, "/small") == b"small"
        mnt.unmount()


def test_ext2_entry_inode_out_of_range(img):
    im, blk, data = dir_block(img, "/a")
    off = 12 + 12                                   # after '.' and '..' (min rec_len)
    struct.pack_into("<I", data, off, 10_000_000)
    im.set_block(blk, data)
    assert "inode out of bounds" in stat_eio(img, "/a/b")


def test_ext2_entry_naming_a_reserved_or_free_inode(img):
    im, blk, data = dir_block(img, "/a")
    struct.pack_into("<I", data, 24, 5)             # a reserved inode
    im.set_block(blk, data)
    assert "bad inode number" in stat_eio(img, "/a/b")
    struct.pack_into("<I", data, 24, 200)           # never allocated
    im.set_block(blk, data)
    assert "deleted inode" in stat_eio(img, "/a/b")


def test_ext2_directory_loops_are_refused(img):
    im, blk, data = dir_block(img, "/a/b")
    dot = D.rec_len_of(1)
    rest = 1024 - dot - D.rec_len_of(2)
    struct.pack_into("<IHBB5s", data, dot + D.rec_len_of(2), ino_of(img, "/a"), rest, 5,
                     2, b"loop!")                   # /a/b/loop! -> /a
    struct.pack_into("<H", data, dot + 4, D.rec_len_of(2))
    im.set_block(blk, data)
    assert "loop" in stat_eio(img, "/a/b/loop!/b")


def test_ext2_block_pointers_out_of_range(img):
    im = Image(img)
    ino = ino_of(img, "/a/file")
    blocks = im.inode(ino).i_block
    blocks[3] = 4 << 20                             # beyond the filesystem
    im.set_inode(ino, i_block=blocks)
    mnt, ctx = mount(img)
    assert "beyond the end" in eio(read, ctx, "/a/file")
    mnt.unmount()
    blocks[3] = im.group(0).bg_inode_table + 1      # into the inode table
    im.set_inode(ino, i_block=blocks)
    mnt, ctx = mount(img)
    assert "metadata" in eio(read, ctx, "/a/file")
    V.kern_unlinkat(ctx, ctx.root, "/a/file")        # freeing skips the bad block
    mnt.unmount()
    assert im.group(0).bg_inode_table == Image(img).group(0).bg_inode_table


def test_ext2_cyclic_indirect_blocks(img):
    im = Image(img)
    ino = ino_of(img, "/a/file")
    blocks = im.inode(ino).i_block
    ind = blocks[12]
    blocks[13] = ind                                # double-indirect -> the indirect block
    im.set_inode(ino, i_block=blocks, i_size=300 * 1024)
    im.set_word(ind, 0, ind)                        # which points at itself
    mnt, ctx = mount(img)
    log = eio(read, ctx, "/a/file", 270 * 1024, 10)
    assert "bad indirect block" in log
    mark = len(msgbuf.contents())
    V.kern_unlinkat(ctx, ctx.root, "/a/file")
    gc.collect()                                    # eio()'s traceback held the vnode
    V.kern_statfs(ctx, ctx.root, "/")               # the inode is freed: no loop
    assert "seen twice" in logged(mark) or "already cleared" in logged(mark)
    mnt.unmount()


def test_ext2_wrong_free_counts(img):
    im = Image(img)
    gd = im.group(0)
    bitmap = im.block(gd.bg_block_bitmap)
    im.set_block(gd.bg_block_bitmap, b"\xff" * len(bitmap))     # claims all used
    mnt, ctx = mount(img)
    mark = len(msgbuf.contents())
    with pytest.raises(KernelError) as exc:
        write(ctx, "/new", b"x" * 5000)
    assert exc.value.errno == E.ENOSPC and "full block bitmap" in logged(mark)
    mnt.unmount()
    assert "clean with errors" in subprocess.run(["dumpe2fs", "-h", img],
                                                     capture_output=True, text=True).stdout


def test_ext2_errors_remount_read_only(img):
    im = Image(img)
    im.set_super(s_errors=D.ERRORS_RO)
    ino = ino_of(img, "/small")
    blocks = im.inode(ino).i_block
    blocks[0] = 4 << 20
    im.set_inode(ino, i_block=blocks)
    mnt, ctx = mount(img)
    log = eio(read, ctx, "/small")
    assert "remounting filesystem read-only" in log and mnt.readonly
    mnt.unmount()
    assert "with errors" in subprocess.run(["dumpe2fs", "-h", img], capture_output=True,
                                           text=True).stdout


# -- fuzzing -----------------------------------------------------------------------------------
def _exercise(ctx):
    """Touch everything reachable and change a few things; KernelError is fine."""
    todo, seen = ["/"], 0
    while todo and seen < 200:
        d = todo.pop()
        try:
            names = [n for n, _i, _t in V.kern_lookup(ctx, ctx.root, d)[0].readdir()]
        except KernelError:
            continue
        for name in names[:30]:
            seen += 1
            path = d.rstrip("/") + "/" + name
            for op in (lambda: V.kern_statat(ctx, ctx.root, path, follow=False),
                       lambda: read(ctx, path, 0, 1 << 16),
                       lambda: V.kern_readlinkat(ctx, ctx.root, path),
                       lambda: todo.append(path) if V.kern_statat(
                           ctx, ctx.root, path, follow=False).type == 2 else None):
                try:
                    op()
                except KernelError:
                    pass
    for op in (lambda: write(ctx, "/fuzz-new", b"n" * 3000),
               lambda: V.kern_mkdirat(ctx, ctx.root, "/a/fuzzdir", 0o755),
               lambda: V.kern_renameat2(ctx, ctx.root, "/small", ctx.root, "/a/b/s"),
               lambda: V.kern_unlinkat(ctx, ctx.root, "/a/file"),
               lambda: V.kern_unlinkat(ctx, ctx.root, "/a/b", rmdir=True),
               lambda: V.kern_truncate(ctx, ctx.root, "/a/file", 10)):
        try:
            op()
        except KernelError:
            pass


@pytest.mark.parametrize("seed", range(40))
def test_ext2_fuzzed_metadata_never_crashes(img, seed):
    """Random bytes of the metadata blocks flipped: only KernelErrors, and
    the image file never grows (nothing written outside it)."""
    rnd = random.Random(seed)
    im = Image(img)
    gd = im.group(0)
    targets = [1, 2, gd.bg_block_bitmap, gd.bg_inode_bitmap, gd.bg_inode_table,
               gd.bg_inode_table + 1, gd.bg_inode_table + 2,
               im.inode(2).i_block[0], im.inode(ino_of(img, "/a")).i_block[0],
               im.inode(ino_of(img, "/a/file")).i_block[12]]
    for _ in range(rnd.choice((1, 4, 16, 64))):
        blk = rnd.choice(targets)
        data = im.block(blk)
        data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        im.set_block(blk, data)
    size = os.path.getsize(img)
    try:
        mnt, ctx = mount(img)
    except KernelError:
        return
    _exercise(ctx)
    mnt.unmount()
    assert os.path.getsize(img) == size
