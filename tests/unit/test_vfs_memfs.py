"""memfs (tmpfs) as a root and as a mount; memfd_create; size limits; file
data moved into a host memfd when mapped (coherent MAP_SHARED), its seals,
and its host descriptors closed when the file goes away."""
import fcntl
import gc
import mmap
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import Ctx, err, names, read_file, write_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import mman as M  # noqa: E402
from vkernel.abi.linux import stat as S  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.fs.memfs import MemMount, memfd_create  # noqa: E402
from vkernel.fs.memfs.memfs_data import HOST_NAME  # noqa: E402
from vkernel.kernel.kern_futex import futex_key  # noqa: E402
from vkernel.kernel.file import File  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.mount import MountTable  # noqa: E402
from vkernel.vfs.vfs_vnops import VnodeFileOps  # noqa: E402
from vkernel.vfs.vnode import VDIR, VFIFO, VLNK  # noqa: E402
from fakekernel import call  # noqa: E402


@pytest.fixture
def ctx():
    mnt = MemMount(mode=0o755)
    return Ctx(mnt.root, MountTable(mnt))


def test_files_dirs_links(ctx):
    root = ctx.root
    V.kern_mkdirat(ctx, root, "/d", 0o777)
    write_file(ctx, "/d/f", b"hello")
    assert read_file(ctx, "/d/f") == b"hello"
    V.kern_symlinkat(ctx, "d/f", root, "/l")
    assert read_file(ctx, "/l") == b"hello"
    assert V.kern_statat(ctx, root, "/l", follow=False).type == VLNK
    assert V.kern_statat(ctx, root, "/l", follow=False).size == 3
    V.kern_linkat(ctx, root, "/d/f", root, "/hard")
    assert V.kern_statat(ctx, root, "/hard").nlink == 2
    assert V.kern_statat(ctx, root, "/").nlink == 3
    assert V.kern_statat(ctx, root, "/d").mode == 0o755
    assert names(ctx, "/") == [".", "..", "d", "hard", "l"]
    V.kern_unlinkat(ctx, root, "/d/f")
    assert read_file(ctx, "/hard") == b"hello"
    V.kern_unlinkat(ctx, root, "/d", rmdir=True)
    assert V.kern_statat(ctx, root, "/").nlink == 2


def test_rename_and_dotdot(ctx):
    root = ctx.root
    for d in ("/a", "/a/b", "/c"):
        V.kern_mkdirat(ctx, root, d, 0o755)
    b = V.kern_lookup(ctx, root, "/a/b")[0]
    V.kern_renameat2(ctx, root, "/a/b", root, "/c/b2")
    assert V.kern_lookup(ctx, b, "..")[0] is V.kern_lookup(ctx, root, "/c")[0]
    assert V.vn_fullpath(b, ctx) == "/c/b2"
    assert err(V.kern_renameat2, ctx, root, "/c", root, "/c/b2/x") == E.EINVAL
    write_file(ctx, "/c/b2/f", b"")
    V.kern_mkdirat(ctx, root, "/e", 0o755)
    assert err(V.kern_renameat2, ctx, root, "/e", root, "/c/b2") == E.ENOTEMPTY
    V.kern_renameat2(ctx, root, "/c/b2", root, "/e")
    assert V.kern_lookup(ctx, root, "/e/f")[0].vtype != VDIR
    V.kern_renameat2(ctx, root, "/a", root, "/e/f", F.RENAME_EXCHANGE)
    assert V.kern_statat(ctx, root, "/a").type != VDIR
    assert V.kern_statat(ctx, root, "/e/f").type == VDIR


def test_fifo_and_devices_are_just_nodes(ctx):
    V.kern_mknodat(ctx, ctx.root, "/p", S.S_IFIFO | 0o600)
    va = V.kern_statat(ctx, ctx.root, "/p")
    assert va.type == VFIFO and va.mode == 0o600


