"""Bench-time preparation: the guest root and the two C helpers.

No kernel counterpart.  The root is made by `vkernel mkroot` (busybox plus
the guest programs of guest/src, compiled statically) unless the caller
passes one; bench/c/sysemu_tracer.c (the syscall baseline) and
bench/c/runstat.c (the launcher that times every program) are compiled with
the host's C compiler on every run, so they always match the host.  A
first untimed `vkernel -- /bin/true` fills the bench's own bytecode cache
(see harness.child_env).
"""
import dataclasses
import os
import shutil
import subprocess
import sys

from .harness import REPO, BenchError, child_env, run_ok, vkernel_argv

C_DIR = os.path.join(REPO, "bench", "c")
NEEDED = ("bin/true", "bin/sh", "usr/local/bin/t_getppid", "usr/local/bin/t_cpuloop",
          "usr/local/bin/t_spawn", "usr/local/bin/t_true")


@dataclasses.dataclass
class Setup:
    """Everything a benchmark needs besides its sizes."""
    root: str           # guest root directory
    tracer: str         # compiled bench/c/sysemu_tracer.c
    runstat: str        # compiled bench/c/runstat.c
    cpu: int            # host CPU the vkernel runs its guests on
    env: dict           # environment of every program (child_env with a pycache)
    workdir: str = ""   # the bench's scratch directory

    def run(self, argv, pinned=False):
        """Time argv (through runstat), pinned to self.cpu if asked; must exit 0."""
        return run_ok(argv, self.runstat, cpu=self.cpu if pinned else None, env=self.env)

    def run_vkernel(self, *command):
        """Time `vkernel -r ROOT -- command`; must exit 0."""
        return self.run(vkernel_argv(self.root, *command))

    def host_path(self, guest_path):
        """Host path of a guest file, for running the same binary natively."""
        return os.path.join(self.root, guest_path.lstrip("/"))


def default_workdir():
    return os.path.join("/tmp", f"vkernel-bench-{os.getuid()}")


def vkernel_cpu():
    """The host CPU vkernel pins itself and its guests to (cli.Conf.host_cpu)."""
    sys.path.insert(0, REPO)
    from vkernel.cli import Conf
    return Conf().host_cpu


def make_root(dest):
    """`vkernel mkroot dest` (cheap when the guest programs are cached)."""
    res = subprocess.run([sys.executable, "-m", "vkernel", "mkroot", dest],
                         cwd=REPO, env=child_env(), capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"vkernel mkroot {dest} failed:\n{res.stdout}{res.stderr}")


def check_root(root):
    missing = [p for p in NEEDED if not os.path.exists(os.path.join(root, p))]
    if missing:
        raise BenchError(f"root {root} lacks {', '.join(missing)}; "
                         f"rebuild it with `python3 -m vkernel mkroot {root}`")


def find_cc():
    cc = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")
    if not cc:
        raise BenchError("no C compiler (gcc or cc) to build bench/c")
    return cc


def compile_c(name, workdir):
    """Compile bench/c/NAME.c into workdir (static if the host can); returns its path."""
    src, out = os.path.join(C_DIR, name + ".c"), os.path.join(workdir, name)
    base = [find_cc(), "-O2", "-Wall", "-o", out, src]
    res = subprocess.run(base + ["-static"], capture_output=True, text=True)
    if res.returncode != 0:
        res = subprocess.run(base, capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"compiling {src} failed:\n{res.stderr}")
    return out


def pycache_dir(workdir):
    return os.path.join(workdir, "pycache")


def prepare(root=None, workdir=None):
    """Build (or check) the root, compile the C helpers, warm the bytecode cache.

    Returns a Setup.
    """
    workdir = workdir or default_workdir()
    os.makedirs(workdir, exist_ok=True)
    if root is None:
        root = os.path.join(workdir, "root")
        make_root(root)
    check_root(root)
    setup = Setup(root=os.path.abspath(root), tracer=compile_c("sysemu_tracer", workdir),
                  runstat=compile_c("runstat", workdir), cpu=vkernel_cpu(),
                  env=child_env(pycache_dir(workdir)), workdir=os.path.abspath(workdir))
    setup.run_vkernel("/bin/true")          # fills the pycache; not timed
    return setup
