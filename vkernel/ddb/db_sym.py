"""Kernel symbols and addresses for ddb (DragonFly sys/ddb/db_sym.c).

A Python kernel has no linker map, so ddb defines its own, stable for the
life of the vkernel:

  * text: the address of kernel code is id(code object) + bytecode offset.
    A function's symbol is its name (`ktrace_clear_callback`), and any
    address inside its bytecode prints as `name+0xoff` (the offset is the
    frame's f_lasti, in bytes).  The code objects of every loaded vkernel
    module are the symbol table.
  * data: the address of a kernel object is id(object).  An address means
    something only while a live kernel object of the right type sits there:
    the object table is rebuilt from the kernel's own roots (the process
    and thread tables, each process's credentials, groups, descriptor
    table, files, vnodes, vmspace and ktrace node, the mount table, the
    CPU, the console tty, and the frames of the stack ddb was entered
    with) every time an address is resolved.  Anything else is an error
    message, never a dereference: ddb cannot crash the vkernel with a bad
    address.
"""
import os
import sys
import types

import vkernel

VKERNEL_DIR = os.path.dirname(os.path.abspath(vkernel.__file__))
DDB_DIR = os.path.join(VKERNEL_DIR, "ddb")
KERNEL_DIRS = [VKERNEL_DIR]      # where kernel code lives (tests add fake kernels)

#: field name -> the struct it points to (for printing NULL pointers typed)
FIELD_TYPES = {
    "p_pptr": "proc", "p_pgrp": "pgrp", "pg_session": "session", "s_leader": "proc",
    "p_ucred": "ucred", "p_fd": "filedesc", "p_vmspace": "vmspace",
    "p_tracenode": "ktrace_node", "kn_vp": "vnode", "p_cwd": "vnode", "p_root": "vnode",
    "p_textvp": "vnode", "lwp_proc": "proc", "vnode": "vnode", "root": "vnode",
    "covered": "vnode", "mount": "mount", "tracenode": "ktrace_node", "td": "lwp",
    "curthread": "lwp", "p_vfork_child": "proc", "s_ttyp": "tty",
}
TYPE_ALIASES = {"thread": "lwp", "globaldata": "cpu", "trapframe": "traceback"}


class DbError(Exception):
    """A user error in ddb: printed, then back to the prompt."""


def access_error(addr, extra=""):
    return DbError(f"Cannot access memory at address {addr:#x}{extra}")


# -- text --------------------------------------------------------------------------------
def _in_kernel(filename):
    fn = os.path.abspath(filename)
    if fn.startswith(DDB_DIR + os.sep):
        return False
    return any(fn.startswith(d + os.sep) for d in KERNEL_DIRS)


def is_kernel_code(code):
    """Code of the kernel proper (vkernel/, but not the debugger itself)."""
    return _in_kernel(code.co_filename)


def _codes_of(obj, out, depth=0):
    if depth > 4:
        return
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        for f in (obj.fget, obj.fset, obj.fdel):
            if f is not None:
                _codes_of(f, out, depth)
        return
    code = getattr(obj, "__code__", None)
    if isinstance(code, types.CodeType):
        _add_code(code, out)
    elif isinstance(obj, type):
        for v in list(vars(obj).values()):
            _codes_of(v, out, depth + 1)


def _add_code(code, out):
    if id(code) in out:
        return
    out[id(code)] = code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _add_code(c, out)


class SymbolTable:
    """The code objects of the loaded vkernel modules, by address and name."""

    def __init__(self):
        by_addr = {}
        for name, mod in list(sys.modules.items()):
            if mod is None or not (name == "vkernel" or name.startswith("vkernel.")
                                   or _in_kernel(getattr(mod, "__file__", None) or "?")):
                continue
            for v in list(vars(mod).values()):
                if getattr(v, "__module__", None) == name:
                    _codes_of(v, by_addr)
        self.by_addr = by_addr
        self.starts = sorted(by_addr)
        self.by_name = {}
        for code in by_addr.values():
            for key in (code.co_name, getattr(code, "co_qualname", code.co_name)):
                self.by_name.setdefault(key, []).append(code)

    def search(self, addr):
        """(code, offset) for a text address, or None."""
        import bisect
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        code = self.by_addr[self.starts[i]]
        off = addr - id(code)
        return (code, off) if 0 <= off < len(code.co_code) else None

    def lookup(self, name):
        """The text address of the function called name, or None."""
        codes = self.by_name.get(name)
        if not codes:
            return None
        kernel = [c for c in codes if is_kernel_code(c)]
        return id((kernel or codes)[0])


