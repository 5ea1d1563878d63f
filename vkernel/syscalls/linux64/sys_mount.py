"""Mounting: mount(2) and umount2(2), the filesystem types a guest may
mount, and the wiring of procfs to the syscall layer's state.

Linux counterparts: fs/namespace.c (do_mount, do_new_mount, do_remount,
do_umount, may_mount) and fs/filesystems.c (the type registry); FreeBSD's
is kern/vfs_mount.c with its vfsconf list.

Guests may mount proc, tmpfs and devtmpfs (a fresh /dev holding the
standard devices and copies of the boot /dev's device nodes), and ext2
from a block device (`mount /dev/vkd1 /mnt`: the disk's driver, found by
the rdev of the source node in bdevsw, lends the filesystem its image);
remounting changes the ro/nosuid/nodev/noexec flags (ext2 writes back and
marks itself clean going read-only); bind and move mounts are EINVAL,
unknown types ENODEV; propagation changes (mount --make-private) succeed
and do nothing, there being one namespace.  Only root mounts (EPERM).
umount2 refuses a filesystem something still uses (EBUSY) unless
MNT_DETACH (which then unmounts at once: the open files see EIO), and the
root always; unmounting writes the filesystem back (Mount.unmount).
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import mount as MS
from vkernel.fs import procfs
from vkernel.fs.devfs import DevfsMount, DevNode
from vkernel.fs.ext2 import ext2_mount
from vkernel.fs.memfs import MemMount
from vkernel.fs.procfs import ProcMount
from vkernel.fs.procfs.procfs_subr import memlimit
from vkernel.kernel import kern_proc, kern_sysctl, kern_vfs, msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyinstr
from vkernel.syscalls.table import I32, NR, PTR, STR, U64, syscall
from vkernel.vfs import vfs_syscalls as V
from vkernel.vfs.mount import MNT_NODEV, MNT_NOEXEC, MNT_NOSUID, MNT_RDONLY
from vkernel.vfs.vfs_dev import bdev_lookup
from vkernel.vfs.vnode import VBLK, VDIR

from . import sys_info, sys_time

MNT_CHANGEABLE = MNT_RDONLY | MNT_NOSUID | MNT_NODEV | MNT_NOEXEC
UMOUNT_FLAGS = MS.MNT_FORCE | MS.MNT_DETACH | MS.MNT_EXPIRE | MS.UMOUNT_NOFOLLOW
SIZE_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
TMPFS_IGNORED = ("nr_inodes", "nr_blocks", "huge", "mpol", "inode32", "inode64", "noswap")
EXT2_IGNORED = ("errors", "user_xattr", "nouser_xattr", "acl", "noacl", "bsddf", "minixdf",
                "grpid", "bsdgroups", "nogrpid", "sysvgroups", "check", "nocheck", "debug",
                "oldalloc", "orlov", "nobh", "reservation", "noreservation")


# -- filesystem types (vfsconf) ------------------------------------------------
def _parse_size(text):
    """tmpfs size=: bytes, with k/m/g suffixes or a percentage of memory."""
    text = text.strip().lower()
    try:
        if text.endswith("%"):
            return memlimit().limit * int(text[:-1]) // 100
        if text and text[-1] in SIZE_SUFFIX:
            return int(text[:-1], 0) * SIZE_SUFFIX[text[-1]]
        return int(text, 0)
    except (ValueError, AttributeError):
        raise KernelError(E.EINVAL) from None


def _tmpfs_options(data):
    """The keyword arguments of MemMount from tmpfs mount data."""
    kw = {}
    for opt in filter(None, data.split(",")):
        key, _, value = opt.partition("=")
        try:
            if key == "size":
                kw["size_limit"] = kw["max_file"] = _parse_size(value)
            elif key == "mode":
                kw["mode"] = int(value, 8) & 0o7777
            elif key in ("uid", "gid"):
                kw[key] = int(value)
            elif key not in TMPFS_IGNORED:
                raise KernelError(E.EINVAL)
        except ValueError:
            raise KernelError(E.EINVAL) from None
    return kw


def _mount_tmpfs(source, flags, data):
    return MemMount(source or "tmpfs", flags, **_tmpfs_options(data))


def _mount_proc(source, flags, data):
    return ProcMount(source or "proc", flags)


def _copy_devices(src, dst, prefix=""):
    """Give devfs `dst` the device nodes of directory node `src`."""
    for name, node in list(src.entries.items()):
        if isinstance(node, DevNode) and node.ops_factory is not None:
            try:
                dst.make_dev(prefix + name, node.ops_factory, node.mode, node.uid,
                             node.gid, node.rdev, node.vtype)
            except KernelError:
                pass            # the standard devices are there already
        elif node.vtype == VDIR:
            _copy_devices(node, dst, prefix + name + "/")


def _mount_devtmpfs(source, flags, data):
    mnt = DevfsMount(source or "devtmpfs", flags)
    boot = kern_vfs.mounts.find("/dev") if kern_vfs.mounts is not None else None
    if isinstance(boot, DevfsMount):
        _copy_devices(boot.root, mnt)
    return mnt


def _mount_ext2(disk, source, flags, data):
    """ext2 on a block device's driver (bdevsw): the disk is lent to the
    mount and given back by its unmount (or at once if the mount fails)."""
    for opt in filter(None, data.split(",")):
        if opt.partition("=")[0] not in EXT2_IGNORED:
            raise KernelError(E.EINVAL)
    handle = disk.open_disk()           # writable: MS_RDONLY is the mount's, remount may lift it
    try:
        return ext2_mount(handle, flags=flags, source=source, devno=disk.rdev)
    except BaseException:
        handle.close()
        raise


# name -> (mount function or None when guests may not mount it, nodev).
# Types with nodev False take the block driver of their source first.
VFSCONF = {
    "proc": (_mount_proc, True),
    "tmpfs": (_mount_tmpfs, True),
    "devtmpfs": (_mount_devtmpfs, True),
    "hostfs": (None, False),
    "ext2": (_mount_ext2, False),
}


# Linux keeps one superblock of these (per namespace), and refuses to mount
# it again on a mount point where it already is.
SINGLE_INSTANCE = ("proc", "devtmpfs")


def filesystems():
    """[(type, nodev)] for /proc/filesystems."""
    return [(name, nodev) for name, (_, nodev) in VFSCONF.items()]


# -- mount ------------------------------------------------------------------------
def _suser(td):
    if td.lwp_proc.p_ucred.uid != 0:
        raise KernelError(E.EPERM)


def _string(td, addr, default=""):
    return copyinstr(td, addr) if addr else default


def kern_remount(vp, flags):
    """MS_REMOUNT: new ro/nosuid/nodev/noexec flags for the mount at vp."""
    mnt = vp.mount
    if vp is not mnt.root:
        raise KernelError(E.EINVAL)
    mnt.remount((mnt.flags & ~MNT_CHANGEABLE) | (flags & MNT_CHANGEABLE))
    return 0


def block_device(ctx, path):
    """lookup_bdev: the block driver of the device node `path`."""
    if not path:
        raise KernelError(E.ENOENT)
    devvp, _ = V.kern_lookup(ctx, ctx.cwd, path)
    if devvp.vtype != VBLK:
        raise KernelError(E.ENOTBLK)
    if devvp.mount.flags & MNT_NODEV:
        raise KernelError(E.EACCES)
    return bdev_lookup(devvp.getattr().rdev)


def kern_mount(vp, fstype, source, flags, data, ctx=None):
    """Mount a new filesystem of type `fstype` on the directory vp; a disk
    filesystem's source is a block device node, looked up with `ctx`."""
    conf = VFSCONF.get(fstype)
    if conf is None or conf[0] is None:
        raise KernelError(E.ENODEV)
    if vp.vtype != VDIR:
        raise KernelError(E.ENOTDIR)
    if fstype in SINGLE_INSTANCE and vp is vp.mount.root and vp.mount.fstype == fstype:
        raise KernelError(E.EBUSY)      # "proc already mounted on /proc"
    fn, nodev = conf
    flags &= MNT_CHANGEABLE
    if nodev:
        mnt = fn(source, flags, data)
    else:
        mnt = fn(block_device(ctx, source), source, flags, data)
    kern_vfs.mounts.mount(vp, mnt)
    return 0


