"""ext2 superblock and group descriptor checks: what a mount must refuse.

FreeBSD counterpart: ext2_compute_sb_data and ext2_check_sb_compat in
sys/fs/ext2fs/ext2_vfsops.c; Linux's are the checks of ext2_fill_super and
ext2_check_descriptors in fs/ext2/super.c (and ext4's stricter geometry
checks, which a hostile image makes worth having).

Nothing here reads the device: check_super() takes the superblock (record
and raw bytes) and the device size and returns the derived geometry,
check_descriptors() looks at the descriptors a mount has read.  A value
out of range raises MountError naming it; the mount turns that into EINVAL
and a log line.
"""
import struct

from . import ext2_disklayout as D

_EXTRA_ISIZES = struct.Struct("<HH")    # s_min_extra_isize, s_want_extra_isize
_EXTRA_ISIZES_OFF = 0x15C


class MountError(Exception):
    """Why a superblock or descriptor table cannot be mounted."""


def _ceil_div(a, b):
    return -(-a // b)


def check_super(sb, raw, devsize):
    """Check the superblock's geometry; the derived values by name."""
    if sb.s_magic != D.EXT2_SUPER_MAGIC:
        raise MountError(f"can't find an ext2 filesystem (magic 0x{sb.s_magic:04x})")
    if sb.s_rev_level > D.DYNAMIC_REV:
        raise MountError(f"revision level too high ({sb.s_rev_level}), "
                         "forcing read-only mode is not possible")
    if not 0 <= sb.s_log_block_size <= D.MAX_BLOCK_LOG - D.MIN_BLOCK_LOG:
        raise MountError(f"unsupported blocksize (log {sb.s_log_block_size})")
    bsize = 1024 << sb.s_log_block_size
    if sb.s_log_frag_size != sb.s_log_block_size:
        raise MountError(f"fragsize {1024 << min(sb.s_log_frag_size, 20)} != "
                         f"blocksize {bsize} (not supported)")
    isize, first_ino = _inode_geometry(sb, bsize)
    geo = _group_geometry(sb, bsize, isize, devsize)
    if not first_ino <= sb.s_inodes_count:
        raise MountError(f"first inode {first_ino} beyond the inode count")
    geo.update(bsize=bsize, isize=isize, first_ino=first_ino,
               want_extra_isize=_want_extra_isize(sb, raw, isize))
    return geo


def _inode_geometry(sb, bsize):
    if sb.s_rev_level == D.GOOD_OLD_REV:
        return D.GOOD_OLD_INODE_SIZE, D.GOOD_OLD_FIRST_INO
    isize = sb.s_inode_size
    if isize < D.GOOD_OLD_INODE_SIZE or isize > bsize or isize & (isize - 1):
        raise MountError(f"unsupported inode size: {isize}")
    if sb.s_first_ino < D.GOOD_OLD_FIRST_INO:
        raise MountError(f"bad first inode number {sb.s_first_ino}")
    return isize, sb.s_first_ino


def _group_geometry(sb, bsize, isize, devsize):
    bpg, ipg, nblocks = sb.s_blocks_per_group, sb.s_inodes_per_group, sb.s_blocks_count
    fdb = 1 if bsize == 1024 else 0
    if sb.s_first_data_block != fdb:
        raise MountError(f"bad first data block {sb.s_first_data_block}")
    if not 8 <= bpg <= 8 * bsize or sb.s_frags_per_group != bpg:
        raise MountError(f"#blocks per group too big or too small: {bpg}")
    if not bsize // isize <= ipg <= 8 * bsize:
        raise MountError(f"#inodes per group too big or too small: {ipg}")
    if nblocks <= fdb + 1:
        raise MountError(f"block count {nblocks} too small")
    if nblocks * bsize > devsize:
        raise MountError(f"bad geometry: block count {nblocks} exceeds size of device "
                         f"({devsize // bsize} blocks)")
    ngroups = _ceil_div(nblocks - fdb, bpg)
    if ngroups * ipg != sb.s_inodes_count:
        raise MountError(f"inodes count not valid: {sb.s_inodes_count} vs computed "
                         f"{ngroups * ipg}")
    dpb = bsize // D.GROUP_DESC_SIZE
    gdb = _ceil_div(ngroups, dpb)
    meta_bg = sb.s_rev_level and sb.s_feature_incompat & D.INCOMPAT_META_BG
    if sb.s_reserved_gdt_blocks > bsize // 4:
        raise MountError(f"number of reserved GDT blocks insanely large: "
                         f"{sb.s_reserved_gdt_blocks}")
    first_gdb = min(gdb, sb.s_first_meta_bg) if meta_bg else gdb
    if meta_bg and sb.s_first_meta_bg > gdb:
        raise MountError(f"first meta block group {sb.s_first_meta_bg} too large")
    if 1 + first_gdb + sb.s_reserved_gdt_blocks >= min(bpg, nblocks - fdb):
        raise MountError("group descriptors do not fit in the first group")
    return dict(nblocks=nblocks, ninodes=sb.s_inodes_count, fdb=fdb, bpg=bpg, ipg=ipg,
                ngroups=ngroups, dpb=dpb, gdb=gdb, meta_bg=bool(meta_bg),
                itb=_ceil_div(ipg * isize, bsize))


def _want_extra_isize(sb, raw, isize):
    """The i_extra_isize new inodes get: the superblock's wish, else mke2fs's 32."""
    if isize <= D.GOOD_OLD_INODE_SIZE:
        return 0
    _min, want = _EXTRA_ISIZES.unpack_from(raw, _EXTRA_ISIZES_OFF)
    if not want or want % 4 or D.GOOD_OLD_INODE_SIZE + want > isize:
        want = D.DEFAULT_EXTRA_ISIZE
    return min(want, isize - D.GOOD_OLD_INODE_SIZE)


def feature_check(sb):
    """MountError for an incompatible feature we lack; else why the mount must
    be read-only (an unknown read-only-compatible feature), or None."""
    if sb.s_rev_level == D.GOOD_OLD_REV:
        return None             # revision 0 has no feature words
    incompat = sb.s_feature_incompat
    if incompat & D.INCOMPAT_RECOVER:
        raise MountError("filesystem needs recovery (has_journal, needs_recovery): "
                         "the journal must be replayed by e2fsck or ext3/ext4")
    bad = incompat & ~D.INCOMPAT_SUPP
    if bad:
        raise MountError("couldn't mount because of unsupported optional features ("
                         + D.feature_names("incompat", bad) + ")")
    if sb.s_feature_compat & D.COMPAT_SPARSE_SUPER2:
        raise MountError("couldn't mount because of unsupported optional features "
                         "(sparse_super2)")
    ro = sb.s_feature_ro_compat & ~D.RO_COMPAT_SUPP
    if ro:
        return "unsupported optional features (" + D.feature_names("ro_compat", ro) + ")"
    return None


def check_descriptors(fs):
    """ext2_check_descriptors: bitmaps and inode table inside their group
    (anywhere in the filesystem with flex_bg), counts within bounds."""
    flex = fs.sb.s_rev_level and fs.sb.s_feature_incompat & D.INCOMPAT_FLEX_BG
    for g, gd in enumerate(fs.groups):
        first = fs.group_first_block(g)
        lo, hi = (fs.fdb, fs.nblocks) if flex else (first, first + fs.group_nblocks(g))
        for what, start, n in (("block bitmap", gd.bg_block_bitmap, 1),
                               ("inode bitmap", gd.bg_inode_bitmap, 1),
                               ("inode table", gd.bg_inode_table, fs.itb)):
            if not (lo <= start and start + n <= hi):
                raise MountError(f"group descriptors corrupted: {what} for group {g} "
                                 f"not in group (block {start})")
        if gd.bg_free_blocks_count > fs.group_nblocks(g) or \
                gd.bg_free_inodes_count > fs.ipg or gd.bg_used_dirs_count > fs.ipg:
            raise MountError(f"group descriptors corrupted: counts of group {g} "
                             "out of range")
    _check_disjoint(fs.meta_ranges())


def _check_disjoint(ranges):
    """No two metadata areas (superblock and descriptor copies, bitmaps,
    inode tables) may share a block."""
    ranges = sorted(r for r in ranges if r[1] > r[0])
    for (s0, e0, what0), (s1, _e1, what1) in zip(ranges, ranges[1:]):
        if s1 < e0:
            raise MountError(f"group descriptors corrupted: {what1} at block {s1} "
                             f"overlaps {what0}")
