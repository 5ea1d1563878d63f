"""ktrace: per-process trace points logged to a file (DragonFly kern_ktrace.c).

A traced process has a facility mask, `p_traceflag` (KTRFAC_*), and a
`p_tracenode`: a `ktrace_node` naming the trace file's vnode (`kn_vp`,
the first field) with a reference count (`kn_refs`) shared by every
process that logs to the same file.  ktrace(2) (`sys_ktrace`) sets and
clears both; the record format is in vkernel.abi.vkernel.ktrace.

Records are written by the kernel's trace points, never by syscall
handlers: the dispatcher (CALL, RET), namei (NAMI), the read/write workers
(GIO) and signal delivery (PSIG) call the ktr* functions below through the
hooks that `ktrace_init()` installs.  utrace(2) is the one call whose job
is to write a record (USER).  Appends go straight to the vnode; a failed
write logs `ktrace write failed, errno N, tracing stopped` and stops every
process tracing to that node.

The sysctl debug.ktrace_clear_bug=1 brings back the 2009 defect fixed by
DragonFly commit a4a63985: the KTROP_CLEARFILE scan then reads
`p.p_tracenode.kn_vp` for processes that are not traced, a NULL
dereference inside the kernel (`ktrace -c` panics, as in the seed).
"""
import struct
import time

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import signal as S
from vkernel.abi.vkernel.ktrace import (
    KTR_CSW, KTR_GENIO, KTR_NAMEI, KTR_PSIG, KTR_SYSCALL, KTR_SYSRET, KTR_USER, KTRFAC_ACTIVE,
    KTRFAC_INHERIT, KTRFAC_MASK, KTRFAC_ROOT, KTRFLAG_DESCEND, KTRH_CPUID_ENCODE,
    KTRH_THREADED, KTROP, KTROP_CLEAR, KTROP_CLEARFILE, KTROP_SET, MAXCOMLEN, ktr_genio,
    ktr_csw, ktr_header, ktr_psig, ktr_syscall, ktr_sysret)
from vkernel.abi.vkernel.linux_nargs import LINUX_SYSCALL_NARGS
from vkernel.abi.vkernel.syscalls import VKERNEL_SYSCALL_NAMES, VKERNEL_SYSCALL_NARGS
from vkernel.abi.linux.syscalls import SYSCALL_NAMES
from vkernel.vfs import vfs_syscalls
from vkernel.vfs.namei import R_OK, W_OK
from vkernel.vfs.vnode import VLNK, VREG

from . import kern_exec, kern_exit, kern_fork, kern_sig, kern_vfs, msgbuf
from .errors import KernelError
from .kern_proc import allproc_scan, descendants, pfind, pgfind
from .kern_synch import sched
from .kern_sysctl import sysctl_int
from .proc import P_SUGID, SZOMB
from .usercopy import copyinstr

MASK64 = (1 << 64) - 1

ktrace_clear_bug = sysctl_int(
    "debug.ktrace_clear_bug", 0,
    "1 brings back the 2009 ktrace -c NULL dereference in ktrace_clear_callback")
ktrace_suid = sysctl_int(
    "kern.ktrace_suid", 0, "allow tracing of set-id programs by non-root users")


class ktrace_node:
    """struct ktrace_node: one trace file, shared by the processes logging to it.

    kn_vp is the first field (offset 0 in C), so reading it through a NULL
    node is a fault at virtual address 0.
    """

    def __init__(self, vp):
        self.kn_vp = vp           # the trace file's vnode
        self.kn_refs = 1

    def __repr__(self):
        return f"<ktrace_node {self.kn_vp!r} refs={self.kn_refs}>"


class ktrace_clear_info:
    """The data of a clearing allproc_scan (struct ktrace_clear_info)."""

    def __init__(self, tracenode, rootclear, td=None):
        self.tracenode = tracenode
        self.rootclear = rootclear
        self.td = td              # the caller, for ktrcanset (not needed by rootclear)
        self.error = 0


