"""busybox's shell on the vkernel console, driven through a pty as a user would.

Issue 2, "Real programs that must run": an interactive ash on the console
(single user, `-s`, where /bin/sh is pid 1; or `-- /bin/sh -i`) with pipes,
redirection, job control (`&`, jobs, fg, bg, ^C, ^Z, SIGTTIN/SIGTTOU stops),
the file tools, a tar round trip checked with md5sum, ps, top, kill, and vi
editing a file.  Where a command's result can be checked from the host
(md5 sums, the tar archive, the file vi saved) it is.  The job-control
syscalls under the shell are also checked against Linux directly, by
guest/src/t_jobctl.c run natively and inside vkernel.
"""
import hashlib
import os
import re
import subprocess
import tarfile
import time

import pytest

from conftest import run_vk
from ptyshell import GuestShell

MODES = {"single-user": ["-s"], "sh-i": ["--", "/bin/sh", "-i"]}


@pytest.fixture
def sh(root):
    """A single-user boot: /bin/sh as pid 1 on the console."""
    s = GuestShell(root, MODES["single-user"])
    yield s
    s.kill()


# -- pipes and redirection --------------------------------------------------------------
def test_pipes_and_redirection(sh):
    assert sh.run("echo hello world | tr a-z A-Z | sed s/WORLD/VK/") == "HELLO VK\n"
    sh.run("echo one > /tmp/c_redir; echo two >> /tmp/c_redir")
    assert sh.run("wc -l < /tmp/c_redir").strip() == "2"
    assert sh.run("cat /tmp/c_redir | cat | cat") == "one\ntwo\n"
    sh.run("ls /nonexistent 2> /tmp/c_err; echo status=$? >> /tmp/c_err")
    err = sh.run("cat /tmp/c_err")
    assert "No such file or directory" in err and "status=1" in err
    assert sh.run("exec 3> /tmp/c_fd3; echo via-fd3 >&3; exec 3>&-; cat /tmp/c_fd3") == "via-fd3\n"
    sh.assert_no_job_control_errors()
    sh.exit()


# -- job control ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_job_control(root, mode):
    sh = GuestShell(root, MODES[mode])
    try:
        _background_jobs(sh)
        _interrupt(sh)
        _suspend_bg_fg(sh)
        sh.assert_no_job_control_errors()
        sh.exit()
    finally:
        sh.kill()


def _background_jobs(sh):
    sh.run("sleep 100 &")
    assert re.search(r"\[1\]\+ +Running +sleep 100", sh.run("jobs"))
    sh.poll_until("ps", r"sleep 100$")
    sh.run("kill %1")
    sh.run("wait")
    assert "sleep" not in sh.run("jobs")


def _interrupt(sh):
    """^C kills the foreground job, not the shell."""
    sh.start_foreground("sleep 100")
    sh.control("c")
    sh.expect_prompt()
    assert sh.status() == 130
    assert sh.run("echo alive") == "alive\n"


def _suspend_bg_fg(sh):
    """^Z stops the foreground job (wait4 WUNTRACED sees it), bg and fg continue it."""
    sh.start_foreground("sleep 100")
    sh.control("z")
    sh.expect(r"\[1\]\+ +Stopped +sh -c")
    sh.expect_prompt()
    assert re.search(r"\[1\]\+ +Stopped", sh.run("jobs"))
    assert re.search(r"^T .*sleep 100$", sh.run("ps -o stat,args"), re.M)
    sh.run("bg")
    assert re.search(r"\[1\]\+ +Running", sh.run("jobs"))
    sh.sendline("fg")
    sh.expect("exec sleep 100")
    sh.control("c")
    sh.expect_prompt()
    assert sh.run("jobs") == ""


def test_stopped_sleep_keeps_its_deadline(sh):
    """^Z in nanosleep, then fg: the sleep goes on to its first deadline
    (restart_syscall), so once that has passed fg returns at once."""
    sh.start_foreground("sleep 4")
    t0 = time.monotonic()
    time.sleep(1)                                   # let part of the sleep go by
    sh.control("z")
    sh.expect("Stopped")
    sh.expect_prompt()
    time.sleep(max(0.0, t0 + 5 - time.monotonic()))  # stopped past the deadline
    t1 = time.monotonic()
    sh.sendline("fg")
    sh.expect_prompt()
    assert time.monotonic() - t1 < 2.5, "the sleep started again from the beginning"
    assert sh.status() == 0


