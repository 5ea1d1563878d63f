"""procfs and mount(2) seen by real guests: busybox ps, top, free, mount, sysctl."""
import re
import subprocess

from conftest import run_vk


KERNEL_LOG = re.compile(r"^pid \d+ \(.*\): unimplemented syscall .*\n", re.M)


def sh(root, script, args=(), timeout=120):
    """Run a shell script in the vkernel; (status, its output without kernel log lines)."""
    r = run_vk(root, "/bin/sh", "-c", script, args=args, timeout=timeout)
    return r.returncode, KERNEL_LOG.sub("", r.stdout.decode(errors="replace"))


def ps_o_rows(out):
    """{pid: [ppid, stat, comm]} from `ps -o pid,ppid,stat,comm` output."""
    found = re.findall(r"^\s*(\d+)\s+(\d+)\s+([RSDTZ])\s+(\S+)$", out, re.M)
    return {int(pid): [ppid, st, comm] for pid, ppid, st, comm in found}


def test_ps_shows_pids_commands_and_states(root):
    script = ("sleep 30 & STOPPED=$!; kill -STOP $STOPPED; "
              "sh -c 'true & exec sleep 30' & sleep 1; "
              "ps -o pid,ppid,stat,comm; echo; ps; kill -9 $STOPPED $!")
    status, out = sh(root, script)
    assert status == 0, out
    table = ps_o_rows(out)
    # the shell waits for ps, unless ps got this far before it reached wait4
    assert table[1] in (["0", "S", "sh"], ["0", "R", "sh"])
    # stopped before its exec (sh), inside busybox's re-exec of /proc/self/exe
    # before it names itself (exe, as on Linux), or after (sleep)
    assert table[2] in (["1", "T", "sleep"], ["1", "T", "sh"], ["1", "T", "exe"])
    assert table[3] == ["1", "S", "sleep"]
    zombie = [pid for pid, r in table.items() if r[1] == "Z"]
    assert len(zombie) == 1 and table[zombie[0]][0] == "3"
    running = [pid for pid, r in table.items() if r[1] == "R" and pid != 1]
    assert [table[p][2] for p in running] == ["ps"]
    assert re.search(r"^\s+3 root\s+sleep 30$", out, re.M)


