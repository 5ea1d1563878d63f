"""Terminals (BSD sys/kern/tty*.c, Linux drivers/tty): the line discipline,
the controlling-terminal rules, /dev/tty and the vkernel console.

    n_tty.py      LineDiscipline: termios, input editing, echo, output processing
    tty.py        Tty (sessions, foreground group, job control), TtyFileOps
    tty_ioctl.py  the terminal ioctls, as a table used by TtyFileOps.ioctl
    tty_tty.py    /dev/tty: CttyOps binds an open to the caller's ctty
    console.py    Console: the host's stdin/stdout behind a Tty (vconsole)

May import: vkernel.abi, vkernel.kernel (file, errors, kern_sig, kern_proc,
kern_synch, usercopy), vkernel.vfs (vnode, vfs_vnops.DevOps).  Only
console.py touches the host (its own fds).  Never imports the platform.
"""
