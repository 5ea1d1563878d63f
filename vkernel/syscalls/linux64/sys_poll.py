"""Multiplexing syscalls: poll, ppoll, select, pselect6 and the epoll family.

Linux counterparts: fs/select.c and fs/eventpoll.c; BSD: sys_generic.c
(kern_poll, kern_select).  Nothing here blocks the virtual CPU: readiness
comes from FileOps.poll; when nothing is ready and time remains, the thread
sleeps on every watched file's wait channels (FileOps.wchans) with its
deadline in td.sstate, and the dispatcher re-runs the call after a wakeup,
which simply scans again.  A signal ends the wait with EINTR (poll and
select restart when no handler runs, as ERESTARTNOHAND does on Linux; the
restarted call waits its whole timeout again, where Linux keeps the rest).
ppoll, pselect6 and epoll_pwait run with a temporary signal mask, kept as
rt_sigsuspend keeps it (td.lwp_oldmask) when a handler interrupts them.
"""
import struct
import time

from vkernel.abi.linux import epoll as EP
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import poll as P
from vkernel.abi.linux import select as SEL
from vkernel.abi.linux import signal as S
from vkernel.abi.linux import time as T
from vkernel.kernel import kern_sig
from vkernel.kernel.errors import KernelError
from vkernel.kernel.kern_event import Epoll, can_poll
from vkernel.kernel.kern_synch import tsleep
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import FD, I32, NR, PTR, U32, U64, syscall

from .sys_event import install_anon

POLLIN_SET = P.POLLRDNORM | P.POLLRDBAND | P.POLLIN | P.POLLHUP | P.POLLERR
POLLOUT_SET = P.POLLWRBAND | P.POLLWRNORM | P.POLLOUT | P.POLLERR
POLLEX_SET = P.POLLPRI
SELECT_SETS = (POLLIN_SET, POLLOUT_SET, POLLEX_SET)


# -- timeouts, sleeping and signal masks --------------------------------------------------
def _deadline(td, seconds):
    """The absolute deadline of this call (kept across re-runs); None: forever."""
    if "deadline" not in td.sstate:
        td.sstate["deadline"] = None if seconds is None else time.monotonic() + seconds
        td.sstate["zero_timeout"] = seconds == 0
    return td.sstate["deadline"]


def _expired(deadline):
    return deadline is not None and time.monotonic() >= deadline


def _timespec_arg(td, addr):
    """A struct timespec timeout in seconds, or None for a NULL pointer."""
    if not addr:
        return None
    sec, nsec = T.unpack_timespec(copyin(td, addr, T.TIMESPEC.size))
    if not T.timespec_valid(sec, nsec):
        raise KernelError(E.EINVAL)
    return sec + nsec / 1e9


def _ms_arg(ms):
    return None if ms < 0 else ms / 1000.0


def _block(td, chans, deadline, wmesg, eintr):
    """Nothing is ready: fail if a signal is pending, else sleep (never returns)."""
    if kern_sig.has_pending(td):
        raise KernelError(eintr)
    td.sstate["eintr"] = -eintr
    tsleep(td, list(dict.fromkeys(chans)), wmesg, deadline)


def _write_left(td, addr, deadline, usec):
    """select/pselect6/ppoll leave the time not slept in *timeout (Linux only)."""
    if not addr or deadline is None or td.sstate.get("zero_timeout"):
        return
    left = max(0.0, deadline - time.monotonic())
    sec, frac = int(left), left - int(left)
    data = T.pack_timeval(sec, int(frac * 1e6)) if usec else T.pack_timespec(sec, int(frac * 1e9))
    try:
        copyout(td, addr, data)
    except KernelError:
        pass


def _sigmask_enter(td, umask, size):
    if not umask or "oldmask" in td.sstate:
        return
    if size != 8:
        raise KernelError(E.EINVAL)
    (mask,) = struct.unpack("<Q", copyin(td, umask, 8))
    td.sstate["oldmask"] = td.lwp_sigmask
    td.lwp_sigmask = mask & ~S.SIG_UNBLOCKABLE
    td.lwp_oldmask = td.sstate["oldmask"]


def _sigmask_leave(td):
    if "oldmask" in td.sstate:
        td.lwp_sigmask = td.sstate.pop("oldmask")
        td.lwp_oldmask = None


