"""x (examine) and search (DragonFly sys/ddb/db_examine.c, db_access.c, db_disasm).

    x/[bhlg][xzrduoc s i a p] addr[,count]

Addresses are the current guest thread's user addresses, read through
copyin (so a bad one is `Cannot access memory at address ...`, never a
kernel fault), except addresses inside kernel text (see db_sym), which
read the function's bytecode: `x/i ktrace_clear_callback+0x1a` shows the
Python instruction there.  Guest instructions are disassembled by capstone
in AT&T syntax, as ddb's own disassembler prints.  Formats, widths, the
`addr:<TAB>` line heads and the line breaking are db_examine's; the format
sticks from one x to the next, and an empty line continues after the last
item shown.

search[/bhlg] addr value [mask] [,count] looks for value (& mask) in the
guest's memory and, unlike DragonFly's (which only moves dot), says where.
"""
import dis

from .db_expr import Parser
from .db_sym import DbError, access_error, printsym, symtab
from .db_trace import format_radix

SIZES = {"b": (1, 4), "h": (2, 8), "l": (4, 16), "g": (8, 32)}
VALUE_FORMATS = set("xzrduocsiIap")
PAGE = 4096
MAXSTRING = 4096
MAXSEARCH = 64 << 20

_state = {"format": "x"}         # db_examine_format: sticks across commands
_capstone = []


def _cs():
    if not _capstone:
        import capstone
        md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        md.syntax = capstone.CS_OPT_SYNTAX_ATT
        _capstone.append(md)
    return _capstone[0]


def bytecode_insn(code, off):
    """(text, next offset) of the Python instruction at or containing off."""
    insns = list(dis.get_instructions(code))
    for i, ins in enumerate(insns):
        nxt = insns[i + 1].offset if i + 1 < len(insns) else len(code.co_code)
        if ins.offset <= off < nxt:
            arg = ins.argrepr or ("" if ins.arg is None else str(ins.arg))
            return (f"{ins.opname}\t{arg}" if arg else ins.opname), nxt
    return "(bad)", off + 2


def _printable(b):
    return chr(b) if 32 <= b <= 126 else "\\%03o" % b


