"""Mounting the root filesystem and the standard mounts at boot.

FreeBSD counterpart: sys/kern/vfs_mountroot.c (vfs_mountroot, which also
mounts devfs on /dev); Linux's is init/do_mounts.c plus devtmpfs_mount().
It lives in vkernel.fs, not vkernel.vfs, because it names filesystems.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError
from vkernel.vfs.mount import MNT_NODEV, MNT_NOEXEC, MNT_NOSUID, MountTable
from vkernel.vfs.namei import NameiData, namei
from vkernel.vfs.vnode import VDIR

from .devfs import DevfsMount
from .hostfs import HostMount
from .memfs import MemMount
from .procfs import ProcMount


class _Kcred:
    """The kernel's own credentials: root, no groups."""
    uid = gid = 0
    groups = ()


def mount_at(mounts, path, mnt):
    """Mount `mnt` on the directory `path`; False when there is none."""
    root = mounts.root.root
    try:
        vp = namei(NameiData(path, root, root, _Kcred, mounts=mounts)).vp
    except KernelError as e:
        if e.errno in (E.ENOENT, E.ENOTDIR):
            return False
        raise
    if vp.vtype != VDIR:
        return False
    mounts.mount(vp, mnt, path)
    return True


def mountroot(root, flags=0, tmp=False):
    """The MountTable of a guest rooted at `root`: a host directory, or a
    filesystem already mounted (ext2 on the root disk, by the caller).

    devfs goes on /dev with a tmpfs on /dev/shm (POSIX shared memory,
    shm_open and sem_open, as on Linux), procfs on /proc and, when `tmp`,
    a tmpfs on /tmp, each only if the root has that directory; a host
    directory shows as /dev/root (its name is no business of the guest's).  Returns the
    table; its devfs is `mounts.find("/dev")`, where the tty layer and
    the disks register their devices.
    """
    if isinstance(root, str):
        root = HostMount(root, flags, source="/dev/root")
    mounts = MountTable(root)
    if mount_at(mounts, "/dev", DevfsMount()):
        mount_at(mounts, "/dev/shm", MemMount(flags=MNT_NOSUID | MNT_NODEV, mode=0o1777))
    mount_at(mounts, "/proc", ProcMount(flags=MNT_NOSUID | MNT_NODEV | MNT_NOEXEC))
    if tmp:
        mount_at(mounts, "/tmp", MemMount(mode=0o1777))
    return mounts