def test_top_free_uptime(root):
    status, out = sh(root, "top -n 1 -b; free; uptime", args=("-m", "128m"))
    assert status == 0, out
    assert re.search(r"^Mem: \d+K used, \d+K free", out, re.M)
    assert re.search(r"^Load average: [\d.]+ [\d.]+ [\d.]+ \d+/\d+ \d+$", out, re.M)
    assert re.search(r"^\s+\d+\s+1 root\s+R\s+\S+\s+\d+%\s+\d+% top -n 1 -b", out, re.M)
    mem = re.search(r"^Mem:\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
    total, used, free = map(int, mem.groups())
    assert total == 128 * 1024 and used + free == total and used > 0
    assert "load average:" in out


def test_self_status_exe_and_fds(root):
    status, out = sh(root, "cat /proc/self/status; readlink /proc/self/exe; "
                           "ls -l /proc/self/fd; echo piped | cat /proc/self/fd/0; "
                           "echo x | readlink /proc/self/fd/0; cat /proc/1/cmdline; echo")
    assert status == 0, out
    assert re.search(r"^Name:\tcat$", out, re.M)
    assert re.search(r"^State:\tR \(running\)$", out, re.M)
    assert re.search(r"^PPid:\t1$", out, re.M)
    assert re.search(r"^Uid:\t0\t0\t0\t0$", out, re.M)
    assert "\n/bin/busybox\n" in out
    assert re.search(r"^lrwx------ .* 0 -> /dev/console$", out, re.M)
    assert "\npiped\n" in out
    assert re.search(r"^pipe:\[\d+\]$", out, re.M)
    assert "/bin/sh\0-c\0" in out


def test_forkstorm_execs_proc_self_exe(root, guest_bins):
    ref = subprocess.run([guest_bins["t_forkstorm"], "100"], capture_output=True, timeout=60)
    got = run_vk(root, "/usr/local/bin/t_forkstorm", "100")
    assert got.stdout.decode() == ref.stdout.decode()
    assert got.returncode == ref.returncode == 0, got.stderr.decode()[-2000:]


def test_pidof_kill_and_dmesg(root):
    status, out = sh(root, "sleep 30 & sleep 30 & sleep 1; P=$(pidof sleep); echo \"pids $P\"; "
                           "kill $P; wait; echo killed; pidof sleep || echo none; "
                           "killall -0 sh && echo sh-alive; dmesg | head -1")
    assert status == 0, out
    assert re.search(r"^pids (2 3|3 2)$", out, re.M)
    assert "killed\nnone\nsh-alive\n" in out
    assert "vkernel" in out.splitlines()[-1]


def test_mount_and_umount_tmpfs(root):
    script = ("mount -t tmpfs -o size=1m tmpfs /mnt && echo hi > /mnt/x && cat /mnt/x; "
              "mount | grep /mnt; df /mnt | tail -1; "
              "cd /mnt; umount /mnt || echo busy; cd /; umount /mnt && echo unmounted; "
              "ls /mnt; mount -o ro -t tmpfs tmpfs /mnt; touch /mnt/y || echo read-only; "
              "mount -o remount,rw /mnt && touch /mnt/y && echo rw-again; umount /mnt; "
              "mount -t bogus none /mnt 2>&1; su user -c 'mount -t tmpfs tmpfs /mnt'; "
              "echo user $?; mount")
    status, out = sh(root, script)
    assert "hi\ntmpfs on /mnt type tmpfs (rw)\n" in out
    assert re.search(r"^tmpfs\s+1024\s+4\s+1020\s+0% /mnt$", out, re.M)
    assert "busy\nunmounted\n" in out
    assert "read-only\nrw-again\n" in out
    assert "No such device" in out
    assert "user 1" in out
    mounts = out.split("user 1\n")[1]
    assert mounts.splitlines() == ["/dev/root on / type hostfs (rw)",
                                   "devtmpfs on /dev type devtmpfs (rw)",
                                   "tmpfs on /dev/shm type tmpfs (rw,nosuid,nodev)",
                                   "proc on /proc type proc (rw,nosuid,nodev,noexec)"]


def test_mount_proc_elsewhere(root):
    status, out = sh(root, "mount -t proc proc /mnt && cat /mnt/self/comm && "
                           "readlink /mnt/self/exe && umount /mnt && ls /mnt | wc -l")
    assert status == 0, out
    assert out == "cat\n/bin/busybox\n0\n"


def test_hostname_through_proc_sys(root):
    status, out = sh(root, "cat /proc/sys/kern/hostname; echo guesthost > /proc/sys/kern/hostname; "
                           "cat /proc/sys/kern/hostname; hostname; uname -n; "
                           "cat /proc/sys/kernel/hostname; sysctl kern.hostname; "
                           "su user -c 'echo x > /proc/sys/kern/hostname' 2>&1; hostname")
    assert status == 0, out
    lines = out.splitlines()
    assert lines[:6] == ["vkernel", "guesthost", "guesthost", "guesthost", "guesthost",
                         "kern.hostname = guesthost"]
    assert "Permission denied" in out and lines[-1] == "guesthost"


def test_nothing_of_the_host_shows(root):
    status, out = sh(root, "cat /proc/mounts /proc/self/maps /proc/self/mountinfo "
                           "/proc/cpuinfo /proc/version /proc/self/stat; ls -1 /proc")
    assert status == 0, out
    assert root not in out
    pids = [int(x) for x in re.findall(r"^\d+$", out, re.M)]      # ls /proc
    assert pids and max(pids) < 100
    assert re.search(r"^processor\t: 0$", out, re.M)
    assert not re.search(r"^processor\t: 1$", out, re.M)        # -n 1: one CPU


def test_cpu_time_of_a_busy_process(root):
    status, out = sh(root, "t_cpuloop 5000000000 >/dev/null & sleep 2; "
                           "cut -d' ' -f1-3,14 /proc/$!/stat; head -1 /proc/stat; kill $!")
    assert status == 0, out
    pid, comm, state, utime = out.splitlines()[0].split()
    assert (comm, state) == ("(t_cpuloop)", "R") and int(utime) >= 50    # ticks of 10 ms
    cpu = out.splitlines()[1].split()
    assert cpu[0] == "cpu" and int(cpu[1]) >= int(utime)
