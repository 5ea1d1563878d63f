"""ext2 against a model: random operations on ext2 and on memfs must leave
the same tree, and every unmount must leave e2fsck nothing to say.

The operations (create, write at random offsets, truncate, rename, link,
symlink, unlink, mkdir, rmdir, exchange) go through the VFS workers on both
filesystems; their results, errors included, must match step by step.
"""
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import assert_clean, mkfs  # noqa: E402
from test_ext2_helpers import mount, read, snapshot, write  # noqa: E402
from test_vfs_helpers import Ctx  # noqa: E402

from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.fs.memfs import MemMount  # noqa: E402
from vkernel.kernel.errors import KernelError  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MountTable  # noqa: E402
from vkernel.vfs.vnode import VDIR, VLNK  # noqa: E402

FILES = ["a", "b", "c", "long-" + "n" * 60]
DIRS = ["dir1", "dir2"]


def _path(rnd, last=None):
    """A path through directory names (mostly) ending in a name from `last`."""
    depth = rnd.choice((1, 1, 2, 2, 3))
    comps = [rnd.choice(DIRS if rnd.random() < 0.95 else FILES) for _ in range(depth - 1)]
    return "/" + "/".join(comps + [rnd.choice(last or FILES + DIRS)])


def _op(rnd, ctx, bsize):
    """One random operation; returns a comparable outcome."""
    r, p, q = ctx.root, _path(rnd, FILES), _path(rnd)
    kind = rnd.choice(("write", "write", "write", "truncate", "mkdir", "mkdir", "rmdir",
                       "unlink", "rename", "link", "symlink", "exchange", "append"))
    if kind == "write":
        off = rnd.choice((0, rnd.randrange(20 * bsize), rnd.randrange(300 * bsize)))
        data = bytes([rnd.randrange(256)]) * rnd.choice((1, 100, bsize, 3 * bsize + 7))
        return write(ctx, p, data, flags=F.O_WRONLY | F.O_CREAT, off=off) and None
    if kind == "append":
        return write(ctx, p, b"+" * rnd.randrange(5000),
                     flags=F.O_WRONLY | F.O_CREAT | F.O_APPEND) and None
    if kind == "truncate":
        return V.kern_truncate(ctx, r, p, rnd.choice((0, 5, bsize * 13 + 1, 70000)))
    if kind == "mkdir":
        return V.kern_mkdirat(ctx, r, _path(rnd, DIRS), 0o755) and None
    if kind == "rmdir":
        return V.kern_unlinkat(ctx, r, _path(rnd, DIRS), rmdir=True)
    if kind == "unlink":
        return V.kern_unlinkat(ctx, r, p)
    if kind == "rename":
        return V.kern_renameat2(ctx, r, _path(rnd), r, q)
    if kind == "exchange":
        return V.kern_renameat2(ctx, r, _path(rnd), r, q, F.RENAME_EXCHANGE)
    if kind == "link":
        return V.kern_linkat(ctx, r, p, r, q) and None
    return V.kern_symlinkat(ctx, rnd.choice(("x", "y" * 80, "../a")), r, p) and None


def _run(rnd_seed, ctx, bsize, n):
    rnd = random.Random(rnd_seed)
    out = []
    for _ in range(n):
        try:
            out.append(("ok", _op(rnd, ctx, bsize)))
        except KernelError as e:
            out.append(("err", e.errno))
    return out


def _comparable(snap):
    return {p: (e[:4] + (None if e[0] == VDIR else e[4],) + e[5:]) for p, e in snap.items()}


@pytest.mark.parametrize("seed,bsize", [(1, 1024), (2, 4096), (3, 2048), (4, 1024)])
def test_ext2_matches_memfs_under_random_operations(tmp_path, seed, bsize):
    img = mkfs(str(tmp_path / "img"), "64M", bsize, 1)
    for round_ in range(3):
        mnt, ctx = mount(img)
        mem = MemMount(mode=0o755)
        mctx = Ctx(mem.root, MountTable(mem))
        if round_:                          # memfs starts from what ext2 kept
            _copy_tree(ctx, mctx)
        assert _run(seed * 100 + round_, ctx, bsize, 400) == \
            _run(seed * 100 + round_, mctx, bsize, 400)
        got = _comparable(snapshot(ctx))
        got.pop("/lost+found")
        assert got == _comparable(snapshot(mctx))
        mnt.unmount()
        assert_clean(img)


def _copy_tree(src, dst, d="/", seen=None):
    """Recreate src's tree (files, dirs, symlinks, hard links) in dst."""
    dvp = V.kern_lookup(src, src.root, d)[0]
    seen = {} if seen is None else seen
    for name, ino, _t in sorted(dvp.readdir()):
        path = d.rstrip("/") + "/" + name
        if path == "/lost+found":
            continue
        va = V.kern_statat(src, src.root, path, follow=False)
        if va.type == VDIR:
            V.kern_mkdirat(dst, dst.root, path, va.mode)
            _copy_tree(src, dst, path, seen)
        elif ino in seen:
            V.kern_linkat(dst, dst.root, seen[ino], dst.root, path)
        elif va.type == VLNK:
            V.kern_symlinkat(dst, V.kern_readlinkat(src, src.root, path), dst.root, path)
        else:
            write(dst, path, read(src, path), mode=va.mode)
        seen.setdefault(ino, path)
