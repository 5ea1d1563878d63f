"""Disk images end to end: mkroot --image, booting from them, durability.

An image is built once per module with `vkernel mkroot --image` and copied
(sparse) for each test.  What the guest did is then judged from the host
with e2fsprogs, never with our own driver: `e2fsck -fn` must find nothing
after a clean shutdown, and debugfs must see exactly the files, sizes,
modes, owners and link counts the guest made.  After a SIGKILL in the
middle of guest/src/t_fsyncstress, every file it reported as fsync()ed
must be byte-identical to a native run's, and `e2fsck -fy` must bring the
image back to clean.  Also: the lock (a second vkernel is refused), -R
(the file stays byte-identical), /dev/vkd1 mounted from the guest, sync(2)
reaching the image while the vkernel runs, corrupt and unsupported images
(a message and exit status 1, never a traceback).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pexpect
import pytest

from conftest import REPO, run_vk, vkernel_cmd
from e2fs import (assert_clean, cat, debugfs, e2fsck, fs_state, fsck, istat, md5_file, mkfs,
                  names)

ENV = dict(os.environ, PYTHONPATH=REPO)
BOOT_TIMEOUT = 120


# -- host-side helpers ------------------------------------------------------------------------
def vk(img, script, args=(), timeout=BOOT_TIMEOUT):
    """Run a shell script as pid 1 on image `img`; the CompletedProcess (text)."""
    r = run_vk(img, "/bin/sh", "-c", script, args=args, timeout=timeout)
    r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
    return r


def spawn_vk(args, **kw):
    """A vkernel in its own session (killpg reaches supervisor, kernel and guests)."""
    return subprocess.Popen(vkernel_cmd(*args), cwd=REPO, env=ENV, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def wait_line(proc, prefix, timeout=BOOT_TIMEOUT):
    """Read proc's stdout until a line starting with prefix; the lines read."""
    lines, deadline = [], time.monotonic() + timeout
    for raw in proc.stdout:
        lines.append(raw.decode())
        if lines[-1].startswith(prefix) or time.monotonic() > deadline:
            break
    assert lines and lines[-1].startswith(prefix), f"no {prefix!r} line in {lines[-20:]}"
    return lines


