"""CPython 3.11 object layouts on x86-64, as the kvm reader needs them.

The counterpart of the struct definitions libkvm compiles in from
<sys/proc.h>: here the "kernel structures" are CPython's, so this file
declares the 3.11 headers' structs with ctypes (Include/object.h,
cpython/longintrepr.h, floatobject.h, cpython/bytesobject.h,
cpython/tupleobject.h, cpython/listobject.h, cpython/dictobject.h +
Objects/dict-common.h, cpython/unicodeobject.h,
Modules/_collectionsmodule.c's deque, internal/pycore_gc.h and
pycore_object.h's managed-dict pre-header) and lets ctypes compute every
offset and size, so nothing is a typed-in number.

`probe()` runs in the kernel (kvm_nlist calls it at boot): it takes these
offsets, checks the sizes against the running interpreter
(sys.getsizeof, __basicsize__), finds the offsets the headers do not fix
(where in a type object tp_basicsize, tp_flags, tp_dictoffset, tp_name
and a heap type's ht_cached_keys are; where the managed __dict__ and
values pointers sit before an object; the __slots__ of the kernel's
slotted classes) by looking for known values in live objects with
ctypes.string_at, and returns one flat dict that goes into the namelist.
A reader uses only that dict, never ctypes or its own interpreter.
"""
import ctypes
import struct
import sys
from ctypes import c_char, c_double, c_size_t, c_ssize_t, c_uint, c_uint8, c_uint32, c_uint64
from ctypes import c_void_p, sizeof

WORD = 8
BLOCKLEN = 64                 # _collectionsmodule.c: objects per deque block
MAXFREEBLOCKS = 16
Py_TPFLAGS_MANAGED_DICT = 1 << 4
DICT_KEYS_GENERAL, DICT_KEYS_UNICODE, DICT_KEYS_SPLIT = 0, 1, 2
PyLong_SHIFT = 30


class LayoutError(Exception):
    """The running interpreter does not have the layout this reader knows."""


class PyObject(ctypes.Structure):
    _fields_ = [("ob_refcnt", c_ssize_t), ("ob_type", c_void_p)]


class PyVarObject(ctypes.Structure):
    _fields_ = [("ob_base", PyObject), ("ob_size", c_ssize_t)]


class PyGC_Head(ctypes.Structure):
    _fields_ = [("_gc_next", c_size_t), ("_gc_prev", c_size_t)]


class PyLongObject(ctypes.Structure):
    _fields_ = [("ob_base", PyVarObject), ("ob_digit", c_uint32 * 1)]


class PyFloatObject(ctypes.Structure):
    _fields_ = [("ob_base", PyObject), ("ob_fval", c_double)]


class PyBytesObject(ctypes.Structure):
    _fields_ = [("ob_base", PyVarObject), ("ob_shash", c_ssize_t), ("ob_sval", c_char * 1)]


class PyTupleObject(ctypes.Structure):
    _fields_ = [("ob_base", PyVarObject), ("ob_item", c_void_p * 1)]


class PyListObject(ctypes.Structure):
    _fields_ = [("ob_base", PyVarObject), ("ob_item", c_void_p), ("allocated", c_ssize_t)]


class PyDictObject(ctypes.Structure):
    _fields_ = [("ob_base", PyObject), ("ma_used", c_ssize_t), ("ma_version_tag", c_uint64),
                ("ma_keys", c_void_p), ("ma_values", c_void_p)]


class PyDictKeysObject(ctypes.Structure):
    """dict-common.h; dk_indices[] starts at sizeof(), the entries after them."""
    _fields_ = [("dk_refcnt", c_ssize_t), ("dk_log2_size", c_uint8),
                ("dk_log2_index_bytes", c_uint8), ("dk_kind", c_uint8),
                ("dk_version", c_uint32), ("dk_usable", c_ssize_t), ("dk_nentries", c_ssize_t)]


class PyDictKeyEntry(ctypes.Structure):
    _fields_ = [("me_hash", c_ssize_t), ("me_key", c_void_p), ("me_value", c_void_p)]


class PyDictUnicodeEntry(ctypes.Structure):
    _fields_ = [("me_key", c_void_p), ("me_value", c_void_p)]


class UnicodeState(ctypes.Structure):
    _fields_ = [("interned", c_uint, 2), ("kind", c_uint, 3), ("compact", c_uint, 1),
                ("ascii", c_uint, 1), ("ready", c_uint, 1), ("_pad", c_uint, 24)]


class PyASCIIObject(ctypes.Structure):
    _fields_ = [("ob_base", PyObject), ("length", c_ssize_t), ("hash", c_ssize_t),
                ("state", UnicodeState), ("wstr", c_void_p)]


class PyCompactUnicodeObject(ctypes.Structure):
    _fields_ = [("_base", PyASCIIObject), ("utf8_length", c_ssize_t), ("utf8", c_void_p),
                ("wstr_length", c_ssize_t)]


