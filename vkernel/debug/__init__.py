"""kgdb: gdb-style source-level debugging of the live kernel, from outside
it (the seed's "gdb the running virtual kernel"; FreeBSD's sys/gdb stub
and DragonFly's kgdb).

    python3 -m vkernel gdb [PID]        attach; `(kgdb) ` prompt

One file per concern:

    gdb_trace.py    the CPU side: kgdb_poll (called by every virtual CPU at
                    the top of its loop) installs a bdb tracer on that CPU's
                    thread while breakpoints exist or it steps; a stop blocks
                    the CPU holding mp_lock, which pauses the whole kernel,
                    and serves the debugger's commands on that thread
    gdb_break.py    breakpoints and linespecs (function, FILE:LINE)
    gdb_frame.py    frames, arguments and source lines in gdb's shapes
    gdb_command.py  the command language (pdb-style do_ methods; ddb's
                    expression evaluator for print)
    gdb_stack.py    backtrace, frame/up/down, list, info, threads
    gdb_main.py     the stub: the socket <rundir>/kgdb.<pid>, sessions,
                    stop reports, interrupts, detach
    gdb_packet.py   the wire: JSON lines
    kgdb.py         the client: `vkernel gdb`

May import: vkernel.ddb (symbols, frames, expressions), vkernel.kvm's run
directory, and, lazily, vkernel.kernel (kern_synch's CPUs and mp_lock) and
vkernel.platform's spawn_thread.  The kernel reaches this package through
two hooks only: kgdb_start() at boot and kgdb_poll() in the CPU loop.
"""
from .gdb_trace import kgdb_poll  # noqa: F401  (the CPU loop's hook)


def kgdb_start(path=None):
    """Start the debugger stub at boot (the listening socket and its thread)."""
    from .gdb_main import kgdb_start as start
    return start(path)
