"""Support for the test_vfs_* files (no tests here): a VFS context stand-in
and a small guest root in a temporary host directory.

Import with:  from test_vfs_helpers import ...   (this directory is on
sys.path; the test files make sure of it).
"""
import os

import pytest

from vkernel.abi.linux import fcntl as F
from vkernel.fs.hostfs import HostMount
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import File
from vkernel.vfs import vfs_syscalls as V
from vkernel.vfs.mount import MountTable


class Cred:
    """What the VFS needs of a ucred."""

    def __init__(self, uid=0, gid=0, groups=(), ruid=None, rgid=None):
        self.uid, self.gid, self.groups = uid, gid, list(groups)
        self.ruid = uid if ruid is None else ruid
        self.rgid = gid if rgid is None else rgid


class Ctx:
    """The `ctx` of vfs_syscalls: root, cwd, cred, umask, mounts, ktrnamei."""

    def __init__(self, root, mounts, cred=None, cwd=None, umask=0o022):
        self.root, self.mounts = root, mounts
        self.cwd = cwd or root
        self.cred = cred or Cred()
        self.umask = umask
        self.traced = []

    def ktrnamei(self, path):
        self.traced.append(path)

    def as_user(self, uid, gid=None, groups=()):
        return Ctx(self.root, self.mounts, Cred(uid, uid if gid is None else gid, groups),
                   self.cwd, self.umask)


def populate(hostroot):
    """A little guest tree: /etc/passwd, /a/b/c, /bin/sh, /tmp."""
    for d in ("etc", "a/b/c", "bin", "tmp"):
        os.makedirs(os.path.join(hostroot, d), exist_ok=True)
    with open(os.path.join(hostroot, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:guest:/root:/bin/sh\n")
    with open(os.path.join(hostroot, "bin/sh"), "w") as f:
        f.write("#!guest shell\n")
    os.chmod(os.path.join(hostroot, "bin/sh"), 0o755)
    os.chmod(os.path.join(hostroot, "tmp"), 0o1777)


def make_world(tmp_path, flags=0):
    """(ctx, host root dir, host dir *outside* the root with its own etc/passwd)."""
    hostroot = str(tmp_path / "root")
    outside = str(tmp_path / "outside")
    populate(hostroot)
    os.makedirs(os.path.join(outside, "etc"))
    with open(os.path.join(outside, "etc/passwd"), "w") as f:
        f.write("HOST SECRET\n")
    mnt = HostMount(hostroot, flags=flags)
    return Ctx(mnt.root, MountTable(mnt)), hostroot, outside


def open_file(ctx, path, flags=F.O_RDONLY, mode=0o644, dirvp=None):
    ops, vp, rpath = V.kern_openat(ctx, dirvp or ctx.cwd, path, flags, mode)
    return File(ops, flags, rpath, vp)


def write_file(ctx, path, data, flags=F.O_WRONLY | F.O_CREAT | F.O_TRUNC, mode=0o644):
    fp = open_file(ctx, path, flags, mode)
    assert fp.ops.write(None, fp, data) == len(data)
    return fp


def read_file(ctx, path, n=1 << 20):
    fp = open_file(ctx, path)
    return fp.ops.read(None, fp, n)


def names(ctx, path):
    """The getdents names of a directory, '.' and '..' included."""
    fp = open_file(ctx, path, F.O_RDONLY | F.O_DIRECTORY)
    return sorted(name for _, _, name in fp.ops.getdents(None, fp))


def err(fn, *args, **kw):
    """The errno of the KernelError that fn(*args, **kw) must raise."""
    with pytest.raises(KernelError) as ei:
        fn(*args, **kw)
    return ei.value.errno