def with_sigmask(td, umask, size, eintr, fn):
    """Run fn() under the caller's temporary mask.  The old mask comes back
    on return, except when a signal interrupts: postsig/sendsig restore it
    after the handler is set up, as for rt_sigsuspend."""
    _sigmask_enter(td, umask, size)
    try:
        ret = fn()
    except KernelError as e:
        if e.errno != eintr:
            _sigmask_leave(td)
        raise
    _sigmask_leave(td)
    return ret


# -- poll -----------------------------------------------------------------------------------
def _poll_one(td, fp, events):
    want = (events & 0xFFFF) | P.POLLERR | P.POLLHUP
    return fp.ops.poll(td, fp, want) & want


def kern_poll(td, ufds, nfds, deadline):
    """Scan nfds struct pollfd; return the ready count or sleep (do_sys_poll)."""
    fdp = td.lwp_proc.p_fd
    if nfds > fdp.limit:
        raise KernelError(E.EINVAL)
    raw = bytearray(copyin(td, ufds, nfds * P.POLLFD_SIZE))
    count, chans = 0, []
    for i, (fd, events, _) in enumerate(P.unpack_pollfds(raw, nfds)):
        rev = 0
        if fd >= 0:
            fp = fdp.files.get(fd)
            if fp is None:
                rev = P.POLLNVAL
            else:
                rev = _poll_one(td, fp, events)
                chans += fp.ops.wchans(fp)
        count += bool(rev)
        struct.pack_into("<H", raw, i * P.POLLFD_SIZE + 6, rev)
    if count or _expired(deadline):
        copyout(td, ufds, raw)
        return count
    _block(td, chans, deadline, "poll", E.ERESTARTNOHAND)


@syscall(NR.poll, PTR, U32, I32)
def sys_poll(td, ufds, nfds, timeout):
    """Implements Linux poll(2)."""
    return kern_poll(td, ufds, nfds, _deadline(td, _ms_arg(timeout)))


@syscall(NR.ppoll, PTR, U32, PTR, PTR, U64)
def sys_ppoll(td, ufds, nfds, tsp, sigmask, sigsetsize):
    """Implements Linux ppoll(2)."""
    deadline = _deadline(td, _timespec_arg(td, tsp))
    ret = with_sigmask(td, sigmask, sigsetsize, E.ERESTARTNOHAND,
                       lambda: kern_poll(td, ufds, nfds, deadline))
    _write_left(td, tsp, deadline, usec=False)
    return ret


# -- select ---------------------------------------------------------------------------------
def _bits(mask):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _select_scan(td, n, sets):
    """Ready bits for each of the three sets, and the channels to sleep on."""
    fdp = td.lwp_proc.p_fd
    res, chans = [0, 0, 0], []
    for fd in _bits(sets[0] | sets[1] | sets[2]):
        fp = fdp.files.get(fd)
        if fp is None:
            raise KernelError(E.EBADF)
        want = 0
        for s, pollset in zip(sets, SELECT_SETS):
            if s >> fd & 1:
                want |= pollset
        mask = fp.ops.poll(td, fp, want)
        for i, pollset in enumerate(SELECT_SETS):
            if sets[i] >> fd & 1 and mask & pollset:
                res[i] |= 1 << fd
        chans += fp.ops.wchans(fp)
    return res, chans


def kern_select(td, n, addrs, deadline):
    """select(2) on fd_sets at addrs (in, out, except); core_sys_select."""
    if n < 0:
        raise KernelError(E.EINVAL)
    n = min(n, td.lwp_proc.p_fd.limit)
    nbytes = SEL.fd_set_bytes(n)
    sets = [int.from_bytes(copyin(td, a, nbytes), "little") & ((1 << n) - 1) if a else 0
            for a in addrs]
    res, chans = _select_scan(td, n, sets)
    count = sum(bin(r).count("1") for r in res)
    if count or _expired(deadline):
        for a, r in zip(addrs, res):
            if a:
                copyout(td, a, r.to_bytes(nbytes, "little"))
        return count
    _block(td, chans, deadline, "select", E.ERESTARTNOHAND)


def _timeval_arg(td, addr):
    if not addr:
        return None
    sec, usec = T.unpack_timeval(copyin(td, addr, T.TIMEVAL.size))
    if sec < 0 or usec < 0:
        raise KernelError(E.EINVAL)
    return sec + usec / 1e6


