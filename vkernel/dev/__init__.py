"""Device drivers (DragonFly sys/dev): hardware the vkernel pretends to have.

    vkd.py   the virtual disks: `-r`/`-R` disk images as /dev/vkd0, /dev/vkd1 ...
             (DragonFly's sys/dev/virtual/vkernel/disk/vdisk.c)

Terminals have their own package (vkernel.tty) and the memory devices live
with devfs (vkernel.fs.devfs.devfs_devs).

May import: vkernel.abi, vkernel.kernel (errors, file, msgbuf, usercopy),
vkernel.vfs (vfs_bio, vfs_dev, vfs_vnops).  Never imports vkernel.fs or the platform.
"""
