"""kgdb's CPU side: breakpoints and stepping on the virtual CPU threads,
with CPython's bdb (Lib/bdb.py) as the mechanism.

sys.settrace acts on the calling thread only, so each CPU installs its own
tracer: `kgdb_poll()`, called by trap.Cpu.go_user at the top of every loop
iteration under mp_lock, compares one global generation number with the
one this thread has applied, and only when they differ (breakpoints added
or removed, a debugger attached or gone, an interrupt asked for) installs
or removes the thread's KernelBdb as its trace function.  With no
breakpoint set and nothing stepping no CPU traces anything: the syscall
path costs nothing.  While breakpoints exist a call costs one Python call
(is this code or its file in the breakpoint table?), and only frames of
files with breakpoints are traced line by line.

A stop happens on a CPU thread that holds mp_lock, so while it waits for
the debugger's commands no other CPU runs kernel code (they block on
mp_lock) and the guests running on other CPUs are made to trap and wait
(ddb's stop_cpus): the whole vkernel is paused, as gdb pauses the
DragonFly vkernel.  The stopped thread serves the commands itself (they
run with the kernel's lock held, on the thread that traces the current
guest) until one resumes it: continue, step, next, finish, or the
debugger detaching or going away, which clears the breakpoints and
continues.  A stop never waits for a debugger that is not there, and an
exception inside the debugger is reported to the client and switches that
CPU's tracing off; it is never raised into kernel code.
"""
import bdb
import os
import queue
import sys
import threading
import traceback

from .gdb_break import BreakpointTable
from .gdb_frame import frames_of, stoppable

_generation = 0               # what every CPU must apply (see kgdb_poll)
_abspaths = {}


def _abspath(filename):
    p = _abspaths.get(filename)
    if p is None:
        p = _abspaths[filename] = os.path.abspath(filename)
    return p


def _cpus():
    from vkernel.kernel.kern_synch import sched
    return [c for c in sched.cpus if c is not None]


def _curcpu():
    from vkernel.kernel.kern_synch import sched
    return sched.curcpu


def _holds_mp_lock():
    from vkernel.kernel.kern_synch import mp_lock
    return mp_lock._is_owned()


def _freeze_other_cpus(cpu):
    """ddb's stop_cpus: guests running on the other CPUs trap and wait."""
    try:
        from vkernel.ddb.db_interface import stop_cpus
        stop_cpus(_Ctx(cpu))
    except Exception:
        pass


class _Ctx:
    def __init__(self, cpu):
        self.cpu = cpu


class KgdbState:
    """What the stub and the CPUs share: the attached session, the
    breakpoints, the one stopped CPU, an interrupt request."""

    def __init__(self):
        self.lock = threading.Lock()
        self.table = BreakpointTable()
        self.session = None            # gdb_main.Session while a client is attached
        self.stop = None               # the Stop being served
        self.interrupt = False
        self.idents = {}               # cpuid -> host thread ident (from kgdb_poll)
        self.tracers = {}              # host thread ident -> its KernelBdb
        self.cpus = _cpus              # the virtual CPUs (tests substitute theirs)
        self.curcpu = _curcpu
        self.holds_lock = _holds_mp_lock
        self.freeze = _freeze_other_cpus   # ddb's stop_cpus

    def changed(self):
        """Make every CPU re-apply the state at its next kgdb_poll, soon."""
        global _generation
        with self.lock:
            _generation += 1
        for cpu in self.cpus():
            try:
                cpu.kick()
            except Exception:              # a CPU going away
                pass

    def attached(self, session=None):
        s = self.session
        return s is not None and s.alive and (session is None or s is session)

    def begin_stop(self, stop):
        with self.lock:
            if not self.attached() or self.stop is not None:
                return False
            stop.session = self.session
            self.stop = stop
        stop.session.notify()
        return True

    def end_stop(self, stop):
        with self.lock:
            if self.stop is stop:
                self.stop = None

    def request_interrupt(self):
        self.interrupt = True
        self.changed()

    def take_interrupt(self):
        with self.lock:
            mine, self.interrupt = self.interrupt, False
        return mine

    def detach(self, session):
        """The client is gone: no breakpoints, nothing stepping, the stopped
        CPU (if any) continues."""
        with self.lock:
            if self.session is not session:
                return
            self.session = None
            self.interrupt = False
            stop = self.stop
        self.table.reset()
        if stop is not None:
            stop.post(("detach", None))
        self.changed()

    def notice(self, text):
        """Tell the client something happened on a CPU (any thread)."""
        s = self.session
        if s is not None:
            s.report(text)

    def error(self, where, exc):
        """A debugger bug on a CPU: tell the client; the kernel goes on."""
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.notice(f"kgdb: internal error in {where}: {text}")


state = KgdbState()


