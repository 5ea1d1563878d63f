"""Event and multiplexing syscalls end to end: poll/select/epoll, eventfd,
timerfd, signalfd, memfd, sendfile/splice, run natively and inside vkernel.

The host kernel is the reference: each guest program must print exactly
what it prints natively.  The busybox checks compare `sh -c` run by the
root's static busybox natively with the same command inside vkernel.
"""
import os
import re
import subprocess
import time

import pytest

from conftest import run_vk

SAME_OUTPUT = [("t_files", "/tmp"), ("t_time",), ("t_poll",)]
POLL_FAMILY = ("poll", "ppoll", "select", "pselect6", "epoll", "eventfd", "timerfd",
               "signalfd", "memfd_create", "sendfile", "copy_file_range", "splice")


def native(guest_bins, name, *args):
    return subprocess.run([guest_bins[name], *args], capture_output=True, timeout=60)


KLOG = re.compile(rb"^pid \d+ \(.*?\): .*\n", re.M)


def console(got):
    """(guest output, kernel log lines): kernel messages share the console."""
    out = got.stdout
    return KLOG.sub(b"", out), [m.decode(errors="replace") for m in KLOG.findall(out)] + \
        got.stderr.decode(errors="replace").splitlines()


def unimplemented(log):
    return [line for line in log
            if "unimplemented syscall" in line and any(n in line for n in POLL_FAMILY)]


@pytest.mark.parametrize("prog", SAME_OUTPUT, ids=lambda p: p[0])
def test_same_as_native(root, guest_bins, prog):
    name, *args = prog
    ref = native(guest_bins, name, *args)
    assert ref.returncode == 0, ref.stderr.decode()
    got = run_vk(root, f"/usr/local/bin/{name}", *args)
    out, log = console(got)
    assert out.decode() == ref.stdout.decode(), "\n".join(log)[-2000:]
    assert got.returncode == 0, "\n".join(log)[-2000:]
    assert unimplemented(log) == []


def test_background_sleep_and_wait(root):
    start = time.monotonic()
    r = run_vk(root, "/bin/sh", "-c", "sleep 0.2 & wait; echo done")
    out, log = console(r)
    assert out == b"done\n" and r.returncode == 0, "\n".join(log)[-2000:]
    assert time.monotonic() - start >= 0.2


BUSYBOX_SCRIPTS = [
    "(sleep 0.1; echo x) | (read -t 2 a; echo got $a)",
    "sleep 1 | (read -t 0.1 a; echo timed out $?)",
    "f=/tmp/t_events.$$; echo hello > $f; cat $f | cat; cat $f $f | wc -c; rm $f",
    "timeout 1 sleep 5; echo status $?",
]


@pytest.mark.parametrize("script", BUSYBOX_SCRIPTS)
def test_busybox_like_native(root, script):
    """The root's own (static) busybox run natively is the reference."""
    busybox = os.path.join(root, "bin", "busybox")
    script = "{ %s; } 2>&1" % script          # the guest's stderr is the console too
    ref = subprocess.run([busybox, "sh", "-c", script], capture_output=True, timeout=30)
    got = run_vk(root, "/bin/sh", "-c", script)
    out, log = console(got)
    assert out == ref.stdout, "\n".join(log)[-2000:]
    assert got.returncode == ref.returncode
    assert unimplemented(log) == []
