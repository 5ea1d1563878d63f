"""Benchmark 3: fork + exec + exit + wait per second (lmbench's lat_proc exec).

guest/src/t_spawn forks N children that each exec the static
/usr/local/bin/t_true and are reaped with waitpid.  Inside vkernel this
exercises kern_fork (a host clone injected on the stub), kern_exec (the
kernel's own ELF loader through the guest VFS), exit1 and wait4.  The
native run execs the same t_true from the root, pinned to the same CPU.
Both are timed for N and n0 spawns and differenced.
"""
from .harness import compare, compare_raw, figure

GUEST = "/usr/local/bin/t_spawn"
CHILD = "/usr/local/bin/t_true"
N0 = 1


def run(setup, n_vkernel, n_native, reps):
    """Spawns per second, vkernel vs native; the ratio is native rate / vkernel rate."""
    n_vkernel, n_native = max(n_vkernel, 10), max(n_native, 10)
    prog, child = setup.host_path(GUEST), setup.host_path(CHILD)
    cmp = compare(reps, {
        "vk": (lambda k: setup.run_vkernel(GUEST, str(k), CHILD), n_vkernel),
        "native": (lambda k: setup.run([prog, str(k), child], pinned=True), n_native),
    }, N0)
    vk, nat = cmp["vk"], cmp["native"]
    raw = {"n_vkernel": n_vkernel, "n_native": n_native, "n0": N0, "cpu": setup.cpu,
           "us_per_spawn_vkernel": round(vk["wall"] * 1e6, 3),
           "us_per_spawn_native": round(nat["wall"] * 1e6, 3), **compare_raw(cmp)}
    return {"spawn": figure("fork+exec+exit+wait", "spawns/s", 1 / vk["wall"],
                            1 / nat["wall"], "native, same CPU", vk["wall"] / nat["wall"],
                            None, vk["noisy"] or nat["noisy"], raw,
                            cpu_ratio=vk["cpu"] / nat["cpu"])}
