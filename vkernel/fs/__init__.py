"""Filesystem implementations behind the VFS (FreeBSD sys/fs/*).

    hostfs   a host directory as the guest root (confined to that directory)
    memfs    an in-memory filesystem: tmpfs, memfd_create, devfs's nodes
    devfs    /dev: null, zero, full, random, urandom and registered devices
    ext2     the ext2 filesystem on a disk image, read-write (ext2_mount)
    procfs   /proc: processes and kernel state, generated when read
    fs_mountroot.py  the boot-time mounts: hostfs (or ext2, mounted by
                     boot.py on the root disk) on /, devfs on /dev, a
                     tmpfs on /dev/shm, procfs on /proc, /tmp

May import: vkernel.abi, vkernel.kernel.errors, vkernel.kernel.file, vkernel.vfs;
ext2 also vkernel.kernel.msgbuf (its error lines); procfs also reads the rest
of vkernel.kernel (the state it shows).
"""
