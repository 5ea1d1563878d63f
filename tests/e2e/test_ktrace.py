"""ktrace(2), utrace(2), ktrace(1) and kdump(1) (issue 4, the ktrace part).

End to end: guests run `ktrace ...; kdump` inside the vkernel and the test
reads kdump's lines (DragonFly's formats with Linux names).  In process:
kern_ktrace's clear path with and without the debug.ktrace_clear_bug
switch, permissions, and record layouts, which the host-built kdump then
decodes (USER, CSW, threaded headers).
Run with:  cd /work/main && python3 -m pytest tests/e2e/test_ktrace.py -q
"""
import re
import struct
import subprocess
import traceback
import types

import pytest

from conftest import run_vk
from vkernel.abi.linux import errno as E
from vkernel.abi.linux.syscalls import NR
from vkernel.abi.vkernel import ktrace as K
from vkernel.fs.hostfs import HostMount
from vkernel.kernel import kern_ktrace, kern_proc, kern_vfs
from vkernel.kernel.errors import KernelError
from vkernel.kernel.proc import SACTIVE, Lwp, Proc, Ucred
from vkernel.vfs.mount import MountTable

USAGE = ("usage: ktrace [-aCcdi] [-f trfile] [-g pgrp | -p pid] [-t cnisuw]\n"
         "       ktrace [-adi] [-f trfile] [-t cnisuw] command\n")


KERNEL_LOG = re.compile(r"^pid \d+ \(.*\): .*\n", re.M)


def sh(root, script, timeout=120):
    """Run a shell script in the vkernel in a new directory; returns (console output, status).

    Guest stdout and stderr share the console; kernel log lines are removed.
    """
    r = run_vk(root, "/bin/sh", "-c", 'cd "$(mktemp -d)"; ' + script, timeout=timeout)
    out = (r.stdout + r.stderr).decode(errors="replace")
    return KERNEL_LOG.sub("", out), r.returncode


def records(out, comm=None, kind=None):
    """kdump lines as (pid, comm, type, rest), optionally filtered."""
    got = []
    for line in out.splitlines():
        m = re.match(r"^ {0,4}(\d+)(?::\d+ *)? (\S+) +(CALL|RET |NAMI|GIO |PSIG|USER|CSW)  (.*)$",
                     line)
        if m and (comm is None or m[2] == comm) and (kind is None or m[3].strip() == kind):
            got.append((int(m[1]), m[2], m[3].strip(), m[4]))
    return got


# -- ktrace ./t_aio; kdump ---------------------------------------------------------------
def test_t_aio_failing_call(root):
    out, _ = sh(root, "ktrace /usr/local/bin/t_aio; kdump")
    assert out.startswith("aio_read: Function not implemented\n")
    lines = out.splitlines()[1:]
    call = next(i for i, l in enumerate(lines) if "CALL  io_setup(" in l)
    pid = lines[call][:5].strip()
    assert re.fullmatch(r" {0,4}\d+ t_aio    CALL  io_setup\(0x80,0x7[0-9a-f]+\)", lines[call])
    assert lines[call + 1] == f"{pid:>5} t_aio    RET   io_setup -1 errno 38 Function not implemented"
    # ktrace(1) traced itself from its own ktrace(2) on: RET, the exec and its lookup
    assert lines[:3] == [f"{pid:>5} ktrace   RET   ktrace 0",
                         lines[1], f'{pid:>5} ktrace   NAMI  "/usr/local/bin/t_aio"']
    assert re.fullmatch(r" +\d+ ktrace   CALL  execve\(0x[0-9a-f]+,0x[0-9a-f]+,0x[0-9a-f]+\)",
                        lines[1])
    assert lines[-1].endswith("t_aio    CALL  exit_group(0x1)")


def test_genio_records_the_written_line(root):
    out, _ = sh(root, "ktrace -t i /usr/local/bin/t_ktrace_io >/dev/null; kdump")
    lines = out.splitlines()
    assert lines[0][5:] == " t_ktrace_io GIO   fd 1 wrote 36 bytes"
    assert lines[1:3] == ['       "ktrace io line: 0123456789abcdefghi', '       "']
    assert lines[3][5:] == " t_ktrace_io GIO   fd 1 wrote 5 bytes"
    assert len(lines) == 6
    assert all(r[2] == "GIO" for r in records(out))


