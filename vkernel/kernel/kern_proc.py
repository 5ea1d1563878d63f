"""The process table: allproc, pid allocation, pfind, process groups.

BSD counterpart: sys/kern/kern_proc.c.  `allproc_scan(callback, data)` is
DragonFly's: it calls callback(p, data) for every process in the system
and stops early when the callback returns a negative number.
"""
from .errors import KernelError
from vkernel.abi.linux import errno as E

from .proc import Pgrp, Session, SZOMB

PID_MAX = 99999

allproc = {}          # pid -> Proc (zombies included, as in the 2009 tree)
alllwp = {}           # tid -> Lwp
pgrphash = {}         # pgid -> Pgrp
_lastpid = 0
curthread = None      # the thread whose syscall is being served (BSD curthread)


def nprocs():
    return len(allproc)


def pid_alloc():
    """The next free id (pids and tids share one space, as on Linux)."""
    global _lastpid
    for _ in range(PID_MAX):
        _lastpid = _lastpid + 1 if _lastpid < PID_MAX else 2
        if _lastpid not in allproc and _lastpid not in alllwp and _lastpid not in pgrphash:
            return _lastpid
    raise KernelError(E.EAGAIN, "out of pids")


def pfind(pid):
    """The live (non-zombie) process with this pid, or None."""
    p = allproc.get(pid)
    return p if p is not None and p.p_stat != SZOMB else None


def zpfind(pid):
    return allproc.get(pid)


def lwpfind(tid):
    return alllwp.get(tid)


def allproc_scan(callback, data):
    """Call callback(p, data) for every process; stop when it returns < 0."""
    for p in list(allproc.values()):
        if callback(p, data) < 0:
            break


def proc_insert(p):
    allproc[p.p_pid] = p


def proc_remove(p):
    allproc.pop(p.p_pid, None)


# -- process groups and sessions (kern_proc.c enterpgrp/leavepgrp) -------------
def pgfind(pgid):
    return pgrphash.get(pgid)


def enterpgrp(p, pgid, mksess):
    """Move p into group pgid, creating it (and a session when mksess)."""
    pg = pgrphash.get(pgid)
    if pg is not None and p.p_pgrp is pg:
        return                      # already there: leaving would free the group
    if pg is None:
        sess = Session(p.p_pid, p) if mksess else p.p_session
        pg = Pgrp(pgid, sess)
        pgrphash[pgid] = pg
    leavepgrp(p)
    p.p_pgrp = pg
    pg.pg_members.add(p)


def leavepgrp(p):
    pg = p.p_pgrp
    if pg is None:
        return
    pg.pg_members.discard(p)
    p.p_pgrp = None
    if not pg.pg_members:
        pgrphash.pop(pg.pg_id, None)


def pgrp_orphaned(pg, ignored=None):
    """POSIX orphaned process group (BSD orphanpg's test, Linux
    will_become_orphaned_pgrp): no living member but `ignored` has a parent
    in another group of the same session.  No group counts as orphaned."""
    if pg is None:
        return True
    for m in pg.pg_members:
        if m is ignored or m.p_stat == SZOMB:
            continue
        par = m.p_pptr
        if par is not None and par.p_pgrp is not pg and par.p_session is pg.pg_session:
            return False
    return True


def pgrp_procs(pgid):
    pg = pgrphash.get(pgid)
    return [p for p in pg.pg_members if p.p_stat != SZOMB] if pg else []


def descendants(p):
    """p and all its descendants (KTRFLAG_DESCEND, kill trees)."""
    out, stack = [], [p]
    while stack:
        q = stack.pop()
        out.append(q)
        stack.extend(q.p_children)
    return out