def ktrinherit(tracenode):
    """Take another reference on tracenode (which may be None)."""
    if tracenode is not None:
        tracenode.kn_refs += 1
    return tracenode


def ktrdestroy(tracenode):
    """Drop a reference; the last one lets go of the vnode."""
    if tracenode is None:
        return
    tracenode.kn_refs -= 1
    if tracenode.kn_refs <= 0:
        tracenode.kn_vp = None


def ktrclear(p):
    """Stop all tracing of p."""
    ktrdestroy(p.p_tracenode)
    p.p_tracenode = None
    p.p_traceflag = 0


# -- ktrace(2) ----------------------------------------------------------------------------
def sys_ktrace(td, fname, ops, facs, pid):
    """Implements vkernel ktrace(2) (DragonFly's; number and ABI in vkernel.abi.vkernel).

    ktrace(tracefile, ops, trpoints, pid): KTROP_SET, KTROP_CLEAR or
    KTROP_CLEARFILE, | KTRFLAG_DESCEND; pid < 0 names the process group -pid.
    """
    curp = td.lwp_proc
    facs &= ~KTRFAC_ROOT & 0xFFFFFFFF
    op = KTROP(ops)
    descend = ops & KTRFLAG_DESCEND
    tracenode, error = None, 0
    curp.p_traceflag |= KTRFAC_ACTIVE
    if op != KTROP_CLEAR:
        tracenode, error = ktropen(td, fname)
    if error == 0 and op == KTROP_CLEARFILE:
        # Clear all uses of the tracefile.
        info = ktrace_clear_info(tracenode, 0, td)
        allproc_scan(ktrace_clear_callback, info)
        error = info.error
    elif error == 0:
        error = ktrset(td, op, facs, pid, descend, tracenode)
    ktrdestroy(tracenode)
    curp.p_traceflag &= ~KTRFAC_ACTIVE
    if error:
        raise KernelError(error)
    return 0


def ktropen(td, fname):
    """Open the trace file read/write with O_NOFOLLOW: (new ktrace_node, 0) or (None, errno)."""
    try:
        path = copyinstr(td, fname)
        ctx = kern_vfs.ctx(td)
        vp, _ = vfs_syscalls.kern_lookup(ctx, kern_vfs.dirvp(td, F.AT_FDCWD), path,
                                         follow=False)
        if vp.vtype == VLNK:
            return None, E.ELOOP
        if vp.vtype != VREG:
            return None, E.EACCES
        vfs_syscalls.vn_access(vp, ctx.cred, R_OK | W_OK)
    except KernelError as e:
        return None, e.errno
    return ktrace_node(vp), 0


def ktrset(td, op, facs, pid, descend, tracenode):
    """Steps 4-7 of sys_ktrace: apply op to a process or group; returns an errno."""
    if not facs:
        return E.EINVAL
    if pid < 0:
        pg = pgfind(-pid)
        if pg is None:
            return E.ESRCH
        targets = sorted(pg.pg_members, key=lambda p: p.p_pid)
    else:
        p = pfind(pid)
        if p is None:
            return E.ESRCH
        targets = [p]
    ret = 0
    for p in targets:
        for q in (descendants(p) if descend else [p]):
            ret |= ktrops(td, q, op, facs, tracenode)
    return 0 if ret else E.EPERM


def ktrops(td, p, op, facs, tracenode):
    """Set or clear facs on p if the caller may; returns 1 if it could."""
    if p.p_stat == SZOMB or not ktrcanset(td, p):
        return 0
    if op == KTROP_SET:
        if p.p_tracenode is not tracenode:
            oldnode = p.p_tracenode
            p.p_tracenode = ktrinherit(tracenode)
            ktrdestroy(oldnode)
        p.p_traceflag |= facs
        if td.lwp_proc.p_ucred.uid == 0:
            p.p_traceflag |= KTRFAC_ROOT
    else:
        p.p_traceflag &= ~facs
        if p.p_traceflag & KTRFAC_MASK == 0:
            ktrclear(p)          # no more tracing
    return 1


