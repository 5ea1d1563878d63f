"""Smoke test of the benchmark harness (bench/): tiny N, no speed asserted.

Runs `python3 -m bench` on the session's root with very small sizes and
one repetition, and checks that it prints the table and writes a results
file with every figure and a positive ratio.  The speed targets of issue 2
are measured by `python3 -m bench`, never asserted here.
"""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FIGURES = {"syscall", "syscall_floor", "cpuloop", "spawn", "boot_true", "boot_rss",
           "boot_prompt", "disk_write", "disk_read", "untar", "smp_syscalls_n1", "smp_syscalls_n2",
           "smp_compute_n1", "smp_compute_n2", "smp_pingpong_n1", "smp_pingpong_n2"}


def test_bench_harness_produces_ratios(root, tmp_path):
    out = tmp_path / "results.json"
    res = subprocess.run(
        [sys.executable, "-m", "bench", "--scale", "0.002", "--reps", "1",
         "--root", root, "--workdir", str(tmp_path / "work"), "--json", str(out)],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True,
        text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "syscall round trip" in res.stdout
    results = json.loads(out.read_text())
    assert set(results["figures"]) == FIGURES
    for name, fig in results["figures"].items():
        assert fig["ratio"] > 0, name
        assert fig["vkernel"] > 0 and fig["baseline"] > 0, name
        if fig["cpu_ratio"] is not None:
            assert fig["cpu_ratio"] > 0, name
    assert results["meta"]["reps"] == 1
