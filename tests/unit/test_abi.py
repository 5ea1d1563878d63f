"""Check vkernel.abi.linux against the C headers of the machine running the tests.

For every module a few small C programs ("probes") are generated, compiled
with gcc and run; each prints JSON with
  * the value of every UPPER_CASE integer constant of the Python module that
    the probe's headers #define (so every such constant is checked, not a
    sample), and
  * sizeof / offsetof / member size / member signedness for every struct
    Layout listed in the probe,
and the test compares them with the Python side.  Hand-written tests at the
end check the pack/unpack helpers against bytes produced by C.
"""
import importlib
import json
import os
import shutil
import signal as host_signal
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

GCC = shutil.which("gcc")
pytestmark = pytest.mark.skipif(GCC is None, reason="gcc is required for the ABI probes")

MASK64 = (1 << 64) - 1


class S:
    """A struct to check: Layout attribute name, C type, {py field: C member | None}."""

    def __init__(self, attr, ctype, rename=None, nosign=(), header_only=False):
        self.attr, self.ctype = attr, ctype
        self.header_only = header_only  # C struct also has a trailing name array
        self.rename = rename or {}
        self.nosign = set(nosign)


class Probe:
    def __init__(self, module, headers, structs=(), skip=(), prelude="", extra=(),
                 min_checked=0, tag="", pre=""):
        self.module, self.headers, self.structs = module, headers, structs
        self.pre = pre
        self.skip, self.prelude, self.extra = set(skip), prelude, extra
        self.min_checked, self.tag = min_checked, tag

    @property
    def id(self):
        return self.module + (":" + self.tag if self.tag else "")


def abi(name):
    return importlib.import_module("vkernel.abi.linux." + name)


def constants(mod):
    return {k: v for k, v in vars(mod).items()
            if k.isupper() and type(v) is int}


def _signed_fmt(fmt):
    return fmt[-1] in "bhilq"


def struct_members(spec, layout):
    """[(py field, C member, format)] for the non-pad fields of a Layout."""
    out = []
    for name, fmt in layout.fields:
        cname = spec.rename.get(name, name)
        if name.startswith("_") or cname is None:
            continue
        out.append((name, cname, fmt))
    return out


C_HEAD = r"""
#include <stdio.h>
#include <stddef.h>
#define SIGNED(x) _Generic((x), char: 1, signed char: 1, short: 1, int: 1, \
    long: 1, long long: 1, default: 0)
#define MEMBER(T, m) (((T *)0)->m)
"""


def c_source(probe):
    mod = abi(probe.module)
    lines = [probe.pre, C_HEAD] + [f"#include <{h}>" for h in probe.headers]
    lines += [probe.prelude, "int main(void) {", 'printf("{\\n");']
    for name in sorted(constants(mod)):
        if name in probe.skip:
            continue
        lines += [f"#ifdef {name}",
                  f'printf("\\"c:{name}\\": %lld,\\n", (long long)({name}));',
                  "#endif"]
    for spec in probe.structs:
        layout = getattr(mod, spec.attr)
        t = spec.ctype
        lines.append(f'printf("\\"size:{spec.attr}\\": %zu,\\n", sizeof({t}));')
        for name, cname, _ in struct_members(spec, layout):
            key = f"{spec.attr}.{name}"
            lines += [
                f'printf("\\"off:{key}\\": %zu,\\n", offsetof({t}, {cname}));',
                f'printf("\\"msz:{key}\\": %zu,\\n", sizeof(MEMBER({t}, {cname})));',
                f'printf("\\"sgn:{key}\\": %d,\\n", SIGNED(MEMBER({t}, {cname})));',
            ]
    for label, cexpr, _ in probe.extra:
        lines.append(f'printf("\\"x:{label}\\": %lld,\\n", (long long)({cexpr}));')
    lines += ['printf("\\"end\\": 0}\\n");', "return 0;", "}"]
    return "\n".join(lines)


_RESULTS = {}


def run_probe(probe, tmp_path_factory):
    if probe.id not in _RESULTS:
        d = tmp_path_factory.mktemp("abi_probe")
        src, exe = d / "probe.c", d / "probe"
        src.write_text(c_source(probe))
        cc = subprocess.run([GCC, "-std=gnu11", "-w", "-o", str(exe), str(src)],
                            capture_output=True, text=True)
        assert cc.returncode == 0, f"probe {probe.id} failed to compile:\n{cc.stderr}"
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
        _RESULTS[probe.id] = json.loads(out.stdout)
    return _RESULTS[probe.id]


# --------------------------------------------------------------------- probes

_SIGFRAME_PRELUDE = r"""
struct rt_sigframe {            /* arch/x86/include/asm/sigframe.h */
    char *pretcode;
    struct ucontext uc;
    siginfo_t info;
};
static long cur_cs(void) { unsigned short v; __asm__("mov %%cs, %0" : "=r"(v)); return v; }
static long cur_ss(void) { unsigned short v; __asm__("mov %%ss, %0" : "=r"(v)); return v; }
"""

GNU = "#define _GNU_SOURCE 1"


def _sf():
    return abi("sigframe")


def _stat():
    return abi("stat")


def _proc():
    return abi("process")


def _sock():
    return abi("socket")


