"""`python3 -m bench`: run every benchmark, print the table, write results.json.

No kernel counterpart.  Sizes are chosen so the whole run takes about a
minute on the development machines (well under three); --scale multiplies
every N, --reps sets the repetitions of every measurement, --only picks
benchmarks.  See bench/README.md for how to read the figures.
"""
import argparse
import datetime
import os
import platform
import sys
import time

from . import b_boot, b_cpuloop, b_disk, b_smp, b_spawn, b_syscall, report
from .harness import REPO, BenchError
from .prepare import prepare

BENCHMARKS = ("syscall", "cpuloop", "spawn", "boot", "disk", "smp")
DEFAULT_JSON = os.path.join(REPO, "bench", "results.json")

# Default sizes at --scale 1.
N_SYSCALL_VKERNEL = 100_000
N_SYSCALL_TRACER = 200_000
N_CPULOOP = 1_000_000_000
N_SPAWN_VKERNEL = 300
N_SPAWN_NATIVE = 3_000
N_DISK_MIB = 256
N_UNTAR_FILES = 3_000
N_SMP_SYSCALL = 50_000
N_SMP_LOOP = 300_000_000
N_SMP_PINGPONG = 3_000


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every benchmark's N (default 1)")
    ap.add_argument("--reps", type=int, default=3,
                    help="repetitions of each measurement; the best is kept (default 3)")
    ap.add_argument("--only", action="append", choices=BENCHMARKS,
                    help="run only this benchmark (repeatable)")
    ap.add_argument("--root", help="use this guest root instead of building one")
    ap.add_argument("--workdir", help="scratch directory (default /tmp/vkernel-bench-UID)")
    ap.add_argument("--json", default=DEFAULT_JSON,
                    help="results file (default bench/results.json)")
    ap.add_argument("--no-prompt", action="store_true",
                    help="skip the pexpect shell-prompt boot figure")
    return ap.parse_args(argv)


def _scaled(n, scale):
    return max(1, int(n * scale))


def run_benchmarks(setup, names, scale, reps, prompt=True):
    """Run the named benchmarks; returns {figure name: figure dict}."""
    figs = {}
    if "syscall" in names:
        figs.update(b_syscall.run(setup, _scaled(N_SYSCALL_VKERNEL, scale),
                                  _scaled(N_SYSCALL_TRACER, scale), reps))
    if "cpuloop" in names:
        figs.update(b_cpuloop.run(setup, _scaled(N_CPULOOP, scale), reps))
    if "spawn" in names:
        figs.update(b_spawn.run(setup, _scaled(N_SPAWN_VKERNEL, scale),
                                _scaled(N_SPAWN_NATIVE, scale), reps))
    if "boot" in names:
        figs.update(b_boot.run(setup, reps, prompt=prompt))
    if "disk" in names:
        figs.update(b_disk.run(setup, _scaled(N_DISK_MIB, scale),
                               _scaled(N_UNTAR_FILES, scale), reps))
    if "smp" in names:
        figs.update(b_smp.run(setup, _scaled(N_SMP_SYSCALL, scale), _scaled(N_SMP_LOOP, scale),
                              _scaled(N_SMP_PINGPONG, scale), reps))
    return figs


def meta(setup, scale, reps, started, elapsed):
    return {
        "date": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
        "host": platform.node(), "kernel": platform.release(),
        "python": platform.python_version(), "host_cpus": os.cpu_count(),
        "cpu": setup.cpu, "loadavg": [round(x, 2) for x in os.getloadavg()],
        "scale": scale, "reps": reps, "root": setup.root, "elapsed_s": round(elapsed, 1),
    }


def run_all(scale=1.0, reps=3, only=None, root=None, workdir=None, prompt=True):
    """Prepare, run, and return the results dict (meta + figures)."""
    started = time.time()
    setup = prepare(root=root, workdir=workdir)
    figs = run_benchmarks(setup, only or BENCHMARKS, scale, max(1, reps), prompt)
    return {"meta": meta(setup, scale, reps, started, time.time() - started),
            "figures": figs}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        results = run_all(args.scale, args.reps, args.only, args.root, args.workdir,
                          prompt=not args.no_prompt)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print(report.table(results))
    report.write_json(results, args.json)
    print(f"\nresults written to {os.path.relpath(args.json)}")
    return 0
