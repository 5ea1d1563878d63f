"""/proc/PID and /proc/PID/task/TID: the per-process and per-thread files.

Linux counterpart: fs/proc/base.c (tgid_base_stuff, tid_base_stuff,
proc_pid_cmdline_read, environ, comm, limits, the cwd/root/exe links) and
fs/proc/task_mmu.c (maps); FreeBSD's are sys/fs/procfs/procfs_map.c and
friends.  stat, statm and status are in procfs_status.py, fd/ and fdinfo/
in procfs_fd.py.

A thread's directory (task/TID, or /proc/TID) has the same files as its
process's, shown for that thread, without task/.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import mman as M
from vkernel.kernel.errors import KernelError
from vkernel.kernel.proc import SZOMB
from vkernel.vfs.vfs_cache import vn_fullpath

from . import procfs_info as info
from . import procfs_status as status
from .procfs_fd import FdDir, FdinfoDir
from .procfs_subr import RLIM_INFINITY, hooks, reader_root
from .procfs_vnops import PfsDir, TableDir, dir_ent, file_ent, magic_ent

MAPS_NAME_COLUMN = 73           # where a name starts in a maps line (64-bit)


def pid_dir(parent, name, p, td=None):
    """The directory of process p (or its thread td) named `name` in parent."""
    key = parent.key + (name, id(p), id(td) if td is not None else 0)
    return parent.mount.node(key, lambda: PidDir(parent.mount, key, parent=parent,
                                                 proc=p, lwp=td))


def _live(node):
    """The process of node, ENOENT for a zombie (its files are gone)."""
    p = node.proc
    if p.p_stat == SZOMB:
        raise KernelError(E.ENOENT)
    return p


def guest_path(vp, fallback=""):
    """The path of vp seen from the reader's root; a gone file is
    'fallback (deleted)', as Linux's d_path says."""
    try:
        return vn_fullpath(vp, reader_root())
    except KernelError:
        if not fallback:
            raise
        return fallback if fallback.endswith(" (deleted)") else fallback + " (deleted)"


# -- magic links ---------------------------------------------------------------------
def _exe_vp(node):
    return _live(node).p_textvp


def _exe_path(node):
    p = _live(node)
    if p.p_textvp is None:
        raise KernelError(E.ENOENT)
    return guest_path(p.p_textvp, p.p_exe)


def _cwd_vp(node):
    return _live(node).p_cwd


def _root_vp(node):
    return _live(node).p_root


def _dir_path(jump):
    def target(node):
        vp = jump(node)
        if vp is None:
            raise KernelError(E.ENOENT)
        return guest_path(vp)
    return target


# -- files ---------------------------------------------------------------------------
def _cmdline(node):
    p = node.proc
    if p.p_stat == SZOMB or not p.p_args:
        return b""
    return b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in p.p_args)


def _environ(node):
    p = node.proc
    if p.p_stat == SZOMB:
        return b""
    return b"".join(bytes(e) + b"\0" for e in p.p_env)


def _comm(node):
    return (node.proc.p_comm + "\n").encode("utf-8", "surrogateescape")


def _set_comm(node, data, cred):
    """Writing comm renames the process (prctl PR_SET_NAME's effect)."""
    name = data.split(b"\n", 1)[0][:15]
    node.proc.p_comm = name.decode("utf-8", "surrogateescape")


def _wchan(node):
    td = node.thread()
    if td is None or td.td_wchans is None:
        return b"0"
    return (td.td_wmesg or "0").encode()


def _cgroup(node):
    return b"0::/\n"


# (name, unit) of each resource, in RLIMIT_* order (fs/proc/base.c lnames)
LIMIT_NAMES = (
    ("Max cpu time", "seconds"), ("Max file size", "bytes"),
    ("Max data size", "bytes"), ("Max stack size", "bytes"),
    ("Max core file size", "bytes"), ("Max resident set", "bytes"),
    ("Max processes", "processes"), ("Max open files", "files"),
    ("Max locked memory", "bytes"), ("Max address space", "bytes"),
    ("Max file locks", "locks"), ("Max pending signals", "signals"),
    ("Max msgqueue size", "bytes"), ("Max nice priority", ""),
    ("Max realtime priority", ""), ("Max realtime timeout", "us"),
)


def _limit(v):
    return "unlimited" if v >= RLIM_INFINITY else str(v)


def _limits(node):
    p = node.proc
    lines = ["%-25s %-20s %-20s %-10s\n" % ("Limit", "Soft Limit", "Hard Limit", "Units")]
    for res, (name, unit) in enumerate(LIMIT_NAMES):
        soft, hard = hooks["rlimit"](p, res)
        line = "%-25s %-20s %-20s " % (name, _limit(soft), _limit(hard))
        lines.append(line + ("%-10s\n" % unit if unit else "\n"))
    return "".join(lines).encode()


def _perms(e):
    return "".join((
        "r" if e.prot & M.PROT_READ else "-",
        "w" if e.prot & M.PROT_WRITE else "-",
        "x" if e.prot & M.PROT_EXEC else "-",
        "s" if e.flags & M.MAP_SHARED else "p"))


def maps_line(e):
    """One line of /proc/PID/maps (show_map_vma)."""
    head = f"{e.start:08x}-{e.end:08x} {_perms(e)} {e.offset:08x} 00:00 0"
    if not e.name:
        return head + " \n"
    return head.ljust(MAPS_NAME_COLUMN - 1) + " " + e.name.replace("\n", "\\012") + "\n"


def _maps(node):
    p = node.proc
    vm = p.p_vmspace
    if p.p_stat == SZOMB or vm is None:
        return b""
    return "".join(maps_line(e) for e in list(vm.entries)).encode("utf-8", "surrogateescape")


def _mounts(node):
    return info.mounts_text()


def _mountinfo(node):
    return info.mountinfo_text()


class TaskDir(PfsDir):
    """/proc/PID/task: a directory per thread."""

    def names(self):
        return [str(tid) for tid in sorted(self.proc.p_lwps)]

    def nsubdirs(self):
        return len(self.proc.p_lwps)

    def child(self, name):
        td = self.proc.p_lwps.get(int(name)) if name.isdigit() else None
        if td is None or str(td.lwp_tid) != name:
            raise KernelError(E.ENOENT)
        return pid_dir(self, name, self.proc, td)


PID_TABLE = {
    "cgroup": file_ent(_cgroup),
    "cmdline": file_ent(_cmdline),
    "comm": file_ent(_comm, 0o644, store=_set_comm),
    "cwd": magic_ent(_dir_path(_cwd_vp), _cwd_vp),
    "environ": file_ent(_environ, 0o400),
    "exe": magic_ent(_exe_path, _exe_vp),
    "fd": dir_ent(FdDir, mode=0o500),
    "fdinfo": dir_ent(FdinfoDir, mode=0o500),
    "limits": file_ent(_limits),
    "maps": file_ent(_maps),
    "mountinfo": file_ent(_mountinfo),
    "mounts": file_ent(_mounts),
    "root": magic_ent(_dir_path(_root_vp), _root_vp),
    "stat": file_ent(status.stat),
    "statm": file_ent(status.statm),
    "status": file_ent(status.status),
    "task": dir_ent(TaskDir),
    "wchan": file_ent(_wchan),
}


class PidDir(TableDir):
    """/proc/PID (and a thread's own directory, without task/)."""

    table = PID_TABLE

    def names(self):
        if self._lwp is not None:
            return [n for n in self.table if n != "task"]
        return list(self.table)