class _Applied(threading.local):
    gen = 0                  # the generation this thread has applied
    bdb = None               # this thread's KernelBdb


_applied = _Applied()


def kgdb_poll():
    """Called by each CPU at the top of its loop under mp_lock: apply the
    debugger's state to this thread when it changed (one global check
    otherwise), and stop here if an interrupt was asked for."""
    if _applied.gen != _generation:
        _sync(sys._getframe(1))


def _sync(frame):
    _applied.gen = _generation
    try:
        b = _applied.bdb
        if b is None:
            b = _applied.bdb = state.tracers[threading.get_ident()] = KernelBdb()
        cpu = state.curcpu()
        if cpu is not None:
            state.idents[cpu.cpuid] = threading.get_ident()
        b.sync(frame)
        if state.interrupt and state.attached() and state.take_interrupt():
            b.stop(frame, "interrupt")
    except BaseException as e:            # never into the CPU loop
        state.error("kgdb_poll", e)


def kernel_caller(frame):
    """The nearest kernel frame above `frame` (over the syscall invokers)."""
    f = frame.f_back
    while f is not None and not stoppable(f.f_code):
        f = f.f_back
    return f


class KernelBdb(bdb.Bdb):
    """One CPU thread's tracer: bdb's stepping, our breakpoint table, stops
    only in kernel code and only with mp_lock held."""

    def __init__(self):
        super().__init__()
        self.installed = False
        self.stepping = False          # a step/next/finish is under way
        self.entry = None              # frame of a function breakpoint just called
        self.finish_frame = None       # `finish`: the frame to run out of
        self.finished = None           # ... and once it returned: (frame, value)
        self.finish_caller = None      # ... where it returned to (stop at its next opcode)
        self.botframe = None
        self._set_stopinfo(None, None, -1)

    # -- installing -----------------------------------------------------------------------
    def sync(self, frame):
        want = state.attached() and (bool(state.table) or self.stepping)
        if want and not self.installed:
            self.install(frame)
        elif not want and self.installed:
            self.uninstall(frame)
        if self.installed and _abspath(frame.f_code.co_filename) in state.table.lines:
            frame.f_trace = self.trace_dispatch      # line breakpoints in the CPU loop itself

    def install(self, frame):
        """Trace this thread from now on; `frame` (go_user) is the bottom."""
        self.botframe = frame
        self._forget_finish()
        self._set_stopinfo(frame, None, -1)
        sys.settrace(self.trace_dispatch)
        self.installed = True

    def uninstall(self, frame=None):
        sys.settrace(None)
        self.installed = self.stepping = False
        self._forget_finish()
        while frame is not None:
            frame.f_trace = None
            frame = frame.f_back

    # -- bdb's hooks ----------------------------------------------------------------------
    def trace_dispatch(self, frame, event, arg):
        try:
            if event == "call" and self.stoplineno == -1 and self.returnframe is None:
                return self._call_fast(frame)          # only breakpoints can stop us
            if event == "opcode":
                return self._opcode(frame)
            return bdb.Bdb.trace_dispatch(self, frame, event, arg)
        except BaseException as e:
            self.uninstall()
            state.error("a CPU's tracer (tracing is off on that CPU)", e)
            return None

    def _call_fast(self, frame):
        """A call while continuing: trace it only if breakpoints are in it."""
        code = frame.f_code
        if id(code) in state.table.codes:
            self.entry = frame
            return self.trace_dispatch
        if _abspath(code.co_filename) in state.table.lines:
            return self.trace_dispatch
        return None

    def _opcode(self, frame):
        """The first instruction back in the caller after `finish` (gdb stops
        there, in the middle of the caller's line)."""
        if frame is self.finish_caller:
            self._finish_stop(frame)
        return self.trace_dispatch

    def _finish_stop(self, frame):
        frame.f_trace_opcodes = False
        self.finish_caller = None
        self._set_stopinfo(frame, None)      # if it cannot stop here: the next line
        self.stop(frame, "finish")

    def stop_here(self, frame):
        return bdb.Bdb.stop_here(self, frame) and stoppable(frame.f_code)

    def break_here(self, frame):
        if frame is self.entry:
            return True
        lines = state.table.lines.get(_abspath(frame.f_code.co_filename))
        return lines is not None and frame.f_lineno in lines

    def break_anywhere(self, frame):
        code = frame.f_code
        return id(code) in state.table.codes or _abspath(code.co_filename) in state.table.lines

    def user_call(self, frame, argument_list):
        if id(frame.f_code) in state.table.codes:
            self.entry = frame

    def user_line(self, frame):
        bp = None
        if frame is self.entry:
            self.entry = None
            bp = state.table.codes.get(id(frame.f_code))
        if bp is None:
            bp = state.table.lines.get(_abspath(frame.f_code.co_filename), {}).get(frame.f_lineno)
        if bp is not None:
            return self.stop(frame, "breakpoint", bp)
        if frame is self.finish_caller:
            return self._finish_stop(frame)
        if self.stepping and self.stop_here(frame):
            self.stop(frame, "step")

    def user_return(self, frame, value):
        if frame is self.entry:
            self.entry = None
        caller = kernel_caller(frame)
        if frame is self.finish_frame:
            self.finish_frame = None
            self.finished = (frame, value)
            if caller is None:
                return self._go_on()
            self._set_stopinfo(caller, None, -1)
            self.finish_caller = caller
            caller.f_trace_opcodes = True
        elif not (self.stepping and (self.stopframe is None or self.stopframe is frame)):
            return
        if caller is not None and caller.f_trace is None:     # stop in the caller next
            caller.f_trace = self.trace_dispatch

    def user_exception(self, frame, exc_info):
        """gdb does not stop on exceptions: a kernel error unwinding is just
        the way the code returns."""

    # -- stopping -------------------------------------------------------------------------
    def stop(self, frame, kind, bp=None):
        """Stop this CPU at frame and serve the debugger until it resumes."""
        if not stoppable(frame.f_code):
            return
        if not state.holds_lock():
            if bp is not None and not bp.warned:
                bp.warned = True
                state.notice(f"kgdb: breakpoint {bp.number} reached without mp_lock (outside "
                             "kernel work: the CPU loop's wait, another thread); not stopping")
            return
        stop = Stop(self, frame, kind, bp)
        if not state.begin_stop(stop):
            self._go_on()
            return
        try:
            if bp is not None:
                state.table.hit(bp)
            state.freeze(stop.cpu)
            action = stop.serve()
        finally:
            state.end_stop(stop)
        self.resume(action, frame)

    def resume(self, action, frame):
        """Set up what the command asked for: continue, step, next, finish, detach."""
        kind, target = action
        self._forget_finish()
        target = target or frame
        if kind in ("continue", "detach"):
            return self._go_on()
        if not self.installed:
            self.install(_bottom(frame))
        self.stepping = True
        if target.f_trace is None:
            target.f_trace = self.trace_dispatch
        if kind == "step":
            self.set_step()
        elif kind == "next":
            self.set_next(target)
        elif kind == "finish":
            self.finish_frame = target
            self._set_stopinfo(target, target, -1)

    def _forget_finish(self):
        if self.finish_caller is not None:
            self.finish_caller.f_trace_opcodes = False
        self.entry = self.finish_frame = self.finished = self.finish_caller = None

    def _go_on(self):
        """Continue: stop only at breakpoints; no tracing without any."""
        self.stepping = False
        self._forget_finish()
        self._set_stopinfo(self.botframe, None, -1)
        if not (state.attached() and state.table):
            self.uninstall()


