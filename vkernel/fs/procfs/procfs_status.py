"""/proc/PID/stat, statm and status: a process as ps and top read it.

Linux counterpart: fs/proc/array.c (do_task_stat, proc_pid_statm,
proc_pid_status with task_state, task_mem, task_sig, task_cap); the field
order and formats are Linux's, since busybox ps/top parse them.  FreeBSD's
is sys/fs/procfs/procfs_status.c.

Times are in clock ticks (USER_HZ) since boot; CPU times come from the
host process behind the guest (procfs_subr.cpu_times).  A directory of a
thread (task/TID) shows that thread's state, times and pending signals.
"""
from vkernel.abi.linux import mman as M
from vkernel.abi.linux import signal as S
from vkernel.kernel.proc import P_EXEC, SSTOP, SZOMB

from .procfs_subr import PAGE, RLIM_INFINITY, cpu_times, hooks, ncpu, rss_pages, ticks, tty_nr

STATE_NAMES = {"R": "running", "S": "sleeping", "D": "disk sleep", "T": "stopped",
               "Z": "zombie", "X": "dead"}
RLIMIT_RSS, RLIMIT_SIGPENDING = 5, 11
PF_FORKNOEXEC = 0x40
PF_RANDOMIZE = 0x400000
FULL_CAPS = (1 << 41) - 1           # CAP_LAST_CAP 40 (Linux 6.1)


def state_letter(p, td):
    """The one-letter state ps shows (R, S, D, T, Z) of p or its thread td."""
    if p.p_stat == SZOMB:
        return "Z"
    if p.p_stat == SSTOP or (td is not None and td.td_stopped):
        return "T"
    if td is not None and td.td_wchans is not None:
        return "S" if td.td_sleep_intr else "D"
    return "R"


def _ids(node):
    """(process, thread shown, pid field): a thread's directory shows its tid."""
    p = node.proc
    td = node.thread()
    own = node.lwp
    return p, td, (own.lwp_tid if own is not None else p.p_pid)


def _tty(p):
    """(tty_nr, foreground pgid) of p's controlling terminal; (0, -1) if none."""
    sess = p.p_session
    tp = sess.s_ttyp if sess is not None else None
    if tp is None:
        return 0, -1
    return tty_nr(getattr(tp, "t_rdev", 0)), getattr(tp, "t_pgid", 0) or -1


def _sigsets(p, td):
    """(pending, blocked, ignored, caught) signal bitmasks."""
    pending = p.p_siglist | (td.lwp_siglist if td is not None else 0)
    blocked = td.lwp_sigmask if td is not None else 0
    ignored = caught = 0
    for sig in range(1, S.NSIG + 1):
        handler = p.p_sigacts[sig].handler
        if handler == S.SIG_IGN:
            ignored |= S.sigmask(sig)
        elif handler != S.SIG_DFL:
            caught |= S.sigmask(sig)
    return pending, blocked, ignored, caught


def vm_sizes(p):
    """Byte sizes of p's mappings: dict size, exe, lib, data, stack, code range."""
    out = {"size": 0, "exe": 0, "lib": 0, "data": 0, "stack": 0, "code": (0, 0)}
    vm = p.p_vmspace
    if vm is None or p.p_stat == SZOMB:
        return out
    entries = list(vm.entries)
    files = [e.name for e in entries if e.name and not e.name.startswith("[")]
    exe = files[0] if files else None
    for e in entries:
        n = e.end - e.start
        out["size"] += n
        if e.name == "[stack]":
            out["stack"] += n
        elif e.prot & M.PROT_EXEC:
            out["exe" if e.name == exe else "lib"] += n
            if e.name == exe and out["code"] == (0, 0):
                out["code"] = (e.start, e.end)
        elif e.prot & M.PROT_WRITE and not e.flags & M.MAP_SHARED:
            out["data"] += n
    return out


def _start_ticks(p):
    return max(0, ticks(p.p_start_mono - hooks["boottime"]))


def _rlim(p, res):
    return hooks["rlimit"](p, res)[0]


def stat(node):
    """/proc/PID/stat: 52 fields on one line (do_task_stat)."""
    p, td, pid = _ids(node)
    zombie = p.p_stat == SZOMB
    tty, tpgid = _tty(p)
    utime, stime = cpu_times(p, node.lwp)
    vm = vm_sizes(p)
    pending, blocked, ignored, caught = _sigsets(p, td)
    brk = p.p_vmspace.brk_base if p.p_vmspace is not None and not zombie else 0
    sess = p.p_session
    fields = [
        pid, f"({p.p_comm})", state_letter(p, td), p.p_ppid, p.p_pgid,
        sess.s_sid if sess is not None else 0, tty, tpgid,
        PF_RANDOMIZE | (0 if p.p_flags & P_EXEC else PF_FORKNOEXEC), 0, 0, 0, 0,
        ticks(utime), ticks(stime), ticks(p.p_cru_utime), ticks(p.p_cru_stime),
        20 + p.p_nice, p.p_nice, max(1, len(p.p_lwps)), 0, _start_ticks(p),
        vm["size"], 0 if zombie else rss_pages(p), min(_rlim(p, RLIMIT_RSS), RLIM_INFINITY),
        vm["code"][0], vm["code"][1], 0, 0, 0,
        pending, blocked, ignored, caught, 0, 0, 0,
        p.p_exit_signal, td.lwp_cpu if td is not None else 0, 0, 0, 0, 0, 0,
        0, 0, brk, 0, 0, 0, 0, p.p_xstat if zombie else 0,
    ]
    return (" ".join(str(f) for f in fields) + "\n").encode("utf-8", "surrogateescape")


