"""x/ and search on fake guest memory, and x/i on kernel bytecode."""
import struct

import pytest

from ddbfake import machine_fixture, make_proc
from test_ddb_command import out_after
from vkernel.ddb.db_output import expand

machine = machine_fixture()

BASE = 0x400000
MEMORY = {BASE: (b"hello, world\0bye\0"
                 + struct.pack("<QQ", 0x1122334455667788, 0xFFFFFFFFFFFFFFFF)
                 + b"\x55\x48\x89\xe5\x0f\x05\xc3" + bytes(7))}
WORDS = BASE + 17
CODE = BASE + 33


@pytest.fixture
def td(machine):
    return make_proc(692, "t_aio", memory=MEMORY)[1]


def test_strings_and_characters(machine, td):
    text, _ = machine.ddb(f"x/s {BASE:#x}", "", f"x/c {BASE:#x},5", "c", td=td)
    assert out_after(text, f"x/s {BASE:#x}") == expand("0x400000:\thello, world\n")
    assert out_after(text, "") == expand("0x40000d:\tbye\n")     # an empty line goes on
    assert out_after(text, f"x/c {BASE:#x},5") == expand("0x400000:\thello\n")


def test_sizes_and_number_formats(machine, td):
    text, _ = machine.ddb(f"x/gx {WORDS:#x},2", f"x/bx {BASE:#x},4", f"x/hd {WORDS + 8:#x}",
                          f"x/lu {WORDS + 8:#x}", f"x/bo {BASE:#x}", f"x/2gz {WORDS:#x}",
                          "c", td=td)
    assert out_after(text, f"x/gx {WORDS:#x},2") == expand(
        "0x400011:\t1122334455667788" + " " * 16 + "ffffffffffffffff\n")
    assert out_after(text, f"x/bx {BASE:#x},4") == expand("0x400000:\t68  65  6c  6c\n")
    assert out_after(text, f"x/hd {WORDS + 8:#x}") == expand("0x400019:\t-1\n")
    assert out_after(text, f"x/lu {WORDS + 8:#x}") == expand("0x400019:\t4294967295\n")
    assert out_after(text, f"x/bo {BASE:#x}") == expand("0x400000:\t150\n")
    assert out_after(text, f"x/2gz {WORDS:#x}") == expand(
        "0x400011:\t1122334455667788" + " " * 16 + "-1\n")


def test_lines_wrap_at_maxwidth(machine, td):
    text, _ = machine.ddb(f"x/bx {BASE:#x},17", "c", td=td)
    lines = out_after(text, f"x/bx {BASE:#x},17").splitlines()
    assert len(lines) == 2 and all(len(line) <= 79 for line in lines)
    assert lines[1].startswith("0x400010:")


def test_instructions_with_capstone(machine, td):
    text, _ = machine.ddb(f"x/3i {CODE:#x}", "c", td=td)
    assert out_after(text, f"x/3i {CODE:#x}") == expand(
        "0x400021:\tpushq\t%rbp\n0x400022:\tmovq\t%rsp, %rbp\n0x400025:\tsyscall\n")


def test_bad_addresses_and_modifiers(machine, td):
    text, action = machine.ddb("x/s 0x1000", "x/q 0x1000", f"x/gx {BASE + 44:#x}", "c", td=td)
    assert out_after(text, "x/s 0x1000") == expand("0x1000:\tCannot access memory at address 0x1000\n")
    assert out_after(text, "x/q 0x1000") == "Bad modifier\n"
    assert "Cannot access memory at address 0x40002c" in text
    assert action == "continue"


def test_examine_kernel_bytecode(machine, td):
    from vkernel.kernel import kern_proc
    code = kern_proc.pfind.__code__
    text, _ = machine.ddb("x/2i pfind", "c", td=td)
    lines = out_after(text, "x/2i pfind").splitlines()
    assert lines[0] == expand("pfind:\tRESUME\t0")
    assert lines[1].startswith("pfind+0x2:")
    assert id(code) > 0


def test_search(machine, td):
    text, _ = machine.ddb(f"search/b {BASE:#x} 0x2c", f"search/g {BASE:#x} 0x1122334455667788",
                          f"search/b {BASE:#x} 0x7a", f"search/b {BASE:#x} 0x60 0xf0,3",
                          f"search {BASE:#x}", "c", td=td)
    assert out_after(text, f"search/b {BASE:#x} 0x2c") == "0x400005\n"
    assert out_after(text, f"search/g {BASE:#x} 0x1122334455667788") == "Not found\n"  # unaligned
    assert out_after(text, f"search/b {BASE:#x} 0x7a") == "Not found\n"
    assert out_after(text, f"search/b {BASE:#x} 0x60 0xf0,3") == "0x400000\n"
    assert out_after(text, f"search {BASE:#x}") == "Value missing\n"
