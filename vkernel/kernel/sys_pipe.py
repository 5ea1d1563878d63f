"""Pipes (BSD sys_pipe.c): a bounded byte buffer with a read end and a write end.

Readers sleep on (pipe, "r") while it is empty and a writer exists; writers
sleep on (pipe, "w") while it is full.  Writes of at most PIPE_BUF bytes are
atomic.  A write with no reader left is EPIPE (the caller raises SIGPIPE).
"""
from vkernel.abi.linux import errno as E

from .errors import KernelError
from .file import POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, FileOps
from .kern_fail import fail_point
from .kern_synch import tsleep, wakeup

PIPE_SIZE = 65536
PIPE_BUF = 4096
FIONREAD = 0x541B


class Pipe:
    def __init__(self):
        self.buf = bytearray()
        self.readers = 0
        self.writers = 0
        self.ino = id(self) & 0xFFFFFFFF

    def wake(self):
        wakeup((self, "r"))
        wakeup((self, "w"))
        wakeup((self, "poll"))


_fp_pipe_write = fail_point("pipe_write", "writes to pipes and FIFOs")


class PipeEnd(FileOps):
    """One end of a pipe (also used for FIFOs opened by name)."""

    kind = "pipe"

    def __init__(self, pipe, writer):
        self.pipe = pipe
        self.writer = writer
        if writer:
            pipe.writers += 1
        else:
            pipe.readers += 1

    def read(self, td, fp, n):
        p = self.pipe
        if n == 0:
            return b""
        if not p.buf:
            if p.writers == 0:
                return b""
            if fp.nonblock:
                raise KernelError(E.EAGAIN)
            tsleep(td, (p, "r"), "piperd")
        data = bytes(p.buf[:n])
        del p.buf[:n]
        p.wake()
        return data

    def write(self, td, fp, data):
        _fp_pipe_write.check(td)
        p = self.pipe
        if p.readers == 0:
            raise KernelError(E.EPIPE)
        room = PIPE_SIZE - len(p.buf)
        need = len(data) if len(data) <= PIPE_BUF else 1
        if room < need or room == 0:
            if fp.nonblock:
                raise KernelError(E.EAGAIN)
            tsleep(td, (p, "w"), "pipewr")
        n = min(room, len(data))
        p.buf += data[:n]
        p.wake()
        return n

    def poll(self, td, fp, events):
        p, r = self.pipe, 0
        if self.writer:
            if PIPE_SIZE - len(p.buf) >= PIPE_BUF:
                r |= POLLOUT | POLLWRNORM
            if p.readers == 0:
                r |= POLLERR
        else:
            if p.buf:
                r |= POLLIN | POLLRDNORM
            if p.writers == 0:
                r |= POLLHUP
        return r & (events | POLLERR | POLLHUP)

    def wchans(self, fp):
        return ((self.pipe, "poll"),)

    def ioctl(self, td, fp, cmd, arg):
        if cmd == FIONREAD:
            from .usercopy import copyout_i32
            copyout_i32(td, arg, len(self.pipe.buf) if not self.writer else 0)
            return 0
        raise KernelError(E.ENOTTY)

    def fsync(self, td, fp):
        raise KernelError(E.EINVAL)          # no ->fsync on a pipe

    def stat(self, td, fp):
        return {"st_mode": 0o010600, "st_ino": self.pipe.ino, "st_nlink": 1,
                "st_blksize": PIPE_BUF, "st_dev": 12}

    def close(self, fp):
        if self.writer:
            self.pipe.writers -= 1
        else:
            self.pipe.readers -= 1
        self.pipe.wake()
