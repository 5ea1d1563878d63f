"""The system-wide files of /proc: meminfo, cpuinfo, stat, uptime, loadavg,
version, cmdline, filesystems, swaps, and the mount tables.

Linux counterparts: fs/proc/meminfo.c, arch/x86/kernel/cpu/proc.c, stat.c,
uptime.c, loadavg.c, version.c, cmdline.c, fs/filesystems.c, mm/swapfile.c
and fs/proc_namespace.c (mounts, mountinfo).  Formats are Linux's.

The machine they describe is the virtual one: MemTotal is -m, the CPUs are
the vkernel's virtual CPUs (each described like the host's first CPU),
the load average counts guest threads, times count since the vkernel
booted.  Nothing names the host.
"""
import math
import sys
import time

from vkernel.abi.linux import stat as S
from vkernel.kernel import kern_proc, kern_vfs
from vkernel.kernel.proc import SZOMB

from .procfs_status import state_letter
from .procfs_subr import HZ, cpu_times, hooks, memlimit, ncpu, uptime

LOADAVG_PERIODS = (60.0, 300.0, 900.0)
_load = {"t": None, "avg": [0.0, 0.0, 0.0]}
_cpu_seen = {"busy": 0, "user": 0, "sys": 0}     # counters never go backwards
_cpuinfo_template = []


def _text(s):
    return s.encode("utf-8", "surrogateescape")


# -- memory ---------------------------------------------------------------------------
def _kb_line(name, nbytes):
    return f"{name + ':':<16}{nbytes >> 10:>8} kB\n"


def meminfo(node):
    """/proc/meminfo: the -m memory and what guest mappings commit of it."""
    lim = memlimit()
    total = lim.limit if lim is not None else 0
    used = min(total, lim.committed) if lim is not None else 0
    free = total - used
    rows = [("MemTotal", total), ("MemFree", free), ("MemAvailable", free),
            ("Buffers", 0), ("Cached", 0), ("SwapCached", 0), ("Active", used),
            ("Inactive", 0), ("Active(anon)", used), ("Inactive(anon)", 0),
            ("Active(file)", 0), ("Inactive(file)", 0), ("Unevictable", 0),
            ("Mlocked", 0), ("SwapTotal", 0), ("SwapFree", 0), ("Dirty", 0),
            ("Writeback", 0), ("AnonPages", used), ("Mapped", 0), ("Shmem", 0),
            ("KReclaimable", 0), ("Slab", 0), ("SReclaimable", 0), ("SUnreclaim", 0),
            ("KernelStack", 0), ("PageTables", 0), ("CommitLimit", total),
            ("Committed_AS", used), ("VmallocTotal", 0), ("VmallocUsed", 0),
            ("VmallocChunk", 0)]
    return _text("".join(_kb_line(k, v) for k, v in rows))


def swaps(node):
    return b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"


# -- CPUs -----------------------------------------------------------------------------
def _host_cpu_block():
    """The host's description of its first CPU, as [(key, value)] (cached)."""
    if not _cpuinfo_template:
        try:
            with open("/proc/cpuinfo") as f:
                first = f.read().split("\n\n", 1)[0]
        except OSError:
            first = "processor\t: 0\nvendor_id\t: unknown\nmodel name\t: vkernel virtual CPU"
        for line in first.splitlines():
            key, _, value = line.partition(":")
            _cpuinfo_template.append((key, value.strip()))
    return _cpuinfo_template


def _cpu_value(key, value, cpu, n):
    k = key.strip()
    if k in ("processor", "core id", "apicid", "initial apicid"):
        return str(cpu)
    if k in ("siblings", "cpu cores"):
        return str(n)
    if k == "physical id":
        return "0"
    return value


def cpuinfo(node):
    """/proc/cpuinfo: one block per virtual CPU, modelled on the host's CPU 0."""
    n = ncpu()
    blocks = []
    for cpu in range(n):
        lines = [f"{key}: {_cpu_value(key, value, cpu, n)}".rstrip() + "\n"
                 for key, value in _host_cpu_block()]
        blocks.append("".join(lines) + "\n")
    return _text("".join(blocks))


def _cpu_ticks():
    """(user, system, idle) ticks of all virtual CPUs since boot, never decreasing."""
    user = system = 0.0
    for p in list(kern_proc.allproc.values()):
        u, s = cpu_times(p)
        user += u + p.p_cru_utime
        system += s + p.p_cru_stime
    seen = _cpu_seen
    seen["user"] = max(seen["user"], int(user * HZ))
    seen["sys"] = max(seen["sys"], int(system * HZ))
    busy = seen["user"] + seen["sys"]
    idle = max(0, int(uptime() * HZ) * ncpu() - busy)
    return seen["user"], seen["sys"], idle


