"""ext2 vnodes: the VOPs on files, directories, symlinks and device nodes.

FreeBSD counterpart: sys/fs/ext2fs/ext2_vnops.c (ext2_getattr, ext2_setattr,
ext2_read, ext2_write, ext2_create, ext2_mkdir, ext2_link, ext2_rename, ...);
Linux's are fs/ext2/namei.c, file.c, inode.c (ext2_setattr, ext2_setsize)
and symlink.c.

An Ext2Vnode holds its in-core Inode (`ip`).  Every change to an inode is
recorded at once with fs.iupdate, which packs it into its inode table
buffer at the next sync, fsync or unmount; the buffer cache then decides
when it reaches the disk.  File data moves in whole blocks straight
between the caller and the image (vfs_bio.read_blocks/write_blocks); a
partial block goes through the cache.

Every VOP runs under @vop: it frees inodes orphaned since the last call
(unlinked files whose last user went away), trims the buffer cache after
the outermost call, and turns what a malformed image could make Python
raise into an ext2_error and EIO, never an exception in the kernel.
"""
import functools
import struct

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vnode import (MODE_MASK, VBLK, VCHR, VDIR, VLNK, VREG, Vattr,
                               Vnode, iftovt, vttoif)

from . import ext2_bmap, ext2_lookup
from . import ext2_disklayout as D

MALFORMED = (struct.error, IndexError, ValueError, OverflowError, UnicodeError)
_FT_DT = {D.FT_REG_FILE: S.DT_REG, D.FT_DIR: S.DT_DIR, D.FT_CHRDEV: S.DT_CHR,
          D.FT_BLKDEV: S.DT_BLK, D.FT_FIFO: S.DT_FIFO, D.FT_SOCK: S.DT_SOCK,
          D.FT_SYMLINK: S.DT_LNK}
_LARGE = 1 << 31
_RELATIME = 24 * 3600


def vop(fn):
    """Wrap a VOP: reap orphans before, trim the cache after, EIO for bad data."""
    @functools.wraps(fn)
    def wrapper(vp, *args, **kwargs):
        fs = vp.mount
        outer = fs.depth == 0
        if outer and fs.dead:
            raise KernelError(E.EIO)
        fs.depth += 1
        try:
            if outer and fs.pending:
                fs.reap()
            return fn(vp, *args, **kwargs)
        except MALFORMED as e:
            fs.error(f"inode {vp.ip.ino}: {fn.__name__}: malformed metadata "
                     f"({type(e).__name__}: {e})")
            raise KernelError(E.EIO) from None
        finally:
            fs.depth -= 1
            if outer:
                fs.bio.trim()
    return wrapper


def _ftype(vp):
    return D.IFMT_TO_FT.get(vp.ip.mode & D.S_IFMT, D.FT_UNKNOWN)


