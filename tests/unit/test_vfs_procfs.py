"""procfs and the mount(2) workers, over a hostfs root and hand-made processes."""
import os
import sys
import types

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfs_helpers import err, make_world, names, open_file, read_file  # noqa: E402

from vkernel.abi.linux import errno as E  # noqa: E402
from vkernel.abi.linux import fcntl as F  # noqa: E402
from vkernel.abi.linux import mman as M  # noqa: E402
from vkernel.abi.linux import mount as MS  # noqa: E402
from vkernel.fs.procfs import ProcMount, hooks  # noqa: E402
from vkernel.fs.procfs.procfs_pid import maps_line  # noqa: E402
from vkernel.kernel import kern_proc, kern_sysctl, kern_vfs  # noqa: E402
from vkernel.kernel.file import File  # noqa: E402
from vkernel.kernel.kern_descrip import FileDesc  # noqa: E402
from vkernel.kernel.proc import SSTOP, SZOMB, Lwp, Proc, Ucred  # noqa: E402
from vkernel.kernel.sys_pipe import Pipe, PipeEnd  # noqa: E402
from vkernel.kernel.vm_map import Entry, MemoryLimit  # noqa: E402
from vkernel.syscalls.linux64 import sys_mount  # noqa: E402
from vkernel.vfs import vfs_syscalls as V  # noqa: E402
from vkernel.vfs.vnode import VLNK  # noqa: E402