# rt_sigframe offsets of every sigcontext field, and the FRAME_* constants.
_SIGFRAME_EXTRA = [
    (f"frame_{n}", f"offsetof(struct rt_sigframe, uc.uc_mcontext.{n})", o)
    for n, o in _sf().FRAME_REG_OFFSETS.items()
] + [
    ("FRAME_UC", "offsetof(struct rt_sigframe, uc)", _sf().FRAME_UC),
    ("FRAME_INFO", "offsetof(struct rt_sigframe, info)", _sf().FRAME_INFO),
    ("FRAME_UC_STACK", "offsetof(struct rt_sigframe, uc.uc_stack)", _sf().FRAME_UC_STACK),
    ("FRAME_SIGMASK", "offsetof(struct rt_sigframe, uc.uc_sigmask)", _sf().FRAME_SIGMASK),
    ("FRAME_FPSTATE_PTR", "offsetof(struct rt_sigframe, uc.uc_mcontext.fpstate)",
     _sf().FRAME_FPSTATE_PTR),
    ("RT_SIGFRAME_SIZE", "sizeof(struct rt_sigframe)", _sf().RT_SIGFRAME_SIZE),
    ("USER_CS", "cur_cs()", _sf().USER_CS),
    ("USER_DS", "cur_ss()", _sf().USER_DS),
]

_SHMID_PERM = {f"perm_{m}": f"shm_perm.{m}" for m in ("key", "uid", "gid", "cuid", "cgid",
                                                   "mode", "seq")}

PROBES = [
    Probe("errno", ["linux/errno.h"], min_checked=133),
    Probe("signal", ["linux/signal.h", "linux/signalfd.h"],
          # asm/signal.h's legacy NSIG is 32 (ours is _NSIG, 64); SIGRTMAX is
          # defined as the kernel-internal _NSIG there (checked via glibc below).
          skip={"NSIG", "SIGRTMAX"},
          structs=[
              S("SIGACTION", "struct sigaction"),
              S("STACK_T", "stack_t"),
              S("SIGINFO_KILL", "siginfo_t"),
              S("SIGINFO_TIMER", "siginfo_t"),
              S("SIGINFO_RT", "siginfo_t"),
              S("SIGINFO_CHLD", "siginfo_t"),
              S("SIGINFO_FAULT", "siginfo_t"),
              S("SIGINFO_FAULT_PKEY", "siginfo_t"),
              S("SIGINFO_POLL", "siginfo_t"),
              S("SIGINFO_SYS", "siginfo_t"),
              S("SIGNALFD_SIGINFO", "struct signalfd_siginfo"),
          ], min_checked=100),
    Probe("signal", ["signal.h"], tag="glibc",
          skip={"SIGRTMIN", "SIGRTMAX", "NSIG"},  # glibc: 34 / 64 / 65
          extra=[("glibc_sigrtmin", "SIGRTMIN", 34), ("glibc_sigrtmax", "SIGRTMAX", 64),
                 ("glibc_nsig", "NSIG", 65)], min_checked=80),
    Probe("sigframe", ["asm/sigcontext.h", "linux/signal.h", "asm/ucontext.h",
                       "asm/processor-flags.h"],
          prelude=_SIGFRAME_PRELUDE, extra=_SIGFRAME_EXTRA,
          structs=[
              S("SIGCONTEXT", "struct sigcontext"),
              S("FXSAVE", "struct _fpstate_64"),
              S("UCONTEXT", "struct ucontext"),
              S("RT_SIGFRAME", "struct rt_sigframe"),
          ], min_checked=24),
    Probe("sigframe", ["sys/user.h"], tag="glibc",
          structs=[
              S("USER_REGS", "struct user_regs_struct"),
              S("FXSAVE", "struct user_fpregs_struct",
                rename={"twd": "ftw", "mxcsr_mask": "mxcr_mask",
                        "reserved2": None, "sw_reserved": None}),
          ],
          extra=[("user_fpregs_size", "sizeof(struct user_fpregs_struct)", 512),
                 ("user_regs_size", "sizeof(struct user_regs_struct)", 216)]),
]

_STATX_TS = {f"stx_{t}time_{f}": f"stx_{t}time.tv_{f}"
             for t in "abcm" for f in ("sec", "nsec")}
_LEGACY_DIRENT = r"""
struct linux_dirent {           /* fs/readdir.c */
    unsigned long d_ino;
    unsigned long d_off;
    unsigned short d_reclen;
    char d_name[];
};
"""
_TIMES = {f"{w}_{p}": f"{w}.tv_{p}" for w in ("it_interval", "it_value")
          for p in ("sec", "nsec", "usec")}
_RU = {f"ru_{w}time_{p}": f"ru_{w}time.tv_{p}" for w in "us" for p in ("sec", "usec")}
_MMSG = {n: "msg_hdr." + n for n in
         ("msg_name", "msg_namelen", "msg_iov", "msg_iovlen", "msg_control",
          "msg_controllen", "msg_flags")}

