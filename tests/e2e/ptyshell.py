"""A guest shell on the vkernel console, driven through a pty with pexpect.

Used by test_console.py (busybox ash) and test_dynamic.py (bash): the
vkernel runs in a pty of its own as a user's terminal would run it, with
PS1 set (through `-e`, and again once the shell is up, since a login
shell's /etc/profile sets its own) to a prompt that no command output
contains, so that "the prompt came back" is the synchronisation point.  `run(line)` types a
line and returns what the shell printed before the next prompt.  The whole
session is kept in `transcript` for assertion messages.
"""
import io
import os
import re
import sys

import pexpect

from conftest import REPO
from hostshell import clean

TIMEOUT = 120                   # per expect: the machine is shared and slow
JOB_CONTROL_ERRORS = ("can't set tty process group", "can't access tty",
                      "no job control", "cannot set terminal process group",
                      "Traceback (most recent call last)")


class GuestShell:
    """`python3 -m vkernel -r ROOT -e PS1=... ARGS` in a pty."""

    def __init__(self, root, args, prompt="vk# ", env=(), cols=200):
        self.prompt = prompt
        self.log = io.StringIO()
        vkargs = ["-m", "vkernel", "-r", root, "-e", f"PS1={prompt}"]
        for kv in env:
            vkargs += ["-e", kv]
        self.child = pexpect.spawn(sys.executable, vkargs + list(args), cwd=REPO,
                                   env=dict(os.environ, PYTHONPATH=REPO, TERM="xterm"),
                                   encoding="utf-8", codec_errors="replace",
                                   timeout=TIMEOUT, dimensions=(24, cols))
        self.child.logfile_read = self.log
        self.expect(r"[#$] ")           # a login shell's /etc/profile may set its own
        self.sendline("PS1='%s''%s'" % (prompt[:2], prompt[2:]))   # echo != prompt
        self.expect_prompt()

    @property
    def transcript(self):
        return clean(self.log.getvalue())

    def expect(self, pattern, timeout=TIMEOUT):
        """Wait for a regular expression; the transcript is the failure message."""
        try:
            return self.child.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            raise AssertionError(f"waiting for {pattern!r}: {type(e).__name__}\n"
                                 f"--- transcript ---\n{self.transcript[-4000:]}") from None

    def expect_prompt(self, timeout=TIMEOUT):
        self.expect(re.escape(self.prompt), timeout)
        return self.child.before

    def send(self, text):
        self.child.send(text)

    def sendline(self, line):
        self.child.sendline(line)

    def control(self, char):
        self.child.sendcontrol(char)

    def run(self, line, timeout=TIMEOUT):
        """Type a command line; return its output (without the echoed line)."""
        self.sendline(line)
        out = clean(self.expect_prompt(timeout))
        return out.split("\n", 1)[1] if "\n" in out else ""

    def status(self):
        """$? of the last command."""
        out = self.run("echo rc=$?")
        m = re.search(r"rc=(\d+)", out)
        assert m, self.transcript[-2000:]
        return int(m.group(1))

    def poll_until(self, line, pattern, tries=50):
        """Run `line` until its output matches `pattern` (a job just started
        in the background may not have reached its program yet)."""
        for _ in range(tries):
            out = self.run(line)
            if re.search(pattern, out, re.M):
                return out
        raise AssertionError(f"{line!r} never matched {pattern!r}:\n{self.transcript[-3000:]}")

    def start_foreground(self, cmd, shell="sh"):
        """Run `cmd` in the foreground and return once it runs: the child
        prints a word after the shell made its group the foreground one,
        then execs `cmd` (so ^C or ^Z cannot reach the shell instead)."""
        self.sendline(f"{shell} -c 'echo started; exec {cmd}'")
        self.expect(r"\nstarted")

    def assert_no_job_control_errors(self):
        text = self.transcript
        bad = [e for e in JOB_CONTROL_ERRORS if e in text]
        assert not bad, f"{bad}\n--- transcript ---\n{text[-4000:]}"

    def exit(self, line="exit"):
        """Leave the shell; returns the vkernel's exit status."""
        self.sendline(line)
        self.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus

    def kill(self):
        if self.child.isalive():
            self.child.terminate(force=True)
