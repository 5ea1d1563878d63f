"""kern_event's file objects without guests: eventfd counters, timerfd
expirations, epoll's level/edge/one-shot rules and knotes, signalfd records."""
import struct

import pytest

from vkernel.abi.linux import epoll as EP
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import signal as S
from vkernel.kernel import kern_event as K
from vkernel.kernel.errors import KernelError
from vkernel.kernel.file import POLLIN, POLLOUT, File, FileOps
from vkernel.kernel.kern_synch import Sleep, sched, wakeup
from vkernel.kernel.proc import Lwp, Proc


def err(fn, *args):
    with pytest.raises(KernelError) as e:
        fn(*args)
    return e.value.errno


@pytest.fixture
def td():
    p = Proc(100, None)
    t = Lwp(p, 100, host=None)
    p.p_lwps[100] = t
    yield t
    sched.unsleep(t)


def u64(v):
    return struct.pack("<Q", v)


def test_eventfd_counter_and_semaphore():
    ops = K.EventFd(0, False)
    fp = File(ops, F.O_RDWR | F.O_NONBLOCK)
    assert err(ops.read, None, fp, 8) == E.EAGAIN
    assert ops.write(None, fp, u64(3)) == 8 and ops.write(None, fp, u64(4)) == 8
    assert ops.poll(None, fp, POLLIN | POLLOUT) == POLLIN | POLLOUT
    assert ops.read(None, fp, 8) == u64(7)
    assert err(ops.write, None, fp, u64(2**64 - 1)) == E.EINVAL
    assert err(ops.read, None, fp, 4) == E.EINVAL
    sem = K.EventFd(2, True)
    sfp = File(sem, F.O_RDWR | F.O_NONBLOCK)
    assert [sem.read(None, sfp, 8) for _ in range(2)] == [u64(1), u64(1)]
    assert err(sem.read, None, sfp, 8) == E.EAGAIN


def test_eventfd_blocking_read_is_woken_by_write(td):
    ops = K.EventFd(0, False)
    fp = File(ops, F.O_RDWR)
    with pytest.raises(Sleep):
        ops.read(td, fp, 8)
    assert ops.count == 0                       # nothing changed before sleeping
    ops.write(None, fp, u64(1))
    assert td in sched.runq and td.td_wchans is None


def test_timerfd_counts_overruns():
    ops = K.TimerFd(1)
    fp = File(ops, F.O_RDWR | F.O_NONBLOCK)
    assert ops.settime(10_000_000_000, 1_000_000_000, False) == (0, 0)
    left, interval = ops.gettime()
    assert 9_000_000_000 < left <= 10_000_000_000 and interval == 1_000_000_000
    assert err(ops.read, None, fp, 8) == E.EAGAIN
    ops._expire(ops.deadline + 2.5)             # three expirations due
    assert ops.read(None, fp, 8) == u64(3)
    old = ops.settime(0, 0, False)
    assert old[1] == 1_000_000_000 and ops.gettime() == (0, 0)


class Level(FileOps):
    """A pollable file whose readiness the test sets."""

    kind = "level"

    def __init__(self):
        self.ready = 0

    def poll(self, td, fp, events):
        return self.ready & events

    def wchans(self, fp):
        return ((self, "poll"),)

    def set(self, ready):
        self.ready = ready
        wakeup((self, "poll"))


def watched(ep, events, data=1):
    ops = Level()
    fp = File(ops, F.O_RDWR)
    ep.ctl(EP.EPOLL_CTL_ADD, 3, fp, (events, data))
    return ops, fp


def test_epoll_level_triggered_repeats():
    ep = K.Epoll()
    ops, _ = watched(ep, EP.EPOLLIN)
    assert ep.collect(None, 8) == []
    ops.set(POLLIN)
    assert ep.collect(None, 8) == [(EP.EPOLLIN, 1)] == ep.collect(None, 8)
    ep.close(None)
    assert sched.knotes.get((ops, "poll")) is None


