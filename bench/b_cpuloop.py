"""Benchmark 2: a CPU-bound guest loop, inside vkernel vs natively.

guest/src/t_cpuloop iterates an xorshift generator N times with no system
call in the loop, then prints a checksum.  Inside vkernel the loop runs
natively on the host CPU (PTRACE_SYSEMU only stops on syscalls), so the
only expected cost is the vkernel's own interference (timer interrupts,
host signals, CPU sharing with the kernel thread).  The native run is
pinned to the same host CPU.  Both are timed for N and n0 iterations and
differenced; the checksums must agree.
"""
from .harness import BenchError, compare, compare_raw, figure

GUEST = "/usr/local/bin/t_cpuloop"
N0 = 1
TARGET = 1.05


def _check_same_output(cmp):
    outs = {s.stdout for side in cmp.values() for s in side["big"]}
    if len(outs) != 1:
        raise BenchError(f"t_cpuloop checksums differ: {sorted(outs)}")


def run(setup, n, reps):
    """Nanoseconds per loop iteration, vkernel vs native."""
    n = max(n, 1000)
    cmp = compare(reps, {
        "vk": (lambda k: setup.run_vkernel(GUEST, str(k)), n),
        "native": (lambda k: setup.run([setup.host_path(GUEST), str(k)], pinned=True), n),
    }, N0)
    _check_same_output(cmp)
    vk, nat = cmp["vk"], cmp["native"]
    raw = {"n": n, "n0": N0, "cpu": setup.cpu,
           "loop_s_vkernel": round(vk["wall"] * (n - N0), 6),
           "loop_s_native": round(nat["wall"] * (n - N0), 6), **compare_raw(cmp)}
    return {"cpuloop": figure("CPU-bound guest loop", "ns/iter", vk["wall"] * 1e9,
                              nat["wall"] * 1e9, "native, same CPU", vk["wall"] / nat["wall"],
                              TARGET, vk["noisy"] or nat["noisy"], raw,
                              cpu_ratio=vk["cpu"] / nat["cpu"])}
