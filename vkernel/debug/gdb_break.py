"""kgdb's breakpoints (gdb's breakpoint.c and linespec.c; ddb's db_break.c).

A location is what gdb's linespec names, resolved against the loaded
kernel modules through ddb's symbol table (vkernel/ddb/db_sym.py):

    sys_ktrace                      a kernel function (its co_name)
    Cpu.go_user, kern_ktrace.sys_ktrace     a method, or a function of a module
    kern_ktrace.py:sys_ktrace       a function of a file
    vkernel/kernel/kern_ktrace.py:120, kern_ktrace.py:120    a line of a file
    120                             a line of the current file

A function breakpoint stops when the function is called, at its first
line after the `def` (gdb stops after the prologue), once per call; a name
may have several locations (every `read` method).  A line breakpoint stops
each time its line starts (a line without code moves to the next one that
has code, as gdb does).  The address printed is the location's kernel text
address, id(code object) + bytecode offset, as ddb prints kernel code.

The table is read by every CPU's tracer (gdb_trace.py) without a lock: each
change builds new lookup dicts (`codes`: id(code) -> breakpoint,
`lines`: file -> {line: breakpoint}) and swaps them in whole.
"""
import os

from vkernel.ddb.db_sym import DbError, symtab

from .gdb_frame import body_line, line_starts, source_files, src_name, stoppable


class Location:
    """One place a breakpoint stops: code object, line, bytecode offset."""

    def __init__(self, code, line, offset):
        self.code, self.line, self.offset = code, line, offset

    @property
    def address(self):
        return id(self.code) + self.offset

    @property
    def filename(self):
        return os.path.abspath(self.code.co_filename)

    def where(self):
        return f"in {self.code.co_name} at {src_name(self.filename)}:{self.line}"


class Breakpoint:
    """A numbered gdb breakpoint: kind "function" or "line", its locations."""

    def __init__(self, number, kind, spec, locations, temporary=False):
        self.number, self.kind, self.spec = number, kind, spec
        self.locations = locations
        self.enabled = True
        self.temporary = temporary
        self.hits = 0
        self.warned = False          # told that it was reached where kgdb cannot stop

    def announce(self):
        """`Breakpoint 1 at 0x7f...: file vkernel/kernel/kern_ktrace.py, line 114.`"""
        what = "Temporary breakpoint" if self.temporary else "Breakpoint"
        locs = self.locations
        if len(locs) > 1:
            return (f"{what} {self.number} at {locs[0].address:#x}: {self.spec}. "
                    f"({len(locs)} locations)")
        loc = locs[0]
        return (f"{what} {self.number} at {loc.address:#x}: file {src_name(loc.filename)}, "
                f"line {loc.line}.")

    def info_lines(self):
        """The rows of `info breakpoints` for this breakpoint."""
        disp = "del " if self.temporary else "keep"
        enb = "y" if self.enabled else "n"
        locs = self.locations
        if len(locs) == 1:
            rows = [f"{self.number:<7d} breakpoint     {disp} {enb}   "
                    f"{locs[0].address:#018x} {locs[0].where()}"]
        else:
            rows = [f"{self.number:<7d} breakpoint     {disp} {enb}   {'<MULTIPLE>':18s} "]
            rows += [f"{f'{self.number}.{i}':<28s}{enb}   {loc.address:#018x} {loc.where()}"
                     for i, loc in enumerate(locs, 1)]
        if self.hits:
            rows.append(f"\tbreakpoint already hit {self.hits} time{'s' if self.hits > 1 else ''}")
        return rows