MEM = 256 << 20


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A hostfs root with procfs on /proc, and an empty process table."""
    ctx, hostroot, outside = make_world(tmp_path)
    for d in ("proc", "mnt"):
        os.mkdir(os.path.join(hostroot, d))
    proc = ProcMount()
    ctx.mounts.mount(V.kern_lookup(ctx, ctx.root, "/proc")[0], proc)
    for name, value in (("allproc", {}), ("alllwp", {}), ("pgrphash", {}),
                        ("curthread", None)):
        monkeypatch.setattr(kern_proc, name, value)
    monkeypatch.setattr(kern_vfs, "mounts", ctx.mounts)
    monkeypatch.setattr(kern_sysctl, "_tree", dict(kern_sysctl._tree))
    w = types.SimpleNamespace(ctx=ctx, proc=proc, limit=MemoryLimit(MEM))
    w.spawn = lambda *a, **kw: spawn(w, *a, **kw)
    return w


def spawn(w, pid, comm, parent=None, uid=0, args=None, env=(b"HOME=/",)):
    """A process as exec leaves it: /bin/sh its text, / its directories."""
    p = Proc(pid, parent)
    p.p_comm, p.p_args, p.p_env = comm, args or [comm], list(env)
    p.p_ucred = Ucred(uid, uid)
    p.p_fd = FileDesc()
    p.p_cwd = p.p_root = w.ctx.root
    p.p_textvp, p.p_exe = V.kern_lookup(w.ctx, w.ctx.root, "/bin/sh")
    p.p_vmspace = types.SimpleNamespace(limit=w.limit, entries=[], brk_base=0, space=None)
    p.p_stat = "SACTIVE"
    td = Lwp(p, pid, None)
    p.p_lwps[pid] = td
    kern_proc.allproc[pid] = p
    kern_proc.alllwp[pid] = td
    if parent is not None:
        parent.p_children.append(p)
    kern_proc.enterpgrp(p, parent.p_pgid if parent else pid, parent is None)
    return p


def text(ctx, path):
    return read_file(ctx, path).decode()


def fields(ctx, path):
    """"Key:\\tvalue" lines as a dict."""
    return dict(line.split(":\t", 1) for line in text(ctx, path).splitlines())


# -- the root and self -------------------------------------------------------------
def test_root_lists_processes_and_files(world):
    world.spawn(1, "init")
    world.spawn(7, "sh", kern_proc.allproc[1])
    got = names(world.ctx, "/proc")
    for n in ("1", "7", "self", "thread-self", "meminfo", "cpuinfo", "stat", "uptime",
              "loadavg", "version", "mounts", "filesystems", "sys"):
        assert n in got
    assert V.kern_statat(world.ctx, world.ctx.root, "/proc").nlink == 2 + 1 + 2
    assert err(V.kern_lookup, world.ctx, world.ctx.root, "/proc/8") == E.ENOENT
    assert err(V.kern_lookup, world.ctx, world.ctx.root, "/proc/007") == E.ENOENT


def test_self_follows_the_caller(world, monkeypatch):
    p = world.spawn(1, "init")
    q = world.spawn(5, "sh", p)
    monkeypatch.setattr(kern_proc, "curthread", q.p_lwps[5])
    assert V.kern_readlinkat(world.ctx, world.ctx.root, "/proc/self") == "5"
    assert V.kern_readlinkat(world.ctx, world.ctx.root, "/proc/thread-self") == "5/task/5"
    assert fields(world.ctx, "/proc/self/status")["Pid"] == "5"
    monkeypatch.setattr(kern_proc, "curthread", None)
    assert err(V.kern_lookup, world.ctx, world.ctx.root, "/proc/self/stat") == E.ENOENT


# -- per-process files ----------------------------------------------------------------
def test_status(world):
    init = world.spawn(1, "init")
    p = world.spawn(42, "sleep", init, uid=1000)
    p.p_lwps[42].td_wchans = ("x",)
    st = fields(world.ctx, "/proc/42/status")
    assert st["Name"] == "sleep" and st["State"] == "S (sleeping)"
    assert (st["Pid"], st["Tgid"], st["PPid"]) == ("42", "42", "1")
    assert st["Uid"] == "1000\t1000\t1000\t1000"
    assert st["Threads"] == "1" and st["NSsid"] == "1"
    p.p_lwps[42].td_sleep_intr = False
    assert fields(world.ctx, "/proc/42/status")["State"] == "D (disk sleep)"
    p.p_stat = SSTOP
    assert fields(world.ctx, "/proc/42/status")["State"] == "T (stopped)"


def test_stat_fields(world):
    init = world.spawn(1, "init")
    p = world.spawn(9, "my prog)", init)
    p.p_nice = 5
    line = text(world.ctx, "/proc/9/stat")
    head, rest = line.rsplit(")", 1)
    assert head == "9 (my prog)"
    f = rest.split()
    assert len(f) == 50                          # 52 fields less pid and comm
    assert f[0] == "R" and f[1] == "1" and f[2] == "1" and f[3] == "1"   # state ppid pgrp sid
    assert (f[15], f[16], f[17]) == ("25", "5", "1")   # priority nice threads


def test_zombie(world):
    init = world.spawn(1, "init")
    z = world.spawn(3, "gone", init)
    z.p_stat, z.p_xstat = SZOMB, 7 << 8
    assert text(world.ctx, "/proc/3/stat").split()[2] == "Z"
    assert text(world.ctx, "/proc/3/cmdline") == ""
    assert err(V.kern_lookup, world.ctx, world.ctx.root, "/proc/3/exe") == E.ENOENT


def test_cmdline_environ_comm(world):
    world.spawn(1, "sh", args=["/bin/sh", "-c", "echo hi"], env=[b"A=1", b"B=2"])
    assert read_file(world.ctx, "/proc/1/cmdline") == b"/bin/sh\0-c\0echo hi\0"
    assert read_file(world.ctx, "/proc/1/environ") == b"A=1\0B=2\0"
    fp = open_file(world.ctx, "/proc/1/comm", F.O_WRONLY | F.O_TRUNC)
    fp.ops.write(None, fp, b"renamed\n")
    assert kern_proc.allproc[1].p_comm == "renamed"
    assert text(world.ctx, "/proc/1/comm") == "renamed\n"


def test_other_users_cannot_read_environ_or_fds(world):
    world.spawn(1, "init")
    world.spawn(2, "mine", kern_proc.allproc[1], uid=1000)
    user = world.ctx.as_user(1000)
    assert err(open_file, user, "/proc/1/environ") == E.EACCES
    assert err(open_file, user, "/proc/1/fd", F.O_RDONLY | F.O_DIRECTORY) == E.EACCES
    assert err(V.kern_lookup, user, user.root, "/proc/1/cwd/etc") == E.EACCES
    assert "Name" in fields(user, "/proc/1/status")
    assert read_file(user, "/proc/2/environ") == b"HOME=/\0"
    assert V.kern_lookup(user, user.root, "/proc/2/cwd/etc")[0] is \
        V.kern_lookup(user, user.root, "/etc")[0]


def test_maps_and_statm(world):
    p = world.spawn(1, "init")
    p.p_vmspace.entries = [
        Entry(0x400000, 0x402000, M.PROT_READ | M.PROT_EXEC, M.MAP_PRIVATE, "/bin/sh"),
        Entry(0x600000, 0x601000, M.PROT_READ | M.PROT_WRITE, M.MAP_PRIVATE, "[heap]"),
        Entry(0x7000000, 0x7001000, M.PROT_READ, M.MAP_SHARED)]
    lines = text(world.ctx, "/proc/1/maps").splitlines()
    assert lines[0].startswith("00400000-00402000 r-xp 00000000 00:00 0 ")
    assert lines[0][73:] == "/bin/sh" and lines[1].endswith(" [heap]")
    assert lines[2] == "07000000-07001000 r--s 00000000 00:00 0 "
    assert maps_line(p.p_vmspace.entries[1]).index("[heap]") == 73
    assert text(world.ctx, "/proc/1/statm").split()[:4] == ["4", "0", "0", "2"]


def test_limits(world, monkeypatch):
    world.spawn(1, "init")
    monkeypatch.setitem(hooks, "rlimit", lambda p, res: (1024, 4096) if res == 7
                        else ((1 << 64) - 1, (1 << 64) - 1))
    lines = text(world.ctx, "/proc/1/limits").splitlines()
    assert lines[0].split() == ["Limit", "Soft", "Limit", "Hard", "Limit", "Units"]
    assert lines[8].split() == ["Max", "open", "files", "1024", "4096", "files"]
    assert lines[1].split()[3:] == ["unlimited", "unlimited", "seconds"]


# -- magic links ------------------------------------------------------------------------
def test_exe_cwd_root_resolve_in_the_guest(world):
    p = world.spawn(1, "init")
    p.p_cwd = V.kern_lookup(world.ctx, world.ctx.root, "/a/b")[0]
    ctx = world.ctx
    assert V.kern_readlinkat(ctx, ctx.root, "/proc/1/exe") == "/bin/sh"
    assert V.kern_readlinkat(ctx, ctx.root, "/proc/1/cwd") == "/a/b"
    assert V.kern_readlinkat(ctx, ctx.root, "/proc/1/root") == "/"
    assert V.kern_lookup(ctx, ctx.root, "/proc/1/exe")[0] is p.p_textvp
    assert V.kern_lookup(ctx, ctx.root, "/proc/1/cwd/c")[0] is \
        V.kern_lookup(ctx, ctx.root, "/a/b/c")[0]
    assert V.kern_lookup(ctx, ctx.root, "/proc/1/cwd/../..")[0] is ctx.root
    assert read_file(ctx, "/proc/1/root/etc/passwd").startswith(b"root:x:0:0:guest")
    assert V.kern_statat(ctx, ctx.root, "/proc/1/exe", follow=False).type == VLNK


def test_fd_links(world):
    p = world.spawn(1, "init")
    ctx = world.ctx
    p.p_fd.install(3, open_file(ctx, "/etc/passwd"))
    pipe = Pipe()
    reader = File(PipeEnd(pipe, False), F.O_RDONLY, f"pipe:[{pipe.ino}]")
    p.p_fd.install(4, reader)
    assert names(ctx, "/proc/1/fd") == [".", "..", "3", "4"]
    assert V.kern_readlinkat(ctx, ctx.root, "/proc/1/fd/3") == "/etc/passwd"
    assert V.kern_readlinkat(ctx, ctx.root, "/proc/1/fd/4") == f"pipe:[{pipe.ino}]"
    assert V.kern_statat(ctx, ctx.root, "/proc/1/fd/3", follow=False).mode == 0o500
    assert read_file(ctx, "/proc/1/fd/3").startswith(b"root:x:0:0:guest")
    assert V.kern_statat(ctx, ctx.root, "/proc/1/fd/4").st_mode() & 0o170000 == 0o010000
    writer = open_file(ctx, "/proc/1/fd/4", F.O_WRONLY)     # the same pipe, reopened
    writer.ops.write(None, writer, b"through proc")
    assert reader.ops.read(None, reader, 100) == b"through proc"
    assert text(ctx, "/proc/1/fdinfo/3").startswith("pos:\t0\nflags:\t0")
    V.kern_unlinkat(ctx, ctx.root, "/etc/passwd")
    assert V.kern_readlinkat(ctx, ctx.root, "/proc/1/fd/3") == "/etc/passwd (deleted)"
    p.p_fd.close(3)
    assert err(V.kern_readlinkat, ctx, ctx.root, "/proc/1/fd/3") == E.ENOENT


# -- threads and process lifetimes -------------------------------------------------------
def test_threads(world):
    p = world.spawn(1, "init")
    td = Lwp(p, 2, None)
    p.p_lwps[2] = td
    kern_proc.alllwp[2] = td
    ctx = world.ctx
    assert names(ctx, "/proc/1/task") == [".", "..", "1", "2"]
    assert "2" not in names(ctx, "/proc")
    st = fields(ctx, "/proc/2/status")                  # hidden, but there
    assert (st["Pid"], st["Tgid"], st["Threads"]) == ("2", "1", "2")
    assert "task" not in names(ctx, "/proc/1/task/2")
    assert text(ctx, "/proc/1/task/2/stat").startswith("2 (init) R 0 ")


def test_dead_process_nodes_go_stale(world):
    world.spawn(1, "init")
    p = world.spawn(2, "old", kern_proc.allproc[1])
    ctx = world.ctx
    dvp = V.kern_lookup(ctx, ctx.root, "/proc/2")[0]
    ino = dvp.getattr().ino
    del kern_proc.allproc[2]
    assert err(dvp.lookup, "stat") == E.ENOENT
    world.spawn(2, "new", kern_proc.allproc[1])        # the pid is reused
    new = V.kern_lookup(ctx, ctx.root, "/proc/2")[0]
    assert new is not dvp and new.getattr().ino != ino
    assert fields(ctx, "/proc/2/status")["Name"] == "new"
    assert p.p_comm == "old"


# -- system files ------------------------------------------------------------------------
def test_meminfo_counts_the_memory_limit(world):
    world.spawn(1, "init")
    world.limit.committed = 10 << 20
    mi = {k: v.split()[0] for k, v in
          (line.split(":", 1) for line in text(world.ctx, "/proc/meminfo").splitlines())}
    assert int(mi["MemTotal"]) == MEM >> 10
    assert int(mi["MemFree"]) == (MEM - (10 << 20)) >> 10
    assert mi["SwapTotal"] == "0"


def test_cpuinfo_uptime_loadavg_version(world, monkeypatch):
    world.spawn(1, "init")
    monkeypatch.setitem(hooks, "ncpu", lambda: 3)
    monkeypatch.setattr(kern_sysctl, "_tree", {})
    cpus = [line for line in text(world.ctx, "/proc/cpuinfo").splitlines()
            if line.startswith("processor")]
    assert [c.split(":")[1].strip() for c in cpus] == ["0", "1", "2"]
    stat = text(world.ctx, "/proc/stat").splitlines()
    assert stat[0].startswith("cpu  ") and stat[3].startswith("cpu2 ")
    up, idle = map(float, text(world.ctx, "/proc/uptime").split())
    assert up >= 0 and idle >= 0
    load = text(world.ctx, "/proc/loadavg").split()
    assert len(load) == 5 and load[3] == "1/1"
    assert text(world.ctx, "/proc/version").startswith("Linux version ")


def test_mounts(world):
    world.spawn(1, "init")
    lines = text(world.ctx, "/proc/1/mounts").splitlines()
    assert lines[-1] == "proc /proc proc rw 0 0"
    assert V.kern_readlinkat(world.ctx, world.ctx.root, "/proc/mounts") == "self/mounts"
    info = text(world.ctx, "/proc/1/mountinfo").splitlines()
    assert info[1].split()[4] == "/proc" and info[1].split()[-3:-1] == ["proc", "proc"]


# -- /proc/sys -----------------------------------------------------------------------------
def test_sysctl_files(world):
    world.spawn(1, "init")
    cell = kern_sysctl.sysctl_value("test.procfs.knob", "abc")
    kern_sysctl.sysctl_int("test.procfs.ro", 5, flags=kern_sysctl.CTLFLAG_RD)
    ctx = world.ctx
    assert {"test", "kernel"} <= set(names(ctx, "/proc/sys"))
    assert names(ctx, "/proc/sys/test/procfs") == [".", "..", "knob", "ro"]
    assert text(ctx, "/proc/sys/test/procfs/knob") == "abc\n"
    fp = open_file(ctx, "/proc/sys/test/procfs/knob", F.O_WRONLY | F.O_TRUNC)
    fp.ops.write(None, fp, b"xyz\n")
    assert cell.value == "xyz" and kern_sysctl.sysctl_get("test.procfs.knob") == "xyz"
    assert V.kern_statat(ctx, ctx.root, "/proc/sys/test/procfs/ro").mode == 0o444
    user = ctx.as_user(1000)
    assert err(open_file, user, "/proc/sys/test/procfs/knob", F.O_WRONLY) == E.EACCES
    assert err(V.kern_lookup, ctx, ctx.root, "/proc/sys/test.procfs") == E.ENOENT


def test_linux_kernel_names(world):
    world.spawn(1, "init")
    assert text(world.ctx, "/proc/sys/kernel/ostype") == "Linux\n"
    assert text(world.ctx, "/proc/sys/kernel/pid_max") == f"{kern_proc.PID_MAX + 1}\n"
    kern_sysctl.sysctl_value("kern.hostname", "guest")
    assert text(world.ctx, "/proc/sys/kernel/hostname") == "guest\n"


# -- mount(2) and umount2(2) workers --------------------------------------------------------
def test_mount_tmpfs_readonly_remount_and_umount(world):
    ctx = world.ctx
    mnt_vp = V.kern_lookup(ctx, ctx.root, "/mnt")[0]
    sys_mount.kern_mount(mnt_vp, "tmpfs", "scratch", MS.MS_RDONLY | MS.MS_NOSUID,
                         "size=1m,mode=755")
    root = V.kern_lookup(ctx, ctx.root, "/mnt")[0]
    assert root.mount.size_limit == 1 << 20 and root.getattr().mode == 0o755
    assert err(V.kern_mkdirat, ctx, ctx.root, "/mnt/d", 0o755) == E.EROFS
    p = world.spawn(1, "init")
    assert "scratch /mnt tmpfs ro,nosuid 0 0" in text(ctx, "/proc/1/mounts")
    sys_mount.kern_remount(root, 0)
    V.kern_mkdirat(ctx, ctx.root, "/mnt/d", 0o755)
    assert err(sys_mount.kern_remount, V.kern_lookup(ctx, ctx.root, "/mnt/d")[0], 0) == E.EINVAL
    assert err(sys_mount.kern_mount, mnt_vp, "ext9", "", 0, "") == E.ENODEV
    assert err(sys_mount.kern_mount, mnt_vp, "hostfs", "/", 0, "") == E.ENODEV
    assert err(sys_mount._tmpfs_options, "bogus=1") == E.EINVAL
    p.p_cwd = V.kern_lookup(ctx, ctx.root, "/mnt/d")[0]
    assert err(sys_mount.kern_unmount, root, 0) == E.EBUSY
    p.p_cwd = ctx.root
    assert err(sys_mount.kern_unmount, V.kern_lookup(ctx, ctx.root, "/mnt/d")[0], 0) == E.EINVAL
    sys_mount.kern_unmount(root, 0)
    assert V.kern_lookup(ctx, ctx.root, "/mnt")[0] is mnt_vp
    assert err(sys_mount.kern_unmount, ctx.root, MS.MNT_DETACH) == E.EBUSY


def test_mount_proc_twice_and_detach_busy(world):
    ctx = world.ctx
    p = world.spawn(1, "init")
    mnt_vp = V.kern_lookup(ctx, ctx.root, "/mnt")[0]
    sys_mount.kern_mount(mnt_vp, "proc", "", 0, "")
    assert "1" in names(ctx, "/mnt")
    assert err(sys_mount.kern_mount, V.kern_lookup(ctx, ctx.root, "/mnt")[0],
               "proc", "", 0, "") == E.EBUSY          # already there
    p.p_fd.install(0, open_file(ctx, "/mnt/1/status"))
    root = V.kern_lookup(ctx, ctx.root, "/mnt")[0]
    assert err(sys_mount.kern_unmount, root, 0) == E.EBUSY
    sys_mount.kern_unmount(root, MS.MNT_DETACH)
    assert "1" not in names(ctx, "/mnt")
    assert ("proc", True) in sys_mount.filesystems()
