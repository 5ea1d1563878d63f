"""Every registered handler, called on the fake platform with hostile
arguments, answers with a value, an errno, a sleep or an exit -- never a
Python exception out of the kernel ("we don't trust user code")."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fakekernel import GONE, SLEEPING, FakeKernel, Halt, call  # noqa: E402

from vkernel.abi.linux import process as PR  # noqa: E402
from vkernel.abi.linux.syscalls import NR  # noqa: E402
from vkernel.syscalls.table import sysent  # noqa: E402

ARGS = {"zeros": 0, "unmapped": 0xDEAD0000, "minus-one": -1, "ones": 1,
        "kernel-half": 0xFFFF800000000000, "unaligned": 0x10000003}


@pytest.mark.parametrize("pattern", sorted(ARGS))
def test_no_handler_raises_on_hostile_arguments(pattern):
    failures = []
    for nr, ent in sorted(sysent.items()):
        k = FakeKernel()
        try:
            r = call(k.td, nr, *[ARGS[pattern]] * len(ent.args))
            assert isinstance(r, int) or r in (SLEEPING, GONE), r
        except Halt:
            pass
        except Exception as e:        # the finding: a kernel exception
            failures.append(f"{ent.name}: {type(e).__name__}: {e}")
        finally:
            k.shutdown()
    assert not failures


def test_reboot_kills_everything_and_halts():
    k = FakeKernel()
    try:
        child = k.fork()
        with pytest.raises(Halt) as h:
            call(k.td, NR.reboot, PR.LINUX_REBOOT_MAGIC1, PR.LINUX_REBOOT_MAGIC2,
                 PR.LINUX_REBOOT_CMD_RESTART, 0)
        assert h.value.status == 32 and k.howto == "reboot"
        assert child.lwp_proc.p_stat == "SZOMB" and not child.host.space.threads
    finally:
        k.shutdown()