class BreakpointTable:
    """The numbered breakpoints and the lookup dicts the tracers read."""

    def __init__(self):
        self.bps = {}
        self.next_number = 1
        self.codes = {}              # id(code) -> Breakpoint (function breakpoints)
        self.lines = {}              # absolute file -> {line: Breakpoint}

    def __bool__(self):
        return bool(self.codes or self.lines)

    def add(self, kind, spec, locations, temporary=False):
        bp = Breakpoint(self.next_number, kind, spec, locations, temporary)
        self.next_number += 1
        self.bps[bp.number] = bp
        self._rebuild()
        return bp

    def delete(self, number):
        if self.bps.pop(number, None) is None:
            raise DbError(f"No breakpoint number {number}.")
        self._rebuild()

    def enable(self, number, on):
        bp = self.bps.get(number)
        if bp is None:
            raise DbError(f"No breakpoint number {number}.")
        bp.enabled = on
        self._rebuild()

    def clear(self):
        self.bps = {}
        self._rebuild()

    def reset(self):
        """A new debugging session: no breakpoints, numbers from 1."""
        self.clear()
        self.next_number = 1

    def _rebuild(self):
        codes, lines = {}, {}
        for bp in self.bps.values():
            if not bp.enabled:
                continue
            for loc in bp.locations:
                if bp.kind == "function":
                    codes[id(loc.code)] = bp
                else:
                    lines.setdefault(loc.filename, {})[loc.line] = bp
        self.codes, self.lines = codes, lines

    def hit(self, bp):
        """Count a stop at bp; a temporary breakpoint goes away."""
        bp.hits += 1
        if bp.temporary and bp.number in self.bps:
            self.delete(bp.number)


# -- linespecs ------------------------------------------------------------------------------
def parse_linespec(spec, default_file=None):
    """(kind, locations) for a linespec (see the module docstring), or DbError."""
    spec = spec.strip()
    if not spec:
        raise DbError("Argument required (location).")
    head, sep, tail = spec.rpartition(":")
    if sep and tail.strip().isdigit():
        return "line", [line_location(find_file(head.strip()), int(tail))]
    if spec.isdigit():
        if default_file is None:
            raise DbError("No default source file: use FILE:LINE.")
        return "line", [line_location(default_file, int(spec))]
    if sep:
        return "function", function_locations(tail.strip(), find_file(head.strip()))
    return "function", function_locations(spec)


def find_file(name):
    """The absolute path of the loaded kernel source `name` (a path suffix,
    a file name, with or without .py)."""
    files = source_files()
    want = name if name.endswith(".py") else name + ".py"
    hits = [fn for fn in files
            if fn == os.path.abspath(want) or fn.endswith(os.sep + want.lstrip(os.sep))]
    if not hits:
        raise DbError(f"No source file named {name}.")
    if len(hits) > 1:
        raise DbError(f"Source file {name} is ambiguous: "
                      f"{', '.join(src_name(h) for h in sorted(hits))}.")
    return hits[0]


def _kernel_codes():
    return [c for c in symtab().by_addr.values() if stoppable(c)]


def function_locations(name, filename=None):
    """Every kernel function called `name` (co_name or qualified name, or
    module.function), in `filename` when given."""
    table = symtab()
    codes = [c for c in table.by_name.get(name, ()) if stoppable(c)]
    if not codes and "." in name:
        modpart, fn = name.rsplit(".", 1)
        suffix = os.sep + modpart.replace(".", os.sep) + ".py"
        codes = [c for c in table.by_name.get(fn, ())
                 if stoppable(c) and os.path.abspath(c.co_filename).endswith(suffix)]
    if filename is not None:
        codes = [c for c in codes if os.path.abspath(c.co_filename) == filename]
    codes = list({id(c): c for c in codes}.values())
    if not codes:
        where = f" in {src_name(filename)}" if filename else ""
        raise DbError(f'Function "{name}" not defined{where}.')
    codes.sort(key=lambda c: (c.co_filename, c.co_firstlineno))
    return [Location(c, *body_line(c)) for c in codes]


def line_location(filename, line):
    """The location of `line` in a kernel file, or of the next line with code."""
    best = None
    for code in _kernel_codes():
        if os.path.abspath(code.co_filename) != filename:
            continue
        for ln, off in line_starts(code).items():
            if ln >= line and ln != code.co_firstlineno and (best is None or ln < best[1]):
                best = (code, ln, off)
    if best is None:
        raise DbError(f'Line {line} is out of range for "{src_name(filename)}".')
    return Location(*best)