_symtab = None
_symtab_key = None


def symtab(refresh=False):
    """The symbol table, rebuilt when modules were loaded since the last build."""
    global _symtab, _symtab_key
    key = (len(sys.modules), tuple(KERNEL_DIRS))
    if _symtab is None or refresh or key != _symtab_key:
        _symtab, _symtab_key = SymbolTable(), key
    return _symtab


def pc_of(code, lasti):
    """The text address of bytecode offset lasti in code."""
    return id(code) + max(lasti, 0)


def printsym(addr, proc=False, lineno=None):
    """db_printsym: `name+0xoff` (plus ` [file:line]` for a PC), else 0x..."""
    hit = symtab().search(addr) if isinstance(addr, int) else None
    if hit is None:
        return f"{addr:#x}" if isinstance(addr, int) else str(addr)
    code, off = hit
    s = code.co_name + (f"+{off:#x}" if off else "")
    if proc:
        line = lineno if lineno is not None else line_of(code, off)
        s += f" [{os.path.basename(code.co_filename)}:{line}]"
    return s


def line_of(code, off):
    """The source line of bytecode offset off."""
    line = code.co_firstlineno
    for start, end, ln in code.co_lines():
        if start <= off < end and ln is not None:
            return ln
    return line


# -- data --------------------------------------------------------------------------------
class ObjectTable:
    """id -> (object, struct name) for every live kernel object ddb can reach."""

    def __init__(self, ctx=None):
        self.objs = {}
        self._walk(ctx)

    def add(self, obj, kind):
        if obj is not None and not isinstance(obj, (int, str, bytes, float, bool)):
            self.objs.setdefault(id(obj), (obj, kind))

    def _walk(self, ctx):
        from vkernel.kernel import kern_proc
        for p in list(kern_proc.allproc.values()):
            self._proc(p)
        for td in list(kern_proc.alllwp.values()):
            self._lwp(td)
        self._mounts()
        if ctx is not None:
            self.add(getattr(ctx, "cpu", None), "cpu")
            self.add(getattr(ctx, "td", None), "lwp")
            for kf in getattr(ctx, "frames", ()):
                self.add(kf.frame, "frame")
            tb = getattr(ctx, "tb", None)
            while tb is not None:
                self.add(tb, "traceback")
                tb = tb.tb_next
            con = getattr(ctx, "console", None)
            self.add(getattr(getattr(con, "console", None), "tty", None), "tty")

    def _proc(self, p):
        self.add(p, "proc")
        self.add(p.p_ucred, "ucred")
        pg = getattr(p, "p_pgrp", None)
        if pg is not None:
            self.add(pg, "pgrp")
            self.add(pg.pg_session, "session")
            self.add(getattr(pg.pg_session, "s_ttyp", None), "tty")
        fdp = getattr(p, "p_fd", None)
        if fdp is not None:
            self.add(fdp, "filedesc")
            for fp in list(getattr(fdp, "files", {}).values()):
                self.add(fp, "file")
                self.add(getattr(fp, "vnode", None), "vnode")
        self.add(getattr(p, "p_vmspace", None), "vmspace")
        for f in ("p_cwd", "p_root", "p_textvp"):
            self.add(getattr(p, f, None), "vnode")
        kn = getattr(p, "p_tracenode", None)
        if kn is not None:
            self.add(kn, "ktrace_node")
            self.add(getattr(kn, "kn_vp", None), "vnode")
        for td in list(p.p_lwps.values()):
            self._lwp(td)

    def _lwp(self, td):
        self.add(td, "lwp")

    def _mounts(self):
        from vkernel.kernel import kern_vfs
        table = kern_vfs.mounts
        if table is None:
            return
        for m in table.mounts():
            self.add(m, "mount")
            self.add(m.root, "vnode")
            self.add(m.covered, "vnode")

    def kind_of(self, obj):
        hit = self.objs.get(id(obj))
        return hit[1] if hit is not None and hit[0] is obj else None

    def resolve(self, addr, kind=None):
        """The live object at addr (of struct `kind` when given), or DbError."""
        hit = self.objs.get(addr)
        if hit is None:
            raise access_error(addr)
        obj, k = hit
        want = TYPE_ALIASES.get(kind, kind)
        if want is not None and k != want:
            raise access_error(addr, f" (a struct {k} is there, not a struct {kind})")
        return obj