def test_namei_records_the_path(root):
    out, _ = sh(root, "ktrace -t n /usr/local/bin/t_ktrace_io >/dev/null; kdump")
    assert [r[3] for r in records(out, "t_ktrace_io")] == ['"/etc/passwd"']
    assert [r[3] for r in records(out, "ktrace")] == ['"/usr/local/bin/t_ktrace_io"']


def test_psig_default_and_caught(root):
    out, _ = sh(root, "ktrace -t s /bin/sh -c 'kill -INT $$'; echo status=$?; kdump;"
                              "ktrace -t s /usr/local/bin/t_signals >/dev/null; kdump")
    assert "status=130" in out
    assert any(r[3] == "SIGINT SIG_DFL" for r in records(out, "sh", "PSIG"))
    caught = [r[3] for r in records(out, "t_signals", "PSIG")]
    assert caught and all(re.fullmatch(r"SIG\w+ caught handler=0x[0-9a-f]+ mask=0x[0-9a-f]+ "
                                       r"code=0x[0-9a-f]+", c) for c in caught)
    assert any(c.startswith("SIGUSR1 caught") for c in caught)


def test_csw_records_a_sleep_in_the_kernel(root):
    """-t w: a sleep in a syscall is `CSW  stop kernel` then `CSW  resume
    kernel`, between the call and its return (BSD tsleep's ktrcsw)."""
    out, _ = sh(root, "ktrace -t cw sleep 0.05; kdump")
    mine = [(r[2], r[3]) for r in records(out, "sleep")]
    call = next(i for i, r in enumerate(mine) if r[1].startswith("clock_nanosleep("))
    assert mine[call + 1:call + 4] == [("CSW", "stop kernel"), ("CSW", "resume kernel"),
                                       ("RET", "clock_nanosleep 0")]
    out, _ = sh(root, "ktrace -t c sleep 0.05; kdump")
    assert not records(out, kind="CSW")                 # not asked for: none


# -- inheritance, descendants, -p ------------------------------------------------------------
def test_inherit_across_fork(root):
    out, _ = sh(root, "ktrace -i sh -c 'ls /; true' >/dev/null; kdump")
    assert records(out, "ls", "CALL") and records(out, "sh", "CALL")
    assert any(r[3] == "getdents64" or r[3].startswith("getdents64 ")
               for r in records(out, "ls", "RET"))


def test_no_inherit_without_i(root):
    out, _ = sh(root, "ktrace sh -c 'ls /; /usr/local/bin/t_true; true' >/dev/null; kdump")
    assert records(out, "sh", "CALL")
    assert not records(out, "ls") and not records(out, "t_true")


DESCEND = ("sh -c 'sleep 1.5 & echo $! > kid; wait; /usr/local/bin/t_true; true' & P=$!;"
           "while [ ! -s kid ]; do sleep 0.05; done;"
           "ktrace {flags} -p $P; echo ktrace=$?; wait; echo kid=$(cat kid); kdump")


@pytest.mark.parametrize("flags", ["-d", ""])
def test_descendants(root, flags):
    out, _ = sh(root, DESCEND.format(flags=flags))
    assert "ktrace=0" in out
    kid = int(re.search(r"kid=(\d+)", out)[1])
    pids = {r[0] for r in records(out)}
    assert (kid in pids) == (flags == "-d")
    parent = [r for r in records(out) if r[0] != kid]
    assert parent and any(r[3] == "wait4" or r[3].startswith("wait4") for r in parent)
    assert not records(out, "t_true")          # no inheritance without -i


def test_trace_running_process_by_pid(root):
    out, _ = sh(root, "sleep 1 & P=$!; ktrace -p $P; wait; echo P=$P; kdump")
    pid = int(re.search(r"P=(\d+)", out)[1])
    recs = records(out)
    assert recs and {r[0] for r in recs} == {pid}
    assert recs[-1][2:] == ("CALL", "exit_group(0)")


