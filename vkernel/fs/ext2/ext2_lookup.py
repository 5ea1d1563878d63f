"""ext2 directories: entries, their lookup, insertion, removal and compaction.

FreeBSD counterpart: sys/fs/ext2fs/ext2_lookup.c (ext2_lookup,
ext2_direnter, ext2_dirremove, ext2_dirrewrite, ext2_dirempty,
ext2_checkpath's '..' handling); Linux's is fs/ext2/dir.c.

A directory is a file of blocks, each a chain of entries (inode, rec_len,
name_len, file_type, name) whose rec_lens cover the block exactly; inode 0
marks an unused entry, and a live entry's rec_len may cover free space
after its name.  The first block starts with '.' and '..'.

Scanning a directory on every lookup would make a large directory cost
O(n) per name, so each directory gets a DirIndex built by one full scan:
every name with its inode, type and place, and each block's entries and
largest free hole.  The index lives in the mount's dircache (by inode
number, bounded) and stays exact because every change to a directory goes
through this module.  Every block is checked as it is scanned (rec_len too
small, unaligned or crossing the block; name longer than the entry; inode
out of range; a hole in the directory) as ext2_check_page does: a bad
directory is fs.corrupt() -> EIO.

Hashed (dir_index, INDEX_FL) directories look like plain ones to a linear
scan (the index hides in an entry's free space and in blocks holding one
empty entry); like Linux's ext2 we clear INDEX_FL on every change, so an
index we did not maintain is never trusted again.
"""
import bisect
import struct

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError

from . import ext2_bmap
from . import ext2_disklayout as D

_REC_LEN = struct.Struct("<H")
_INO = struct.Struct("<I")
_MIN_REC = D.rec_len_of(1)


class DirIndex:
    """The in-core index of one directory (see the module docstring).

    names:  name -> (ino, file type, block index, offset)
    blocks: per directory block, its entries as [off, rec_len, name_len, ino]
    free:   per block, the largest record a new entry could take
    tfree:  per block, all its free bytes (what compaction would gather)
    """

    __slots__ = ("names", "blocks", "free", "tfree", "dotdot")

    def __init__(self):
        self.names = {}
        self.blocks = []
        self.free = []
        self.tfree = []
        self.dotdot = 0

    def append(self, slots):
        self.blocks.append(slots)
        self.free.append(0)
        self.tfree.append(0)
        self.refresh(len(self.blocks) - 1)

    def refresh(self, lblk):
        """Recompute block lblk's free space from its entries."""
        slacks = [_slack(s) for s in self.blocks[lblk]]
        self.free[lblk] = max(slacks, default=0)
        self.tfree[lblk] = sum(slacks)


def _slack(slot):
    off, rec_len, name_len, ino = slot
    return rec_len if ino == 0 else rec_len - D.rec_len_of(name_len)


# -- scanning --------------------------------------------------------------------------
def _parse(fs, dip, lblk, data):
    """[(off, rec_len, name_len, ino, ftype, name bytes)] of one block, checked."""
    out, off, bsize, unpack = [], 0, fs.bsize, D.DIRENT.unpack_from
    while off < bsize:
        if off + D.DIRENT_HDR > bsize:
            _bad(fs, dip, lblk, off, "directory entry across blocks")
        ino, rec_len, name_len, ftype = unpack(data, off)
        rec_len = D.rec_len_from_disk(rec_len, bsize)
        if rec_len < _MIN_REC:
            _bad(fs, dip, lblk, off, "rec_len is smaller than minimal")
        if rec_len % 4:
            _bad(fs, dip, lblk, off, "unaligned directory entry")
        if rec_len < D.rec_len_of(name_len):
            _bad(fs, dip, lblk, off, "rec_len is too small for name_len")
        if off + rec_len > bsize:
            _bad(fs, dip, lblk, off, "directory entry across blocks")
        if ino > fs.ninodes:
            _bad(fs, dip, lblk, off, f"inode out of bounds ({ino})")
        out.append((off, rec_len, name_len, ino, ftype,
                    bytes(data[off + 8:off + 8 + name_len])))
        off += rec_len
    return out


def _bad(fs, dip, lblk, off, why):
    fs.corrupt(f"bad entry in directory #{dip.ino}: {why} - "
               f"offset={lblk * fs.bsize + off}")


