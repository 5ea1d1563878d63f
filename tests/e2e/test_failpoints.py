"""Fail points seen by real guests: errors, counts, delays and panics set
through /proc/sys/debug/fail_point and busybox sysctl (kern_fail.py)."""
import re
import sys

import pexpect

from conftest import REPO, run_vk

FP = "/proc/sys/debug/fail_point"
KERNEL_LOG = re.compile(r"^pid \d+ \(.*\): unimplemented syscall .*\n", re.M)
EIO_TEXT = r"(I/O error|Input/output error)"


def sh(root, script, args=(), timeout=120):
    """Run a shell script in the vkernel; (status, stdout and stderr together)."""
    r = run_vk(root, "/bin/sh", "-c", script + " 2>&1", args=args, timeout=timeout)
    out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    return r.returncode, KERNEL_LOG.sub("", out)


def test_return_fails_writes_with_eio_until_switched_off(root):
    status, out = sh(root, f"""
        echo '100%return(5)' > {FP}/vfs_write
        echo "set: $(cat {FP}/vfs_write)"
        echo x > /tmp/f || echo "write failed"
        echo off > {FP}/vfs_write
        echo "now: $(cat {FP}/vfs_write)"
        echo y > /tmp/f && cat /tmp/f""")
    assert status == 0, out
    assert "set: return(5)\n" in out
    assert re.search(r"write error: " + EIO_TEXT + r"\nwrite failed\n", out), out
    assert out.endswith("now: off\ny\n"), out


def test_a_count_fails_exactly_once_with_enospc(root):
    status, out = sh(root, f"""
        echo '1*return(28)' > {FP}/vfs_write
        echo "armed: $(cat {FP}/vfs_write)"
        for i in 1 2 3; do echo $i > /tmp/f$i || echo "fail $i"; done
        echo "spent: $(cat {FP}/vfs_write)"
        cat /tmp/f2 /tmp/f3""")
    assert status == 0, out
    assert "armed: 1*return(28)\n" in out
    assert out.count("No space left on device") == 1 and out.count("fail ") == 1
    assert re.search(r"No space left on device\nfail 1\nspent: off\n2\n3\n$", out), out


def test_delay_makes_a_write_slow_without_stopping_the_cpu(root):
    """delay(200): the writer takes >= 0.2 s; with delay(600), a background
    loop goes on printing while the shell's own write sleeps."""
    status, out = sh(root, f"""
        echo 'delay(200)' > {FP}/vfs_write
        time sh -c 'echo x > /tmp/f'
        (while :; do echo tick; usleep 20000; done) & BG=$!
        usleep 200000
        echo 'delay(600)' > {FP}/vfs_write
        echo start; echo y > /tmp/g; echo end
        echo off > {FP}/vfs_write; kill $BG; cat /tmp/g""")
    assert status == 0, out
    real = re.search(r"real\s+(\d+)m\s*([\d.]+)s", out)
    assert real and int(real.group(1)) * 60 + float(real.group(2)) >= 0.20, out
    during = out[out.index("start\n"):out.index("end\n")]
    assert during.count("tick") >= 8, out      # ~30 if the CPU runs on; 0 if it were held
    assert out.endswith("y\n")


def test_busybox_sysctl_reads_and_sets_points(root):
    status, out = sh(root, f"""
        ls {FP}
        sysctl debug.fail_point.vfs_write
        sysctl -w debug.fail_point.vfs_write='5%return(5)'
        sysctl debug.fail_point.vfs_write
        sysctl -w debug.fail_point.mmap='2*return(12)[pid 999]->1.25%delay(100)[pid 999]'
        cat {FP}/mmap
        echo 'nonsense' > {FP}/mmap || echo rejected
        sysctl debug.fail_point.mmap
        echo off > {FP}/mmap; echo off > {FP}/vfs_write
        sysctl -a 2>/dev/null | grep '^debug.fail_point'""")
    assert status == 0, out
    assert re.search(r"^fork\s+mmap\s+pipe_write\s+vfs_open\s+vfs_read\s+vfs_write$", out, re.M)
    assert "debug.fail_point.vfs_write = off\n" in out
    assert out.count("debug.fail_point.vfs_write = 5%return(5)\n") == 2
    mmap = "2*return(12)[pid 999]->1.25%delay(100)[pid 999]"     # no such process here
    assert f"debug.fail_point.mmap = {mmap}\n{mmap}\n" in out
    assert re.search(r"Invalid argument\nrejected\ndebug.fail_point.mmap = " + re.escape(mmap),
                     out), out
    for name in ("fork", "mmap", "pipe_write", "vfs_open", "vfs_read", "vfs_write"):
        assert f"debug.fail_point.{name} = off\n" in out