def statm(node):
    """/proc/PID/statm: size resident shared text lib data dt, in pages."""
    p = node.proc
    vm = vm_sizes(p)
    rss = 0 if p.p_stat == SZOMB else rss_pages(p)
    vals = (vm["size"] // PAGE, rss, 0, vm["exe"] // PAGE, 0,
            (vm["data"] + vm["stack"]) // PAGE, 0)
    return (" ".join(str(v) for v in vals) + "\n").encode()


def _kb(n):
    return f"{n >> 10:8d} kB"


def _status_mem(p):
    vm = vm_sizes(p)
    rss = rss_pages(p) * PAGE
    return [
        ("VmPeak", _kb(vm["size"])), ("VmSize", _kb(vm["size"])), ("VmLck", _kb(0)),
        ("VmPin", _kb(0)), ("VmHWM", _kb(rss)), ("VmRSS", _kb(rss)),
        ("RssAnon", _kb(rss)), ("RssFile", _kb(0)), ("RssShmem", _kb(0)),
        ("VmData", _kb(vm["data"])), ("VmStk", _kb(vm["stack"])), ("VmExe", _kb(vm["exe"])),
        ("VmLib", _kb(vm["lib"])), ("VmPTE", _kb(0)), ("VmSwap", _kb(0)),
    ]


def _fdsize(p):
    fdp = p.p_fd
    top = max(fdp.files, default=0) + 1 if fdp is not None else 0
    return max(64, (top + 63) // 64 * 64)


def _status_ids(p, td, pid):
    c = p.p_ucred
    sess = p.p_session
    groups = " ".join(str(g) for g in c.groups) + " "     # Linux's trailing space
    return [
        ("Umask", f"{p.p_umask:04o}"),
        ("State", "%s (%s)" % (state_letter(p, td), STATE_NAMES[state_letter(p, td)])),
        ("Tgid", p.p_pid), ("Ngid", 0), ("Pid", pid), ("PPid", p.p_ppid), ("TracerPid", 0),
        ("Uid", f"{c.ruid}\t{c.uid}\t{c.svuid}\t{c.uid}"),
        ("Gid", f"{c.rgid}\t{c.gid}\t{c.svgid}\t{c.gid}"),
        ("FDSize", _fdsize(p)), ("Groups", groups), ("NStgid", p.p_pid), ("NSpid", pid),
        ("NSpgid", p.p_pgid), ("NSsid", sess.s_sid if sess is not None else 0),
    ]


def _status_sig(p, td):
    pending, blocked, ignored, caught = _sigsets(p, td)
    thread_pending = td.lwp_siglist if td is not None else 0
    queued = bin(pending).count("1")
    return [
        ("Threads", max(1, len(p.p_lwps))),
        ("SigQ", f"{queued}/{min(_rlim(p, RLIMIT_SIGPENDING), 1 << 31)}"),
        ("SigPnd", f"{thread_pending:016x}"), ("ShdPnd", f"{p.p_siglist:016x}"),
        ("SigBlk", f"{blocked:016x}"), ("SigIgn", f"{ignored:016x}"),
        ("SigCgt", f"{caught:016x}"),
    ]


def _status_caps(p):
    caps = FULL_CAPS if p.p_ucred.uid == 0 else 0
    n = ncpu()
    return [
        ("CapInh", f"{0:016x}"), ("CapPrm", f"{caps:016x}"), ("CapEff", f"{caps:016x}"),
        ("CapBnd", f"{FULL_CAPS:016x}"), ("CapAmb", f"{0:016x}"),
        ("NoNewPrivs", 0), ("Seccomp", 0),
        ("Cpus_allowed", f"{(1 << n) - 1:x}"),
        ("Cpus_allowed_list", "0" if n == 1 else f"0-{n - 1}"),
        ("voluntary_ctxt_switches", 0), ("nonvoluntary_ctxt_switches", 0),
    ]


def status(node):
    """/proc/PID/status: "Name:\\tvalue" lines (proc_pid_status)."""
    p, td, pid = _ids(node)
    rows = [("Name", p.p_comm)] + _status_ids(p, td, pid)
    if p.p_stat != SZOMB and p.p_vmspace is not None:
        rows += _status_mem(p)
    rows += _status_sig(p, td) + _status_caps(p)
    return "".join(f"{k}:\t{v}\n" for k, v in rows).encode("utf-8", "surrogateescape")
