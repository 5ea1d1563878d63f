"""The vkernel command line (DragonFly vkernel(7) options; init.c's getopt).

    vkernel [-hdstUvz] [-c file] [-D dumpdir] [-e name=value:...] [-i file] [-I iface]
            [-l cpulock] [-m size] [-n numcpus] [-p pidfile] [-r root] [-R root]
            [-- command ...]
    vkernel mkroot [--image [--size SIZE]] [--host PROGRAM ...] DEST
    vkernel syscalls
    vkernel ps [-acjlwx] [-M core] [-N system] [-p pid]
    vkernel dmesg [-M core] [-N system]
    vkernel gdb [PID]

Usage errors exit 64 (EX_USAGE), fatal setup errors exit 1, pidfile errors 70.
"""
import dataclasses
import fcntl
import getopt
import os
import sys

EX_USAGE, EX_SOFTWARE = 64, 70
GETOPT = "c:hsvztl:m:n:r:R:e:i:p:I:UdD:"     # DragonFly's, and -D (crash dumps, ours)
MAXCPU = 16

SHORT_USAGE = """usage: vkernel [-hdstUvz] [-c file] [-D dumpdir] [-e name=value:name=value:...]
               [-i file] [-I interface[:address1[:address2][/netmask][=mac]]]
               [-l cpulock] [-m size] [-n numcpus] [-p pidfile] [-r file|dir] [-R file|dir]
               [-- command [arg ...]]
       vkernel mkroot [--image [--size SIZE]] [--host PROGRAM ...] DEST
       vkernel syscalls
       vkernel ps [-acjlwx] [-M core] [-N system] [-p pid]
       vkernel dmesg [-M core] [-N system]
       vkernel gdb [PID]
"""

LONG_USAGE = SHORT_USAGE + """
Arguments:
\t-c\tSpecify a readonly CD-ROM image file to be used by the kernel (not supported).
\t-d\tDisable hardware pagetable (accepted, no effect).
\t-D\tWrite a crash dump (vmcore.N) into this directory on a panic.
\t-e\tSpecify an environment to be used by the kernel (init's environment).
\t-h\tThis list of options.
\t-i\tSpecify a memory image file (accepted, no effect).
\t-I\tCreate a virtual network device (parsed; networking is not supported).
\t-l\tSpecify which, if any, real CPUs to lock virtual CPUs to.
\t-m\tSpecify the amount of memory to be used by the kernel in bytes, K, M or G.
\t-n\tSpecify the number of CPUs you wish to emulate.
\t-p\tSpecify a file in which to store the process ID.
\t-r\tSpecify a R/W disk image file (or a host directory), iterates vkd0..n:
\t\tthe first is the root, the others are /dev/vkd1 ...
\t-R\tSpecify a COW disk image file, iterates vkd0..n (writes stay in memory).
\t-s\tBoot into single-user mode (a root shell as pid 1).
\t-t\tUse a precise host timer (accepted, no effect).
\t-U\tEnable writing to kernel memory and module loading (accepted, no effect).
\t-v\tTurn on verbose booting.
\t-z\tForce zeroing of memory (accepted, no effect).
\t--\tRun the given command as pid 1; vkernel exits with its status.
"""


class UsageError(Exception):
    pass


@dataclasses.dataclass
class Conf:
    memsize: int = 256 << 20
    ncpus: int = 1
    roots: list = dataclasses.field(default_factory=list)
    cow: bool = False                   # some disk is copy-on-write (-R)
    cow_roots: set = dataclasses.field(default_factory=set)    # their indexes in roots
    single: bool = False
    verbose: bool = False
    env: list = dataclasses.field(default_factory=list)
    pidfile: str = ""
    command: list = dataclasses.field(default_factory=list)
    interfaces: list = dataclasses.field(default_factory=list)
    cpulock: tuple = ("map", 0)         # -l: ("any",), ("map", first host CPU), ("cpu", n)
    host_cpu: int = 0
    dumpdir: str = ""                   # -D: crash dumps on panic go here (vkernel/kvm)

    @property
    def root(self):
        return self.roots[0] if self.roots else ""

    def init_argv(self):
        env = ["PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/bin", "HOME=/root",
               "TERM=" + os.environ.get("TERM", "vt100")] + self.env
        if self.command:
            return list(self.command), env
        if self.single:
            return ["/bin/sh", "-l"], env          # a login shell: /etc/profile
        return ["/sbin/init"], env


