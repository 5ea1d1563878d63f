"""Devices by device number: the cdevsw table, and bdevsw for block devices.

FreeBSD counterpart: sys/kern/kern_conf.c (make_dev, struct cdevsw); Linux's
is fs/char_dev.c (chrdev_open looking up the driver by i_rdev).  devfs
registers every device it makes here, so a character special file on any
filesystem (say /dev/null made with mknod inside a hostfs chroot) opens
the same driver.  An rdev with no driver opens as ENXIO, like Linux.

A character driver is an `ops_factory(flags) -> FileOps` called on every
open.  A block driver (a disk, vkernel.dev.vkd) is an object with
`open_ops(flags) -> FileOps` for opens of its node and
`open_disk(readonly)` -> the device a filesystem mounts (mount(2) looks it
up by the rdev of its source); block and character numbers are separate
spaces, as in Linux (register_blkdev/register_chrdev).
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError

_cdevsw = {}


def cdev_register(rdev, ops_factory):
    _cdevsw[rdev] = ops_factory


def cdev_unregister(rdev, ops_factory=None):
    """Forget the driver of `rdev` (only if it is `ops_factory`, when given)."""
    if ops_factory is None or _cdevsw.get(rdev) is ops_factory:
        _cdevsw.pop(rdev, None)


def cdev_open(rdev, flags):
    """Open the driver of `rdev`: its FileOps, or ENXIO."""
    factory = _cdevsw.get(rdev)
    if factory is None:
        raise KernelError(E.ENXIO)
    return factory(flags)


_bdevsw = {}


def bdev_register(rdev, driver):
    _bdevsw[rdev] = driver


def bdev_unregister(rdev, driver=None):
    if driver is None or _bdevsw.get(rdev) is driver:
        _bdevsw.pop(rdev, None)


def bdev_lookup(rdev):
    """The block driver of `rdev`, or ENXIO."""
    driver = _bdevsw.get(rdev)
    if driver is None:
        raise KernelError(E.ENXIO)
    return driver


def bdev_open(rdev, flags):
    """Open block device `rdev` as a file: its FileOps, or ENXIO."""
    return bdev_lookup(rdev).open_ops(flags)