def test_process_group(root):
    out, _ = sh(root, "setsid sh -c 'touch pg; sleep 1; true' & P=$!;"
                         "while [ ! -e pg ]; do sleep 0.05; done;"
                         "ktrace -g $P; echo rc=$?; wait; echo P=$P; kdump -t c")
    pid = int(re.search(r"P=(\d+)", out)[1])
    pids = {r[0] for r in records(out)}
    assert "rc=0" in out and pid in pids and len(pids) == 2      # the group: sh and sleep
    assert records(out, "sleep", "CALL")[-1][3] == "exit_group(0)"


# -- clearing ---------------------------------------------------------------------------------
def test_clear_all_with_C(root):
    out, _ = sh(root, "ktrace -i -t c sh -c '/usr/local/bin/t_hello; ktrace -C;"
                         "/usr/local/bin/t_true; echo after'; kdump")
    assert "hello, world" in out and "after" in out
    assert records(out, "t_hello") and not records(out, "t_true")
    last = records(out)[-1]
    assert last[1:3] == ("ktrace", "CALL") and re.fullmatch(r"ktrace\(0x[0-9a-f]+,0x5,0xfe,0x1\)",
                                                            last[3])


def test_clear_file_with_c_f(root):
    out, _ = sh(root, "ktrace -i -f c.out -t c sh -c '/usr/local/bin/t_hello;"
                         "ktrace -c -f c.out; echo rc=$?; /usr/local/bin/t_true';"
                         "kdump -f c.out")
    assert "rc=0" in out and records(out, "t_hello")
    assert not records(out, "t_true")
    assert re.fullmatch(r"ktrace\(0x[0-9a-f]+,0x2,0xbe,0\)", records(out)[-1][3])


def test_clear_with_command_clears_and_does_not_run_it(root):
    """Without the bug switch, the seed's `ktrace -c ./t_aio` just clears."""
    out, _ = sh(root, "cp /usr/local/bin/t_aio .; ktrace -i -t c sh -c"
                           " 'ktrace -c ./t_aio; echo rc=$?; /usr/local/bin/t_hello'; kdump")
    assert "rc=0" in out and "hello, world" in out
    assert "aio_read" not in out
    assert not records(out, "t_hello") and not records(out, "t_aio")


def test_bare_clear_needs_the_file(root):
    out, _ = sh(root, "rm -f ktrace.out; ktrace -c; echo rc=$?; touch ktrace.out;"
                           "ktrace -c; echo rc=$?")
    assert out == "ktrace: ktrace.out: No such file or directory\nrc=1\nrc=0\n"


def test_bug_switch_through_busybox_sysctl(root):
    """debug.ktrace_clear_bug is read and written with sysctl(8) over /proc/sys;
    switched off again, `ktrace -c` clears (the panic itself: tests/e2e/test_panic.py)."""
    out, _ = sh(root, "sysctl debug.ktrace_clear_bug; sysctl debug.ktrace_clear_bug=1;"
                      "sysctl -n debug.ktrace_clear_bug; sysctl debug.ktrace_clear_bug=0;"
                      "touch ktrace.out; ktrace -c; echo rc=$?")
    assert out == ("debug.ktrace_clear_bug = 0\ndebug.ktrace_clear_bug = 1\n1\n"
                   "debug.ktrace_clear_bug = 0\nrc=0\n")


# -- ktrace(1) and kdump(1) command lines -----------------------------------------------------
@pytest.mark.parametrize("args,message", [
    ("", ""),
    ("-t z ls", "ktrace: unknown facility in z\n"),
    ("-p 1 -p 2", "ktrace: only one -g or -p flag is permitted.\n"),
    ("-p ''", "ktrace: illegal process id.\n"),
    ("-p 3 ls", ""),
    ("-x", "ktrace: illegal option -- x\n"),
])
def test_ktrace_usage(root, args, message):
    out, _ = sh(root, f"ktrace {args}; echo rc=$?")
    assert out == message + USAGE + "rc=1\n"


def test_ktrace_errors(root):
    out, _ = sh(root, "ktrace -p 99999; echo rc=$?; mkdir d; ktrace -f d -c; echo rc=$?;"
                      "ln -s ktrace.out link; ktrace -f link -c; echo rc=$?")
    assert out == ("ktrace: ktrace.out: No such process\nrc=1\n"
                   "ktrace: d: Permission denied\nrc=1\n"
                   "ktrace: link: Symbolic link loop\nrc=1\n")      # musl's strerror(ELOOP)


