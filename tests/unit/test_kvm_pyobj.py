"""kvm's CPython 3.11 readers against this test process's own memory
(/proc/self/mem): every object kind the kernel's structures are made of,
decoded only from the layout the namelist records (vkernel/kvm)."""
import collections
import json
import os
import sys
import types

import pytest

from vkernel.kernel.vm_map import Entry
from vkernel.kvm import kvm, kvm_layout, kvm_nlist
from vkernel.kvm.kvm import KvmError
from vkernel.kvm.kvm_pyobj import PyMem, Ref


@pytest.fixture(scope="module")
def nlist():
    """This process's namelist, through JSON as a reader gets it."""
    return kvm_nlist.parse_namelist(json.dumps(kvm_nlist.namelist()))


@pytest.fixture
def mem(nlist):
    kd = kvm.Kvm(kvm.LiveMemory(f"/proc/{os.getpid()}/mem"), nlist, "self", "self")
    yield PyMem(kd)
    kvm.kvm_close(kd)


class Plain:
    def __init__(self):
        self.a = 1
        self.b = "h\xe9llo"
        self.c = [1, 2.5, None, True]


class Wide:
    """More attributes than 3.11's shared keys hold (30): a real dict."""

    def __init__(self):
        for i in range(40):
            setattr(self, f"x{i}", i)


SCALARS = [0, 1, -1, 255, 256, 2**30, 2**100, -(2**70), 3.25, -0.0, float("inf"), "", "abc",
           "\xe9" * 3, "\u0100x", "\U0001F600", "\udcff", "a" * 5000, b"", b"xyz",
           None, True, False]


@pytest.mark.parametrize("obj", SCALARS, ids=repr)
def test_scalars(mem, obj):
    assert mem.value(id(obj)) == obj
    assert type(mem.value(id(obj))) is type(obj)


def test_containers(mem):
    d = {1: "one", "two": 2, (3,): b"three", None: [1]}
    del d["two"]
    for obj in [(1, "a"), (), [1, [2, (3,)]], [], d, {}]:
        assert mem.value(id(obj), depth=3) == obj


def test_deque_across_blocks(mem):
    dq = collections.deque(range(10))
    dq.extendleft(range(-1, -100, -1))          # starts mid-block, spans three blocks
    dq.extend(range(10, 200))
    assert mem.value(id(dq)) == list(dq)


def test_instance_with_inline_values(mem):
    o = Plain()
    attrs = mem.attrs(id(o))
    assert {k: mem.value(v, 2) for k, v in attrs.items()} == vars(o)


def test_instance_with_a_materialised_dict(mem):
    o = Plain()
    o.__dict__["d"] = 4                         # the managed dict now exists
    assert {k: mem.value(v, 2) for k, v in mem.attrs(id(o)).items()} == vars(o)


def test_instance_with_too_many_attributes(mem):
    o = Wide()
    assert {k: mem.value(v) for k, v in mem.attrs(id(o)).items()} == vars(o)


def test_instance_with_a_dict_at_tp_dictoffset(mem):
    o = types.SimpleNamespace(tgid=1234, name="x")
    assert {k: mem.value(v) for k, v in mem.attrs(id(o)).items()} == {"tgid": 1234, "name": "x"}


def test_instance_with_slots(mem):
    e = Entry(0x1000, 0x3000, 5, 2, "[stack]", 7)
    got = {k: mem.value(v) for k, v in mem.attrs(id(e)).items()}
    assert got == {"start": 0x1000, "end": 0x3000, "prot": 5, "flags": 2, "name": "[stack]",
                   "offset": 7, "obj": None}


def test_other_objects_are_refs_with_their_type_name(mem):
    e = Entry(0, 1, 0, 0)
    ref = mem.value(id(e))
    assert ref == Ref(id(e), "Entry") and repr(ref) == f"<Entry at {id(e):#x}>"
    assert mem.value(id([e]), depth=0).tname == "list"
    assert mem.type_name(id(int)) == "int"
    assert mem.type_name(mem.ob_type(id(int))) == "type"


def test_wrong_kind_and_bad_addresses_are_kvm_errors(mem):
    with pytest.raises(KvmError, match="corrupt int"):
        mem.int_(id("not an int"))
    with pytest.raises(KvmError, match=r"invalid address \(0x0\)"):
        mem.u64(0)
    with pytest.raises(KvmError, match="invalid address"):
        mem.u64(0x10)


def test_dict_lookup_by_str_key(mem):
    d = {"allproc": 1, 2: "x"}
    assert mem.value(mem.dict_get_str(id(d), "allproc")) == 1
    assert mem.dict_get_str(id(d), "missing") is None


def test_layout_matches_the_interpreter():
    off = kvm_layout.probe()
    assert off["long_digits"] == int.__basicsize__
    assert off["managed_dict"] == -3 * 8 and off["managed_values"] == -4 * 8
    assert off["str_ascii_data"] + 1 == sys.getsizeof("")


def test_slot_offsets_found_for_the_kernels_slotted_classes(nlist):
    assert nlist["slots"][id(Entry)] == kvm_layout.slot_offsets(Entry)
    assert set(nlist["slots"][id(Entry)]) == set(Entry.__slots__)
