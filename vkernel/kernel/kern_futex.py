"""Futexes (Linux kernel/futex/*): sleeping on a guest memory word.

Wait channels are keyed by (address space, address) for private futexes.
Shared ones in a shared file mapping (shm_open, sem_open, memfd) are keyed
by (file, offset in it), as Linux's get_futex_key does, since processes map
a file at addresses of their own; other shared futexes (shared anonymous
memory, inherited across fork at the same address, which is what glibc and
musl use) are keyed by address alone.
"""
import struct
import time

from vkernel.abi.linux import errno as E
from vkernel.platform import PlatformError

from .errors import KernelError
from .kern_synch import sched, tsleep
from .usercopy import copyin, copyin_i32, copyin_u64, copyout

FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF
FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048            # Linux's ROBUST_LIST_LIMIT: a loop cannot hang us
ROBUST_HEAD_SIZE = 24               # struct robust_list_head


def futex_key(td, addr, private):
    if addr & 3:
        raise KernelError(E.EINVAL)
    vm = td.lwp_proc.p_vmspace
    if private:
        return ("futex", id(vm), addr)
    e = vm.find(addr) if vm is not None else None
    if e is not None and e.obj is not None:
        return ("futex", "file", id(e.obj), e.offset + addr - e.start)
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


# -- robust futexes (Linux kernel/futex/core.c: exit_robust_list) ---------------------------
def exit_robust_list(td):
    """td is dying (exit, exec, a fatal signal): every lock word on its robust
    list that still names td as owner gets FUTEX_OWNER_DIED, and one waiter
    is woken, whose lock then returns EOWNERDEAD.  The list lives in guest
    memory and may be garbage: a bad pointer ends the walk."""
    head = td.lwp_robust_list
    if not head:
        return
    td.lwp_robust_list = 0
    try:
        first, offset, pending = struct.unpack("<QqQ", copyin(td, head, ROBUST_HEAD_SIZE))
        entry, seen = first & ~1, 0
        while entry != head and seen < ROBUST_LIST_LIMIT:
            nxt = copyin_u64(td, entry) & ~1
            if entry != pending & ~1:
                _owner_died(td, entry + offset)
            entry, seen = nxt, seen + 1
        if pending & ~1:
            _owner_died(td, (pending & ~1) + offset)
    except (KernelError, PlatformError):
        pass


def _owner_died(td, uaddr):
    uaddr &= 0xFFFFFFFFFFFFFFFF
    val = copyin_i32(td, uaddr) & 0xFFFFFFFF
    if val & FUTEX_TID_MASK != td.lwp_tid:
        return
    copyout(td, uaddr, struct.pack("<I", (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED))
    if val & FUTEX_WAITERS:
        wake_on_exit(td, uaddr)
