"""kvm_getprocs: the kernel's process table, read from its memory
(DragonFly lib/libkvm/kvm_proc.c).

    procs = kvm_getprocs(kd, KERN_PROC_ALL, 0)       # [KinfoProc]
    argv = kvm_getargv(kd, kp)

libkvm looks up allproc in the namelist, walks the list and converts each
struct proc (with its ucred, pgrp, session, tty, vmspace and lwps) into a
struct kinfo_proc.  Ours walks kern_proc.allproc (a dict pid -> Proc) and
reads, through kvm_pyobj, the fields proc.py defines: p_pid, p_comm,
p_args, p_stat, p_flags, p_nice, p_pptr, p_pgrp -> pg_id, pg_session ->
s_sid, s_leader, s_ttyp -> t_name, t_rdev, t_pgid, t_session; p_ucred;
p_vmspace -> entries (VSZ) and space.tgid; p_ru_utime/stime; and the first
lwp of p_lwps: lwp_tid, lwp_cpu, td_wchans, td_wmesg, td_sleep_intr,
td_slptime, td_stopped, td_oncpu, td_insyscall, td_pri.

CPU times and resident size: our kernel keeps neither for a running guest
(its procfs asks the host about the host process behind the guest).  For
a live kernel the reader does the same with the host tgid it reads from
the guest's p_vmspace.space; a crash dump has only what was in memory
(p_ru_utime/p_ru_stime, which exit fills in), and RSS 0.

A live kernel changes while it is read: a process that exits during the
walk may be unreadable and is left out (kd.errors says why); the walk of
allproc itself is retried when the dict changes under it.
"""
import dataclasses
import os
import time

from .kvm import KvmError
from .kvm_pyobj import PyMem

KERN_PROC_ALL, KERN_PROC_PID, KERN_PROC_PGRP, KERN_PROC_UID, KERN_PROC_RUID = 0, 1, 2, 5, 6
LSRUN, LSSTOP, LSSLEEP = "LSRUN", "LSSTOP", "LSSLEEP"
PAGE = 4096                     # the host's page: kp_vm_rssize is in pages
_WANT = {int: int, bool: int, float: (int, float), str: str, list: list}


@dataclasses.dataclass
class KinfoLwp:
    """struct kinfo_lwp: the thread ps shows for a process."""
    kl_tid: int = 0
    kl_paddr: int = 0
    kl_stat: str = LSRUN
    kl_wmesg: str = ""
    kl_wchan: int = 0
    kl_sintr: bool = True          # an interruptible sleep
    kl_slptime: float = 0.0        # seconds asleep
    kl_oncpu: bool = False
    kl_insyscall: bool = False
    kl_cpuid: int = 0
    kl_prio: int = 0


@dataclasses.dataclass
class KinfoProc:
    """struct kinfo_proc, the subset our kernel has."""
    kp_paddr: int = 0
    kp_pid: int = 0
    kp_ppid: int = 0
    kp_pgid: int = 0
    kp_sid: int = 0
    kp_sess: int = 0               # address of the session
    kp_sessleader: bool = False
    kp_uid: int = 0
    kp_ruid: int = 0
    kp_svuid: int = 0
    kp_rgid: int = 0
    kp_stat: str = "SIDL"
    kp_flags: int = 0
    kp_comm: str = ""
    kp_args: list = dataclasses.field(default_factory=list)
    kp_nice: int = 0
    kp_tdev: int = -1              # the controlling tty's device number, -1 none
    kp_tdevname: str = ""
    kp_tpgid: int = 0
    kp_ctty: bool = False          # the tty is (still) the session's controlling tty
    kp_vm_map_size: int = 0        # bytes
    kp_vm_rssize: int = 0          # pages
    kp_ru_utime: float = 0.0
    kp_ru_stime: float = 0.0
    kp_start: float = 0.0
    kp_nthreads: int = 0
    kp_xstat: int = 0
    kp_host_tgid: int = 0
    kp_lwp: KinfoLwp = None


