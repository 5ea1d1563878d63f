"""Tiny helper for describing C struct layouts (no Linux header of its own).

A `Layout` is an ordered list of (field name, struct format) pairs laid out
little-endian with *no* implicit padding ('<'), so every pad byte the C
compiler would insert is written out explicitly as a field whose name starts
with "_" and whose format is "Nx".  That keeps the Python description and the
C declaration visibly the same, and lets the tests compare every offset with
offsetof() from a compiled C program.

Each Layout exposes:
    .struct   the struct.Struct ('<' + formats)
    .size     sizeof(struct)
    .offsets  {field: byte offset}, pad fields included
    .names    the value-carrying fields, in order
    .tuple    a namedtuple class over .names
    .pack(**fields)            -> bytes (missing fields are 0 / b"")
    .pack_into(buf, off, **fields)
    .unpack(buf, offset=0)     -> namedtuple

This is part of vkernel.abi.linux, which is data only; this module imports
nothing from vkernel.
"""
import struct
from collections import namedtuple


def _is_pad(fmt):
    return fmt.endswith("x")


def _default(fmt):
    return b"" if fmt.endswith("s") else 0


def _offsets(fields):
    offsets, fmt = {}, "<"
    for name, f in fields:
        offsets[name] = struct.calcsize(fmt)
        fmt += f
    return offsets


class Layout:
    """An explicitly padded little-endian C struct layout."""

    def __init__(self, name, fields):
        self.name = name
        self.fields = tuple(fields)
        self.struct = struct.Struct("<" + "".join(f for _, f in self.fields))
        self.size = self.struct.size
        self.offsets = _offsets(self.fields)
        self.names = tuple(n for n, f in self.fields if not _is_pad(f))
        self.tuple = namedtuple(name, self.names)
        self._defaults = {n: _default(f) for n, f in self.fields if not _is_pad(f)}

    def _values(self, fields):
        unknown = set(fields) - self._defaults.keys()
        if unknown:
            raise TypeError(f"{self.name}: unknown field(s) {sorted(unknown)}")
        return [fields.get(n, d) for n, d in self._defaults.items()]

    def pack(self, **fields):
        """Pack keyword fields (others default to zero) into bytes."""
        return self.struct.pack(*self._values(fields))

    def pack_into(self, buf, offset, **fields):
        """Pack keyword fields into a writable buffer at offset."""
        self.struct.pack_into(buf, offset, *self._values(fields))

    def unpack(self, buf, offset=0):
        """Unpack a namedtuple from buf at offset."""
        return self.tuple._make(self.struct.unpack_from(buf, offset))

    def __repr__(self):
        return f"<Layout {self.name} size={self.size}>"