def dir_blocks(fs, dip, chunk=256):
    """The disk blocks of directory dip, mapped a chunk at a time; a hole or
    a block used twice is corruption (so a hostile size costs no memory)."""
    nblocks, seen = dip.size // fs.bsize, set()
    for first in range(0, nblocks, chunk):
        for i, pbn in enumerate(ext2_bmap.bmap_range(fs, dip, first,
                                                     min(chunk, nblocks - first))):
            if pbn == 0 or pbn in seen:
                what = "a hole" if pbn == 0 else "a repeated block"
                fs.corrupt(f"directory #{dip.ino} has {what} at block {first + i}")
            seen.add(pbn)
            yield pbn


def scan(fs, dip):
    """Build the DirIndex of directory dip from its blocks."""
    idx = DirIndex()
    ftypes = fs.has_filetype
    for lblk, pbn in enumerate(dir_blocks(fs, dip)):
        slots = []
        for off, rec_len, name_len, ino, ftype, name in _parse(fs, dip, lblk,
                                                                fs.bio.bread(pbn).data):
            slots.append([off, rec_len, name_len, ino])
            if ino == 0:
                continue
            if lblk == 0 and len(slots) <= 2 and name in (b".", b".."):
                if name == b"..":
                    idx.dotdot = ino
                continue
            idx.names[name.decode("utf-8", "surrogateescape")] = (
                ino, ftype if ftypes else D.FT_UNKNOWN, lblk, off)
        idx.append(slots)
    return idx


def index(fs, dip):
    """The DirIndex of directory dip, from the mount's cache or a scan."""
    idx = fs.dircache.get(dip.ino)
    if idx is None:
        idx = scan(fs, dip)
    fs.dircache_put(dip.ino, idx)
    return idx


def encode_name(name):
    nameb = name.encode("utf-8", "surrogateescape")
    if len(nameb) > D.NAME_LEN:
        raise KernelError(E.ENAMETOOLONG)
    return nameb


# -- changing entries --------------------------------------------------------------------
def _block_buf(fs, dip, lblk):
    return fs.bio.bread(ext2_bmap.bmap(fs, dip, lblk))


def _put(data, off, ino, rec_len, nameb, ftype):
    D.DIRENT.pack_into(data, off, ino, D.rec_len_to_disk(rec_len), len(nameb), ftype)
    data[off + 8:off + 8 + len(nameb)] = nameb


def _set_rec_len(data, slot, rec_len):
    slot[1] = rec_len
    _REC_LEN.pack_into(data, slot[0] + 4, D.rec_len_to_disk(rec_len))


def add_entry(fs, dip, name, ino, ftype):
    """ext2_add_link: enter name -> ino in directory dip (EEXIST if present)."""
    idx = index(fs, dip)
    if name in idx.names:
        raise KernelError(E.EEXIST)
    nameb = encode_name(name)
    need = D.rec_len_of(len(nameb))
    ftype = ftype if fs.has_filetype else 0
    lblk = _find_space(fs, dip, idx, need)
    bp = _block_buf(fs, dip, lblk) if lblk < len(idx.blocks) else _grow(fs, dip, idx)
    slots = idx.blocks[lblk]
    for i, slot in enumerate(slots):
        if _slack(slot) >= need:
            break
    else:
        fs.corrupt(f"directory #{dip.ino}: no room in block {lblk} after all")
    off, rec_len, name_len, old = slot
    if old == 0:
        new = [off, rec_len, len(nameb), ino]
        slots[i] = new
    else:
        used = D.rec_len_of(name_len)
        _set_rec_len(bp.data, slot, used)
        new = [off + used, rec_len - used, len(nameb), ino]
        slots.insert(i + 1, new)
    _put(bp.data, new[0], ino, new[1], nameb, ftype)
    fs.bio.bdwrite(bp)
    idx.names[name] = (ino, ftype, lblk, new[0])
    idx.refresh(lblk)
    _touch(fs, dip)


def _find_space(fs, dip, idx, need):
    """The block a `need`-byte entry goes in: one with a hole that big, a
    block made to have one by compaction, or a new block (len(blocks))."""
    for lblk, free in enumerate(idx.free):
        if free >= need:
            return lblk
    for lblk, free in enumerate(idx.tfree):
        if free >= need:
            _compact(fs, dip, idx, lblk)
            return lblk
    return len(idx.blocks)


def _grow(fs, dip, idx):
    """Append an empty block to directory dip; its Buf."""
    lblk = len(idx.blocks)
    (pbn,), _fresh = ext2_bmap.balloc_range(fs, dip, lblk, 1)
    bp = fs.bio.getblk(pbn)
    bp.data[:] = fs.bio.zero
    _put(bp.data, 0, 0, fs.bsize, b"", 0)
    dip.size += fs.bsize
    idx.append([[0, fs.bsize, 0, 0]])
    fs.iupdate(dip)
    return bp