@syscall(NR.mount, STR, STR, STR, U64, PTR)
def sys_mount(td, source, target, fstype, flags, data):
    """Implements Linux mount(2): proc, tmpfs, devtmpfs, ext2 and remounts."""
    _suser(td)
    if flags & MS.MS_MGC_MSK == MS.MS_MGC_VAL:
        flags &= ~MS.MS_MGC_MSK
    ctx = kern_vfs.ctx(td)
    vp, _ = V.kern_lookup(ctx, td.lwp_proc.p_cwd, copyinstr(td, target))
    if flags & MS.MS_REMOUNT:
        return kern_remount(vp, flags)
    if flags & (MS.MS_BIND | MS.MS_MOVE):
        raise KernelError(E.EINVAL)
    if flags & MS.MS_PROPAGATION:
        return 0
    if not fstype:
        raise KernelError(E.EINVAL)
    return kern_mount(vp, copyinstr(td, fstype), _string(td, source), flags,
                      _string(td, data) if data else "", ctx)


# -- umount -----------------------------------------------------------------------
def _uses(p, mnt):
    """Does process p hold anything on mount mnt (cwd, root, text, files)?"""
    for vp in (p.p_cwd, p.p_root, p.p_textvp):
        if vp is not None and vp.mount is mnt:
            return True
    files = p.p_fd.files.values() if p.p_fd is not None else ()
    return any(fp.vnode is not None and fp.vnode.mount is mnt for fp in list(files))


