"""vkernel ps: a vkernel's process status, read from its memory (DragonFly
bin/ps: ps.c, keyword.c, print.c).

    python3 -m vkernel ps [-acjlwx] [-M core] [-N system] [-p pid[,pid...]]
    python3 -m vkernel ps axl -M /proc/829/mem -N /tmp/vkernel-0/kernel.829

The options may be written BSD-style without a dash (`ps axl`).  -M is the
memory (a running vkernel's /proc/PID/mem, or a crash dump), -N the
namelist (kvm_nlist.py; a dump carries its own, a live kernel's is found
in the run directory by its pid).  Without -M, the one vkernel running for
this user.  The processes are those of the guest, read through kvm.

Formats (keyword.c): default `pid tt state time command`; -l `uid pid
ppid cpu pri nice vsz rss wchan state tt time command`; -j `user pid ppid
pgid sess jobc state tt time command`.  Without -a only processes of your
(host) uid are shown, without -x only those with a controlling terminal;
-p shows the given pids whatever they are.  Rows are sorted by terminal,
then pid; the command is cut at the terminal width (79 when not a
terminal, 131 with -w, unlimited with -ww).

Values, where ours differ from a C kernel's: CPU (estcpu) is 0, our
kernel keeps no decaying CPU estimate; PRI is the thread's td_pri; USER is
the numeric uid (the guest's names are in its /etc/passwd, not in the
kernel); SESS the session's address; TIME and RSS of a live kernel come
from the host process behind each guest (as the kernel's procfs reads
them), a dump has only what was in memory.  STAT follows the seed's 2009
ps: the first letter (R, S, I idle > 20 s, D, T, Z, ? for a process being
created), then <, N, E, V, s, + (no CPU digits).  TT is the controlling
terminal's name without tty/cua and cut to 3 characters (`con`), with `-`
when it is no longer the controlling terminal, `??` for none.
"""
import getopt
import os
import sys

from .kvm import KvmError, kvm_close, kvm_openfiles
from .kvm_nlist import NlistError
from .kvm_proc import KERN_PROC_ALL, LSRUN, LSSLEEP, LSSTOP, PAGE, kvm_getargv, kvm_getprocs

USAGE = "usage: ps [-acjlwx] [-M core] [-N system] [-p pid[,pid...]]\n"
DFMT = "pid tt state time command"
LFMT = "uid pid ppid cpu pri nice vsz rss wchan state tt time command"
JFMT = "user pid ppid pgid sess jobc state tt time command"
MAXSLP = 20
UNLIMITED = 0


class Opts:
    def __init__(self):
        self.all = self.noctty = self.comm = False
        self.fmt = []
        self.core = self.system = None
        self.pids = []
        self.wide = 0


def parse(argv):
    """argv (after `ps`) -> Opts; a first word without '-' is a flag word (`ps axl`)."""
    if argv and not argv[0].startswith("-"):
        argv = ["-" + argv[0]] + argv[1:]
    opts, rest = getopt.getopt(argv, "acjlwxM:N:p:")
    if rest:
        raise getopt.GetoptError(f"extra arguments: {' '.join(rest)}")
    o = Opts()
    for opt, val in opts:
        if opt == "-a":
            o.all = True
        elif opt == "-x":
            o.noctty = True
        elif opt == "-c":
            o.comm = True
        elif opt in ("-l", "-j"):
            o.fmt.append(LFMT if opt == "-l" else JFMT)
        elif opt == "-w":
            o.wide += 1
        elif opt == "-M":
            o.core = val
        elif opt == "-N":
            o.system = val
        elif opt == "-p":
            o.pids += [int(p) for p in val.split(",") if p]
    return o


