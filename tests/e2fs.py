"""The host's e2fsprogs as the judge of ext2 images (no tests here).

What our ext2 driver (vkernel/fs/ext2) wrote is checked with the host's
tools, never with the driver itself: mke2fs makes images, e2fsck checks
them, debugfs reads files and inodes, dumpe2fs the superblock.  Shared by
the unit ext2 tests (tests/unit/test_ext2_*.py, test_vkd.py) and the disk
image tests (tests/e2e/test_images.py).

Import with:  from e2fs import ...   (tests/, the directory of conftest.py,
is on sys.path under pytest).
"""
import hashlib
import os
import re
import subprocess


def mkfs(path, size="8M", bsize=1024, rev=1, stage=None, opts=()):
    """A fresh ext2 image at path, as `mke2fs -t ext2` makes it."""
    if os.path.exists(path):
        os.unlink(path)
    cmd = ["mke2fs", "-q", "-F", "-t", "ext2", "-b", str(bsize), "-r", str(rev)]
    if stage is not None:
        cmd += ["-d", stage]
    subprocess.run(cmd + list(opts) + [path, size], check=True, capture_output=True)
    return path


def e2fsck(img, *flags):
    """`e2fsck FLAGS img`: the CompletedProcess (text)."""
    return subprocess.run(["e2fsck", *flags, img], capture_output=True, text=True)


def fsck(img):
    """`e2fsck -fn`: (exit status, output)."""
    r = e2fsck(img, "-fn")
    return r.returncode, r.stdout + r.stderr


def assert_clean(img):
    """e2fsck -fn finds nothing and the superblock says clean (unmounted)."""
    rc, out = fsck(img)
    assert rc == 0, f"e2fsck -fn found problems:\n{out}"
    assert fs_state(img) == "clean"


def superblock(img):
    """dumpe2fs -h as a dict of 'Field name' -> value text."""
    r = subprocess.run(["dumpe2fs", "-h", img], capture_output=True, text=True)
    return dict(re.findall(r"^([^:\n]+):\s+(.*)$", r.stdout, re.M))


def fs_state(img):
    """"clean" or "not clean" (dumpe2fs's Filesystem state)."""
    return superblock(img)["Filesystem state"].strip()


def debugfs(img, request):
    """`debugfs -R request img`: what it printed."""
    r = subprocess.run(["debugfs", "-R", request, img], capture_output=True, text=True)
    return r.stdout


def quoted(path):
    """A path as one debugfs argument (a '"' inside is written twice)."""
    return '"' + path.replace('"', '""') + '"'


def istat(img, path):
    """debugfs's view of one inode: ino, type, mode, uid, gid, size, links and
    the whole `stat` text; None if there is no such file."""
    out = debugfs(img, f"stat {quoted(path)}")
    m = re.search(r"Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+(\d+)", out)
    if m is None:
        return None
    owner = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", out)
    size = re.search(r"Size: (\d+)", out)
    links = re.search(r"Links: (\d+)", out)
    return {"ino": int(m.group(1)), "type": m.group(2), "mode": int(m.group(3), 8),
            "uid": int(owner.group(1)), "gid": int(owner.group(2)),
            "size": int(size.group(1)), "links": int(links.group(1)), "text": out}


def cat(img, path):
    """A file's contents, read by debugfs."""
    return debugfs(img, f"cat {quoted(path)}")


def names(img, path):
    """The entries of a directory (without . and ..), from debugfs ls -p."""
    out = debugfs(img, f"ls -p {quoted(path)}")
    ents = [line.split("/")[5] for line in out.splitlines() if line.startswith("/")]
    return sorted(e for e in ents if e not in (".", ".."))


def md5_file(path):
    """A file's md5 as md5sum prints it (an image left alone keeps its own)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
