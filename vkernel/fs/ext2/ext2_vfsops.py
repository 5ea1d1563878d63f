"""ext2 mounts: the superblock, the group descriptors, features, sync, unmount.

FreeBSD counterpart: sys/fs/ext2fs/ext2_vfsops.c (ext2_mount, ext2_compute_sb_data,
ext2_check_sb_compat, ext2_statfs, ext2_sync, ext2_unmount, ext2_vget);
Linux's is fs/ext2/super.c (ext2_fill_super, ext2_check_descriptors,
ext2_setup_super, ext2_sync_super, ext2_put_super, ext2_error).

Mounting reads and checks the superblock and every group descriptor; a bad
value is a mount error (EINVAL) with a log line saying what is wrong.  An
incompatible feature the driver lacks refuses the mount; a read-only-
compatible one mounts read-only, naming it.  A read-write mount clears
EXT2_VALID_FS on disk at once and counts the mount, so a vkernel that dies
leaves the image marked not clean; unmount() writes everything back and
restores the state found at mount time.  Free counts live in the group
descriptors; the superblock's totals are written at sync, as Linux does.

Errors found later (ext2_error) are logged, set EXT2_ERROR_FS, and with
errors=remount-ro (or panic) make the mount read-only; the operation that
met them fails with EIO.
"""
import bisect
import collections
import os
import weakref

from vkernel.abi.linux import errno as E
from vkernel.abi.linux.stat import EXT4_SUPER_MAGIC
from vkernel.kernel import msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.vfs.mount import MNT_RDONLY, Mount, statfs_dict
from vkernel.vfs.vfs_bio import BufCache
from vkernel.vfs.vnode import VDIR

from . import ext2_alloc, ext2_bmap, ext2_lookup
from . import ext2_disklayout as D
from . import ext2_inode
from .ext2_super import MountError, check_descriptors, check_super, feature_check
from .ext2_vnops import MALFORMED, Ext2Vnode

DIRCACHE_MAX = 256          # directories whose index is kept
VNODE_LRU = 1024            # recently used vnodes kept alive (the free list)
IDIRTY_MAX = 2048           # changed inodes before they go to their buffers


class SysZone:
    """The block ranges holding metadata; data pointers must avoid them."""

    def __init__(self, ranges):
        merged = []
        for start, end, _what in sorted(r for r in ranges if r[1] > r[0]):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [s for s, _ in merged]
        self.ends = [e for _, e in merged]
        self.total = sum(e - s for s, e in merged)

    def overlaps(self, start, n):
        i = bisect.bisect_right(self.starts, start + n - 1) - 1
        return i >= 0 and self.ends[i] > start