def test_job_control_syscalls_same_as_native(root, guest_bins):
    """Below the shell (guest/src/t_jobctl.c): setpgid, waitpid WUNTRACED and
    WCONTINUED, nanosleep across a stop and under a handler, sigsuspend with
    a signal pending, an orphaned stopped group hung up."""
    ref = subprocess.run([guest_bins["t_jobctl"]], capture_output=True, timeout=120)
    # Once hung (about 1 run in 13) on a lost timer: a one-shot ITIMER_REAL of
    # microseconds expired before the CPU blocked in waitpid.  Deadlines now
    # ring the CPU's doorbell (platform/doorbell.py: a timerfd it polls), a
    # stop the host queues, so no retry.
    got = run_vk(root, "/usr/local/bin/t_jobctl", timeout=60)
    assert "back at the continue: yes" in ref.stdout.decode()
    assert got.stdout.decode() == ref.stdout.decode(), got.stderr.decode()[-2000:]
    assert got.returncode == 0


def test_background_tty_access_stops(sh):
    """A background read of the terminal stops with SIGTTIN, a write with
    SIGTTOU under `stty tostop`; fg gives them the terminal."""
    sh.run("cat &")
    sh.run("true")
    assert re.search(r"Stopped \(tty input\) +cat", sh.run("jobs"))
    sh.sendline("fg")
    sh.expect("cat")
    sh.sendline("typed-to-cat")
    sh.expect("typed-to-cat")                 # the echo
    sh.expect("typed-to-cat")                 # what cat wrote
    sh.control("d")
    sh.expect_prompt()
    sh.run("stty tostop; echo bg-output &")
    sh.run("true")
    assert re.search(r"Stopped \(tty output\) +echo bg-output", sh.run("jobs"))
    sh.sendline("fg")
    sh.expect("bg-output")
    sh.expect_prompt()
    sh.run("stty -tostop")
    sh.assert_no_job_control_errors()
    sh.exit()


def test_stopped_pipeline_continues(sh):
    """^Z stops every process of a pipeline; fg continues them all."""
    sh.sendline("cat | tr a-z A-Z")
    sh.sendline("first")
    sh.expect("FIRST")
    sh.control("z")
    sh.expect(r"Stopped +cat \| tr a-z A-Z")
    sh.expect_prompt()
    stats = sh.run("ps -o stat,args")
    assert re.search(r"^T +cat$", stats, re.M) and re.search(r"^T +tr a-z A-Z$", stats, re.M), stats
    sh.sendline("fg")
    sh.sendline("second")
    sh.expect("SECOND")
    sh.control("c")
    sh.expect_prompt()
    sh.assert_no_job_control_errors()
    sh.exit()


# -- file tools ----------------------------------------------------------------------------
def test_ls_find_grep_sed_awk(sh):
    listing = sh.run("ls -l /")
    assert re.search(r"^lrwxrwxrwx .* linuxrc -> bin/busybox$", listing, re.M), listing
    assert re.search(r"^drwxrwxrwt .* tmp$", listing, re.M), listing
    assert re.search(r"^dr-xr-xr-x .* proc$", listing, re.M), listing
    sh.run("mkdir -p /tmp/ft/a/b /tmp/ft/c && echo 'key=alpha needle' > /tmp/ft/a/one.txt"
           " && echo 'nothing here' > /tmp/ft/a/b/two.txt && echo needle > /tmp/ft/c/three.log")
    assert sh.run("find /tmp/ft -name '*.txt' | sort") == "/tmp/ft/a/b/two.txt\n/tmp/ft/a/one.txt\n"
    assert sh.run("find /tmp/ft -type d | sort") == "/tmp/ft\n/tmp/ft/a\n/tmp/ft/a/b\n/tmp/ft/c\n"
    assert sh.run("grep -r needle /tmp/ft | sort") == \
        "/tmp/ft/a/one.txt:key=alpha needle\n/tmp/ft/c/three.log:needle\n"
    assert sh.run("grep -rl needle /tmp/ft/c") == "/tmp/ft/c/three.log\n"
    assert sh.run("sed -n 's/^key=\\([a-z]*\\).*/\\1/p' /tmp/ft/a/one.txt") == "alpha\n"
    sh.run("sed -i 's/nothing/something/' /tmp/ft/a/b/two.txt")
    assert sh.run("cat /tmp/ft/a/b/two.txt") == "something here\n"
    assert sh.run("awk -F: '$3 == 0 {print $1}' /etc/passwd") == "root\n"
    assert sh.run("printf '3 x\\n4 y\\n5 z\\n' | awk '{s += $1} END {print s, NR}'") == "12 3\n"
    sh.exit()


