"""futex(2) (Linux kernel/futex/syscalls.c); the work is in kernel.kern_futex."""
import struct
import time

from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_futex
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin_i32, copyout
from vkernel.syscalls.table import I32, NR, PTR, U32, syscall

from .sys_time import read_timespec

FUTEX_WAIT, FUTEX_WAKE, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 3, 4
FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 5, 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256


def _deadline(td, uts, absolute, realtime):
    if not uts:
        return None
    if "deadline" not in td.sstate:
        t = read_timespec(td, uts)
        if absolute:
            now = time.time() if realtime else time.monotonic()
            t = max(0.0, t - now)
        td.sstate["deadline"] = time.monotonic() + t
    return td.sstate["deadline"]


def _wake_op(td, uaddr, n, uaddr2, n2, op, private):
    """FUTEX_WAKE_OP: *uaddr2 = op(*uaddr2, arg); wake uaddr; maybe wake uaddr2."""
    kind, cmp_ = (op >> 28) & 0xF, (op >> 24) & 0xF
    oparg, cmparg = (op >> 12) & 0xFFF, op & 0xFFF
    if kind & 8:
        oparg, kind = 1 << oparg, kind & 7
    old = copyin_i32(td, uaddr2)
    new = [oparg, old + oparg, old | oparg, old & ~oparg, old ^ oparg][kind] if kind < 5 \
        else old
    copyout(td, uaddr2, struct.pack("<i", ((new + 2**31) % 2**32) - 2**31))
    woken = kern_futex.futex_wake(td, uaddr, n, private)
    tests = [old == cmparg, old != cmparg, old < cmparg, old <= cmparg, old > cmparg,
             old >= cmparg]
    if cmp_ < 6 and tests[cmp_]:
        woken += kern_futex.futex_wake(td, uaddr2, n2, private)
    return woken


@syscall(NR.futex, PTR, I32, U32, PTR, PTR, U32)
def sys_futex(td, uaddr, op, val, utime, uaddr2, val3):
    """Implements Linux futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, bitsets."""
    private = bool(op & FUTEX_PRIVATE_FLAG)
    cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    sval = val - 2**32 if val & 0x80000000 else val
    if cmd == FUTEX_WAIT:
        return kern_futex.futex_wait(td, uaddr, sval, _deadline(td, utime, False, realtime),
                                     private)
    if cmd == FUTEX_WAIT_BITSET:
        return kern_futex.futex_wait(td, uaddr, sval, _deadline(td, utime, True, realtime),
                                     private, val3)
    if cmd == FUTEX_WAKE:
        return kern_futex.futex_wake(td, uaddr, val, private)
    if cmd == FUTEX_WAKE_BITSET:
        return kern_futex.futex_wake(td, uaddr, val, private, val3)
    if cmd in (FUTEX_REQUEUE, FUTEX_CMP_REQUEUE):
        cmpval = (val3 - 2**32 if val3 & 0x80000000 else val3) \
            if cmd == FUTEX_CMP_REQUEUE else None
        return kern_futex.futex_requeue(td, uaddr, val, utime & 0x7FFFFFFF, uaddr2, private,
                                        cmpval)
    if cmd == FUTEX_WAKE_OP:
        return _wake_op(td, uaddr, val, uaddr2, utime & 0x7FFFFFFF, val3, private)
    raise KernelError(E.ENOSYS)
