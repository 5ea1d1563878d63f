"""The ddb command loop and command tables (DragonFly sys/ddb/db_command.c).

Built like CPython's cmd.Cmd: the debugger is a class whose `do_<name>`
methods are the commands, each documented by its docstring (`help NAME`
prints it).  The per-concern files (db_trace, db_examine, db_print, db_ps)
contribute mixins; db_interface assembles them into the `Ddb` class.

Lookup is ddb's: the main table in DragonFly's order, then the commands
registered with `@db_command`; an exact name wins, a unique prefix is
enough, otherwise `No such command` or `Ambiguous`; a word starting with
"help" that names nothing lists the commands in %-12s columns.  `show`
has its own table, which subsystems extend next to their code:

    from vkernel.ddb.db_command import db_show_command

    @db_show_command("ktrace")
    def db_show_ktrace(db, arg, modif):
        '''show ktrace: every trace node and the processes logging to it.'''
        db.printf(...)

This module imports nothing from the kernel at load time, so any kernel
module may use the decorators.  Syntax of a line: `command[/modifier]
[arguments][,count]`; an empty line repeats the last command without
arguments (x/ then continues where it stopped); `!expr(args)` is `call`.
"""
import re

from .db_output import DbOutput
from .db_sym import DbError, ObjectTable

CONTINUE, PANIC, RESET, REBOOT, EOF = "continue", "panic", "reset", "reboot", "eof"

MAIN_TABLE = ("print", "p", "examine", "x", "search", "set", "continue", "c", "trace",
              "where", "bt", "call", "show", "ps", "reset")
_NONE, _FOUND, _UNIQUE, _AMBIGUOUS, _HELP = range(5)

_aux_commands = {}        # DB_COMMAND: name -> fn(db, arg, modif)
_show_commands = {}       # DB_SHOW_COMMAND
_show_all_commands = {}   # DB_SHOW_ALL_COMMAND

#: ddb variables ($radix, $maxwidth, ...): globals, kept across ddb entries
db_variables = {"radix": 16, "maxoff": 0x10000, "maxwidth": 79, "lines": 20,
                "tabstops": 8, **{f"work{i}": 0 for i in range(32)}}


def _register(table, name):
    def deco(fn):
        table[name] = fn
        return fn
    return deco


def db_command(name):
    """Register a top-level command fn(db, arg, modif) (DB_COMMAND)."""
    return _register(_aux_commands, name)


def db_show_command(name):
    """Register `show NAME` (DB_SHOW_COMMAND)."""
    return _register(_show_commands, name)


def db_show_all_command(name):
    """Register `show all NAME` (DB_SHOW_ALL_COMMAND)."""
    return _register(_show_all_commands, name)


_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:/\s*([A-Za-z0-9]*))?\s*(.*)$", re.S)


def split_count(arg):
    """'addr,count' -> ('addr', 'count'); commas inside () [] or "" do not split."""
    depth, quote, cut = 0, False, -1
    for i, c in enumerate(arg):
        if c == '"':
            quote = not quote
        elif quote:
            continue
        elif c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "," and depth == 0:
            cut = i
    if cut < 0:
        return arg.strip(), None
    return arg[:cut].strip(), arg[cut + 1:].strip()


