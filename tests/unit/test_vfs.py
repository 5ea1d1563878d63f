"""namei over hostfs: lookups, symlinks, '..', and the confinement of the guest
inside its host directory."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import err, make_world, open_file, read_file, write_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.namei import NameiData, namei  # noqa: E402
from vkernel.vfs.vnode import VDIR, VLNK, VREG  # noqa: E402


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


def lookup(ctx, path, follow=True, cwd=None, want_parent=False):
    return namei(NameiData(path, ctx.root, cwd or ctx.cwd, ctx.cred, follow=follow,
                           want_parent=want_parent, mounts=ctx.mounts))


def test_absolute_and_relative_lookups(world):
    ctx, _, _ = world
    etc = lookup(ctx, "/etc").vp
    assert etc.vtype == VDIR
    assert lookup(ctx, "passwd", cwd=etc).vp is lookup(ctx, "/etc/passwd").vp
    assert lookup(ctx, "//etc/./passwd").vp.vtype == VREG
    assert lookup(ctx, "/a/b/c/../../b/./c/..").path == "/a/b"
    assert lookup(ctx, "/").vp is ctx.root
    assert lookup(ctx, ".").vp is ctx.root


def test_same_file_same_vnode(world):
    ctx, _, _ = world
    a = lookup(ctx, "/a/b").vp
    assert lookup(ctx, "/a/b/c/..").vp is a
    assert lookup(ctx, "/a/../a/b").vp is a


def test_lookup_errors(world):
    ctx, _, _ = world
    assert err(lookup, ctx, "") == E.ENOENT
    assert err(lookup, ctx, "/nope") == E.ENOENT
    assert err(lookup, ctx, "/etc/passwd/x") == E.ENOTDIR
    assert err(lookup, ctx, "/etc/passwd/") == E.ENOTDIR
    assert err(lookup, ctx, "/" + "x" * 256) == E.ENAMETOOLONG
    assert err(lookup, ctx, "/a" * 2048) == E.ENAMETOOLONG
    assert lookup(ctx, "/a/b/").vp.vtype == VDIR


def test_dotdot_never_leaves_root(world):
    ctx, _, _ = world
    assert lookup(ctx, "/..").vp is ctx.root
    assert lookup(ctx, "/../../../..").vp is ctx.root
    c = lookup(ctx, "/a/b/c").vp
    got = lookup(ctx, "../../../../../../../etc/passwd", cwd=c)
    assert got.path == "/etc/passwd"
    assert read_file(ctx, "/a/b/c/../../../../../etc/passwd").startswith(b"root:")


def test_absolute_symlink_resolves_inside_root(world):
    ctx, hostroot, _ = world
    os.symlink("/etc/passwd", os.path.join(hostroot, "pw"))
    assert read_file(ctx, "/pw") == b"root:x:0:0:guest:/root:/bin/sh\n"
    assert lookup(ctx, "/pw").path == "/etc/passwd"


def test_symlink_to_outside_paths_stays_inside(world, tmp_path):
    ctx, hostroot, outside = world
    os.symlink("../../../../../", os.path.join(hostroot, "up"))
    os.symlink(outside, os.path.join(hostroot, "abs_out"))
    os.symlink("../outside/etc/passwd", os.path.join(hostroot, "rel_out"))
    assert lookup(ctx, "/up").vp is ctx.root
    assert lookup(ctx, "/up/etc/passwd").vp is lookup(ctx, "/etc/passwd").vp
    # The host path of "outside" means nothing in the guest.
    assert err(lookup, ctx, "/abs_out/etc/passwd") == E.ENOENT
    assert err(lookup, ctx, "/rel_out") == E.ENOENT


def test_symlink_chain_inside_directory(world):
    ctx, hostroot, _ = world
    os.symlink("../../etc", os.path.join(hostroot, "a/b/e"))
    os.symlink("b/e/passwd", os.path.join(hostroot, "a/p"))
    assert lookup(ctx, "/a/p").vp is lookup(ctx, "/etc/passwd").vp
    link = lookup(ctx, "/a/p", follow=False).vp
    assert link.vtype == VLNK and link.readlink() == "b/e/passwd"


def test_eloop(world):
    ctx, hostroot, _ = world
    os.symlink("loop2", os.path.join(hostroot, "loop1"))
    os.symlink("loop1", os.path.join(hostroot, "loop2"))
    assert err(lookup, ctx, "/loop1") == E.ELOOP
    assert lookup(ctx, "/loop1", follow=False).vp.vtype == VLNK
    for i in range(40):
        os.symlink(f"l{i + 1}", os.path.join(hostroot, f"l{i}"))
    os.symlink("etc", os.path.join(hostroot, "l40"))
    assert lookup(ctx, "/l1").vp.vtype == VDIR          # 40 links
    assert err(lookup, ctx, "/l0") == E.ELOOP      # 41 links


def test_trailing_slash_follows_final_symlink(world):
    ctx, hostroot, _ = world
    os.symlink("a", os.path.join(hostroot, "toa"))
    assert lookup(ctx, "/toa/", follow=False).vp.vtype == VDIR
    assert lookup(ctx, "/toa", follow=False).vp.vtype == VLNK


def test_hard_link_to_outside_cannot_be_named(world):
    ctx, hostroot, outside = world
    root = ctx.root
    for path in ("/../outside/etc/passwd", outside + "/etc/passwd",
                 "../../outside/etc/passwd"):
        assert err(V.kern_linkat, ctx, root, path, root, "/stolen") == E.ENOENT
    os.symlink(outside + "/etc/passwd", os.path.join(hostroot, "ln"))
    assert err(V.kern_linkat, ctx, root, "/ln", root, "/stolen", follow=True) == E.ENOENT
    assert not os.path.exists(os.path.join(hostroot, "stolen"))
    assert os.stat(os.path.join(outside, "etc/passwd")).st_nlink == 1


def test_create_through_dangling_absolute_symlink_stays_inside(world, tmp_path):
    ctx, hostroot, _ = world
    target = f"/tmp/vfs-test-{os.getpid()}-{tmp_path.name}"     # guest and host have /tmp
    os.symlink(target, os.path.join(hostroot, "dangling"))
    write_file(ctx, "/dangling", b"x")
    assert not os.path.exists(target)
    assert os.path.exists(hostroot + target)            # made inside the root
    assert read_file(ctx, target) == b"x"


def test_open_flags(world):
    ctx, hostroot, _ = world
    os.symlink("etc/passwd", os.path.join(hostroot, "sl"))
    assert err(open_file, ctx, "/sl", F.O_RDONLY | F.O_NOFOLLOW) == E.ELOOP
    fp = open_file(ctx, "/sl", F.O_PATH | F.O_NOFOLLOW)
    assert fp.vnode.vtype == VLNK
    assert err(open_file, ctx, "/etc/passwd", F.O_RDONLY | F.O_DIRECTORY) == E.ENOTDIR
    assert err(open_file, ctx, "/etc", F.O_WRONLY) == E.EISDIR
    assert err(open_file, ctx, "/etc", F.O_RDONLY | F.O_CREAT) == E.EISDIR
    assert err(open_file, ctx, "/newdir/", F.O_WRONLY | F.O_CREAT) == E.EISDIR
    assert err(open_file, ctx, "/etc/passwd", F.O_WRONLY | F.O_CREAT | F.O_EXCL) == E.EEXIST
    assert err(open_file, ctx, "/sl", F.O_WRONLY | F.O_CREAT | F.O_EXCL) == E.EEXIST
    assert err(open_file, ctx, "/t", F.O_RDWR | F.O_TMPFILE) == E.EOPNOTSUPP
    assert err(open_file, ctx, "/missing") == E.ENOENT


def test_permissions_for_other_users(world):
    ctx, hostroot, _ = world
    user = ctx.as_user(1000, 1000)
    V.kern_mkdirat(ctx, ctx.root, "/private", 0o700)
    write_file(ctx, "/private/f", b"secret")
    assert err(lookup, user, "/private/f") == E.EACCES
    assert err(open_file, user, "/etc/passwd", F.O_WRONLY) == E.EACCES
    assert read_file(user, "/etc/passwd").startswith(b"root")
    assert err(write_file, user, "/etc/new", b"x") == E.EACCES
    write_file(user, "/tmp/mine", b"x")
    assert V.kern_statat(ctx, ctx.root, "/tmp/mine").uid == 1000
    V.kern_chmod(ctx, ctx.root, "/private", 0o711)
    assert read_file(user, "/private/f") == b"secret"
    V.kern_chmod(ctx, ctx.root, "/private/f", 0o600)
    assert err(open_file, user, "/private/f") == E.EACCES
    assert read_file(ctx, "/private/f") == b"secret"    # root reads anyway


def test_ktrace_sees_each_looked_up_path(world):
    ctx, _, _ = world
    V.kern_statat(ctx, ctx.root, "/etc/passwd")
    V.kern_renameat2(ctx, ctx.root, "/etc/passwd", ctx.root, "/etc/pw")
    assert ctx.traced == ["/etc/passwd", "/etc/passwd", "/etc/pw"]