def _bottom(frame):
    """The CPU loop's frame (go_user) below frame, else the outermost one."""
    last = frame
    while frame is not None:
        if frame.f_code.co_name == "go_user":
            return frame
        last, frame = frame, frame.f_back
    return last


class Stop:
    """A CPU stopped for the debugger: where, why, and the command channel
    between the stub (which posts commands) and the stopped thread (which
    runs them)."""

    def __init__(self, tracer, frame, kind, bp=None):
        self.tracer = tracer
        self.frame = frame
        self.kind = kind                 # breakpoint, step, finish, interrupt
        self.bp = bp
        self.finished = tracer.finished  # (frame, value) after finish
        self.thread = threading.current_thread()
        self.ident = threading.get_ident()
        self.cpu = state.curcpu()
        self.td = getattr(self.cpu, "curthread", None)
        self.frames = frames_of(frame)
        self.session = None
        self.reported = False
        self._requests = queue.Queue()
        self._replies = queue.Queue()

    def post(self, item):
        self._requests.put(item)

    def serve(self):
        """On the stopped thread: run commands until one resumes the kernel;
        returns the action.  Without a client, the action is to go on."""
        while True:
            try:
                item = self._requests.get(timeout=0.5)
            except queue.Empty:
                if not state.attached(self.session):
                    return ("detach", None)
                continue
            if item[0] == "detach":
                return item
            _, cmd, line = item
            try:
                text = cmd.onecmd(line)
            except BaseException as e:
                text = f"kgdb: internal error: {type(e).__name__}: {e}\n"
            action, cmd.resume = cmd.resume, None
            self._replies.put((text, action))
            if action is not None:
                return action

    def call(self, cmd, line):
        """From the stub: run one command line on the stopped thread;
        (output, resume action or None)."""
        self.post(("cmd", cmd, line))
        while True:
            try:
                return self._replies.get(timeout=1.0)
            except queue.Empty:
                if not self.thread.is_alive():
                    return ("kgdb: the stopped CPU thread is gone\n", ("detach", None))
