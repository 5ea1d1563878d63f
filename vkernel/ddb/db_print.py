"""print, set, call and show registers (DragonFly sys/ddb/db_print.c and the
print/set/call parts of db_examine.c, db_variables.c, db_command.c).

`print` evaluates a db_expr expression and shows it gdb's way, numbered
in a value history ($1, $2, ...):

    db> print ((struct proc *)0x7f3a5c1e2b40)->p_pid
    $1 = 692
    db> print p->p_tracenode
    $2 = (struct ktrace_node *) 0x0
    db> print *p                          (the whole structure, one field a line)

Integers print in decimal unless a modifier asks otherwise (/x /o /u /d /c,
/a symbolic); kernel objects print as typed pointers; NULL pointers keep
the type of the field they came from.  This module is also the expression
environment: how names, $variables, casts, -> and [] are resolved.
"""
import re

from .db_command import db_variables
from .db_expr import Deref, Parser
from .db_sym import (FIELD_TYPES, TYPE_ALIASES, DbError, access_error, printsym,
                     symtab)

REGISTERS = ("rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags "
             "cs ss ds es fs gs fs_base gs_base orig_rax").split()
MASK64 = (1 << 64) - 1
MAXCALLARGS = 10
MAXELEMS = 16


class NullPtr:
    """A NULL pointer that remembers what it would point to."""

    def __init__(self, kind=None):
        self.kind = kind


def num_to_str(v, radix=None):
    """db_num_to_str: %#lx / %#lo / %lu in the radix."""
    radix = radix or db_variables["radix"]
    if radix == 16:
        return f"{v:#x}" if v else "0"
    if radix == 8:
        return f"{v:#o}".replace("0o", "0") if v else "0"
    return str(v)


def c_string(s, limit=256):
    """A string as C would quote it; non-printing bytes as \\ooo."""
    if isinstance(s, bytes):
        s = s.decode("latin-1")
    body = []
    for ch in s[:limit]:
        if ch == '"' or ch == "\\":
            body.append("\\" + ch)
        elif ch.isprintable():
            body.append(ch)
        else:
            body.append("\\%03o" % (ord(ch) & 0xFF))
    return '"' + "".join(body) + ('"...' if len(s) > limit else '"')


def format_int(v, fmt):
    if fmt == "x":
        return f"{v & MASK64:#x}" if v < 0 else f"{v:#x}"
    if fmt == "o":
        return f"0{v & MASK64:o}"
    if fmt == "u":
        return str(v & MASK64)
    if fmt == "c":
        c = v & 0xFF
        return f"'{chr(c)}'" if 32 <= c < 127 else "'\\%03o'" % c
    if fmt == "a":
        return printsym(v)
    return str(v)


def format_value(v, objs, fmt="", depth=0):
    """One value, gdb style; objects are typed pointers when ddb knows their type."""
    if isinstance(v, NullPtr) or v is None:
        kind = v.kind if isinstance(v, NullPtr) else None
        return f"(struct {kind} *) 0x0" if kind else "0x0"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return format_int(v, fmt)
    if isinstance(v, (str, bytes)):
        return c_string(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Deref):
        return format_struct(v.obj, objs, depth)
    if fmt and fmt in "xoud":
        return format_int(id(v), fmt)
    return _format_object(v, objs, depth)


def _format_object(v, objs, depth):
    kind = objs.kind_of(v)
    if kind is not None:
        return f"(struct {kind} *) {id(v):#x}"
    code = getattr(v, "__code__", None) or getattr(getattr(v, "__func__", None), "__code__", None)
    if code is not None:
        return f"{{function {code.co_name}}} {id(code):#x} <{code.co_name}>"
    if type(v).__name__ == "module":
        return f"<module {v.__name__}>"
    if isinstance(v, dict):
        if depth > 1:
            return "{...}"
        items = [f"{format_value(k, objs, '', depth + 1)} = {format_value(x, objs, '', depth + 1)}"
                 for k, x in list(v.items())[:MAXELEMS]]
        return "{" + ", ".join(items) + (", ..." if len(v) > MAXELEMS else "") + "}"
    if isinstance(v, (list, tuple, set, frozenset)) or type(v).__name__ == "deque":
        if depth > 1:
            return "{...}"
        seq = list(v)
        items = [format_value(x, objs, "", depth + 1) for x in seq[:MAXELEMS]]
        return "{" + ", ".join(items) + (", ..." if len(seq) > MAXELEMS else "") + "}"
    return f"({type(v).__name__} *) {id(v):#x}"


def public_fields(obj):
    """The fields of a structure: its instance variables, or for built-in
    objects (frames, tracebacks) their data attributes."""
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        names += [n for n in getattr(cls, "__slots__", ()) if isinstance(n, str)]
    if not names:
        names = [n for n in dir(obj) if not callable(getattr(obj, n, None))]
    return [n for n in dict.fromkeys(names) if not n.startswith("_")]


