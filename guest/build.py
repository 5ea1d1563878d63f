"""Build the guest C programs in guest/src into static x86-64 binaries.

Usage (from the repository root)::

    python3 -m guest.build OUTDIR [--cc COMPILER] [-j JOBS] [-v] [NAME ...]

or from Python::

    from guest.build import build_all
    paths = build_all("/tmp/guest-bin")      # {"t_hello": "/tmp/guest-bin/t_hello", ...}

Every ``guest/src/*.c`` becomes ``OUTDIR/<stem>``, compiled with
``musl-gcc -static -O2`` (or ``gcc -static -O2`` when musl-gcc is not
installed).  Sources that include ``<pthread.h>`` are linked with
``-lpthread``.  An output is rebuilt only when it is older than its source,
any header in guest/src or OUTDIR/include, or this builder, or when it was
built with a different command (recorded in ``OUTDIR/.<name>.cmd``).
Headers generated from the kernel's ABI package (guest/gen_headers.py:
vk_ktrace.h, vk_names.h for ktrace and kdump) are written to OUTDIR/include
first and found with ``-I``.  Compilation runs in parallel;
failures raise :class:`BuildError` carrying the compiler's diagnostics.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from guest.gen_headers import write_headers

SRC_DIR = Path(__file__).resolve().parent / "src"
CFLAGS = ["-static", "-O2", "-Wall", "-Wno-unused-function"]
PREFERRED_COMPILERS = ("musl-gcc", "gcc")


class BuildError(Exception):
    """One or more guest programs failed to compile."""


@dataclass(frozen=True)
class Program:
    """A guest program: its name (file stem) and source path."""

    name: str
    source: Path

    @property
    def uses_pthreads(self) -> bool:
        return "<pthread.h>" in self.source.read_text(errors="replace")


def find_compiler(cc: str | None = None) -> str:
    """Return the compiler to use: ``cc`` if given, else musl-gcc, else gcc."""
    candidates = (cc,) if cc else PREFERRED_COMPILERS
    for cand in candidates:
        path = shutil.which(cand)
        if path:
            return path
    raise BuildError(f"no C compiler found (tried {', '.join(candidates)})")


def list_programs(names: list[str] | None = None) -> list[Program]:
    """All programs in guest/src, or just the named ones (by stem)."""
    progs = [Program(p.stem, p) for p in sorted(SRC_DIR.glob("*.c"))]
    if names:
        known = {p.name: p for p in progs}
        missing = [n for n in names if n not in known]
        if missing:
            raise BuildError(f"unknown guest program(s): {', '.join(missing)}")
        progs = [known[n] for n in names]
    return progs


def _include_dir(output: Path) -> Path:
    """Where build_all writes the generated headers for outputs in output's dir."""
    return output.parent / "include"


def _dependency_mtime(prog: Program, output: Path) -> float:
    """Newest mtime among the source, the shared and generated headers and this builder."""
    deps = [prog.source, Path(__file__).resolve(), *SRC_DIR.glob("*.h"),
            *_include_dir(output).glob("*.h")]
    return max(p.stat().st_mtime for p in deps)


def _stamp_path(output: Path) -> Path:
    """Hidden file next to an output recording the command that built it."""
    return output.with_name(f".{output.name}.cmd")


def _stamp_text(cc: str, prog: Program) -> str:
    return " ".join(compile_command(cc, prog, Path(prog.name))) + "\n"


def is_up_to_date(prog: Program, output: Path, cc: str) -> bool:
    """True if output is newer than its inputs and was built the same way."""
    try:
        if output.stat().st_mtime < _dependency_mtime(prog, output):
            return False
        return _stamp_path(output).read_text() == _stamp_text(cc, prog)
    except FileNotFoundError:
        return False


def compile_command(cc: str, prog: Program, output: Path) -> list[str]:
    cmd = [cc, *CFLAGS, "-I", str(_include_dir(output)), "-o", str(output), str(prog.source)]
    if prog.uses_pthreads:
        cmd.append("-lpthread")
    return cmd


def build_one(prog: Program, outdir: Path, cc: str, verbose: bool = False) -> Path:
    """Compile one program (atomically: temp file then rename). Returns its path."""
    output = outdir / prog.name
    if is_up_to_date(prog, output, cc):
        return output
    fd, tmp = tempfile.mkstemp(prefix=f".{prog.name}.", dir=outdir)
    os.close(fd)
    cmd = compile_command(cc, prog, Path(tmp))
    if verbose:
        print(" ".join(cmd), file=sys.stderr)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise BuildError(
                f"compiling {prog.source.name} failed (exit {res.returncode}):\n"
                f"  $ {' '.join(cmd)}\n{res.stderr.rstrip()}"
            )
        if verbose and res.stderr.strip():
            print(res.stderr.rstrip(), file=sys.stderr)
        os.chmod(tmp, 0o755)
        os.replace(tmp, output)
        _stamp_path(output).write_text(_stamp_text(cc, prog))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return output


def build_all(outdir, cc: str | None = None, names: list[str] | None = None,
              jobs: int | None = None, verbose: bool = False) -> dict[str, str]:
    """Build every guest program into ``outdir``; return ``{name: path}``.

    Raises :class:`BuildError` listing every program that failed.
    """
    outdir = Path(outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    compiler = find_compiler(cc)
    progs = list_programs(names)
    write_headers(outdir / "include")
    results: dict[str, str] = {}
    errors: list[str] = []
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        futures = {p.name: pool.submit(build_one, p, outdir, compiler, verbose)
                   for p in progs}
        for name, fut in futures.items():
            try:
                results[name] = str(fut.result())
            except BuildError as exc:
                errors.append(str(exc))
            except OSError as exc:
                errors.append(f"building {name}: {exc}")
    if errors:
        raise BuildError("\n\n".join(errors))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m guest.build",
                                 description="Build the vkernel guest C programs.")
    ap.add_argument("outdir", help="directory for the binaries")
    ap.add_argument("names", nargs="*", help="build only these programs (stems)")
    ap.add_argument("--cc", help="compiler (default: musl-gcc, else gcc)")
    ap.add_argument("-j", "--jobs", type=int, help="parallel compiles")
    ap.add_argument("-v", "--verbose", action="store_true", help="print commands")
    args = ap.parse_intermixed_args(argv)
    try:
        paths = build_all(args.outdir, cc=args.cc, names=args.names or None,
                          jobs=args.jobs, verbose=args.verbose)
    except BuildError as exc:
        print(f"guest.build: error: {exc}", file=sys.stderr)
        return 1
    for name in sorted(paths):
        print(paths[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