def _cpu_line(name, user, system, idle):
    return f"{name} {user} 0 {system} {idle} 0 0 0 0 0 0\n"


def _nrunning():
    """(running, blocked) guest threads."""
    running = blocked = 0
    for p in list(kern_proc.allproc.values()):
        if p.p_stat == SZOMB:
            continue
        for td in list(p.p_lwps.values()):
            st = state_letter(p, td)
            running += st == "R"
            blocked += st == "D"
    return running, blocked


def stat(node):
    """/proc/stat: CPU time per virtual CPU, boot time, process counts."""
    n = ncpu()
    user, system, idle = _cpu_ticks()
    lines = [_cpu_line("cpu ", user, system, idle)]
    for cpu in range(n):
        lines.append(_cpu_line(f"cpu{cpu}", user // n, system // n, idle // n))
    running, blocked = _nrunning()
    lines += ["intr 0\n", "ctxt 0\n", f"btime {int(time.time() - uptime())}\n",
              f"processes {getattr(kern_proc, '_lastpid', 0)}\n",
              f"procs_running {running}\n", f"procs_blocked {blocked}\n",
              "softirq 0 0 0 0 0 0 0 0 0 0 0\n"]
    return _text("".join(lines))


def uptime_text(node):
    """/proc/uptime: seconds since boot, and idle seconds summed over CPUs."""
    _, _, idle = _cpu_ticks()
    return _text(f"{uptime():.2f} {idle / HZ:.2f}\n")


# -- load -----------------------------------------------------------------------------
def _update_load(now, nrun):
    """Move the 1, 5 and 15 minute averages towards nrun (calc_global_load),
    as if nrun had held since the last look; no look yet means since boot."""
    last = _load["t"]
    if last is None:
        last = hooks["boottime"]        # the averages start at 0 at boot
    _load["t"] = now
    dt = max(0.0, now - last)
    _load["avg"] = [a * math.exp(-dt / T) + nrun * (1 - math.exp(-dt / T))
                    for a, T in zip(_load["avg"], LOADAVG_PERIODS)]


def loadavg_values():
    running, blocked = _nrunning()
    _update_load(time.monotonic(), running + blocked)
    return tuple(_load["avg"])


def loadavg(node):
    """/proc/loadavg: three averages, running/total threads, the last pid."""
    a1, a5, a15 = loadavg_values()
    running, _ = _nrunning()
    total = sum(len(p.p_lwps) for p in list(kern_proc.allproc.values()))
    last = getattr(kern_proc, "_lastpid", 0)
    return _text(f"{a1:.2f} {a5:.2f} {a15:.2f} {running}/{total} {last}\n")


# -- identity -----------------------------------------------------------------------
def version(node):
    sysname, _, release, ver, _, _ = hooks["uname"]()
    python = sys.version.split()[0]
    return _text(f"{sysname} version {release} (vkernel@vkernel) (Python {python}) {ver}\n")


def cmdline(node):
    return b"BOOT_IMAGE=/boot/vkernel root=/dev/root\n"


def filesystems(node):
    return _text("".join(f"{'nodev' if nodev else ''}\t{name}\n"
                         for name, nodev in hooks["filesystems"]()))


# -- mounts ---------------------------------------------------------------------------
def _escape(s):
    """Octal escapes for /proc/mounts fields (mangle() in proc_namespace.c)."""
    for ch in "\\ \t\n":
        s = s.replace(ch, f"\\{ord(ch):03o}")
    return s


def mounts_text():
    table = kern_vfs.mounts
    if table is None:
        return b""
    return _text("".join(f"{_escape(src)} {_escape(path)} {fstype} {opts} 0 0\n"
                         for src, path, fstype, opts in table.list()))


def _major_minor(dev):
    return f"{S.major(dev)}:{S.minor(dev)}"


def mountinfo_text():
    """/proc/PID/mountinfo: ids, parent ids and devices of the mounts."""
    table = kern_vfs.mounts
    if table is None:
        return b""
    mnts = table.mounts()
    ids = {id(m): 21 + i for i, m in enumerate(mnts)}
    lines = []
    for m in mnts:
        parent = ids.get(id(m.covered.mount), ids[id(m)]) if m.covered is not None else 20
        lines.append(f"{ids[id(m)]} {parent} {_major_minor(m.dev)} / {_escape(m.path)} "
                     f"{m.options()} - {m.fstype} {_escape(m.source)} {m.options()}\n")
    return _text("".join(lines))