def format_struct(obj, objs, depth=0):
    if obj is None or isinstance(obj, (int, str, bytes, float)):
        raise DbError("Attempt to take contents of a non-pointer value.")
    lines = ["{"]
    for name in public_fields(obj):
        try:
            val = getattr(obj, name)
        except Exception as e:
            val = f"<{type(e).__name__}>"
        if val is None and name in FIELD_TYPES:
            val = NullPtr(FIELD_TYPES[name])
        lines.append(f"  {name} = {format_value(val, objs, '', depth + 1)},")
    lines.append("}")
    return "\n".join(lines)


def _kernel_global(name):
    """A module-level name of a kernel module (allproc, sched, mounts, ...)."""
    import sys
    for modname in sorted(sys.modules):
        if modname.startswith("vkernel.kernel.") or modname.startswith("vkernel.vfs."):
            mod = sys.modules[modname]
            if mod is not None and name in vars(mod) and not name.startswith("_"):
                return True, vars(mod)[name]
    return False, None


def safe_calls():
    """The kernel functions `call` may run: lookups and knobs, nothing that
    needs a guest context or leaves the kernel inconsistent."""
    from vkernel.kernel import kern_proc, kern_sig, kern_sysctl, msgbuf

    def psignal(p, sig):
        proc = kern_proc.pfind(p) if isinstance(p, int) else p
        if proc is None:
            raise DbError(f"No process {p}")
        kern_sig.psignal(proc, sig)
        return 0

    def sysctl_set(name, value):
        kern_sysctl.sysctl_set(name, str(value))
        return kern_sysctl.sysctl_get(name)

    return {"pfind": kern_proc.pfind, "zpfind": kern_proc.zpfind,
            "lwpfind": kern_proc.lwpfind, "pgfind": kern_proc.pgfind,
            "nprocs": kern_proc.nprocs, "psignal": psignal,
            "sysctl_get": kern_sysctl.sysctl_get, "sysctl_set": sysctl_set,
            "msgbuf_clear": msgbuf.clear}


