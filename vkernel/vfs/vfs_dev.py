"""Character devices by device number: the cdevsw table.

FreeBSD counterpart: sys/kern/kern_conf.c (make_dev, struct cdevsw); Linux's
is fs/char_dev.c (chrdev_open looking up the driver by i_rdev).  devfs
registers every device it makes here, so a character special file on any
filesystem (say /dev/null made with mknod inside a hostfs chroot) opens
the same driver.  An rdev with no driver opens as ENXIO, like Linux.

A driver is an `ops_factory(flags) -> FileOps` called on every open.
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
