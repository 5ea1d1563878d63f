"""ext2 block mapping: file block numbers to disk blocks, allocation, truncation.

FreeBSD counterpart: sys/fs/ext2fs/ext2_bmap.c (ext2_bmaparray),
ext2_balloc.c and the indirect-block part of ext2_inode.c (ext2_indirtrunc);
Linux's are ext2_get_block, ext2_get_branch/ext2_alloc_branch and
ext2_truncate_blocks in fs/ext2/inode.c.

i_block[0..11] point at data blocks; i_block[12] at an indirect block of
P = bsize/4 pointers to data, i_block[13] at a double-indirect and
i_block[14] at a triple-indirect one.  A zero pointer is a hole: it reads
as zeros and costs no block.  Indirect blocks live in the buffer cache and
are read as arrays of words in place (Buf.words()).

Distrust: every pointer followed is checked to lie in the data zone (not
in a superblock, descriptor, bitmap or inode table) and not to point back
at an indirect block of its own path; a bad one is fs.corrupt() -> EIO.
Freeing walks each indirect block at most once, so a cyclic or
cross-linked tree cannot loop or free a block twice.
"""
import array

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError

from . import ext2_alloc
from . import ext2_disklayout as D

_SLOTS = ((1, D.IND_BLOCK), (2, D.DIND_BLOCK), (3, D.TIND_BLOCK))


def max_blocks(fs):
    """File blocks that i_block can map (12 + P + P^2 + P^3)."""
    p = fs.nindir
    return D.NDIR_BLOCKS + p + p * p + p * p * p


