"""Timing primitives shared by the benchmarks.

No kernel counterpart; the method is lmbench's (lat_syscall, lat_proc):
run a program doing N operations and one doing n0, subtract, divide by
N - n0, so start-up costs (Python, the vkernel's boot, exec) cancel out.

Every program is started the same way, through bench/c/runstat.c, which
times it in C (fork to wait4) and reports its peak RSS.  Native baselines
are pinned to the host CPU the vkernel pins itself and its guests to; the
vkernel is started unpinned and pins itself, exactly as a user runs it.
Runs of the two sides are interleaved so slow drift on a shared machine
hits both alike, and the best (minimum) of the repetitions is kept: noise
only ever adds time.
"""
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOISE_FLOOR = 1e-3     # seconds; N ops taking less than this over n0 ops is noise


class BenchError(Exception):
    """A benchmark program failed (bad exit status, wrong output, timeout)."""


@dataclasses.dataclass
class Sample:
    """One timed run of one program."""
    wall: float           # seconds, fork to wait4 (measured by runstat)
    maxrss_kb: int        # ru_maxrss of the child and everything it reaped
    user: float
    sys: float
    status: int
    stdout: str
    stderr: str


def vkernel_argv(root, *command, options=()):
    """argv of `python3 -m vkernel -r ROOT [options] -- command...`."""
    argv = [sys.executable, "-m", "vkernel", "-r", root, *options]
    return argv + ["--", *command] if command else argv


def child_env(pycache=None):
    """Environment of every program the bench starts.

    With pycache, Python keeps its bytecode cache there (PYTHONPYCACHEPREFIX)
    even if the caller's environment says PYTHONDONTWRITEBYTECODE: a boot
    is then timed as a user sees it, from cached bytecode, not from source
    recompiled on every start, and the repository gets no __pycache__.
    """
    env = dict(os.environ, PYTHONPATH=REPO)
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def run_timed(argv, runstat, cpu=None, env=None, timeout=300.0):
    """Run argv to completion through the runstat launcher; return a Sample.

    stdin is /dev/null.  cpu: pin the program to this host CPU (None: leave
    it unpinned).  env: its environment (default child_env()).  Wall time
    and rusage come from runstat (bench/c/runstat.c).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", prefix="runstat.") as stat:
        pin = ["-c", str(cpu)] if cpu is not None else []
        proc = subprocess.Popen([runstat, *pin, "-o", stat.name, *argv],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env or child_env(), cwd=REPO, start_new_session=True)
        if _wait(proc, timeout) != 0:
            raise BenchError(f"runstat failed (exit {proc.returncode}): {' '.join(argv)}\n"
                             f"{_tail(err)}")
        fields = stat.read().split()
        st = {k: int(v) for k, v in zip(fields[::2], fields[1::2])}
        return Sample(st["wall_ns"] / 1e9, st["maxrss_kb"], st["utime_us"] / 1e6,
                      st["stime_us"] / 1e6, st["status"], _tail(out, None), _tail(err))


def _tail(f, limit=4000):
    f.seek(0)
    text = f.read().decode(errors="replace")
    return text if limit is None else text[-limit:]


def _wait(proc, timeout):
    """Wait for the child, killing it after timeout; returns its exit code."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # runstat and the program it runs
        proc.wait()
        raise BenchError(f"timed out after {timeout}s: {' '.join(proc.args)}") from None


def run_ok(argv, runstat, cpu=None, env=None, timeout=300.0):
    """run_timed, raising BenchError unless the program exited 0."""
    s = run_timed(argv, runstat, cpu=cpu, env=env, timeout=timeout)
    if s.status != 0:
        raise BenchError(f"exit status {s.status}: {' '.join(argv)}\n"
                         f"stdout: {s.stdout[-2000:]}\nstderr: {s.stderr[-2000:]}")
    return s


def interleave(reps, runners):
    """Call each runner `reps` times, round-robin; returns {name: [result, ...]}."""
    results = {name: [] for name in runners}
    for _ in range(reps):
        for name, fn in runners.items():
            results[name].append(fn())
    return results


def best(samples):
    """The fastest sample (minimum wall time)."""
    return min(samples, key=lambda s: s.wall)


def per_op(big, small, n_big, n_small):
    """Seconds per operation from two sample lists: (min big - min small) / dN.

    Returns (seconds, noisy): noisy is True when the difference was below
    NOISE_FLOOR (the difference is then taken as NOISE_FLOOR, never <= 0).
    """
    diff = best(big).wall - best(small).wall
    return max(diff, NOISE_FLOOR) / (n_big - n_small), diff < NOISE_FLOOR


def cpu(sample):
    """User + system CPU seconds of a run (the program and all it reaped)."""
    return sample.user + sample.sys


def cpu_per_op(big, small, n_big, n_small):
    """CPU seconds per operation, like per_op but from user + system time.

    Unlike wall time it does not grow when other host processes share the
    CPU, so a wall ratio that disagrees with it points at a busy machine.
    """
    diff = min(map(cpu, big)) - min(map(cpu, small))
    return max(diff, NOISE_FLOOR) / (n_big - n_small)


def compare(reps, sides, n0):
    """Time each side for its N and for n0 operations, all interleaved.

    sides: {name: (fn(n) -> Sample, N)}.  Returns {name: {"wall": s/op,
    "cpu": s/op, "noisy": bool, "big": [Sample], "small": [Sample]}}.
    """
    jobs = {}
    for name, (fn, n) in sides.items():
        jobs[f"{name}_big"] = lambda fn=fn, n=n: fn(n)
        jobs[f"{name}_small"] = lambda fn=fn: fn(n0)
    res = interleave(reps, jobs)
    out = {}
    for name, (_, n) in sides.items():
        big, small = res[f"{name}_big"], res[f"{name}_small"]
        wall, noisy = per_op(big, small, n, n0)
        out[name] = {"wall": wall, "cpu": cpu_per_op(big, small, n, n0),
                     "noisy": noisy, "big": big, "small": small}
    return out


def compare_raw(cmp):
    """The raw wall times of a compare() result, for the JSON file."""
    raw = {}
    for name, r in cmp.items():
        raw[f"{name}_big_wall_s"], raw[f"{name}_small_wall_s"] = walls(r["big"]), walls(r["small"])
        raw[f"{name}_cpu_per_op_s"] = r["cpu"]
    return raw


def walls(samples):
    """Raw wall times, rounded for the JSON file."""
    return [round(s.wall, 6) for s in samples]


def figure(title, unit, vkernel, baseline, baseline_name, ratio, target=None,
           noisy=False, raw=None, cpu_ratio=None):
    """One row of the results: a vkernel figure, its baseline and their ratio.

    ratio is always vkernel cost / baseline cost (1.0 = parity, higher = worse),
    from wall time; cpu_ratio the same from CPU time, where it means something.
    """
    return {
        "title": title, "unit": unit,
        "vkernel": vkernel, "baseline": baseline, "baseline_name": baseline_name,
        "ratio": ratio, "cpu_ratio": cpu_ratio, "target": target,
        "meets_target": None if target is None or noisy else ratio <= target,
        "noisy": noisy, "raw": raw or {},
    }