def kill_vk(proc):
    """SIGKILL to the vkernel's whole session (a no-op once it is gone)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One `mkroot --image` per module; tests use copies."""
    img = str(tmp_path_factory.mktemp("img") / "rootimg.01")
    r = subprocess.run(vkernel_cmd("mkroot", "--image", "--size", "512M", img), cwd=REPO,
                       env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return img


@pytest.fixture
def image(template, tmp_path):
    dest = str(tmp_path / "rootimg.01")
    subprocess.run(["cp", "--sparse=always", template, dest], check=True)
    return dest


@pytest.fixture
def data_image(tmp_path):
    """An empty 64 MiB ext2 image made by mke2fs (1 KiB blocks)."""
    return mkfs(str(tmp_path / "data.img"), "64M", 1024)


# -- the image mkroot builds -----------------------------------------------------------------------
def test_mkroot_image_owners_and_modes(template):
    assert_clean(template)
    want = {"/": (0o755, 0, 0), "/tmp": (0o1777, 0, 0), "/root": (0o700, 0, 0),
            "/etc/shadow": (0o600, 0, 0), "/etc/passwd": (0o644, 0, 0),
            "/bin/busybox": (0o755, 0, 0), "/home": (0o755, 0, 0),
            "/home/user": (0o755, 1000, 1000), "/usr/local/bin/t_fsyncstress": (0o755, 0, 0)}
    for path, (mode, uid, gid) in want.items():
        st = istat(template, path)
        assert st is not None, path
        assert (st["mode"] & 0o7777, st["uid"], st["gid"]) == (mode, uid, gid), path
    for d in ("/", "/etc", "/bin", "/sbin", "/usr/bin", "/usr/local/bin"):
        out = debugfs(template, f"ls -p {d}")
        owners = {tuple(line.split("/")[3:5]) for line in out.splitlines() if line.startswith("/")}
        assert owners == {("0", "0")}, (d, owners)


def test_mkroot_refuses_tiny_size(tmp_path):
    r = subprocess.run(vkernel_cmd("mkroot", "--image", "--size", "1M", str(tmp_path / "x")),
                       cwd=REPO, env=ENV, capture_output=True, text=True)
    assert r.returncode != 0 and "too small" in r.stderr
    assert not os.path.exists(tmp_path / "x")


# -- a clean shutdown: e2fsck and debugfs agree with the guest --------------------------------------
LONG_TARGET = "/t/" + "x" * 100
WORKLOAD = f"""
set -e
umask 022
mkdir /t && cd /t
echo hello > created && chmod 0640 created
printf abc > appended && printf defg >> appended && chown 1000:1000 appended
dd if=/dev/zero of=truncated bs=1024 count=64 2>/dev/null && truncate -s 1000 truncated
echo moved > before && mv before after
echo linked > orig && ln orig hard1 && ln orig hard2
ln -s created fastlink && ln -s {LONG_TARGET} slowlink
echo gone > deleted && rm deleted
mkdir -p sub/deeper && rmdir sub/deeper
dd if=/dev/zero of=sparse bs=1 count=1 seek=5000000 2>/dev/null
dd if=/dev/urandom of=big bs=1M count=100 2>/dev/null
md5sum big
mkdir many && cd many
i=0; while [ $i -lt 10000 ]; do : > f$i; i=$((i+1)); done
echo x > extra && rm extra && cd /t
exec 3> /t/open-unlinked && rm /t/open-unlinked
echo workload-done
"""


def test_clean_exit_then_debugfs_sees_everything(image, tmp_path):
    r = vk(image, WORKLOAD, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "workload-done" in r.stdout
    guest_md5 = r.stdout.split()[0]
    assert_clean(image)
    expect = {"created": ("regular", 0o640, 0, 0, 6, 1),
              "appended": ("regular", 0o644, 1000, 1000, 7, 1),
              "truncated": ("regular", 0o644, 0, 0, 1000, 1),
              "after": ("regular", 0o644, 0, 0, 6, 1),
              "orig": ("regular", 0o644, 0, 0, 7, 3),
              "fastlink": ("symlink", 0o777, 0, 0, 7, 1),
              "slowlink": ("symlink", 0o777, 0, 0, len(LONG_TARGET), 1),
              "sub": ("directory", 0o755, 0, 0, None, 2),
              "many": ("directory", 0o755, 0, 0, None, 2),
              "sparse": ("regular", 0o644, 0, 0, 5000001, 1),
              "big": ("regular", 0o644, 0, 0, 100 << 20, 1)}
    for name, (kind, mode, uid, gid, size, links) in expect.items():
        st = istat(image, f"/t/{name}")
        assert st is not None, name
        got = (st["type"], st["mode"] & 0o7777, st["uid"], st["gid"],
               st["size"] if size is not None else None, st["links"])
        assert got == (kind, mode, uid, gid, size, links), name
    assert names(image, "/t") == sorted(["created", "appended", "truncated", "after", "orig",
                                         "hard1", "hard2", "fastlink", "slowlink", "sub",
                                         "sparse", "big", "many"])
    assert istat(image, "/t")["links"] == 4
    assert {istat(image, f"/t/{n}")["ino"] for n in ("orig", "hard1", "hard2")} == \
        {istat(image, "/t/orig")["ino"]}
    assert cat(image, "/t/created") == "hello\n"
    assert cat(image, "/t/appended") == "abcdefg"
    assert cat(image, "/t/truncated") == "\0" * 1000
    assert cat(image, "/t/after") == "moved\n"
    assert 'Fast link dest: "created"' in istat(image, "/t/fastlink")["text"]
    many = names(image, "/t/many")
    assert len(many) == 10000 and many == sorted(f"f{i}" for i in range(10000))
    sparse = istat(image, "/t/sparse")["text"]      # one data block, its two indirect blocks
    assert "(1220):" in sparse and "TOTAL: 3\n" in sparse, sparse
    dumped = str(tmp_path / "big")
    debugfs(image, f"dump /t/big {dumped}")
    assert md5_file(dumped) == guest_md5


def test_unmount_and_mount_again_identical(image):
    """Three views of one tree: the boot that made it, the next boot, and
    the same filesystem unmounted and mounted again in the guest."""
    manifest = ("find /t -exec stat -c '%n %F %s %a %u:%g %h' {} + | sort;"
                " find /t -type f -exec md5sum {} + | sort; readlink /t/slowlink")
    r1 = vk(image, WORKLOAD.replace("md5sum big\n", "") + manifest, timeout=600)
    assert r1.returncode == 0, r1.stderr
    made = r1.stdout.split("workload-done\n", 1)[1]
    r2 = vk(image, manifest)
    assert r2.returncode == 0 and r2.stdout == made
    assert LONG_TARGET in made
    r3 = vk(image, "mount -o remount,ro / && " + manifest + "; mount -o remount,rw / && "
            "echo after-remount > /t/new && cat /t/new")
    assert r3.stdout == made + "after-remount\n"
    assert_clean(image)


def test_vkd1_mount_umount_mount_from_guest(image, data_image):
    script = """
    set -e
    ls -l /dev/vkd0 /dev/vkd1
    mount /dev/vkd1 /mnt
    grep vkd /proc/mounts
    mkdir /mnt/d && echo one > /mnt/d/file && ln -s d/file /mnt/link
    find /mnt | sort > /before && md5sum /mnt/d/file >> /before
    mount /dev/vkd1 /tmp 2>&1 || echo second-mount-refused
    umount /mnt
    test ! -e /mnt/d && echo unmounted
    mount -t ext2 /dev/vkd1 /mnt
    find /mnt | sort > /after && md5sum /mnt/d/file >> /after
    cmp /before /after && echo identical
    mount /dev/vkd0 /tmp 2>&1 || echo root-busy
    """
    r = vk(image, script, args=("-r", data_image))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^brw-------\s+1 root\s+root\s+240,\s+1 .* /dev/vkd1$", r.stdout, re.M)
    assert "/dev/vkd0 / ext2 rw" in r.stdout and "/dev/vkd1 /mnt ext2 rw" in r.stdout
    for word in ("second-mount-refused", "unmounted", "identical", "root-busy"):
        assert word in r.stdout, r.stdout
    assert_clean(data_image)            # unmounted at the end of the -- command
    assert cat(data_image, "/d/file") == "one\n"
    assert istat(data_image, "/link")["type"] == "symlink"
    assert_clean(image)


def test_directory_root_with_an_image_disk(root, data_image):
    r = run_vk(root, "/bin/sh", "-c", "mount /dev/vkd1 /mnt && echo hi > /mnt/hi && "
               "grep vkd1 /proc/mounts", args=("-r", data_image), timeout=BOOT_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert b"/dev/vkd1 /mnt ext2" in r.stdout
    assert not os.path.exists(os.path.join(root, "dev", "vkd0"))
    assert cat(data_image, "/hi") == "hi\n"
    assert_clean(data_image)


# -- shutdown paths ----------------------------------------------------------------------------------
def test_poweroff_from_init_leaves_image_clean(image):
    c = pexpect.spawn(sys.executable, ["-m", "vkernel", "-r", image], cwd=REPO,
                      env=dict(ENV, TERM="vt100"), encoding="utf-8", timeout=BOOT_TIMEOUT)
    try:
        c.expect("login:")
        c.sendline("root")
        c.expect(r"[#$] ")
        c.sendline("echo from-init > /root/note; echo DONE$((40+2))")
        c.expect("DONE42")
        c.expect(r"[#$] ")
        c.sendline("poweroff")
        c.expect(pexpect.EOF)
    finally:
        c.close(force=True)
    assert c.exitstatus == 0
    assert_clean(image)
    assert cat(image, "/root/note") == "from-init\n"


def test_poweroff_from_command_leaves_image_clean(image):
    r = vk(image, "echo x > /root/x; poweroff -f")
    assert r.returncode == 0
    assert_clean(image)
    assert cat(image, "/root/x") == "x\n"


def test_sync_reaches_the_image_and_sigkill_leaves_it_unclean(image):
    p = spawn_vk(["-r", image, "--", "/bin/sh", "-c",
                  "echo synced-data > /root/s; sync; echo SYNCED; sleep 600"])
    try:
        wait_line(p, "SYNCED")
        assert cat(image, "/root/s") == "synced-data\n"     # read while it runs
        assert fs_state(image) == "not clean"
    finally:
        kill_vk(p)
    assert fs_state(image) == "not clean"
    assert e2fsck(image, "-fy").returncode in (0, 1)
    assert_clean(image)
    assert cat(image, "/root/s") == "synced-data\n"


def test_sigkill_during_fsync_stress(image, guest_bins, tmp_path):
    """Every file t_fsyncstress reported (fsync'd, renamed, directory fsync'd)
    survives a SIGKILL of the whole vkernel at an arbitrary moment."""
    p = spawn_vk(["-r", image, "--", "/bin/sh", "-c",
                  "mkdir /stress && exec t_fsyncstress /stress 0"])
    try:
        lines = []
        while len(lines) < 120:
            lines += [ln for ln in wait_line(p, "done ") if ln.startswith("done ")]
    finally:
        kill_vk(p)
    lines += [ln for ln in p.stdout.read().decode().splitlines() if ln.startswith("done ")]
    done = [ln.split()[1] for ln in lines]
    assert fs_state(image) == "not clean"
    r = e2fsck(image, "-fy")
    assert r.returncode in (0, 1), r.stdout
    assert_clean(image)
    out = tmp_path / "out"
    out.mkdir()
    debugfs(image, f"rdump /stress {out}")
    ref = tmp_path / "ref"
    ref.mkdir()
    subprocess.run([guest_bins["t_fsyncstress"], str(ref), str(len(done))], check=True,
                   capture_output=True)
    for name in done:
        got = out / "stress" / name
        assert got.exists(), f"{name} was fsync()ed but is gone"
        assert got.read_bytes() == (ref / name).read_bytes(), f"{name} differs"


# -- locking, copy-on-write --------------------------------------------------------------------------
def test_second_vkernel_is_refused(image):
    p = spawn_vk(["-r", image, "--", "/bin/sh", "-c", "echo UP; sleep 600"])
    try:
        wait_line(p, "UP")
        for flag in ("-r", "-R"):
            r = subprocess.run(vkernel_cmd(flag, image, "--", "/bin/true"), cwd=REPO, env=ENV,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 1
            assert r.stderr == f"Disk image {image} is already in use\n"
    finally:
        kill_vk(p)


def test_cow_leaves_the_image_byte_identical(image):
    before = md5_file(image)
    script = ("echo cow > /root/cow && cat /root/cow && rm -r /usr/local/bin && "
              "dd if=/dev/zero of=/zero bs=1M count=8 2>/dev/null && ls /usr/local 2>&1; sync")
    p = spawn_vk(["-R", image, "--", "/bin/sh", "-c", "echo UP; sleep 600"])
    try:
        wait_line(p, "UP")              # two -R vkernels share the image
        r = subprocess.run(vkernel_cmd("-R", image, "--", "/bin/sh", "-c", script), cwd=REPO,
                           env=ENV, capture_output=True, text=True, timeout=BOOT_TIMEOUT)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("cow\n")
        refused = subprocess.run(vkernel_cmd("-r", image, "--", "/bin/true"), cwd=REPO,
                                 env=ENV, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and "already in use" in refused.stderr
    finally:
        kill_vk(p)
    assert md5_file(image) == before
    assert fs_state(image) == "clean"


# -- bad images ----------------------------------------------------------------------------------------
def _boot_fails(img, *words):
    r = vk(img, "echo should-not-run")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "should-not-run" not in r.stdout
    assert "Traceback" not in r.stderr and "panic" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    return r


def test_corrupt_superblock_is_a_clean_mount_error(image):
    with open(image, "r+b") as f:
        f.seek(1024)
        f.write(bytes(1024))
    _boot_fails(image, "cannot mount root", "ext2")


def test_garbage_group_descriptors_is_a_clean_mount_error(image):
    with open(image, "r+b") as f:
        f.seek(4096)                    # 4 KiB blocks: the descriptor table
        f.write(os.urandom(4096))
    _boot_fails(image, "cannot mount root")


def test_ext4_image_is_refused_naming_the_feature(tmp_path):
    img = str(tmp_path / "ext4.img")
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", img, "32M"], check=True,
                   capture_output=True)
    _boot_fails(img, "unsupported optional features")


def test_missing_image_and_directories_as_disks(tmp_path, root, image):
    def refused(*args):
        r = subprocess.run(vkernel_cmd(*args, "--", "/bin/true"), cwd=REPO, env=ENV,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        return r.stderr
    assert "Unable to open/create" in refused("-r", str(tmp_path / "nope"))
    assert "a directory can only be the root" in refused("-R", root)
    assert "a directory can only be the root" in refused("-r", image, "-r", root)
    assert refused("-r", image, "-r", image) == f"Disk image {image} is already in use\n"


def test_default_root_is_a_cached_image(tmp_path):
    env = dict(ENV, XDG_CACHE_HOME=str(tmp_path / "cache"))
    cmd = vkernel_cmd("--", "/bin/sh", "-c", "grep ' / ' /proc/mounts")
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "/dev/vkd0 / ext2 rw 0 0\n"
    img = tmp_path / "cache" / "vkernel" / "default-root.img"
    assert img.exists()
    ino = img.stat().st_ino
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "building" not in r.stderr
    assert img.stat().st_ino == ino             # the same file, not rebuilt
    assert_clean(str(img))
    shutil.rmtree(tmp_path / "cache")


def test_sigterm_and_reboot_leave_image_clean(image):
    """Host SIGTERM ends a -- command cleanly; a guest reboot (exit 32 to the
    supervisor, which still holds the disk) boots the same image again."""
    p = spawn_vk(["-r", image, "--", "/bin/sh", "-c", "echo UP; exec sleep 600"])
    try:
        wait_line(p, "UP")
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        kill_vk(p)
    assert_clean(image)
    r = vk(image, "if [ -e /rebooted ]; then echo second-boot; else "
                  "touch /rebooted; echo first-boot; reboot -f; fi")
    assert r.returncode == 0, r.stderr
    assert [ln for ln in r.stdout.splitlines() if ln.endswith("-boot")] == \
        ["first-boot", "second-boot"]
    assert "Rebooting..." in r.stdout
    assert_clean(image)


# -- a kernel panic in the middle of file writes (issue 4) ---------------------------------------
def test_panic_during_writes_leaves_at_most_an_unclean_image(image):
    """Writes are going on when the kernel panics (no console: exit 70).
    The image may be marked not clean, but e2fsck -fn finds nothing else."""
    script = ("mkdir /w && i=0; while [ $i -lt 200 ]; do "
              "echo line-$i >> /w/log; dd if=/dev/zero of=/w/f$i bs=4k count=4 2>/dev/null; "
              "i=$((i+1)); if [ $i -eq 120 ]; then echo 1 > /proc/sys/debug/kdb/panic; fi; "
              "done; echo survived")
    r = vk(image, script)
    assert r.returncode == 70, r.stdout[-2000:] + r.stderr[-2000:]
    assert "survived" not in r.stdout
    assert "panic:" in r.stdout + r.stderr
    assert fs_state(image) in ("clean", "not clean")
    rc, out = fsck(image)
    assert rc == 0, f"e2fsck -fn found problems:\n{out}"
