"""CPython objects in another process's memory (the kvm reader's "structs").

libkvm reads `struct proc` by its C layout; our kernel's structures are
Python objects, so PyMem reads CPython 3.11 objects by their layout as the
namelist gives it (kvm_layout.probe, run in the kernel at boot):

    ints (30-bit digits), floats, str (compact ASCII, compact latin-1/UCS-2/
    UCS-4, legacy), bytes, tuples, lists, dicts (combined and split, general
    and unicode keys), deques, None/True/False, and instances: the managed
    __dict__ or the inline values of 3.11 (keys shared in the type's
    ht_cached_keys), a tp_dictoffset dict, and __slots__ (offsets from the
    namelist).

It never imports or calls the kernel, and trusts nothing it reads: a live
kernel changes under the reader, and a pointer read a moment ago may point
at freed memory.  Lengths and counts are bounded, and anything that does
not look like the object it should be raises KvmError (`corrupt ...`).
"""
import struct

from .kvm import PAGE, KvmError

MAX_STR = 1 << 20
MAX_ITEMS = 1 << 20
MAX_DIGITS = 1 << 12
_Q = struct.Struct("<Q")
_q = struct.Struct("<q")


class Ref:
    """An object the reader did not decode: its address and type name."""
    __slots__ = ("addr", "tname")

    def __init__(self, addr, tname):
        self.addr, self.tname = addr, tname

    def __repr__(self):
        return f"<{self.tname} at {self.addr:#x}>"

    def __eq__(self, other):
        return isinstance(other, Ref) and other.addr == self.addr

    def __hash__(self):
        return hash(self.addr)


