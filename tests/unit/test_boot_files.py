"""The pieces of boot and shutdown that need no guest: mkroot's /etc and
root directory, and the kernel's shutdown messages (init_main.py).

The boot itself, login and every way down are in tests/e2e/test_boot.py.
"""
import os
import subprocess

from vkernel import mkroot
from vkernel.fs.hostfs import hostfs_meta
from vkernel.kernel.init_main import uptime_text


def test_uptime_is_printed_the_way_dragonfly_prints_it():
    assert uptime_text(0) == "0s"
    assert uptime_text(59.9) == "59s"
    assert uptime_text(61) == "1m1s"
    assert uptime_text(3600) == "1h0m0s"
    assert uptime_text(2 * 86400 + 5) == "2d0h0m5s"


def test_rc_scripts_are_valid_shell():
    for name in mkroot.EXECUTABLE_ETC:
        r = subprocess.run(["/bin/sh", "-n"], input=mkroot.ETC[name], text=True,
                           capture_output=True)
        assert r.returncode == 0, (name, r.stderr)


def test_inittab_starts_rc_and_a_getty_and_shuts_down_with_rc_shutdown():
    lines = [ln for ln in mkroot.INITTAB.splitlines() if ln and not ln.startswith("#")]
    actions = {ln.split(":")[2]: ln.split(":", 3)[3] for ln in lines}
    assert actions["sysinit"] == "/etc/rc"
    assert actions["respawn"].startswith("/sbin/getty ") and "console" in actions["respawn"]
    assert actions["shutdown"] == "/etc/rc.shutdown"


def test_accounts_root_and_an_unprivileged_user():
    passwd = [ln.split(":") for ln in mkroot.ETC["passwd"].splitlines()]
    assert [(p[0], p[2], p[3], p[5]) for p in passwd] == \
        [("root", "0", "0", "/root"), ("user", "1000", "1000", "/home/user")]
    shadow = [ln.split(":") for ln in mkroot.ETC["shadow"].splitlines()]
    assert [(s[0], s[1]) for s in shadow] == [("root", ""), ("user", "")]   # no passwords


def test_directory_root_modes_and_guest_owner(tmp_path):
    dest = tmp_path / "root"
    for d in ("root", "home/user"):
        os.makedirs(dest / d)
    os.chmod(dest, 0o700)                       # as mkdtemp makes it
    mkroot.set_directory_owners(str(dest))
    assert os.stat(dest).st_mode & 0o7777 == 0o755
    assert os.stat(dest / "root").st_mode & 0o7777 == 0o700
    meta = hostfs_meta.decode(os.getxattr(dest / "home/user", hostfs_meta.META_XATTR))
    assert (meta.uid, meta.gid) == (1000, 1000)
    assert meta.mode == os.stat(dest / "home/user").st_mode