def _path(fs, lbn):
    """(i_block slot, [index in each indirect level]) of file block lbn."""
    if lbn < D.NDIR_BLOCKS:
        return lbn, []
    p = fs.nindir
    rel = lbn - D.NDIR_BLOCKS
    for level, slot in _SLOTS:
        span = p ** level
        if rel < span:
            return slot, [(rel // p ** (level - 1 - k)) % p for k in range(level)]
        rel -= span
    raise KernelError(E.EFBIG)


def _check_ptr(fs, ip, ptr, path):
    if not fs.fdb < ptr < fs.nblocks or fs.sysz.overlaps(ptr, 1) or ptr in path:
        fs.corrupt(f"inode {ip.ino}: bad indirect block pointer {ptr}")


def _new_indirect(fs, ip, goal):
    """A zeroed, allocated indirect block (counted in i_blocks)."""
    (start, _n), = ext2_alloc.alloc_blocks(fs, goal, 1)
    bp = fs.bio.getblk(start)
    bp.data[:] = fs.bio.zero
    fs.bio.bdwrite(bp)
    ip.blocks += fs.sectors_per_block
    return bp


def _leaf(fs, ip, lbn, alloc=False):
    """(leaf Buf, pointer array, index, span) holding lbn's pointer.

    The array is ip.i_block for direct blocks (leaf Buf None), else the leaf
    indirect block's words; None (without `alloc`) when an indirect block on
    the way is a hole.  `span` counts the file blocks from lbn whose
    pointers follow in the same array.  With `alloc`, missing indirect
    blocks are allocated.
    """
    slot, idxs = _path(fs, lbn)
    if not idxs:
        return None, ip.i_block, slot, D.NDIR_BLOCKS - slot
    span = fs.nindir - idxs[-1]
    parent, arr, pos, path = None, ip.i_block, slot, []
    for k in idxs:
        ptr = arr[pos]
        if ptr:
            _check_ptr(fs, ip, ptr, path)
            bp = fs.bio.bread(ptr)
        elif not alloc:
            return None, None, idxs[-1], span
        else:
            bp = _new_indirect(fs, ip, parent.blkno if parent else fs.inode_goal(ip))
            arr[pos] = bp.blkno
            if parent is not None:
                fs.bio.bdwrite(parent)
        path.append(bp.blkno)
        parent, arr, pos = bp, bp.words(), k
    return parent, arr, idxs[-1], span


def bmap_range(fs, ip, lbn, count):
    """Disk blocks of file blocks lbn .. lbn+count-1 (0 for holes)."""
    out = []
    while count > 0:
        _bp, arr, idx, span = _leaf(fs, ip, lbn)
        k = min(span, count)
        if arr is None:
            out.extend([0] * k)
        elif isinstance(arr, list):
            out.extend(arr[idx:idx + k])
        else:
            out.extend(arr[idx:idx + k].tolist())
        lbn += k
        count -= k
    check_data_blocks(fs, ip, out)
    return out


def bmap(fs, ip, lbn):
    return bmap_range(fs, ip, lbn, 1)[0]


def check_data_blocks(fs, ip, blocks):
    """fs.corrupt() unless every nonzero block is a valid data block."""
    if not blocks:
        return
    top = max(blocks)
    if top == 0:
        return
    if top >= fs.nblocks:
        fs.corrupt(f"inode {ip.ino}: block {top} beyond the end of the filesystem")
    overlaps = fs.sysz.overlaps
    for b in blocks:
        if b and (b <= fs.fdb or overlaps(b, 1)):
            fs.corrupt(f"inode {ip.ino}: data block {b} in a metadata area")


def balloc_range(fs, ip, lbn, count):
    """Make file blocks lbn.. allocated: ([disk blocks], [newly allocated?]).

    Allocates holes in contiguous runs near the previous block.  Stops early
    at ENOSPC (the lists are then shorter than count; ENOSPC if empty).
    The caller writes the inode back (i_block, i_blocks changed).
    """
    out, fresh, first = [], [], lbn
    hint = ip.alloc_hint            # appending: go on after the last block
    goal = hint[1] + 1 if hint and hint[0] == lbn - 1 else 0
    try:
        while count > 0:
            bp, arr, idx, span = _leaf(fs, ip, lbn, alloc=True)
            k = min(span, count)
            goal = _fill_holes(fs, ip, bp, arr, idx, k, goal, out, fresh)
            lbn += k
            count -= k
    except KernelError as e:
        if e.errno != E.ENOSPC or not out:
            raise
    check_data_blocks(fs, ip, out)
    if out:
        ip.alloc_hint = (first + len(out) - 1, out[-1])
    return out, fresh


def _fill_holes(fs, ip, bp, arr, idx, k, goal, out, fresh):
    """Allocate the zero pointers of arr[idx:idx+k]; append to out/fresh.

    Returns the goal for the next block.  bp is arr's Buf (None: i_block).
    """
    cur = arr[idx:idx + k]
    cur = cur if isinstance(cur, list) else cur.tolist()
    if not goal:
        goal = bp.blkno + 1 if bp is not None else fs.inode_goal(ip)
    i, changed = 0, False
    try:
        while i < k:
            if cur[i]:
                goal = cur[i] + 1
                out.append(cur[i])
                fresh.append(False)
                i += 1
                continue
            j = i
            while j < k and not cur[j]:
                j += 1
            for start, n in ext2_alloc.alloc_blocks(fs, goal, j - i):
                arr[idx + i:idx + i + n] = _seq(arr, start, n)
                out.extend(range(start, start + n))
                fresh.extend([True] * n)
                i += n
                changed = True
                ip.blocks += n * fs.sectors_per_block
                goal = start + n
    finally:
        if changed and bp is not None:
            fs.bio.bdwrite(bp)
    return goal


def _seq(arr, start, n):
    """start, start+1, ... in the form arr's slice assignment takes."""
    seq = range(start, start + n)
    return list(seq) if isinstance(arr, list) else memoryview(array.array("I", seq))


# -- truncation ---------------------------------------------------------------------
def btruncate(fs, ip, keep):
    """Free every block of file blocks >= keep, and indirect blocks left unused.

    The caller writes the inode back.
    """
    freed, seen = [], set()
    for i in range(max(keep, 0), D.NDIR_BLOCKS):
        if ip.i_block[i]:
            freed.append(ip.i_block[i])
            ip.i_block[i] = 0
    base, p = D.NDIR_BLOCKS, fs.nindir
    for level, slot in _SLOTS:
        span = p ** level
        ptr = ip.i_block[slot]
        if ptr and keep < base + span:
            if keep <= base:
                _free_tree(fs, ip, ptr, level, freed, seen)
                ip.i_block[slot] = 0
            else:
                _trunc_tree(fs, ip, ptr, level, base, keep, freed, seen)
        base += span
    n = ext2_alloc.free_blocks(fs, freed)
    ip.blocks = max(0, ip.blocks - n * fs.sectors_per_block)


def _walkable(fs, ip, blk, seen):
    """May the indirect block blk be read (valid, not yet visited)?"""
    if not fs.fdb < blk < fs.nblocks or fs.sysz.overlaps(blk, 1):
        fs.error(f"inode {ip.ino}: bad indirect block {blk} while truncating")
        return False
    if blk in seen:
        fs.error(f"inode {ip.ino}: indirect block {blk} seen twice while truncating")
        return False
    seen.add(blk)
    return True


def _free_tree(fs, ip, blk, level, freed, seen):
    """Free indirect block blk and everything below it."""
    if not _walkable(fs, ip, blk, seen):
        return
    ptrs = [p for p in fs.bio.bread(blk).words().tolist() if p]
    if level == 1:
        freed.extend(ptrs)
    else:
        for p in ptrs:
            _free_tree(fs, ip, p, level - 1, freed, seen)
    freed.append(blk)


def _trunc_tree(fs, ip, blk, level, base, keep, freed, seen):
    """Free what indirect block blk (mapping from file block base) holds past keep."""
    if not _walkable(fs, ip, blk, seen):
        return
    bp = fs.bio.bread(blk)
    w = bp.words()
    per = fs.nindir ** (level - 1)
    changed = False
    for i in range((keep - base) // per, fs.nindir):
        ptr = w[i]
        if not ptr:
            continue
        cbase = base + i * per
        if level == 1 or keep <= cbase:
            if level == 1:
                freed.append(ptr)
            else:
                _free_tree(fs, ip, ptr, level - 1, freed, seen)
            w[i] = 0
            changed = True
        else:
            _trunc_tree(fs, ip, ptr, level - 1, cbase, keep, freed, seen)
    if changed:
        fs.bio.bdwrite(bp)
