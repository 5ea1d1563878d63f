"""The kernel's view of the VFS for a thread: root, cwd, creds and namei.

Adapts a thread to the context object the vfs workers expect (root, cwd,
cred, umask, mounts, ktrnamei) and resolves dirfd arguments (AT_FDCWD).
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.vfs.namei import NameiData, namei

from .errors import KernelError

mounts = None          # the system MountTable, set at boot
ktrnamei_hook = None   # set by kern_ktrace


class VfsCtx:
    """What a vfs worker needs to know about the calling thread."""

    __slots__ = ("td", "root", "cwd", "cred", "umask", "mounts")

    def __init__(self, td):
        p = td.lwp_proc
        self.td = td
        self.root, self.cwd, self.cred = p.p_root, p.p_cwd, p.p_ucred
        self.umask = p.p_umask
        self.mounts = mounts

    def ktrnamei(self, path):
        if ktrnamei_hook is not None:
            ktrnamei_hook(self.td, path)


def ctx(td):
    return VfsCtx(td)


def dirvp(td, dirfd):
    """The directory vnode a *at() call starts from."""
    if dirfd == F.AT_FDCWD:
        return td.lwp_proc.p_cwd
    fp = td.lwp_proc.p_fd.get(dirfd)
    if fp.vnode is None:
        raise KernelError(E.ENOTDIR)
    return fp.vnode


def lookup(td, path, follow=True, dirfd=F.AT_FDCWD):
    """namei for kernel callers (exec, chdir): returns (vnode, resolved path)."""
    c = ctx(td)
    c.ktrnamei(path)
    nd = NameiData(path, c.root, dirvp(td, dirfd), c.cred, follow=follow, mounts=mounts)
    res = namei(nd)
    return res.vp, res.path