def test_the_other_points(root):
    """fork, mmap, pipe_write, vfs_open, vfs_read, and a [pid N] filter."""
    status, out = sh(root, f"""
        sh -c "echo '1*return(11)' > {FP}/fork; /bin/true; echo not reached"
        echo "fork: $? $(cat {FP}/fork)"
        echo '1*return(12)' > {FP}/mmap; /usr/local/bin/t_mmap > /dev/null; echo "mmap: $?"
        echo '1*return(5)' > {FP}/pipe_write; echo hi | cat; echo "pipe: $(cat {FP}/pipe_write)"
        echo '1*return(13)' > {FP}/vfs_open; cat < /etc/hostname; echo "open: $?"
        echo 'return(5)' > {FP}/vfs_read; cat /etc/hostname; echo "read: $?"
        echo off > {FP}/vfs_read
        echo 'return(5)[pid 1]' > {FP}/vfs_write
        sh -c 'echo child > /tmp/c'; cat /tmp/c; echo self > /tmp/s || echo "pid 1 failed"
        echo off > {FP}/vfs_write""")
    assert status == 0, out
    assert re.search(r"can't fork: Resource temporarily unavailable\nfork: 2 off\n", out), out
    assert "FAIL: mmap" in out and "mmap: 1\n" in out
    assert re.search(r"write error: " + EIO_TEXT + r"\npipe: off\n", out), out
    assert re.search(r"can't open '?/etc/hostname'?: Permission denied\nopen: 1\n", out), out
    assert re.search(r"cat: read error: " + EIO_TEXT + r"\nread: 1\n", out), out
    assert re.search(r"child\n.*write error: " + EIO_TEXT + r"\npid 1 failed\n", out), out


def test_panic_without_a_console_exits_70(root):
    r = run_vk(root, "/bin/sh", "-c", f"echo panic > {FP}/vfs_write; echo x > /tmp/f; echo on")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 70, out
    assert "panic: fail point vfs_write panicking\ncpuid = 0\n" in out
    assert re.search(r"^kern_writev\(.*\) at kern_writev\+0x[0-9a-f]+ \[sys_generic\.py:\d+\]$",
                     out, re.M), out
    assert "\non\n" not in out


def test_panic_on_the_console_enters_ddb(root):
    c = pexpect.spawn(sys.executable, ["-m", "vkernel", "-r", root, "-s"], cwd=REPO,
                      env={"PYTHONPATH": REPO, "TERM": "dumb", "PATH": "/usr/bin:/bin"},
                      encoding="utf-8", timeout=60, dimensions=(40, 200))
    try:
        c.expect_exact("# ")
        c.sendline(f"echo '1*print->panic' > {FP}/vfs_write; echo x > /tmp/f")
        c.expect_exact("fail point vfs_write executing")    # the first write: print
        c.sendline("echo x > /tmp/f")
        c.expect_exact("panic: fail point vfs_write panicking")
        c.expect_exact("db> ")
        c.sendline("show sysctl debug.fail_point.vfs_write")
        c.expect(r"debug\.fail_point\.vfs_write: panic\r?\n")
        c.expect_exact("db> ")
        c.sendline("reset")
        c.expect_exact("cpu reset, exiting vkernel")
        c.expect(pexpect.EOF)
    finally:
        c.close(force=True)
    assert c.exitstatus == 71
