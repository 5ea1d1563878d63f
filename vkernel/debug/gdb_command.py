"""kgdb's command language (gdb's command names, abbreviations and output
shapes), built as CPython's pdb is on bdb and cmd: one `do_<name>` method
per command, documented by its docstring (`help NAME`), looked up by exact
name, alias (b, c, s, n, p, bt, l, i, d, f, fin, q) or unique prefix.  An
empty line repeats step, next, list, up, down and finish.

The stub (gdb_main.py) runs each line through `onecmd`, which returns the
output text: on the stopped CPU's thread while the kernel is stopped, on
the stub's own thread while it runs (then only commands that read are
allowed: backtrace, print of globals, info, break, delete, list).  A
command that resumes the kernel leaves `resume` set to (action, frame) for
the stopped thread to act on.  Expressions are ddb's (vkernel/ddb/db_expr.py
and db_print.py: casts to live kernel objects, ->, [], $N history) with the
selected frame's locals and globals in scope, and numbers in decimal as
gdb reads them.
"""
import re

from vkernel.ddb.db_print import PrintCommands, format_value
from vkernel.ddb.db_sym import DbError, ObjectTable, access_error

from .gdb_break import parse_linespec
from .gdb_frame import frame_line, kframe, location, source_line
from .gdb_stack import StackCommands

ALIASES = {"b": "break", "br": "break", "c": "continue", "cont": "continue", "s": "step",
           "n": "next", "p": "print", "inspect": "print", "bt": "backtrace",
           "where": "backtrace", "l": "list", "i": "info", "d": "delete", "f": "frame",
           "fin": "finish", "q": "quit", "h": "help"}
REPEATABLE = ("step", "next", "list", "up", "down", "finish")
CONTROL = ("detach", "quit", "interrupt")          # run by the stub itself
RUNNING = "The kernel is running: `interrupt` (or ^C) stops it."
_LINE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_-]*)\s*(?:/\s*([A-Za-z0-9]*))?\s*(.*)$", re.S)
INFO = ("breakpoints", "threads", "frame", "locals", "args")


class KgdbContext:
    """What ddb's expression code calls its context: frames, guest thread, CPU."""

    def __init__(self, frames, td, cpu):
        self.frames, self.td, self.cpu = frames, td, cpu
        self.tb = self.console = None


def split_line(line):
    """`print/x p->p_pid` -> ('print', 'x', 'p->p_pid'); the name unaliased."""
    m = _LINE.match(line)
    if m is None:
        raise DbError(f'Undefined command: "{line.strip()}".  Try "help".')
    word, modif, arg = m.group(1), m.group(2) or "", m.group(3)
    return ALIASES.get(word, word), modif, arg


