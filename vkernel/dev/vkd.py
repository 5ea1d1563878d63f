"""vkd: the virtual disks, disk image files seen as block devices /dev/vkdN.

DragonFly counterpart: sys/dev/virtual/vkernel/disk/vdisk.c (vkd_attach,
vkd_doio) with the disk half of platform/vkernel64/platform/init.c
(init_disk: the flock and "Disk image %s is already in use"); Linux's
nearest is drivers/block/loop.c.

Every `-r file` and `-R file` on the command line is a disk, numbered in
command-line order from vkd0 (the root, when the root is an image; a root
directory takes no unit and the first image is vkd1).  A disk is attached
in the supervisor before the kernel forks: the image is opened and locked
there (exclusive for -r, shared for -R, whose writes stay in memory in a
CowDevice of the kernel process: a reboot starts again from the image),
so a second vkernel is refused before it boots and the lock lasts across
reboots.  Block devices have major VKD_MAJOR (240, the first
of Linux's local/experimental block majors; block numbers are a space of
their own, vfs_dev's bdevsw) and minor = unit.

A disk has two kinds of users:

    a filesystem   open_disk(readonly) -> VkdHandle, the device its buffer
                   cache reads and writes (vfs_bio's BlockDevice interface);
                   one at a time (EBUSY), and VkdHandle.close() ends the use
                   while the image stays open for the next mount
    a guest        /dev/vkdN opened like a file (VkdOps): bytes at any
                   offset, BLKGETSIZE64 and friends; writes are refused
                   (EBUSY) while a filesystem has the disk, whose cache would
                   not see them
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import ioctl as IOC
from vkernel.abi.linux.stat import makedev
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyout_i32, copyout_u64
from vkernel.vfs.vfs_bio import BlockDevice, CowDevice
from vkernel.vfs.vfs_dev import bdev_register, bdev_unregister
from vkernel.vfs.vfs_vnops import DevOps

VKD_MAJOR = 240
VKDISK_MAX = 16
SECTOR = 512
MAXIO = 1 << 24             # a longer read returns short, as reads may


class VkdDisk:
    """struct vkd_softc: one disk image, open and locked for the vkernel's life."""

    def __init__(self, unit, path, cow=False):
        self.unit = unit
        self.path = path
        self.cow = cow
        self.name = f"vkd{unit}"
        self.rdev = makedev(VKD_MAJOR, unit)
        self.dev = CowDevice(path) if cow else BlockDevice(path)
        self.user = None            # the VkdHandle of the filesystem using the disk

    def __repr__(self):
        return f"<VkdDisk {self.name} {self.path}{' cow' if self.cow else ''}>"

    @property
    def size(self):
        return self.dev.size

    def describe(self):
        """The boot line: `vkd0: <rootimg.01> 512MB (copy-on-write)`."""
        what = " (copy-on-write)" if self.cow else ""
        return f"{self.name}: <{self.path}> {self.size >> 20}MB{what}"

    def open_disk(self, readonly=False):
        """The device a filesystem mounts (EBUSY while another one has it)."""
        if self.user is not None:
            raise KernelError(E.EBUSY)
        self.user = VkdHandle(self, readonly)
        return self.user

    def open_ops(self, flags):
        """An open of /dev/vkdN (the device node's driver factory)."""
        return VkdOps(self)

    def detach(self):
        bdev_unregister(self.rdev, self)
        self.dev.close()


class VkdHandle:
    """A filesystem's view of a disk: what vfs_bio.BufCache and ext2 need of
    a BlockDevice.  close() gives the disk back; the image stays open."""

    def __init__(self, disk, readonly):
        self.disk = disk
        self.path = f"/dev/{disk.name}"
        self.size = disk.size
        self.readonly = readonly

    def __repr__(self):
        return f"<VkdHandle {self.path}>"

    def _dev(self):
        if self.disk is None:
            raise KernelError(E.EIO)
        return self.disk.dev

    def read(self, off, n):
        return self._dev().read(off, n)

    def write(self, off, data):
        if self.readonly:
            raise KernelError(E.EROFS)
        self._dev().write(off, data)

    def flush(self):
        if not self.readonly:
            self._dev().flush()

    def close(self):
        if self.disk is not None and self.disk.user is self:
            self.disk.user = None
        self.disk = None


class VkdOps(DevOps):
    """/dev/vkdN opened by a guest: the image's bytes (vkd_doio)."""

    kind = "vkd"

    def __init__(self, disk):
        self.disk = disk

    def pread(self, td, fp, n, off):
        if off < 0:
            raise KernelError(E.EINVAL)
        n = max(0, min(n, MAXIO, self.disk.size - off))
        return self.disk.dev.read(off, n) if n else b""

    def read(self, td, fp, n):
        data = self.pread(td, fp, n, fp.offset)
        fp.offset += len(data)
        return data

    def pwrite(self, td, fp, data, off):
        disk = self.disk
        if off < 0:
            raise KernelError(E.EINVAL)
        if disk.user is not None:
            raise KernelError(E.EBUSY)
        if disk.dev.readonly:
            raise KernelError(E.EROFS)
        n = max(0, min(len(data), disk.size - off))
        if data and not n:
            raise KernelError(E.ENOSPC)
        disk.dev.write(off, bytes(data[:n]))
        return n

    def write(self, td, fp, data):
        n = self.pwrite(td, fp, data, fp.offset)
        fp.offset += n
        return n

    def seek(self, td, fp, off, whence):
        base = {F.SEEK_SET: 0, F.SEEK_CUR: fp.offset, F.SEEK_END: self.disk.size}.get(whence)
        if base is None or base + off < 0:
            raise KernelError(E.EINVAL)
        fp.offset = base + off
        return fp.offset

    def fsync(self, td, fp):
        self.disk.dev.flush()
        return 0

    def ioctl(self, td, fp, cmd, arg):
        """The block-device requests sfdisk, mke2fs and blockdev ask."""
        size = self.disk.size
        if cmd == IOC.BLKGETSIZE64:
            copyout_u64(td, arg, size)
        elif cmd == IOC.BLKGETSIZE:
            copyout_u64(td, arg, size // SECTOR)
        elif cmd in (IOC.BLKSSZGET, IOC.BLKPBSZGET, IOC.BLKIOMIN):
            copyout_i32(td, arg, SECTOR)
        elif cmd == IOC.BLKBSZGET:
            copyout_i32(td, arg, 4096)
        elif cmd == IOC.BLKROGET:
            copyout_i32(td, arg, int(self.disk.dev.readonly))
        elif cmd == IOC.BLKFLSBUF:
            self.disk.dev.flush()
        elif cmd == IOC.BLKRRPART:
            raise KernelError(E.EINVAL)         # no partition table to re-read
        else:
            raise KernelError(E.ENOTTY)
        return 0


def vkd_attach(unit, path, cow=False):
    """Open and lock disk image `path` as vkd<unit> and register it (bdevsw).

    Raises KernelError: EBUSY ("Disk image X is already in use") when
    another vkernel has it, an open error otherwise.
    """
    if not 0 <= unit < VKDISK_MAX:
        raise KernelError(E.ENXIO, f"too many disks (at most {VKDISK_MAX})")
    disk = VkdDisk(unit, path, cow)
    bdev_register(disk.rdev, disk)
    return disk
