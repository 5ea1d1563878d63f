"""Support for the test_ext2_* files (no tests here): images made with
mke2fs, checks with e2fsck and debugfs, a VFS context on an ext2 mount, and
a snapshot of a whole tree for comparisons.

Import with:  from test_ext2_helpers import ...   (this directory is on
sys.path; the test files make sure of it).
"""
import hashlib
import os
import re
import subprocess

from test_vfs_helpers import Ctx, open_file

from vkernel.abi.linux import fcntl as F
from vkernel.fs.ext2 import ext2_mount
from vkernel.vfs import vfs_syscalls as V
from vkernel.vfs.mount import MountTable
from vkernel.vfs.vnode import VDIR, VLNK, VREG




def mkfs(path, size="8M", bsize=1024, rev=1, stage=None, opts=()):
    """A fresh ext2 image at path, as `mke2fs -t ext2` makes it."""
    if os.path.exists(path):
        os.unlink(path)
    cmd = ["mke2fs", "-q", "-F", "-t", "ext2", "-b", str(bsize), "-r", str(rev)]
    if stage is not None:
        cmd += ["-d", stage]
    subprocess.run(cmd + list(opts) + [path, size], check=True, capture_output=True)
    return path


def fsck(path):
    """`e2fsck -fn`: (exit status, output)."""
    r = subprocess.run(["e2fsck", "-fn", path], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def assert_clean(path):
    rc, out = fsck(path)
    assert rc == 0, out


def debugfs(path, request):
    r = subprocess.run(["debugfs", "-R", request, path], capture_output=True, text=True)
    return r.stdout


def dstat(path, name):
    """debugfs's view of one file: type, mode, uid, gid, size, links, blockcount."""
    out = debugfs(path, f"stat {name}")
    m = re.search(r"Type: (.+?)\s+Mode:\s+(\d+)", out)
    if m is None:
        return None
    own = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", out)
    size = re.search(r"Size: (\d+)", out)
    links = re.search(r"Links: (\d+)", out)
    return {"type": m.group(1), "mode": int(m.group(2), 8), "uid": int(own.group(1)),
            "gid": int(own.group(2)), "size": int(size.group(1)),
            "links": int(links.group(1)), "text": out}


def superblock(path):
    """dumpe2fs -h as a dict of 'Field name' -> value text."""
    r = subprocess.run(["dumpe2fs", "-h", path], capture_output=True, text=True)
    return dict(re.findall(r"^([^:\n]+):\s+(.*)$", r.stdout, re.M))


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
