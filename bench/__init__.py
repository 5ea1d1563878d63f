"""vkernel benchmarks: every figure a ratio against a baseline measured in the same run.

No kernel counterpart; the method follows lmbench (lat_syscall, lat_proc).
`python3 -m bench` runs them all (see runner.py and README.md).  One module
per benchmark: b_syscall (getppid round trip vs a C PTRACE_SYSEMU tracer),
b_cpuloop (a CPU-bound guest vs native), b_spawn (fork+exec+exit+wait vs
native), b_boot (`-- /bin/true`, peak RSS and the shell prompt vs native).
harness.py times programs, prepare.py builds the root and the C tracer,
report.py prints the table and writes results.json, profile.py profiles
the vkernel's syscall path.
"""
