"""`vkernel mkroot`: build a guest root directory from host parts.

    vkernel mkroot [--image [--size 512M]] [--host PROGRAM ...] DEST

The root holds Debian's busybox-static with every applet linked, a minimal
/etc (passwd, group, shadow, inittab, rc, rc.shutdown, profile, hostname,
motd: busybox init runs /etc/rc and a getty on the console), the project's
guest programs compiled from guest/src (ktrace and kdump in /usr/bin, t_aio
and friends in /usr/local/bin), and each --host PROGRAM with the shared
libraries and loader it needs (from ldd).  In a root directory the guest
owner of /home/user (1000:1000) is recorded the way hostfs keeps it, in a
user.vkernel.meta extended attribute.  With --image, DEST is an ext2
disk image holding that tree (vkernel/mkimage.py), bootable with -r DEST.
This is a host-side tool: it never runs inside the kernel.
"""
import argparse
import os
import shutil
import subprocess
import sys

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc", "dev", "proc",
        "sys", "tmp", "root", "home/user", "var/log", "var/run", "mnt", "lib", "lib64")

INITTAB = """\
# /etc/inittab: busybox init(8).  id:runlevels:action:process
::sysinit:/etc/rc
::respawn:/sbin/getty -n -l /bin/login 0 console
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/rc.shutdown
::restart:/sbin/init
"""

# /etc/rc: every step is idempotent and silent when there is nothing to do.
# The kernel mounts devfs on /dev and procfs on /proc at boot on a root that
# has those directories; a read-only root gets an in-memory /tmp.
RC = """\
#!/bin/sh
# /etc/rc: system start-up, run once by init(8) (the sysinit line of /etc/inittab)
PATH=/sbin:/bin:/usr/sbin:/usr/bin
mounted() { grep -q "^[^ ]* $1 " /proc/mounts 2>/dev/null; }
mounted /proc || mount -t proc proc /proc
mounted /dev || mount -t devtmpfs devtmpfs /dev
[ -w /tmp ] || mounted /tmp || mount -t tmpfs -o mode=1777 tmpfs /tmp
[ -r /etc/hostname ] && hostname -F /etc/hostname
: 2>/dev/null > /var/run/utmp
[ -e /var/log/wtmp ] || : 2>/dev/null > /var/log/wtmp
exit 0
"""

# /etc/rc.shutdown: run by init(8) before it kills every process and calls
# reboot(2); the kernel then syncs and unmounts what is left.
RC_SHUTDOWN = """\
#!/bin/sh
# /etc/rc.shutdown: system shutdown, run by init(8) (the shutdown line of /etc/inittab)
PATH=/sbin:/bin:/usr/sbin:/usr/bin
sync
umount -a -r 2>/dev/null
exit 0
"""

MOTD = """\
Welcome to vkernel: Linux programs on a kernel written in Python.
`poweroff` or `halt` stops the vkernel, `reboot` boots it again.
"""

ETC = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
    "group": "root:x:0:\nwheel:x:10:root\ntty:x:5:\nuser:x:1000:\n",
    "shadow": "root::19000:0:99999:7:::\nuser::19000:0:99999:7:::\n",
    "hostname": "vkernel\n",
    "hosts": "127.0.0.1 localhost vkernel\n",
    "profile": 'export PS1="# "\n[ "$(id -u)" != 0 ] && export PS1="$ "\n'
               'export PATH=/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/bin\n',
    "inittab": INITTAB,
    "rc": RC,
    "rc.shutdown": RC_SHUTDOWN,
    "motd": MOTD,
    "shells": "/bin/sh\n/bin/ash\n",
}
EXECUTABLE_ETC = ("rc", "rc.shutdown")


def find_busybox():
    for path in BUSYBOX_CANDIDATES:
        if os.path.exists(path):
            out = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout
            if "statically linked" in out or "static-pie" in out:
                return path
    sys.exit("mkroot: busybox-static is not installed (apt-get install busybox-static)")


def install_busybox(dest):
    bb = find_busybox()
    shutil.copy2(bb, os.path.join(dest, "bin/busybox"))
    os.chmod(os.path.join(dest, "bin/busybox"), 0o755)
    applets = subprocess.run([bb, "--list-full"], capture_output=True, text=True).stdout
    for rel in applets.split():
        link = os.path.join(dest, rel)
        if rel == "bin/busybox" or os.path.lexists(link):
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        depth = rel.count("/")
        os.symlink("../" * depth + "bin/busybox", link)


def install_etc(dest):
    for name, text in ETC.items():
        path = os.path.join(dest, "etc", name)
        with open(path, "w") as f:
            f.write(text)
    for name in EXECUTABLE_ETC:
        os.chmod(os.path.join(dest, "etc", name), 0o755)
    os.chmod(os.path.join(dest, "etc/shadow"), 0o600)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)


# Guest programs that are part of the system (DragonFly's /usr/bin), not test programs.
SYSTEM_PROGRAMS = {"ktrace": "usr/bin", "kdump": "usr/bin"}