def test_memfd(ctx):
    vp = memfd_create(uid=1000, gid=1000)
    fp = File(VnodeFileOps(vp), F.O_RDWR, "/memfd:test (deleted)", vp)
    fp.ops.write(None, fp, b"abc")
    fp.ops.truncate(None, fp, 10)
    st = fp.ops.stat(None, fp)
    assert st["st_size"] == 10 and st["st_nlink"] == 0
    assert st["st_mode"] == S.S_IFREG | 0o777 and st["st_uid"] == 1000
    assert fp.ops.pread(None, fp, 5, 0) == b"abc\0\0"
    assert err(V.vn_fullpath, vp, ctx) == E.ENOENT


def test_size_limit():
    mnt = MemMount(size_limit=100, max_file=80)
    ctx = Ctx(mnt.root, MountTable(mnt))
    fp = write_file(ctx, "/f", b"x" * 60)
    assert err(fp.ops.write, None, fp, b"y" * 30) == E.EFBIG
    write_file(ctx, "/g", b"z" * 40)
    assert err(write_file, ctx, "/h", b"w" * 10) == E.ENOSPC
    assert mnt.statfs()["f_bfree"] == 0
    del fp
    V.kern_unlinkat(ctx, ctx.root, "/f")
    gc.collect()                                # tracebacks above held the file
    assert mnt.used == 40
    write_file(ctx, "/h", b"w" * 10)


def test_permissions(ctx):
    user = ctx.as_user(1000)
    assert err(V.kern_mkdirat, user, ctx.root, "/u", 0o755) == E.EACCES
    V.kern_mkdirat(ctx, ctx.root, "/t", 0o1777)
    assert V.kern_statat(ctx, ctx.root, "/t").mode == 0o1755     # umask 022
    V.kern_chmod(ctx, ctx.root, "/t", 0o1777)
    write_file(user, "/t/mine", b"")
    assert V.kern_statat(ctx, ctx.root, "/t/mine").uid == 1000
    V.kern_chmod(ctx, ctx.root, "/t", 0o2777)
    V.kern_chown(ctx, ctx.root, "/t", 0, 77)
    V.kern_mkdirat(user, ctx.root, "/t/sub", 0o755)
    va = V.kern_statat(ctx, ctx.root, "/t/sub")
    assert va.gid == 77 and va.mode & S.S_ISGID     # setgid directories pass it on


