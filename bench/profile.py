"""Profile the vkernel's syscall path on the getppid loop.

No kernel counterpart.  Two measurements, neither part of `python3 -m bench`:

  python3 -m bench.profile stub [-n N]
      Boots vkernel on t_getppid, lets WARM getppid stops go through the
      host for real, then replaces the platform's two host entry points
      (ptrace and waitpid, the module globals _ptrace/_waitpid of
      vkernel/platform/ptrace.py) with no-ops that replay the last getppid
      stop.  The loop then runs nothing but the kernel's Python path
      (go_user, wait/_decode, user_trap, syscall2, userret): its thread CPU
      time per iteration is the Python cost of one syscall, free of host
      noise.  The no-op stubs themselves cost a little (~1 us).
  python3 -m bench.profile spy [-n N] [-o FILE]
      The same loop for real under py-spy (pip install py-spy) and prints
      the functions by inclusive share of samples.

Either takes --root (default: the bench work dir's root).
"""
import argparse
import collections
import ctypes
import os
import shutil
import subprocess
import sys
import time

from .harness import REPO, child_env, vkernel_argv
from .prepare import default_workdir, pycache_dir

GUEST = "/usr/local/bin/t_getppid"
WARM = 1000
PTRACE_GETREGS = 12
SYSCALL_STOP = 0x857f
SYS_GETPPID = 110


class _Stubs:
    """Replacement _ptrace/_waitpid for vkernel.platform.ptrace (see module doc)."""

    def __init__(self, P, iterations):
        self.P, self.iterations = P, iterations
        self.real_ptrace, self.real_waitpid = P._ptrace, P._waitpid
        self.seen = self.done = 0
        self.regs = self.tid = None
        self.t0 = self.c0 = 0.0

    def ptrace(self, req, tid, addr, data):
        if self.regs is not None:
            if req == PTRACE_GETREGS:
                ctypes.memmove(data, self.regs, len(self.regs))
            return 0
        r = self.real_ptrace(req, tid, addr, data)
        if req == PTRACE_GETREGS:
            raw = ctypes.string_at(data, ctypes.sizeof(self.P.Regs))
            if self.P.Regs.from_buffer_copy(raw).orig_rax == SYS_GETPPID:
                self.seen += 1
                if self.seen == WARM:
                    self.regs, self.tid = raw, tid
                    self.t0, self.c0 = time.perf_counter(), time.thread_time()
        return r

    def waitpid(self, pid, pstatus, options):
        if self.regs is None:
            return self.real_waitpid(pid, pstatus, options)
        self.done += 1
        if self.done == self.iterations:
            self.report()
        if hasattr(pstatus, "_obj"):                 # ctypes.byref(c_int)
            pstatus._obj.value = SYSCALL_STOP
        else:
            ctypes.cast(pstatus, ctypes.POINTER(ctypes.c_int))[0] = SYSCALL_STOP
        return self.tid

    def report(self):
        cpu = (time.thread_time() - self.c0) / self.done * 1e6
        wall = (time.perf_counter() - self.t0) / self.done * 1e6
        print(f"vkernel Python syscall path (host calls stubbed): {cpu:.2f} us CPU, "
              f"{wall:.2f} us wall per getppid over {self.done}", flush=True)
        os._exit(0)


def stub_child(root, iterations):
    """In a child process: boot vkernel with the stubs installed (never returns)."""
    sys.path.insert(0, REPO)
    import vkernel.platform.ptrace as P
    from vkernel.cli import main
    if not (hasattr(P, "_ptrace") and hasattr(P, "_waitpid")):
        sys.exit("bench.profile stub: the CPU now waits through the fused C call in "
                 "vkernel/platform/fastpath.py (one step() per trap), which this stub "
                 "mode cannot replace; use `python3 -m bench.profile spy` instead")
    stubs = _Stubs(P, iterations)
    P._ptrace, P._waitpid = stubs.ptrace, stubs.waitpid
    sys.exit(main(["-r", root, "--", GUEST, str(10 * iterations + 10 * WARM)]))


def run_stub(root, n):
    code = f"from bench.profile import stub_child; stub_child({root!r}, {n})"
    env = child_env(pycache_dir(default_workdir()))
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          stdin=subprocess.DEVNULL).returncode


def run_spy(root, n, out):
    spy = shutil.which("py-spy")
    if not spy:
        print("bench.profile: py-spy not found (pip install py-spy)", file=sys.stderr)
        return 1
    argv = [spy, "record", "-r", "1000", "--nonblocking", "--subprocesses", "-f", "raw",
            "-o", out, "--", *vkernel_argv(root, GUEST, str(n))]
    res = subprocess.run(argv, cwd=REPO, env=child_env(pycache_dir(default_workdir())),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if res.returncode != 0 or not os.path.exists(out):
        print(res.stderr, file=sys.stderr)
        return 1
    print_spy(out)
    return 0


def print_spy(path, top=30):
    """Functions by inclusive share of the samples taken inside the CPU loop."""
    incl, total = collections.Counter(), 0
    for line in open(path):
        stack, _, n = line.rstrip().rpartition(" ")
        if "go_user" not in stack:
            continue
        frames = [f.split(" (")[0] for f in stack.split(";")]
        total += int(n)
        for name in set(frames[frames.index("Cpu.go_user") + 1:]):
            incl[name] += int(n)
    print(f"{total} samples in Cpu.go_user; inclusive share of what it calls:")
    for name, n in incl.most_common(top):
        print(f"{100 * n / total:6.1f}%  {name}")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m bench.profile",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("stub", "spy"))
    ap.add_argument("-n", type=int, default=200_000, help="getppid calls (default 200000)")
    ap.add_argument("--root", default=os.path.join(default_workdir(), "root"))
    ap.add_argument("-o", default=os.path.join(default_workdir(), "py-spy.txt"),
                    help="py-spy raw output (spy mode)")
    args = ap.parse_args(argv)
    if args.mode == "stub":
        return run_stub(args.root, args.n)
    return run_spy(args.root, args.n, args.o)


if __name__ == "__main__":
    sys.exit(main())