def mount_busy(mnt):
    return any(p.p_stat != "SZOMB" and _uses(p, mnt)
               for p in list(kern_proc.allproc.values()))


def kern_unmount(vp, flags):
    mnt = vp.mount
    if vp is not mnt.root:
        raise KernelError(E.EINVAL)
    if mnt is kern_vfs.mounts.root or (not flags & MS.MNT_DETACH and mount_busy(mnt)):
        raise KernelError(E.EBUSY)
    if flags & MS.MNT_EXPIRE:
        raise KernelError(E.EAGAIN)         # marked; a second call would unmount
    kern_vfs.mounts.unmount(mnt)
    try:
        mnt.unmount()
    except KernelError as e:                # detached anyway; the data may be lost
        msgbuf.log(f"unmount of {mnt.path}: {e}")
    return 0


@syscall(NR.umount2, STR, I32)
def sys_umount2(td, target, flags):
    """Implements Linux umount2(2) (MNT_DETACH unmounts a busy filesystem)."""
    _suser(td)
    if flags & ~UMOUNT_FLAGS or (flags & MS.MNT_EXPIRE and
                                 flags & (MS.MNT_FORCE | MS.MNT_DETACH)):
        raise KernelError(E.EINVAL)
    follow = not flags & MS.UMOUNT_NOFOLLOW
    vp, _ = V.kern_lookup(kern_vfs.ctx(td), td.lwp_proc.p_cwd, copyinstr(td, target),
                          follow)
    return kern_unmount(vp, flags)


# -- procfs wiring -----------------------------------------------------------------
def _rlimit(p, res):
    return p.p_rlimits.get(res, sys_time.DEFAULT_RLIMITS.get(
        res, (sys_time.RLIM_INFINITY, sys_time.RLIM_INFINITY)))


def _set_name(which, limit=64):
    def set_(value):
        if len(value.encode()) > limit:
            raise KernelError(E.EINVAL)
        which[0] = value
    return set_


def _uname(i):
    return lambda: sys_info.uname_fields()[i]


# name -> (getter, setter or None, kind, description)
IDENTITY_SYSCTLS = {
    "kern.hostname": (lambda: sys_info.HOSTNAME[0], _set_name(sys_info.HOSTNAME), str,
                      "host name (sethostname)"),
    "kern.domainname": (lambda: sys_info.DOMAINNAME[0], _set_name(sys_info.DOMAINNAME), str,
                        "NIS domain name (setdomainname)"),
    "kern.ostype": (_uname(0), None, str, "operating system type (uname -s)"),
    "kern.osrelease": (_uname(2), None, str, "operating system release (uname -r)"),
    "kern.version": (_uname(3), None, str, "kernel version (uname -v)"),
    "kern.pid_max": (lambda: kern_proc.PID_MAX + 1, None, int, "process ids stay below this"),
    "hw.ncpu": (lambda: sys_info.NCPUS[0], None, int, "number of virtual CPUs"),
}


def _register_sysctls():
    """The identity nodes /proc/sys shows, unless their owner made them."""
    have = set(kern_sysctl.sysctl_list())
    for name, (get, set_, kind, descr) in IDENTITY_SYSCTLS.items():
        if name not in have:
            kern_sysctl.sysctl_proc(name, get, set_, kind=kind, descr=descr)


procfs.hooks.update(boottime=sys_time.BOOT_TIME, uname=sys_info.uname_fields,
                    rlimit=_rlimit, ncpu=lambda: sys_info.NCPUS[0],
                    filesystems=filesystems)
_register_sysctls()
