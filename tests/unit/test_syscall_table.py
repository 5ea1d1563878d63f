"""The syscall table (vkernel/syscalls/table.py) is well formed: every
registration names its number through the NR enum (or VKNR for ktrace and
utrace), no number is registered twice, every handler is documented as
"Implements ..." and takes exactly the arguments its spec decodes."""
import ast
import inspect
import os

import pytest

import vkernel.syscalls.linux64  # noqa: F401  (registers every handler)
from vkernel.abi.linux.syscalls import NR
from vkernel.abi.vkernel.syscalls import VKNR
from vkernel.syscalls import table
from vkernel.syscalls.table import sysent

LINUX64 = os.path.dirname(vkernel.syscalls.linux64.__file__)
ENUMS = {"NR": NR, "VKNR": VKNR}
LEVELS = (table.SUPPORTED, table.PARTIAL, "unsupported")   # the compatibility document's


def registrations():
    """(module file, line, enum name, member name) of every syscall(...) call."""
    out = []
    for fn in sorted(os.listdir(LINUX64)):
        if not fn.endswith(".py"):
            continue
        tree = ast.parse(open(os.path.join(LINUX64, fn)).read(), fn)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "syscall":
                first = node.args[0] if node.args else None
                enum = getattr(getattr(first, "value", None), "id", None)
                out.append((fn, node.lineno, enum, getattr(first, "attr", None)))
    return out


def test_every_number_comes_from_the_enums():
    regs = registrations()
    assert len(regs) == len(sysent)                      # each call site is one entry
    for fn, line, enum, member in regs:
        assert enum in ENUMS and member, f"{fn}:{line}: number not written as NR.name"
        nr = int(getattr(ENUMS[enum], member))
        assert nr in sysent and sysent[nr].name == member, f"{fn}:{line}: {member}"


def test_no_number_is_registered_twice():
    numbers = [int(getattr(ENUMS[e], m)) for _, _, e, m in registrations()]
    assert len(numbers) == len(set(numbers))
    before = dict(sysent)
    with pytest.raises(ValueError, match="registered twice"):
        table.syscall(NR.getpid)(lambda td: 0)
    assert sysent == before


@pytest.mark.parametrize("nr", sorted(sysent), ids=lambda nr: sysent[nr].name)
def test_handler_is_documented_and_its_arity_matches_the_spec(nr):
    ent = sysent[nr]
    doc = inspect.getdoc(ent.handler) or ""
    assert doc.startswith("Implements"), f"{ent.name}: docstring {doc[:40]!r}"
    params = list(inspect.signature(ent.handler).parameters.values())
    assert params and params[0].name == "td", f"{ent.name}: first parameter is not td"
    assert all(p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in params)
    assert len(params) - 1 == len(ent.args), f"{ent.name}: {len(params) - 1} != spec"
    assert all(isinstance(a, table.ArgKind) for a in ent.args)
    assert ent.level in LEVELS, f"{ent.name}: support level {ent.level!r}"