class KgdbCmd(StackCommands, PrintCommands):
    """One debugging session's command interpreter."""

    do_set = None                      # ddb's variables are not gdb's
    do_p = None                        # an alias, above

    def __init__(self, pid, state):
        self.pid = pid
        self.state = state
        self.stop = None               # the Stop being served, or None: running
        self.resume = None             # (action, frame) set by c/step/next/finish
        self.control = None            # detach / quit / interrupt, for the stub
        self.history = []              # $1, $2, ...
        self.frame_index = 0
        self.thread_ident = None       # selected with `thread N`
        self.list_next = None          # (file, line) where `list` goes on
        self.last = None               # the command an empty line repeats
        self.last_frame = None         # where the last stop was (for step's header)
        self.last_ident = None
        self.dot_addr = 0
        self._ctx = None
        self.buf = []

    # -- what ddb's print needs -------------------------------------------------------------
    @property
    def radix(self):
        return 10

    @property
    def ctx(self):
        if self._ctx is None:
            stop = self.stop
            self._ctx = KgdbContext(self.frames(), getattr(stop, "td", None),
                                    getattr(stop, "cpu", None))
        return self._ctx

    def frames(self):
        stop = self.stop
        if stop is None:
            return []
        return self.stack_of(self.selected_ident())[0]

    def objects(self):
        return ObjectTable(self.ctx)

    def read_memory(self, addr, n):
        raise access_error(addr)

    def printf(self, text):
        self.buf.append(text)

    def need_stop(self):
        if self.stop is None:
            raise DbError(RUNNING)

    # -- the loop's body ---------------------------------------------------------------------
    def commands(self):
        return sorted(a[3:] for a in dir(self)
                      if a.startswith("do_") and callable(getattr(self, a)))

    def lookup(self, name):
        names = self.commands()
        if name in names:
            return name
        hits = [n for n in names if n.startswith(name)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise DbError(f'Ambiguous command "{name}": {", ".join(hits)}.')
        raise DbError(f'Undefined command: "{name}".  Try "help".')

    def is_control(self, line):
        try:
            name = split_line(line)[0] if line.strip() else ""
            return bool(name) and self.lookup(name) in CONTROL
        except DbError:
            return False

    def onecmd(self, line):
        """Run one line; its output.  Errors are messages, never exceptions."""
        self.buf, self._ctx = [], None
        try:
            self.dispatch(line)
        except DbError as e:
            self.printf(f"{e}\n")
        except RecursionError:
            self.printf("kgdb: recursion too deep\n")
        except Exception as e:
            self.printf(f"kgdb: {type(e).__name__} in kgdb: {e}\n")
        self._ctx = None
        return "".join(self.buf)

    def dispatch(self, line):
        if not line.strip():
            if self.last is None:
                return
            line = self.last
        name, modif, arg = split_line(line)
        name = self.lookup(name)
        self.last = name if name in REPEATABLE else None
        getattr(self, "do_" + name)(arg, modif)

    # -- stops -----------------------------------------------------------------------------
    def stop_report(self, stop):
        """What gdb prints when the kernel stops (on the stub's thread)."""
        self.buf, self._ctx = [], None
        self.stop, self.frame_index, self.list_next = stop, 0, None
        self.thread_ident = None
        out = []
        if self.last_ident is not None and self.last_ident != stop.ident:
            out.append(f"[Switching to {self.target_id(stop.ident)}]")
        kf = stop.frames[0] if stop.frames else kframe(stop.frame)
        who = self.who(stop)
        if stop.kind == "breakpoint":
            hit = f"{who} hit " if who else ""
            out.append(f"\n{hit}Breakpoint {stop.bp.number}, {location(kf)}")
        elif stop.kind == "interrupt":
            out.append(f"\n{who + ' received' if who else 'Program received'} signal SIGINT, "
                       "Interrupt.")
            out.append(location(kf))
        elif stop.kind == "finish":
            out.append(location(kf, with_pc=True))        # back in the middle of a line
        elif stop.frame is not self.last_frame:
            out.append(location(kf))
        out.append(source_line(kf.code.co_filename, kf.lineno))
        if stop.kind == "finish" and stop.finished and stop.finished[1] is not None:
            value = stop.finished[1]
            self.history.append(value)
            out.append(f"Value returned is ${len(self.history)} = "
                       f"{format_value(value, self.objects())}")
        self.last_frame, self.last_ident = stop.frame, stop.ident
        self._ctx = None
        return "\n".join(out) + "\n"

    def who(self, stop):
        """`Thread 2 "cpu1"` when the kernel has several CPUs, else ''."""
        threads = self.threads()
        if len(threads) < 2:
            return ""
        num = self.thread_number(stop.ident)
        return f'Thread {num} "cpu{num - 1}"'

    def resumed(self):
        """The kernel runs again: forget the stop."""
        self.stop, self.thread_ident, self._ctx = None, None, None

    # -- breakpoints ---------------------------------------------------------------------------
    def do_break(self, arg, modif="", temporary=False):
        """break [LOCATION]  (b)
        Stop the kernel when it gets to LOCATION.
        LOCATION is a kernel function
        (sys_ktrace, Cpu.go_user, kern_ktrace.sys_ktrace, kern_ktrace.py:sys_ktrace),
        FILE:LINE (kern_ktrace.py:120) or a LINE of the current file; none:
        the current line of the selected frame."""
        spec = arg.strip()
        if not spec:
            kf = self.selected()
            spec = f"{kf.code.co_filename}:{kf.lineno}"
        default = self.list_next[0] if self.list_next else None
        if default is None and self.stop is not None:
            default = self.selected().code.co_filename
        kind, locs = parse_linespec(spec, default)
        bp = self.state.table.add(kind, spec, locs, temporary)
        self.state.changed()
        self.printf(bp.announce() + "\n")

    def do_tbreak(self, arg, modif=""):
        """tbreak [LOCATION]
        A breakpoint that is deleted when it is hit (see break)."""
        self.do_break(arg, modif, temporary=True)

    def do_delete(self, arg, modif=""):
        """delete [N ...]  (d)
        Delete breakpoints N ..., or all of them."""
        words = arg.split()
        if words[:1] == ["breakpoints"]:
            words = words[1:]
        if not words:
            self.state.table.clear()
        for w in words:
            if not w.isdigit():
                raise DbError(f"Bad breakpoint argument: '{w}'")
            self.state.table.delete(int(w))
        self.state.changed()

    def do_enable(self, arg, modif=""):
        """enable [N ...]
        Enable breakpoints N ..., or all of them."""
        self._enable(arg, True)

    def do_disable(self, arg, modif=""):
        """disable [N ...]
        Disable breakpoints N ... (they stay listed), or all of them."""
        self._enable(arg, False)

    def _enable(self, arg, on):
        table = self.state.table
        nums = [int(w) for w in arg.split() if w.isdigit()] or list(table.bps)
        for n in nums:
            table.enable(n, on)
        self.state.changed()

    def info_breakpoints(self, arg):
        bps = self.state.table.bps
        if not bps:
            return self.printf("No breakpoints or watchpoints.\n")
        self.printf("Num     Type           Disp Enb Address            What\n")
        for bp in bps.values():
            for row in bp.info_lines():
                self.printf(row + "\n")

    def do_info(self, arg, modif=""):
        """info breakpoints|threads|frame|locals|args  (i)
        Show breakpoints, CPU threads, or the selected frame and its variables.
        info breakpoints: the breakpoints and their hit counts; info threads:
        the CPU threads and where each is; info frame, info locals, info args:
        the selected frame, its local variables, its arguments."""
        words = arg.split(None, 1)
        if not words:
            raise DbError('"info" must be followed by the name of an info command: '
                          + ", ".join(INFO) + ".")
        word = "breakpoints" if words[0] in ("b", "br", "break") else words[0]
        hits = [n for n in INFO if n.startswith(word)]
        if len(hits) != 1:
            raise DbError(f'Undefined info command: "{arg.strip()}".  Try "help info".')
        getattr(self, "info_" + hits[0])(words[1] if len(words) > 1 else "")

    # -- running -----------------------------------------------------------------------------
    def do_continue(self, arg, modif=""):
        """continue  (c)
        Let the kernel run until a breakpoint (or ^C).
        While it already runs: wait for the next stop."""
        self.printf("Continuing.\n")
        self.resume = ("continue", None)

    def _stepping(self):
        self.need_stop()
        if self.selected_ident() != self.stop.ident:
            raise DbError(f"Only the stopped CPU steps: `thread "
                          f"{self.thread_number(self.stop.ident)}` selects it.")

    def do_step(self, arg, modif=""):
        """step  (s)
        Run to the next source line, into a called kernel function."""
        self._stepping()
        self.resume = ("step", None)

    def do_next(self, arg, modif=""):
        """next  (n)
        Run to the next source line of the selected frame, over calls."""
        self._stepping()
        self.resume = ("next", self.selected().frame)

    def do_finish(self, arg, modif=""):
        """finish  (fin)
        Run until the selected frame returns; show the value it returned."""
        self._stepping()
        frames = self.frames()
        if self.frame_index >= len(frames) - 1:
            raise DbError('"finish" not meaningful in the outermost frame.')
        kf = self.selected()
        self.printf(f"Run till exit from {frame_line(self.frame_index, kf)}\n")
        self.resume = ("finish", kf.frame)

    def do_interrupt(self, arg, modif=""):
        """interrupt
        Stop the running kernel (^C does the same).
        Every CPU stops at the top of its loop; the first one to get there is
        shown."""
        self.control = "interrupt"

    def do_detach(self, arg, modif=""):
        """detach
        Leave the kernel: breakpoints removed, a stopped kernel continues."""
        self.control = "detach"

    def do_quit(self, arg, modif=""):
        """quit  (q, ^D)
        Detach and leave kgdb."""
        self.control = "detach"

    # -- data ------------------------------------------------------------------------------
    def do_print(self, arg, modif=""):
        """print[/x|o|d|u|c|a] EXPR  (p)
        Evaluate EXPR and show its value as $N = value.
        The selected frame's variables, the kernel's globals and functions are
        in scope: print p, print p->p_tracenode,
        print ((struct proc *)0x7f3a5c1e2b40)->p_pid, print allproc[1],
        print *p (every field); $N names an earlier value."""
        PrintCommands.do_print(self, arg, modif)

    def do_call(self, arg, modif=""):
        """call FUNCTION(ARG, ...)
        Call a kernel function that is safe from a debugger.
        As ddb's call: pfind, zpfind, lwpfind, pgfind, nprocs, psignal,
        sysctl_get, sysctl_set, msgbuf_clear); only while the kernel is stopped."""
        self.need_stop()
        PrintCommands.do_call(self, arg, modif)

    def do_help(self, arg, modif=""):
        """help [COMMAND]  (h)
        List the commands, or describe one."""
        word = arg.strip()
        if word:
            name = self.lookup(ALIASES.get(word, word))
            doc = getattr(self, "do_" + name).__doc__ or name
            lines = [ln.strip() for ln in doc.strip().splitlines()]
            return self.printf("\n".join(lines) + "\n")
        self.printf("List of commands:\n\n")
        for name in self.commands():
            doc = [ln.strip() for ln in (getattr(self, "do_" + name).__doc__ or name).strip()
                   .splitlines()]
            summary = doc[1].rstrip(".") if len(doc) > 1 else ""
            self.printf(f"{doc[0]:<36s} -- {summary}\n")
        self.printf('\nType "help" followed by a command name for its description.\n')
