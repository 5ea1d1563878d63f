"""vkernel: a Unix kernel written in Python that runs Linux x86-64 programs natively.

Layers (each a package; imports only go downwards):

    abi/linux     data only: syscall numbers, errno, struct layouts
    platform      the only code that touches host ptrace (interface + ptrace + fake)
    kernel        processes, signals, descriptors, memory, sleep/wakeup
    vfs, fs       vnodes, namei, mounts; hostfs, devfs, procfs
    tty           terminals, line discipline, console
    syscalls      thin sys_* handlers keyed by Linux numbers, one dispatcher
    ddb, debug, kvm   debuggers and memory readers
"""
__version__ = "0.1.0"
