"""Traps from guest code and the virtual CPU's run loop.

DragonFly counterpart: sys/platform/vkernel64/x86_64/trap.c (user_trap,
syscall2, go_user) and its cpu_idle.  `go_user` is a virtual CPU: it runs
guests natively until one traps, serves the trap under mp_lock, and sends
the guest back with `userret`.  Guests sleeping in the kernel are not
resumed; woken ones are re-dispatched from the run queue.

With -n N there are N CPUs, each a host thread with its own tracees, run
queue and IPI queue (`send_ipi`, DragonFly's lwkt_send_ipiq).  A new thread
starts on the least loaded CPU (`start_thread`): it is parked and detached
here and adopted there (`migrate`).  Kernel work is still serialised by
mp_lock; only guest code runs in parallel.

Any exception that escapes the kernel work done for a thread (other than
Sleep and Halt) is a fatal trap: `_guarded` hands it to
kern_shutdown.trap_fatal, which prints the report and runs ddb, and
re-runs the work when ddb is continued.
"""
import signal

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S
from vkernel.abi.vkernel.ktrace import KTRFAC_CSW
from vkernel.debug import gdb_trace, kgdb_poll
from vkernel.platform import EXITED, SIGNAL, SYSCALL

from . import kern_exit, kern_proc, kern_shutdown, kern_sig, msgbuf
from .kern_shutdown import Halt
from .kern_synch import WAKE_SIGNAL, mp_lock, sched, tsleep, Sleep
from .proc import P_WEXIT

FAULT_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
IDLE_POLL_NS = 300_000   # an idle CPU polls this long before blocking (with more than one CPU)