PROBES += [
    Probe("fcntl", ["linux/fcntl.h", "linux/fs.h", "linux/openat2.h"],
          structs=[S("FLOCK", "struct flock"), S("OPEN_HOW", "struct open_how"),
                   S("F_OWNER_EX", "struct f_owner_ex")],
          min_checked=90),
    Probe("fcntl", ["fcntl.h", "unistd.h", "stdio.h"], tag="glibc", pre=GNU,
          # glibc x86-64: O_LARGEFILE is 0 (kernel: 0o100000) and __O_TMPFILE
          # includes O_DIRECTORY (kernel: the bare bit).
          skip={"O_LARGEFILE", "__O_TMPFILE"},
          structs=[S("FLOCK", "struct flock")], min_checked=60),
    Probe("stat", ["asm/stat.h", "linux/stat.h", "asm/statfs.h", "linux/magic.h"],
          prelude=_LEGACY_DIRENT,
          structs=[
              S("STAT", "struct stat",
                nosign={f"st_{t}time{n}" for t in "acm" for n in ("", "_nsec")}),
              S("STATX", "struct statx", rename=_STATX_TS),
              S("STATX_TIMESTAMP", "struct statx_timestamp"),
              S("STATFS", "struct statfs",
                rename={"f_fsid0": "f_fsid.val[0]", "f_fsid1": "f_fsid.val[1]"}),
              S("DIRENT", "struct linux_dirent", header_only=True),
          ],
          extra=[("dirent_name", "offsetof(struct linux_dirent, d_name)",
                  _stat().DIRENT_NAME_OFFSET)],
          min_checked=45),
    Probe("stat", ["sys/stat.h", "sys/statvfs.h", "dirent.h", "sys/sysmacros.h"],
          tag="glibc", pre=GNU,
          structs=[S("DIRENT64", "struct dirent64", header_only=True)],
          extra=[
              ("d_name", "offsetof(struct dirent64, d_name)", _stat().DIRENT64_NAME_OFFSET),
              ("makedev", "makedev(0x12345, 0xabcdef)", _stat().makedev(0x12345, 0xABCDEF)),
              ("makedev2", "makedev(136, 3)", _stat().makedev(136, 3)),
              ("major", "major(0x123456789abcULL)", _stat().major(0x123456789ABC)),
              ("minor", "minor(0x123456789abcULL)", _stat().minor(0x123456789ABC)),
              ("dtype_dir", "IFTODT(S_IFDIR)", _stat().mode_to_dtype(0o40000)),
              ("dtype_lnk", "IFTODT(S_IFLNK)", _stat().mode_to_dtype(0o120000)),
          ],
          min_checked=40),
    Probe("mman", ["linux/mman.h", "linux/memfd.h", "asm/mman.h"], min_checked=50),
    Probe("mman", ["sys/mman.h", "unistd.h"], tag="glibc", pre=GNU,
          extra=[("PAGE_SIZE", "sysconf(_SC_PAGESIZE)", 4096)], min_checked=50),
    Probe("termios", ["asm/termios.h"],
          structs=[S("TERMIOS", "struct termios"), S("TERMIOS2", "struct termios2"),
                   S("WINSIZE", "struct winsize")],
          min_checked=150),
    Probe("ioctl", ["asm/ioctl.h", "asm/ioctls.h", "asm/termbits.h", "linux/fs.h",
                    "asm/sockios.h", "linux/sockios.h"],
          extra=[("TCGETS2", "TCGETS2", abi("ioctl").TCGETS2),
                 ("BLKGETSIZE64", "BLKGETSIZE64", abi("ioctl").BLKGETSIZE64)],
          min_checked=110),
    Probe("time", ["linux/time.h", "linux/timerfd.h", "linux/resource.h",
                   "linux/sysinfo.h", "linux/times.h", "linux/fs.h"],
          structs=[
              S("TIMESPEC", "struct timespec"), S("TIMEVAL", "struct timeval"),
              S("ITIMERSPEC", "struct itimerspec", rename=_TIMES),
              S("ITIMERVAL", "struct itimerval", rename=_TIMES),
              S("TIMEZONE", "struct timezone"), S("TMS", "struct tms"),
              S("SYSINFO", "struct sysinfo",
                rename={f"loads{i}": f"loads[{i}]" for i in range(3)}),
              S("RUSAGE", "struct rusage", rename=_RU),
              S("RLIMIT", "struct rlimit"),
          ],
          min_checked=45),
    Probe("time", ["time.h", "sys/time.h", "sys/resource.h", "sys/times.h", "unistd.h"],
          tag="glibc", pre=GNU, skip={"CLOCK_SGI_CYCLE", "MAX_CLOCKS"},
          extra=[("CLK_TCK", "sysconf(_SC_CLK_TCK)", 100)],
          min_checked=30),
    Probe("process", ["linux/sched.h", "linux/sched/types.h", "linux/wait.h",
                      "linux/futex.h", "linux/prctl.h", "asm/prctl.h",
                      "linux/utsname.h", "linux/reboot.h", "linux/resource.h"],
          structs=[
              S("CLONE_ARGS", "struct clone_args"),
              S("SCHED_ATTR", "struct sched_attr"),
              S("ROBUST_LIST_HEAD", "struct robust_list_head",
                rename={"list_next": "list.next"}),
              S("FUTEX_WAITV", "struct futex_waitv"),
              S("UTSNAME", "struct new_utsname"),
          ],
          extra=[("FUTEX_OP", "FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_GT, 1)",
                  _proc().FUTEX_OP(1, 1, 4, 1)),
                 ("FUTEX_OP2", "(unsigned)FUTEX_OP(FUTEX_OP_XOR | FUTEX_OP_OPARG_SHIFT, 0xfff, 5, 0x800)",
                  _proc().FUTEX_OP(4 | 8, 0xFFF, 5, 0x800)),
                 ("NEW_UTS_LEN", "__NEW_UTS_LEN", _proc().NEW_UTS_LEN)],
          min_checked=150),
    Probe("process", ["sys/wait.h", "sched.h", "sys/resource.h"], tag="glibc", pre=GNU,
          structs=[S("SCHED_PARAM", "struct sched_param")],
          extra=[("W_EXITCODE", "W_EXITCODE(3, 0)", _proc().W_EXITCODE(3, 0)),
                 ("W_EXITCODE_sig", "W_EXITCODE(0, 9)", _proc().W_EXITCODE(0, 9)),
                 ("W_STOPCODE", "W_STOPCODE(19)", _proc().W_STOPCODE(19)),
                 ("WCOREFLAG", "WCOREFLAG", _proc().WCOREFLAG),
                 ("W_CONTINUED", "__W_CONTINUED", _proc().W_CONTINUED),
                 ("W_STOPPED", "W_STOPCODE(0)", _proc().W_STOPPED)],
          min_checked=30),
    Probe("auxv", ["linux/auxvec.h", "asm/auxvec.h", "asm/hwcap2.h"], min_checked=25),
    Probe("auxv", ["elf.h"], tag="glibc",
          extra=[("auxv_t", "sizeof(Elf64_auxv_t)", 16)], min_checked=45),
    Probe("poll", ["linux/poll.h"], structs=[S("POLLFD", "struct pollfd")],
          min_checked=13),
    Probe("epoll", ["linux/eventpoll.h"], structs=[S("EPOLL_EVENT", "struct epoll_event")],
          min_checked=21),
    Probe("eventfd", ["sys/eventfd.h"], min_checked=3),
    Probe("select", ["sys/select.h"], pre=GNU,
          extra=[("fd_set", "sizeof(fd_set)", 128)], min_checked=2),
    Probe("socket", ["sys/socket.h", "sys/un.h", "netinet/in.h", "netinet/tcp.h",
                     "netinet/udp.h", "limits.h"], pre=GNU,
          structs=[
              S("IOVEC", "struct iovec"),
              S("MSGHDR", "struct msghdr", nosign={"msg_namelen"}),  # glibc: socklen_t
              S("MMSGHDR", "struct mmsghdr", rename=_MMSG, nosign={"msg_namelen"}),
              S("CMSGHDR", "struct cmsghdr"),
              S("UCRED", "struct ucred"), S("LINGER", "struct linger"),
              S("SOCKADDR_UN", "struct sockaddr_un"),
              S("SOCKADDR_IN", "struct sockaddr_in"),
              S("SOCKADDR_IN6", "struct sockaddr_in6"),
          ],
          extra=[("CMSG_LEN", "CMSG_LEN(4)", _sock().CMSG_LEN(4)),
                 ("CMSG_SPACE", "CMSG_SPACE(4)", _sock().CMSG_SPACE(4)),
                 ("CMSG_SPACE24", "CMSG_SPACE(24)", _sock().CMSG_SPACE(24)),
                 ("CMSG_ALIGN", "CMSG_ALIGN(5)", _sock().CMSG_ALIGN(5)),
                 ("sockaddr_storage", "sizeof(struct sockaddr_storage)",
                  _sock().SOCKADDR_STORAGE_SIZE),
                 ("IOV_MAX", "IOV_MAX", _sock().UIO_MAXIOV),
                 ("sun_path", "sizeof(((struct sockaddr_un *)0)->sun_path)",
                  _sock().UNIX_PATH_MAX)],
          min_checked=110),
    Probe("syslog", ["sys/syslog.h"],
          extra=[(f"LOG_{n}", f"LOG_{n}", getattr(abi("syslog"), "LOGLEVEL_" + n))
                 for n in ("EMERG", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE",
                           "INFO", "DEBUG")]),
    Probe("random", ["linux/random.h"], min_checked=10),
    Probe("ipc", ["linux/ipc.h", "linux/shm.h", "asm/shmbuf.h"],
          structs=[S("IPC64_PERM", "struct ipc64_perm"),
                   S("SHMID64_DS", "struct shmid64_ds", rename=_SHMID_PERM),
                   S("SHMINFO64", "struct shminfo64"),
                   S("SHM_INFO_DS", "struct shm_info")],
          skip={"SHMMAX", "SHMALL", "SHMSEG", "SHMLBA", "SHMMIN", "IPCMNI"},
          min_checked=20),
]