class PyMem:
    """Decode CPython objects at addresses of a kvm descriptor's memory."""

    def __init__(self, kd):
        self.kd = kd
        self.L = kd.layout
        nl = kd.nlist
        self.types = {addr: name for name, addr in nl["types"].items()}
        self.none = nl["constants"]["None"]
        self.true = nl["constants"]["True"]
        self.slots = nl.get("slots", {})
        self._tpname = {}
        self._strs = {}

    # -- raw memory ------------------------------------------------------------------------
    def read(self, addr, n):
        if not addr:
            raise KvmError("invalid address (0x0)")
        return self.kd.read(addr, n)

    def u64(self, addr):
        return _Q.unpack(self.read(addr, 8))[0]

    def i64(self, addr):
        return _q.unpack(self.read(addr, 8))[0]

    def words(self, addr, n):
        if n == 0:
            return ()
        return struct.unpack(f"<{n}Q", self.read(addr, 8 * n))

    def cstring(self, addr, maxlen=256):
        """A NUL-terminated C string, read up to page ends (never past an unmapped one)."""
        out = b""
        while len(out) < maxlen:
            chunk = self.read(addr, min(maxlen - len(out), PAGE - addr % PAGE))
            nul = chunk.find(b"\0")
            if nul >= 0:
                return out + chunk[:nul]
            out += chunk
            addr += len(chunk)
        return out

    # -- types -----------------------------------------------------------------------------
    def ob_type(self, addr):
        return self.u64(addr + self.L["ob_type"])

    def type_name(self, taddr):
        name = self._tpname.get(taddr)
        if name is None:
            raw = self.cstring(self.u64(taddr + self.L["tp_name"]))
            name = raw.decode("utf-8", "replace")
            self._tpname[taddr] = name
        return name

    def kind(self, addr):
        """The builtin type name of the object at addr ("int", "str", ...), or None."""
        if addr == self.none:
            return "NoneType"
        return self.types.get(self.ob_type(addr))

    def _expect(self, addr, kind):
        k = self.kind(addr)
        if k != kind and not (kind == "int" and k == "bool"):
            raise KvmError(f"corrupt {kind} at {addr:#x} (a {k or self._tname(addr)})")

    def _tname(self, addr):
        try:
            return self.type_name(self.ob_type(addr))
        except KvmError:
            return "?"

    # -- scalars ---------------------------------------------------------------------------
    def int_(self, addr):
        self._expect(addr, "int")
        size = self.i64(addr + self.L["ob_size"])
        n = abs(size)
        if n > MAX_DIGITS:
            raise KvmError(f"corrupt int at {addr:#x}")
        digits = struct.unpack(f"<{n}I", self.read(addr + self.L["long_digits"], 4 * n)) \
            if n else ()
        value = 0
        for d in reversed(digits):
            value = (value << self.L["long_shift"]) | d
        return -value if size < 0 else value

    def float_(self, addr):
        self._expect(addr, "float")
        return struct.unpack("<d", self.read(addr + self.L["float_fval"], 8))[0]

    def str_(self, addr):
        s = self._strs.get(addr)
        if s is None:
            s = self._str(addr)
            self._strs[addr] = s
        return s

    def _str(self, addr):
        L = self.L
        self._expect(addr, "str")
        length = self.i64(addr + L["str_length"])
        state = struct.unpack("<I", self.read(addr + L["str_state"], 4))[0]
        width = (state >> L["str_kind_shift"]) & ((1 << L["str_kind_bits"]) - 1)
        if not 0 <= length <= MAX_STR or width not in (1, 2, 4):
            raise KvmError(f"corrupt str at {addr:#x}")
        if state >> L["str_compact_shift"] & 1:
            data = addr + (L["str_ascii_data"] if state >> L["str_ascii_shift"] & 1
                           else L["str_compact_data"])
        else:
            data = self.u64(addr + L["str_data_ptr"])
        raw = self.read(data, length * width) if length else b""
        codec = {1: "latin-1", 2: "utf-16-le", 4: "utf-32-le"}[width]
        try:
            return raw.decode(codec, "surrogatepass")
        except UnicodeDecodeError:
            raise KvmError(f"corrupt str at {addr:#x}") from None

    def bytes_(self, addr):
        self._expect(addr, "bytes")
        n = self.i64(addr + self.L["ob_size"])
        if not 0 <= n <= MAX_STR:
            raise KvmError(f"corrupt bytes at {addr:#x}")
        return self.read(addr + self.L["bytes_sval"], n) if n else b""

    # -- containers ------------------------------------------------------------------------
    def _count(self, addr, what):
        n = self.i64(addr + self.L["ob_size"])
        if not 0 <= n <= MAX_ITEMS:
            raise KvmError(f"corrupt {what} at {addr:#x}")
        return n

    def tuple_items(self, addr):
        self._expect(addr, "tuple")
        return list(self.words(addr + self.L["tuple_items"], self._count(addr, "tuple")))

    def list_items(self, addr):
        self._expect(addr, "list")
        n = self._count(addr, "list")
        return list(self.words(self.u64(addr + self.L["list_items"]), n)) if n else []

    def deque_items(self, addr):
        """A collections.deque: blocks of BLOCKLEN pointers, linked rightwards."""
        L = self.L
        self._expect(addr, "deque")
        n = self._count(addr, "deque")
        block = self.u64(addr + L["deque_leftblock"])
        index = self.i64(addr + L["deque_leftindex"])
        out = []
        while len(out) < n:
            take = min(n - len(out), L["deque_blocklen"] - index)
            out += self.words(block + L["deque_data"] + 8 * index, take)
            block, index = self.u64(block + L["deque_rightlink"]), 0
        return out

    def dict_items(self, addr):
        """[(key address, value address)] of a dict, in its entry order."""
        self._expect(addr, "dict")
        keys = self.u64(addr + self.L["dict_keys"])
        values = self.u64(addr + self.L["dict_values"])
        return self.keys_items(keys, values)

    def keys_items(self, keys, values=0):
        """The live entries of a PyDictKeysObject; with `values`, the values
        come from that split-table array (a split dict, or an instance's
        inline values) instead of the entries."""
        L = self.L
        hdr = self.read(keys, L["dk_indices"])
        log2_index_bytes, kind = hdr[L["dk_log2_index_bytes"]], hdr[L["dk_kind"]]
        n = _q.unpack_from(hdr, L["dk_nentries"])[0]
        if not 0 <= n <= MAX_ITEMS or log2_index_bytes > 32 or kind > 2:
            raise KvmError(f"corrupt dict keys at {keys:#x}")
        if kind == L["dk_kind_general"]:
            size, koff, voff = L["dk_entry_size"], L["dk_entry_key"], L["dk_entry_value"]
        else:
            size, koff, voff = L["dk_uentry_size"], L["dk_uentry_key"], L["dk_uentry_value"]
        entries = keys + L["dk_indices"] + (1 << log2_index_bytes)
        raw = self.read(entries, n * size) if n else b""
        vals = self.words(values, n) if values else None
        out = []
        for i in range(n):
            k = _Q.unpack_from(raw, i * size + koff)[0]
            v = vals[i] if vals is not None else _Q.unpack_from(raw, i * size + voff)[0]
            if k and v:
                out.append((k, v))
        return out

    def dict_get_str(self, addr, name):
        """The value address for the str key `name` of a dict, or None."""
        for k, v in self.dict_items(addr):
            if self.kind(k) == "str" and self.str_(k) == name:
                return v
        return None

    # -- instances -------------------------------------------------------------------------
    def attrs(self, addr):
        """{attribute name: value address} of an instance: its __slots__ and
        its __dict__ (managed, inline values, or at tp_dictoffset)."""
        L = self.L
        t = self.ob_type(addr)
        out = {}
        for name, off in self.slots.get(t, {}).items():
            v = self.u64(addr + off)
            if v:
                out[name] = v
        flags = self.u64(t + L["tp_flags"])
        if flags & L["tpflags_managed_dict"]:
            d = self.u64(addr + L["managed_dict"])
            if d:
                items = self.dict_items(d)
            else:
                vals = self.u64(addr + L["managed_values"])
                items = self.keys_items(self.u64(t + L["ht_cached_keys"]), vals) if vals else []
        else:
            off = self.i64(t + L["tp_dictoffset"])
            d = self.u64(addr + off) if off > 0 else 0
            items = self.dict_items(d) if d else []
        for k, v in items:
            out[self.str_(k)] = v
        return out

    # -- decoding --------------------------------------------------------------------------
    def value(self, addr, depth=1):
        """The object at addr as a local value: scalars and (to `depth`
        levels) containers are decoded; anything else is a Ref."""
        kind = self.kind(addr)
        if kind == "NoneType":
            return None
        if kind == "bool":
            return addr == self.true
        scalar = {"int": self.int_, "float": self.float_, "str": self.str_, "bytes": self.bytes_}
        if kind in scalar:
            return scalar[kind](addr)
        if depth > 0 and kind in ("tuple", "list", "deque"):
            items = {"tuple": self.tuple_items, "list": self.list_items,
                     "deque": self.deque_items}[kind](addr)
            seq = [self.value(a, depth - 1) for a in items]
            return tuple(seq) if kind == "tuple" else seq
        if depth > 0 and kind == "dict":
            return {self.value(k, depth): self.value(v, depth - 1)
                    for k, v in self.dict_items(addr)}
        return Ref(addr, kind or self._tname(addr))
