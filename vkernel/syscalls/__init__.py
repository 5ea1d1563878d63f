"""The system call layer: one table keyed by Linux x86-64 numbers, one dispatcher.

table.py       the @syscall decorator, argument kinds and the sysent table
dispatch.py    syscall2(): decode, call, errno, ktrace; unknown -> ENOSYS
linux64/       thin sys_<family>.py handlers that call kern_* workers

May import: vkernel.abi, vkernel.kernel, vkernel.vfs, vkernel.fs, vkernel.tty.
"""