class PyUnicodeObject(ctypes.Structure):
    _fields_ = [("_base", PyCompactUnicodeObject), ("data", c_void_p)]


class DequeBlock(ctypes.Structure):
    _fields_ = [("leftlink", c_void_p), ("data", c_void_p * BLOCKLEN), ("rightlink", c_void_p)]


class DequeObject(ctypes.Structure):
    _fields_ = [("ob_base", PyVarObject), ("leftblock", c_void_p), ("rightblock", c_void_p),
                ("leftindex", c_ssize_t), ("rightindex", c_ssize_t), ("state", c_size_t),
                ("maxlen", c_ssize_t), ("numfreeblocks", c_ssize_t),
                ("freeblocks", c_void_p * MAXFREEBLOCKS), ("weakreflist", c_void_p)]


def _off(struct_, field):
    return getattr(struct_, field).offset


def _bits(struct_, field):
    """(shift, width) of a ctypes bit field (its .size packs width<<16 | shift)."""
    size = getattr(struct_, field).size
    return size & 0xFFFF, size >> 16


def header_offsets():
    """Every offset and size the headers fix, computed by ctypes."""
    kind, ascii_, compact = (_bits(UnicodeState, f) for f in ("kind", "ascii", "compact"))
    return {
        "ob_refcnt": _off(PyObject, "ob_refcnt"), "ob_type": _off(PyObject, "ob_type"),
        "ob_size": _off(PyVarObject, "ob_size"), "gc_head_size": sizeof(PyGC_Head),
        "long_digits": _off(PyLongObject, "ob_digit"), "long_shift": PyLong_SHIFT,
        "float_fval": _off(PyFloatObject, "ob_fval"),
        "bytes_sval": _off(PyBytesObject, "ob_sval"),
        "tuple_items": _off(PyTupleObject, "ob_item"),
        "list_items": _off(PyListObject, "ob_item"),
        "dict_used": _off(PyDictObject, "ma_used"), "dict_keys": _off(PyDictObject, "ma_keys"),
        "dict_values": _off(PyDictObject, "ma_values"),
        "dk_log2_index_bytes": _off(PyDictKeysObject, "dk_log2_index_bytes"),
        "dk_kind": _off(PyDictKeysObject, "dk_kind"),
        "dk_nentries": _off(PyDictKeysObject, "dk_nentries"),
        "dk_indices": sizeof(PyDictKeysObject),
        "dk_entry_size": sizeof(PyDictKeyEntry),
        "dk_entry_key": _off(PyDictKeyEntry, "me_key"),
        "dk_entry_value": _off(PyDictKeyEntry, "me_value"),
        "dk_uentry_size": sizeof(PyDictUnicodeEntry),
        "dk_uentry_key": _off(PyDictUnicodeEntry, "me_key"),
        "dk_uentry_value": _off(PyDictUnicodeEntry, "me_value"),
        "dk_kind_general": DICT_KEYS_GENERAL, "dk_kind_unicode": DICT_KEYS_UNICODE,
        "dk_kind_split": DICT_KEYS_SPLIT,
        "str_length": _off(PyASCIIObject, "length"), "str_state": _off(PyASCIIObject, "state"),
        "str_kind_shift": kind[0], "str_kind_bits": kind[1],
        "str_ascii_shift": ascii_[0], "str_compact_shift": compact[0],
        "str_ascii_data": sizeof(PyASCIIObject),
        "str_compact_data": sizeof(PyCompactUnicodeObject),
        "str_data_ptr": _off(PyUnicodeObject, "data"),
        "deque_leftblock": _off(DequeObject, "leftblock"),
        "deque_leftindex": _off(DequeObject, "leftindex"),
        "deque_data": _off(DequeBlock, "data"), "deque_rightlink": _off(DequeBlock, "rightlink"),
        "deque_blocklen": BLOCKLEN,
        "tpflags_managed_dict": Py_TPFLAGS_MANAGED_DICT,
    }


def check_sizes(off):
    """The ctypes sizes must be the running interpreter's; LayoutError if not."""
    import collections
    checks = [
        ("int header", off["long_digits"], int.__basicsize__),
        ("float", sizeof(PyFloatObject), float.__basicsize__),
        ("bytes", off["bytes_sval"] + 1, bytes.__basicsize__),
        ("tuple header", off["tuple_items"], tuple.__basicsize__),
        ("list", sizeof(PyListObject), list.__basicsize__),
        ("dict", sizeof(PyDictObject), dict.__basicsize__),
        ("ascii str", off["str_ascii_data"] + 1, sys.getsizeof("")),
        ("compact str", off["str_compact_data"] + 2, sys.getsizeof("\xe9")),
        ("deque", sizeof(DequeObject), collections.deque.__basicsize__),
        ("gc pre-header", sizeof(PyGC_Head), sys.getsizeof([]) - list.__basicsize__),
        ("digit", 4, int.__itemsize__),
    ]
    for what, ours, theirs in checks:
        if ours != theirs:
            raise LayoutError(f"{what}: layout says {ours} bytes, Python {sys.version.split()[0]}"
                              f" has {theirs}")


