"""`vkernel mkroot --image`: a bootable ext2 disk image from a staging tree.

    vkernel mkroot --image [--size 512M] [--host PROGRAM ...] rootimg.01

The tree is the one `vkernel mkroot DEST` builds as a directory (mkroot.build),
staged in a temporary directory and written into a fresh image by
`mke2fs -t ext2 -d STAGING` (e2fsprogs 1.43 or later), with the features
the vkernel's ext2 driver handles (vkernel/fs/ext2) whatever the host's
mke2fs.conf says.  Guest ownership does not depend on who runs mkroot:
everything belongs to root (0:0) except mkroot.GUEST_OWNERS (/home/user:
1000:1000, the unprivileged user of /etc/passwd); mke2fs -d copies host owners, so what
differs is set afterwards with debugfs's set_inode_field.  The result is
checked with `e2fsck -fn` and then renamed into place, so a vkernel
running on an older image keeps its file.

DragonFly builds its rootimg.01 with vnconfig, disklabel and newfs (see
vkernel(7)); this is the same job for a host with no vn devices.
This is a host-side tool: it never runs inside the kernel.
"""
import os
import shutil
import subprocess
import sys
import tempfile

DEFAULT_SIZE = "512M"
FEATURES = "none,ext_attr,resize_inode,dir_index,filetype,sparse_super,large_file"
DIR_MODES = {"": 0o755, "tmp": 0o1777, "root": 0o700, "home/user": 0o755}
SIZE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class ImageError(Exception):
    """mkroot --image failed; the message says why."""


def parse_size(text):
    """`512M`, `2G`, `1048576`: bytes (a multiple of 1 KiB, at least 8 MiB)."""
    t = text.strip().lower()
    mult = SIZE_UNITS.get(t[-1:], 1)
    try:
        n = int(t[:-1] if mult != 1 else t) * mult
    except ValueError:
        raise ImageError(f"bad image size: {text!r}") from None
    if n < 8 << 20:
        raise ImageError(f"image size {text} is too small (at least 8M)")
    return n - n % 1024


def _run(argv, what, env=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise ImageError(f"{argv[0]} not found (apt-get install e2fsprogs)") from None
    if r.returncode != 0:
        raise ImageError(f"{what} failed ({' '.join(argv)}):\n{r.stdout}{r.stderr}")
    return r.stdout


def tree_bytes(top):
    """Bytes the staging tree's files take (for a size check before mke2fs)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames + dirnames:
            total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def wanted_owner(rel):
    """The guest owner of a path relative to the root (mkroot.GUEST_OWNERS
    owns its tree; everything else is root's)."""
    from vkernel.mkroot import GUEST_OWNERS
    for top, ids in GUEST_OWNERS.items():
        if rel == top or rel.startswith(top + "/"):
            return ids
    return (0, 0)


def fix_modes(staging):
    """Directory modes independent of the caller's umask."""
    for rel, mode in DIR_MODES.items():
        path = os.path.join(staging, rel)
        if os.path.isdir(path):
            os.chmod(path, mode)


def ownership_requests(staging):
    """debugfs requests setting uid/gid where the staged owner is not the guest's."""
    reqs = []
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, staging)
            st = os.lstat(path)
            uid, gid = wanted_owner(rel)
            if (st.st_uid, st.st_gid) != (uid, gid):
                if "\n" in rel:
                    raise ImageError(f"cannot set the owner of {rel!r} (a newline)")
                quoted = '"/' + rel.replace('"', '""') + '"'     # libss quoting
                reqs += [f"sif {quoted} uid {uid}", f"sif {quoted} gid {gid}"]
    return reqs


def make_filesystem(staging, image, size):
    """mke2fs -t ext2 -d staging into a new file `image` of `size` bytes."""
    with open(image, "wb") as f:
        f.truncate(size)
    env = dict(os.environ, MKE2FS_CONFIG=os.devnull)     # the host's defaults do not apply
    _run(["mke2fs", "-q", "-F", "-t", "ext2", "-O", FEATURES, "-I", "256", "-L", "vkroot",
          "-E", "root_owner=0:0", "-d", staging, image, str(size // 1024)],
         "mke2fs", env)
    reqs = ownership_requests(staging)
    if reqs:
        with tempfile.NamedTemporaryFile("w", suffix=".debugfs") as script:
            script.write("\n".join(reqs) + "\n")
            script.flush()
            _run(["debugfs", "-w", "-f", script.name, image], "debugfs")
    _run(["e2fsck", "-fn", image], "e2fsck")


def stage(staging, host_programs, guest_programs):
    from vkernel import mkroot
    mkroot.build(staging, host_programs, guest_programs)
    if os.geteuid() == 0:
        for rel, ids in mkroot.GUEST_OWNERS.items():
            os.chown(os.path.join(staging, rel), *ids)
    fix_modes(staging)


def build_image(dest, size=DEFAULT_SIZE, host_programs=(), guest_programs=True):
    """Build the root tree and write it as an ext2 image at `dest`."""
    nbytes = parse_size(size) if isinstance(size, str) else size
    dest = os.path.abspath(dest)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    staging = tempfile.mkdtemp(prefix="vkernel-mkroot-")
    tmp = f"{dest}.tmp{os.getpid()}"
    try:
        stage(staging, host_programs, guest_programs)
        need = tree_bytes(staging)
        if need * 5 // 4 + (4 << 20) > nbytes:
            raise ImageError(f"the root tree takes {need >> 20} MiB: "
                             f"--size {size} is too small")
        make_filesystem(staging, tmp, nbytes)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def main(dest, size, host_programs, guest_programs):
    """mkroot --image: exit status 0, or 1 with the reason."""
    try:
        build_image(dest, size, host_programs, guest_programs)
    except ImageError as e:
        print(f"mkroot: {e}", file=sys.stderr)
        return 1
    print(f"mkroot: root image ready in {dest} ({parse_size(size) >> 20} MiB, ext2)")
    return 0
