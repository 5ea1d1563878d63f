"""vkernel.abi.vkernel: the ABI the vkernel adds to Linux's, as plain data.

Linux has no ktrace(2), so the vkernel serves DragonFly's tracing calls at
private syscall numbers above every Linux x86-64 number (see syscalls.py),
and defines the binary format of the trace file they produce (ktrace.py).
The guest programs ktrace(1) and kdump(1) are built against C headers
generated from these modules (guest/gen_headers.py), so the numbers live in
one place.

Same rule as vkernel.abi.linux: data only, importing nothing of vkernel
except other vkernel.abi modules.
"""
