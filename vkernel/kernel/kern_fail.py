"""Fail points: errors, delays and panics injected on purpose (FreeBSD fail(9)).

FreeBSD counterpart: sys/kern/kern_fail.c and sys/sys/fail.h.  A subsystem
names a point next to its code and asks it, on every pass, whether to fail:

    _fp_vfs_write = fail_point("vfs_write", "write(2) family on files of a filesystem")
    ...
    _fp_vfs_write.check(td)        # raises KernelError(errno) when set to return(errno)

`fp.eval(td)` is KFAIL_POINT_RETURN's question without the raise: the errno
to inject, or None.  A point costs one attribute test while it is off.
Every point is the sysctl `debug.fail_point.<name>`, so the guest sets it
through /proc/sys (or busybox sysctl, which maps dots to that tree):

    echo '5%return(5)' > /proc/sys/debug/fail_point/vfs_write
    sysctl -w debug.fail_point.vfs_write='1*return(28)->delay(100)'
    sysctl debug.fail_point.vfs_write          # reads back the live expression

Syntax (fail(9)'s grammar):

    <fail_point> ::= <term> ( "->" <term> )*
    <term>       ::= ( <float> "%" | <integer> "*" )* <type>
                     [ "(" <integer> ")" ] [ "[pid " <integer> "]" ]
    <type>       ::= off | panic | return | break | print | sleep | pause | yield | delay
    <integer>    ::= decimal, 0x hexadecimal or 0 octal (strtol's base 0)

    off         do nothing (an `off` without a count ends the chain; `off` alone disarms)
    return(E)   the operation fails with errno E (return(-E) too; return(0) or a plain
                return fires, spending its count, but injects nothing)
    panic       panic("fail point NAME panicking"): ddb on a console, exit 70 without one
    break       "fail point NAME breaking to debugger", then ddb; `continue` goes on
    print       "fail point NAME executing" in the kernel log; print(1) goes on to the next term
    delay(ms)   sleep ms milliseconds, then go on normally
    sleep(ms)   the same as delay here (FreeBSD's delay busy-waits microseconds; ours
                never blocks the virtual CPU: the thread sleeps and the others run)
    pause       sleep until the point is set again (to anything), then go on
    yield       give the CPU to the other runnable threads once, then go on
    P%          fire with probability P percent (up to 4 decimals: 0.0001%)
    N*          fire for the next N evaluations that pass the other tests, then fall silent
    [pid N]     fire only for process N

Evaluation follows kern_fail.c: terms are tried left to right; a term whose
probability, pid or spent count says no is skipped; the first one that
fires is executed and ends the evaluation (only print(N != 0) goes on to the
following terms).  `2*return(5)->delay(50)`: two failures, then every pass
sleeps 50 ms.  Reading the sysctl gives the terms still live, in FreeBSD's
format (`off` when none is: `1*return(28)` reads `off` once it has fired;
a probability of 100% is not shown; `.5%print` reads `0.5%print`).
A bad expression is EINVAL; entries that can never fire (0%) are dropped,
as are the terms after an `off` without a count or a `pause`.

The vkernel's twist: kernel code never blocks.  A delay, pause or yield
puts the thread to sleep with tsleep(), and the dispatcher re-runs the whole
syscall after the wakeup, so a point remembers in td.sstate what it decided
for this syscall: on the re-run it finishes what it started (the sleep, then
the rest of its chain) and answers the same, without drawing again.  A
syscall therefore consumes at most one evaluation of each point, even when
it sleeps for other reasons (a full pipe) and runs again.  Outside a
syscall (no thread) the sleeping actions are skipped.  A signal ends the
sleep like any interruptible one (the syscall restarts or fails with EINTR).

The kernel's points, each one line next to its code (there is deliberately
no point on the syscall path itself, which is the hot path):

    vfs_read, vfs_write   syscalls/linux64/sys_generic.py kern_readv, kern_writev, and
                          the in-kernel copies (sendfile, copy_file_range), for files
                          of a filesystem (not pipes, ttys or procfs)
    vfs_open              syscalls/linux64/sys_file.py kern_open (paths under /proc/
                          are exempt, so /proc/sys can always disarm the point)
    fork                  kernel/kern_fork.py fork_proc (processes, not threads)
    mmap                  syscalls/linux64/sys_mman.py sys_mmap
    pipe_write            kernel/sys_pipe.py PipeEnd.write (pipes and FIFOs)

ddb's `show sysctl debug.fail_point` lists them with their settings.
"""
import random
import re
import time

