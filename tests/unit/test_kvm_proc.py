"""kvm_getprocs and ps on a process table built in this test process,
read back through /proc/self/mem (and by `vkernel ps` from another
process): the fields, the STAT letters, the ps axl columns (vkernel/kvm)."""
import json
import os
import subprocess
import sys
import time
import types

import pytest

from conftest import REPO
from vkernel.kernel import kern_proc
from vkernel.kernel.proc import P_PPWAIT, P_WEXIT, SACTIVE, SZOMB, Lwp, Pgrp, Proc, Session
from vkernel.kernel.vm_map import Entry, VmSpace
from vkernel.kvm import kvm, kvm_nlist, ps
from vkernel.kvm.kvm_proc import KERN_PROC_PGRP, KERN_PROC_PID, KERN_PROC_UID, kvm_getprocs
from vkernel.tty.tty import Tty

LHEADER = ("  UID    PID   PPID CPU PRI  NI    VSZ    RSS WCHAN    STAT   TT        TIME "
           "COMMAND")
ROWS = [                            # no terminal first, then by pid (pscomp)
    "    0      3      1   0   0   0      0      0 -        Z      ??     0:00.00 <defunct>",
    "    0      5      1   0   6  -5      0      0 -        R<s    ??     0:00.00 (kworker)",
    "    0      1      0   0   6   0     40      0 pause    Ss+    con    1:01.75 /bin/sh -c x",
    " 1000      2      1   0   6   5     40      0 nanslp   IN+    con    0:00.00 sleep 30",
    "    0      4      1   0   6   0     40      0 biord    DV     con    0:00.00 cat /dev/vkd0",
    "    0      6      1   0   6   0     40      0 -        TE+    con    2:00:00 <exiting>",
    "    0      7      1   0   6   0     40      0 ttyin    Ss     con-   0:00.00 getty",
]


def mkproc(pid, parent, comm, args, pgrp, uid=0, wmesg=None, **fields):
    p = Proc(pid, parent)
    p.p_comm, p.p_args, p.p_pgrp, p.p_stat = comm, list(args), pgrp, SACTIVE
    p.p_ucred.uid = p.p_ucred.ruid = uid
    p.p_vmspace = VmSpace(types.SimpleNamespace(tgid=0), None)
    p.p_vmspace.entries = [Entry(0x400000, 0x402000, 5, 2, "/bin/x"),
                           Entry(0x7ff000000000, 0x7ff000008000, 3, 2, "[stack]")]
    td = Lwp(p, pid, None)
    p.p_lwps[pid] = td
    if wmesg:
        td.td_wchans, td.td_wmesg, td.td_slptime = ((wmesg, p),), wmesg, time.monotonic()
    for k, v in fields.items():
        setattr(td if k.startswith("td_") else p, k, v)
    if pgrp is not None:
        pgrp.pg_members.add(p)
    kern_proc.allproc[pid] = p
    return p


@pytest.fixture
def table():
    """Seven processes covering each STAT letter and TT form."""
    saved = dict(kern_proc.allproc)
    kern_proc.allproc.clear()
    tty = Tty(lambda data: None)
    sess = Session(1, None)
    pg1 = Pgrp(1, sess)
    init = mkproc(1, None, "sh", ["/bin/sh", "-c", "x"], pg1, wmesg="pause",
                  p_ru_utime=61.5, p_ru_stime=0.25)
    sess.s_leader, sess.s_ttyp, tty.t_session, tty.t_pgid = init, tty, sess, 1
    mkproc(2, init, "sleep", ["sleep", "30"], pg1, uid=1000, wmesg="nanslp", p_nice=5,
           td_slptime=time.monotonic() - 25)
    z = mkproc(3, init, "true", ["true"], None)
    z.p_stat, z.p_lwps, z.p_xstat = SZOMB, {}, 0
    mkproc(4, init, "cat", ["cat", "/dev/vkd0"], Pgrp(4, sess), wmesg="biord",
           td_sleep_intr=False, p_flags=P_PPWAIT)
    s5 = Session(5, None)
    s5.s_leader = mkproc(5, init, "kworker", [], Pgrp(5, s5), p_nice=-5)
    s5.s_leader.p_vmspace = None
    mkproc(6, init, "dying", ["dying"], pg1, td_stopped=True, p_flags=P_WEXIT,
           p_ru_utime=7200.0)
    s7 = Session(7, None)
    s7.s_ttyp = tty                             # the console, no longer s7's ctty
    s7.s_leader = mkproc(7, init, "getty", ["getty"], Pgrp(7, s7), wmesg="ttyin")
    yield kern_proc.allproc
    kern_proc.allproc.clear()
    kern_proc.allproc.update(saved)


@pytest.fixture
def kd(table):
    nl = kvm_nlist.parse_namelist(json.dumps(kvm_nlist.namelist()))
    k = kvm.Kvm(kvm.LiveMemory(f"/proc/{os.getpid()}/mem"), nl, "self", "self")
    yield k
    kvm.kvm_close(k)


def render(kd, *argv):
    return ps.render(kd, ps.parse(list(argv)), kvm_getprocs(kd))