def _compact(fs, dip, idx, lblk):
    """Pack block lblk's live entries at its start, all free space at the end."""
    bp = _block_buf(fs, dip, lblk)
    data = bp.data
    live = [(s[3], bytes(data[s[0] + 8:s[0] + 8 + s[2]]), data[s[0] + 7])
            for s in idx.blocks[lblk] if s[3]]
    if not live:
        return
    off, slots = 0, []
    new = bytearray(fs.bsize)
    for n, (ino, nameb, ftype) in enumerate(live):
        rec_len = D.rec_len_of(len(nameb)) if n + 1 < len(live) else fs.bsize - off
        _put(new, off, ino, rec_len, nameb, ftype)
        slots.append([off, rec_len, len(nameb), ino])
        name = nameb.decode("utf-8", "surrogateescape")
        if name in idx.names and idx.names[name][2] == lblk:
            e = idx.names[name]
            idx.names[name] = (e[0], e[1], lblk, off)
        off += rec_len
    data[:] = new
    fs.bio.bdwrite(bp)
    idx.blocks[lblk] = slots
    idx.refresh(lblk)


def remove_entry(fs, dip, name):
    """ext2_delete_entry: remove name from dip; returns the inode it named."""
    idx = index(fs, dip)
    ent = idx.names.get(name)
    if ent is None:
        raise KernelError(E.ENOENT)
    ino, _ftype, lblk, off = ent
    slots = idx.blocks[lblk]
    i = bisect.bisect_left([s[0] for s in slots], off)
    bp = _block_buf(fs, dip, lblk)
    slot = slots[i]
    _INO.pack_into(bp.data, off, 0)
    if i > 0:
        _set_rec_len(bp.data, slots[i - 1], slots[i - 1][1] + slot[1])
        del slots[i]
    else:
        slot[3] = 0
    fs.bio.bdwrite(bp)
    del idx.names[name]
    idx.refresh(lblk)
    _touch(fs, dip)
    return ino


def set_entry(fs, dip, name, ino, ftype):
    """ext2_set_link: make the existing entry name refer to ino."""
    idx = index(fs, dip)
    _old, _ft, lblk, off = idx.names[name]
    ftype = ftype if fs.has_filetype else 0
    bp = _block_buf(fs, dip, lblk)
    _INO.pack_into(bp.data, off, ino)
    if fs.has_filetype:
        bp.data[off + 7] = ftype
    fs.bio.bdwrite(bp)
    for slot in idx.blocks[lblk]:
        if slot[0] == off:
            slot[3] = ino
    idx.names[name] = (ino, ftype, lblk, off)
    _touch(fs, dip)


def set_dotdot(fs, dip, parent_ino):
    """Point directory dip's '..' at parent_ino (a directory moved elsewhere)."""
    idx = index(fs, dip)
    slots = idx.blocks[0] if idx.blocks else []
    if len(slots) < 2 or not idx.dotdot:
        fs.corrupt(f"directory #{dip.ino} has no '..' entry")
    bp = _block_buf(fs, dip, 0)
    _INO.pack_into(bp.data, slots[1][0], parent_ino)
    fs.bio.bdwrite(bp)
    slots[1][3] = idx.dotdot = parent_ino
    _touch(fs, dip, times=False)


def _touch(fs, dip, times=True):
    """A directory changed: new mtime/ctime, and its hash index is stale."""
    if times:
        dip.mtime = dip.ctime = fs.now(dip)
    dip.flags &= ~D.INDEX_FL
    fs.iupdate(dip)


def make_empty(fs, dip, parent_ino):
    """ext2_make_empty: the first block of a new directory, '.' and '..'."""
    (pbn,), _fresh = ext2_bmap.balloc_range(fs, dip, 0, 1)
    bp = fs.bio.getblk(pbn)
    bp.data[:] = fs.bio.zero
    ft = D.FT_DIR if fs.has_filetype else 0
    dot = D.rec_len_of(1)
    _put(bp.data, 0, dip.ino, dot, b".", ft)
    _put(bp.data, dot, parent_ino, fs.bsize - dot, b"..", ft)
    fs.bio.bdwrite(bp)
    dip.size = fs.bsize
    idx = DirIndex()
    idx.append([[0, dot, 1, dip.ino], [dot, fs.bsize - dot, 2, parent_ino]])
    idx.dotdot = parent_ino
    fs.dircache_put(dip.ino, idx)
