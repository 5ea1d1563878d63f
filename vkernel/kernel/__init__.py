"""What the kernel does: processes, threads, signals, descriptors, memory.

May import: vkernel.abi, and (through objects handed in at boot, never by
importing an implementation) the platform interface in vkernel.platform.
Never imports vkernel.platform.ptrace.  kern_shutdown (panic, fatal traps)
reaches up to the debugger, vkernel.ddb, lazily; kernel modules may import
vkernel.ddb.db_command for its @db_show_command decorator only.

Concurrency: all kernel code runs under one big kernel lock (DragonFly's
mp_lock, see kern_synch.py); a guest blocked in a syscall sleeps on a wait
channel and its host thread simply stays stopped, so no virtual CPU ever
blocks in a host call on a guest's behalf.
"""