def ktrcanset(td, targetp):
    """May td change targetp's tracing?  Root may; others only their own untainted processes."""
    caller, target = td.lwp_proc.p_ucred, targetp.p_ucred
    if caller.uid == 0:
        return True
    return (caller.uid == target.ruid and target.ruid == target.svuid
            and caller.rgid == target.rgid and target.rgid == target.svgid
            and not targetp.p_traceflag & KTRFAC_ROOT
            and not targetp.p_flags & P_SUGID)


def ktrace_clear_callback(p, data):
    """allproc_scan callback: stop p's tracing to info.tracenode's file.

    rootclear (after a write error) compares nodes; otherwise vnodes, and a
    process the caller may not change sets EPERM.  The 2009 code lacked the
    first test, so with debug.ktrace_clear_bug=1 an untraced process
    (p_tracenode None) faults on p.p_tracenode.kn_vp.
    """
    info = data
    if p.p_tracenode is None and not ktrace_clear_bug.value:
        return 0
    if info.rootclear:
        if p.p_tracenode is info.tracenode:
            ktrclear(p)
    elif p.p_tracenode.kn_vp == info.tracenode.kn_vp:
        if ktrcanset(info.td, p):
            ktrclear(p)
        else:
            info.error = E.EPERM
    return 0


# -- writing records -----------------------------------------------------------------------
def KTRPOINT(td, ktr_type):
    """Does td's process trace ktr_type right now (and is no record being written)?"""
    flags = td.lwp_proc.p_traceflag
    return bool(flags & (1 << ktr_type)) and not flags & KTRFAC_ACTIVE \
        and not td.td_ktrace_active


def ktrgetheader(td, ktr_type, length):
    """A ktr_header for a record of `length` payload bytes written by td now."""
    p = td.lwp_proc
    now = time.time()
    flags = KTRH_CPUID_ENCODE(td.lwp_cpu)
    if len(p.p_lwps) > 1:
        flags |= KTRH_THREADED
    return ktr_header.pack(
        ktr_len=length, ktr_type=ktr_type, ktr_flags=flags, ktr_pid=p.p_pid,
        ktr_tid=td.lwp_tid, ktr_comm=p.p_comm.encode("utf-8", "replace")[:MAXCOMLEN],
        ktr_tv_sec=int(now), ktr_tv_usec=int(now * 1e6) % 1000000)


def ktrwrite(td, ktr_type, payload):
    """Append one record to td's trace file (KTRFAC_ACTIVE while writing)."""
    node = td.lwp_proc.p_tracenode
    if node is None or node.kn_vp is None:
        return
    record = ktrgetheader(td, ktr_type, len(payload)) + payload
    td.td_ktrace_active = True
    try:
        vp = node.kn_vp
        if vp.write(vp.getattr().size, record) != len(record):
            raise KernelError(E.ENOSPC)
    except KernelError as e:
        ktrwrite_failed(td, node, e.errno)
    finally:
        td.td_ktrace_active = False


def ktrwrite_failed(td, node, errno):
    """Stop every process tracing to node (a scan with rootclear = 1)."""
    msgbuf.log(f"ktrace write failed, errno {errno}, tracing stopped")
    allproc_scan(ktrace_clear_callback, ktrace_clear_info(node, 1, td))


def _short(v):
    """A syscall number as ktr_code (a C short); out of range: -32768."""
    v = v - (1 << 64) if v >= 1 << 63 else v
    return v if -32768 <= v <= 32767 else -32768


def _signed64(v):
    v &= MASK64
    return v - (1 << 64) if v >= 1 << 63 else v


def syscall_nargs(nr, given):
    """How many of the `given` argument registers the call nr really takes."""
    name = SYSCALL_NAMES.get(nr) or VKERNEL_SYSCALL_NAMES.get(nr)
    n = LINUX_SYSCALL_NARGS.get(name, VKERNEL_SYSCALL_NARGS.get(nr, given))
    return min(n, given)


