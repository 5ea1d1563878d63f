"""Descriptor and file syscalls on the fake platform: pipes (a reader that
sleeps and is woken by a writer), dup/dup2/dup3/fcntl, and openat/stat/
getdents64 on the memfs root."""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import SLEEPING, call, retval  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import signal as S  # noqa: E402
from vkernel.abi.linux import stat as ST  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.kernel.kern_synch import sched  # noqa: E402

AT = F.AT_FDCWD


def pipe(k, td, flags=0):
    fds = k.alloc(8)
    assert call(td, NR.pipe2, fds, flags) == 0
    return struct.unpack("<ii", k.peek(fds, 8, td))


def test_pipe_reader_sleeps_until_a_writer_writes(k):
    r, w = pipe(k, k.td)
    child = k.fork()                                   # shares the pipe
    buf = k.alloc(16)
    assert call(k.td, NR.read, r, buf, 16) == SLEEPING
    assert k.td.td_wmesg == "piperd" and k.td.host.state == "stopped"
    assert call(child, NR.write, w, k.put(b"hello", child), 5) == 5
    assert k.td in sched.runq                          # woken, not yet re-run
    k.run()
    assert retval(k.td) == 5 and k.peek(buf, 5) == b"hello"
    assert k.td.host.state == "running" and not sched.runq


def test_pipe_eof_nonblock_and_epipe(k):
    r, w = pipe(k, k.td, F.O_NONBLOCK)
    buf = k.alloc(8)
    assert call(k.td, NR.read, r, buf, 8) == -E.EAGAIN
    assert call(k.td, NR.write, w, k.put(b"abc"), 3) == 3
    assert call(k.td, NR.close, w) == 0
    assert call(k.td, NR.read, r, buf, 8) == 3
    assert call(k.td, NR.read, r, buf, 8) == 0          # no writer left: EOF
    r2, w2 = pipe(k, k.td)
    act = k.put(S.pack_sigaction(S.SIG_IGN, 0, 0, 0))
    assert call(k.td, NR.rt_sigaction, S.SIGPIPE, act, 0, 8) == 0
    assert call(k.td, NR.close, r2) == 0
    assert call(k.td, NR.write, w2, buf, 1) == -E.EPIPE  # SIGPIPE ignored: just EPIPE
    assert call(k.td, NR.read, w2, buf, 1) == -E.EBADF   # the write end cannot read


def test_dup_dup2_dup3_share_the_open_file(k):
    k.install("/f", b"0123456789", 0o644)
    fd = call(k.td, NR.openat, AT, k.cstr("/f"), F.O_RDONLY, 0)
    assert fd == 0
    assert call(k.td, NR.dup, fd) == 1
    assert call(k.td, NR.dup2, fd, 10) == 10
    assert call(k.td, NR.dup2, 10, 10) == 10
    assert call(k.td, NR.dup2, 99, 10) == -E.EBADF
    buf = k.alloc(4)
    assert call(k.td, NR.read, 10, buf, 4) == 4
    assert call(k.td, NR.lseek, 1, 0, F.SEEK_CUR) == 4   # one offset for all copies
    assert call(k.td, NR.dup3, fd, 11, F.O_CLOEXEC) == 11
    assert call(k.td, NR.fcntl, 11, F.F_GETFD, 0) == F.FD_CLOEXEC
    assert call(k.td, NR.fcntl, 10, F.F_GETFD, 0) == 0
    assert call(k.td, NR.dup3, fd, fd, 0) == -E.EINVAL
    assert call(k.td, NR.dup3, fd, 12, F.O_NONBLOCK) == -E.EINVAL
    assert call(k.td, NR.dup2, fd, 1 << 20) == -E.EBADF
    assert call(k.td, NR.close, 1) == 0
    assert call(k.td, NR.dup, 10) == 1                   # the lowest free number again


