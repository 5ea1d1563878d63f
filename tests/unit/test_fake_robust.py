"""Robust futexes on the fake platform (kern_futex.exit_robust_list): what a
dying thread's list does to lock words, and garbage lists that must not hang
or crash the kernel."""
import struct

from fakekernel import NR, SCRATCH, call

from vkernel.kernel import kern_futex
from vkernel.kernel.usercopy import copyin, copyout

HEAD = SCRATCH
OWNER_DIED, WAITERS = kern_futex.FUTEX_OWNER_DIED, kern_futex.FUTEX_WAITERS


def robust_list(td, words, offset=8, pending=0, tail=None):
    """A robust list at HEAD whose entries sit at HEAD+64*i, each with its
    lock word `offset` bytes on; words[i] is that lock word."""
    entries = [HEAD + 64 * (i + 1) for i in range(len(words))]
    nxt = entries[1:] + [HEAD if tail is None else tail]
    for e, n, w in zip(entries, nxt, words):
        copyout(td, e, struct.pack("<Q", n))
        copyout(td, e + offset, struct.pack("<I", w))
    copyout(td, HEAD, struct.pack("<QqQ", entries[0] if entries else HEAD, offset, pending))
    assert call(td, NR.set_robust_list, HEAD, 24) == 0
    return entries


def word(td, addr):
    return struct.unpack("<I", copyin(td, addr, 4))[0]


def test_locks_held_by_the_dead_thread_get_owner_died(k):
    td = k.td
    tid = td.lwp_tid
    e = robust_list(td, [tid, tid | WAITERS, 12345])
    kern_futex.exit_robust_list(td)
    assert word(td, e[0] + 8) == OWNER_DIED
    assert word(td, e[1] + 8) == OWNER_DIED | WAITERS
    assert word(td, e[2] + 8) == 12345                   # someone else's lock: untouched
    assert td.lwp_robust_list == 0


def test_the_pending_entry_is_handled_once(k):
    td = k.td
    e = robust_list(td, [td.lwp_tid])
    copyout(td, HEAD + 16, struct.pack("<Q", e[0]))     # list_op_pending = that entry
    kern_futex.exit_robust_list(td)
    assert word(td, e[0] + 8) == OWNER_DIED


def test_a_list_that_never_ends_stops_at_the_limit(k):
    td = k.td
    e = robust_list(td, [td.lwp_tid, td.lwp_tid], tail=HEAD + 64)    # a cycle without the head
    kern_futex.exit_robust_list(td)                                    # returns
    assert word(td, e[0] + 8) == OWNER_DIED


def test_a_bad_pointer_ends_the_walk_quietly(k):
    td = k.td
    e = robust_list(td, [td.lwp_tid], tail=0xdead0000)
    kern_futex.exit_robust_list(td)
    assert word(td, e[0] + 8) == OWNER_DIED


def test_get_robust_list_reads_it_back(k):
    td = k.td
    robust_list(td, [])
    out = SCRATCH + 0x8000
    assert call(td, NR.get_robust_list, 0, out, out + 8) == 0
    assert struct.unpack("<QQ", copyin(td, out, 16)) == (HEAD, 24)
    assert call(td, NR.set_robust_list, HEAD, 16) < 0            # EINVAL: wrong size
