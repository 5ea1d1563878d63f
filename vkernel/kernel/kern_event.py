"""Event files: eventfd, timerfd, signalfd and epoll instances, as FileOps.

Linux counterparts: fs/eventfd.c, fs/timerfd.c, fs/signalfd.c and
fs/eventpoll.c; DragonFly's nearest is kern_event.c (kqueue), whose knotes
we borrow: an epoll instance learns of activity on a watched file through
sched.knote_attach on that file's wait channels (FileOps.wchans), the way
a kqueue hears KNOTE() from a pipe or a socket.

Every object here is an anonymous file ("anon_inode:[eventfd]", ...).  A
reader that must wait sleeps on (obj, "r") or (obj, "w") and the dispatcher
re-runs its syscall on wakeup, so nothing changes before the decision to
sleep.  Any change of readiness wakes (obj, "poll") for poll, select and
epoll.  The syscalls are in syscalls/linux64/sys_event.py and sys_poll.py.
"""
import struct
import time

from vkernel.abi.linux import epoll as EP
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S
from vkernel.abi.linux.eventfd import EVENTFD_MAX

from . import kern_sig
from .errors import KernelError
from .file import POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, FileOps
from .kern_synch import sched, tsleep, wakeup
from .usercopy import copyin

ANON_INO = 1                     # Linux shares one inode among all anon files
ANON_DEV = 14                    # anon_inodefs's st_dev (0:14)
ULLONG_MAX = (1 << 64) - 1
TFD_IOC_SET_TICKS = 0x40085400   # _IOW('T', 0, u64)
REALTIME_CLOCKS = (0, 8)         # CLOCK_REALTIME, CLOCK_REALTIME_ALARM
TIMERFD_CLOCKS = (0, 1, 7, 8, 9)  # ... CLOCK_MONOTONIC, CLOCK_BOOTTIME(_ALARM)


def _u64(v):
    return v.to_bytes(8, "little")


class AnonFileOps(FileOps):
    """What the anonymous event files share: stat, no fsync, wakeups."""

    def stat(self, td, fp):
        return {"st_mode": 0o600, "st_nlink": 1, "st_ino": ANON_INO,
                "st_dev": ANON_DEV, "st_blksize": 4096}

    def fsync(self, td, fp):
        raise KernelError(E.EINVAL)

    def wchans(self, fp):
        return ((self, "poll"),)

    def wake(self):
        wakeup((self, "r"))
        wakeup((self, "w"))
        wakeup((self, "poll"))


# -- eventfd ---------------------------------------------------------------------------
class EventFd(AnonFileOps):
    """eventfd(2): a 64-bit counter; EFD_SEMAPHORE reads take one at a time."""

    kind = "eventfd"

    def __init__(self, count, semaphore):
        self.count = count
        self.semaphore = semaphore

    def read(self, td, fp, n):
        if n < 8:
            raise KernelError(E.EINVAL)
        if self.count == 0:
            if fp.nonblock:
                raise KernelError(E.EAGAIN)
            tsleep(td, (self, "r"), "eventfd")
        v = 1 if self.semaphore else self.count
        self.count -= v
        self.wake()
        return _u64(v)

    def write(self, td, fp, data):
        if len(data) < 8:
            raise KernelError(E.EINVAL)
        v = int.from_bytes(data[:8], "little")
        if v == ULLONG_MAX:
            raise KernelError(E.EINVAL)
        if self.count + v > EVENTFD_MAX:
            if fp.nonblock:
                raise KernelError(E.EAGAIN)
            tsleep(td, (self, "w"), "eventfd")
        if v:
            self.count += v
            self.wake()
        return 8

    def poll(self, td, fp, events):
        r = POLLIN | POLLRDNORM if self.count else 0
        if self.count < EVENTFD_MAX:
            r |= POLLOUT | POLLWRNORM
        return r & events


# -- timerfd ---------------------------------------------------------------------------
def clock_now(clockid):
    """The current time of a timerfd clock, in seconds."""
    return time.time() if clockid in REALTIME_CLOCKS else time.monotonic()