from vkernel.abi.linux import errno as E

from . import msgbuf
from .errors import KernelError
from .kern_sysctl import sysctl_proc
from .kern_synch import tsleep, wakeup

PROB_MAX = 1000000            # probability one, in millionths
PROB_DIGITS = 6
FP_MAX_ENTRY_COUNT = 20
MAX_FAIL_POINT_BUF = 1023

FAIL_POINT_TYPES = ("off", "panic", "return", "break", "print", "sleep", "pause",
                    "yield", "delay")
SLEEPING = ("sleep", "delay", "pause", "yield")

_random = random.Random()
_fail_points = {}             # name -> FailPoint: the DEBUG_FP tree


class FailPointEntry:
    """One term of a setting (struct fail_point_entry)."""

    __slots__ = ("fe_type", "fe_arg", "fe_prob", "fe_count", "fe_pid", "fe_stale")

    def __init__(self):
        self.fe_type = None
        self.fe_arg = 0
        self.fe_prob = PROB_MAX
        self.fe_count = None      # None: untracked (fires forever)
        self.fe_pid = None
        self.fe_stale = False

    def __str__(self):
        """The term as fail_point_get prints it."""
        text = ""
        if self.fe_prob < PROB_MAX:
            text += _format_prob(self.fe_prob) + "%"
        if self.fe_count is not None:
            text += f"{self.fe_count}*"
        text += self.fe_type
        if self.fe_arg:
            text += f"({self.fe_arg})"
        if self.fe_pid is not None:
            text += f"[pid {self.fe_pid}]"
        return text