def test_sort_uniq_xargs(sh):
    assert sh.run("printf 'pear\\napple\\npear\\nfig\\npear\\napple\\n' | sort | uniq -c") == \
        "      2 apple\n      1 fig\n      3 pear\n"
    assert sh.run("printf '3\\n10\\n2\\n' | sort -n | xargs echo") == "2 3 10\n"
    sh.run("mkdir -p /tmp/xa && cd /tmp/xa && touch f1 f2 f3 && cd /")
    assert sh.run("ls /tmp/xa | xargs -n 1 echo file") == "file f1\nfile f2\nfile f3\n"
    sh.run("find /tmp/xa -name 'f*' | xargs rm")
    assert sh.run("ls /tmp/xa") == ""
    sh.exit()


def test_tar_round_trip_with_md5sum(sh, root):
    sh.run("mkdir -p /tmp/tr/data/sub && cd /tmp/tr")
    sh.run("dd if=/dev/urandom of=data/random.bin bs=1024 count=96 2>/dev/null")
    sh.run("seq 1 5000 > data/sub/numbers.txt && echo small > data/sub/small.txt")
    sh.run("md5sum data/random.bin data/sub/numbers.txt data/sub/small.txt > sums")
    sh.run("tar czf data.tgz data")
    assert sh.status() == 0
    sh.run("rm -r data && tar xzf data.tgz")
    checked = sh.run("md5sum -c sums")
    assert checked.split("\n")[:3] == ["data/random.bin: OK", "data/sub/numbers.txt: OK",
                                       "data/sub/small.txt: OK"], checked
    assert sh.status() == 0
    sums = sh.run("cat sums")
    sh.exit()
    base = os.path.join(root, "tmp/tr")
    for line in sums.splitlines():
        digest, name = line.split()
        with open(os.path.join(base, name), "rb") as f:
            assert hashlib.md5(f.read()).hexdigest() == digest, name
    with tarfile.open(os.path.join(base, "data.tgz")) as t:
        assert {"data/random.bin", "data/sub/numbers.txt", "data/sub/small.txt"} <= \
            {m.name.rstrip("/") for m in t.getmembers()}


# -- processes -----------------------------------------------------------------------------
def test_ps_top_kill(sh):
    sh.run("sleep 300 &")
    ps = sh.poll_until("ps", r"sleep 300$")
    assert re.search(r"^ +1 root +.*sh", ps, re.M), ps
    assert re.search(r"^ +\d+ root +sleep 300$", ps, re.M), ps
    top = sh.run("top -n 1")
    assert "Mem:" in top and "Load average:" in top, top
    assert re.search(r"PID +PPID +USER +STAT", top), top
    assert re.search(r"sleep 300", top), top
    sh.run("kill %1")
    sh.run("wait")
    assert "sleep 300" not in sh.run("ps")
    sh.run("sleep 301 &")
    pid = sh.run("echo $!").strip()
    sh.poll_until("ps", r"sleep 301$")
    sh.run(f"kill -9 {pid}")
    sh.run("wait")
    assert "sleep 301" not in sh.run("ps")
    sh.exit()


# -- vi ------------------------------------------------------------------------------------
def test_vi_edits_and_saves(sh, root):
    sh.run("printf 'line one\\nline two\\n' > /tmp/vi.txt")
    sh.sendline("vi /tmp/vi.txt")
    sh.expect("line two")
    sh.expect(r"- /tmp/vi.txt 1/2")            # the status line: command mode
    sh.send("G")                                # last line
    sh.send("o")                                # open a line below: insert mode
    sh.expect(r"I /tmp/vi.txt \[Modified\]")
    sh.send("line three")
    sh.expect("line three")
    sh.send("\x1b")                             # ESC alone: back to command mode
    sh.expect(r"- /tmp/vi.txt \[Modified\] 3/3")
    sh.send("gg")
    sh.expect(r"\[Modified\] 1/3")
    sh.send("dd")                               # delete "line one"
    sh.expect(r"Delete 1 lines")
    sh.send(":wq\r")
    sh.expect_prompt()
    assert sh.run("cat /tmp/vi.txt") == "line two\nline three\n"
    sh.exit()
    with open(os.path.join(root, "tmp/vi.txt")) as f:
        assert f.read() == "line two\nline three\n"
