"""Futexes (Linux kernel/futex/*): sleeping on a guest memory word.

Wait channels are keyed by (address space, address) for private futexes and
by (host tgid, address) for shared ones -- shared memory between processes
comes from host MAP_SHARED pages, so the same address in two processes may
not be the same word; shared anonymous futexes are keyed by address alone
within a family of forked processes, which is what glibc and musl use.
"""
import time

from vkernel.abi.linux import errno as E

from .errors import KernelError
from .kern_synch import sched, tsleep
from .usercopy import copyin_i32

FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF


def futex_key(td, addr, private):
    if addr & 3:
        raise KernelError(E.EINVAL)
    if private:
        return ("futex", id(td.lwp_proc.p_vmspace), addr)
    return ("futex", "shared", addr)


def futex_wait(td, addr, val, deadline, private, bitset=FUTEX_BITSET_MATCH_ANY):
    """FUTEX_WAIT: sleep if *addr == val; woken by futex_wake."""
    if bitset == 0:
        raise KernelError(E.EINVAL)
    st = td.sstate
    if "queued" not in st:
        if copyin_i32(td, addr) != val:
            raise KernelError(E.EAGAIN)
        st["queued"] = True
        st["key"] = futex_key(td, addr, private)
        td.td_futex_bitset = bitset
        td.td_futex_woken = False
    elif td.td_futex_woken:
        return 0
    if deadline is not None and time.monotonic() >= deadline:
        raise KernelError(E.ETIMEDOUT)
    st["eintr"] = -E.EINTR
    tsleep(td, st["key"], "futex", deadline)


def futex_wake(td, addr, n, private, bitset=FUTEX_BITSET_MATCH_ANY):
    """FUTEX_WAKE: wake up to n waiters whose bitset matches."""
    if bitset == 0:
        raise KernelError(E.EINVAL)
    key = futex_key(td, addr, private)
    return _wake_key(key, n, bitset)


def _wake_key(key, n, bitset=FUTEX_BITSET_MATCH_ANY):
    woken = 0
    for waiter in sorted(sched.sleepers.get(key, ()), key=lambda t: t.td_slptime):
        if woken >= n:
            break
        if waiter.td_futex_bitset & bitset:
            waiter.td_futex_woken = True
            sched.setrunnable(waiter, "wakeup")
            woken += 1
    return woken


def futex_requeue(td, addr, n_wake, n_requeue, addr2, private, cmpval=None):
    """FUTEX_REQUEUE / FUTEX_CMP_REQUEUE."""
    if cmpval is not None and copyin_i32(td, addr) != cmpval:
        raise KernelError(E.EAGAIN)
    key, key2 = futex_key(td, addr, private), futex_key(td, addr2, private)
    woken = _wake_key(key, n_wake)
    moved = 0
    for waiter in list(sched.sleepers.get(key, ())):
        if moved >= n_requeue:
            break
        sched.sleepers[key].discard(waiter)
        sched.sleepers.setdefault(key2, set()).add(waiter)
        waiter.td_wchans = tuple(key2 if c == key else c for c in waiter.td_wchans)
        waiter.sstate["key"] = key2
        moved += 1
    if key in sched.sleepers and not sched.sleepers[key]:
        del sched.sleepers[key]
    return woken + moved


def wake_on_exit(td, addr):
    """CLONE_CHILD_CLEARTID: the thread is gone, wake one joiner."""
    _wake_key(futex_key(td, addr, True), 1)
    _wake_key(futex_key(td, addr, False), 1)