class DbCmd:
    """The command interpreter: state, lookup, the loop and the control commands."""

    prompt = "db> "

    def __init__(self, ctx, io):
        self.ctx = ctx
        self.io = io
        self.out = DbOutput(io.write, db_variables["maxwidth"], db_variables["tabstops"])
        self.done = None
        self.last = None                 # (bound command, modifier) for an empty line
        self.frame_index = 0
        self.history = []                # print's $1, $2, ...
        pc = ctx.frames[0].pc if ctx.frames else 0
        self.dot_addr = self.next_addr = pc  # ddb's dot and next start at the PC

    # -- output and arguments ----------------------------------------------------------
    def printf(self, text):
        self.out.printf(text)

    @property
    def radix(self):
        return db_variables["radix"]

    def split_count(self, arg):
        target, count = split_count(arg)
        if count is None:
            return target, None
        if not count:
            raise DbError("Count missing")
        return target, self.eval_int(count)

    def objects(self):
        return ObjectTable(self.ctx)

    def cur_td(self):
        """The guest thread commands apply to by default."""
        if self.ctx.td is None:
            raise DbError("No current thread")
        return self.ctx.td

    # -- the loop ------------------------------------------------------------------------
    def cmdloop(self):
        """db_command_loop: prompt, read, run, until a command leaves ddb."""
        self.done = None
        while self.done is None:
            self.out.newline_if_needed()
            try:
                line = self.io.readline(self.prompt)
            except KeyboardInterrupt:        # ^C at the prompt: a new line
                line = ""
                self.io.write("\n")
            self.out.reset_column()
            if line is None:
                self.done = EOF
                break
            self.onecmd(line)
        return self.done

    def onecmd(self, line):
        """Run one line; any error ends up as a message, never leaves ddb."""
        from vkernel.kernel.kern_shutdown import Halt
        try:
            self.dispatch(line)
        except DbError as e:
            self.printf(f"{e}\n")
        except Halt:
            raise
        except KeyboardInterrupt:
            self.printf("\n")
        except RecursionError:
            self.printf("db: recursion too deep\n")
        except Exception as e:
            self.printf(f"db: {type(e).__name__} in ddb: {e}\n")

    def dispatch(self, line):
        line = line.strip()
        if not line:
            if self.last is not None:
                fn, modif = self.last
                fn("", modif)
            return
        if line.startswith("!"):
            return self.do_call(line[1:])
        m = _LINE.match(line)
        if m is None:
            self.printf("?\n")
            return
        word, modif, arg = m.group(1), m.group(2) or "", m.group(3)
        fn = self.find(word, self.main_table(), self.aux_table(), help_arg=arg)
        if fn is not None:
            self.last = (fn, "")
            fn(arg, modif)

    # -- tables and lookup ---------------------------------------------------------------
    def main_table(self):
        """DragonFly's table, then our other do_ commands (help is not one)."""
        names = [n for n in MAIN_TABLE if hasattr(self, "do_" + n)]
        names += sorted(a[3:] for a in dir(self)
                        if a.startswith("do_") and a[3:] not in MAIN_TABLE and a != "do_help")
        return [(n, getattr(self, "do_" + n)) for n in names]

    def aux_table(self):
        return [(n, self._bind(fn)) for n, fn in _aux_commands.items()]

    def _bind(self, fn):
        def bound(arg, modif=""):
            return fn(self, arg, modif)
        bound.__doc__ = fn.__doc__
        return bound

    @staticmethod
    def search(word, table, aux=()):
        """db_cmd_search: (result, fn)."""
        for entries in (table, aux):
            result, found = _NONE, None
            for name, fn in entries:
                if name == word:
                    return _UNIQUE, fn
                if name.startswith(word):
                    if result == _NONE:
                        result, found = _FOUND, fn
                    else:
                        result = _AMBIGUOUS
            if result != _NONE:
                return result, found
        return (_HELP if word.startswith("help") else _NONE), None

    def find(self, word, table, aux=(), help_arg=""):
        """Look a word up, printing ddb's messages; the command or None."""
        result, fn = self.search(word, table, aux)
        if result in (_UNIQUE, _FOUND):
            return fn
        if result == _AMBIGUOUS:
            self.printf("Ambiguous\n")
        elif result == _HELP and help_arg.strip():
            self.do_help(help_arg)
        elif result == _HELP:
            self.help_list(table, aux)
        else:
            self.printf("No such command\n")
        return None

    def help_list(self, table, aux=()):
        """db_cmd_list: every name as %-12s, wrapped at $maxwidth."""
        for name, _ in list(table) + list(aux):
            self.printf(f"{name:<12s}")
            self.out.end_line(12)

    # -- commands -------------------------------------------------------------------------
    def do_help(self, arg, modif=""):
        """help [command]
        Without an argument, list the commands; with one, describe it."""
        word = arg.split()[0] if arg.split() else ""
        if not word:
            return self.help_list(self.main_table(), self.aux_table())
        result, fn = self.search(word, self.main_table(), self.aux_table())
        if result not in (_UNIQUE, _FOUND):
            raise DbError(f"No such command: {word}")
        self.printf(_dedent(fn.__doc__ or "(undocumented)") + "\n")

    def do_show(self, arg, modif=""):
        """show <what>
        Kernel state: all procs, registers, proc, thread, files, mount,
        ktrace, sysctl, msgbuf, panic, ...  `show` alone lists them."""
        words = arg.split(None, 1)
        table = [("all", self._show_all), ("registers", self.show_registers)]
        aux = [(n, self._bind(fn)) for n, fn in _show_commands.items()]
        if not words:
            return self.help_list(table, aux)
        fn = self.find(words[0], table, aux)
        if fn is not None:
            fn(words[1] if len(words) > 1 else "", modif)

    def _show_all(self, arg, modif=""):
        words = arg.split(None, 1)
        table = [("procs", self.do_ps)]
        aux = [(n, self._bind(fn)) for n, fn in _show_all_commands.items()]
        if not words:
            return self.help_list(table, aux)
        fn = self.find(words[0], table, aux)
        if fn is not None:
            fn(words[1] if len(words) > 1 else "", modif)

    def do_continue(self, arg, modif=""):
        """continue
        Leave ddb.  After a break-in the system runs on; after a fatal trap the
        faulting kernel operation (the guest's syscall) is retried, and
        normally faults again; after a panic the vkernel reboots when the
        countdown ends."""
        self.done = CONTINUE

    do_c = do_continue

    def do_reset(self, arg, modif=""):
        """reset
        Stop at once: no sync, every guest is killed and the vkernel exits
        with status 71 (the supervisor does not reboot it; use `reboot` for that)."""
        self.done = RESET


@db_command("panic")
def db_panic(db, arg, modif):
    """panic
    panic("from debugger"): print the panic, enter ddb again, and reboot
    when it is continued."""
    db.done = PANIC


@db_command("reboot")
def db_reboot(db, arg, modif):
    """reboot
    A clean reboot, as reboot(2) does it: kill the guests, sync, then
    `cpu reset, rebooting vkernel` (exit status 32: the supervisor boots a
    fresh kernel)."""
    db.done = REBOOT


def _dedent(doc):
    lines = doc.strip("\n").splitlines()
    rest = [ln for ln in lines[1:] if ln.strip()]
    indent = min((len(ln) - len(ln.lstrip()) for ln in rest), default=0)
    return "\n".join([lines[0].strip()] + [ln[indent:] for ln in lines[1:]])