def ktrsyscall(td, nr, args):
    """KTR_SYSCALL: the call and its arguments, before the handler runs."""
    if not KTRPOINT(td, KTR_SYSCALL):
        return
    n = syscall_nargs(nr, len(args))
    payload = ktr_syscall.pack(ktr_code=_short(nr), ktr_narg=n)
    payload += struct.pack(f"<{n}Q", *(a & MASK64 for a in args[:n]))
    ktrwrite(td, KTR_SYSCALL, payload)


def ktrsysret(td, nr, ret):
    """KTR_SYSRET: the result; -errno returns become error N, retval -1."""
    if not KTRPOINT(td, KTR_SYSRET):
        return
    ret = _signed64(ret)
    error, retval = (-ret, -1) if -E.MAX_ERRNO <= ret < 0 else (0, ret)
    ktrwrite(td, KTR_SYSRET, ktr_sysret.pack(ktr_code=_short(nr), ktr_error=error,
                                             ktr_retval=retval))


def ktrnamei(td, path):
    """KTR_NAMEI: a path namei is about to look up."""
    if KTRPOINT(td, KTR_NAMEI):
        ktrwrite(td, KTR_NAMEI, path.encode("utf-8", "surrogateescape"))


def ktrgenio(td, fd, rw, data):
    """KTR_GENIO: the bytes a read (rw 0) or write (rw 1) moved."""
    if KTRPOINT(td, KTR_GENIO):
        ktrwrite(td, KTR_GENIO, ktr_genio.pack(ktr_fd=fd, ktr_rw=rw) + bytes(data))


def ktrpsig(td, sig, act, info):
    """KTR_PSIG: a signal about to be acted on, its handler and the thread's mask."""
    if not KTRPOINT(td, KTR_PSIG):
        return
    code = S.SIGINFO_HEADER.unpack(info).si_code if info else 0
    ktrwrite(td, KTR_PSIG, ktr_psig.pack(signo=sig, action=act.handler & MASK64,
                                         code=code, mask=td.lwp_sigmask & MASK64))


def ktrcsw(td, out, user):
    """KTR_CSW: td leaves the CPU (out=1: a sleep in the kernel) or comes back."""
    if KTRPOINT(td, KTR_CSW):
        ktrwrite(td, KTR_CSW, ktr_csw.pack(out=out, user=user))


def ktruser(td, data):
    """KTR_USER: utrace(2)'s bytes."""
    if KTRPOINT(td, KTR_USER):
        ktrwrite(td, KTR_USER, bytes(data))


# -- process life cycle ---------------------------------------------------------------------
def ktrace_fork(p1, p2):
    """fork: a child inherits the trace when the parent has KTRFAC_INHERIT."""
    if p1.p_traceflag & KTRFAC_INHERIT and p1.p_tracenode is not None:
        p2.p_traceflag = p1.p_traceflag & ~KTRFAC_ACTIVE
        p2.p_tracenode = ktrinherit(p1.p_tracenode)


def ktrace_exit(p):
    """exit1: release the trace file."""
    ktrclear(p)


def ktrace_exec(p):
    """exec: a set-id image is untraced unless root set the trace or kern.ktrace_suid."""
    if p.p_flags & P_SUGID and p.p_tracenode is not None \
            and not p.p_traceflag & KTRFAC_ROOT and not ktrace_suid.value:
        ktrclear(p)


def ktrace_init():
    """Install the kernel's trace points (the dispatcher's and the I/O workers'
    hooks are installed by vkernel.syscalls.linux64.sys_ktrace)."""
    kern_sig.hooks["ktrpsig"] = ktrpsig
    sched.ktrcsw = ktrcsw
    kern_vfs.ktrnamei_hook = ktrnamei
    kern_fork.hooks["ktrace_fork"] = ktrace_fork
    kern_exit.hooks["ktrace_exit"] = ktrace_exit
    kern_exec.hooks["ktrace_exec"] = ktrace_exec