def test_kdump_options(root):
    script = ("ktrace /usr/local/bin/t_aio 2>/dev/null; for o in -n -d '-t n' -j '-m 4 -t i' -T"
              " '-p 1' '-f nonexistent' '-t q'; do echo \"@$o\"; kdump $o; done")
    out, _ = sh(root, script)
    part = dict(re.findall(r"^@(.*)\n((?:(?!@).*\n)*)", out, re.M))
    assert re.search(r"CALL  io_setup\(0x80,0x7[0-9a-f]+\)\n.*RET   io_setup -1 errno 38\n",
                     part["-n"])
    assert re.search(r"CALL  io_setup\(128,\d+\)\n", part["-d"])
    assert [r[3] for r in records(part["-t n"])] == ['"/usr/local/bin/t_aio"']
    heads = [line for line in part["-j"].splitlines() if not line.startswith("       ")]
    assert heads and all(re.match(r" +\d+:\d+ +\S+ +[A-Z]", line) for line in heads)
    gio = part["-m 4 -t i"].splitlines()
    assert gio[0].endswith("t_aio    GIO   fd 2 wrote 8 bytes") and gio[1] == '       "aio_"'
    assert re.match(r" +\d+ ktrace   \d+\.\d{6} RET   ktrace 0\n", part["-T"])
    assert part["-p 1"] == ""
    assert part["-f nonexistent"] == "kdump: nonexistent: No such file or directory\n"
    assert part["-t q"] == "kdump: unknown trace point in q\n"


# -- in process: kern_ktrace itself ---------------------------------------------------------
class Space:
    """A guest address space holding one string at BASE."""
    BASE = 0x10000

    def __init__(self, data):
        self.data = data

    def read(self, addr, n):
        off = addr - self.BASE
        return (self.data[off:off + n]).ljust(n, b"\0")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """Processes 1 (untraced), 2 (the caller) and 3 (traced), a hostfs root with ktrace.out."""
    tmp_path.chmod(0o755)
    for name in ("ktrace.out", "other.out"):
        (tmp_path / name).write_bytes(b"")
        (tmp_path / name).chmod(0o666)
    mnt = HostMount(str(tmp_path))
    monkeypatch.setattr(kern_vfs, "mounts", MountTable(mnt))
    monkeypatch.setattr(kern_proc, "allproc", {})
    monkeypatch.setattr(kern_ktrace.ktrace_clear_bug, "value", 0)
    procs = {}
    for pid in (1, 2, 3):
        p = Proc(pid, procs.get(1))
        p.p_stat, p.p_comm, p.p_root, p.p_cwd = SACTIVE, f"p{pid}", mnt.root, mnt.root
        p.p_vmspace = types.SimpleNamespace(space=Space(b"ktrace.out\0other.out\0"))
        p.p_lwps[pid] = Lwp(p, pid, None)
        kern_proc.proc_insert(p)
        procs[pid] = p
    procs[1].p_children = [procs[2], procs[3]]
    td = procs[2].p_lwps[2]
    kern_ktrace.sys_ktrace(td, Space.BASE, K.KTROP_SET, K.DEF_POINTS, 3)
    return types.SimpleNamespace(procs=procs, td=td, path=tmp_path / "ktrace.out")


def test_set_installs_a_node_shared_by_one_call(kernel):
    p1, p2, p3 = (kernel.procs[i] for i in (1, 2, 3))
    assert p3.p_traceflag == K.DEF_POINTS | K.KTRFAC_ROOT
    vp = p3.p_tracenode.kn_vp
    assert p3.p_tracenode.kn_refs == 1 and vp is not None
    assert list(vars(p3.p_tracenode)) == ["kn_vp", "kn_refs"]    # kn_vp first: "offset 0"
    ops = K.KTROP_SET | K.KTRFLAG_DESCEND
    assert kern_ktrace.sys_ktrace(kernel.td, Space.BASE, ops, K.KTRFAC_SYSCALL, 1) == 0
    node = p1.p_tracenode
    assert node.kn_vp is vp and p2.p_tracenode is node and p3.p_tracenode is node
    assert node.kn_refs == 3
    assert p2.p_traceflag == K.KTRFAC_SYSCALL | K.KTRFAC_ROOT     # KTRFAC_ACTIVE dropped


