"""devfs: /dev, the standard memory devices and the drivers that register.

    devfs_vfsops.py  DevfsMount: make_dev, destroy_dev, make_symlink, make_dir
    devfs_devs.py    null, zero, full, random, urandom; Linux rdev numbers

The tty layer registers its devices with
    devfs.make_dev("console", factory, mode=0o600, rdev=CONSOLE_RDEV)
where factory(flags) returns a FileOps (ideally a vfs_vnops.DevOps).
"""
from .devfs_devs import (CONSOLE_RDEV, FULL_RDEV, NULL_RDEV, RANDOM_RDEV,
                         TTY_RDEV, URANDOM_RDEV, ZERO_RDEV)
from .devfs_vfsops import DevfsMount, DevNode

__all__ = ["DevfsMount", "DevNode", "CONSOLE_RDEV", "FULL_RDEV", "NULL_RDEV",
           "RANDOM_RDEV", "TTY_RDEV", "URANDOM_RDEV", "ZERO_RDEV"]
