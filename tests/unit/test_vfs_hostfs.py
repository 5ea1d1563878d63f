"""hostfs through the VFS workers: making and removing names, renames, links,
and guest ownership kept in xattrs (or in memory when there are none)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import Ctx, err, make_world, names, read_file, write_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import stat as S  # noqa: E402
from vkernel.fs.hostfs import HostMount  # noqa: E402
from vkernel.fs.hostfs.hostfs_meta import META_XATTR  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MNT_RDONLY, MountTable  # noqa: E402
from vkernel.vfs.vnode import VDIR, VFIFO, VREG, VSOCK  # noqa: E402


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


def stat(ctx, path, follow=True):
    return V.kern_statat(ctx, ctx.root, path, follow)


def remount(hostroot):
    mnt = HostMount(hostroot)
    return Ctx(mnt.root, MountTable(mnt))


def test_create_write_read_unlink(world):
    ctx, hostroot, _ = world
    write_file(ctx, "/tmp/f", b"hello")
    assert open(os.path.join(hostroot, "tmp/f"), "rb").read() == b"hello"
    va = stat(ctx, "/tmp/f")
    assert (va.type, va.mode, va.size, va.nlink) == (VREG, 0o644, 5, 1)
    assert va.dev == ctx.root.mount.dev
    assert va.ino == os.stat(os.path.join(hostroot, "tmp/f")).st_ino
    V.kern_unlinkat(ctx, ctx.root, "/tmp/f")
    assert err(stat, ctx, "/tmp/f") == E.ENOENT
    assert err(V.kern_unlinkat, ctx, ctx.root, "/tmp/f") == E.ENOENT


def test_unlinked_file_stays_readable_while_held(world):
    ctx, _, _ = world
    fp = write_file(ctx, "/tmp/f", b"data", flags=F.O_RDWR | F.O_CREAT)
    V.kern_unlinkat(ctx, ctx.root, "/tmp/f")
    assert fp.ops.pread(None, fp, 10, 0) == b"data"
    assert fp.ops.stat(None, fp)["st_nlink"] == 0


def test_mkdir_rmdir(world):
    ctx, _, _ = world
    V.kern_mkdirat(ctx, ctx.root, "/d", 0o777)
    assert stat(ctx, "/d").mode == 0o755
    write_file(ctx, "/d/f", b"")
    assert err(V.kern_unlinkat, ctx, ctx.root, "/d", rmdir=True) == E.ENOTEMPTY
    assert err(V.kern_unlinkat, ctx, ctx.root, "/d") == E.EISDIR
    assert err(V.kern_unlinkat, ctx, ctx.root, "/d/f", rmdir=True) == E.ENOTDIR
    assert err(V.kern_mkdirat, ctx, ctx.root, "/d", 0o755) == E.EEXIST
    assert err(V.kern_unlinkat, ctx, ctx.root, "/d/.", rmdir=True) == E.EINVAL
    assert err(V.kern_unlinkat, ctx, ctx.root, "/", rmdir=True) == E.EBUSY
    V.kern_unlinkat(ctx, ctx.root, "/d/f")
    V.kern_unlinkat(ctx, ctx.root, "/d/", rmdir=True)
    assert err(stat, ctx, "/d") == E.ENOENT


def test_trailing_slash_on_a_symlink_to_a_directory(world):
    ctx, hostroot, _ = world
    root = ctx.root
    V.kern_symlinkat(ctx, "/a/b/c", root, "/tmp/toc")
    assert err(V.kern_unlinkat, ctx, root, "/tmp/toc/", rmdir=True) == E.ENOTDIR
    assert err(V.kern_unlinkat, ctx, root, "/tmp/toc/") == E.ENOTDIR
    assert os.path.isdir(os.path.join(hostroot, "a/b/c"))
    assert stat(ctx, "/tmp/toc/").type == VDIR
    V.kern_unlinkat(ctx, root, "/tmp/toc")
    assert os.path.isdir(os.path.join(hostroot, "a/b/c"))


def test_rename(world):
    ctx, _, _ = world
    root = ctx.root
    write_file(ctx, "/tmp/a", b"A")
    write_file(ctx, "/tmp/b", b"B")
    vp = V.kern_lookup(ctx, root, "/tmp/a")[0]
    assert err(V.kern_renameat2, ctx, root, "/tmp/a", root, "/tmp/b",
               F.RENAME_NOREPLACE) == E.EEXIST
    V.kern_renameat2(ctx, root, "/tmp/a", root, "/tmp/b", F.RENAME_EXCHANGE)
    assert read_file(ctx, "/tmp/a") == b"B" and read_file(ctx, "/tmp/b") == b"A"
    V.kern_renameat2(ctx, root, "/tmp/b", root, "/etc/moved")
    assert V.kern_lookup(ctx, root, "/etc/moved")[0] is vp
    assert V.vn_fullpath(vp, ctx) == "/etc/moved"
    assert err(V.kern_renameat2, ctx, root, "/tmp/zz", root, "/tmp/y") == E.ENOENT
    assert err(V.kern_renameat2, ctx, root, "/etc/moved", root, "/a") == E.EISDIR
    assert err(V.kern_renameat2, ctx, root, "/a", root, "/etc/moved") == E.ENOTDIR
    assert err(V.kern_renameat2, ctx, root, "/tmp/.", root, "/x") == E.EBUSY
    assert err(V.kern_renameat2, ctx, root, "/a", root, "/x", 0x80) == E.EINVAL


def test_rename_directory_into_itself(world):
    ctx, _, _ = world
    root = ctx.root
    assert err(V.kern_renameat2, ctx, root, "/a", root, "/a/b/c/x") == E.EINVAL
    assert err(V.kern_renameat2, ctx, root, "/a", root, "/a/x") == E.EINVAL
    V.kern_renameat2(ctx, root, "/a/b", root, "/b2")
    c = V.kern_lookup(ctx, root, "/b2/c")[0]
    assert V.vn_fullpath(c, ctx) == "/b2/c"
    assert V.kern_lookup(ctx, c, "../..")[0] is root


def test_hard_and_symbolic_links(world):
    ctx, hostroot, _ = world
    root = ctx.root
    V.kern_linkat(ctx, root, "/etc/passwd", root, "/tmp/pw")
    assert stat(ctx, "/etc/passwd").nlink == 2
    assert os.stat(os.path.join(hostroot, "tmp/pw")).st_ino == \
        os.stat(os.path.join(hostroot, "etc/passwd")).st_ino
    assert err(V.kern_linkat, ctx, root, "/etc", root, "/tmp/etc2") == E.EPERM
    assert err(V.kern_linkat, ctx, root, "/etc/passwd", root, "/tmp/pw") == E.EEXIST
    V.kern_symlinkat(ctx, "/etc/passwd", root, "/tmp/sl")
    assert os.readlink(os.path.join(hostroot, "tmp/sl")) == "/etc/passwd"
    assert V.kern_readlinkat(ctx, root, "/tmp/sl") == "/etc/passwd"
    assert err(V.kern_readlinkat, ctx, root, "/etc/passwd") == E.EINVAL
    assert err(V.kern_symlinkat, ctx, "", root, "/tmp/empty") == E.ENOENT
    assert err(V.kern_symlinkat, ctx, "x" * 4096, root, "/tmp/long") == E.ENAMETOOLONG
    V.kern_linkat(ctx, root, "/tmp/sl", root, "/tmp/sl2")          # the link itself
    assert stat(ctx, "/tmp/sl2", follow=False).type == stat(ctx, "/tmp/sl", follow=False).type
    assert stat(ctx, "/tmp/sl", follow=False).nlink == 2


def test_chown_chmod_kept_in_xattr_across_remount(world):
    ctx, hostroot, _ = world
    write_file(ctx, "/tmp/f", b"x")
    V.kern_chown(ctx, ctx.root, "/tmp/f", 1000, 100)
    V.kern_chmod(ctx, ctx.root, "/tmp/f", 0o4750)
    host = os.path.join(hostroot, "tmp/f")
    assert os.getxattr(host, META_XATTR) == b"1000:100:104750:0"
    assert os.stat(host).st_mode & 0o7777 == 0o750      # host bits, owner keeps rw
    again = remount(hostroot)
    va = stat(again, "/tmp/f")
    assert (va.uid, va.gid, va.mode) == (1000, 100, 0o4750)
    V.kern_chmod(ctx, ctx.root, "/tmp/f", 0o000)
    assert os.stat(host).st_mode & 0o777 == 0o600


def test_default_owner_is_root_with_host_mode(world):
    ctx, hostroot, _ = world
    va = stat(ctx, "/bin/sh")
    assert (va.uid, va.gid, va.mode) == (0, 0, 0o755)
    assert META_XATTR not in os.listxattr(os.path.join(hostroot, "bin/sh"))


def test_chown_rules_for_users(world):
    ctx, _, _ = world
    user = ctx.as_user(1000, 1000, groups=[50])
    write_file(user, "/tmp/u", b"")
    assert err(V.kern_chown, user, user.root, "/tmp/u", 0, -1) == E.EPERM
    assert err(V.kern_chown, user, user.root, "/tmp/u", -1, 7) == E.EPERM
    V.kern_chown(user, user.root, "/tmp/u", -1, 50)
    assert err(V.kern_chmod, user, user.root, "/etc/passwd", 0o777) == E.EPERM
    V.kern_chmod(ctx, ctx.root, "/tmp/u", 0o6755)
    V.kern_chown(ctx, ctx.root, "/tmp/u", 1001, -1)
    assert stat(ctx, "/tmp/u").mode == 0o755            # setuid/setgid cleared


def test_sticky_tmp(world):
    ctx, _, _ = world
    alice, bob = ctx.as_user(1000), ctx.as_user(1001)
    write_file(alice, "/tmp/a", b"")
    assert err(V.kern_unlinkat, bob, bob.root, "/tmp/a") == E.EPERM
    assert err(V.kern_renameat2, bob, bob.root, "/tmp/a", bob.root, "/tmp/b") == E.EPERM
    V.kern_unlinkat(alice, alice.root, "/tmp/a")


def test_mknod_special_files_are_plain_host_files(world):
    ctx, hostroot, _ = world
    V.kern_mknodat(ctx, ctx.root, "/tmp/fifo", S.S_IFIFO | 0o640)
    V.kern_mknodat(ctx, ctx.root, "/tmp/null", S.S_IFCHR | 0o666, S.makedev(1, 3))
    V.kern_mknodat(ctx, ctx.root, "/tmp/sock", S.S_IFSOCK | 0o600)
    for name in ("fifo", "null", "sock"):
        assert S.S_IFMT & os.lstat(os.path.join(hostroot, "tmp", name)).st_mode == S.S_IFREG
    again = remount(hostroot)
    assert stat(again, "/tmp/fifo").st_mode() == S.S_IFIFO | 0o640
    va = stat(again, "/tmp/null")
    assert (va.st_mode(), va.rdev) == (S.S_IFCHR | 0o644, S.makedev(1, 3))  # umask 022
    assert stat(again, "/tmp/sock").type == VSOCK
    user = ctx.as_user(1000)
    assert err(V.kern_mknodat, user, user.root, "/tmp/c", S.S_IFCHR | 0o600, 0) == E.EPERM
    assert err(V.kern_mknodat, ctx, ctx.root, "/tmp/d", S.S_IFDIR | 0o600, 0) == E.EPERM


def test_readdir_types(world):
    ctx, _, _ = world
    assert names(ctx, "/") == [".", "..", "a", "bin", "etc", "tmp"]
    V.kern_mknodat(ctx, ctx.root, "/tmp/p", S.S_IFIFO | 0o600)
    write_file(ctx, "/tmp/r", b"")
    fp = V.kern_openat(ctx, ctx.root, "/tmp", F.O_RDONLY | F.O_DIRECTORY)[0]
    from vkernel.kernel.file import File
    f = File(fp, F.O_RDONLY)
    types = {name: dt for _, dt, name in fp.getdents(None, f)}
    assert types["."] == S.DT_DIR and types[".."] == S.DT_DIR
    # A directory that holds guest special files makes no promise for them.
    assert types["p"] == types["r"] == S.DT_UNKNOWN


def test_no_xattrs_falls_back_to_memory(world):
    ctx, hostroot, _ = world
    ctx.root.mount.meta.xattrs = False
    write_file(ctx, "/tmp/f", b"")
    V.kern_chown(ctx, ctx.root, "/tmp/f", 5, 6)
    V.kern_mknodat(ctx, ctx.root, "/tmp/p", S.S_IFIFO | 0o600)
    assert META_XATTR not in os.listxattr(os.path.join(hostroot, "tmp/f"))
    assert (stat(ctx, "/tmp/f").uid, stat(ctx, "/tmp/f").gid) == (5, 6)
    assert stat(ctx, "/tmp/p").type == VFIFO


def test_symlink_owner_kept_in_memory(world):
    ctx, _, _ = world
    user = ctx.as_user(1000)
    V.kern_symlinkat(user, "target", user.root, "/tmp/l")
    assert stat(ctx, "/tmp/l", follow=False).uid == 1000


def test_readonly_mount(tmp_path):
    ctx, _, _ = make_world(tmp_path, flags=MNT_RDONLY)
    root = ctx.root
    assert err(write_file, ctx, "/tmp/f", b"") == E.EROFS
    assert err(V.kern_openat, ctx, root, "/etc/passwd", F.O_WRONLY) == E.EROFS
    assert err(V.kern_mkdirat, ctx, root, "/d", 0o755) == E.EROFS
    assert err(V.kern_unlinkat, ctx, root, "/etc/passwd") == E.EROFS
    assert err(V.kern_chmod, ctx, root, "/etc/passwd", 0o600) == E.EROFS
    assert err(V.kern_accessat, ctx, root, "/etc/passwd", 2) == E.EROFS
    assert err(V.kern_truncate, ctx, root, "/etc/passwd", 0) == E.EROFS
    assert read_file(ctx, "/etc/passwd").startswith(b"root")
    assert V.kern_statfs(ctx, root, "/")["f_flags"] & S.ST_RDONLY


def test_truncate_utimens_access(world):
    ctx, _, _ = world
    root = ctx.root
    write_file(ctx, "/tmp/f", b"0123456789")
    V.kern_truncate(ctx, root, "/tmp/f", 4)
    assert read_file(ctx, "/tmp/f") == b"0123"
    assert err(V.kern_truncate, ctx, root, "/tmp", 0) == E.EISDIR
    V.kern_utimens(ctx, root, "/tmp/f", (1000, 5), None)
    va = stat(ctx, "/tmp/f")
    assert va.atime == (1000, 5) and va.mtime != (1000, 5)
    V.kern_utimens(ctx, root, "/tmp/f", None, (2000, 0))
    assert stat(ctx, "/tmp/f").mtime == (2000, 0)
    user = ctx.as_user(1000)
    assert err(V.kern_utimens, user, root, "/tmp/f", (1, 0), (1, 0)) == E.EPERM
    assert err(V.kern_utimens, user, root, "/tmp/f", V.NOW, V.NOW) == E.EACCES
    V.kern_accessat(user, root, "/tmp/f", 4)
    assert err(V.kern_accessat, user, root, "/tmp/f", 2) == E.EACCES
    assert err(V.kern_accessat, ctx, root, "/tmp/f", 1) == E.EACCES   # no x bit, even root
    V.kern_accessat(ctx, root, "/bin/sh", 1)


def test_access_uses_real_ids(world):
    ctx, _, _ = world
    setuid_root = ctx.as_user(0)
    setuid_root.cred.ruid = 1000
    V.kern_chmod(ctx, ctx.root, "/etc/passwd", 0o600)
    assert err(V.kern_accessat, setuid_root, ctx.root, "/etc/passwd", 4) == E.EACCES
    V.kern_accessat(setuid_root, ctx.root, "/etc/passwd", 4, F.AT_EACCESS)


def test_statfs(world):
    ctx, _, _ = world
    st = V.kern_statfs(ctx, ctx.root, "/etc")
    assert st["f_type"] == S.EXT4_SUPER_MAGIC and st["f_bsize"] > 0
    assert st["f_namelen"] == 255 and st["f_flags"] & S.ST_VALID
