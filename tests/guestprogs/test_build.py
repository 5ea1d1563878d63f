"""Build every guest program and run it natively on the host.

These tests pin down what each guest program does on real Linux, so the
vkernel tests can run the same binaries inside vkernel and compare.
Run with:  cd /work/main && python3 -m pytest tests/guestprogs -q
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from guest import build  # noqa: E402

TIMEOUT = 120

# name -> default arguments for the native run ("{dir}" = a scratch dir).
PROGRAMS = {
    "kdump": ["-f", "/dev/null"],
    "ktrace": [],              # needs the vkernel's ktrace(2): tests/e2e/test_ktrace.py
    "t_aio": ["{dir}"],
    "t_cpuloop": ["1000000"],
    "t_fault": ["segv", "handle"],
    "t_files": ["{dir}"],
    "t_forkstorm": [],
    "t_fsyncstress": ["{dir}", "3", "4096", "1024"],
    "t_getppid": ["1000"],
    "t_hello": [],
    "t_isolation": ["/nonexistent/vkernel-host-only"],
    "t_jobctl": [],
    "t_ktrace_io": [],
    "t_mmap": ["{dir}"],
    "t_pingpong": ["100"],
    "t_poll": [],
    "t_robust": [],
    "t_shm": ["{dir}"],
    "t_signals": [],
    "t_smp": [],
    "t_spawn": ["3", "/bin/true"],
    "t_sysvshm": [],
    "t_threads": [],
    "t_time": [],
    "t_true": [],
    "t_unix": ["{dir}"],
}

FAULTS = {
    "segv": ("SIGSEGV", "SEGV_ACCERR"),
    "null": ("SIGSEGV", "SEGV_MAPERR"),
    "ill": ("SIGILL", "ILL_ILLOPN"),
    "fpe": ("SIGFPE", "FPE_INTDIV"),
    "trap": ("SIGTRAP", "SI_KERNEL"),
    "abort": ("SIGABRT", "SI_TKILL"),
    "bus": ("SIGBUS", "BUS_ADRERR"),
}


@pytest.fixture(scope="session")
def bins(tmp_path_factory) -> dict[str, str]:
    return build.build_all(tmp_path_factory.mktemp("guest-bin"))


def run(path: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([path, *args], capture_output=True, timeout=TIMEOUT,
                          cwd=cwd)


def run_ok(bins, name: str, *args: str, cwd=None) -> str:
    res = run(bins[name], *args, cwd=cwd)
    assert res.returncode == 0, (
        f"{name} {' '.join(args)} exited {res.returncode}\n"
        f"stdout:\n{res.stdout.decode(errors='replace')}\n"
        f"stderr:\n{res.stderr.decode(errors='replace')}")
    return res.stdout.decode()


def expand(args: list[str], scratch: Path) -> list[str]:
    return [a.replace("{dir}", str(scratch)) for a in args]


# ---- the builder ---------------------------------------------------------

def test_every_source_has_a_test_entry_and_header_comment():
    sources = sorted(p.stem for p in build.SRC_DIR.glob("*.c"))
    assert sources == sorted(PROGRAMS)
    for src in build.SRC_DIR.glob("*.c"):
        text = src.read_text()
        assert text.startswith("/*"), f"{src.name} must start with a comment"
        assert "Tests:" in text.split("*/", 1)[0] or "Usage:" in text.split("*/", 1)[0]


def test_build_all_produces_static_executables(bins):
    assert sorted(bins) == sorted(PROGRAMS)
    for name, path in bins.items():
        assert os.access(path, os.X_OK), name
        with open(path, "rb") as f:
            head = f.read(64)
        assert head[:4] == b"\x7fELF" and head[4] == 2, f"{name}: not ELF64"
        e_type = int.from_bytes(head[16:18], "little")
        assert e_type in (2, 3), f"{name}: unexpected e_type {e_type}"
        assert b".interp" not in _section_names(path), f"{name} is dynamic"


def _section_names(path: str) -> bytes:
    res = subprocess.run(["readelf", "-SW", path], capture_output=True)
    return res.stdout if res.returncode == 0 else b""


def test_rebuild_skips_up_to_date(bins):
    outdir = Path(next(iter(bins.values()))).parent
    before = {n: os.stat(p).st_mtime_ns for n, p in bins.items()}
    again = build.build_all(outdir)
    assert again == bins
    assert {n: os.stat(p).st_mtime_ns for n, p in again.items()} == before


def test_rebuild_when_source_is_newer(bins, tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "t_x.c").write_text("/* Tests: nothing. */\nint main(void){return 3;}\n")
    monkeypatch.setattr(build, "SRC_DIR", src)
    out = tmp_path / "out"
    path = build.build_all(out)["t_x"]
    assert subprocess.run([path]).returncode == 3
    (src / "t_x.c").write_text("/* Tests: nothing. */\nint main(void){return 4;}\n")
    future = os.stat(path).st_mtime + 10
    os.utime(src / "t_x.c", (future, future))
    assert subprocess.run([build.build_all(out)["t_x"]]).returncode == 4


def test_build_error_reports_compiler_output(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    (src / "t_good.c").write_text("int main(void){return 0;}\n")
    (src / "t_bad.c").write_text("int main(void){ return undefined_thing; }\n")
    monkeypatch.setattr(build, "SRC_DIR", src)
    with pytest.raises(build.BuildError) as exc:
        build.build_all(tmp_path / "out")
    msg = str(exc.value)
    assert "t_bad.c" in msg and "undefined_thing" in msg
    assert "t_good.c" not in msg
    assert not (tmp_path / "out" / "t_bad").exists()


def test_cli_builds_named_program(tmp_path):
    res = subprocess.run([sys.executable, "-m", "guest.build", str(tmp_path), "t_hello"],
                         cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(tmp_path / "t_hello")
    res = subprocess.run([sys.executable, "-m", "guest.build", str(tmp_path), "nope"],
                         cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert res.returncode == 1 and "nope" in res.stderr


# ---- every program is deterministic ---------------------------------------

# t_fsyncstress leaves its files on purpose (crash tests read them): tested below.
@pytest.mark.parametrize("name", sorted(set(PROGRAMS) - {"t_aio", "ktrace", "t_fsyncstress"}))
def test_program_is_deterministic(bins, name, tmp_path):
    args = expand(PROGRAMS[name], tmp_path)
    first = run_ok(bins, name, *args)
    second = run_ok(bins, name, *args)
    assert first == second
    assert list(tmp_path.iterdir()) == [], f"{name} left files behind"


# ---- individual programs -------------------------------------------------

def test_fsyncstress_reports_each_durable_file(bins, tmp_path):
    out = run_ok(bins, "t_fsyncstress", str(tmp_path), "3", "4096", "1024")
    done = [l.split() for l in out.splitlines() if l.startswith("done ")]
    assert [d[1] for d in done] == ["f.0", "f.1", "f.2"]
    for _, name, length, _fnv in done:
        assert (tmp_path / name).stat().st_size == int(length)
    assert out.splitlines()[-1] == "finished 3"


def test_hello(bins):
    assert run_ok(bins, "t_hello") == "hello, world\n"


def test_true_and_getppid_print_nothing(bins):
    assert run_ok(bins, "t_true") == ""
    assert run_ok(bins, "t_getppid", "1000") == ""
    assert run_ok(bins, "t_getppid") == ""


def test_cpuloop_checksum(bins):
    out = run_ok(bins, "t_cpuloop", "1000")
    assert re.fullmatch(r"checksum [0-9a-f]{16}\n", out)
    assert run_ok(bins, "t_cpuloop", "1001") != out
    assert re.fullmatch(r"checksum [0-9a-f]{16}\n", run_ok(bins, "t_cpuloop"))


def test_ktrace_io(bins):
    out = run_ok(bins, "t_ktrace_io")
    first, rest = out.split("\n", 1)
    assert len(first) + 1 == 36
    assert rest == "done\n"


def test_aio_ok_or_enosys(bins, tmp_path):
    res = run(bins["t_aio"], str(tmp_path))
    if res.returncode == 0:
        assert res.stdout == b"aio_read: ok\n"
    else:
        assert res.returncode == 1
        assert res.stderr == b"aio_read: Function not implemented\n"
    assert list(tmp_path.iterdir()) == []


def test_threads(bins):
    assert run_ok(bins, "t_threads") == (
        "counter 800000\nbarrier ok\ntls ok\njoin ok\nthreads ok\n")


def test_signals(bins):
    out = run_ok(bins, "t_signals").splitlines()
    for line in ("kill SIGUSR1: ok si_code=SI_USER",
                 "fpu/sse state preserved across handler: ok",
                 "read without SA_RESTART: EINTR",
                 "read with SA_RESTART: restarted",
                 "sigaltstack: ok",
                 "SIGCHLD: ok CLD_EXITED status=7",
                 "nested signals: ABba",
                 "deferred signal (sa_mask): AaBb"):
        assert line in out
    assert out[-1] == "signals ok"


@pytest.mark.parametrize("n", ["1", "20", "200"])
def test_forkstorm(bins, n):
    out = run_ok(bins, "t_forkstorm", n).splitlines()
    assert out[0] == f"children: {n}"
    assert "statuses: ok" in out and "zombie: ok" in out
    assert "waitid CLD_KILLED: ok" in out
    assert out[-1] == "forkstorm ok"


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_fault_kills_with_signal(bins, kind, tmp_path):
    res = run(bins["t_fault"], kind, cwd=tmp_path)
    signame, _ = FAULTS[kind]
    assert res.returncode == -getattr(signal, signame), (
        f"t_fault {kind}: returncode {res.returncode}, stderr {res.stderr!r}")
    assert res.stdout == b""
    assert list(tmp_path.iterdir()) == [], "core file written"


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_fault_handled(bins, kind):
    signame, code = FAULTS[kind]
    assert run_ok(bins, "t_fault", kind, "handle") == f"caught {signame}\nsi_code {code}\n"


def test_fault_usage(bins):
    assert run(bins["t_fault"]).returncode == 2
    assert run(bins["t_fault"], "bogus").returncode == 2


def test_files(bins, tmp_path):
    out = run_ok(bins, "t_files", str(tmp_path)).splitlines()
    for line in ("stat a.txt: mode=100644 size=12 nlink=2",
                 "lstat sym: mode=120777 size=5",
                 "statx a.txt: mode=100644 size=12 nlink=2",
                 "getdents64 d: . .. a b c sub",
                 "utimensat a.txt: atime=1234567890.123456789 mtime=1500000000.000000000",
                 "umask: old=022 new file mode=100600",
                 "epoll: ok"):
        assert line in out
    assert out[-1] == "files ok"
    assert list(tmp_path.iterdir()) == []


def test_files_needs_a_directory(bins):
    assert run(bins["t_files"]).returncode == 2


def test_mmap(bins, tmp_path):
    out = run_ok(bins, "t_mmap", str(tmp_path)).splitlines()
    for line in ("MAP_FIXED_NOREPLACE: EEXIST, hole ok",
                 "mprotect: ok (write to PROT_READ: SIGSEGV SEGV_ACCERR)",
                 "madvise MADV_DONTNEED: private zeroed, shared kept",
                 "MAP_SHARED across fork: 1234"):
        assert line in out
    assert out[-1] == "mmap ok"


def test_time(bins):
    out = run_ok(bins, "t_time").splitlines()
    assert "not ok" not in "\n".join(out)
    for line in ("nanosleep 50ms: ok", "uname sysname: Linux",
                 "getrandom: 16 bytes, nonblock 32 bytes",
                 "prctl PR_GET_NAME: vk-time-test", "personality: PER_LINUX"):
        assert line in out
    assert out[-1] == "time ok"


def test_isolation_runs_natively(bins, tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("host only\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    out = run_ok(bins, "t_isolation", str(secret), str(os.getpid()), str(scratch))
    lines = dict(line.split(": ", 1) for line in out.splitlines())
    # On the host itself nothing is isolated.
    assert lines["absolute path"] == "reached!"
    assert lines["symlink"] == "reached!"
    assert lines["dotdot chain from cwd"] == "reached!"
    assert lines["kill(hostpid, 0)"] == "reached!"
    assert set(lines) >= {"/proc/self/root", "/proc/1/root", "/proc/1/cwd",
                          "kill(1, 0)", "int $0x80 getpid"}
    assert list(scratch.iterdir()) == []


def test_isolation_unreachable_path(bins):
    out = run_ok(bins, "t_isolation", "/nonexistent/vkernel-test")
    assert "reached!" not in out.replace("kill(1, 0): reached!", "")