def test_epoll_edge_triggered_needs_new_activity():
    ep = K.Epoll()
    ops, _ = watched(ep, EP.EPOLLIN | EP.EPOLLET)
    ops.set(POLLIN)
    assert ep.collect(None, 8) == [(EP.EPOLLIN, 1)]
    assert ep.collect(None, 8) == []
    ops.set(POLLIN)                      # more data while still readable: fires again
    assert ep.collect(None, 8) == [(EP.EPOLLIN, 1)]
    ep.close(None)


def test_epoll_oneshot_and_mod():
    ep = K.Epoll()
    ops, fp = watched(ep, EP.EPOLLIN | EP.EPOLLONESHOT, data=7)
    ops.set(POLLIN)
    assert ep.collect(None, 8) == [(EP.EPOLLIN, 7)]
    assert ep.collect(None, 8) == []
    ep.ctl(EP.EPOLL_CTL_MOD, 3, fp, (EP.EPOLLIN, 8))
    assert ep.collect(None, 8) == [(EP.EPOLLIN, 8)]
    assert err(ep.ctl, EP.EPOLL_CTL_ADD, 3, fp, (EP.EPOLLIN, 0)) == E.EEXIST
    ep.ctl(EP.EPOLL_CTL_DEL, 3, fp, None)
    assert err(ep.ctl, EP.EPOLL_CTL_DEL, 3, fp, None) == E.ENOENT


def test_epoll_drops_closed_files_and_wakes_waiters(td):
    ep = K.Epoll()
    ops, fp = watched(ep, EP.EPOLLIN)
    with pytest.raises(Sleep):
        K.tsleep(td, (ep, "r"), "epoll")
    ops.set(POLLIN)                      # the knote wakes the epoll_wait sleeper
    assert td in sched.runq
    fp.drop()
    assert ep.collect(None, 8) == [] and ep.items == {}


def test_epoll_loops_and_unpollable_files():
    a, b = K.Epoll(), K.Epoll()
    afp, bfp = File(a, F.O_RDWR), File(b, F.O_RDWR)
    a.ctl(EP.EPOLL_CTL_ADD, 4, bfp, (EP.EPOLLIN, 0))
    assert err(b.ctl, EP.EPOLL_CTL_ADD, 3, afp, (EP.EPOLLIN, 0)) == E.ELOOP
    assert not K.can_poll(File(FileOps(), F.O_RDWR)) and K.can_poll(afp)
    a.close(afp)


def test_signalfd_reads_pending_signals(td):
    p = td.lwp_proc
    ops = K.SignalFd(S.sigmask(S.SIGUSR1), p)
    fp = File(ops, F.O_RDWR | F.O_NONBLOCK)
    assert err(ops.read, td, fp, 128) == E.EAGAIN
    p.p_siglist |= S.sigmask(S.SIGUSR1) | S.sigmask(S.SIGUSR2)
    p.p_siginfo[S.SIGUSR1] = [S.siginfo_kill(S.SIGUSR1, S.SI_USER, 42, 1000)]
    assert ops.poll(td, fp, POLLIN) == POLLIN
    rec = S.SIGNALFD_SIGINFO.unpack(ops.read(td, fp, 256))
    assert (rec.ssi_signo, rec.ssi_code, rec.ssi_pid, rec.ssi_uid) == (S.SIGUSR1, 0, 42, 1000)
    assert p.p_siglist == S.sigmask(S.SIGUSR2)          # SIGUSR2 is not in the mask


def test_signalfd_siginfo_for_sigchld():
    info = S.siginfo_chld(S.CLD_EXITED, 7, 0, 3, utime=5, stime=6)
    rec = S.SIGNALFD_SIGINFO.unpack(K.signalfd_siginfo(info))
    assert (rec.ssi_signo, rec.ssi_pid, rec.ssi_status, rec.ssi_utime, rec.ssi_stime) == \
        (S.SIGCHLD, 7, 3, 5, 6)