def _check_constants(probe, res):
    mod = abi(probe.module)
    bad = []
    for name, value in constants(mod).items():
        key = "c:" + name
        if key in res and (res[key] - value) & MASK64:
            bad.append(f"{name}: python {value:#x}, C {res[key] & MASK64:#x}")
    return bad


def _check_struct(spec, layout, res):
    bad = []
    if not spec.header_only and res["size:" + spec.attr] != layout.size:
        bad.append(f"sizeof({spec.ctype}) C {res['size:' + spec.attr]} py {layout.size}")
    for name, cname, fmt in struct_members(spec, layout):
        key = f"{spec.attr}.{name}"
        size = struct.calcsize("<" + fmt)
        if res["off:" + key] != layout.offsets[name]:
            bad.append(f"{key}: offset C {res['off:' + key]} py {layout.offsets[name]}")
        if res["msz:" + key] != size:
            bad.append(f"{key}: size C {res['msz:' + key]} py {size}")
        if name not in spec.nosign and res["sgn:" + key] != _signed_fmt(fmt):
            bad.append(f"{key}: signedness C {res['sgn:' + key]} py fmt {fmt!r}")
    return bad


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.id)
def test_constants_match_headers(probe, tmp_path_factory):
    res = run_probe(probe, tmp_path_factory)
    assert _check_constants(probe, res) == []
    checked = sum(1 for k in res if k.startswith("c:"))
    assert checked >= probe.min_checked, f"only {checked} constants seen by C"