class Cpu:
    """One virtual CPU: a host thread that traces and runs its guests."""

    def __init__(self, cpuid, tracer, syscall2, finish):
        self.cpuid = cpuid
        self.tracer = tracer          # the platform's half of this CPU
        self.syscall2 = syscall2
        self.finish = finish
        self.curthread = None
        self.running = True
        self.runq = sched.runq if cpuid == 0 else []
        self.ipiq = []                # work other CPUs send here (under mp_lock)
        self.oncpu = set()            # its threads running guest code now
        self.fd_handlers = {}        # host fd -> callback (console input, ...)
        self.pending_work = False       # set from host signal handlers
        self.host_requests = lambda: None
        while len(sched.cpus) <= cpuid:
            sched.cpus.append(None)
        sched.cpus[cpuid] = self

    def __repr__(self):
        return f"<cpu {self.cpuid}>"

    # -- the loop ---------------------------------------------------------------------
    def go_user(self):
        """Run until the kernel halts."""
        wait = self.tracer.wait
        with mp_lock:
            sched.curcpu = self
            self.run_queue()
        poll = IDLE_POLL_NS if self._may_poll() else 0
        kgdb_gen = -1
        while self.running:
            traps, ready = wait(self._deadline(), self.fd_handlers, 0 if self.oncpu else poll)
            with mp_lock:                        # one acquisition per trap
                sched.curcpu = self
                if gdb_trace._generation != kgdb_gen:     # an attached `vkernel gdb`
                    kgdb_gen = gdb_trace._generation
                    kgdb_poll()
                if not self.running:
                    break
                if self.ipiq:
                    self.run_ipiq()
                if self.pending_work:
                    self.pending_work = False
                    self.host_requests()
                for fd in ready:
                    self.fd_handlers[fd]()
                if sched.timers:
                    sched.run_callouts()
                for trap in traps:
                    self.user_trap(trap)
                if self.runq:
                    self.run_queue()

    def _may_poll(self):
        """Poll while idle only with other CPUs to kick us and a host CPU of
        our own (polling on a shared one would take it from guests)."""
        cpus = [c for c in sched.cpus if c is not None]
        mine = getattr(self.tracer, "host_cpu", None)
        return len(cpus) > 1 and mine is not None and \
            sum(getattr(c.tracer, "host_cpu", None) == mine for c in cpus) == 1

    def _deadline(self):
        """When wait must return: 0 with work queued, CPU 0 for the callouts."""
        if self.runq or self.pending_work or self.ipiq:
            return 0
        return sched.next_deadline() if self.cpuid == 0 else None

    def kick(self):
        """Wake this CPU out of its wait (another CPU made work for it)."""
        self.tracer.kick()

    def stop(self):
        """Leave the loop at the next wakeup (halt)."""
        self.running = False
        self.kick()

    def send_ipi(self, fn):
        """Run fn() on this CPU under mp_lock (lwkt_send_ipiq)."""
        self.ipiq.append(fn)
        if self is not sched.curcpu:
            self.kick()

    def run_ipiq(self):
        q, self.ipiq = self.ipiq, []
        for fn in q:
            self._guarded(None, fn)

    def run_queue(self):
        while self.runq and self.running:
            td = self.runq.pop(0)
            if not td.is_live():
                continue
            self.curthread = td
            self._guarded(td, self._run_one, td)
            self.curthread = None

    # -- where threads run ----------------------------------------------------------------
    def assign(self, td):
        td.td_cpu, td.lwp_cpu = self, self.cpuid

    def start_thread(self, td):
        """A new thread (fork, clone) begins life in userret, like a fork
        trampoline: here, or on a CPU with less to run."""
        dest = self._least_loaded()
        if dest is self:
            self.assign(td)
            self.userret(td)
        else:
            self.migrate(td, dest)

    def _least_loaded(self):
        """The CPU with the fewest threads that are not asleep (running guest
        code, queued, in the kernel, or on their way there); ties stay here."""
        cpus = [c for c in sched.cpus if c is not None and c.running]
        if len(cpus) < 2:
            return self
        load = dict.fromkeys(cpus, 0)
        for td in kern_proc.alllwp.values():
            if td.td_cpu in load and td.td_wchans is None and not td.td_stopped:
                load[td.td_cpu] += 1
        best = min(cpus, key=lambda c: (load[c], c is not self))
        return best if load[best] < load[self] else self

    def migrate(self, td, dest):
        """Move a stopped thread of this CPU to `dest`, where userret resumes it."""
        td.host.detach(dest.tracer.host_cpu)
        dest.assign(td)
        dest.send_ipi(lambda: dest._adopt(td))

    def _adopt(self, td):
        if not self.tracer.adopt(td.host):
            return                                  # killed on the way
        if not td.is_live():
            return                                  # its exit comes from the host
        td.regs.orig_rax = 2**64 - 1                # not in a syscall: no restart
        self.curthread = td
        try:
            self.userret(td)
        finally:
            self.curthread = None

    def _run_one(self, td):
        if sched.ktrcsw is not None and td.lwp_proc.p_traceflag & KTRFAC_CSW:
            sched.ktrcsw(td, 0, 0)                  # KTR_CSW "resume kernel"
        if td.td_stopped:
            td.td_stopped = False
            self.userret(td)
        elif td.td_wakeup == WAKE_SIGNAL and td.td_insyscall:
            self._interrupted(td)
        else:
            self._dispatch(td)

    def _guarded(self, td, work, *args):
        """Run kernel work for td; an exception is a fatal trap (ddb), and
        `continue` in ddb retries the work."""
        while True:
            try:
                return work(*args)
            except (Sleep, Halt):
                raise
            except Exception as exc:
                if not kern_shutdown.trap_fatal(exc, td):
                    return None

    def _interrupted(self, td):
        """A sleeping syscall was interrupted by a signal: -ERESTARTSYS."""
        nr = td.regs.orig_rax
        ret = td.sstate.get("eintr", -E.ERESTARTSYS)
        if self.finish(td, nr, ret) == "done":
            self.userret(td)

    def _dispatch(self, td):
        if self.syscall2(td) == "done":
            self.userret(td)

    # -- traps ---------------------------------------------------------------------------
    def user_trap(self, trap):
        th = trap.thread
        td = th.cookie
        if td is None:
            return
        td.td_oncpu = False
        self.oncpu.discard(td)
        if trap.kind != EXITED and not td.is_live():
            return           # a thread that exited while running elsewhere: its CPU ends it
        self.curthread = td
        try:
            self._guarded(td, self._trap, td, trap)
        finally:
            self.curthread = None

    def _trap(self, td, trap):
        th = trap.thread
        if trap.kind == SYSCALL:
            td.regs = th.get_regs()
            if self.syscall2(td) == "done":
                self.userret(td)
        elif trap.kind == SIGNAL:
            td.regs = th.get_regs()
            self._signal_trap(td, trap)
        elif trap.kind == EXITED:
            self._host_exit(td, trap)

    def _signal_trap(self, td, trap):
        if trap.signo in FAULT_SIGNALS:
            self._fault(td, trap)
        elif trap.signo == signal.SIGURG and td.td_migrate is not None:
            dest, td.td_migrate = td.td_migrate, None
            if dest is not self and dest.running and _load(dest) < _load(self):
                self.migrate(td, dest)              # the balancer's interrupt
                return
        self.userret(td)

    def _fault(self, td, trap):
        """A fault in guest code becomes a synchronous guest signal (trapsignal)."""
        p = td.lwp_proc
        sig = trap.signo
        act = p.p_sigacts[sig]
        blocked = td.lwp_sigmask & S.sigmask(sig)
        if act.handler in (S.SIG_DFL, S.SIG_IGN) or blocked:
            if act.handler == S.SIG_IGN or blocked:
                act.handler = S.SIG_DFL
                td.lwp_sigmask &= ~S.sigmask(sig)
            msgbuf.log(f"pid {p.p_pid} ({p.p_comm}): signal {sig}, fault address "
                       f"{trap.addr:#x}, rip {td.regs.rip:#x}")
        kern_sig.tdsignal(td, sig, S.siginfo_fault(sig, trap.code, trap.addr))

    def _host_exit(self, td, trap):
        p = td.lwp_proc
        if not p.p_flags & P_WEXIT:
            msgbuf.log(f"pid {p.p_pid} ({p.p_comm}): host thread vanished "
                       f"(status {trap.status:#x})")
            kern_exit.exit1(p, S.SIGKILL)

    # -- back to the guest ----------------------------------------------------------------
    def userret(self, td):
        """Deliver signals, then run the thread natively again (or hold it)."""
        what = kern_sig.postsig(td)
        if what == "run":
            td.td_oncpu = True
            self.oncpu.add(td)
            td.host.resume_with(td.regs)
        elif what == "stop":
            self._hold(td)

    def _hold(self, td):
        """Job-control stop: park td until SIGCONT (DragonFly's tstop)."""
        p = td.lwp_proc
        try:
            tsleep(td, ("stopped", p), "stop", interruptible=False)
        except Sleep:
            td.td_stopped = True


# -- the load balancer ------------------------------------------------------------------------
BALANCE_PERIOD = 0.25    # s between two looks at the CPUs' loads


def _load(cpu):
    """Threads running guest code on cpu or queued there."""
    return len(cpu.oncpu) + len(cpu.runq)


def balance_cpus():
    """Move one guest thread from the busiest CPU to the idlest when they
    differ by two or more threads running or queued (DragonFly's usched
    balancing, much simplified).  The thread is interrupted where it runs
    (a host SIGURG) and its CPU migrates it at that trap.  Returns the
    thread picked, or None."""
    cpus = [c for c in sched.cpus if c is not None and c.running]
    if len(cpus) < 2:
        return None
    load = {c: _load(c) for c in cpus}
    busiest = max(cpus, key=lambda c: load[c])
    idlest = min(cpus, key=lambda c: load[c])
    if load[busiest] - load[idlest] < 2:
        return None
    for td in list(busiest.oncpu):
        if td.td_migrate is None and td.is_live():
            td.td_migrate = idlest
            td.host.interrupt()
            return td
    return None