class ProcReader:
    """One walk of the process table: a PyMem and the time it is read at."""

    def __init__(self, kd):
        self.kd = kd
        self.m = PyMem(kd)
        dump = kd.nlist.get("dump") or {}
        self.now_mono = time.monotonic() if kd.live else dump.get("monotonic", 0.0)

    def get(self, attrs, name, default, depth=1):
        """Field `name` decoded; a missing or None field reads as `default`,
        and a value not of default's type (memory reused under us) is corrupt."""
        addr = attrs.get(name)
        if addr is None or addr == self.m.none:
            return default
        v = self.m.value(addr, depth)
        if not isinstance(v, _WANT.get(type(default), object)):
            raise KvmError(f"corrupt {name} at {addr:#x} (a {type(v).__name__})")
        return v

    def obj(self, attrs, name):
        """The attributes of the object in field `name`, or None."""
        addr = attrs.get(name)
        if addr is None or addr == self.m.none:
            return None
        return self.m.attrs(addr)

    def allproc(self):
        """[(pid, Proc address)], retried if the dict changes under us."""
        addr = self.kd.nlist["symbols"]["allproc"]
        for attempt in range(5):
            try:
                return [(self.m.int_(k), v) for k, v in self.m.dict_items(addr)]
            except KvmError:
                if attempt == 4 or not self.kd.live:
                    raise
                self.kd.flush()
        return []

    def proc(self, paddr):
        a = self.m.attrs(paddr)
        kp = KinfoProc(kp_paddr=paddr, kp_pid=self.get(a, "p_pid", 0),
                       kp_comm=self.get(a, "p_comm", ""), kp_stat=self.get(a, "p_stat", "?"),
                       kp_flags=self.get(a, "p_flags", 0), kp_nice=self.get(a, "p_nice", 0),
                       kp_xstat=self.get(a, "p_xstat", 0), kp_start=self.get(a, "p_start", 0.0),
                       kp_ru_utime=self.get(a, "p_ru_utime", 0.0),
                       kp_ru_stime=self.get(a, "p_ru_stime", 0.0))
        kp.kp_args = self.get(a, "p_args", [])
        if not all(isinstance(x, str) for x in kp.kp_args):
            raise KvmError(f"corrupt p_args of proc at {paddr:#x}")
        parent = self.obj(a, "p_pptr")
        kp.kp_ppid = self.get(parent, "p_pid", 0) if parent is not None else 0
        self.cred(kp, self.obj(a, "p_ucred"))
        self.pgrp(kp, self.obj(a, "p_pgrp"))
        self.vmspace(kp, self.obj(a, "p_vmspace"))
        lwps = self.m.dict_items(a["p_lwps"]) if "p_lwps" in a else []
        kp.kp_nthreads = len(lwps)
        if lwps:
            kp.kp_lwp = self.lwp(lwps[0][1])
        return kp

    def cred(self, kp, c):
        if c is not None:
            kp.kp_uid, kp.kp_ruid = self.get(c, "uid", 0), self.get(c, "ruid", 0)
            kp.kp_svuid, kp.kp_rgid = self.get(c, "svuid", 0), self.get(c, "rgid", 0)

    def pgrp(self, kp, pg):
        if pg is None:
            return
        kp.kp_pgid = self.get(pg, "pg_id", 0)
        sess_addr = pg.get("pg_session")
        sess = self.obj(pg, "pg_session")
        if sess is None:
            return
        kp.kp_sess, kp.kp_sid = sess_addr, self.get(sess, "s_sid", 0)
        kp.kp_sessleader = sess.get("s_leader") == kp.kp_paddr
        tp = self.obj(sess, "s_ttyp")
        if tp is not None:
            kp.kp_tdev = self.get(tp, "t_rdev", 0)
            kp.kp_tdevname = self.get(tp, "t_name", "")
            kp.kp_tpgid = self.get(tp, "t_pgid", 0)
            kp.kp_ctty = tp.get("t_session") == sess_addr

    def vmspace(self, kp, vm):
        if vm is None or kp.kp_stat == "SZOMB":
            return
        entries = vm.get("entries")
        for e in self.m.list_items(entries) if entries else []:
            ea = self.m.attrs(e)
            kp.kp_vm_map_size += self.get(ea, "end", 0) - self.get(ea, "start", 0)
        space = self.obj(vm, "space")
        if space is not None:
            kp.kp_host_tgid = self.get(space, "tgid", 0) or 0

    def lwp(self, laddr):
        a = self.m.attrs(laddr)
        kl = KinfoLwp(kl_tid=self.get(a, "lwp_tid", 0), kl_paddr=laddr,
                      kl_wmesg=self.get(a, "td_wmesg", "") or "",
                      kl_sintr=bool(self.get(a, "td_sleep_intr", True)),
                      kl_oncpu=bool(self.get(a, "td_oncpu", False)),
                      kl_insyscall=bool(self.get(a, "td_insyscall", False)),
                      kl_cpuid=self.get(a, "lwp_cpu", 0), kl_prio=self.get(a, "td_pri", 0))
        wchans = a.get("td_wchans")
        if wchans is not None and wchans != self.m.none:
            kl.kl_stat = LSSLEEP
            kl.kl_wchan = self.wchan(wchans)
            kl.kl_slptime = max(0.0, self.now_mono - self.get(a, "td_slptime", self.now_mono))
        elif self.get(a, "td_stopped", False):
            kl.kl_stat = LSSTOP
        return kl

    def wchan(self, wchans):
        """The address of what a thread sleeps on (ddb's wchan_addr)."""
        chans = self.m.tuple_items(wchans) if self.m.kind(wchans) == "tuple" else [wchans]
        if not chans:
            return 0
        first = chans[0]
        if self.m.kind(first) == "tuple":
            objs = [c for c in self.m.tuple_items(first)
                    if self.m.kind(c) not in ("str", "int", "float", "bytes", "bool")]
            return objs[-1] if objs else first
        return first


