"""/proc/sys: the sysctl tree as directories and files, plus Linux's names.

Linux counterpart: fs/proc/proc_sysctl.c; the tree is kern_sysctl.py's
(BSD kern_sysctl.c), whose dotted names become paths: kern.hostname is
/proc/sys/kern/hostname.  Reading gives the value and a newline; writing
sets it through sysctl_set with the writer's credentials (root only unless
the node says otherwise, and the file modes say the same).

Linux programs look for a few values under Linux's own names, so
/proc/sys/kernel/{hostname,domainname,ostype,osrelease,version} show the
kern.* nodes of the same meaning (uname's, when there is no such node)
and /proc/sys/kernel/pid_max the pid limit.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel import kern_proc, kern_sysctl
from vkernel.kernel.errors import KernelError

from .procfs_subr import hooks
from .procfs_vnops import PfsDir, PfsFile

# /proc/sys/kernel/NAME -> (sysctl node, index in uname() when it is absent)
LINUX_KERNEL = {
    "hostname": ("kern.hostname", 1),
    "domainname": ("kern.domainname", 5),
    "ostype": ("kern.ostype", 0),
    "osrelease": ("kern.osrelease", 2),
    "version": ("kern.version", 3),
    "pid_max": ("kern.pid_max", None),
}


def _oid(name):
    try:
        return kern_sysctl.lookup(name)
    except KernelError:
        return None


def _mode(oid):
    if oid is None or oid.set is None or not oid.flags & kern_sysctl.CTLFLAG_WR:
        return 0o444
    return 0o666 if oid.flags & kern_sysctl.CTLFLAG_ANYBODY else 0o644


def _value_text(value):
    return (str(value) + "\n").encode("utf-8", "surrogateescape")


def _store(name):
    def store(node, data, cred):
        text = data.decode("utf-8", "surrogateescape").rstrip("\n")
        kern_sysctl.sysctl_set(name, text, cred)
    return store


def _is_prefix(name):
    return any(n.startswith(name + ".") for n in kern_sysctl.sysctl_list(name))


class SysDir(PfsDir):
    """/proc/sys and the directories below it: a prefix of sysctl names."""

    def __init__(self, mount, key, parent=None, prefix=""):
        super().__init__(mount, key, 0o555, parent)
        self.prefix = prefix

    def _full(self, name):
        return f"{self.prefix}.{name}" if self.prefix else name

    def names(self):
        names = kern_sysctl.sysctl_children(self.prefix)
        if not self.prefix and "kernel" not in names:
            names.append("kernel")
        return names

    def nsubdirs(self):
        return sum(1 for n in self.names() if n == "kernel" or _is_prefix(self._full(n)))

    def child(self, name):
        if "." in name:
            raise KernelError(E.ENOENT)     # one component per path element
        full = self._full(name)
        key = self.key + (name,)
        if _is_prefix(full):
            return self.cached(name, lambda: SysDir(self.mount, key, self, full))
        oid = _oid(full)
        if oid is not None:
            return self.cached(name, lambda: PfsFile(
                self.mount, key, lambda node: _value_text(kern_sysctl.sysctl_get(full)),
                _mode(oid), self, _store(full)))
        if not self.prefix and name == "kernel":
            return self.cached(name, lambda: LinuxKernelDir(self.mount, key, parent=self))
        raise KernelError(E.ENOENT)


def _linux_value(name):
    node, field = LINUX_KERNEL[name]
    if _oid(node) is not None:
        return kern_sysctl.sysctl_get(node)
    if field is None:
        return kern_proc.PID_MAX + 1
    return hooks["uname"]()[field]


class LinuxKernelDir(PfsDir):
    """/proc/sys/kernel: Linux's names for the system's identity."""

    def names(self):
        return list(LINUX_KERNEL)

    def child(self, name):
        if name not in LINUX_KERNEL:
            raise KernelError(E.ENOENT)
        node = LINUX_KERNEL[name][0]
        oid = _oid(node)
        key = self.key + (name,)
        return self.cached(name, lambda: PfsFile(
            self.mount, key, lambda n: _value_text(_linux_value(name)), _mode(oid),
            self, _store(node) if oid is not None else None))
