"""procfs: /proc, the kernel's processes and state shown as files.

    procfs_vfsops.py   ProcMount: the mount, inode numbers, vnode identity
    procfs_vnops.py    the node kinds: directories, generated files, symlinks,
                       magic links (pseudofs in FreeBSD terms)
    procfs_subr.py     hooks the syscall layer fills in, the caller, CPU times
    procfs_root.py     /proc itself: PID directories, self, thread-self, files
    procfs_info.py     system-wide texts: meminfo, cpuinfo, stat, uptime,
                       loadavg, version, mounts, filesystems
    procfs_pid.py      /proc/PID and /proc/PID/task/TID: the per-process table
    procfs_status.py   /proc/PID/stat, statm and status
    procfs_fd.py       /proc/PID/fd and fdinfo; the files behind fd links
    procfs_sys.py      /proc/sys: the sysctl tree, plus Linux's kernel/* names

Linux counterpart: fs/proc (root.c, base.c, array.c, fd.c, task_mmu.c,
proc_sysctl.c, meminfo.c, ...); FreeBSD's is sys/fs/procfs over
sys/fs/pseudofs.  Everything is generated from kernel state when read;
nothing is stored.  Host process ids and host paths never appear.

Magic links (exe, cwd, root, fd/N) lead namei straight to the vnode they
name (Vnode.magiclink), so they resolve inside the guest's filesystems.

May import: what vkernel.fs may, plus vkernel.kernel (the process table,
sysctl, the message buffer): procfs reads the state it shows.
"""
from .procfs_subr import hooks
from .procfs_vfsops import ProcMount

__all__ = ["ProcMount", "hooks"]