def _format_prob(prob):
    units, decimal = divmod(prob, PROB_MAX // 100)
    if not decimal:
        return str(units)
    digits = PROB_DIGITS - 2
    while not decimal % 10:
        digits -= 1
        decimal //= 10
    return f"{units}.{decimal:0{digits}d}"


# -- parsing (parse_fail_point, parse_term, parse_number, parse_type) ----------------------
class _Syntax(Exception):
    pass


def parse_fail_point(text):
    """The entries of an expression; raises KernelError(EINVAL) when malformed."""
    try:
        entries, p = [], 0
        p = _parse_term(text, p, entries)
        while p < len(text):
            if not text.startswith("->", p) or len(entries) >= FP_MAX_ENTRY_COUNT:
                raise _Syntax()
            p = _parse_term(text, p + 2, entries)
        return entries
    except _Syntax:
        raise KernelError(E.EINVAL, f"bad fail point expression {text!r}") from None


def _parse_term(text, p, entries):
    ent = FailPointEntry()
    entries.append(ent)
    while p < len(text) and (text[p].isdigit() or text[p] == "."):
        units, decimal, p = _parse_number(text, p)
        sep = text[p:p + 1]
        if sep == "%":
            ent.fe_prob = min(min(units, 100) * (PROB_MAX // 100) + decimal, PROB_MAX)
        elif sep == "*":
            if units <= 0 or decimal:
                raise _Syntax()
            ent.fe_count = units
        else:
            raise _Syntax()
        p += 1
    p = _parse_type(text, p, ent)
    if not text.startswith("(", p):
        return p
    ent.fe_arg, p = _strtol(text, p + 1, allow_minus=True)
    if not text.startswith(")", p):
        raise _Syntax()
    p += 1
    if not text.startswith("[pid ", p):
        return p
    ent.fe_pid, p = _strtol(text, p + 5, allow_minus=False)
    if not text.startswith("]", p):
        raise _Syntax()
    return p + 1


def _parse_number(text, p):
    """<integer> [ "." <integer> ] | "." <integer>: units and millionths past them."""
    start = p
    while p < len(text) and text[p].isdigit():
        p += 1
    units = int(text[start:p]) if p > start else 0
    decimal = 0
    if text.startswith(".", p):
        p += 1
        digits = 0
        while p < len(text) and text[p].isdigit():
            digit = int(text[p])
            if digits < PROB_DIGITS - 2:
                decimal = decimal * 10 + digit
            elif digits == PROB_DIGITS - 2 and digit >= 5:
                decimal += 1
            digits += 1
            p += 1
        if not digits:
            raise _Syntax()
        decimal *= 10 ** max(0, PROB_DIGITS - 2 - digits)
    return units, decimal, p


def _parse_type(text, p, ent):
    for name in FAIL_POINT_TYPES:
        if text.startswith(name, p):
            ent.fe_type = name
            return p + len(name)
    raise _Syntax()


_INTEGER = re.compile(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


def _strtol(text, p, allow_minus):
    """strtol(p, &end, 0): decimal, 0x hex or 0 octal; '-' only where allowed."""
    sign = 1
    if allow_minus and text.startswith("-", p):
        sign, p = -1, p + 1
    m = _INTEGER.match(text, p)
    if m is None:
        raise _Syntax()
    digits = m.group(1)
    base = 16 if digits[:2] in ("0x", "0X") else 8 if digits[0] == "0" else 10
    return sign * int(digits, base), m.end()


def _prune(entries):
    """fail_point_set's clean-up: drop 0% terms and what follows an `off`
    without a count (which goes too) or a `pause`."""
    kept, truncate = [], False
    for ent in entries:
        if ent.fe_prob == 0:
            msgbuf.log(f"Discarding entry which cannot execute {ent.fe_type}")
        elif truncate:
            msgbuf.log(f"Discarding unreachable entry {ent.fe_type}")
        elif ent.fe_type == "off" and ent.fe_count is None:
            truncate = True
        else:
            kept.append(ent)
            truncate = ent.fe_type == "pause"
    return kept


# -- the fail point --------------------------------------------------------------------------
class FailPoint:
    """struct fail_point: a name, its current setting and its sysctl node."""

    def __init__(self, name, descr=""):
        self.fp_name = name
        self.fp_descr = descr
        self.fp_entries = []          # the live setting; empty is off
        self.fp_gen = 0               # bumped by every set: what paused threads wait for

    def __repr__(self):
        return f"<FailPoint {self.fp_name} {self.get()!r}>"

    # -- the sysctl ---------------------------------------------------------------------
    def get(self):
        """The setting in FreeBSD's words (fail_point_get)."""
        live = [str(e) for e in self.fp_entries if not e.fe_stale]
        return "->".join(live) if live else "off"

    def set(self, text):
        """Replace the setting (fail_point_set); wakes the paused threads."""
        text = str(text).strip()
        if len(text) > MAX_FAIL_POINT_BUF:
            raise KernelError(E.EINVAL)
        self.fp_entries = _prune(parse_fail_point(text))
        self.fp_gen += 1
        wakeup(("fail_point_pause", self.fp_name))

    # -- evaluation ---------------------------------------------------------------------
    def eval(self, td=None):
        """KFAIL_POINT_RETURN's question: the errno to inject here, or None.
        May sleep (raise Sleep) for delay, pause and yield."""
        if not self.fp_entries:
            return None
        return self._eval(td)

    def check(self, td=None):
        """Raise KernelError(errno) when the point injects one (KFAIL_POINT_ERROR
        followed by the error return)."""
        if self.fp_entries:
            errno = self._eval(td)
            if errno:
                raise KernelError(errno, f"fail point {self.fp_name}")

    def _eval(self, td):
        sstate = td.sstate if td is not None and td.td_insyscall else None
        key = ("fail_point", self.fp_name)
        if sstate is not None and key in sstate:
            return self._resume(td, sstate, key)
        actions = self._select(td)
        if not actions:
            return None
        return self._run(td, sstate, key, actions, None)

    def _select(self, td):
        """The terms this pass executes (fail_point_eval_nontrivial's loop):
        counts are spent here, once, before anything sleeps."""
        chosen, cont = [], 0
        for ent in self.fp_entries:
            if ent.fe_stale:
                continue
            if ent.fe_prob < PROB_MAX and ent.fe_prob < _random.randrange(PROB_MAX):
                continue
            if ent.fe_pid is not None and (td is None or td.lwp_proc.p_pid != ent.fe_pid):
                continue
            if ent.fe_count is not None:
                ent.fe_count -= 1
                if ent.fe_count == 0:
                    ent.fe_stale = True
            chosen.append(ent)
            if ent.fe_type == "print":
                cont = ent.fe_arg
            if not cont:
                break
        if all(e.fe_stale for e in self.fp_entries):
            self.fp_entries = []              # fail_point_eval_swap_out
        return chosen

    def _run(self, td, sstate, key, actions, result):
        """Execute the chosen terms in order; a sleeping one saves the rest in
        sstate and sleeps, and _resume picks them up after the re-run."""
        for i, ent in enumerate(actions):
            kind = ent.fe_type
            if kind == "return":
                result = abs(ent.fe_arg) or None
            elif kind == "panic":
                from . import kern_shutdown
                kern_shutdown.panic(f"fail point {self.fp_name} panicking")
            elif kind == "break":
                self._break()
            elif kind == "print":
                msgbuf.log(f"fail point {self.fp_name} executing")
            elif kind in SLEEPING:
                self._sleep(td, sstate, key, ent, actions[i + 1:], result)
        if sstate is not None:
            sstate[key] = ("done", None, (), result)
        return result

    def _break(self):
        from . import kern_shutdown
        msgbuf.log(f"fail point {self.fp_name} breaking to debugger")
        kern_shutdown.Debugger(f"fail point {self.fp_name}")

    def _sleep(self, td, sstate, key, ent, rest, result):
        """Start a delay, pause or yield: never returns when the thread can sleep."""
        if sstate is None:
            return                          # no syscall to re-run: nothing to sleep in
        if ent.fe_type == "pause":
            sstate[key] = ("pause", self.fp_gen, rest, result)
            tsleep(td, ("fail_point_pause", self.fp_name), "failpt")
        ms = ent.fe_arg if ent.fe_type != "yield" else 0
        if ms < 0 or (ms == 0 and ent.fe_type != "yield"):
            return                          # delay(0) does nothing, as in FreeBSD
        deadline = time.monotonic() + ms / 1000.0
        sstate[key] = ("sleep", deadline, rest, result)
        tsleep(td, ("fail_point", self.fp_name, td), "failpt", deadline)

    def _resume(self, td, sstate, key):
        """The syscall runs again: keep sleeping, or finish the chain."""
        kind, until, rest, result = sstate[key]
        if kind == "done":
            return result
        if kind == "pause" and until == self.fp_gen:
            tsleep(td, ("fail_point_pause", self.fp_name), "failpt")
        if kind == "sleep" and time.monotonic() < until:
            tsleep(td, ("fail_point", self.fp_name, td), "failpt", until)
        return self._run(td, sstate, key, rest, result)


def fail_point(name, descr=""):
    """The fail point `name`, made (with its sysctl debug.fail_point.<name>)
    on first use; subsystems call this once, at import, next to their code."""
    fp = _fail_points.get(name)
    if fp is None:
        fp = _fail_points[name] = FailPoint(name, descr)
        sysctl_proc(f"debug.fail_point.{name}", fp.get, fp.set, kind=str,
                    descr=descr or f"fail point {name}")
    return fp


def fail_points():
    """Every registered point, by name."""
    return dict(_fail_points)
