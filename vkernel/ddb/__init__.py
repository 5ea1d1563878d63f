"""ddb: the in-kernel debugger behind the `db>` prompt (DragonFly sys/ddb).

One file per concern, as in BSD:

    db_interface.py  kdb_trap: entering and leaving ddb, stopping CPUs, the
                     context ddb runs in (DbContext: why, the kernel stack,
                     the current thread)
    db_command.py    the command loop (cmd.Cmd-style: one do_ method per
                     command, help from docstrings, unique-prefix lookup) and
                     the decorators with which subsystems register commands
    db_input.py      console input: line editing and history (prompt_toolkit)
                     or plain line reads when the console is not a terminal
    db_output.py     db_printf's column tracking: tab stops, held-back spaces
    db_sym.py        kernel "addresses": code objects and bytecode offsets as
                     text addresses, ids of live kernel objects as data
    db_expr.py       the expression language (numbers in the radix, $vars,
                     casts, ->, ., [])
    db_trace.py      trace/where/bt: kernel frames, five arguments each
    db_examine.py    x/ (examine) and search on the current guest's memory
    db_print.py      print, set, call, show registers
    db_ps.py         ps, show all procs, show proc, show thread
    db_show.py       show files, mount, ktrace, sysctl, msgbuf

May import: everything below it (vkernel.kernel, vkernel.syscalls, vkernel.vfs,
vkernel.abi).  The kernel reaches ddb only through kern_shutdown (Debugger,
panic, trap_fatal), lazily, and through the registration decorators of
db_command.py, which import nothing from the kernel.
"""
