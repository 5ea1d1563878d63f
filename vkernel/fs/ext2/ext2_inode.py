"""ext2 in-core inodes: reading, checking and writing back on-disk inodes.

FreeBSD counterpart: sys/fs/ext2fs/inode.h (struct inode), ext2_inode_cnv.c
(ext2_ei2i / ext2_i2ei) and the ext2_update part of ext2_inode.c; Linux's
are ext2_iget and ext2_write_inode in fs/ext2/inode.c.

An Inode holds the fields the driver interprets as Python values and the
RawInode record it came from, so fields it does not interpret (osd1, the
fragment address, ext4 checksums) go back to disk unchanged.  Writing back
(iupdate) packs into the inode table block in the buffer cache and marks it
dirty: cheap, so every change is written back at once.
"""
import time

from . import ext2_disklayout as D

_I32 = 1 << 32


def _s32(v):
    return v - _I32 if v & 0x80000000 else v


def now():
    """The current time as (sec, nsec)."""
    return divmod(time.time_ns(), 1_000_000_000)


def _decode_time(lo, extra):
    sec = _s32(lo)
    if extra is None:
        return (sec, 0)
    return (sec + ((extra & 3) << 32), (extra >> 2) % 1_000_000_000)


def _encode_time(ts):
    """(on-disk seconds, extra word) of a (sec, nsec) time."""
    sec, nsec = ts
    if 0 <= sec < 0x80000000:
        return sec, nsec << 2
    sec = max(-(1 << 31), min(sec, (1 << 34) - (1 << 31) - 1))
    lo = sec & 0xFFFFFFFF
    epoch = ((sec - _s32(lo)) >> 32) & 3
    return lo, (nsec << 2) | epoch


class Inode:
    """The in-core copy of one inode (struct inode)."""

    __slots__ = ("ino", "raw", "mode", "uid", "gid", "size", "nlink", "blocks",
                 "flags", "i_block", "atime", "mtime", "ctime", "crtime", "dtime",
                 "file_acl", "extra_isize", "blkno", "offset", "alloc_hint")

    def __init__(self, ino, raw, blkno, offset):
        self.ino, self.raw, self.blkno, self.offset = ino, raw, blkno, offset
        self.alloc_hint = None      # (file block, disk block) last allocated

    @property
    def ifmt(self):
        return self.mode & D.S_IFMT

    def is_dir(self):
        return self.mode & D.S_IFMT == D.S_IFDIR

    def is_reg(self):
        return self.mode & D.S_IFMT == D.S_IFREG

    def ea_sectors(self, bsize):
        return bsize >> 9 if self.file_acl else 0

    def is_fast_symlink(self, bsize):
        """ext2_inode_is_fast_symlink: a link whose text lives in i_block."""
        return (self.mode & D.S_IFMT == D.S_IFLNK
                and self.blocks - self.ea_sectors(bsize) == 0)

    def has_data_blocks(self, bsize):
        """Does i_block hold block pointers (not a device number or link text)?"""
        fmt = self.mode & D.S_IFMT
        if fmt in (D.S_IFREG, D.S_IFDIR):
            return True
        return fmt == D.S_IFLNK and not self.is_fast_symlink(bsize)

    # -- devices (ext2_iget / ext2_write_inode encodings) --------------------------
    def rdev(self):
        """(major, minor) of a device inode."""
        if self.i_block[0]:
            v = self.i_block[0]
            return (v >> 8) & 0xFF, v & 0xFF
        v = self.i_block[1]
        return (v & 0xFFF00) >> 8, (v & 0xFF) | ((v >> 12) & 0xFFF00)

    def set_rdev(self, major, minor):
        self.i_block = [0] * D.N_BLOCKS
        if major < 256 and minor < 256:
            self.i_block[0] = (major << 8) | minor
        else:
            self.i_block[1] = (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)

    # -- fast symlinks ----------------------------------------------------------------
    def link_text(self):
        raw = D.I_BLOCK_STRUCT.pack(*self.i_block)
        return raw[:self.size]

    def set_link_text(self, text):
        self.i_block = list(D.I_BLOCK_STRUCT.unpack(text.ljust(D.N_BLOCKS * 4, b"\0")))


