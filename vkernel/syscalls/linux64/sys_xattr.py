"""Extended attributes (Linux fs/xattr.c): guests see none and may set none.

Programs such as ls ask for ACLs and security labels; Linux answers
ENODATA when a file has no such attribute and EOPNOTSUPP when the
filesystem keeps none, which is what our filesystems do (hostfs uses a
private xattr for guest ownership, never shown to guests).
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_vfs
from vkernel.kernel.usercopy import copyinstr
from vkernel.syscalls.table import FD, I32, NR, PTR, STR, U64, syscall
from vkernel.vfs import vfs_syscalls as V


def _exists(td, path, follow=True):
    V.kern_statat(kern_vfs.ctx(td), td.lwp_proc.p_cwd, copyinstr(td, path), follow)


@syscall(NR.getxattr, STR, STR, PTR, U64, level="partial")
def sys_getxattr(td, path, name, value, size):
    """Implements Linux getxattr(2): no attribute exists (ENODATA)."""
    _exists(td, path)
    return -E.ENODATA


@syscall(NR.lgetxattr, STR, STR, PTR, U64, level="partial")
def sys_lgetxattr(td, path, name, value, size):
    """Implements Linux lgetxattr(2): no attribute exists (ENODATA)."""
    _exists(td, path, follow=False)
    return -E.ENODATA


@syscall(NR.fgetxattr, FD, STR, PTR, U64, level="partial")
def sys_fgetxattr(td, fd, name, value, size):
    """Implements Linux fgetxattr(2): no attribute exists (ENODATA)."""
    td.lwp_proc.p_fd.get(fd)
    return -E.ENODATA


@syscall(NR.listxattr, STR, PTR, U64, level="partial")
def sys_listxattr(td, path, lst, size):
    """Implements Linux listxattr(2): an empty list."""
    _exists(td, path)
    return 0


@syscall(NR.llistxattr, STR, PTR, U64, level="partial")
def sys_llistxattr(td, path, lst, size):
    """Implements Linux llistxattr(2): an empty list."""
    _exists(td, path, follow=False)
    return 0


@syscall(NR.flistxattr, FD, PTR, U64, level="partial")
def sys_flistxattr(td, fd, lst, size):
    """Implements Linux flistxattr(2): an empty list."""
    td.lwp_proc.p_fd.get(fd)
    return 0


@syscall(NR.setxattr, STR, STR, PTR, U64, I32, level="partial")
def sys_setxattr(td, path, name, value, size, flags):
    """Implements Linux setxattr(2): the filesystems keep no guest xattrs."""
    _exists(td, path)
    return -E.EOPNOTSUPP


@syscall(NR.lsetxattr, STR, STR, PTR, U64, I32, level="partial")
def sys_lsetxattr(td, path, name, value, size, flags):
    """Implements Linux lsetxattr(2): the filesystems keep no guest xattrs."""
    _exists(td, path, follow=False)
    return -E.EOPNOTSUPP


@syscall(NR.fsetxattr, FD, STR, PTR, U64, I32, level="partial")
def sys_fsetxattr(td, fd, name, value, size, flags):
    """Implements Linux fsetxattr(2): the filesystems keep no guest xattrs."""
    td.lwp_proc.p_fd.get(fd)
    return -E.EOPNOTSUPP