class PrintCommands:
    """print/set/call/show registers, and the expression environment."""

    # -- the expression environment --------------------------------------------------------
    def eval(self, text):
        p = Parser(text, self)
        v = p.expression()
        if not p.at_end():
            raise DbError(f"Syntax error at '{p.peek()[1]}'")
        return v

    def eval_int(self, text):
        return self.as_int(self.eval(text))

    def as_int(self, v):
        if isinstance(v, NullPtr) or v is None:
            return 0
        if isinstance(v, (bool, int)):
            return int(v)
        if isinstance(v, (str, bytes, Deref)):
            raise DbError("Not a number or an address")
        code = getattr(v, "__code__", None) or getattr(getattr(v, "__func__", None),
                                                       "__code__", None)
        return id(code) if code is not None else id(v)     # a function is its text

    def variable(self, name):
        if name.isdigit():
            n = int(name)
            if not 1 <= n <= len(self.history):
                raise DbError(f"History has not yet reached ${n}.")
            return self.history[n - 1]
        if name in db_variables:
            return db_variables[name]
        regs = getattr(self.ctx.td, "regs", None)
        reg = "eflags" if name == "rflags" else name
        if regs is not None and reg in REGISTERS:
            return getattr(regs, reg)
        raise DbError(f"Unknown variable ${name}")

    def identifier(self, name):
        frames = self.ctx.frames
        if frames:
            f = frames[min(self.frame_index, len(frames) - 1)].frame
            for scope in (f.f_locals, f.f_globals):
                if name in scope:
                    return self._typed(name, scope[name])
        found, v = _kernel_global(name)
        if found:
            return self._typed(name, v)
        addr = symtab().lookup(name)
        if addr is not None:
            return addr
        if self.radix == 16 and re.fullmatch(r"[0-9a-fA-F]+", name):
            return int(name, 16)
        raise DbError(f'No symbol "{name}" in current context.')

    @staticmethod
    def _typed(name, v):
        return NullPtr(FIELD_TYPES.get(name)) if v is None else v

    def cast(self, kind, value):
        if isinstance(value, (NullPtr, type(None))) or value == 0:
            raise access_error(0)
        objs = self.objects()
        if isinstance(value, int):
            return objs.resolve(value, kind)
        have = objs.kind_of(value)
        if have != TYPE_ALIASES.get(kind, kind):
            raise access_error(id(value), f" (not a struct {kind})")
        return value

    def member(self, obj, name):
        if isinstance(obj, Deref):
            obj = obj.obj
        if isinstance(obj, NullPtr) or obj is None:
            raise access_error(0)
        if isinstance(obj, (int, str, bytes, float)):
            raise DbError("Attempt to extract a component of a value that is not a "
                          "structure pointer.")
        if name.startswith("_"):
            raise DbError(f"There is no member named {name}.")
        try:
            v = getattr(obj, name)
        except AttributeError:
            raise DbError(f"There is no member named {name}.") from None
        return self._typed(name, v)

    def index(self, obj, key):
        if isinstance(obj, dict):
            if key in obj:
                return obj[key]
            raise DbError(f"No element {format_value(key, self.objects())}")
        try:
            return list(obj)[self.as_int(key)]
        except IndexError:
            raise DbError(f"Index {self.as_int(key)} out of range") from None
        except TypeError:
            raise DbError("Cannot subscript this value") from None

    def deref(self, v):
        if isinstance(v, (NullPtr, type(None))):
            raise access_error(0)
        if isinstance(v, int):
            return int.from_bytes(self.read_memory(v, 8), "little")
        return Deref(v)

    def dot(self):
        return self.dot_addr

    # -- commands -----------------------------------------------------------------------------
    def do_print(self, arg, modif=""):
        """print[/axoducz] expr
        Evaluate expr and show it as $N = value.  Casts resolve addresses to
        live kernel objects: print ((struct proc *)0x7f3a5c1e2b40)->p_pid.
        Names are the selected frame's arguments and locals (see `frame`),
        kernel globals, and functions; $N names an earlier result.  Without
        an expression, dot (the last address given to a command)."""
        v = self.eval(arg) if arg.strip() else self.dot_addr
        if isinstance(v, int) and not isinstance(v, bool):
            self.dot_addr = v
        self.history.append(v)
        fmt = modif[:1]
        text = format_value(v, self.objects(), "x" if fmt == "z" else fmt)
        self.printf(f"${len(self.history)} = {text}\n")

    do_p = do_print

    def do_set(self, arg, modif=""):
        """set $variable [=] expr
        Set a ddb variable ($radix, $maxwidth, $tabstops, $work0..$work31, or a
        new one), or a register of the current guest thread ($rax, $rip, ...)."""
        m = re.match(r"\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*=?\s*(.*)$", arg, re.S)
        if m is None:
            raise DbError("Unknown variable")
        name, expr = m.group(1), m.group(2)
        if not expr.strip():
            raise DbError("Expression missing")
        value = self.eval(expr)
        regs = getattr(self.ctx.td, "regs", None)
        if name in REGISTERS and regs is not None:
            setattr(regs, name, self.as_int(value) & MASK64)
            return
        self._set_variable(name, value)

    def _set_variable(self, name, value):
        if name == "radix" and value not in (8, 10, 16):
            raise DbError("Bad radix (8, 10 or 16)")
        if name in ("maxwidth", "tabstops") and (not isinstance(value, int) or value < 1):
            raise DbError(f"Bad ${name}")
        db_variables[name] = value
        self.out.max_width = db_variables["maxwidth"]
        self.out.tab_width = db_variables["tabstops"]

    def do_call(self, arg, modif=""):
        """call function(arg, ...)
        Call one of the kernel functions that are safe from the debugger:
        pfind, zpfind, lwpfind, pgfind, nprocs, psignal, sysctl_get,
        sysctl_set, msgbuf_clear.  Prints the value returned."""
        p = Parser(arg, self)
        kind, name = p.take()
        calls = safe_calls()
        if kind != "ident":
            raise DbError("Bad function")
        if name not in calls:
            raise DbError(f"Bad function: {name} is not one ddb may call "
                          f"({', '.join(sorted(calls))})")
        args = self._call_args(p)
        from vkernel.kernel.errors import KernelError
        try:
            ret = calls[name](*args)
        except KernelError as e:
            raise DbError(f"{name}: error {e.errno}") from None
        except TypeError as e:
            raise DbError(f"{name}: {e}") from None
        text = num_to_str(ret) if isinstance(ret, int) and not isinstance(ret, bool) \
            else format_value(ret, self.objects())
        self.printf(text + "\n")

    def _call_args(self, p):
        args = []
        if p.accept("("):
            if not p.accept(")"):
                args.append(p.expression())
                while p.accept(","):
                    if len(args) == MAXCALLARGS:
                        raise DbError("Too many arguments")
                    args.append(p.expression())
                if not p.accept(")"):
                    raise DbError("?")
        if not p.at_end():
            raise DbError("?")
        return [None if isinstance(a, NullPtr) else a for a in args]

    def show_registers(self, arg="", modif=""):
        """show registers: the current guest thread's user registers, then the
        instruction at its rip."""
        td = self.cur_td()
        regs = td.regs
        if regs is None:
            raise DbError("The current thread has no saved registers")
        for name in REGISTERS:
            self.printf(f"{name:<12s}{num_to_str(getattr(regs, name))}\n")
        self.printf(f"{regs.rip:#x}:\t{self.disasm_text(regs.rip)}\n")
