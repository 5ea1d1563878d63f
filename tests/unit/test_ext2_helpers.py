"""Support for the test_ext2_* files (no tests here): a VFS context on an
ext2 mount, reads and writes through it, and a snapshot of a whole tree for
comparisons.  Images are made and judged with the host's e2fsprogs
(tests/e2fs.py: mkfs, assert_clean, debugfs, istat, superblock ...).

Import with:  from test_ext2_helpers import ...   (this directory is on
sys.path; the test files make sure of it).
"""
import hashlib

from test_vfs_helpers import Ctx, open_file

from vkernel.abi.linux import fcntl as F
from vkernel.fs.ext2 import ext2_mount
from vkernel.vfs import vfs_syscalls as V
from vkernel.vfs.mount import MountTable
from vkernel.vfs.vnode import VDIR, VLNK, VREG


def mount(path, **kw):
    """(Ext2Mount, VFS context rooted at it)."""
    mnt = ext2_mount(path, **kw)
    return mnt, Ctx(mnt.root, MountTable(mnt))


def write(ctx, path, data, flags=F.O_WRONLY | F.O_CREAT | F.O_TRUNC, mode=0o644, off=None):
    fp = open_file(ctx, path, flags, mode)
    if off is not None:
        fp.offset = off
    view, done = memoryview(data), 0
    while done < len(data):
        done += fp.ops.write(None, fp, view[done:done + (1 << 20)])
    return fp


def read(ctx, path, off=0, n=None):
    fp = open_file(ctx, path)
    size = V.kern_statat(ctx, ctx.root, path).size
    n = size - off if n is None else n
    out = []
    while n > 0:
        chunk = fp.ops.pread(None, fp, min(n, 1 << 20), off)
        if not chunk:
            break
        out.append(chunk)
        off += len(chunk)
        n -= len(chunk)
    return b"".join(out)


def snapshot(ctx, top="/"):
    """{path: (type, mode, uid, gid, size, nlink, sha1 or link target)} of a tree."""
    out, todo = {}, [top]
    while todo:
        d = todo.pop()
        dvp = V.kern_lookup(ctx, ctx.root, d)[0]
        for name, _ino, _dt in dvp.readdir():
            path = d.rstrip("/") + "/" + name
            va = V.kern_statat(ctx, ctx.root, path, follow=False)
            extra = None
            if va.type == VREG:
                extra = hashlib.sha1(read(ctx, path)).hexdigest()
            elif va.type == VLNK:
                extra = V.kern_readlinkat(ctx, ctx.root, path)
            elif va.type == VDIR:
                todo.append(path)
            out[path] = (va.type, va.mode, va.uid, va.gid, va.size, va.nlink, extra)
    return out