class Ext2Vnode(Vnode):
    """One ext2 file (vnode + in-core inode)."""

    def __init__(self, mount, ip):
        super().__init__(mount, iftovt(ip.mode))
        self.ip = ip

    # -- attributes ---------------------------------------------------------------------
    @vop
    def getattr(self):
        ip, fs = self.ip, self.mount
        rdev = S.makedev(*ip.rdev()) if self.vtype in (VCHR, VBLK) else 0
        return Vattr(type=self.vtype, mode=ip.mode & MODE_MASK, nlink=ip.nlink,
                     uid=ip.uid, gid=ip.gid, size=ip.size, rdev=rdev, ino=ip.ino,
                     dev=fs.dev, blksize=fs.bsize, blocks=ip.blocks,
                     atime=ip.atime, mtime=ip.mtime, ctime=ip.ctime)

    @vop
    def setattr(self, mode=None, uid=None, gid=None, size=None, atime=None, mtime=None):
        fs, ip = self.mount, self.ip
        fs.check_rw()
        if size is not None:
            self._truncate(size)
        if mode is not None:
            ip.mode = (ip.mode & D.S_IFMT) | (mode & MODE_MASK)
        if uid is not None:
            ip.uid = uid & 0xFFFFFFFF
        if gid is not None:
            ip.gid = gid & 0xFFFFFFFF
        if atime is not None:
            ip.atime = fs.truncate_time(ip, atime)
        if mtime is not None:
            ip.mtime = fs.truncate_time(ip, mtime)
        ip.ctime = fs.now(ip)
        fs.iupdate(ip)

    def _truncate(self, size):
        """ext2_setsize: free blocks past the new end, zero the last block's tail."""
        fs, ip = self.mount, self.ip
        if self.vtype != VREG:
            raise self._nodata()
        if size > fs.max_size:
            raise KernelError(E.EFBIG)
        bs = fs.bsize
        if size < ip.size:
            if size % bs:
                pbn = ext2_bmap.bmap(fs, ip, size // bs)
                if pbn:
                    bp = fs.bio.bread(pbn)
                    bp.data[size % bs:] = bytes(bs - size % bs)
                    fs.bio.bdwrite(bp)
            ext2_bmap.btruncate(fs, ip, -(-size // bs))
        elif size >= _LARGE:
            fs.set_large_file()
        ip.size = size
        ip.mtime = fs.now(ip)

    # -- data -------------------------------------------------------------------------------
    @vop
    def read(self, off, n):
        if self.vtype != VREG:
            raise self._nodata()
        fs, ip = self.mount, self.ip
        if off >= ip.size or n <= 0:
            return b""
        n = min(n, ip.size - off)
        bs = fs.bsize
        lb0 = off // bs
        pbns = ext2_bmap.bmap_range(fs, ip, lb0, (off + n - 1) // bs - lb0 + 1)
        data = fs.bio.read_blocks(pbns)
        self._accessed()
        start = off - lb0 * bs
        return data if start == 0 and len(data) == n else data[start:start + n]

    def _accessed(self):
        """relatime: atime moves when older than mtime/ctime or a day old."""
        fs, ip = self.mount, self.ip
        if fs.readonly:
            return
        now = fs.now(ip)
        if ip.atime <= ip.mtime or ip.atime <= ip.ctime or now[0] - ip.atime[0] >= _RELATIME:
            ip.atime = now
            fs.iupdate(ip)

    @vop
    def write(self, off, data):
        if self.vtype != VREG:
            raise self._nodata()
        fs, ip = self.mount, self.ip
        fs.check_rw()
        if not data:
            return 0
        if off + len(data) > fs.max_size:
            if off >= fs.max_size:
                raise KernelError(E.EFBIG)
            data = data[:fs.max_size - off]
        bs = fs.bsize
        lb0, count = off // bs, (off + len(data) - 1) // bs - off // bs + 1
        pbns, fresh = ext2_bmap.balloc_range(fs, ip, lb0, count)
        if len(pbns) < count:                       # ENOSPC part of the way
            data = data[:(lb0 + len(pbns)) * bs - off]
        self._write_blocks(pbns, fresh, off - lb0 * bs, memoryview(data))
        end = off + len(data)
        if end > ip.size:
            ip.size = end
            if end >= _LARGE:
                fs.set_large_file()
        ip.mtime = ip.ctime = fs.now(ip)
        fs.iupdate(ip)
        return len(data)

    def _write_blocks(self, pbns, fresh, head, view):
        """Put view at byte `head` of the blocks pbns: whole blocks straight to
        the disk, a partial first or last block through the buffer cache."""
        bs, bio = self.mount.bsize, self.mount.bio
        first, last = 0, len(pbns)
        if head or len(view) < bs:
            take = min(bs - head, len(view))
            self._write_partial(pbns[0], fresh[0], head, view[:take])
            view, first = view[take:], 1
        tail = len(view) % bs
        if tail and first < last:
            self._write_partial(pbns[-1], fresh[-1], 0, view[len(view) - tail:])
            view, last = view[:len(view) - tail], last - 1
        if first < last:
            bio.write_blocks(pbns[first:last], view)

    def _write_partial(self, pbn, fresh, boff, chunk):
        bio = self.mount.bio
        if fresh:
            bp = bio.getblk(pbn)
            bp.data[:] = bio.zero
        else:
            bp = bio.bread(pbn)
        bp.data[boff:boff + len(chunk)] = chunk
        bio.bdwrite(bp)

    @vop
    def readlink(self):
        if self.vtype != VLNK:
            raise KernelError(E.EINVAL)
        fs, ip = self.mount, self.ip
        if ip.is_fast_symlink(fs.bsize):
            raw = ip.link_text()
        else:
            pbn = ext2_bmap.bmap(fs, ip, 0)
            if not pbn:
                fs.corrupt(f"symlink {ip.ino} has no data block")
            raw = fs.bio.read_blocks([pbn])[:ip.size]
        return raw.decode("utf-8", "surrogateescape")

    @vop
    def fsync(self):
        self.mount.fsync()
        return 0

    # -- directories: looking up --------------------------------------------------------------
    def _dir(self):
        if self.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        return ext2_lookup.index(self.mount, self.ip)

    def _entry(self, name):
        """The vnode that name in this directory refers to (ENOENT)."""
        ent = self._dir().names.get(name)
        if ent is None:
            raise KernelError(E.ENOENT)
        vp = self.mount.iget(ent[0])
        if vp.vtype == VDIR:
            self._check_alias(vp, name)
        return vp

    def _check_alias(self, vp, name):
        """A directory with a second name must not lead back to an ancestor
        (Linux d_splice_alias: "lookup would have caused loop")."""
        node = self
        if vp is not self and vp is not self.mount.root:
            if vp.v_parent is None or vp.v_parent is self:
                return
            node = self.v_parent
        for _ in range(4096):
            if node is None:
                return
            if node is vp:
                self.mount.corrupt(f"directory #{self.ip.ino}: entry '{name}' "
                                   f"would make a loop through #{vp.ip.ino}")
            node = node.v_parent

    @vop
    def lookup(self, name):
        return self._entry(name)

    @vop
    def parent(self):
        if self.vtype != VDIR or self.ip.nlink == 0:
            raise KernelError(E.ENOENT)
        if self.v_parent is not None or self is self.mount.root:
            return self.v_parent or self
        vp = self.mount.iget(self._dir().dotdot)
        if vp.vtype != VDIR:
            self.mount.corrupt(f"directory #{self.ip.ino}: '..' is not a directory")
        return vp

    @vop
    def readdir(self):
        idx = self._dir()
        ftypes = _FT_DT
        out = [(name, e[0], ftypes.get(e[1], S.DT_UNKNOWN)) for name, e in idx.names.items()]
        self._accessed()
        return out

    # -- directories: making names -------------------------------------------------------------
    def _check_new(self, name):
        """EEXIST/ENOENT/ENAMETOOLONG before allocating anything for name."""
        idx = self._dir()
        self.mount.check_rw()
        if self.ip.nlink == 0:
            raise KernelError(E.ENOENT)         # the directory was removed
        ext2_lookup.encode_name(name)
        if name in idx.names:
            raise KernelError(E.EEXIST)

    def _enter(self, name, ip):
        """Link the new inode ip as name here; on failure the inode is freed."""
        fs = self.mount
        try:
            ext2_lookup.add_entry(fs, self.ip, name, ip.ino,
                                  D.IFMT_TO_FT[ip.mode & D.S_IFMT])
        except KernelError:
            ip.nlink = 0
            fs.ifree(ip)
            raise
        return fs.vnode_for(ip)

    @vop
    def create(self, name, mode, uid, gid):
        self._check_new(name)
        ip = self.mount.new_inode(self.ip, D.S_IFREG | (mode & MODE_MASK), uid, gid)
        return self._enter(name, ip)

    @vop
    def mknod(self, name, vtype, mode, rdev, uid, gid):
        if vtype in (VDIR, VLNK) or not vttoif(vtype):
            raise KernelError(E.EINVAL)
        self._check_new(name)
        fs = self.mount
        ip = fs.new_inode(self.ip, vttoif(vtype) | (mode & MODE_MASK), uid, gid)
        if vtype in (VCHR, VBLK):
            ip.set_rdev(S.major(rdev), S.minor(rdev))
            fs.iupdate(ip)
        return self._enter(name, ip)

    @vop
    def symlink(self, name, target, uid, gid):
        fs = self.mount
        text = target.encode("utf-8", "surrogateescape")
        if len(text) + 1 > fs.bsize:
            raise KernelError(E.ENAMETOOLONG)
        self._check_new(name)
        ip = fs.new_inode(self.ip, D.S_IFLNK | 0o777, uid, gid)
        try:
            if len(text) <= D.FAST_SYMLINK_MAX:
                ip.set_link_text(text)
            else:
                (pbn,), _fresh = ext2_bmap.balloc_range(fs, ip, 0, 1)
                bp = fs.bio.getblk(pbn)
                bp.data[:] = text.ljust(fs.bsize, b"\0")
                fs.bio.bdwrite(bp)
            ip.size = len(text)
            fs.iupdate(ip)
        except KernelError:
            ip.nlink = 0
            fs.ifree(ip)
            raise
        return self._enter(name, ip)

    @vop
    def mkdir(self, name, mode, uid, gid):
        self._check_new(name)
        fs, dip = self.mount, self.ip
        if dip.nlink >= D.LINK_MAX:
            raise KernelError(E.EMLINK)
        ip = fs.new_inode(dip, D.S_IFDIR | (mode & MODE_MASK), uid, gid)
        try:
            ext2_lookup.make_empty(fs, ip, dip.ino)
            ip.nlink = 2
            fs.iupdate(ip)
        except KernelError:
            ip.nlink = 0
            fs.ifree(ip)
            raise
        vp = self._enter(name, ip)
        dip.nlink += 1
        fs.iupdate(dip)
        return vp

    @vop
    def link(self, vp, name):
        fs = self.mount
        if vp.mount is not fs:
            raise KernelError(E.EXDEV)
        if vp.vtype == VDIR:
            raise KernelError(E.EPERM)
        self._check_new(name)
        ip = vp.ip
        if ip.nlink == 0:
            raise KernelError(E.ENOENT)
        if ip.nlink >= D.LINK_MAX:
            raise KernelError(E.EMLINK)
        ext2_lookup.add_entry(fs, self.ip, name, ip.ino, _ftype(vp))
        ip.nlink += 1
        ip.ctime = fs.now(ip)
        fs.iupdate(ip)

    # -- directories: removing names -------------------------------------------------------------
    def _drop_link(self, vp):
        """One name fewer for vp; with none left it is freed once unused."""
        fs, ip = self.mount, vp.ip
        if ip.nlink == 0:
            fs.error(f"unlinking inode {ip.ino} with no links")
        else:
            ip.nlink -= 1
        ip.ctime = fs.now(ip)
        fs.iupdate(ip)
        if ip.nlink == 0:
            fs.make_orphan(vp)

    @vop
    def unlink(self, name):
        self.mount.check_rw()
        vp = self._entry(name)
        if vp.vtype == VDIR:
            raise KernelError(E.EISDIR)
        ext2_lookup.remove_entry(self.mount, self.ip, name)
        self._drop_link(vp)

    @vop
    def rmdir(self, name):
        self.mount.check_rw()
        vp = self._entry(name)
        if vp.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        if vp._dir().names:
            raise KernelError(E.ENOTEMPTY)
        ext2_lookup.remove_entry(self.mount, self.ip, name)
        self._kill_dir(vp)
        self.ip.nlink = max(0, self.ip.nlink - 1)
        self.mount.iupdate(self.ip)

    def _kill_dir(self, vp):
        """An empty directory lost its name: no links, no size (ext2_rmdir)."""
        fs = self.mount
        vp.ip.nlink, vp.ip.size = 0, 0
        vp.ip.ctime = fs.now(vp.ip)
        fs.iupdate(vp.ip)
        fs.dircache.pop(vp.ip.ino, None)
        fs.make_orphan(vp)

    @vop
    def rename(self, name, tdvp, tname, flags):
        fs = self.mount
        self._dir()
        fs.check_rw()
        if not isinstance(tdvp, Ext2Vnode) or tdvp.mount is not fs:
            raise KernelError(E.EXDEV)
        if tdvp.ip.nlink == 0:
            raise KernelError(E.ENOENT)         # the target directory was removed
        vp = self._entry(name)
        tent = tdvp._dir().names.get(tname)
        tvp = tdvp._entry(tname) if tent is not None else None
        if flags & F.RENAME_EXCHANGE:
            if tvp is None:
                raise KernelError(E.ENOENT)
            return self._exchange(name, vp, tdvp, tname, tvp)
        if tvp is vp:
            return None
        if tvp is not None and flags & F.RENAME_NOREPLACE:
            raise KernelError(E.EEXIST)
        self._check_replace(vp, tdvp, tvp)
        if tvp is not None:
            ext2_lookup.set_entry(fs, tdvp.ip, tname, vp.ip.ino, _ftype(vp))
            if tvp.vtype == VDIR:
                tdvp._kill_dir(tvp)
            else:
                tdvp._drop_link(tvp)
        else:
            ext2_lookup.encode_name(tname)
            ext2_lookup.add_entry(fs, tdvp.ip, tname, vp.ip.ino, _ftype(vp))
            if vp.vtype == VDIR:
                tdvp.ip.nlink += 1
                fs.iupdate(tdvp.ip)
        ext2_lookup.remove_entry(fs, self.ip, name)
        vp.ip.ctime = fs.now(vp.ip)
        fs.iupdate(vp.ip)
        if vp.vtype == VDIR:
            self._moved_dir(vp, tdvp)
            self.ip.nlink = max(0, self.ip.nlink - 1)
            fs.iupdate(self.ip)
        return None

    def _check_replace(self, vp, tdvp, tvp):
        """Type, emptiness and link-count rules of replacing tvp by vp."""
        if tvp is None:
            if vp.vtype == VDIR and tdvp is not self and tdvp.ip.nlink >= D.LINK_MAX:
                raise KernelError(E.EMLINK)
            return
        if tvp.vtype == VDIR:
            if vp.vtype != VDIR:
                raise KernelError(E.EISDIR)
            if tvp._dir().names:
                raise KernelError(E.ENOTEMPTY)
        elif vp.vtype == VDIR:
            raise KernelError(E.ENOTDIR)

    def _moved_dir(self, vp, tdvp):
        if tdvp is not self:
            ext2_lookup.set_dotdot(self.mount, vp.ip, tdvp.ip.ino)

    def _exchange(self, name, vp, tdvp, tname, tvp):
        """RENAME_EXCHANGE: the two names swap their inodes."""
        fs = self.mount
        ext2_lookup.set_entry(fs, self.ip, name, tvp.ip.ino, _ftype(tvp))
        ext2_lookup.set_entry(fs, tdvp.ip, tname, vp.ip.ino, _ftype(vp))
        if tdvp is not self:
            for moved, src, dst in ((vp, self, tdvp), (tvp, tdvp, self)):
                if moved.vtype == VDIR:
                    src._moved_dir(moved, dst)
                    dst.ip.nlink += 1
                    src.ip.nlink -= 1
            fs.iupdate(self.ip)
            fs.iupdate(tdvp.ip)
        for v in (vp, tvp):
            v.ip.ctime = fs.now(v.ip)
            fs.iupdate(v.ip)