def parse_mem(arg):
    """-m: base-0 number with an optional K/M/G suffix (either case)."""
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    num, suffix = arg, ""
    if arg and arg[-1].lower() in mult:
        num, suffix = arg[:-1], arg[-1].lower()
    try:
        n = int(num, 0)
    except ValueError:
        raise UsageError("Bad maxmem option") from None
    return n * mult.get(suffix, 1)


def parse_env(arg):
    """-e a=b:c=d with quotes protecting colons."""
    out, cur, quote = [], "", None
    for ch in arg:
        if ch in "\"'" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == ":" and not quote:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [e for e in out if e]


def _option(conf, opt, val):
    if opt == "-m":
        conf.memsize = parse_mem(val)
    elif opt == "-n":
        n = val.split(":")[0]
        if not n.isdigit() or not 1 <= int(n) <= MAXCPU:
            raise UsageError(f"Bad ncpus, valid range is 1-{MAXCPU}")
        conf.ncpus = int(n)
    elif opt in ("-r", "-R"):
        if not val:
            print("Invalid argument to '-r'", file=sys.stderr)
            return
        if opt == "-R":
            conf.cow_roots.add(len(conf.roots))
        conf.roots.append(val.split(":")[0] if not os.path.exists(val) else val)
        conf.cow = conf.cow or opt == "-R"
    elif opt == "-e":
        conf.env += parse_env(val)
    elif opt == "-s":
        conf.single = True
    elif opt == "-v":
        conf.verbose = True
    elif opt == "-p":
        conf.pidfile = val
    elif opt == "-I":
        conf.interfaces.append(val)
    elif opt == "-l":
        conf.cpulock = parse_cpulock(val)
    elif opt == "-D":
        conf.dumpdir = val
    elif opt == "-h":
        raise UsageError("-h")


def parse_cpulock(val):
    """-l any | map[,startCPU] | CPU (vkernel(7)); DragonFly's errors."""
    if val == "any":
        return ("any",)
    kind, num = ("map", val[4:]) if val == "map" or val.startswith("map,") else ("cpu", val)
    if kind == "map" and not num:
        return ("map", 0)
    digits = len(num) - len(num.lstrip("0123456789"))
    if digits == 0 or digits != len(num):
        raise UsageError(f"Bad target CPU number at '{num[digits:] or val}'")
    n, ncpu = int(num), os.cpu_count() or 1
    if n >= ncpu:
        raise UsageError(f"Bad target CPU, valid range is 0-{ncpu - 1}")
    return (kind, n)


def parse(argv):
    """argv (without the program name) -> Conf; raises UsageError."""
    try:
        opts, rest = getopt.getopt(argv, GETOPT)
    except getopt.GetoptError as e:
        raise UsageError(str(e)) from None
    conf = Conf()
    for opt, val in opts:
        _option(conf, opt, val)
    if rest:
        conf.command = rest
    return conf


def check_memory(conf):
    if conf.memsize < 64 << 20 or conf.memsize % (2 << 20):
        print("Bad maxmem specification: 64MB minimum, multiples of 2MB only",
              file=sys.stderr)
        sys.exit(1)


def write_pidfile(path):
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        print(f"Failed to create pidfile: {e.strerror}", file=sys.stderr)
        sys.exit(EX_SOFTWARE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("Failed to lock pidfile, vkernel already running", file=sys.stderr)
        sys.exit(EX_SOFTWARE)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def usage_exit(msg):
    if msg == "-h":
        sys.stderr.write(LONG_USAGE)
    else:
        if msg:
            print(f"vkernel: {msg}", file=sys.stderr)
        sys.stderr.write(SHORT_USAGE)
    sys.exit(EX_USAGE)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["mkroot"]:
        from . import mkroot
        return mkroot.main(argv[1:])
    if argv[:1] == ["syscalls"]:
        from .syscalls import listing
        return listing.main(argv[1:])
    if argv[:1] in (["ps"], ["dmesg"]):            # read a vkernel's memory (libkvm)
        from .kvm import dmesg, ps
        return (ps if argv[0] == "ps" else dmesg).main(argv[1:])
    if argv[:1] == ["gdb"]:                        # attach kgdb to a running kernel
        from .debug import kgdb
        return kgdb.main(argv[1:])
    try:
        conf = parse(argv)
    except UsageError as e:
        usage_exit(str(e))
    check_memory(conf)
    from . import boot
    return boot.main(conf)
