"""kvm: reading a vkernel's memory from outside it (DragonFly lib/libkvm).

DragonFly's `ps axl -M /proc/829/mem -N /var/vkernel/boot/kernel` reads a
running vkernel's process list through libkvm: -M names the memory (the
vkernel process's /proc/PID/mem, where a kernel virtual address is the file
offset, or a crash dump) and -N the kernel image whose symbol table says
where `allproc` lives.  Ours is the same with a Python kernel: the kernel's
"virtual addresses" are the addresses of its CPython objects (`id()`), and
the reader walks CPython 3.11's object layouts in that memory.  It never
imports, calls or stops the kernel it reads.

    kvm_layout.py  CPython 3.11 x86-64 struct layouts (ctypes declarations of
                   the C headers), checked against the running interpreter
    kvm_nlist.py   the namelist (our kernel image's symbol table): written by
                   the kernel at boot, read by kvm_openfiles; kvm_nlist()
    kvm.py         kvm_openfiles/kvm_read/kvm_close: the memory sources
                   (/proc/PID/mem of a live kernel, an ELF vmcore)
    kvm_pyobj.py   CPython objects in that memory: int, str, dict, list,
                   instances (managed dicts, split-key values, __slots__)
    kvm_proc.py    kvm_getprocs: struct proc/lwp -> KinfoProc (kvm_proc.c)
    kvm_dump.py    the kernel side of crash dumps: dumpsys() writes the
                   kernel's own memory as an ELF core (vmcore.N), namelist
                   embedded; the sysctl kern.dumpdev
    ps.py          `vkernel ps [-acjlwx] [-M core] [-N system] [-p pid]` (bin/ps)
    dmesg.py       `vkernel dmesg [-M core] [-N system]` (sbin/dmesg)

May import: vkernel.abi and the standard library.  kvm_nlist and kvm_dump
run inside the kernel and import vkernel.kernel (and, for the namelist,
the syscall layer's hostname), lazily; the readers (kvm, kvm_pyobj,
kvm_proc, ps, dmesg) import nothing of the kernel, so they read a vkernel
without becoming one.

Entry points: kvm.kvm_openfiles / kvm_read / kvm_close,
kvm_nlist.kvm_nlist (the function shares its module's name, as in libkvm,
so it is not re-exported here), kvm_proc.kvm_getprocs / kvm_getargv,
kvm_nlist.write_namelist and kvm_dump.dumpsys (in the kernel).
"""