def test_fcntl_flags_and_dupfd(k):
    r, w = pipe(k, k.td)
    assert call(k.td, NR.fcntl, r, F.F_DUPFD, 20) == 20
    assert call(k.td, NR.fcntl, r, F.F_DUPFD, 20) == 21
    assert call(k.td, NR.fcntl, r, F.F_DUPFD_CLOEXEC, 5) == 5
    assert call(k.td, NR.fcntl, 5, F.F_GETFD, 0) == F.FD_CLOEXEC
    assert call(k.td, NR.fcntl, r, F.F_GETFL, 0) == F.O_RDONLY
    assert call(k.td, NR.fcntl, r, F.F_SETFL, F.O_NONBLOCK | F.O_CREAT) == 0
    assert call(k.td, NR.fcntl, 20, F.F_GETFL, 0) == F.O_NONBLOCK   # shared, O_CREAT dropped
    assert call(k.td, NR.read, 20, k.alloc(1), 1) == -E.EAGAIN
    assert call(k.td, NR.fcntl, r, 9999, 0) == -E.EINVAL
    assert call(k.td, NR.fcntl, 77, F.F_GETFD, 0) == -E.EBADF


def _dirents(data):
    names, pos = [], 0
    while pos < len(data):
        _, _, reclen, dtype = struct.unpack_from("<QqHB", data, pos)
        names.append((data[pos + 19:pos + reclen].split(b"\0")[0].decode(), dtype))
        pos += reclen
    return names


def test_openat_stat_getdents64_on_memfs(k):
    td = k.td
    assert call(td, NR.mkdirat, AT, k.cstr("/d"), 0o755) == 0
    fd = call(td, NR.openat, AT, k.cstr("/d/f"), F.O_WRONLY | F.O_CREAT | F.O_EXCL, 0o666)
    assert fd >= 0
    assert call(td, NR.write, fd, k.put(b"hello"), 5) == 5
    assert call(td, NR.openat, AT, k.cstr("/d/f"), F.O_CREAT | F.O_EXCL, 0o666) == -E.EEXIST
    st = k.alloc(ST.STAT_SIZE)
    assert call(td, NR.newfstatat, AT, k.cstr("/d/f"), st, 0) == 0
    s = ST.STAT.unpack(k.peek(st, ST.STAT_SIZE))
    assert (s.st_size, s.st_mode, s.st_nlink) == (5, ST.S_IFREG | 0o644, 1)   # umask 022
    assert call(td, NR.fstat, fd, st) == 0
    assert ST.STAT.unpack(k.peek(st, ST.STAT_SIZE)).st_ino == s.st_ino
    dfd = call(td, NR.openat, AT, k.cstr("/d"), F.O_RDONLY | F.O_DIRECTORY, 0)
    buf = k.alloc(4096)
    n = call(td, NR.getdents64, dfd, buf, 4096)
    assert sorted(_dirents(k.peek(buf, n))) == [(".", 4), ("..", 4), ("f", 8)]
    assert call(td, NR.getdents64, dfd, buf, 4096) == 0          # end of directory
    assert call(td, NR.getdents64, fd, buf, 4096) == -E.ENOTDIR
    assert call(td, NR.openat, AT, k.cstr("/d/missing"), F.O_RDONLY, 0) == -E.ENOENT
    assert call(td, NR.openat, AT, k.cstr("/d/f/x"), F.O_RDONLY, 0) == -E.ENOTDIR
    assert call(td, NR.openat, dfd, k.cstr("f"), F.O_RDONLY, 0) > 0   # relative to a dirfd


def test_pipe2_with_a_bad_pointer_installs_no_descriptor(k):
    """Linux's do_pipe2 installs the fds only once copy_to_user succeeded."""
    assert call(k.td, NR.pipe2, 0xDEAD0000, 0) == -E.EFAULT
    assert k.init.p_fd.files == {}
    r, w = pipe(k, k.td)
    assert (r, w) == (0, 1)


def test_getdents64_fault_does_not_consume_entries(k):
    """A buffer that faults reports EFAULT; the directory position stays."""
    for name in ("a", "b"):
        k.install("/d/" + name, b"", 0o644)
    dfd = call(k.td, NR.openat, AT, k.cstr("/d"), F.O_RDONLY | F.O_DIRECTORY, 0)
    assert call(k.td, NR.getdents64, dfd, 0xDEAD0000, 4096) == -E.EFAULT
    buf = k.alloc(4096)
    n = call(k.td, NR.getdents64, dfd, buf, 4096)
    assert sorted(name for name, _ in _dirents(k.peek(buf, n))) == [".", "..", "a", "b"]
