"""Dynamic host programs copied into a root with their libraries, run inside vkernel.

Issue 2, "Real programs that must run": `vkernel mkroot --host bash --host ls
... --host python3 DEST` copies the host's programs (found on the system
PATH), the shared libraries ldd names and python's standard library.  Then
bash runs interactively with job control through a pty, and a script with
functions and subshells; coreutils ls, cp -a, mv, rm -r, du, df, date and
sha256sum run on a tree that is also made on the host, and their output is
compared with the same commands run natively on it; python3 runs a script
using threads, subprocess, os.walk, tempfile, json and signal, compared with
the host's python running it.  The programs are the host's own binaries, so
the host is the reference.  The guest's stdout is its console, a terminal,
so guest commands whose output is compared write into a pipe (`| cat`), as
the native ones, run by subprocess, do.
"""
import json
import os
import re
import subprocess
import time

import pytest

from conftest import REPO, run_vk, vkernel_cmd
from ptyshell import GuestShell

HOST_PROGRAMS = ["bash", "ls", "cp", "mv", "rm", "du", "df", "date", "sha256sum", "python3"]
HERE = os.path.dirname(os.path.abspath(__file__))
ENV = {"LC_ALL": "C", "TZ": "UTC"}


@pytest.fixture(scope="session")
def dynroot(tmp_path_factory):
    """A root with the host programs of HOST_PROGRAMS, built once."""
    dest = str(tmp_path_factory.mktemp("dynroot"))
    cmd = ["mkroot"]
    for prog in HOST_PROGRAMS:
        cmd += ["--host", prog]
    subprocess.run(vkernel_cmd(*cmd, dest), check=True, cwd=REPO,
                   env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, timeout=600)
    return dest