def load(ino, buf, off, isize):
    """The Inode stored at buf[off:off+isize] (no checks: see check())."""
    r = D.RawInode.unpack(buf, off)
    ip = Inode(ino, r, 0, 0)
    ip.mode = r.i_mode
    ip.uid = r.i_uid | (r.l_i_uid_high << 16)
    ip.gid = r.i_gid | (r.l_i_gid_high << 16)
    ip.size = r.i_size
    if ip.mode & D.S_IFMT == D.S_IFREG:
        ip.size |= r.i_size_high << 32
    ip.nlink = r.i_links_count
    ip.blocks = r.i_blocks
    ip.flags = r.i_flags
    ip.i_block = list(D.I_BLOCK_STRUCT.unpack(r.i_block))
    ip.dtime = r.i_dtime
    ip.file_acl = r.i_file_acl
    ip.extra_isize = _extra_isize(buf, off, isize)
    extra = (None, None, None)
    if ip.extra_isize >= D.EXTRA_TIMES_NEED:
        extra = D.EXTRA_TIMES.unpack_from(buf, off + D.EXTRA_TIMES_OFF)
    ip.ctime = _decode_time(r.i_ctime, extra[0])
    ip.mtime = _decode_time(r.i_mtime, extra[1])
    ip.atime = _decode_time(r.i_atime, extra[2])
    ip.crtime = None
    if ip.extra_isize >= D.CRTIME_NEED:
        ip.crtime = _decode_time(*D.CRTIME.unpack_from(buf, off + D.CRTIME_OFF))
    return ip


def _extra_isize(buf, off, isize):
    """i_extra_isize when it is sane (fits, 4-aligned), else 0: not used."""
    if isize <= D.GOOD_OLD_INODE_SIZE:
        return 0
    (n,) = D.EXTRA_ISIZE.unpack_from(buf, off + D.GOOD_OLD_INODE_SIZE)
    if n % 4 or D.GOOD_OLD_INODE_SIZE + n > isize:
        return 0
    return n


def store(ip, buf, off):
    """Pack ip back into buf at off (ext2_write_inode)."""
    r = ip.raw
    r.i_mode = ip.mode
    r.i_uid, r.l_i_uid_high = ip.uid & 0xFFFF, (ip.uid >> 16) & 0xFFFF
    r.i_gid, r.l_i_gid_high = ip.gid & 0xFFFF, (ip.gid >> 16) & 0xFFFF
    r.i_size = ip.size & 0xFFFFFFFF
    if ip.mode & D.S_IFMT == D.S_IFREG:
        r.i_size_high = ip.size >> 32
    r.i_links_count = ip.nlink
    r.i_blocks = ip.blocks
    r.i_flags = ip.flags
    r.i_block = D.I_BLOCK_STRUCT.pack(*ip.i_block)
    r.i_dtime = ip.dtime
    r.i_file_acl = ip.file_acl
    (r.i_ctime, cx), (r.i_mtime, mx), (r.i_atime, ax) = (
        _encode_time(ip.ctime), _encode_time(ip.mtime), _encode_time(ip.atime))
    r.pack_into(buf, off)
    if ip.extra_isize >= D.EXTRA_TIMES_NEED:
        D.EXTRA_TIMES.pack_into(buf, off + D.EXTRA_TIMES_OFF, cx, mx, ax)
    if ip.extra_isize >= D.CRTIME_NEED and ip.crtime is not None:
        D.CRTIME.pack_into(buf, off + D.CRTIME_OFF, *_encode_time(ip.crtime))


def fresh(ino, buf, off, isize, extra_isize):
    """A new, zeroed inode at buf[off:off+isize] (ext2_new_inode)."""
    buf[off:off + isize] = bytes(isize)
    if extra_isize:
        D.EXTRA_ISIZE.pack_into(buf, off + D.GOOD_OLD_INODE_SIZE, extra_isize)
    ip = load(ino, buf, off, isize)
    ip.atime = ip.mtime = ip.ctime = ip.crtime = now()
    if not ip.extra_isize:
        ip.atime = ip.mtime = ip.ctime = (ip.atime[0], 0)
    return ip


def truncate_time(ip, ts):
    """ts as the inode can hold it: whole seconds without the large-inode tail."""
    if ip.extra_isize >= D.EXTRA_TIMES_NEED:
        return ts
    return (ts[0], 0)


def check(ip, bsize, max_size):
    """Why the inode cannot be used (Linux ext2_iget's tests), or None."""
    fmt = ip.mode & D.S_IFMT
    if ip.nlink == 0 and (ip.mode == 0 or ip.dtime):
        return "deleted inode referenced"
    if fmt not in D.VALID_IFMT:
        return f"bad file type (mode 0{ip.mode:o})"
    if ip.flags & (D.EXTENTS_FL | D.INLINE_DATA_FL):
        return "extent-mapped or inline-data inode (not ext2)"
    if fmt == D.S_IFDIR and ip.size % bsize:
        return f"directory size {ip.size} not a multiple of the block size"
    if fmt == D.S_IFLNK and ip.size >= (D.FAST_SYMLINK_MAX + 1 if ip.is_fast_symlink(bsize)
                                       else bsize):
        return f"symlink size {ip.size} too large"
    if ip.size > max_size and fmt in (D.S_IFREG, D.S_IFDIR):
        return f"size {ip.size} beyond the largest file"
    return None
