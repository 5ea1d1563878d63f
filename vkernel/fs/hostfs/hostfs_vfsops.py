"""hostfs mounts: a host directory as a guest filesystem (for now, the root).

FreeBSD counterpart: a filesystem's vfsops (sys/fs/ext2fs/ext2_vfsops.c:
mount, root, statfs, vget); gVisor's gofer mount plays the same part.  The
ext2 driver will replace this as the root filesystem behind the same Mount
and Vnode interfaces.

Confinement: the mount opens its directory once (O_PATH|O_DIRECTORY); every
other host descriptor is opened relative to a vnode's descriptor by vget()
on one validated component with O_NOFOLLOW.  So the only host inodes the
guest can reach are those below that directory, whatever paths, '..'s,
symlinks or hard links it tries (namei never passes any of them here).

vget keys vnodes by the host (st_dev, st_ino); the guest sees one fixed
device number for the whole mount and the host inode numbers.
"""
import os

from vkernel.abi.linux.stat import EXT4_SUPER_MAGIC, makedev
from vkernel.vfs.mount import Mount, statfs_dict
from vkernel.vfs.vnode import VBLK, VCHR, VFIFO, VREG, VSOCK, iftovt

from .hostfs_meta import MetaStore
from .hostfs_subr import fdpath, host, hostname, raise_nofile_limit
from .hostfs_vnops import HostVnode

HOSTFS_DEV = makedev(8, 1)      # a fixed st_dev for the root filesystem
SPECIAL = (VCHR, VBLK, VFIFO, VSOCK)     # kept as empty regular host files
_O_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


class HostMount(Mount):
    """The host directory `hostdir` mounted as a guest filesystem."""

    fstype = "hostfs"
    magic = EXT4_SUPER_MAGIC      # ext2/3/4 share it: we stand in for ext2

    def __init__(self, hostdir, flags=0, dev=HOSTFS_DEV, source=None):
        super().__init__(source or hostdir, flags, dev)
        raise_nofile_limit()
        self.meta = MetaStore()
        with host():
            fd = os.open(hostdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.root = self._vnode(fd, os.fstat(fd))

    def vget(self, dvp, name):
        """The vnode of `name` in directory vnode `dvp` (ENOENT if none)."""
        hname = hostname(name)
        with host():
            st = os.stat(hname, dir_fd=dvp.fd, follow_symlinks=False)
        vp = self.vcache.get((st.st_dev, st.st_ino))
        if vp is not None:
            return vp
        with host():
            fd = os.open(hname, _O_PATH, dir_fd=dvp.fd)
            st = os.fstat(fd)
        vp = self.vcache.get((st.st_dev, st.st_ino))   # lost a race with the host
        if vp is not None:
            os.close(fd)
            return vp
        return self._vnode(fd, st)

    def _vnode(self, fd, st):
        vtype = iftovt(st.st_mode)
        vp = HostVnode(self, vtype, fd, st)
        meta = vp.meta()
        if vtype == VREG and meta is not None and iftovt(meta.mode) in SPECIAL:
            vp.vtype = iftovt(meta.mode)        # a guest FIFO, socket or device
        return self.vcache.put(vp.key, vp)

    def statfs(self):
        with host():
            sv = os.statvfs(fdpath(self.root.fd))
        return statfs_dict(self, sv.f_frsize, blocks=sv.f_blocks, bfree=sv.f_bfree,
                           bavail=sv.f_bavail, files=sv.f_files, ffree=sv.f_ffree,
                           namelen=sv.f_namemax)
