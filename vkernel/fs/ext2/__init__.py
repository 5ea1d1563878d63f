"""ext2: the second extended filesystem on a disk image, read-write.

FreeBSD counterpart: sys/fs/ext2fs; Linux's is fs/ext2.  Files, each using
only those below it:

    ext2_disklayout.py  on-disk structures and constants (data only)
    ext2_super.py       superblock and group descriptor checks at mount
    ext2_inode.py       in-core inodes: load, check, write back
    ext2_alloc.py       block and inode bitmaps, free counts, placement
    ext2_bmap.py        file blocks -> disk blocks; allocation, truncation
    ext2_lookup.py      directory entries and the per-directory index
    ext2_vnops.py       Ext2Vnode: the VOPs
    ext2_vfsops.py      Ext2Mount: mount, sync, statfs, unmount, errors

Blocks come from the buffer cache, vkernel.vfs.vfs_bio.  Revisions 0 and 1,
1 to 64 KiB blocks, sparse_super, large_file, filetype, meta_bg, flex_bg,
resize_inode, ext_attr (blocks kept and released), dir_index (the index
ignored and dropped on change, as Linux's ext2 does), has_journal without
needs_recovery.

May import: vkernel.abi, vkernel.kernel.errors, vkernel.kernel.msgbuf, vkernel.vfs.
"""
from vkernel.vfs.mount import MNT_RDONLY
from vkernel.vfs.vfs_bio import BlockDevice, CowDevice

from .ext2_vfsops import Ext2Mount
from .ext2_vnops import Ext2Vnode

__all__ = ["Ext2Mount", "Ext2Vnode", "ext2_mount"]


def ext2_mount(devpath_or_device, readonly=False, cow=False, flags=0, source=None,
               devno=None):
    """Mount the ext2 image at a path (or on an open BlockDevice): an Ext2Mount.

    `cow` keeps every write in memory (the image file is never changed);
    `readonly` mounts read-only.  A path is opened and locked here and
    closed again if the mount fails; unmount() closes it.
    """
    if readonly:
        flags |= MNT_RDONLY
    disk = devpath_or_device
    opened = isinstance(disk, (str, bytes))
    if opened:
        disk = CowDevice(disk) if cow else BlockDevice(disk, readonly=bool(flags & MNT_RDONLY))
    try:
        return Ext2Mount(disk, flags, source, devno)
    except BaseException:
        if opened:
            disk.close()
        raise