def test_getprocs_reads_the_fields(kd, table):
    procs = {kp.kp_pid: kp for kp in kvm_getprocs(kd)}
    assert sorted(procs) == [1, 2, 3, 4, 5, 6, 7]
    init, sleeper = procs[1], procs[2]
    assert (init.kp_comm, init.kp_args, init.kp_ppid, init.kp_pgid, init.kp_sid) == \
        ("sh", ["/bin/sh", "-c", "x"], 0, 1, 1)
    assert init.kp_paddr == id(table[1]) and init.kp_sessleader and init.kp_ctty
    assert (init.kp_tdevname, init.kp_tpgid, init.kp_vm_map_size) == ("console", 1, 40960)
    assert (sleeper.kp_uid, sleeper.kp_ruid, sleeper.kp_ppid, sleeper.kp_nice) == \
        (1000, 1000, 1, 5)
    kl = sleeper.kp_lwp
    assert (kl.kl_tid, kl.kl_stat, kl.kl_wmesg, kl.kl_wchan) == (2, "LSSLEEP", "nanslp",
                                                                id(table[2]))
    assert 24 < kl.kl_slptime < 60
    assert procs[3].kp_stat == "SZOMB" and procs[3].kp_lwp is None
    assert not procs[7].kp_ctty and procs[7].kp_tdevname == "console"
    assert kd.errors == []


def test_getprocs_selects(kd):
    assert [kp.kp_pid for kp in kvm_getprocs(kd, KERN_PROC_PID, 4)] == [4]
    assert [kp.kp_pid for kp in kvm_getprocs(kd, KERN_PROC_UID, 1000)] == [2]
    assert sorted(kp.kp_pid for kp in kvm_getprocs(kd, KERN_PROC_PGRP, 1)) == [1, 2, 6]


def test_ps_axl(kd):
    assert render(kd, "axlww") == [LHEADER] + ROWS


def test_ps_default_columns_and_selection(kd, monkeypatch):
    monkeypatch.setattr(os, "getuid", lambda: 0)
    lines = render(kd, "-ww")
    assert lines[0] == "   PID TT   STAT        TIME COMMAND"
    # without -a: uid 0 only; without -x: a controlling terminal only
    assert [int(line.split()[0]) for line in lines[1:]] == [1, 4, 6]
    assert lines[1] == "     1 con  Ss+      1:01.75 /bin/sh -c x"
    assert [line.split()[0] for line in render(kd, "-ww", "-p", "5,2")[1:]] == ["5", "2"]


def test_ps_c_j_and_width(kd):
    assert render(kd, "axcww")[4] == "     2 con  IN+      0:00.00 sleep"
    j = render(kd, "axjww")
    assert j[0] == ("USER        PID   PPID   PGID         SESS JOBC STAT   TT        TIME "
                    "COMMAND")
    sess = id(kern_proc.allproc[1].p_pgrp.pg_session)
    assert j[3] == (f"0             1      0      1 {sess:12x}    0 Ss+    con    1:01.75 "
                    "/bin/sh -c x")
    kern_proc.allproc[1].p_args = ["/bin/sh", "-c", "x" * 200]
    assert max(len(line) for line in render(kd, "axlw")) == 131
    assert max(len(line) for line in render(kd, "axlww")) == len(ROWS[2]) + 199


def test_ps_command_line_reads_this_process(kd, table, tmp_path):
    """`python3 -m vkernel ps` in another process, on our /proc/PID/mem."""
    path = kvm_nlist.write_namelist(str(tmp_path / "kernel.test"))
    r = subprocess.run([sys.executable, "-m", "vkernel", "ps", "axlww", "-M",
                        f"/proc/{os.getpid()}/mem", "-N", path], capture_output=True,
                       text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [LHEADER] + ROWS


def test_ps_usage_and_errors(tmp_path, capsys):
    assert ps.main(["-q"]) == 1
    assert capsys.readouterr().err.startswith("ps: option -q not recognized\nusage: ps ")
    assert ps.main(["ax", "-M", str(tmp_path / "none")]) == 1
    assert "No such file or directory" in capsys.readouterr().err
    (tmp_path / "empty").write_bytes(b"")
    assert ps.main(["ax", "-M", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err == f"ps: {tmp_path / 'empty'}: empty file\n"


def test_host_times_for_a_live_guest(kd, table):
    """A live kernel's guests: CPU times and RSS from the host process behind them."""
    table[2].p_vmspace.space.tgid = os.getpid()
    kp = [kp for kp in kvm_getprocs(kd, KERN_PROC_PID, 2)][0]
    assert kp.kp_host_tgid == os.getpid()
    assert kp.kp_vm_rssize > 0 and kp.kp_ru_utime > 0


def test_cputime_and_sizes():
    kp = types.SimpleNamespace(kp_ru_utime=59.994, kp_ru_stime=0.0)
    assert ps.cputime(kp, {}) == "  0:59.99"
    kp.kp_ru_utime = 86400 * 3 + 3600 * 5 + 60 * 7
    assert ps.cputime(kp, {}) == "  3d05:07"
    assert ps.kbytes(999999) == "999999" and ps.kbytes(1234567) == "1205M"
    assert ps.vis("a\tb\x7f") == "a\\011b\\177"


def test_a_proc_that_does_not_read_right_is_left_out(kd, table):
    """Memory reused under a live reader: a field of the wrong type is corrupt."""
    table[4].p_comm = 5
    table[2].p_args = ["sleep", 30]
    assert sorted(kp.kp_pid for kp in kvm_getprocs(kd)) == [1, 3, 5, 6, 7]
    assert kd.errors == [f"proc 2 at {id(table[2]):#x}: corrupt p_args of proc at "
                         f"{id(table[2]):#x}",
                         f"proc 4 at {id(table[4]):#x}: corrupt p_comm at {id(5):#x} (a int)"]