def test_clearfile_with_the_fix_skips_untraced(kernel):
    assert kernel.procs[1].p_tracenode is None
    assert kern_ktrace.sys_ktrace(kernel.td, Space.BASE, K.KTROP_CLEARFILE, K.DEF_POINTS, 0) == 0
    assert kernel.procs[3].p_tracenode is None and kernel.procs[3].p_traceflag == 0
    assert kernel.procs[2].p_traceflag == 0                 # KTRFAC_ACTIVE dropped


def test_clearfile_with_the_bug_faults_in_the_callback(kernel, monkeypatch):
    monkeypatch.setattr(kern_ktrace.ktrace_clear_bug, "value", 1)
    with pytest.raises(AttributeError) as exc:
        kern_ktrace.sys_ktrace(kernel.td, Space.BASE, K.KTROP_CLEARFILE, K.DEF_POINTS, 0)
    frames = traceback.extract_tb(exc.value.__traceback__)
    assert [f.name for f in frames[-3:]] == ["sys_ktrace", "allproc_scan",
                                             "ktrace_clear_callback"]
    assert "p.p_tracenode.kn_vp" in frames[-1].line
    assert frames[-1].filename.endswith("kern_ktrace.py")
    assert "kn_vp" in str(exc.value)


def test_sysctl_switch_is_registered():
    from vkernel.kernel import kern_sysctl
    assert kern_sysctl.sysctl_get("debug.ktrace_clear_bug") in (0, 1)
    assert "debug.ktrace_clear_bug" in kern_sysctl.sysctl_list("debug")


def test_errors(kernel):
    td = kernel.td
    other = Space.BASE + len(b"ktrace.out\0")

    def errno_of(*args):
        with pytest.raises(KernelError) as exc:
            kern_ktrace.sys_ktrace(td, *args)
        return exc.value.errno
    assert errno_of(Space.BASE, K.KTROP_SET, 0, 3) == E.EINVAL
    assert errno_of(Space.BASE, K.KTROP_SET, K.DEF_POINTS, 42) == E.ESRCH
    assert errno_of(Space.BASE, K.KTROP_SET, K.DEF_POINTS, -42) == E.ESRCH
    assert errno_of(Space.BASE + 100, K.KTROP_SET, K.DEF_POINTS, 3) == E.ENOENT
    kernel.path.parent.joinpath("dir").mkdir()
    kernel.procs[2].p_vmspace.space.data = b"dir\0"
    assert errno_of(Space.BASE, K.KTROP_SET, K.DEF_POINTS, 3) == E.EACCES
    kernel.procs[2].p_vmspace.space.data = b"ktrace.out\0other.out\0"
    td.lwp_proc.p_ucred = Ucred(1000, 1000)             # not root: ktrcanset refuses
    assert errno_of(other, K.KTROP_SET, K.DEF_POINTS, 3) == E.EPERM
    assert errno_of(Space.BASE, K.KTROP_CLEARFILE, K.DEF_POINTS, 0) == E.EPERM


def test_clear_drops_the_node_when_no_facility_is_left(kernel):
    p3 = kernel.procs[3]
    kern_ktrace.sys_ktrace(kernel.td, 0, K.KTROP_CLEAR, K.KTRFAC_SYSCALL, 3)
    assert p3.p_tracenode is not None and not p3.p_traceflag & K.KTRFAC_SYSCALL
    kern_ktrace.sys_ktrace(kernel.td, 0, K.KTROP_CLEAR, K.DEF_POINTS, 3)
    assert p3.p_tracenode is None and p3.p_traceflag == 0


def test_fork_and_exit_hooks(kernel):
    p3, child = kernel.procs[3], Proc(4, kernel.procs[3])
    kern_ktrace.ktrace_fork(p3, child)
    assert child.p_tracenode is None                       # no KTRFAC_INHERIT
    p3.p_traceflag |= K.KTRFAC_INHERIT
    kern_ktrace.ktrace_fork(p3, child)
    assert child.p_tracenode is p3.p_tracenode and p3.p_tracenode.kn_refs == 2
    kern_ktrace.ktrace_exit(child)
    assert child.p_tracenode is None and p3.p_tracenode.kn_refs == 1


