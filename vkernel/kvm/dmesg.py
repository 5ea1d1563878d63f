"""vkernel dmesg: a vkernel's message buffer, read from its memory (DragonFly
sbin/dmesg, which reads `_msgbufp` through kvm when given -M/-N).

    python3 -m vkernel dmesg [-M core] [-N system]

The message buffer is msgbuf.py's ring, a collections.deque of lines
("[    1.234567] text\\n"), found by the namelist symbol `msgbuf`.  -M and
-N mean what they mean for ps (kvm_openfiles); after a panic, the dump's
message buffer ends with what the kernel said last.
"""
import getopt
import sys

from .kvm import KvmError, kvm_close, kvm_openfiles
from .kvm_nlist import NlistError, kvm_nlist
from .kvm_pyobj import PyMem

USAGE = "usage: dmesg [-M core] [-N system]\n"


def kvm_msgbuf(kd):
    """The message buffer's lines, oldest first."""
    addr = kvm_nlist(kd, ["msgbuf"])["msgbuf"]
    m = PyMem(kd)
    return [m.str_(a) for a in m.deque_items(addr)]


def main(argv):
    try:
        opts, rest = getopt.getopt(argv, "M:N:")
        if rest:
            raise getopt.GetoptError(f"extra arguments: {' '.join(rest)}")
    except getopt.GetoptError as e:
        sys.stderr.write(f"dmesg: {e}\n{USAGE}")
        return 1
    o = dict(opts)
    try:
        kd = kvm_openfiles(o.get("-N"), o.get("-M"))
    except (KvmError, NlistError) as e:
        print(f"dmesg: {e}", file=sys.stderr)
        return 1
    try:
        text = "".join(kvm_msgbuf(kd))
    except KvmError as e:
        print(f"dmesg: {e}", file=sys.stderr)
        return 1
    finally:
        kvm_close(kd)
    sys.stdout.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    return 0