@syscall(NR.select, I32, PTR, PTR, PTR, PTR)
def sys_select(td, n, inp, outp, exp, tvp):
    """Implements Linux select(2)."""
    deadline = _deadline(td, _timeval_arg(td, tvp))
    ret = kern_select(td, n, (inp, outp, exp), deadline)
    _write_left(td, tvp, deadline, usec=True)
    return ret


@syscall(NR.pselect6, I32, PTR, PTR, PTR, PTR, PTR)
def sys_pselect6(td, n, inp, outp, exp, tsp, sigdata):
    """Implements Linux pselect6(2) (sigdata: {const sigset_t *ss; size_t ss_len})."""
    deadline = _deadline(td, _timespec_arg(td, tsp))
    umask, size = struct.unpack("<QQ", copyin(td, sigdata, 16)) if sigdata else (0, 0)
    ret = with_sigmask(td, umask, size, E.ERESTARTNOHAND,
                       lambda: kern_select(td, n, (inp, outp, exp), deadline))
    _write_left(td, tsp, deadline, usec=False)
    return ret


# -- epoll ----------------------------------------------------------------------------------
def _epoll(td, epfd):
    fp = td.lwp_proc.p_fd.get(epfd)
    if not isinstance(fp.ops, Epoll):
        raise KernelError(E.EINVAL)
    return fp


@syscall(NR.epoll_create1, I32)
def sys_epoll_create1(td, flags):
    """Implements Linux epoll_create1(2)."""
    if flags & ~EP.EPOLL_CLOEXEC:
        raise KernelError(E.EINVAL)
    return install_anon(td, Epoll(), "eventpoll", flags & F.O_CLOEXEC)


@syscall(NR.epoll_create, I32)
def sys_epoll_create(td, size):
    """Implements Linux epoll_create(2) (size is only checked)."""
    if size <= 0:
        raise KernelError(E.EINVAL)
    return sys_epoll_create1(td, 0)


@syscall(NR.epoll_ctl, FD, I32, FD, PTR)
def sys_epoll_ctl(td, epfd, op, fd, uevent):
    """Implements Linux epoll_ctl(2)."""
    event = None
    if op != EP.EPOLL_CTL_DEL:
        event = EP.unpack_epoll_event(copyin(td, uevent, EP.EPOLL_EVENT_SIZE))
    fdp = td.lwp_proc.p_fd
    epfp, fp = fdp.get(epfd), fdp.get(fd)
    if not can_poll(fp):
        raise KernelError(E.EPERM)
    if not isinstance(epfp.ops, Epoll) or fp is epfp:
        raise KernelError(E.EINVAL)
    return epfp.ops.ctl(op, fd, fp, event)


def kern_epoll_wait(td, epfd, uevents, maxevents, deadline):
    """Harvest ready events or sleep on the instance (ep_poll)."""
    if maxevents <= 0 or maxevents > EP.EP_MAX_EVENTS:
        raise KernelError(E.EINVAL)
    ep = _epoll(td, epfd).ops
    got = ep.collect(td, maxevents)
    if got or _expired(deadline):
        copyout(td, uevents, b"".join(EP.pack_epoll_event(ev, data) for ev, data in got))
        return len(got)
    _block(td, [(ep, "r")], deadline, "epoll", E.EINTR)


@syscall(NR.epoll_wait, FD, PTR, I32, I32)
def sys_epoll_wait(td, epfd, events, maxevents, timeout):
    """Implements Linux epoll_wait(2)."""
    return kern_epoll_wait(td, epfd, events, maxevents, _deadline(td, _ms_arg(timeout)))


@syscall(NR.epoll_pwait, FD, PTR, I32, I32, PTR, U64)
def sys_epoll_pwait(td, epfd, events, maxevents, timeout, sigmask, sigsetsize):
    """Implements Linux epoll_pwait(2)."""
    deadline = _deadline(td, _ms_arg(timeout))
    return with_sigmask(td, sigmask, sigsetsize, E.EINTR,
                        lambda: kern_epoll_wait(td, epfd, events, maxevents, deadline))


@syscall(NR.epoll_pwait2, FD, PTR, I32, PTR, PTR, U64)
def sys_epoll_pwait2(td, epfd, events, maxevents, tsp, sigmask, sigsetsize):
    """Implements Linux epoll_pwait2(2) (a timespec timeout)."""
    deadline = _deadline(td, _timespec_arg(td, tsp))
    return with_sigmask(td, sigmask, sigsetsize, E.EINTR,
                        lambda: kern_epoll_wait(td, epfd, events, maxevents, deadline))