def host_times(kp):
    """A live guest's CPU times and RSS from the host process behind it, as
    the kernel's own procfs reads them (procfs_subr.cpu_times, rss_pages)."""
    if not kp.kp_host_tgid or kp.kp_stat == "SZOMB":
        return
    try:
        with open(f"/proc/{kp.kp_host_tgid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{kp.kp_host_tgid}/statm", "rb") as f:
            rss = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return
    tick = os.sysconf("SC_CLK_TCK")
    kp.kp_ru_utime, kp.kp_ru_stime = int(fields[11]) / tick, int(fields[12]) / tick
    kp.kp_vm_rssize = rss


def _wanted(kp, op, arg):
    return (op == KERN_PROC_ALL or (op == KERN_PROC_PID and kp.kp_pid == arg)
            or (op == KERN_PROC_PGRP and kp.kp_pgid == arg)
            or (op == KERN_PROC_UID and kp.kp_uid == arg)
            or (op == KERN_PROC_RUID and kp.kp_ruid == arg))


def kvm_getprocs(kd, op=KERN_PROC_ALL, arg=0):
    """[KinfoProc] of the processes (zombies included) that op/arg select."""
    kd.flush()
    kd.errors = []
    r = ProcReader(kd)
    out = []
    for pid, paddr in r.allproc():
        try:
            kp = r.proc(paddr)
        except KvmError as e:
            kd.errors.append(f"proc {pid} at {paddr:#x}: {e}")
            continue
        if kd.live:
            host_times(kp)
        if _wanted(kp, op, arg):
            out.append(kp)
    return out


def kvm_getargv(kd, kp):
    """The process's argument vector (read with the process)."""
    return list(kp.kp_args)