def read_records(path):
    data, out = path.read_bytes(), []
    while data:
        h = K.ktr_header.unpack(data)
        out.append((h, data[64:64 + h.ktr_len]))
        data = data[64 + h.ktr_len:]
    return out


def test_record_layouts(kernel):
    td = kernel.procs[3].p_lwps[3]
    td.lwp_cpu = 1
    kern_ktrace.ktrsyscall(td, NR.io_setup, [0x80, 0x7ffd4a3c1e28, 7, 7, 7, 7])
    kern_ktrace.ktrsysret(td, NR.io_setup, -E.ENOSYS)
    kern_ktrace.ktrnamei(td, "/etc/passwd")
    td.td_ktrace_active = True                              # a record in progress: ignored
    kern_ktrace.ktrnamei(td, "/nope")
    td.td_ktrace_active = False
    recs = read_records(kernel.path)
    assert [h.ktr_type for h, _ in recs] == [K.KTR_SYSCALL, K.KTR_SYSRET, K.KTR_NAMEI]
    h, payload = recs[0]
    assert (h.ktr_pid, h.ktr_tid, h.ktr_comm.rstrip(b"\0")) == (3, 3, b"p3")
    assert K.KTRH_CPUID_DECODE(h.ktr_flags) == 1 and h.ktr_len == 8 + 2 * 8
    assert payload == struct.pack("<hh4xQQ", int(NR.io_setup), 2, 0x80, 0x7ffd4a3c1e28)
    sysret = K.ktr_sysret.unpack(recs[1][1])
    assert (sysret.ktr_error, sysret.ktr_retval) == (E.ENOSYS, -1)
    assert recs[2][1] == b"/etc/passwd"


def test_host_kdump_decodes_records(kernel, guest_bins):
    """kdump (built for the guest, run on the host) on records made in process."""
    td = kernel.procs[3].p_lwps[3]
    kern_ktrace.ktrsyscall(td, NR.write, [1, 0x1000, 3])
    kern_ktrace.ktrgenio(td, 1, K.UIO_WRITE, b"a\x1b\x80\\\tb\n")
    kern_ktrace.ktrsysret(td, NR.write, 7)
    kern_ktrace.ktruser(td, b"\x01\xff")
    act = types.SimpleNamespace(handler=0x401000)
    kern_ktrace.ktrpsig(td, 10, act, None)
    kernel.procs[3].p_lwps[4] = Lwp(kernel.procs[3], 4, None)    # now threaded
    kern_ktrace.ktrsysret(td, 0x27f, -E.EPERM)
    with open(kernel.path, "ab") as f:                      # a CSW record by hand
        f.write(K.ktr_header.pack(ktr_len=8, ktr_type=K.KTR_CSW, ktr_pid=3, ktr_tid=3,
                                  ktr_comm=b"p3") + K.ktr_csw.pack(out=1, user=1))
    r = subprocess.run([guest_bins["kdump"], "-f", str(kernel.path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "    3 p3       CALL  write(0x1,0x1000,0x3)",
        "    3 p3       GIO   fd 1 wrote 7 bytes",
        '       "a\\^[\\M^@\\\\\tb',
        '       "',
        "    3 p3       RET   write 7",
        "    3 p3       USER  2  01 ff",
        "    3 p3       PSIG  SIGUSR1 caught handler=0x401000 mask=0x0 code=0x0",
        "    3:3    p3       RET   ktrace -1 errno 1 Operation not permitted",
        "    3 p3       CSW  stop user",
    ]


def test_write_failure_stops_tracing(kernel, monkeypatch):
    from vkernel.kernel import msgbuf
    logged = []
    monkeypatch.setattr(msgbuf, "log", lambda msg, console=True: logged.append(msg))
    p3 = kernel.procs[3]

    def fail(off, data):
        raise KernelError(E.ENOSPC)
    monkeypatch.setattr(p3.p_tracenode.kn_vp, "write", fail)
    kern_ktrace.ktrnamei(p3.p_lwps[3], "/x")
    assert logged == [f"ktrace write failed, errno {E.ENOSPC}, tracing stopped"]
    assert p3.p_tracenode is None and p3.p_traceflag == 0