def host_path(prog):
    """Where mkroot found prog: the same path inside the root."""
    return subprocess.run(["sh", "-c", f"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                           f"/usr/bin:/sbin:/bin command -v {prog}"],
                          capture_output=True, text=True, check=True).stdout.strip()


def guest(root, script, timeout=300):
    """bash -c script inside the vkernel, output through a pipe."""
    env_args = [a for k, v in ENV.items() for a in ("-e", f"{k}={v}")]
    r = run_vk(root, host_path("bash"), "-c", f"{{ {script}\n}} 2>&1 | cat; exit ${{PIPESTATUS[0]}}",
               args=env_args, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace")


def native(script, cwd, timeout=300):
    r = subprocess.run([host_path("bash"), "-c", script], cwd=cwd, capture_output=True,
                       env=dict(os.environ, **ENV), timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode(errors="replace")


def test_mkroot_copied_the_host_programs(dynroot):
    """Each program is the host's own file, not a busybox applet link."""
    for prog in HOST_PROGRAMS:
        path = os.path.realpath(host_path(prog))
        copied = os.path.join(dynroot, path.lstrip("/"))
        assert os.path.isfile(copied) and not os.path.islink(copied), prog
        with open(path, "rb") as a, open(copied, "rb") as b:
            assert a.read() == b.read(), prog


# -- bash ------------------------------------------------------------------------------------
BASH_SCRIPT = r"""
# functions, recursion, local variables, subshells, arrays, traps
set -u
fib() { local n=$1; if (( n < 2 )); then echo "$n"; else echo $(( $(fib $((n-1))) + $(fib $((n-2))) )); fi; }
greet() { local who=${1:-world}; printf 'hello, %s\n' "$who"; }
greet; greet bash
echo "fib 12 = $(fib 12)"
x=outer
( x=inner; echo "in subshell: $x"; exit 7 ); echo "subshell status $? x=$x"
{ echo grouped; echo lines; } | while read -r w; do echo "${w^^}"; done
arr=(zeta alpha "mid dle" beta)
sorted=$(for a in "${arr[@]}"; do echo "$a"; done | sort); echo "count ${#arr[@]}:" $sorted
declare -A color=([apple]=red [banana]=yellow)
for k in apple banana; do echo "$k is ${color[$k]}"; done
total=0; while read -r a b; do total=$(( total + a * b )); done <<'END'
2 3
4 5
END
echo "total $total"
mapfile -t lines < <(printf '1\n2\n3\n'); echo "mapfile ${#lines[@]} last ${lines[2]}"
out=$( (echo nested; (echo deeper; (exit 4)); echo "inner status $?") | wc -l ); echo "nested lines" $out
f() { trap 'echo "returning from f"' RETURN; echo in f; }; f
coproc CO { read -r l; echo "got $l"; }; echo via-coproc >&"${CO[1]}"; read -r line <&"${CO[0]}"; echo "coproc: $line"
case "abc.tar.gz" in *.tar.gz) echo tarball;; *) echo other;; esac
s="The Quick Brown"; echo "${s,,} ${s^^} ${s// /_} ${#s}"
sleep 0.1 & wpid=$!; wait $wpid; echo "waited status $?"
trap 'echo "exit trap, status $?"' EXIT
false || exit 3
"""


def test_bash_script_same_as_native(dynroot, tmp_path):
    with open(os.path.join(dynroot, "root/script.sh"), "w") as f:
        f.write(BASH_SCRIPT)
    (tmp_path / "script.sh").write_text(BASH_SCRIPT)
    want = native(f"{host_path('bash')} script.sh", str(tmp_path))
    got = guest(dynroot, f"{host_path('bash')} /root/script.sh")
    assert want[0] == 3 and "fib 12 = 144" in want[1]
    assert got == want


def test_bash_interactive_job_control(dynroot):
    sh = GuestShell(dynroot, ["--", host_path("bash"), "--norc", "--noprofile", "-i"],
                    prompt="bash$ ")
    try:
        assert sh.run("echo ${BASH_VERSINFO[0]}").strip().isdigit()
        assert re.match(r"\[1\] \d+", sh.run("sleep 100 &"))
        assert re.search(r"\[1\]\+ +Running +sleep 100 &", sh.run("jobs"))
        sh.start_foreground("sleep 100")
        sh.control("z")
        sh.expect(r"\[2\]\+ +Stopped")
        sh.expect_prompt()
        assert sh.status() == 148                       # 128 + SIGTSTP
        assert re.search(r"\[2\]\+ +Stopped", sh.run("jobs"))
        assert re.match(r"\[2\]\+ .*&", sh.run("bg %2"))
        assert re.search(r"\[2\]\+ +Running", sh.run("jobs"))
        sh.sendline("fg %2")
        sh.expect("exec sleep 100")
        sh.control("c")
        sh.expect_prompt()
        assert sh.status() == 130
        sh.start_foreground("sleep 100")
        sh.control("c")
        sh.expect_prompt()
        assert sh.status() == 130
        sh.run("kill %1")
        sh.run("wait")
        assert sh.run("jobs") == ""
        assert sh.run("(echo sub; echo shell) | tr a-z A-Z") == "SUB\nSHELL\n"
        sh.assert_no_job_control_errors()
        assert sh.exit() == 0
    finally:
        sh.kill()


# -- coreutils -------------------------------------------------------------------------------
def make_tree(base):
    """The same small tree (contents, modes, a symlink, times) wherever it is made."""
    files = {"a.txt": b"alpha\n", "b.bin": bytes(range(256)) * 40, "sub/c.txt": b"gamma\n" * 100,
             "sub/deep/d.txt": b"", "sub/deep/e.sh": b"#!/bin/sh\necho e\n",
             "z space.txt": b"spaced\n"}
    for rel, data in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    os.chmod(os.path.join(base, "sub/deep/e.sh"), 0o755)
    os.chmod(os.path.join(base, "a.txt"), 0o600)
    os.symlink("sub/c.txt", os.path.join(base, "link"))
    t = 1_600_000_000
    for dirpath, dirs, names in sorted(os.walk(base, topdown=False)):
        for n in names + dirs:
            os.utime(os.path.join(dirpath, n), (t, t), follow_symlinks=False)
        os.utime(dirpath, (t, t))


def coreutils_script(p):
    """The commands run on both sides, with p(name) the path of a program."""
    ls, cp, mv, rm, du, sha = (p(n) for n in ("ls", "cp", "mv", "rm", "du", "sha256sum"))
    return f"""
{ls} -lR --time-style=+%s tree
{ls} -la --time-style=+%s tree/sub
{cp} -a tree tree2 && {ls} -lR --time-style=+%s tree2
{mv} tree2/sub tree2/moved && {mv} "tree2/z space.txt" tree2/nospace
{rm} -r tree2/moved/deep && {ls} -R tree2
{du} -a tree
{du} -sb tree
{du} -s --apparent-size tree2
{sha} tree/a.txt tree/b.bin tree/sub/c.txt "tree/z space.txt" tree2/b.bin tree2/nospace
{rm} -r tree2 && {ls} -A
{p('date')} -u -d @1700000000 "+%Y-%m-%d %H:%M:%S %A %j %s"
"""


def test_coreutils_same_as_native(dynroot, tmp_path):
    gdir = os.path.join(dynroot, "tmp/coreutils")
    make_tree(os.path.join(gdir, "tree"))
    make_tree(str(tmp_path / "tree"))
    script = coreutils_script(host_path)
    want = native(script, str(tmp_path))
    got = guest(dynroot, "cd /tmp/coreutils\n" + script)
    assert want[0] == 0, want[1]
    assert "tree2:\na.txt\nb.bin\nlink\nmoved\nnospace\n" in want[1]
    assert got == want


def test_df_and_date(dynroot):
    rc, out = guest(dynroot, f"{host_path('df')} -k /; {host_path('date')} +%s")
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["Filesystem", "1K-blocks"], out
    size = int(lines[1].split()[1])
    st = os.statvfs(dynroot)
    assert size == st.f_blocks * st.f_frsize // 1024, out
    assert lines[1].split()[-1] == "/", out
    assert abs(int(lines[2]) - time.time()) < 300, out


# -- python3 ---------------------------------------------------------------------------------
PY_SCRIPT = os.path.join(HERE, "dynamic_work.py")


def test_python3_same_as_native(dynroot, tmp_path):
    with open(PY_SCRIPT) as f:
        text = f.read()
    with open(os.path.join(dynroot, "root/work.py"), "w") as f:
        f.write(text)
    python = host_path("python3")
    want = native(f"{python} {PY_SCRIPT}", str(tmp_path))
    got = guest(dynroot, f"cd /root && {python} work.py")
    assert want[0] == 0, want[1]
    result = json.loads(got[1])
    assert result["threads"][0] == 16000 and result["signals"] == [10, 14], got
    assert got == want
