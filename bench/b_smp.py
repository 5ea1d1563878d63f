"""Benchmark 6: guests on -n 1 and -n 2 virtual CPUs.

Two copies of a guest program run in parallel under one vkernel
(`sh -c 'prog N & prog N & wait'`), once with one virtual CPU and once
with two (each CPU a tracer thread pinned with its guests to its own host
CPU).  Two workloads:
  * syscalls: guest/src/t_getppid, every call a trap served by the kernel.
    Baseline: two C PTRACE_SYSEMU tracers (bench/c/sysemu_tracer.c) at
    once, each pinned to its own host CPU -- what two CPUs can do at best.
  * compute: guest/src/t_cpuloop, no syscall in the loop.  Baseline: the
    two loops natively at once, unpinned.
And one process whose two threads wake each other (guest/src/t_pingpong:
a byte bounced through two pipes), against the same binary natively: with
-n 2 its threads may sit on different CPUs, and each wakeup crosses them.
Figures are time per operation (N and n0 differenced, so boot cancels), as
ratios against the baseline of the same run; -n 1 against -n 2 shows what
the second CPU buys.  Kernel work stays under one lock (and one GIL), so
the syscall pair cannot scale past what one Python thread serves.
"""
import os

from .harness import compare, compare_raw, figure, vkernel_argv

GETPPID, CPULOOP = "/usr/local/bin/t_getppid", "/usr/local/bin/t_cpuloop"
PINGPONG = "/usr/local/bin/t_pingpong"
N0_SYSCALL, N0_LOOP, N0_PINGPONG = 100, 1, 10


def _pair_in_vkernel(setup, ncpus, prog, n):
    script = f"{prog} {n} & {prog} {n} & wait"
    return setup.run(vkernel_argv(setup.root, "/bin/sh", "-c", script,
                                  options=("-n", str(ncpus))))


def _host_cpus(setup):
    avail = sorted(os.sched_getaffinity(0))
    other = [c for c in avail if c != setup.cpu]
    return setup.cpu, (other[0] if other else setup.cpu)


def _tracer_pair(setup, n):
    a, b = _host_cpus(setup)
    prog = setup.host_path(GETPPID)
    script = (f"{setup.tracer} -c {a} {prog} {n} >/dev/null & "
              f"{setup.tracer} -c {b} {prog} {n} >/dev/null & wait")
    return setup.run(["/bin/sh", "-c", script])


def _native_pair(setup, n):
    prog = setup.host_path(CPULOOP)
    return setup.run(["/bin/sh", "-c", f"{prog} {n} >/dev/null & {prog} {n} >/dev/null & wait"])


def _pingpong(setup, ncpus, n):
    return setup.run(vkernel_argv(setup.root, PINGPONG, str(n), options=("-n", str(ncpus))))


def run(setup, n_syscall, n_loop, n_pingpong, reps):
    n_syscall, n_loop = max(n_syscall, 10 * N0_SYSCALL), max(n_loop, 1000)
    n_pingpong = max(n_pingpong, 10 * N0_PINGPONG)
    sys_cmp = compare(reps, {
        "n1": (lambda k: _pair_in_vkernel(setup, 1, GETPPID, k), n_syscall),
        "n2": (lambda k: _pair_in_vkernel(setup, 2, GETPPID, k), n_syscall),
        "c": (lambda k: _tracer_pair(setup, k), n_syscall),
    }, N0_SYSCALL)
    loop_cmp = compare(reps, {
        "n1": (lambda k: _pair_in_vkernel(setup, 1, CPULOOP, k), n_loop),
        "n2": (lambda k: _pair_in_vkernel(setup, 2, CPULOOP, k), n_loop),
        "native": (lambda k: _native_pair(setup, k), n_loop),
    }, N0_LOOP)
    pp_cmp = compare(reps, {
        "n1": (lambda k: _pingpong(setup, 1, k), n_pingpong),
        "n2": (lambda k: _pingpong(setup, 2, k), n_pingpong),
        "native": (lambda k: setup.run([setup.host_path(PINGPONG), str(k)]), n_pingpong),
    }, N0_PINGPONG)
    return {**_figures("syscalls", "2 getppid loops at once", "us/call", 1e6, sys_cmp, "c",
                       "2 C tracers on 2 CPUs", n_syscall),
            **_figures("compute", "2 CPU-bound loops at once", "ns/iter", 1e9, loop_cmp,
                       "native", "the 2 loops natively", n_loop),
            **_figures("pingpong", "2 threads waking each other", "us/round", 1e6, pp_cmp,
                       "native", "the same, natively", n_pingpong)}


def _figures(key, title, unit, scale, cmp, base, base_name, n):
    noisy = any(v["noisy"] for v in cmp.values())
    b = cmp[base]["wall"]
    raw = {"n": n, **compare_raw(cmp),
           "n2_over_n1": round(cmp["n2"]["wall"] / cmp["n1"]["wall"], 3)}
    return {
        f"smp_{key}_n1": figure(f"{title}, -n 1", unit, cmp["n1"]["wall"] * scale, b * scale,
                                base_name, cmp["n1"]["wall"] / b, None, noisy, raw),
        f"smp_{key}_n2": figure(f"{title}, -n 2", unit, cmp["n2"]["wall"] * scale, b * scale,
                                base_name, cmp["n2"]["wall"] / b, None, noisy,
                                {"see": f"smp_{key}_n1"}),
    }
