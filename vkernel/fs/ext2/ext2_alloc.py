"""ext2 block and inode allocation: the bitmaps and the free counts.

FreeBSD counterpart: sys/fs/ext2fs/ext2_alloc.c (ext2_alloc, ext2_valloc,
ext2_blkfree, ext2_vfree, ext2_dirpref); Linux's are fs/ext2/balloc.c and
ialloc.c (find_group_dir, find_group_other).

Every allocation or free changes three things together: the bit in the
group's bitmap block, the group descriptor's free (and used-directory)
count, and the filesystem's totals (fs.free_blocks, fs.free_inodes), which
go to the superblock at sync, as Linux's ext2 does.  A bitmap that
disagrees with its count (a free count with no free bit, a freed bit that
was already clear) is reported with fs.error and never trusted blindly:
the counts never go negative and a bit is never cleared twice.

Policy: blocks go as near the goal as possible, in contiguous runs; a new
directory goes to a group with an above-average share of free inodes and
the most free blocks (Linux's older find_group_dir, a simple Orlov), other
inodes next to their directory (find_group_other: the parent's group, then
a quadratic hash, then a linear search).

Bitmaps are searched as Python integers, a whole block at a time.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError


# -- bitmaps ----------------------------------------------------------------------
WINDOW = 1024           # bits looked at first, from the goal on


def _span(data, start, end):
    """(int of the bytes holding bits [start, end), bit offset of that int)."""
    b0, b1 = start >> 3, (end + 7) >> 3
    return int.from_bytes(data[b0:b1], "little"), b0 << 3


def _first_zero(v, s, e):
    inv = (~v & ((1 << e) - 1)) >> s
    return s + (inv & -inv).bit_length() - 1 if inv else -1


def find_zero(data, start, end):
    """The first clear bit of bitmap `data` in [start, end), or -1."""
    for lo, hi in ((start, min(end, start + WINDOW)), (start + WINDOW, end)):
        if lo < hi:
            v, base = _span(data, lo, hi)
            pos = _first_zero(v, lo - base, hi - base)
            if pos >= 0:
                return base + pos
    return -1


def take_run(data, start, end, want):
    """Set the first run of clear bits in [start, end), at most `want` long.

    Returns (first bit, count), or (-1, 0) when every bit is set.  Looks
    near `start` first, so allocating block after block stays cheap; a run
    cut at the window's end is continued by the caller's next call.
    """
    for lo, hi in ((start, min(end, start + WINDOW)), (start + WINDOW, end)):
        if lo >= hi:
            continue
        v, base = _span(data, lo, hi)
        pos = _first_zero(v, lo - base, hi - base)
        if pos < 0:
            continue
        rest = v >> pos
        n = min(hi - base - pos if rest == 0 else (rest & -rest).bit_length() - 1,
                want, hi - base - pos)
        v |= ((1 << n) - 1) << pos
        b0, b1 = base >> 3, (hi + 7) >> 3
        data[b0:b1] = v.to_bytes(b1 - b0, "little")
        return base + pos, n
    return -1, 0


def clear_bits(data, bits):
    """Clear `bits` in bitmap data; returns the bits that were already clear."""
    stale = []
    for b in bits:
        i, m = b >> 3, 1 << (b & 7)
        if data[i] & m:
            data[i] &= ~m & 0xFF
        else:
            stale.append(b)
    return stale


def test_bit(data, bit):
    return data[bit >> 3] >> (bit & 7) & 1


# -- blocks -------------------------------------------------------------------------
def alloc_blocks(fs, goal, want):
    """Up to `want` free blocks as [(first block, count)], starting near `goal`.

    ENOSPC only when not a single block is free.
    """
    if not fs.fdb <= goal < fs.nblocks:
        goal = fs.fdb
    g0 = (goal - fs.fdb) // fs.bpg
    runs = []
    for i in range(fs.ngroups):
        g = (g0 + i) % fs.ngroups
        start = goal - fs.group_first_block(g) if i == 0 else 0
        want -= _alloc_in_group(fs, g, start, want, runs)
        if want == 0:
            break
    if not runs:
        raise KernelError(E.ENOSPC)
    return runs


def _alloc_in_group(fs, g, start, want, runs):
    """Take up to `want` blocks of group g from bit `start` on; returns the count."""
    gd = fs.groups[g]
    if gd.bg_free_blocks_count == 0 or want <= 0:
        return 0
    bp = fs.bio.bread(gd.bg_block_bitmap)
    nbits = fs.group_nblocks(g)
    base = fs.group_first_block(g)
    got = 0
    while got < want:
        pos, n = take_run(bp.data, start, nbits, want - got)
        if pos < 0:
            if start == 0:
                break
            start = 0           # the goal was late in the group: look before it
            continue
        if fs.sysz.overlaps(base + pos, n):
            fs.error(f"block bitmap of group {g} marks metadata blocks "
                     f"{base + pos}..{base + pos + n - 1} free")
            start = pos + n
            continue
        runs.append((base + pos, n))
        got += n
        start = pos + n
    if got:
        fs.bio.bdwrite(bp)
        _count_blocks(fs, g, -got)
    elif gd.bg_free_blocks_count:
        fs.error(f"group {g} has a free block count of {gd.bg_free_blocks_count} "
                 "but a full block bitmap")
    return got


def _count_blocks(fs, g, delta):
    gd = fs.groups[g]
    new = gd.bg_free_blocks_count + delta
    if not 0 <= new <= fs.group_nblocks(g):
        fs.error(f"free blocks count of group {g} out of range")
        new = max(0, min(new, fs.group_nblocks(g)))
    fs.free_blocks += new - gd.bg_free_blocks_count
    gd.bg_free_blocks_count = new
    fs.gd_dirty(g)


def free_blocks(fs, blocks):
    """Give blocks back (ext2_free_blocks); returns how many were freed.

    Cached copies are dropped.
    """
    by_group, total = {}, 0
    for b in blocks:
        if not fs.fdb < b < fs.nblocks or fs.sysz.overlaps(b, 1):
            fs.error(f"freeing blocks not in datazone: block {b}")
            continue
        fs.bio.binval(b)
        g, bit = divmod(b - fs.fdb, fs.bpg)
        by_group.setdefault(g, []).append(bit)
    for g, bits in by_group.items():
        bp = fs.bio.bread(fs.groups[g].bg_block_bitmap)
        stale = clear_bits(bp.data, bits)
        if stale:
            fs.error(f"bit already cleared for block {fs.group_first_block(g) + stale[0]}"
                     f" ({len(stale)} blocks)")
        fs.bio.bdwrite(bp)
        _count_blocks(fs, g, len(bits) - len(stale))
        total += len(bits) - len(stale)
    return total


# -- inodes --------------------------------------------------------------------------
def alloc_inode(fs, parent_ino, is_dir):
    """A free inode number for a new file in directory parent_ino (ENOSPC if none)."""
    pgroup = (parent_ino - 1) // fs.ipg
    first = find_group_dir(fs) if is_dir else find_group_other(fs, pgroup)
    order = [first] + [g for g in range(fs.ngroups) if g != first] if first >= 0 else \
        range(fs.ngroups)
    for g in order:
        ino = _ialloc_in_group(fs, g, is_dir)
        if ino:
            return ino
    raise KernelError(E.ENOSPC)


def _ialloc_in_group(fs, g, is_dir):
    gd = fs.groups[g]
    if gd.bg_free_inodes_count == 0:
        return 0
    bp = fs.bio.bread(gd.bg_inode_bitmap)
    start = max(0, fs.first_ino - 1 - g * fs.ipg)
    bit = find_zero(bp.data, start, fs.ipg)
    if bit < 0:
        fs.error(f"group {g} has a free inode count of {gd.bg_free_inodes_count} "
                 "but a full inode bitmap")
        return 0
    bp.data[bit >> 3] |= 1 << (bit & 7)
    fs.bio.bdwrite(bp)
    _count_inodes(fs, g, -1, 1 if is_dir else 0)
    return g * fs.ipg + bit + 1


def _count_inodes(fs, g, delta, dirs):
    gd = fs.groups[g]
    new = gd.bg_free_inodes_count + delta
    if not 0 <= new <= fs.ipg:
        fs.error(f"free inodes count of group {g} out of range")
        new = max(0, min(new, fs.ipg))
    fs.free_inodes += new - gd.bg_free_inodes_count
    gd.bg_free_inodes_count = new
    gd.bg_used_dirs_count = max(0, min(gd.bg_used_dirs_count + dirs, fs.ipg))
    fs.gd_dirty(g)


def free_inode(fs, ino, is_dir):
    """ext2_free_inode: clear the inode's bit and count it free."""
    g, bit = divmod(ino - 1, fs.ipg)
    bp = fs.bio.bread(fs.groups[g].bg_inode_bitmap)
    if clear_bits(bp.data, [bit]):
        fs.error(f"bit already cleared for inode {ino}")
        return
    fs.bio.bdwrite(bp)
    _count_inodes(fs, g, 1, -1 if is_dir else 0)


def find_group_dir(fs):
    """Among groups with at least the average of free inodes, the most free blocks."""
    avg = fs.free_inodes // fs.ngroups
    best, best_blocks = -1, -1
    for g, gd in enumerate(fs.groups):
        if gd.bg_free_inodes_count and gd.bg_free_inodes_count >= avg \
                and gd.bg_free_blocks_count > best_blocks:
            best, best_blocks = g, gd.bg_free_blocks_count
    return best


def find_group_other(fs, pgroup):
    """The parent's group, else a quadratic hash from it, else any with inodes."""
    n, groups = fs.ngroups, fs.groups
    pgroup %= n
    gd = groups[pgroup]
    if gd.bg_free_inodes_count and gd.bg_free_blocks_count:
        return pgroup
    g, step = pgroup, 1
    while step < n:
        g = (g + step) % n
        if groups[g].bg_free_inodes_count and groups[g].bg_free_blocks_count:
            return g
        step <<= 1
    for g in range(n):
        if groups[(pgroup + g) % n].bg_free_inodes_count:
            return (pgroup + g) % n
    return -1
