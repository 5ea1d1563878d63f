"""-n and -l: how virtual CPUs map to host CPUs (cli.parse_cpulock, boot.host_cpus),
with vkernel(7)'s errors, and what a bad flag does as a user sees it."""
import os
import subprocess
import sys

import pytest

from vkernel import boot, cli

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("arg,want", [("any", ("any",)), ("map", ("map", 0)),
                                      ("map,1", ("map", 1)), ("0", ("cpu", 0)),
                                      ("map,", ("map", 0))])          # strtol("") is 0
def test_cpulock_forms(arg, want):
    assert cli.parse_cpulock(arg) == want


@pytest.mark.parametrize("arg,msg", [("x1", "Bad target CPU number at 'x1'"),
                                     ("1x", "Bad target CPU number at 'x'"),
                                     ("999", "Bad target CPU, valid range is 0-")])
def test_cpulock_errors(arg, msg):
    with pytest.raises(cli.UsageError) as e:
        cli.parse_cpulock(arg)
    assert str(e.value).startswith(msg)


def host_cpus(monkeypatch, argv, avail=(0, 1)):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(avail))
    return boot.host_cpus(cli.parse(argv))


def test_by_default_each_virtual_cpu_gets_its_own_host_cpu(monkeypatch):
    assert host_cpus(monkeypatch, []) == [0]
    assert host_cpus(monkeypatch, ["-n", "2"]) == [0, 1]
    assert host_cpus(monkeypatch, ["-n", "3"]) == [0, 1, 0]        # more than the host has
    assert host_cpus(monkeypatch, ["-n", "2"], avail=(2, 3)) == [2, 3]


def test_cpulock_map_single_and_any(monkeypatch):
    assert host_cpus(monkeypatch, ["-n", "2", "-l", "map,1"]) == [1, 0]
    assert host_cpus(monkeypatch, ["-n", "2", "-l", "1"]) == [1, 1]
    assert host_cpus(monkeypatch, ["-n", "2", "-l", "any"]) == [None, None]


def test_a_bad_cpulock_prints_usage_and_exits_64():
    r = subprocess.run([sys.executable, "-m", "vkernel", "-l", "x", "-r", "/nonexistent"],
                       capture_output=True, text=True, cwd=REPO,
                       env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
    assert r.returncode == 64
    assert "Bad target CPU number at 'x'" in r.stderr and "usage: vkernel" in r.stderr
