"""Sleep and wakeup on wait channels (BSD kern_synch.c: tsleep/wakeup).

Big kernel lock: every line of kernel code runs on a virtual CPU thread
while it holds `mp_lock` (DragonFly's name; its MP-safe subsystems are
future work here too).  Guest code runs natively and in parallel on every
CPU; only kernel work is serialised.  `sched.curcpu` is the CPU that holds
the lock.

Each virtual CPU has its own run queue (trap.Cpu.runq; CPU 0's is
`sched.runq`): a thread is traced by one CPU, so it must be re-dispatched
there.  Making a thread of another CPU runnable kicks that CPU (its
doorbell, the IPI of DragonFly's lwkt_send_ipiq).  Callouts are global;
CPU 0 keeps the timer for the earliest one.

A syscall that must wait calls `tsleep(td, chans, wmesg, deadline)`, which
raises `Sleep`.  The dispatcher catches it, leaves the guest thread stopped
and records it on each channel's sleep queue.  `wakeup(chan)` moves the
sleepers to the run queue, and the dispatcher re-runs the same syscall from
its start (xv6's sleep-in-a-loop, flattened).  Work a handler must not redo
after a wakeup lives in `td.sstate`, a dict that lives as long as one syscall.
An interruptible sleep with a signal already pending is woken at once, as
by that signal (the signal was posted while the thread ran guest code).
"""
import heapq
import itertools
import threading
import time

from vkernel.abi.vkernel.ktrace import KTRFAC_CSW

mp_lock = threading.RLock()

WAKE_NORMAL, WAKE_SIGNAL, WAKE_TIMEOUT = "wakeup", "signal", "timeout"


class Sleep(Exception):
    """Raised by tsleep; caught by the syscall dispatcher only."""


class SleepQueues:
    """The kernel's sleep queues and run queue (one per virtual CPU set)."""

    def __init__(self):
        self.sleepers = {}            # chan -> set(td)
        self.runq = []                # CPU 0's tds to re-dispatch (and a CPU-less td's)
        self.cpus = []                # the virtual CPUs (trap.Cpu), by cpuid
        self.curcpu = None            # the CPU that holds mp_lock
        self.ktrcsw = None            # kern_ktrace's context-switch record writer
        self.timers = []              # heap of (deadline, seq, callback)
        self.knotes = {}              # chan -> [fn]: called by every wakeup(chan)
        self._seq = itertools.count()

    # -- sleeping -------------------------------------------------------------
    def sleep(self, td, chans, wmesg, deadline=None, interruptible=True):
        td.td_wchans = tuple(chans)
        td.td_wmesg = wmesg
        td.td_sleep_intr = interruptible
        td.td_wakeup = None
        td.td_slptime = time.monotonic()
        for c in td.td_wchans:
            self.sleepers.setdefault(c, set()).add(td)
        if deadline is not None:
            gen = td.td_sleepgen
            self.callout(deadline, lambda: self._timeout(td, gen))
        if self.ktrcsw is not None and td.lwp_proc.p_traceflag & KTRFAC_CSW:
            self.ktrcsw(td, 1, 0)               # KTR_CSW "stop kernel"
        if interruptible and _signal_pending(td):
            self.setrunnable(td, WAKE_SIGNAL)   # posted while td ran: no sleep
        raise Sleep()

    def _timeout(self, td, gen):
        if td.td_wchans is not None and td.td_sleepgen == gen:
            self.setrunnable(td, WAKE_TIMEOUT)

    def wakeup(self, chan):
        """Wake every thread sleeping on chan, then run its knotes."""
        tds = self.sleepers.pop(chan, None)
        if tds:
            for td in list(tds):
                self.setrunnable(td, WAKE_NORMAL)
        fns = self.knotes.get(chan)
        if fns:
            for fn in list(fns):
                fn()

    # -- knotes: activity callbacks (kqueue's KNOTE, Linux's wait-queue callbacks) --
    def knote_attach(self, chan, fn):
        """Call fn() on every wakeup(chan), sleepers or not (epoll's ready list)."""
        self.knotes.setdefault(chan, []).append(fn)

    def knote_detach(self, chan, fn):
        fns = self.knotes.get(chan)
        if fns and fn in fns:
            fns.remove(fn)
            if not fns:
                del self.knotes[chan]

    def wakeup_one(self, chan):
        tds = self.sleepers.get(chan)
        if tds:
            self.setrunnable(next(iter(tds)), WAKE_NORMAL)
            return 1
        return 0

    def setrunnable(self, td, why):
        """Take td off its sleep queues and queue it for re-dispatch."""
        if td.td_wchans is None:
            return
        for c in td.td_wchans:
            s = self.sleepers.get(c)
            if s is not None:
                s.discard(td)
                if not s:
                    del self.sleepers[c]
        td.td_wchans = None
        td.td_wmesg = ""
        td.td_wakeup = why
        td.td_sleepgen += 1
        cpu = td.td_cpu
        if cpu is None:
            self.runq.append(td)
        else:
            cpu.runq.append(td)
            if cpu is not self.curcpu:
                cpu.kick()

    def unsleep(self, td):
        """Remove td from all queues without waking it (exit, exec)."""
        if td.td_wchans is not None:
            self.setrunnable(td, WAKE_NORMAL)
        q = self.runq if td.td_cpu is None else td.td_cpu.runq
        if td in q:
            q.remove(td)

    # -- callouts -------------------------------------------------------------
    def callout(self, deadline, fn):
        """Run fn() at monotonic time `deadline` (kern_timeout.c)."""
        heapq.heappush(self.timers, (deadline, next(self._seq), fn))
        if self.timers[0][2] is fn and self.cpus and self.curcpu is not self.cpus[0]:
            self.cpus[0].kick()          # CPU 0 keeps the timer: a new earliest one

    def next_deadline(self):
        return self.timers[0][0] if self.timers else None

    def run_callouts(self):
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, fn = heapq.heappop(self.timers)
            fn()


def _signal_pending(td):
    """BSD tsleep's PCATCH check (CURSIG before sleeping), Linux's
    signal_pending(): a signal td does not block was posted while it ran
    guest code, so nothing will wake it for that signal."""
    p = td.lwp_proc
    return bool((td.lwp_siglist | p.p_siglist) & ~td.lwp_sigmask)


sched = SleepQueues()


def tsleep(td, chans, wmesg, deadline=None, interruptible=True):
    """Put td to sleep on chans (one channel, or a list of them); never returns.

    A channel is any hashable value; tuples such as ("wait", p) are single
    channels, only a list means several.
    """
    if not isinstance(chans, list):
        chans = [chans]
    sched.sleep(td, chans, wmesg, deadline, interruptible)


def wakeup(chan):
    sched.wakeup(chan)


def wakeup_one(chan):
    return sched.wakeup_one(chan)