# -- data in a host memfd -----------------------------------------------------------------
def host_memfds():
    """How many host descriptors of this process are memfs memfds."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += HOST_NAME in os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            pass
    return n


def test_mapping_moves_the_data_into_a_memfd(ctx):
    fp = write_file(ctx, "/f", b"before", F.O_RDWR | F.O_CREAT)
    vp = fp.vnode
    assert vp.data.fd == -1                     # never mapped: kernel memory
    fd = vp.host_fd(True)
    assert os.pread(fd, 100, 0) == b"before"
    fp.ops.pwrite(None, fp, b"write()", 10)     # write() is seen by a mapping...
    assert os.pread(fd, 100, 0) == b"before\0\0\0\0write()"
    os.pwrite(fd, b"STORE", 0)                  # ...and a store through one by read()
    assert read_file(ctx, "/f") == b"STOREe\0\0\0\0write()"
    fp.ops.truncate(None, fp, 3)
    assert os.fstat(fd).st_size == 3 and V.kern_statat(ctx, ctx.root, "/f").size == 3
    ro = vp.host_fd(False)                      # read-only shared mappings get an O_RDONLY fd
    assert ro != fd and fcntl.fcntl(ro, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
    assert vp.host_fd(True) == fd and vp.host_fd(False) == ro


def test_memfd_host_fds_closed_when_the_file_goes_away():
    mnt = MemMount(mode=0o755)
    ctx = Ctx(mnt.root, MountTable(mnt))
    gc.collect()
    before = host_memfds()
    fp = write_file(ctx, "/f", b"x" * 5000, F.O_RDWR | F.O_CREAT)
    fp.vnode.host_fd(True)
    fp.vnode.host_fd(False)
    assert host_memfds() == before + 2 and mnt.used == 5000
    del fp
    gc.collect()
    assert host_memfds() == before + 2          # still linked
    V.kern_unlinkat(ctx, ctx.root, "/f")
    gc.collect()
    assert host_memfds() == before and mnt.used == 0
    vp = memfd_create()
    vp.write(0, b"anonymous")
    vp.host_fd(True)
    assert host_memfds() == before + 1
    del vp
    gc.collect()
    assert host_memfds() == before


def test_memfd_seals_reach_the_host_memfd():
    vp = memfd_create()
    vp.write(0, b"sealed data")
    fd = vp.host_fd(True)
    shared = mmap.mmap(fd, 11)
    assert err(vp.data.add_seals, F.F_SEAL_WRITE) == E.EBUSY      # a writable mapping
    shared.close()
    vp.data.add_seals(F.F_SEAL_WRITE | F.F_SEAL_SHRINK)
    assert vp.data.seals == F.F_SEAL_WRITE | F.F_SEAL_SHRINK
    assert err(vp.write, 0, b"x") == E.EPERM
    assert err(vp.setattr, size=1) == E.EPERM
    with pytest.raises(PermissionError):                           # what the guest's mmap gets
        mmap.mmap(fd, 11)
    assert mmap.mmap(vp.host_fd(False), 11, prot=mmap.PROT_READ)[:6] == b"sealed"


def test_seals_before_the_first_mapping():
    vp = memfd_create()
    vp.write(0, b"abc")
    vp.data.add_seals(F.F_SEAL_GROW)
    assert err(vp.write, 2, b"xy") == E.EPERM
    assert vp.write(0, b"AB") == 2
    fd = vp.host_fd(True)                       # moved, sealed on the host too
    assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) == F.F_SEAL_GROW
    vp.data.add_seals(F.F_SEAL_SEAL)
    assert err(vp.data.add_seals, F.F_SEAL_WRITE) == E.EPERM


def test_accounting_and_limits_through_the_memfd():
    mnt = MemMount(size_limit=3 * 4096, max_file=2 * 4096)
    ctx = Ctx(mnt.root, MountTable(mnt))
    fp = write_file(ctx, "/f", b"y" * 4096, F.O_RDWR | F.O_CREAT)
    fp.ops.pwrite(None, fp, b"z" * 10, 100)     # an overwrite costs nothing
    assert mnt.used == 4096
    fp.vnode.host_fd(True)
    assert mnt.used == 4096 and mnt.statfs()["f_bfree"] == 2
    assert err(fp.ops.truncate, None, fp, 2 * 4096 + 1) == E.EFBIG
    fp.ops.truncate(None, fp, 2 * 4096)
    assert V.kern_statat(ctx, ctx.root, "/f").blocks == 8            # the host allocated one page
    assert err(write_file, ctx, "/g", b"w" * 4097) == E.ENOSPC
    assert mnt.used == 2 * 4096
    fp.ops.truncate(None, fp, 10)
    assert mnt.used == 10 and read_file(ctx, "/f") == b"y" * 10


# -- mapped by guests (fake platform) ---------------------------------------------------
def test_shared_file_mappings_on_the_fake_platform(k):
    k.install("/dev/seg", b"\0" * 8192, 0o666)
    fd = call(k.td, NR.openat, F.AT_FDCWD, k.cstr("/dev/seg"), F.O_RDWR, 0)
    vm = k.init.p_vmspace
    committed = vm.limit.committed
    rw = M.PROT_READ | M.PROT_WRITE
    a = call(k.td, NR.mmap, 0, 8192, rw, M.MAP_SHARED, fd, 0)
    b = call(k.td, NR.mmap, 0, 4096, rw, M.MAP_SHARED, fd, 4096)
    assert a > 0 and b > 0 and a != b
    assert vm.limit.committed == committed      # the file's pages are the file's, not -m's
    assert vm.find(a).obj is vm.find(b).obj is not None
    assert futex_key(k.td, a + 4096 + 8, False) == futex_key(k.td, b + 8, False)
    assert futex_key(k.td, a + 8, False) != futex_key(k.td, b + 8, False)
    assert futex_key(k.td, a + 8, True) != futex_key(k.td, a + 8, False)
    c = call(k.td, NR.mmap, 0, 4096, rw, M.MAP_PRIVATE, fd, 0)
    assert vm.find(c).obj is None and vm.limit.committed == committed + 4096
    assert vm.find(a).obj.data.fd >= 0          # mapped from the memfd
