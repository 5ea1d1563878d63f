"""System V IPC syscalls: shmget, shmat, shmdt, shmctl.

Linux counterpart: ipc/shm.c (the SYSCALL_DEFINEs and ksys_shmctl); the
work is in vkernel.kernel.sysv_shm.  Message queues and semaphores are not
implemented.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import ipc as I
from vkernel.kernel import sysv_shm
from vkernel.kernel.errors import KernelError
from vkernel.kernel.usercopy import copyin, copyout
from vkernel.syscalls.table import I32, NR, PTR, U64, syscall


@syscall(NR.shmget, I32, U64, I32)
def sys_shmget(td, key, size, shmflg):
    """Implements Linux shmget(2)."""
    return sysv_shm.shmget(td, key, size, shmflg)


@syscall(NR.shmat, I32, PTR, I32)
def sys_shmat(td, shmid, shmaddr, shmflg):
    """Implements Linux shmat(2): returns the address of the attachment."""
    return sysv_shm.shmat(td, shmid, shmaddr, shmflg)


@syscall(NR.shmdt, PTR)
def sys_shmdt(td, shmaddr):
    """Implements Linux shmdt(2)."""
    return sysv_shm.shmdt(td, shmaddr)


def _need(buf):
    if not buf:
        raise KernelError(E.EFAULT)


def _ctl_id(td, cmd, shmid, buf):
    """The commands on one segment by id."""
    seg = sysv_shm.shm_lookup(shmid)
    if cmd == I.IPC_STAT:
        _need(buf)
        copyout(td, buf, sysv_shm.shm_stat(td, seg))
    elif cmd == I.IPC_SET:
        _need(buf)
        sysv_shm.shm_set(td, seg, copyin(td, buf, I.SHMID64_DS.size))
    elif cmd == I.IPC_RMID:
        sysv_shm.shm_rmid(td, seg)
    else:
        sysv_shm.shm_lock(td, seg, cmd == I.SHM_LOCK)
    return 0


@syscall(NR.shmctl, I32, I32, PTR)
def sys_shmctl(td, shmid, cmd, buf):
    """Implements Linux shmctl(2) (SHM_LOCK only marks the segment).

    IPC_STAT, IPC_SET, IPC_RMID, SHM_LOCK and SHM_UNLOCK act on an id;
    IPC_INFO and SHM_INFO return the highest index in use, SHM_STAT and
    SHM_STAT_ANY take an index and return the segment's id."""
    cmd &= ~I.IPC_64
    if cmd in (I.IPC_STAT, I.IPC_SET, I.IPC_RMID, I.SHM_LOCK, I.SHM_UNLOCK):
        return _ctl_id(td, cmd, shmid, buf)
    if cmd in (I.IPC_INFO, I.SHM_INFO):
        _need(buf)
        copyout(td, buf, sysv_shm.shminfo() if cmd == I.IPC_INFO else sysv_shm.shm_info())
        return sysv_shm.shm_max_index()
    if cmd in (I.SHM_STAT, I.SHM_STAT_ANY):
        _need(buf)
        seg, ds = sysv_shm.shm_index_stat(td, shmid, cmd == I.SHM_STAT_ANY)
        copyout(td, buf, ds)
        return seg.id
    raise KernelError(E.EINVAL)
