"""ps, show all procs, show proc, show thread, kill (DragonFly sys/ddb/db_ps.c;
show proc/thread and kill are FreeBSD's).

`ps` prints the 2009 process section, one row per thread:

      pid      lwp  uid  ppid  pgrp  pflag  lflag stat  wmesg    wchan cmd
    %5d %8p %4d %5d %5d %06x %06x  %d %d[ %6s %8p]  %s

p_stat is SIDL 1, SACTIVE 2, SSTOP 3, SZOMB 4; the lwp state LSRUN 1,
LSSTOP 2, LSSLEEP 3 (LSZOMB 4 for a zombie, which keeps no thread here).
Our lwps have no lwp_flag word, so lflag is made of what the kernel keeps
per thread: 0x1 running guest code, 0x2 inside a syscall, 0x4 job-control
stopped.  wchan is the address of the object a thread sleeps on.  Then the
per-CPU section: each CPU's current thread and its run queue.

Process and thread arguments are decimal ids (a bare number is a pid, as
in FreeBSD) or addresses of a struct proc / struct lwp.
"""
from .db_command import db_command, db_show_command
from .db_sym import DbError

P_STAT = {"SIDL": 1, "SACTIVE": 2, "SSTOP": 3, "SZOMB": 4}
LSRUN, LSSTOP, LSSLEEP, LSZOMB = 1, 2, 3, 4
LF_ONCPU, LF_INSYSCALL, LF_STOPPED = 0x1, 0x2, 0x4
PS_HEADER = "  pid      lwp  uid  ppid  pgrp  pflag  lflag stat  wmesg    wchan cmd\n"
TDQ_HEADER = "  tdq     thread pid    flags pri/cs/mp        sp    wmesg wchan comm\n"


def lwp_state(td):
    if td.td_wchans is not None:
        return LSSLEEP
    if td.td_stopped:
        return LSSTOP
    return LSRUN


def lwp_flags(td):
    return ((LF_ONCPU if td.td_oncpu else 0) | (LF_INSYSCALL if td.td_insyscall else 0)
            | (LF_STOPPED if td.td_stopped else 0))


def wchan_addr(td):
    """The address of what td sleeps on: the kernel object in its channel."""
    if not td.td_wchans:
        return 0
    chan = td.td_wchans[0]
    if isinstance(chan, tuple):
        objs = [c for c in chan if not isinstance(c, (str, int, float, bytes))]
        if objs:
            return id(objs[-1])
    return id(chan)


def ptr(v):
    return f"{v:#x}" if v else "0"


def ps_row(p, td):
    ruid = p.p_ucred.ruid if p.p_ucred is not None else 0
    if td is None:
        row = (f"{p.p_pid:5d} {'0':>8s} {ruid:4d} {p.p_ppid:5d} {p.p_pgid:5d} "
               f"{p.p_flags & 0xFFFFFF:06x} {0:06x}  {P_STAT.get(p.p_stat, 0)} {LSZOMB}")
    else:
        row = (f"{p.p_pid:5d} {ptr(id(td)):>8s} {ruid:4d} {p.p_ppid:5d} {p.p_pgid:5d} "
               f"{p.p_flags & 0xFFFFFF:06x} {lwp_flags(td):06x}  "
               f"{P_STAT.get(p.p_stat, 0)} {lwp_state(td)}")
    if td is not None and td.td_wchans is not None:
        row += f" {td.td_wmesg or '?':>6s} {ptr(wchan_addr(td)):>8s}"
    else:
        row += " " * 17
    return row + f" {p.p_comm}\n"


def tdq_row(td):
    p = td.lwp_proc
    sp = td.regs.rsp if td.regs is not None else 0
    return (f"  {ptr(id(td))} {p.p_pid:3d} {lwp_flags(td):08x} {td.td_pri:2d}/00 "
            f"{ptr(sp)} {(td.td_wmesg or '-')[:8]:>8s} {ptr(wchan_addr(td))} {p.p_comm}\n")


