"""mkroot --image's image step (vkernel/mkimage.py) on a small hand-made
staging tree: guest owners whoever owned the staged files, modes kept,
names debugfs must quote, and the size checks."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from e2fs import assert_clean, debugfs, istat  # noqa: E402

from vkernel import mkimage  # noqa: E402


def stage(top):
    for d in ("etc", "tmp", "root", "home/user/docs", "bin"):
        os.makedirs(os.path.join(top, d))
    files = {"etc/shadow": 0o600, "bin/tool": 0o755, 'etc/a "quoted" name': 0o644,
             "home/user/docs/notes": 0o640}
    for rel, mode in files.items():
        with open(os.path.join(top, rel), "w") as f:
            f.write(rel)
        os.chmod(os.path.join(top, rel), mode)
    os.symlink("tool", os.path.join(top, "bin/link"))
    for dirpath, dirnames, filenames in os.walk(top):       # as a non-root user stages it
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), 1234, 4321)


def test_owners_fixed_and_modes_kept(tmp_path):
    top = str(tmp_path / "stage")
    stage(top)
    mkimage.fix_modes(top)
    img = str(tmp_path / "x.img")
    mkimage.make_filesystem(top, img, 16 << 20)
    assert_clean(img)
    want = {"/": (0o755, 0), "/tmp": (0o1777, 0), "/root": (0o700, 0),
            "/etc/shadow": (0o600, 0), "/bin/tool": (0o755, 0), "/bin/link": (0o777, 0),
            '/etc/a "quoted" name': (0o644, 0), "/home/user": (0o755, 1000),
            "/home/user/docs": (0o755, 1000), "/home/user/docs/notes": (0o640, 1000)}
    for path, (mode, owner) in want.items():
        st = istat(img, path)
        assert st is not None, path
        assert (st["mode"] & 0o7777, st["uid"], st["gid"]) == (mode, owner, owner), path
    assert debugfs(img, "cat /home/user/docs/notes") == "home/user/docs/notes"


def test_sizes():
    assert mkimage.parse_size("512M") == 512 << 20
    assert mkimage.parse_size("2g") == 2 << 30
    assert mkimage.parse_size("10485760") == 10 << 20
    for bad in ("1M", "lots", "12X"):
        with pytest.raises(mkimage.ImageError):
            mkimage.parse_size(bad)


def test_mke2fs_failure_is_an_image_error(tmp_path):
    top = str(tmp_path / "stage")
    os.makedirs(top)
    with open(os.path.join(top, "big"), "wb") as f:
        f.write(os.urandom(1 << 20) * 12)
    with pytest.raises(mkimage.ImageError) as ei:
        mkimage.make_filesystem(top, str(tmp_path / "small.img"), 8 << 20)
    assert "mke2fs" in str(ei.value)
