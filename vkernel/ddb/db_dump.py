"""ddb `dump`: write a crash dump now (FreeBSD sys/ddb/db_command.c
db_dump; the dump itself is vkernel/kvm/kvm_dump.py).

    db> dump
    dumping to /tmp/vkernel-0/crash/vmcore.0
    dump 97 MB succeeded

The vmcore goes to the crash directory (-D DIR, else <rundir>/crash)
whether or not kern.dumpdev asks for dumps on panics; read it from the
host with `python3 -m vkernel ps axl -M vmcore.0` (the namelist is inside).
ddb stays at its prompt afterwards; `continue` goes on as before.
"""
from .db_command import db_command


@db_command("dump")
def db_dump(db, arg, modif):
    """dump
    Write the kernel's memory to a crash dump (vmcore.N in the crash
    directory) that `vkernel ps -M` and `vkernel dmesg -M` can read."""
    from vkernel.kvm import kvm_dump
    why = f"ddb dump ({db.ctx.why})" if getattr(db.ctx, "why", "") else "ddb dump"
    kvm_dump.dump(why, printf=db.printf)
