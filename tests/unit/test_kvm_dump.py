"""Crash dumps and namelists of this test process: vmcore.N written by
kvm_dump and read back by kvm, the kern.dumpdev sysctl, ddb's `dump`,
kvm_nlist's symbols and run directory (vkernel/kvm)."""
import json
import os
import struct

import pytest

from ddbfake import machine_fixture
from test_kvm_proc import LHEADER, ROWS, render, table  # noqa: F401  (the fixture)
from vkernel.abi.linux import errno as E
from vkernel.ddb import db_command
from vkernel.kernel import kern_proc, kern_shutdown, kern_sysctl, msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.kvm import dmesg, kvm, kvm_dump, kvm_nlist
from vkernel.kvm.kvm import KvmError, kvm_openfiles

machine = machine_fixture()


@pytest.fixture
def rundir(tmp_path, monkeypatch):
    monkeypatch.setenv("VKERNEL_RUNDIR", str(tmp_path / "run"))
    monkeypatch.setattr(kvm_dump, "dumpdir", None)
    monkeypatch.setattr(kvm_dump, "_dump_on_panic", [False])
    return tmp_path / "run"


def test_a_dump_reads_like_the_live_memory(table, rundir):  # noqa: F811  (the fixture)
    msgbuf.log("kvm dump test line", console=False)
    said = []
    path = kvm_dump.dump("unit test", printf=said.append)
    assert path == str(rundir / "crash" / "vmcore.0")
    assert said[0] == f"dumping to {path}\n" and said[1].endswith(" MB succeeded\n")
    kd = kvm_openfiles(None, path)            # the namelist is inside
    try:
        assert not kd.live and kd.execfile == path
        assert render(kd, "axlww") == [LHEADER] + ROWS
        assert dmesg.kvm_msgbuf(kd)[-1].endswith("] kvm dump test line\n")
        assert kd.nlist["dump"]["why"] == "unit test"
        assert kd.nlist["pid"] == os.getpid()
    finally:
        kvm.kvm_close(kd)
    assert kvm_dump.dump("again", printf=said.append).endswith("vmcore.1")


def test_the_dump_is_an_elf_core(rundir):
    path = kvm_dump.dump("elf", printf=lambda text: None)
    with open(path, "rb") as f:
        data = f.read()
    assert data[:4] == b"\x7fELF" and data[4:6] == b"\x02\x01"
    etype, machine_ = struct.unpack_from("<HH", data, 16)
    assert (etype, machine_) == (4, 62)                      # ET_CORE, EM_X86_64
    segments, notes = kvm.parse_core(data)
    assert json.loads(notes[kvm.NT_VKERNEL_NAMELIST])["magic"] == kvm_nlist.MAGIC
    addr = id(kern_proc.allproc)
    assert any(v <= addr < v + n for v, n, _ in segments)
    assert os.stat(path).st_blocks * 512 < os.path.getsize(path) + 4096   # zeros not written


def test_a_dump_with_a_given_namelist_and_errors(rundir, tmp_path):
    path = kvm_dump.dump("n", printf=lambda text: None)
    nl = kvm_nlist.write_namelist(str(tmp_path / "nl"))
    kd = kvm_openfiles(nl, path)
    assert kd.execfile == nl
    with pytest.raises(KvmError, match=r"invalid address \(0x10\)"):
        kd.read(0x10, 8)
    kvm.kvm_close(kd)
    (tmp_path / "junk").write_bytes(b"not a core")
    with pytest.raises(KvmError, match="not an ELF core"):
        kvm_openfiles(None, str(tmp_path / "junk"))


def test_kern_dumpdev_and_dumpsys(rundir, tmp_path):
    assert kern_sysctl.sysctl_get("kern.dumpdev") == ""
    assert kvm_dump.dumpsys("panic: test") is None            # off: nothing written
    assert not (rundir / "crash").exists()
    kern_sysctl.sysctl_set("kern.dumpdev", "vmcore")
    assert kern_sysctl.sysctl_get("kern.dumpdev") == "vmcore"
    with pytest.raises(KernelError) as e:
        kern_sysctl.sysctl_set("kern.dumpdev", "/etc/passwd")
    assert e.value.errno == E.EINVAL
    assert kvm_dump.dumpsys("panic: test", printf=lambda text: None).endswith("crash/vmcore.0")
    kern_sysctl.sysctl_set("kern.dumpdev", "")
    kvm_dump.set_dumpdir(str(tmp_path / "D"))                 # -D DIR
    assert kern_sysctl.sysctl_get("kern.dumpdev") == "vmcore"
    assert kvm_dump.dumpsys("panic: x", printf=lambda text: None) == str(tmp_path / "D/vmcore.0")


def test_a_failed_dump_is_reported_not_raised(rundir, tmp_path):
    (tmp_path / "file").write_text("")
    said = []
    assert kvm_dump.dump("x", printf=said.append, directory=str(tmp_path / "file")) is None
    assert said[-1].startswith("dump failed: ")


def test_ddb_dump_command(machine, rundir):
    saved = dict(db_command._aux_commands)
    from vkernel.ddb import db_dump
    db_command._aux_commands["dump"] = db_dump.db_dump
    try:
        text, _ = machine.ddb("dump", "c")
    finally:
        db_command._aux_commands.clear()
        db_command._aux_commands.update(saved)
    path = rundir / "crash" / "vmcore.0"
    assert f"db> dump\ndumping to {path}\ndump " in text and " MB succeeded\ndb> c" in text
    assert json.loads(kvm.parse_core(path.read_bytes())[1][kvm.NT_VKERNEL_NAMELIST])[
        "dump"]["why"] == "ddb dump (test)"


def test_namelist_symbols(rundir, monkeypatch):
    path = kvm_nlist.write_namelist()
    assert path == str(rundir / f"kernel.{os.getpid()}")
    nl = kvm_nlist.read_namelist(path)
    assert nl["symbols"]["allproc"] == id(kern_proc.allproc)
    assert nl["symbols"]["msgbuf"] == id(msgbuf._ring)
    assert nl["starttime"] == kvm_nlist.process_starttime(os.getpid())
    assert kvm_nlist.running_kernel() == os.getpid()         # our namelist, our pid
    kd = kvm_openfiles(None, None)
    try:
        monkeypatch.setattr(kern_shutdown, "panicstr", "a test panic")
        got = kvm_nlist.kvm_nlist(kd, ["allproc", "kern_proc.alllwp", "kern_shutdown.panicstr"])
        assert got["allproc"] == id(kern_proc.allproc)
        assert got["kern_proc.alllwp"] == id(kern_proc.alllwp)
        assert got["kern_shutdown.panicstr"] == id(kern_shutdown.panicstr)
        with pytest.raises(KvmError, match="kern_proc.nosuch: no such symbol"):
            kvm_nlist.kvm_nlist(kd, ["kern_proc.nosuch"])
    finally:
        kvm.kvm_close(kd)


def test_stale_namelists_are_removed_and_refused(rundir):
    rundir.mkdir(mode=0o700)
    stale = rundir / "kernel.999999999"
    stale.write_text(json.dumps({"magic": kvm_nlist.MAGIC, "pid": 999999999, "starttime": 1}))
    with pytest.raises(kvm_nlist.NlistError, match="no running vkernel"):
        kvm_nlist.running_kernel()
    kvm_nlist.write_namelist()
    assert not stale.exists()
    with pytest.raises(kvm_nlist.NlistError, match="not a vkernel namelist"):
        kvm_nlist.parse_namelist(b"{}")
