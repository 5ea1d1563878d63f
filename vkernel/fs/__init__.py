"""Filesystem implementations behind the VFS (FreeBSD sys/fs/*).

    hostfs   a host directory as the guest root (confined to that directory)
    memfs    an in-memory filesystem: tmpfs, memfd_create, devfs's nodes
    devfs    /dev: null, zero, full, random, urandom and registered devices
    fs_mountroot.py  the boot-time mounts: hostfs on /, devfs on /dev, /tmp

May import: vkernel.abi, vkernel.kernel.errors, vkernel.kernel.file, vkernel.vfs.
"""