class PsCommands:
    """ps and the process-finding helpers of the other commands."""

    def do_ps(self, arg="", modif=""):
        """ps
        The process table (one row per thread), then each CPU's current
        thread and run queue."""
        from vkernel.kernel import kern_proc
        self.printf(PS_HEADER)
        for pid in sorted(kern_proc.allproc):
            p = kern_proc.allproc[pid]
            tds = list(p.p_lwps.values()) or [None]
            for td in tds:
                self.printf(ps_row(p, td))
        self.ps_cpus()

    def ps_cpus(self):
        """DragonFly's per-CPU section: each CPU's current thread, pending IPIs
        and run queue, then the CPU ddb runs on."""
        from vkernel.kernel.kern_synch import sched
        ctx = self.ctx
        cur = ctx.curthread
        cpus = [c for c in sched.cpus if c is not None] or [ctx.cpu]
        for cpu in cpus:
            cid = getattr(cpu, "cpuid", ctx.cpuid)
            td = cur if cpu is ctx.cpu else getattr(cpu, "curthread", None)
            self.printf(f"cpu {cid} curthread {ptr(id(td)) if td else '0'} reqflags "
                        f"{int(bool(getattr(cpu, 'pending_work', False))):04x}\n")
            ipis = len(getattr(cpu, "ipiq", ()))
            if ipis:
                self.printf(f"      INCOMING IPIQS: [ cpu{cid}:{ipis} ]\n")
            runq = list(getattr(cpu, "runq", sched.runq))
            if runq:
                self.printf(TDQ_HEADER)
                for t in runq:
                    self.printf(tdq_row(t))
        pid = cur.lwp_proc.p_pid if cur is not None else -1
        self.printf(f"CURCPU {ctx.cpuid} CURTHREAD {ptr(id(cur)) if cur else '0'} ({pid})\n")

    # -- finding processes and threads ------------------------------------------------
    def find_proc(self, arg):
        from vkernel.kernel import kern_proc
        arg = arg.strip()
        if not arg:
            return self.cur_td().lwp_proc
        if arg.isdigit():
            p = kern_proc.allproc.get(int(arg, 10))
            if p is None:
                raise DbError(f"No process {arg}")
            return p
        obj, kind = self._resolve_any(arg)
        if kind == "lwp":
            return obj.lwp_proc
        if kind != "proc":
            raise DbError(f"{arg} is a struct {kind}, not a struct proc")
        return obj

    def find_thread(self, arg):
        from vkernel.kernel import kern_proc
        arg = arg.strip()
        if not arg:
            return self.cur_td()
        if arg.isdigit():
            td = kern_proc.alllwp.get(int(arg, 10))
            if td is None:
                raise DbError(f"No thread {arg}")
            return td
        obj, kind = self._resolve_any(arg)
        if kind == "proc" and obj.p_lwps:
            return obj.main_lwp()
        if kind != "lwp":
            raise DbError(f"{arg} is a struct {kind}, not a struct lwp")
        return obj

    def _resolve_any(self, arg):
        v = self.eval(arg)
        objs = self.objects()
        if isinstance(v, int):
            obj = objs.resolve(v)
            return obj, objs.kind_of(obj)
        kind = objs.kind_of(v)
        if kind is None:
            raise DbError("Not a kernel object")
        return v, kind


def thread_state(td):
    if td.td_wchans is not None:
        return f"asleep on \"{td.td_wmesg}\" (wchan {ptr(wchan_addr(td))})"
    if td.td_stopped:
        return "stopped"
    if td.td_oncpu:
        return "running guest code"
    return "in the kernel" if td.td_insyscall else "runnable"


@db_show_command("proc")
def db_show_proc(db, arg, modif):
    """show proc [pid|addr]: one process (default: the current one)."""
    p = db.find_proc(arg)
    cred = p.p_ucred
    db.printf(f"Process {p.p_pid} ({p.p_comm}) at {id(p):#x}:\n")
    db.printf(f" state: {p.p_stat}  flags: {p.p_flags:#x}\n")
    db.printf(f" pid: {p.p_pid}  ppid: {p.p_ppid}  pgrp: {p.p_pgid}  "
              f"session: {getattr(p.p_session, 's_sid', 0)}\n")
    if cred is not None:
        db.printf(f" uid: {cred.uid}  ruid: {cred.ruid}  svuid: {cred.svuid}  "
                  f"gid: {cred.gid}\n")
    db.printf(f" command: {' '.join(map(str, p.p_args)) or p.p_comm}\n")
    kn = p.p_tracenode
    db.printf(f" p_tracenode: {ptr(id(kn)) if kn is not None else '0x0'}  "
              f"p_traceflag: {p.p_traceflag:#x}\n")
    db.printf(f" p_fd: {ptr(id(p.p_fd)) if p.p_fd else '0x0'}  "
              f"p_vmspace: {ptr(id(p.p_vmspace)) if p.p_vmspace else '0x0'}\n")
    if p.p_stat == "SZOMB":
        db.printf(f" zombie, wait status {p.p_xstat:#x}\n")
    db.printf(f" threads: {len(p.p_lwps)}\n")
    for td in p.p_lwps.values():
        db.printf(f"  tid {td.lwp_tid} at {id(td):#x}: {thread_state(td)}\n")


@db_show_command("thread")
def db_show_thread(db, arg, modif):
    """show thread [tid|addr]: one thread (default: the current one)."""
    td = db.find_thread(arg)
    p = td.lwp_proc
    db.printf(f"Thread {td.lwp_tid} at {id(td):#x}:\n")
    db.printf(f" proc: {p.p_pid} ({p.p_comm}) at {id(p):#x}\n")
    db.printf(f" state: {thread_state(td)}  lwp_stat {lwp_state(td)}  "
              f"flags {lwp_flags(td):#x}  pri {td.td_pri}\n")
    regs = td.regs
    if regs is not None:
        from vkernel.syscalls.table import name_of
        if td.td_insyscall:
            db.printf(f" syscall: {regs.orig_rax:#x} ({name_of(regs.orig_rax)})\n")
        db.printf(f" rip: {regs.rip:#x}  rsp: {regs.rsp:#x}  rbp: {regs.rbp:#x}\n")
    db.printf(f" sigmask: {td.lwp_sigmask:#x}  siglist: {td.lwp_siglist:#x}\n")


@db_command("kill")
def db_kill(db, arg, modif):
    """kill sig pid
    Send signal sig to process pid (decimal numbers); kill 9 pid ends it at
    once, after which `continue` leaves the faulting process behind."""
    from vkernel.kernel import kern_proc, kern_sig
    words = arg.split()
    if len(words) != 2 or not all(w.isdigit() for w in words):
        raise DbError("usage: kill sig pid")
    sig, pid = int(words[0]), int(words[1])
    if not 1 <= sig <= 64:
        raise DbError("Invalid signal")
    p = kern_proc.pfind(pid)
    if p is None:
        raise DbError(f"Can't find process with pid {pid}")
    kern_sig.psignal(p, sig)