class ExamineCommands:
    """x, examine, search; memory access for the other commands."""

    # -- memory ---------------------------------------------------------------------------
    def read_memory(self, addr, n):
        """n bytes at addr: kernel bytecode, or the current guest's memory."""
        hit = symtab().search(addr)
        if hit is not None:
            code, off = hit
            data = code.co_code[off:off + n]
            if len(data) < n:
                raise access_error(addr + len(data))
            return data
        td = self.cur_td()
        from vkernel.kernel.usercopy import copyin
        try:
            return copyin(td, addr, n)
        except Exception:
            raise access_error(addr) from None

    def get_value(self, addr, size, signed=False):
        return int.from_bytes(self.read_memory(addr, size), "little", signed=signed)

    def disasm(self, addr):
        """(text, next address) of the instruction at addr."""
        hit = symtab().search(addr)
        if hit is not None:
            code, off = hit
            text, nxt = bytecode_insn(code, off)
            return text, id(code) + nxt
        data = self.read_upto(addr, 16)
        for insn in _cs().disasm(data, addr, 1):
            return (f"{insn.mnemonic}\t{insn.op_str}" if insn.op_str else insn.mnemonic,
                    addr + insn.size)
        return "(bad)", addr + 1

    def read_upto(self, addr, n):
        """Up to n bytes at addr, as many as can be read (at least one)."""
        try:
            return self.read_memory(addr, n)
        except DbError:
            data = self.read_memory(addr, 1)
        while len(data) < n:
            try:
                data += self.read_memory(addr + len(data), 1)
            except DbError:
                break
        return data

    def disasm_text(self, addr):
        try:
            return self.disasm(addr)[0]
        except DbError as e:
            return f"<{e}>"

    # -- x ------------------------------------------------------------------------------------
    def do_examine(self, arg, modif=""):
        """x/fmt addr[,count]
        Examine memory of the current guest thread (or kernel bytecode).
        Sizes b h l g (1 2 4 8 bytes); formats x (hex) z (signed hex) r
        (radix) d u o c s (string) i (instruction) a p (pointer).  The
        format sticks; an empty line continues after the last item.  A
        decimal count may also lead the format, gdb style: x/4gx addr."""
        digits = len(modif) - len(modif.lstrip("0123456789"))
        repeat, modif = (int(modif[:digits]) if digits else None), modif[digits:]
        if modif:
            bad = [c for c in modif if c not in SIZES and c not in VALUE_FORMATS]
            if bad:
                raise DbError("Bad modifier")
            _state["format"] = modif
        target, count = self.split_count(arg)
        addr = self.eval_int(target) if target else self.next_addr
        self.dot_addr = addr
        count = count if count is not None else repeat
        self.examine(addr, _state["format"], 1 if count is None else count)

    do_x = do_examine

    def examine(self, addr, fmt, count):
        try:
            while count > 0:
                count -= 1
                size, width = 4, 16
                for c in fmt:
                    if c in SIZES:
                        size, width = SIZES[c]
                        continue
                    if self.out.position == 0:
                        self.printf(f"{printsym(addr)}:\t")
                    addr = self._examine_one(addr, c, size, width)
                    if self.out.position != 0 or c in "ap":
                        self.out.end_line(1)
        finally:
            self.next_addr = addr

    def _examine_one(self, addr, c, size, width):
        if c in "ap":
            v = self.get_value(addr, 8)
            self.printf(printsym(v) if c == "a" else f"{v:#x}")
            return addr + 8
        if c in "xzrduo":
            v = self.get_value(addr, size, signed=c in "zrd")
            self.printf(self._number(v, c).ljust(width))
            return addr + size
        if c == "c":
            self.printf(_printable(self.get_value(addr, 1)))
            return addr + 1
        if c == "s":
            return self._string(addr)
        if c in "iI":
            text, nxt = self.disasm(addr)
            self.printf(text + "\n")            # db_disasm ends its line
            return nxt
        return addr

    def _number(self, v, c):
        if c == "x":
            return f"{v:x}"
        if c == "o":
            return f"{v:o}"
        if c in "du":
            return str(v)
        return format_radix(v, 16 if c == "z" else self.radix)

    def _string(self, addr):
        out = []
        while len(out) < MAXSTRING:
            try:
                chunk = self.read_memory(addr, min(64, PAGE - (addr & (PAGE - 1))))
            except DbError:
                chunk = self.read_memory(addr, 1)
            nul = chunk.find(b"\0")
            part = chunk if nul < 0 else chunk[:nul]
            out += [_printable(b) for b in part]
            addr += len(part)
            if nul >= 0:
                addr += 1
                break
        self.printf("".join(out))
        return addr

    # -- search --------------------------------------------------------------------------------
    def do_search(self, arg, modif=""):
        """search[/bhlg] addr value [mask] [,count]
        Look for value (compared after & mask) in the current guest's memory,
        every size bytes from addr, for count items (default: until memory
        ends); prints the address found."""
        size = SIZES[modif][0] if modif in SIZES else 4
        if modif and modif not in SIZES:
            raise DbError("Bad modifier")
        text, count = self.split_count(arg)
        p = Parser(text, self)
        if p.at_end():
            raise DbError("Address missing")
        addr = self.as_int(p.expression())
        if p.at_end():
            raise DbError("Value missing")
        value = self.as_int(p.expression())
        mask = self.as_int(p.expression()) if not p.at_end() else (1 << (8 * size)) - 1
        found = self.search_memory(addr, size, value, mask, count)
        if found is None:
            self.printf("Not found\n")
        else:
            self.dot_addr = self.next_addr = found
            self.printf(f"{printsym(found)}\n")

    def search_memory(self, addr, size, value, mask, count):
        limit = MAXSEARCH // size if count is None else count
        done = 0
        while done < limit:
            n = min(PAGE - (addr & (PAGE - 1)), (limit - done) * size)
            n -= n % size
            if n == 0:
                n = size
            try:
                data = self.read_upto(addr, n)
            except DbError:
                return None
            n = len(data) - len(data) % size
            if n == 0:
                return None
            for off in range(0, n, size):
                if int.from_bytes(data[off:off + size], "little") & mask == value:
                    return addr + off
            addr += n
            done += n // size
        return None
