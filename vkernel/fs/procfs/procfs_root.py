"""/proc itself: a directory per process, self, thread-self, system files.

Linux counterpart: fs/proc/root.c (proc_root_lookup, proc_root_readdir),
fs/proc/self.c and thread_self.c, and the proc_create calls of the files
in procfs_info.py.  FreeBSD's is sys/fs/procfs/procfs.c.

/proc lists every process, zombies included; a thread id that is not a
process id is not listed but can be looked up (/proc/TID), as on Linux.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_proc
from vkernel.kernel.errors import KernelError

from . import procfs_info as info
from .procfs_pid import pid_dir
from .procfs_subr import curproc, curthread
from .procfs_sys import SysDir
from .procfs_vnops import PfsDir, dir_ent, file_ent, link_ent


def _self(node):
    p = curproc()
    if p is None:
        raise KernelError(E.ENOENT)
    return str(p.p_pid)


def _thread_self(node):
    td = curthread()
    if td is None:
        raise KernelError(E.ENOENT)
    return f"{td.lwp_proc.p_pid}/task/{td.lwp_tid}"


ROOT_TABLE = {
    "self": link_ent(_self),
    "thread-self": link_ent(_thread_self),
    "mounts": link_ent(lambda node: "self/mounts"),
    "cmdline": file_ent(info.cmdline),
    "cpuinfo": file_ent(info.cpuinfo),
    "filesystems": file_ent(info.filesystems),
    "loadavg": file_ent(info.loadavg),
    "meminfo": file_ent(info.meminfo),
    "stat": file_ent(info.stat),
    "swaps": file_ent(info.swaps),
    "uptime": file_ent(info.uptime_text),
    "version": file_ent(info.version),
    "sys": dir_ent(SysDir),
}


def _pid_of(name):
    """The number a /proc entry name stands for, or None (no leading zeros)."""
    if not name.isdigit() or (len(name) > 1 and name[0] == "0") or not name.isascii():
        return None
    return int(name)


class ProcRoot(PfsDir):
    """The root directory of a procfs mount."""

    def __init__(self, mount):
        super().__init__(mount, (), 0o555)

    def names(self):
        return list(ROOT_TABLE) + [str(pid) for pid in sorted(kern_proc.allproc)]

    def nsubdirs(self):
        return 1 + len(kern_proc.allproc)

    def child(self, name):
        pid = _pid_of(name)
        if pid is not None:
            return self._process(pid, name)
        ent = ROOT_TABLE.get(name)
        if ent is None:
            raise KernelError(E.ENOENT)
        return self.cached(name, lambda: ent.make(self, name))

    def _process(self, pid, name):
        p = kern_proc.allproc.get(pid)
        if p is not None:
            return pid_dir(self, name, p)
        td = kern_proc.alllwp.get(pid)
        if td is None:
            raise KernelError(E.ENOENT)
        return pid_dir(self, name, td.lwp_proc, td)