def install_guest_programs(dest):
    """Compile guest/src/*.c (musl-gcc -static): the system's (ktrace, kdump)
    into /usr/bin, the test programs into /usr/local/bin."""
    try:
        from guest.build import build_all
    except ImportError:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path.insert(0, here)
        from guest.build import build_all
    cache = os.path.join(os.path.expanduser("~"), ".cache", "vkernel", "guest")
    for name, path in build_all(cache).items():
        bindir = SYSTEM_PROGRAMS.get(name, "usr/local/bin")
        shutil.copy2(path, os.path.join(dest, bindir, name))


def libraries(program):
    """The shared objects a host program needs, from ldd."""
    out = subprocess.run(["ldd", program], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) >= 3 and parts[2].startswith("/"):
            libs.append(parts[2])
        elif parts and parts[0].startswith("/"):
            libs.append(parts[0])
    return libs


def copy_host_file(src, dest, replace_link=False):
    """Copy src to the same path under dest, unless something is there; with
    replace_link a symlink there (a busybox applet such as /usr/bin/du) gives
    way to the host program asked for."""
    target = os.path.join(dest, src.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if replace_link and os.path.islink(target):
        os.unlink(target)
    if not os.path.exists(target):
        shutil.copy2(os.path.realpath(src), target)


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SKIP_STDLIB = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "__pycache__",
               "lib2to3", "pydoc_data")


def install_host_program(dest, prog):
    """Copy a host program (found on the system PATH, not a user's shims) and its libraries."""
    path = prog if os.path.isabs(prog) else shutil.which(prog, path=SYSTEM_PATH)
    if not path or not os.path.exists(path):
        sys.exit(f"mkroot: no such host program: {prog}")
    real = os.path.realpath(path)
    copy_host_file(path, dest, replace_link=True)
    if real != path:
        copy_host_file(real, dest, replace_link=True)
    for lib in libraries(real):
        copy_host_file(lib, dest)
    if os.path.basename(real).startswith("python"):
        install_python_stdlib(dest, real)


def install_python_stdlib(dest, python):
    """A Python interpreter needs its standard library and extension modules."""
    out = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                         capture_output=True, text=True).stdout.strip()
    if not out or not os.path.isdir(out):
        return
    target = os.path.join(dest, out.lstrip("/"))
    if not os.path.exists(target):
        shutil.copytree(out, target, symlinks=True,
                        ignore=shutil.ignore_patterns(*SKIP_STDLIB))
    dynload = os.path.join(out, "lib-dynload")
    for name in os.listdir(dynload) if os.path.isdir(dynload) else ():
        for lib in libraries(os.path.join(dynload, name)):
            copy_host_file(lib, dest)


def build(dest, host_programs=(), guest_programs=True):
    for d in DIRS:
        os.makedirs(os.path.join(dest, d), exist_ok=True)
    install_busybox(dest)
    install_etc(dest)
    if guest_programs:
        install_guest_programs(dest)
    for prog in host_programs:
        install_host_program(dest, prog)


# Guest owners that differ from root's in a root directory (mkimage sets its own).
GUEST_OWNERS = {"home/user": (1000, 1000)}


def set_directory_owners(dest):
    """The modes of / and /root, and guest owners recorded as hostfs reads
    them (see hostfs_meta); a host without user xattrs leaves them root's,
    with a warning."""
    from vkernel.fs.hostfs import hostfs_meta
    os.chmod(dest, 0o755)               # DEST may have been made 0700 (mkdtemp)
    os.chmod(os.path.join(dest, "root"), 0o700)
    for rel, (uid, gid) in GUEST_OWNERS.items():
        path = os.path.join(dest, rel)
        meta = hostfs_meta.Meta(uid, gid, os.stat(path).st_mode, 0)
        try:
            os.setxattr(path, hostfs_meta.META_XATTR, hostfs_meta.encode(meta))
        except OSError as e:
            print(f"mkroot: cannot give /{rel} to {uid}:{gid} ({e.strerror})", file=sys.stderr)


def main(argv):
    ap = argparse.ArgumentParser(prog="vkernel mkroot", description=__doc__.split("\n")[0])
    ap.add_argument("--host", action="append", default=[], metavar="PROGRAM",
                    help="add a host program and its shared libraries")
    ap.add_argument("--no-guest-programs", action="store_true",
                    help="do not compile the project's guest programs")
    ap.add_argument("--image", action="store_true",
                    help="write an ext2 disk image instead of a directory")
    ap.add_argument("--size", default=None, metavar="SIZE",
                    help="image size with K/M/G suffix (default 512M; needs --image)")
    ap.add_argument("dest")
    args = ap.parse_args(argv)
    if args.size and not args.image:
        ap.error("--size needs --image")
    if args.image:
        from . import mkimage
        return mkimage.main(args.dest, args.size or mkimage.DEFAULT_SIZE, args.host,
                            not args.no_guest_programs)
    build(args.dest, args.host, not args.no_guest_programs)
    set_directory_owners(args.dest)
    print(f"mkroot: root directory ready in {args.dest}")
    return 0
