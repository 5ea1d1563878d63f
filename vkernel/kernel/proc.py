"""Processes and threads: struct proc, struct lwp, process groups, sessions.

BSD counterpart: sys/sys/proc.h.  Field names keep the BSD prefixes (p_,
lwp_, td_) so that ddb's `print ((struct proc *)ADDR)->p_pid` and the
kvm/ps readers find what a BSD hacker expects.  The process table itself
and allproc_scan live in kern_proc.py.
"""
import time

from vkernel.abi.linux import signal as S

# p_stat
SIDL, SACTIVE, SSTOP, SZOMB = "SIDL", "SACTIVE", "SSTOP", "SZOMB"
# lwp_stat
LSRUN, LSSLEEP, LSSTOP, LSZOMB = "LSRUN", "LSSLEEP", "LSSTOP", "LSZOMB"
# p_flags
P_PPWAIT = 0x01          # parent waits for a vfork child to exec or exit
P_WEXIT = 0x02           # exiting
P_CONTINUED = 0x04       # continued since last wait (WCONTINUED)
P_STOPPED_REPORT = 0x08  # stopped, not yet reported to wait (WUNTRACED)
P_EXEC = 0x10            # has exec'd (setpgid EACCES rule)
P_SUGID = 0x20


class Ucred:
    """struct ucred: real, effective and saved ids."""

    def __init__(self, uid=0, gid=0, groups=()):
        self.ruid = self.uid = self.svuid = uid
        self.rgid = self.gid = self.svgid = gid
        self.groups = list(groups)

    def copy(self):
        c = Ucred()
        c.__dict__.update(self.__dict__)
        c.groups = list(self.groups)
        return c


class Session:
    def __init__(self, sid, leader):
        self.s_sid = sid
        self.s_leader = leader
        self.s_ttyp = None        # controlling tty


class Pgrp:
    def __init__(self, pgid, session):
        self.pg_id = pgid
        self.pg_session = session
        self.pg_members = set()


class SigAct:
    """One rt_sigaction entry."""
    __slots__ = ("handler", "flags", "restorer", "mask")

    def __init__(self, handler=S.SIG_DFL, flags=0, restorer=0, mask=0):
        self.handler, self.flags, self.restorer, self.mask = handler, flags, restorer, mask

    def copy(self):
        return SigAct(self.handler, self.flags, self.restorer, self.mask)


class Proc:
    """struct proc."""

    def __init__(self, pid, parent):
        self.p_pid = pid
        self.p_pptr = parent
        self.p_children = []
        self.p_pgrp = None
        self.p_stat = SIDL
        self.p_flags = 0
        self.p_xstat = 0              # wait status once a zombie
        self.p_comm = ""
        self.p_args = []              # argv for /proc/PID/cmdline and ps
        self.p_env = []
        self.p_exe = ""               # resolved path of the executable
        self.p_textvp = None          # its vnode (/proc/PID/exe)
        self.p_lwps = {}              # tid -> Lwp
        self.p_fd = None              # FileDesc
        self.p_vmspace = None         # VmSpace
        self.p_sigacts = [SigAct() for _ in range(S.NSIG + 1)]
        self.p_siglist = 0            # process-wide pending set
        self.p_siginfo = {}           # signo -> list of siginfo dicts
        self.p_ucred = Ucred()
        self.p_cwd = None
        self.p_root = None
        self.p_umask = 0o022
        self.p_tracenode = None       # ktrace_node this process logs to
        self.p_traceflag = 0
        self.p_exit_signal = S.SIGCHLD
        self.p_pdeathsig = 0
        self.p_start = time.time()
        self.p_start_mono = time.monotonic()
        self.p_rlimits = {}
        self.p_itimer_real = None     # (deadline, interval) of ITIMER_REAL
        self.p_ru_utime = self.p_ru_stime = 0.0
        self.p_cru_utime = self.p_cru_stime = 0.0
        self.p_vfork_child = None
        self.p_nice = 0
        self.p_dumpable = 1
        self.p_subreaper = False
        self.p_ktrace_unimpl = set()  # syscall names already logged as unimplemented

    def __repr__(self):
        return f"<proc {self.p_pid} ({self.p_comm})>"

    @property
    def p_pgid(self):
        return self.p_pgrp.pg_id if self.p_pgrp else 0

    @property
    def p_session(self):
        return self.p_pgrp.pg_session if self.p_pgrp else None

    @property
    def p_ppid(self):
        return self.p_pptr.p_pid if self.p_pptr else 0

    def main_lwp(self):
        return next(iter(self.p_lwps.values()), None)

    def sigact(self, sig):
        return self.p_sigacts[sig]


class Lwp:
    """struct lwp (and its thread, td_*): one guest thread."""

    def __init__(self, proc, tid, host):
        self.lwp_proc = proc
        self.lwp_tid = tid
        self.lwp_stat = LSRUN
        self.lwp_sigmask = 0
        self.lwp_siglist = 0
        self.lwp_siginfo = {}
        self.lwp_sigaltstack = (0, 2, 0)   # ss_sp, ss_flags (SS_DISABLE), ss_size
        self.lwp_oldmask = None            # mask to restore after sigsuspend
        self.lwp_clear_child_tid = 0
        self.lwp_robust_list = 0
        self.lwp_cpu = 0                   # cpuid of td_cpu
        self.td_cpu = None                 # the virtual CPU (trap.Cpu) that traces it
        self.host = host                   # platform Thread
        self.regs = None                   # saved user registers while in the kernel
        self.td_wchans = None
        self.td_wmesg = ""
        self.td_wakeup = None
        self.td_sleep_intr = True
        self.td_sleepgen = 0
        self.td_slptime = 0.0
        self.td_insyscall = False
        self.td_stopped = False            # job-control stop
        self.sstate = {}                   # per-syscall scratch kept across a sleep
        self.td_restart_block = None       # how restart_syscall(2) resumes (kern_sig)
        self.td_ktrace_active = False      # KTRFAC_ACTIVE for this lwp
        self.td_pri = 6
        self.td_oncpu = False              # running guest code natively right now
        self.td_sigwait = 0                # signals rt_sigtimedwait is waiting for
        self.td_futex_bitset = 0xFFFFFFFF
        self.td_futex_woken = False
        self.td_migrate = None             # the CPU the balancer moves it to (trap.py)

    def __repr__(self):
        return f"<lwp {self.lwp_tid} of {self.lwp_proc.p_pid}>"

    def is_live(self):
        """Still a thread of its process: not exited (exit1 empties p_lwps),
        not ended by a sibling's exec or exit."""
        return self.lwp_proc.p_lwps.get(self.lwp_tid) is self

    @property
    def proc(self):
        return self.lwp_proc