# -- offsets found in live objects ----------------------------------------------------------
def _words(addr, n):
    """n machine words of our own memory at addr (a live object's)."""
    data = ctypes.string_at(addr, n * WORD)
    return struct.unpack(f"<{n}Q", data)


def _find_word(addr, nwords, value):
    hits = [i * WORD for i, w in enumerate(_words(addr, nwords)) if w == value]
    return hits


def _type_field(attr, types):
    """The offset in a type object that holds `attr` (e.g. __basicsize__) for
    every one of `types`: the common offset of the word equal to it."""
    n = type.__basicsize__ // WORD
    common = None
    for t in types:
        hits = set(_find_word(id(t), n, getattr(t, attr) & (2**64 - 1)))
        common = hits if common is None else common & hits
    if not common or len(common) != 1:
        raise LayoutError(f"cannot find {attr} in type objects ({sorted(common or ())})")
    return common.pop()


class _ProbeSlots:
    __slots__ = ("a", "b")


def type_offsets():
    """tp_basicsize, tp_flags, tp_dictoffset, tp_name and ht_cached_keys."""
    class KvmProbeType:
        def __init__(self):
            self.x = 1
    samples = (int, str, dict, KvmProbeType, _ProbeSlots, OSError, list)
    out = {"tp_basicsize": _type_field("__basicsize__", samples),
           "tp_itemsize": _type_field("__itemsize__", samples),
           "tp_flags": _type_field("__flags__", samples),
           "tp_dictoffset": _type_field("__dictoffset__", (OSError, KeyError, _ProbeSlots))}
    # tp_name is the char * before tp_basicsize (PyObject_VAR_HEAD, tp_name, tp_basicsize)
    out["tp_name"] = out["tp_basicsize"] - WORD
    name_ptr = _words(id(int) + out["tp_name"], 1)[0]
    if ctypes.string_at(name_ptr) != b"int":
        raise LayoutError("tp_name is not where the header puts it")
    qual = _find_word(id(KvmProbeType), type.__basicsize__ // WORD, id(KvmProbeType.__qualname__))
    name = _find_word(id(KvmProbeType), type.__basicsize__ // WORD, id(KvmProbeType.__name__))
    # PyHeapTypeObject: ... ht_name, ht_slots, ht_qualname, ht_cached_keys, ht_module
    pairs = [q for q in qual if q - 2 * WORD in name]
    if len(pairs) != 1:
        raise LayoutError("cannot find ht_qualname in a heap type")
    out["ht_cached_keys"] = pairs[0] + WORD
    return out


def managed_dict_offsets():
    """Where 3.11 keeps a managed __dict__ (and its inline values) before the
    object: found by materialising a probe's __dict__ and looking for it."""
    class KvmProbeDict:
        pass
    obj = KvmProbeDict()
    obj.x = 1
    d = obj.__dict__
    before = _words(id(obj) - 6 * WORD, 6)
    hits = [(i - 6) * WORD for i, w in enumerate(before) if w == id(d)]
    if len(hits) != 1:
        raise LayoutError("cannot find the managed __dict__ pointer")
    # pycore_object.h: values pointer at obj-4 words, dict pointer at obj-3 words
    return {"managed_dict": hits[0], "managed_values": hits[0] - WORD}


def slot_offsets(cls):
    """{slot name: offset} of a class with __slots__, found with sentinels."""
    names = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    names = [n for n in names if n not in ("__dict__", "__weakref__")]
    if not names:
        return {}
    obj = object.__new__(cls)
    sentinels = [object() for _ in names]
    for name, s in zip(names, sentinels):
        object.__setattr__(obj, name, s)
    nwords = cls.__basicsize__ // WORD
    out = {}
    for name, s in zip(names, sentinels):
        hits = _find_word(id(obj), nwords, id(s))
        if len(hits) != 1:
            raise LayoutError(f"cannot find slot {cls.__name__}.{name}")
        out[name] = hits[0]
    return out


def probe():
    """The whole layout of the running interpreter, for the namelist."""
    if sys.version_info[:2] != (3, 11) or sys.maxsize != 2**63 - 1 or sys.byteorder != "little":
        raise LayoutError(f"kvm knows CPython 3.11 on 64-bit little-endian hosts, not "
                          f"{sys.version.split()[0]} ({sys.byteorder}, maxsize {sys.maxsize:#x})")
    off = header_offsets()
    check_sizes(off)
    off.update(type_offsets())
    off.update(managed_dict_offsets())
    return off