# -- the columns (print.c) ----------------------------------------------------------------------
def tname(kp, ctx):
    if kp.kp_tdev == -1 or not kp.kp_tdevname:
        return "??"
    name = kp.kp_tdevname
    for prefix in ("tty", "cua", "pts/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return f"{name[:3]:>3}{' ' if kp.kp_ctty else '-'}"


def state(kp, ctx):
    """The STAT letters (print.c state())."""
    kl, pflags = kp.kp_lwp, ctx["pflags"]
    if kp.kp_stat == "SZOMB":
        s = "Z"
    elif kp.kp_stat == "SSTOP":
        s = "T"
    elif kp.kp_stat == "SACTIVE" and kl is not None:
        if kl.kl_stat == LSSLEEP:
            s = ("I" if kl.kl_slptime >= MAXSLP else "S") if kl.kl_sintr else "D"
        else:
            s = {LSRUN: "R", LSSTOP: "T"}.get(kl.kl_stat, "?")
    else:
        s = "?"
    s += "<" if kp.kp_nice < 0 else "N" if kp.kp_nice > 0 else ""
    if kp.kp_flags & pflags.get("P_WEXIT", 0) and kp.kp_stat != "SZOMB":
        s += "E"
    if kp.kp_flags & pflags.get("P_PPWAIT", 0):
        s += "V"
    if kp.kp_sessleader:
        s += "s"
    if kp.kp_ctty and kp.kp_tpgid and kp.kp_tpgid == kp.kp_pgid:
        s += "+"
    return s


def cputime(kp, ctx):
    """min:sec.cc, h:mm:ss from 100 minutes, DdHH:MM from a day (print.c cputime)."""
    cs = int(round((kp.kp_ru_utime + kp.kp_ru_stime) * 100))
    secs, cs = divmod(cs, 100)
    if secs >= 86400:
        return f"{secs // 86400:3d}d{secs // 3600 % 24:02d}:{secs // 60 % 60:02d}"
    if secs >= 6000:
        return f"{secs // 3600:2d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    return f"{secs // 60:3d}:{secs % 60:02d}.{cs:02d}"


def wchan(kp, ctx):
    kl = kp.kp_lwp
    if kl is None or kl.kl_stat != LSSLEEP:
        return "-"
    return kl.kl_wmesg[:8] if kl.kl_wmesg else f"{kl.kl_wchan:x}"


def vis(s):
    """strvis-style: control characters and DEL as \\ooo."""
    return "".join(c if c.isprintable() else "".join(f"\\{b:03o}" for b in c.encode(
        "utf-8", "surrogateescape")) for c in s)


def command(kp, ctx):
    if kp.kp_stat == "SZOMB":
        return "<defunct>"
    if kp.kp_flags & ctx["pflags"].get("P_WEXIT", 0):
        return "<exiting>"
    if ctx["comm"]:
        return vis(kp.kp_comm)
    argv = kvm_getargv(ctx["kd"], kp)
    return vis(" ".join(argv)) if argv else f"({vis(kp.kp_comm)})"


def kbytes(n):
    """A size in K, rescaled with a suffix when it overflows 6 columns."""
    for suffix in ("", "M", "G", "T"):
        text = f"{n}{suffix}"
        if len(text) <= 6:
            return text
        n //= 1024
    return text


# keyword: (header, width, left-justified, value)
VARS = {
    "uid": ("UID", 5, False, lambda kp, c: kp.kp_uid),
    "user": ("USER", 8, True, lambda kp, c: str(kp.kp_uid)),
    "pid": ("PID", 6, False, lambda kp, c: kp.kp_pid),
    "ppid": ("PPID", 6, False, lambda kp, c: kp.kp_ppid),
    "pgid": ("PGID", 6, False, lambda kp, c: kp.kp_pgid),
    "sess": ("SESS", 12, False, lambda kp, c: f"{kp.kp_sess:x}"),
    "jobc": ("JOBC", 4, False, lambda kp, c: 0),
    "cpu": ("CPU", 3, False, lambda kp, c: 0),
    "pri": ("PRI", 3, False, lambda kp, c: kp.kp_lwp.kl_prio if kp.kp_lwp else 0),
    "nice": ("NI", 3, False, lambda kp, c: kp.kp_nice),
    "vsz": ("VSZ", 6, False, lambda kp, c: kbytes(kp.kp_vm_map_size // 1024)),
    "rss": ("RSS", 6, False, lambda kp, c: kbytes(kp.kp_vm_rssize * PAGE // 1024)),
    "wchan": ("WCHAN", 8, True, wchan),
    "state": ("STAT", 6, True, state),
    "tt": ("TT", 4, True, tname),
    "time": ("TIME", 9, False, cputime),
    "command": ("COMMAND", 16, True, command),
}


def columns(o):
    words = []
    for fmt in o.fmt or [DFMT]:
        words += [w for w in fmt.split() if w not in words]
    return words


def format_row(cells, words):
    out = []
    for i, (word, text) in enumerate(zip(words, cells)):
        _, width, left, _ = VARS[word]
        if i == len(words) - 1:
            out.append(str(text))
        else:
            out.append(f"{text:<{width}}" if left else f"{text:>{width}}")
    return " ".join(out)


def termwidth(wide):
    if wide == 1:
        return 131
    if wide >= 2:
        return UNLIMITED
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols):
        return int(cols)
    for fd in (1, 2, 0):
        try:
            n = os.get_terminal_size(fd).columns
            return n - 1 if n else 79
        except OSError:
            continue
    return 79


def select(o, procs):
    """The processes ps shows, sorted by terminal then pid (pscomp)."""
    if o.pids:
        procs = [kp for kp in procs if kp.kp_pid in o.pids]
    else:
        if not o.all:
            procs = [kp for kp in procs if kp.kp_uid == os.getuid()]
        if not o.noctty:
            procs = [kp for kp in procs if kp.kp_tdev != -1 and kp.kp_ctty]
    return sorted(procs, key=lambda kp: (kp.kp_tdev, kp.kp_pid))


def render(kd, o, procs):
    """The lines ps prints for these processes (header first)."""
    words = columns(o)
    ctx = {"kd": kd, "comm": o.comm, "pflags": kd.nlist.get("pflags", {})}
    width = termwidth(o.wide)
    lines = [format_row([VARS[w][0] for w in words], words)]
    for kp in select(o, procs):
        lines.append(format_row([VARS[w][3](kp, ctx) for w in words], words))
    if width != UNLIMITED:
        lines = [line[:width] for line in lines]
    return lines


def main(argv):
    try:
        o = parse(argv)
    except (getopt.GetoptError, ValueError) as e:
        sys.stderr.write(f"ps: {e}\n{USAGE}")
        return 1
    try:
        kd = kvm_openfiles(o.system, o.core)
    except (KvmError, NlistError) as e:
        print(f"ps: {e}", file=sys.stderr)
        return 1
    try:
        procs = kvm_getprocs(kd, KERN_PROC_ALL, 0)
        sys.stdout.write("".join(line + "\n" for line in render(kd, o, procs)))
    except KvmError as e:
        print(f"ps: {e}", file=sys.stderr)
        return 1
    finally:
        kvm_close(kd)
    return 0