class Ext2Mount(Mount):
    """A mounted ext2 filesystem on a block device (struct ext2_sb_info)."""

    fstype = "ext2"
    magic = EXT4_SUPER_MAGIC

    def __init__(self, disk, flags=0, source=None, devno=None):
        super().__init__(source or disk.path, flags | (MNT_RDONLY if disk.readonly else 0),
                         devno)
        self.disk = disk            # the BlockDevice (FreeBSD's um_devvp)
        self.dead = False
        self.depth = 0              # VOPs in progress (see ext2_vnops.vop)
        self.pending = []           # unlinked inodes whose last vnode died
        self.orphans = weakref.WeakValueDictionary()    # unlinked, still in use
        self.dircache = collections.OrderedDict()
        self.vlru = collections.OrderedDict()
        self.idirty = {}            # ino -> changed in-core Inode (see iupdate)
        self.gdirty = set()         # changed group descriptors
        self.generation = int.from_bytes(os.urandom(4), "little")
        self.mount_state = 0
        self.mounted_rw = False     # set once the mount has succeeded read-write
        self._read_super()
        self.bio = BufCache(disk, self.bsize, self.nblocks)
        self._read_groups()
        self.root = self._read_root()
        self.mounted_rw = not self.readonly
        if self.mounted_rw:
            self._setup_super()

    def _read_root(self):
        try:
            root = self.iget(D.ROOT_INO)
            if root.vtype == VDIR:
                ext2_lookup.index(self, root.ip)
                return root
        except KernelError as e:
            if e.errno != E.EIO:
                raise
        except MALFORMED as e:
            msgbuf.log(f"EXT2-fs ({self.source}): error: {type(e).__name__}: {e}")
        msgbuf.log(f"EXT2-fs ({self.source}): error: corrupt root inode, run e2fsck")
        raise KernelError(E.EUCLEAN, "corrupt root inode")

    # -- the superblock ---------------------------------------------------------------
    def _mount_error(self, msg):
        msgbuf.log(f"EXT2-fs ({self.source}): error: {msg}")
        return KernelError(E.EINVAL, msg)

    def _read_super(self):
        if self.disk.size < D.SUPERBLOCK_OFFSET + D.SUPERBLOCK_SIZE:
            raise self._mount_error("device too small for a superblock")
        self.sbraw = bytearray(self.disk.read(D.SUPERBLOCK_OFFSET, D.SUPERBLOCK_SIZE))
        self.sb = sb = D.Superblock.unpack(self.sbraw)
        try:
            geo = check_super(sb, self.sbraw, self.disk.size)
            ro_reason = feature_check(sb)
        except MountError as e:
            raise self._mount_error(str(e)) from None
        for name, value in geo.items():
            setattr(self, name, value)
        if ro_reason and not self.readonly:
            msgbuf.log(f"EXT2-fs ({self.source}): warning: mounting read-only: {ro_reason}")
            self.flags |= MNT_RDONLY
        self.has_filetype = bool(sb.s_feature_incompat & D.INCOMPAT_FILETYPE)
        self.sectors_per_block = self.bsize // 512
        self.nindir = self.bsize // 4
        self.max_size = _max_size(self)

    def _setup_super(self):
        """ext2_setup_super + ext2_sync_fs at a read-write mount."""
        sb = self.sb
        self.mount_state = sb.s_state
        now = ext2_inode.now()[0]
        warn = None
        if not sb.s_state & D.VALID_FS:
            warn = "mounting unchecked fs"
        elif sb.s_state & D.ERROR_FS:
            warn = "mounting fs with errors"
        elif 0 <= sb.s_max_mnt_count <= sb.s_mnt_count:
            warn = "maximal mount count reached"
        elif sb.s_checkinterval and sb.s_lastcheck + sb.s_checkinterval <= now:
            warn = "checktime reached"
        if warn:
            msgbuf.log(f"EXT2-fs ({self.source}): warning: {warn}, "
                       "running e2fsck is recommended")
        if sb.s_max_mnt_count == 0:
            sb.s_max_mnt_count = D.DFL_MAX_MNT_COUNT
        sb.s_mnt_count = (sb.s_mnt_count + 1) & 0xFFFF
        sb.s_mtime = now & 0xFFFFFFFF
        sb.s_state &= ~D.VALID_FS
        self._write_super()
        self.disk.flush()

    def _write_super(self):
        """ext2_sync_super: totals, write time, and the primary superblock."""
        sb = self.sb
        sb.s_free_blocks_count = self.free_blocks
        sb.s_free_inodes_count = self.free_inodes
        sb.s_wtime = ext2_inode.now()[0] & 0xFFFFFFFF
        sb.pack_into(self.sbraw)
        self.disk.write(D.SUPERBLOCK_OFFSET, self.sbraw)

    def set_large_file(self):
        """A file grew past 2 GiB: record RO_COMPAT_LARGE_FILE (and revision 1)."""
        sb = self.sb
        if sb.s_feature_ro_compat & D.RO_COMPAT_LARGE_FILE and sb.s_rev_level:
            return
        if sb.s_rev_level == D.GOOD_OLD_REV:      # ext2_update_dynamic_rev
            msgbuf.log(f"EXT2-fs ({self.source}): warning: updating to rev 1 "
                       "because of new feature flag")
            sb.s_rev_level, sb.s_first_ino = D.DYNAMIC_REV, D.GOOD_OLD_FIRST_INO
            sb.s_inode_size = D.GOOD_OLD_INODE_SIZE
        sb.s_feature_ro_compat |= D.RO_COMPAT_LARGE_FILE
        self._write_super()

    # -- group descriptors --------------------------------------------------------------
    def _read_groups(self):
        self.gdt_bufs, self.groups = [], []
        for i in range(self.gdb):
            try:
                bp = self.bio.bread(self._descriptor_loc(i))
            except KernelError:
                raise self._mount_error(f"unable to read group descriptors ({i})") from None
            self.bio.pin(bp)
            self.gdt_bufs.append(bp)
        for g in range(self.ngroups):
            bp = self.gdt_bufs[g // self.dpb]
            self.groups.append(D.GroupDesc.unpack(bp.data, (g % self.dpb) * D.GROUP_DESC_SIZE))
        try:
            check_descriptors(self)
        except MountError as e:
            raise self._mount_error(str(e)) from None
        self.free_blocks = sum(gd.bg_free_blocks_count for gd in self.groups)
        self.free_inodes = sum(gd.bg_free_inodes_count for gd in self.groups)
        self.sysz = SysZone(self.meta_ranges())

    def _descriptor_loc(self, i):
        """Block of group descriptor block i (Linux descriptor_loc)."""
        sb = self.sb
        if not self.meta_bg or i < sb.s_first_meta_bg:
            return self.fdb + 1 + i
        g = self.dpb * i
        return self.group_first_block(g) + (1 if self.bg_has_super(g) else 0)

    def bg_has_super(self, g):
        if g <= 1 or not self.sb.s_feature_ro_compat & D.RO_COMPAT_SPARSE_SUPER:
            return True
        if g % 2 == 0:
            return False
        for p in (3, 5, 7):
            n = p
            while n < g:
                n *= p
            if n == g:
                return True
        return False

    def _group_base_meta(self, g):
        """Blocks at the start of group g for superblock and descriptor copies."""
        has_super = 1 if self.bg_has_super(g) else 0
        if not self.meta_bg or g // self.dpb < self.sb.s_first_meta_bg:
            gdb = self.sb.s_first_meta_bg if self.meta_bg else self.gdb
            return has_super * (1 + gdb + self.sb.s_reserved_gdt_blocks)
        return has_super + (1 if g % self.dpb in (0, 1, self.dpb - 1) else 0)

    def meta_ranges(self):
        """[(first block, end, what)] of every metadata area."""
        ranges = [(0, self.fdb, "boot block")] if self.fdb else []
        for g, gd in enumerate(self.groups):
            first = self.group_first_block(g)
            ranges += [(first, first + self._group_base_meta(g), f"group {g} superblock"),
                       (gd.bg_block_bitmap, gd.bg_block_bitmap + 1, f"group {g} block bitmap"),
                       (gd.bg_inode_bitmap, gd.bg_inode_bitmap + 1, f"group {g} inode bitmap"),
                       (gd.bg_inode_table, gd.bg_inode_table + self.itb,
                        f"group {g} inode table")]
        return ranges

    def group_first_block(self, g):
        return self.fdb + g * self.bpg

    def group_nblocks(self, g):
        return min(self.bpg, self.nblocks - self.group_first_block(g))

    def gd_dirty(self, g):
        """Group descriptor g changed: packed into its buffer at iflush()."""
        self.gdirty.add(g)

    def _gflush(self):
        while self.gdirty:
            g = self.gdirty.pop()
            bp = self.gdt_bufs[g // self.dpb]
            self.groups[g].pack_into(bp.data, (g % self.dpb) * D.GROUP_DESC_SIZE)
            self.bio.bdwrite(bp)

    # -- inodes -------------------------------------------------------------------------
    def inode_loc(self, ino):
        g, i = divmod(ino - 1, self.ipg)
        blk, off = divmod(i * self.isize, self.bsize)
        return self.groups[g].bg_inode_table + blk, off

    def valid_ino(self, ino):
        return (ino == D.ROOT_INO or self.first_ino <= ino) and 1 <= ino <= self.ninodes

    def iget(self, ino):
        """The vnode of inode ino (ext2_iget); EIO for a bad or deleted inode."""
        vp = self.vcache.get(ino)
        if vp is not None:
            self._hold(vp)
            return vp
        if not self.valid_ino(ino):
            self.corrupt(f"bad inode number: {ino}")
        ip = self._iload(ino)
        why = ext2_inode.check(ip, self.bsize, self.max_size)
        if why:
            self.corrupt(f"inode {ino}: {why}")
        vp = self.vnode_for(ip)
        if ip.nlink == 0:
            self.make_orphan(vp)
        return vp

    def vnode_for(self, ip):
        """The vnode of a just-read or just-made in-core inode."""
        vp = self.vcache.put(ip.ino, Ext2Vnode(self, ip))
        self._hold(vp)
        return vp

    def _hold(self, vp):
        """Keep vp alive a while after its last user (FreeBSD's vnode free list)."""
        lru = self.vlru
        lru[vp.ip.ino] = vp
        lru.move_to_end(vp.ip.ino)
        if len(lru) > VNODE_LRU:
            lru.popitem(last=False)

    def _iload(self, ino):
        """The in-core inode: a changed one not yet written back, else from disk."""
        ip = self.idirty.get(ino)
        if ip is None:
            blkno, off = self.inode_loc(ino)
            ip = ext2_inode.load(ino, self.bio.bread(blkno).data, off, self.isize)
            ip.blkno, ip.offset = blkno, off
        return ip

    def iupdate(self, ip):
        """ip changed: it goes to its inode table buffer at the next iflush()
        (sync, fsync, unmount, or when many inodes wait), so a file written
        in many small pieces costs one inode write."""
        self.idirty[ip.ino] = ip
        if len(self.idirty) > IDIRTY_MAX:
            self.iflush()

    def iflush(self):
        """Pack every changed inode and group descriptor into its buffer
        (delayed writes)."""
        self._gflush()
        while self.idirty:
            _ino, ip = self.idirty.popitem()
            bp = self.bio.bread(ip.blkno)
            ext2_inode.store(ip, bp.data, ip.offset)
            self.bio.bdwrite(bp)

    def now(self, ip):
        return ext2_inode.truncate_time(ip, ext2_inode.now())

    def truncate_time(self, ip, ts):
        return ext2_inode.truncate_time(ip, ts)

    def check_rw(self):
        """EIO after unmount, EROFS on a read-only mount."""
        if self.dead:
            raise KernelError(E.EIO)
        self.check_writable()

    def inode_goal(self, ip):
        """Where a file's first blocks go: its group, coloured by inode number."""
        g = (ip.ino - 1) // self.ipg
        return self.group_first_block(g) + (ip.ino % 16) * (self.group_nblocks(g) // 16)

    def new_inode(self, dip, mode, uid, gid):
        """ext2_new_inode: an allocated, initialised Inode next to directory dip."""
        is_dir = mode & D.S_IFMT == D.S_IFDIR
        ino = ext2_alloc.alloc_inode(self, dip.ino, is_dir)
        blkno, off = self.inode_loc(ino)
        bp = self.bio.bread(blkno)
        extra = min(self.want_extra_isize, self.isize - D.GOOD_OLD_INODE_SIZE)
        ip = ext2_inode.fresh(ino, bp.data, off, self.isize, extra)
        self.bio.bdwrite(bp)                    # keeps the zeroed tail
        ip.blkno, ip.offset = blkno, off
        ip.mode, ip.uid, ip.gid, ip.nlink = mode, uid, gid, 1
        ip.raw.i_generation = self._next_generation()
        ip.flags = 0
        self.iupdate(ip)
        return ip

    def _next_generation(self):
        """i_generation of a new inode (NFS file handles tell reuses apart)."""
        self.generation = (self.generation + 0x9E3779B1) & 0xFFFFFFFF
        return self.generation

    def ifree(self, ip):
        """Release an inode with no links and no users (ext2_evict_inode)."""
        if ip.has_data_blocks(self.bsize):
            ext2_bmap.btruncate(self, ip, 0)
        self._release_ea_block(ip)
        ip.size = 0
        ip.dtime = ext2_inode.now()[0] & 0xFFFFFFFF
        self.iupdate(ip)
        ext2_alloc.free_inode(self, ip.ino, ip.is_dir())
        self.dircache.pop(ip.ino, None)

    def _release_ea_block(self, ip):
        """Drop the inode's reference to its extended-attribute block."""
        blk, ip.file_acl = ip.file_acl, 0
        if not blk:
            return
        if not self.fdb < blk < self.nblocks or self.sysz.overlaps(blk, 1):
            self.error(f"inode {ip.ino}: bad extended attribute block {blk}")
            return
        bp = self.bio.bread(blk)
        magic, refs, _nblocks = D.EA_HEADER.unpack_from(bp.data)
        if magic != D.EA_MAGIC:
            self.error(f"inode {ip.ino}: bad extended attribute block {blk}")
            return
        ip.blocks = max(0, ip.blocks - self.sectors_per_block)
        if refs > 1:
            D.EA_HEADER.pack_into(bp.data, 0, magic, refs - 1, _nblocks)
            self.bio.bdwrite(bp)
        else:
            ext2_alloc.free_blocks(self, [blk])

    # -- orphans: unlinked inodes freed when their last vnode dies ----------------------
    def make_orphan(self, vp):
        """vp lost its last link: free the inode when vp dies (ext2_evict_inode)."""
        ino = vp.ip.ino
        self.vlru.pop(ino, None)
        if self.orphans.get(ino) is not vp:
            self.orphans[ino] = vp
            weakref.finalize(vp, self.orphaned, ino)

    def orphaned(self, ino):
        """Finalizer of an unlinked vnode: free the inode at the next chance."""
        self.pending.append(ino)

    def reap(self):
        """Free the inodes queued by orphaned() (between operations)."""
        while self.pending:
            ino = self.pending.pop()
            if self.vcache.get(ino) is not None or self.readonly:
                continue
            try:
                ip = self._iload(ino)
                if ip.nlink == 0 and ip.mode and not ip.dtime:
                    self.ifree(ip)
            except KernelError:
                pass            # logged by corrupt(); e2fsck will finish the job

    # -- directories' in-core indexes ----------------------------------------------------
    def dircache_put(self, ino, idx):
        self.dircache[ino] = idx
        self.dircache.move_to_end(ino)
        while len(self.dircache) > DIRCACHE_MAX:
            self.dircache.popitem(last=False)

    # -- errors ----------------------------------------------------------------------------
    def error(self, msg):
        """ext2_error: log, mark the filesystem as having errors, maybe go read-only."""
        msgbuf.log(f"EXT2-fs error (device {self.source}): {msg}")
        if not self.mounted_rw or self.readonly or self.dead:
            return
        self.sb.s_state |= D.ERROR_FS
        self.mount_state |= D.ERROR_FS
        try:
            self._write_super()
        except KernelError:
            pass
        if self.sb.s_errors in (D.ERRORS_RO, D.ERRORS_PANIC):
            msgbuf.log(f"EXT2-fs ({self.source}): error: remounting filesystem read-only")
            self.iflush()
            self.bio.flush()
            self.flags |= MNT_RDONLY

    def corrupt(self, msg):
        """ext2_error and fail the current operation with EIO."""
        self.error(msg)
        raise KernelError(E.EIO, msg)

    # -- sync, statfs, unmount ----------------------------------------------------------------
    def sync(self):
        """sync(2)/syncfs(2): every dirty block and the superblock, durably."""
        if self.dead or self.readonly and not self.bio.dirty_count():
            return
        self.reap()
        self.iflush()
        self.bio.flush()
        if not self.readonly:
            self._write_super()
        self.disk.flush()

    def fsync(self):
        """fsync(2) of any file: its data and metadata are in the dirty blocks."""
        if self.dead:
            raise KernelError(E.EIO)
        self.iflush()
        self.bio.sync()

    def unmount(self):
        """Free orphans, write everything, restore the state found at mount
        (ext2_put_super): a clean filesystem stays clean."""
        if self.dead:
            return
        if self.mounted_rw:
            self._put_super()
        self.disk.flush()
        self.dead = True
        self.bio.invalidate_all()
        self.disk.close()

    def _put_super(self):
        """Write everything and the state found at mount (read-write mounts)."""
        if not self.readonly:
            self.reap()
            for vp in list(self.orphans.values()):
                if vp.ip.nlink == 0 and not vp.ip.dtime:
                    self.ifree(vp.ip)
        self.iflush()
        self.bio.flush()
        self.sb.s_state = self.mount_state
        self._write_super()

    def remount(self, flags):
        """MS_REMOUNT (ext2_remount): going read-only writes everything back
        and leaves the filesystem marked as found (clean), as an unmount
        does; going read-write checks the features and marks it in use."""
        if self.dead:
            raise KernelError(E.EIO)
        to_ro = bool(flags & MNT_RDONLY)
        if to_ro and self.mounted_rw:
            self._put_super()
            self.disk.flush()
            self.mounted_rw = False
        elif not to_ro and not self.mounted_rw:
            if self.disk.readonly or feature_check(self.sb):
                raise KernelError(E.EROFS)
            self.flags = flags
            self.mounted_rw = True
            self._setup_super()
        self.flags = flags

    def statfs(self):
        if self.pending and self.depth == 0 and not self.dead:
            self.reap()
        bavail = max(0, self.free_blocks - self.sb.s_r_blocks_count)
        return statfs_dict(self, self.bsize, blocks=self.nblocks - self.sysz.total,
                           bfree=self.free_blocks, bavail=bavail, files=self.ninodes,
                           ffree=self.free_inodes, namelen=D.NAME_LEN)


def _max_size(fs):
    """ext2_max_size: what i_block maps, capped so that i_blocks (32 bits of
    512-byte sectors, indirect blocks included) cannot overflow."""
    bits, ppb = fs.bsize.bit_length() - 1, fs.nindir
    upper = ((1 << 32) - 1) >> (bits - 9)
    res = ext2_bmap.max_blocks(fs)
    meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb)
    if res + meta > upper:
        res, upper = upper, upper - D.NDIR_BLOCKS - ppb
        if upper < ppb * ppb:
            res -= 1 + 1 + -(-upper // ppb)
        else:
            upper -= ppb * ppb
            res -= 1 + (1 + ppb) + 1 + -(-upper // ppb) + -(-upper // (ppb * ppb))
    return min(res << bits, (1 << 63) - 1)
