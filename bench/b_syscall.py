"""Benchmark 1: syscall round trip (lmbench's lat_syscall "null call").

guest/src/t_getppid calls getppid(2) N times.  Inside vkernel every call
is a PTRACE_SYSEMU stop served by the Python kernel (platform wait,
user_trap, syscall2, userret).  The baseline is bench/c/sysemu_tracer.c:
the same binary under the smallest C SYSEMU tracer, pinned to the same
host CPU, answering getppid with GETREGS/SETREGS.  bench/pytracer.py, the
same loop in Python, is measured too: its figure is the Python floor, so
vkernel - pytracer is what the kernel's own layers cost.  Every side is
timed for N and for n0 calls and differenced, so boot and exec cancel.
"""
import re
import sys

from .harness import BenchError, compare, compare_raw, figure

GUEST = "/usr/local/bin/t_getppid"
N0 = 100
TARGET = 1.5


def _tracer_argv(setup, which):
    if which == "c":
        return [setup.tracer, "-c", str(setup.cpu)]
    return [sys.executable, "-m", "bench.pytracer", "-c", str(setup.cpu)]


def _traced_run(setup, which, n):
    s = setup.run([*_tracer_argv(setup, which), setup.host_path(GUEST), str(n)])
    m = re.search(r"getppid (\d+)", s.stdout)
    if not m or int(m.group(1)) != n:
        raise BenchError(f"{which} tracer served {m and m.group(1)} getppid, wanted {n}")
    return s


def run(setup, n_vkernel, n_tracer, reps):
    """Microseconds per getppid round trip: vkernel, the Python floor, the C tracer."""
    n_vkernel, n_tracer = max(n_vkernel, 10 * N0), max(n_tracer, 10 * N0)
    cmp = compare(reps, {
        "vk": (lambda k: setup.run_vkernel(GUEST, str(k)), n_vkernel),
        "py": (lambda k: _traced_run(setup, "py", k), n_vkernel),
        "c": (lambda k: _traced_run(setup, "c", k), n_tracer),
    }, N0)
    wall = {k: v["wall"] * 1e6 for k, v in cmp.items()}
    cpu = {k: v["cpu"] * 1e6 for k, v in cmp.items()}
    noisy = any(v["noisy"] for v in cmp.values())
    raw = {"n_vkernel": n_vkernel, "n_tracer": n_tracer, "n0": N0, "cpu": setup.cpu,
           "python_floor_us": round(wall["py"], 3),
           "vkernel_over_python_floor": round(wall["vk"] / wall["py"], 3),
           "cpu_us_per_call": {k: round(v, 3) for k, v in cpu.items()}, **compare_raw(cmp)}
    c_name = "C PTRACE_SYSEMU tracer"
    return {
        "syscall": figure("syscall round trip (getppid)", "us/call", wall["vk"], wall["c"],
                          c_name, wall["vk"] / wall["c"], TARGET, noisy, raw,
                          cpu_ratio=cpu["vk"] / cpu["c"]),
        "syscall_floor": figure("  same loop in bare Python (floor)", "us/call", wall["py"],
                                wall["c"], c_name, wall["py"] / wall["c"], None, noisy,
                                {"see": "syscall"}, cpu_ratio=cpu["py"] / cpu["c"]),
    }