@pytest.mark.parametrize("probe", [p for p in PROBES if p.structs or p.extra],
                         ids=lambda p: p.id)
def test_structs_match_headers(probe, tmp_path_factory):
    res = run_probe(probe, tmp_path_factory)
    mod = abi(probe.module)
    bad = []
    for spec in probe.structs:
        bad += _check_struct(spec, getattr(mod, spec.attr), res)
    for label, _, value in probe.extra:
        if (res["x:" + label] - value) & MASK64:
            bad.append(f"{label}: C {res['x:' + label]} py {value}")
    assert bad == []


# --------------------------------------------------------------------- live checks
# Small C programs that make real syscalls and dump the raw bytes, which the
# Python layouts must decode (and, where possible, re-encode byte for byte).

def run_c(source, tmp_path_factory, *args):
    d = tmp_path_factory.mktemp("abi_live")
    src, exe = d / "live.c", d / "live"
    src.write_text(source)
    cc = subprocess.run([GCC, "-std=gnu11", "-O0", "-w", "-o", str(exe), str(src), "-lpthread"],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    out = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


HEXDUMP_C = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <pthread.h>
#include <sys/syscall.h>
static void hex(const char *key, const void *p, long n) {
    const unsigned char *b = p;
    printf("\"%s\": \"", key);
    for (long i = 0; i < n; i++) printf("%02x", b[i]);
    printf("\", ");
}
"""

FRAME_C = HEXDUMP_C + r"""
static void handler(int sig, siginfo_t *si, void *uc) {
    unsigned char *frame = (unsigned char *)uc - 8;
    uint64_t fp;
    memcpy(&fp, frame + 232, 8);
    printf("{\"frame\": %lu, \"info\": %lu, \"uc\": %lu, ",
           (unsigned long)frame, (unsigned long)si, (unsigned long)uc);
    hex("frame_bytes", frame, 440);
    hex("fx", (void *)fp, 512);
}
int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    uint64_t k[4];
    syscall(SYS_rt_sigaction, SIGUSR1, NULL, k, 8);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGWINCH);
    sigprocmask(SIG_BLOCK, &m, NULL);
    kill(getpid(), SIGUSR1);
    hex("kact", k, 32);
    printf("\"handler\": %lu, \"pid\": %d, \"uid\": %d}\n",
           (unsigned long)handler, getpid(), getuid());
    return 0;
}
"""


def test_live_rt_sigframe(tmp_path_factory):
    sf, sg = abi("sigframe"), abi("signal")
    d = run_c(FRAME_C, tmp_path_factory)
    frame, raw = d["frame"], bytes.fromhex(d["frame_bytes"])
    assert frame % 16 == 8
    assert d["uc"] - frame == sf.FRAME_UC and d["info"] - frame == sf.FRAME_INFO
    act = sg.unpack_sigaction(bytes.fromhex(d["kact"]))
    assert act.sa_handler == d["handler"]
    assert act.sa_flags & sg.SA_SIGINFO and act.sa_flags & sg.SA_RESTORER
    assert act.sa_mask == sg.sigmask(sg.SIGUSR2)
    fr = sf.unpack_rt_sigframe(raw)
    assert fr["pretcode"] == act.sa_restorer
    assert fr["sigmask"] == sg.sigmask(sg.SIGWINCH) == fr["regs"]["oldmask"]
    assert fr["uc_flags"] & sf.UC_SIGCONTEXT_SS
    assert fr["regs"]["cs"] == sf.USER_CS and fr["regs"]["ss"] == sf.USER_DS
    assert fr["info"] == sg.siginfo_kill(sg.SIGUSR1, sg.SI_USER, d["pid"], d["uid"])
    fpstate = fr["regs"]["fpstate"]
    assert fpstate % sf.FPSTATE_ALIGN == 0 and fpstate >= frame + sf.RT_SIGFRAME_SIZE
    assert sf.sigframe_addresses(fpstate + sf.FXSAVE_SIZE) == (frame, fpstate)
    # Re-encoding what we decoded gives the kernel's bytes back exactly.
    regs = fr["regs"]
    again = sf.pack_rt_sigframe(
        fr["pretcode"], regs, fr["sigmask"], fr["info"], stack=tuple(fr["stack"]),
        fpstate=fpstate, uc_flags=fr["uc_flags"], err=regs["err"],
        trapno=regs["trapno"], cr2=regs["cr2"])
    # The kernel never writes the padding of uc_stack or sigcontext.reserved1.
    assert _zero_pads(again) == _zero_pads(raw)
    fx = sf.FXSAVE.unpack(bytes.fromhex(d["fx"]))
    assert fx.cwd == sf.FPU_DEFAULT_CWD and fx.mxcsr == sf.FPU_DEFAULT_MXCSR


def _zero_pads(frame):
    sf = abi("sigframe")
    b = bytearray(frame)
    stack_pad = sf.FRAME_UC_STACK + sf.STACK_T.offsets["_pad0"]
    reserved = sf.FRAME_SIGCONTEXT + sf.SIGCONTEXT.offsets["reserved1"]
    b[stack_pad:stack_pad + 4] = bytes(4)
    b[reserved:reserved + 64] = bytes(64)
    return bytes(b)


FS_C = HEXDUMP_C + r"""
#include <sys/stat.h>
#include <sys/statfs.h>
int main(int argc, char **argv) {
    static unsigned char buf[65536], st[144], stx[256], sfs[120];
    int fd = open(argv[1], O_RDONLY | O_DIRECTORY);
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    printf("{");
    hex("dents64", buf, n);
    memset(buf, 0, sizeof buf);
    lseek(fd, 0, SEEK_SET);
    n = syscall(SYS_getdents, fd, buf, sizeof buf);
    hex("dents", buf, n);
    syscall(SYS_newfstatat, AT_FDCWD, argv[2], st, 0);
    hex("stat", st, sizeof st);
    syscall(SYS_statx, AT_FDCWD, argv[2], 0, 0xfff, stx);
    hex("statx", stx, sizeof stx);
    syscall(SYS_statfs, argv[1], sfs);
    hex("statfs", sfs, sizeof sfs);
    printf("\"end\": 0}\n");
    return 0;
}
"""


def _records(raw, name_offset):
    off = 0
    while off < len(raw):
        reclen = struct.unpack_from("<H", raw, 16 + off)[0]
        yield raw[off:off + reclen], raw[off + name_offset:off + reclen].split(b"\0")[0]
        off += reclen


def test_live_getdents_stat_statx_statfs(tmp_path_factory):
    st = abi("stat")
    d = tmp_path_factory.mktemp("dents")
    names = [b"a", b"bb", b"x" * 5, b"y" * 12, b"z" * 13, b"w" * 100]
    for n in names:
        (d / n.decode()).write_bytes(n)
    os.mkdir(d / "sub")
    f = d / names[3].decode()
    res = run_c(FS_C, tmp_path_factory, d, f)
    seen = set()
    for rec, name in _records(bytes.fromhex(res["dents64"]), st.DIRENT64_NAME_OFFSET):
        h = st.DIRENT64.unpack(rec)
        want = st.DT_DIR if name in (b".", b"..", b"sub") else st.DT_REG
        assert h.d_type == want and h.d_reclen == st.dirent64_reclen(name)
        assert st.pack_dirent64(h.d_ino, h.d_off, h.d_type, name) == rec
        seen.add(name)
    assert seen == set(names) | {b".", b"..", b"sub"}
    for rec, name in _records(bytes.fromhex(res["dents"]), st.DIRENT_NAME_OFFSET):
        h = st.DIRENT.unpack(rec)
        assert st.pack_dirent(h.d_ino, h.d_off, rec[-1], name) == rec
    ref = os.stat(f)
    s = st.unpack_stat(bytes.fromhex(res["stat"]))
    assert (s.st_ino, s.st_mode, s.st_size, s.st_nlink, s.st_dev, s.st_uid) == (
        ref.st_ino, ref.st_mode, ref.st_size, ref.st_nlink, ref.st_dev, ref.st_uid)
    assert (s.st_mtime, s.st_mtime_nsec) == divmod(ref.st_mtime_ns, 10**9)
    assert st.pack_stat(**s._asdict()) == bytes.fromhex(res["stat"])
    x = st.unpack_statx(bytes.fromhex(res["statx"]))
    assert x.stx_mask & st.STATX_BASIC_STATS == st.STATX_BASIC_STATS
    assert (x.stx_ino, x.stx_mode, x.stx_size) == (ref.st_ino, ref.st_mode, ref.st_size)
    assert st.makedev(x.stx_dev_major, x.stx_dev_minor) == ref.st_dev
    assert (x.stx_mtime_sec, x.stx_mtime_nsec) == divmod(ref.st_mtime_ns, 10**9)
    assert st.pack_statx(**x._asdict()) == bytes.fromhex(res["statx"])
    fs = st.STATFS.unpack(bytes.fromhex(res["statfs"]))
    vfs = os.statvfs(d)
    assert (fs.f_bsize, fs.f_blocks, fs.f_files) == (vfs.f_bsize, vfs.f_blocks, vfs.f_files)
    assert fs.f_flags & st.ST_VALID
    assert st.pack_statfs(**fs._asdict()) == bytes.fromhex(res["statfs"])


MISC_C = HEXDUMP_C + r"""
#include <sys/utsname.h>
#include <sys/resource.h>
int main(void) {
    clockid_t pc, tc;
    unsigned char uts[390], si[112], ru[144], rl[16];
    clock_getcpuclockid(getpid(), &pc);
    pthread_getcpuclockid(pthread_self(), &tc);
    syscall(SYS_uname, uts);
    syscall(SYS_sysinfo, si);
    syscall(SYS_getrusage, RUSAGE_SELF, ru);
    syscall(SYS_getrlimit, RLIMIT_NOFILE, rl);
    printf("{");
    hex("uts", uts, sizeof uts);
    hex("sysinfo", si, sizeof si);
    hex("rusage", ru, sizeof ru);
    hex("rlimit", rl, sizeof rl);
    printf("\"pid\": %d, \"tid\": %ld, \"pclock\": %d, \"tclock\": %d}\n",
           getpid(), (long)syscall(SYS_gettid), (int)pc, (int)tc);
    return 0;
}
"""


def test_live_clocks_uname_sysinfo_rusage(tmp_path_factory):
    tm, pr = abi("time"), abi("process")
    d = run_c(MISC_C, tmp_path_factory)
    assert d["pclock"] == tm.make_process_cpuclock(d["pid"], tm.CPUCLOCK_SCHED)
    assert d["tclock"] == tm.make_thread_cpuclock(d["tid"], tm.CPUCLOCK_SCHED)
    assert tm.cpuclock_pid(d["pclock"]) == d["pid"]
    u = pr.UTSNAME.unpack(bytes.fromhex(d["uts"]))
    host = os.uname()
    assert u.sysname.rstrip(b"\0").decode() == host.sysname
    assert u.release.rstrip(b"\0").decode() == host.release
    assert u.machine.rstrip(b"\0") == b"x86_64"
    fields = {f: getattr(u, f).rstrip(b"\0") for f in pr.UTS_FIELDS}
    assert pr.pack_utsname(**fields) == bytes.fromhex(d["uts"])
    si = tm.SYSINFO.unpack(bytes.fromhex(d["sysinfo"]))
    assert si.uptime > 0 and si.totalram > si.freeram > 0 and si.procs > 0
    assert si.mem_unit >= 1 and tm.pack_sysinfo(**si._asdict()) == bytes.fromhex(d["sysinfo"])
    ru = tm.RUSAGE.unpack(bytes.fromhex(d["rusage"]))
    assert ru.ru_maxrss > 0 and tm.pack_rusage(**ru._asdict()) == bytes.fromhex(d["rusage"])
    import resource
    assert tm.unpack_rlimit(bytes.fromhex(d["rlimit"])) == tuple(
        v & MASK64 for v in resource.getrlimit(resource.RLIMIT_NOFILE))


def test_live_syslog_size_actions(tmp_path_factory):
    sl = abi("syslog")
    src = ("#include <stdio.h>\n#include <sys/klog.h>\n"
           "int main(void) { printf(\"[%d, %d]\\n\", "
           f"klogctl({sl.SYSLOG_ACTION_SIZE_BUFFER}, 0, 0), "
           f"klogctl({sl.SYSLOG_ACTION_SIZE_UNREAD}, 0, 0)); return 0; }}\n")
    size, unread = run_c(src, tmp_path_factory)
    if size < 0:
        pytest.skip("syslog(2) not permitted here")
    assert size >= 4096 and size & (size - 1) == 0 and 0 <= unread <= size


# --------------------------------------------------------------------- pure Python

def test_errno_table():
    er = abi("errno")
    assert er.ENOSYS == 38 and er.strerror(38) == "Function not implemented"
    assert er.EHWPOISON == 133 and er.ERESTARTSYS == 512
    assert er.ERESTART_RESTARTBLOCK == 516 and er.EWOULDBLOCK == er.EAGAIN
    for n in range(0, 200):
        assert er.strerror(n) == os.strerror(n), n
    assert er.strerror(er.ERESTARTSYS) == os.strerror(512)
    assert set(er.ERRNO_NAMES) == set(range(1, 134)) - {41, 58} | {512, 513, 514, 515, 516}
    assert all(getattr(er, name) == n for n, name in er.ERRNO_NAMES.items())


def test_signal_tables():
    sg = abi("signal")
    assert set(sg.DEFAULT_ACTIONS) == set(range(1, 65)) == set(sg.SIGNAL_NAMES)
    assert sg.DEFAULT_ACTIONS[sg.SIGCHLD] == "ign" and sg.DEFAULT_ACTIONS[sg.SIGSEGV] == "core"
    assert sg.DEFAULT_ACTIONS[sg.SIGTSTP] == "stop" and sg.DEFAULT_ACTIONS[sg.SIGCONT] == "cont"
    assert sg.DEFAULT_ACTIONS[40] == "term"
    for sig in range(1, 32):
        assert sg.SIGNAL_NAMES[sig] == host_signal.Signals(sig).name or sig in (6, 29)
        assert sg.strsignal(sig) == host_signal.strsignal(sig)
    core = {s for s, a in sg.DEFAULT_ACTIONS.items() if a == "core"}
    assert sg.sigset_of(core) == sg.SIG_KERNEL_COREDUMP_MASK
    assert sg.sigmask(1) == 1 and sg.sigmask(64) == 1 << 63
    assert sg.sigset_members(sg.sigset_of([2, 9, 64])) == [2, 9, 64]
    assert sg.SIGACTION.size == 32 and sg.STACK_T.size == 24
    info = sg.siginfo_chld(sg.CLD_EXITED, 42, 1000, 3, utime=5, stime=6)
    assert len(info) == 128 and struct.unpack_from("<iiiiiIiiqq", info) == (
        17, 0, 1, 0, 42, 1000, 3, 0, 5, 6)


def test_strsignal_matches_glibc_for_rt_signals():
    import ctypes
    libc = ctypes.CDLL(None)
    libc.strsignal.restype = ctypes.c_char_p
    for sig in range(0, 66):
        assert abi("signal").strsignal(sig) == libc.strsignal(sig).decode(), sig


def test_wait_status_helpers_match_os():
    pr = abi("process")
    statuses = [pr.W_EXITCODE(0, 0), pr.W_EXITCODE(3, 0), pr.W_EXITCODE(0, 9),
                pr.W_EXITCODE(0, 11) | pr.WCOREFLAG, pr.W_STOPCODE(19),
                pr.W_STOPCODE(5) | (1 << 16), pr.W_CONTINUED]
    for st in statuses:
        assert pr.WIFEXITED(st) == os.WIFEXITED(st)
        assert pr.WIFSIGNALED(st) == os.WIFSIGNALED(st)
        assert pr.WIFSTOPPED(st) == os.WIFSTOPPED(st)
        assert pr.WIFCONTINUED(st) == os.WIFCONTINUED(st)
        assert pr.WCOREDUMP(st) == os.WCOREDUMP(st)
        assert (pr.WEXITSTATUS(st), pr.WTERMSIG(st), pr.WSTOPSIG(st)) == (
            os.WEXITSTATUS(st), os.WTERMSIG(st), os.WSTOPSIG(st))


def test_futex_op_decode():
    pr = abi("process")
    word = pr.FUTEX_OP(pr.FUTEX_OP_ADD | pr.FUTEX_OP_OPARG_SHIFT, 5, pr.FUTEX_OP_CMP_GT, -1)
    assert pr.futex_op_decode(word) == (pr.FUTEX_OP_ADD, True, 5, pr.FUTEX_OP_CMP_GT, -1)
    assert pr.futex_op_decode(pr.FUTEX_OP(4, -2048, 5, 2047)) == (4, False, -2048, 5, 2047)


def test_ioctl_encoding_and_names():
    io = abi("ioctl")
    import termios as host_termios
    assert io.TCGETS == host_termios.TCGETS and io.TIOCGWINSZ == host_termios.TIOCGWINSZ
    assert io.BLKGETSIZE64 == 0x80081272 and io.TIOCGPTN == 0x80045430
    assert (io._IOC_DIR(io.TCGETS2), io._IOC_TYPE(io.TCGETS2), io._IOC_NR(io.TCGETS2),
            io._IOC_SIZE(io.TCGETS2)) == (io._IOC_READ, ord("T"), 0x2A, 44)
    assert len(io.IOCTL_NAMES) == len(io._NAMED)  # no two names share a number
    assert io.ioctl_name(io.FIONREAD) == "FIONREAD" and io.ioctl_name(0x12345) == "0x12345"


def test_termios_defaults_match_a_fresh_pty():
    tt = abi("termios")
    import fcntl as host_fcntl
    try:
        master, slave = os.openpty()
    except OSError as e:
        pytest.skip(f"no pty: {e}")
    try:
        raw = host_fcntl.ioctl(slave, abi("ioctl").TCGETS, bytes(tt.TERMIOS_SIZE))
        raw2 = host_fcntl.ioctl(slave, abi("ioctl").TCGETS2, bytes(tt.TERMIOS2_SIZE))
    finally:
        os.close(master)
        os.close(slave)
    assert raw == tt.pack_termios(cflag=tt.PTY_DEFAULT_CFLAG)
    assert raw2 == tt.pack_termios2(cflag=tt.PTY_DEFAULT_CFLAG)
    assert tt.DEFAULT_CC[tt.VINTR] == 3 and tt.DEFAULT_CC[tt.VERASE] == 0x7F
    assert tt.unpack_winsize(tt.pack_winsize(50, 132)) == (50, 132, 0, 0)


def test_misc_layout_helpers():
    st, sk, ep, tm = abi("stat"), abi("socket"), abi("epoll"), abi("time")
    assert st.STAT.size == 144 and st.STATX.size == 256 and st.STATFS.size == 120
    assert st.major(st.makedev(259, 65536)) == 259 and st.minor(st.makedev(259, 65536)) == 65536
    assert st.dirent64_reclen(b"a") == 24 and st.dirent64_reclen(b"abcde") == 32
    assert ep.EPOLL_EVENT_SIZE == 12 and ep.unpack_epoll_event(ep.pack_epoll_event(1, 2)) == (1, 2)
    assert sk.pack_cmsg(sk.SOL_SOCKET, sk.SCM_RIGHTS, struct.pack("<i", 7)) == struct.pack(
        "<Qiii4x", 20, 1, 1, 7)
    assert sk.pack_sockaddr_un(b"/tmp/x") == b"\x01\x00/tmp/x"
    assert tm.unpack_itimerspec(tm.pack_itimerspec((1, 2), (3, 4))) == ((1, 2), (3, 4))
    assert tm.RLIM_INFINITY == 2**64 - 1 and tm.RUSAGE.size == 144 and tm.SYSINFO.size == 112
    with pytest.raises(TypeError):
        st.pack_stat(st_bogus=1)


ABI_DIR = os.path.join(ROOT, "vkernel", "abi", "linux")


def _abi_modules():
    return sorted(f[:-3] for f in os.listdir(ABI_DIR)
                  if f.endswith(".py") and f not in ("syscalls.py",))


@pytest.mark.parametrize("name", _abi_modules())
def test_module_is_data_only(name):
    import ast
    path = os.path.join(ABI_DIR, name + ".py")
    text = open(path).read()
    tree = ast.parse(text)
    assert ast.get_docstring(tree), f"{name}.py needs a module docstring"
    assert len(text.splitlines()) <= 600
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 1 or node.module in ("struct", "collections"), node.module
        elif isinstance(node, ast.Import):
            assert all(a.name in ("struct",) for a in node.names)
    importlib.import_module("vkernel.abi.linux." + name if name != "__init__"
                            else "vkernel.abi.linux")
