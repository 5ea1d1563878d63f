"""`vkernel syscalls`: print the syscall table with each entry's support level."""
from vkernel.abi.linux.syscalls import SYSCALL_NAMES

from .table import sysent


def rows():
    import vkernel.syscalls.linux64  # noqa: F401  (registers every handler)
    names = dict(SYSCALL_NAMES)
    names.update({nr: ent.name for nr, ent in sysent.items() if nr not in names})
    for nr, name in sorted(names.items()):
        ent = sysent.get(nr)
        level = ent.level if ent else "unimplemented (ENOSYS)"
        doc = (ent.handler.__doc__ or "").strip().split("\n")[0] if ent else ""
        yield nr, name, level, doc


def main(argv):
    total = impl = 0
    for nr, name, level, doc in rows():
        total += 1
        impl += not level.startswith("unimpl")
        print(f"{nr:4d} {name:24s} {level:24s} {doc}")
    print(f"{impl} of {total} system calls implemented (Linux x86-64 and vkernel's own)")
    return 0