class TimerFd(AnonFileOps):
    """timerfd_create(2): expirations counted by callouts (kern_timeout)."""

    kind = "timerfd"

    def __init__(self, clockid):
        self.clockid = clockid
        self.deadline = None         # monotonic seconds of the next expiration
        self.interval_ns = 0
        self.ticks = 0               # expirations not yet read
        self.gen = 0                 # bumped to cancel outstanding callouts

    def settime(self, value_ns, interval_ns, absolute):
        """Arm (value 0: disarm); returns the old (value_ns, interval_ns)."""
        old = self.gettime()
        self.gen += 1
        self.ticks = 0
        self.interval_ns = interval_ns
        self.deadline = None
        if value_ns:
            now = time.monotonic()
            value = value_ns / 1e9
            self.deadline = now + (value - clock_now(self.clockid) if absolute else value)
            self._schedule()
        return old

    def gettime(self):
        """(ns left before the next expiration or 0, interval ns)."""
        now = time.monotonic()
        self._expire(now)
        if self.deadline is None:
            return 0, self.interval_ns
        return max(1, int((self.deadline - now) * 1e9)), self.interval_ns

    def _schedule(self):
        gen = self.gen
        sched.callout(self.deadline, lambda: self._fire(gen))

    def _fire(self, gen):
        if gen == self.gen:
            self._expire(time.monotonic())

    def _expire(self, now):
        """Count the expirations due by `now`; re-arm a periodic timer."""
        if self.deadline is None or now < self.deadline:
            return
        if self.interval_ns:
            interval = self.interval_ns / 1e9
            n = 1 + int((now - self.deadline) // interval)
            self.deadline += n * interval
            self.ticks += n
            self.gen += 1
            self._schedule()
        else:
            self.ticks += 1
            self.deadline = None
        self.wake()

    def read(self, td, fp, n):
        if n < 8:
            raise KernelError(E.EINVAL)
        self._expire(time.monotonic())
        if not self.ticks:
            if fp.nonblock:
                raise KernelError(E.EAGAIN)
            tsleep(td, (self, "r"), "timerfd")
        ticks, self.ticks = self.ticks, 0
        return _u64(ticks)

    def poll(self, td, fp, events):
        self._expire(time.monotonic())
        return (POLLIN | POLLRDNORM) & events if self.ticks else 0

    def ioctl(self, td, fp, cmd, arg):
        if cmd != TFD_IOC_SET_TICKS:
            raise KernelError(E.ENOTTY)
        (ticks,) = struct.unpack("<Q", copyin(td, arg, 8))
        if not ticks:
            raise KernelError(E.EINVAL)
        self.ticks = ticks
        self.wake()
        return 0

    def close(self, fp):
        self.gen += 1
        self.deadline = None


# -- signalfd --------------------------------------------------------------------------
def _siginfo_layout(sig, code):
    """Linux siginfo_layout(): which union member of siginfo_t is live."""
    if 0 < code < S.SI_KERNEL:
        if sig in (S.SIGILL, S.SIGFPE, S.SIGSEGV, S.SIGBUS, S.SIGTRAP):
            return "fault"
        return {S.SIGCHLD: "chld", S.SIGPOLL: "poll", S.SIGSYS: "sys"}.get(
            sig, "poll" if code <= 6 else "kill")
    if code == S.SI_TIMER:
        return "timer"
    if code == S.SI_SIGIO:
        return "poll"
    return "rt" if code < 0 else "kill"


def signalfd_siginfo(info):
    """A 128-byte siginfo_t -> struct signalfd_siginfo (signalfd_copyinfo)."""
    signo, errno, code = struct.unpack_from("<iii", info, 0)
    f = {"ssi_signo": signo, "ssi_errno": errno, "ssi_code": code}
    layout = _siginfo_layout(signo, code)
    pid, uid = struct.unpack_from("<iI", info, 16)
    if layout in ("kill", "rt", "chld"):
        f.update(ssi_pid=pid & 0xFFFFFFFF, ssi_uid=uid)
    if layout in ("rt", "timer"):
        (ptr,) = struct.unpack_from("<Q", info, 24)
        f.update(ssi_ptr=ptr, ssi_int=struct.unpack_from("<i", info, 24)[0])
    if layout == "timer":
        f.update(ssi_tid=pid & 0xFFFFFFFF, ssi_overrun=uid)
    elif layout == "chld":
        status, utime, stime = struct.unpack_from("<i4xqq", info, 24)
        f.update(ssi_status=status, ssi_utime=utime & ULLONG_MAX,
                 ssi_stime=stime & ULLONG_MAX)
    elif layout == "fault":
        f.update(ssi_addr=struct.unpack_from("<Q", info, 16)[0])
    elif layout == "poll":
        band, fd = struct.unpack_from("<qi", info, 16)
        f.update(ssi_band=band & 0xFFFFFFFF, ssi_fd=fd)
    elif layout == "sys":
        addr, nr, arch = struct.unpack_from("<QiI", info, 16)
        f.update(ssi_call_addr=addr, ssi_syscall=nr, ssi_arch=arch)
    return S.SIGNALFD_SIGINFO.pack(**f)


class SignalFd(AnonFileOps):
    """signalfd(2): reading dequeues the reader's pending signals in `mask`.

    Pollers sleep on ("signalfd", creator), which kern_sig.signalfd_notify
    wakes whenever a signal is posted to that process.
    """

    kind = "signalfd"

    def __init__(self, mask, owner):
        self.mask = mask
        self.owner = owner

    def read(self, td, fp, n):
        size = S.SIGNALFD_SIGINFO.size
        if n < size:
            raise KernelError(E.EINVAL)
        out = []
        while len(out) < n // size:
            sig, info = kern_sig.dequeue_signal(td, ~self.mask)
            if sig is None:
                break
            out.append(signalfd_siginfo(info))
        if not out:
            if fp.nonblock:
                raise KernelError(E.EAGAIN)
            tsleep(td, ("signalfd", td.lwp_proc), "signalfd")
        return b"".join(out)

    def poll(self, td, fp, events):
        pend = td.lwp_siglist | td.lwp_proc.p_siglist
        return (POLLIN | POLLRDNORM) & events if pend & self.mask else 0

    def wchans(self, fp):
        return (("signalfd", self.owner),)

    def setmask(self, mask):
        self.mask = mask
        self.wake()


# -- epoll -----------------------------------------------------------------------------
EP_ALWAYS = EP.EPOLLERR | EP.EPOLLHUP
EP_PRIVATE = EP.EPOLL_INPUT_FLAGS        # ET, ONESHOT, WAKEUP, EXCLUSIVE
EP_MAX_NESTS = 4


def can_poll(fp):
    """file_can_poll(): does the file have its own poll (regular files do not)?"""
    return type(fp.ops).poll is not FileOps.poll


class Epitem:
    """One watched (fd, file) pair of an epoll instance (struct epitem)."""

    __slots__ = ("ep", "fd", "fp", "events", "data", "ready", "chans")

    def __init__(self, ep, fd, fp, events, data):
        self.ep, self.fd, self.fp = ep, fd, fp
        self.events, self.data = events, data
        self.ready = True                 # on the ready list: worth a look
        self.chans = tuple(fp.ops.wchans(fp))

    def notify(self):
        """Knote callback: the file had activity (ep_poll_callback)."""
        self.ready = True
        self.ep.wake()

    def revents(self, td):
        want = self.events | EP_ALWAYS
        return self.fp.ops.poll(td, self.fp, want & 0xFFFF) & want


class Epoll(AnonFileOps):
    """An epoll instance: the interest list, level- or edge-triggered."""

    kind = "epoll"

    def __init__(self):
        self.items = {}                   # (fd, File) -> Epitem

    # -- epoll_ctl -------------------------------------------------------------------
    def ctl(self, op, fd, fp, events):
        """EPOLL_CTL_ADD/MOD/DEL; `events` is (mask, data) or None for DEL."""
        key = (fd, fp)
        it = self.items.get(key)
        if op == EP.EPOLL_CTL_ADD:
            if it is not None:
                raise KernelError(E.EEXIST)
            self._check_target(fp, events[0])
            self._add(key, events)
        elif op == EP.EPOLL_CTL_MOD:
            if it is None:
                raise KernelError(E.ENOENT)
            if (events[0] | it.events) & EP.EPOLLEXCLUSIVE:
                raise KernelError(E.EINVAL)
            it.events, it.data = events[0] | EP_ALWAYS, events[1]
            it.notify()
        elif op == EP.EPOLL_CTL_DEL:
            if it is None:
                raise KernelError(E.ENOENT)
            self._remove(key)
        else:
            raise KernelError(E.EINVAL)
        return 0

    def _check_target(self, fp, mask):
        if isinstance(fp.ops, Epoll):
            if mask & EP.EPOLLEXCLUSIVE:
                raise KernelError(E.EINVAL)
            if fp.ops.reaches(self, EP_MAX_NESTS):
                raise KernelError(E.ELOOP)

    def reaches(self, target, depth):
        """Is `target` this instance or watched through it (ep_loop_check)?"""
        if self is target or depth < 0:
            return True
        return any(isinstance(it.fp.ops, Epoll) and it.fp.ops.reaches(target, depth - 1)
                   for it in self.items.values())

    def _add(self, key, events):
        it = Epitem(self, key[0], key[1], events[0] | EP_ALWAYS, events[1])
        self.items[key] = it
        for chan in it.chans:
            sched.knote_attach(chan, it.notify)
        self.wake()

    def _remove(self, key):
        it = self.items.pop(key)
        for chan in it.chans:
            sched.knote_detach(chan, it.notify)

    # -- epoll_wait ------------------------------------------------------------------
    def collect(self, td, maxevents):
        """Harvest up to maxevents [(events, data)] (ep_send_events)."""
        out = []
        for key, it in list(self.items.items()):
            if len(out) >= maxevents:
                break
            if it.fp.refs <= 0:
                self._remove(key)                # every descriptor closed
                continue
            if not it.events & ~EP_PRIVATE:
                continue                         # EPOLLONESHOT spent until EPOLL_CTL_MOD
            if it.events & EP.EPOLLET and not it.ready:
                continue
            it.ready = False
            rev = it.revents(td)
            if rev:
                out.append((rev, it.data))
                if it.events & EP.EPOLLONESHOT:
                    it.events &= EP_PRIVATE
        return out

    def poll(self, td, fp, events):
        for it in self.items.values():
            if it.fp.refs > 0 and (it.ready or not it.events & EP.EPOLLET) \
                    and it.events & ~EP_PRIVATE and it.revents(td):
                return (POLLIN | POLLRDNORM) & events
        return 0

    def close(self, fp):
        for key in list(self.items):
            self._remove(key)
