"""The sysctl tree (BSD kern_sysctl.c): named kernel variables.

Subsystems register their own nodes next to their code:

    sysctl_int("debug.ktrace_clear_bug", 0, "bring back the 2009 ktrace -c NULL deref")
    sysctl_proc("kern.hostname", getter, setter)

Names are dotted (kern.ostype); values are int or str.  The guest reads and
writes them through /proc/sys (procfs maps kern.hostname to
/proc/sys/kern/hostname) and ddb's `show sysctl`; writes need uid 0 unless
the node says otherwise.
"""
from vkernel.abi.linux import errno as E

from .errors import KernelError

CTLFLAG_RD, CTLFLAG_WR, CTLFLAG_ANYBODY = 1, 2, 4
CTLFLAG_RW = CTLFLAG_RD | CTLFLAG_WR


class Oid:
    """One sysctl node (struct sysctl_oid)."""

    def __init__(self, name, get, set_, kind, flags, descr):
        self.name, self.get, self.set, self.kind = name, get, set_, kind
        self.flags, self.descr = flags, descr


_tree = {}


def sysctl_proc(name, get, set_=None, kind=int, flags=None, descr=""):
    """Register a node served by functions get() and set_(value)."""
    if flags is None:
        flags = CTLFLAG_RW if set_ else CTLFLAG_RD
    _tree[name] = Oid(name, get, set_, kind, flags, descr)
    return _tree[name]


class _Cell:
    def __init__(self, value):
        self.value = value


def sysctl_value(name, value, descr="", flags=CTLFLAG_RW, kind=None):
    """Register a node that holds a plain value; returns a cell with .value."""
    cell = _Cell(value)

    def set_(v):
        cell.value = v
    sysctl_proc(name, lambda: cell.value, set_ if flags & CTLFLAG_WR else None,
                kind or type(value), flags, descr)
    return cell


def sysctl_int(name, value, descr="", flags=CTLFLAG_RW):
    return sysctl_value(name, int(value), descr, flags, int)


def lookup(name):
    oid = _tree.get(name)
    if oid is None:
        raise KernelError(E.ENOENT)
    return oid


def sysctl_get(name):
    return lookup(name).get()


def sysctl_set(name, text, cred=None):
    """Set a node from its text form (what `sysctl name=value` writes)."""
    oid = lookup(name)
    if oid.set is None or not oid.flags & CTLFLAG_WR:
        raise KernelError(E.EPERM)
    if cred is not None and cred.uid != 0 and not oid.flags & CTLFLAG_ANYBODY:
        raise KernelError(E.EPERM)
    try:
        value = oid.kind(text.strip()) if oid.kind is not int else int(str(text).strip(), 0)
    except ValueError:
        raise KernelError(E.EINVAL) from None
    oid.set(value)


def sysctl_list(prefix=""):
    """Names under prefix (all when empty), sorted."""
    p = prefix.rstrip(".")
    return sorted(n for n in _tree if not p or n == p or n.startswith(p + "."))


def sysctl_children(prefix):
    """The next name components below prefix ('' for the top), for /proc/sys dirs."""
    depth = len(prefix.split(".")) if prefix else 0
    return sorted({n.split(".")[depth] for n in sysctl_list(prefix) if len(n.split(".")) > depth})
