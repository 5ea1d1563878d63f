"""Machine glue: wire a platform, the console and the root filesystems to the kernel.

This is the only module that picks implementations (the ptrace platform,
hostfs or ext2 on the root disk, devfs, the console tty, the vkd disks);
the kernel receives them as objects.  The counterpart in DragonFly is
sys/platform/vkernel64/platform/init.c (init_disk, the root device).

Disks: every -r/-R image is opened and locked by the supervisor before the
first boot (vkd_attach), so a second vkernel on the same image stops at
once with "Disk image X is already in use" and exit status 1.
"""
import atexit
import os
import signal
import sys
import termios

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux.stat import makedev
from vkernel.dev.vkd import vkd_attach
from vkernel.fs.ext2 import ext2_mount
from vkernel.fs.fs_mountroot import mountroot
from vkernel.kernel import kern_vfs, msgbuf
from vkernel.kernel.errors import KernelError
from vkernel.kernel.init_main import EXIT_REBOOT, Halt, Kernel
from vkernel.platform.ptrace import PtracePlatform
from vkernel.syscalls.linux64.sys_file import kern_open
from vkernel.tty.console import Console
from vkernel.tty.tty_tty import ctty_factory
from vkernel.vfs.vnode import VBLK

CONSOLE_RDEV = makedev(5, 1)
TTY_RDEV = makedev(5, 0)


def default_root():
    """The built-in root: an ext2 image made once with mkroot --image and cached."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(base, "vkernel", "default-root.img")
    if not os.path.exists(root):
        from vkernel import mkimage
        print(f"vkernel: building the default root image {root} ...", file=sys.stderr)
        mkimage.build_image(root)
    return root


def attach_disks(conf):
    """Open and lock every -r/-R disk image: [VkdDisk], unit = position on
    the command line.  A root directory is no disk.  Exits 1 on failure,
    as DragonFly's init_disk does."""
    disks = []
    for unit, path in enumerate(conf.roots):
        cow = unit in conf.cow_roots
        if os.path.isdir(path):
            if unit == 0 and not cow:
                continue
            sys.exit(f"vkernel: {path}: a directory can only be the root (-r); "
                     "disks and -R need image files")
        try:
            disks.append(vkd_attach(unit, path, cow))
        except KernelError as e:
            if e.errno == E.EBUSY:
                print(e, file=sys.stderr)           # Disk image X is already in use
                sys.exit(1)
            sys.exit(f"vkernel: Unable to open/create {path}: {E.strerror(e.errno)}")
    return disks


class Machine:
    """Everything outside the kernel proper: devices and mounts."""

    def __init__(self, conf, disks=()):
        self.conf = conf
        self.disks = list(disks)
        self.console = Console(0, 1, vquit=True)      # ^\ enters ddb

    def log(self, msg):
        """A boot message, on the console unless a -- command runs quietly."""
        msgbuf.log(msg, console=self.conf.verbose or not self.conf.command)

    def mountroot(self, kernel):
        for disk in self.disks:
            self.log(disk.describe())
        root = self.conf.root
        if self.disks and self.disks[0].unit == 0:
            root = self.mount_disk_root(self.disks[0])
        else:
            self.log(f"Mounting root from hostfs:{root}")
        mounts = mountroot(root)
        kern_vfs.mounts = mounts
        dev = mounts.find("/dev")
        if dev is None:
            msgbuf.log("no /dev directory in the root; devfs not mounted")
        else:
            tty = self.console.tty
            dev.make_dev("console", tty.ops_factory, mode=0o600, rdev=CONSOLE_RDEV)
            dev.make_dev("tty", ctty_factory, mode=0o666, rdev=TTY_RDEV)
            for disk in self.disks:
                dev.make_dev(disk.name, disk.open_ops, mode=0o600, rdev=disk.rdev,
                             vtype=VBLK)
        return mounts.root.root

    def mount_disk_root(self, disk):
        """ext2 on vkd0, read-write (the image is unchanged under -R).  A
        mount error ends the boot with status 1 and the reason."""
        self.log(f"Mounting root from ext2:{disk.name}")
        handle = disk.open_disk()
        try:
            return ext2_mount(handle, source=f"/dev/{disk.name}", devno=disk.rdev)
        except KernelError as e:
            handle.close()
            print(f"vkernel: cannot mount root from ext2:{disk.name} ({disk.path}): {e}",
                  file=sys.stderr)
            raise Halt(1) from None

    def attach_console(self, td):
        """Open /dev/console as init's fds 0, 1 and 2 (it becomes the ctty)."""
        fd = kern_open(td, F.AT_FDCWD, "/dev/console", F.O_RDWR, 0)
        fdp = td.lwp_proc.p_fd
        for n in (1, 2):
            fdp.install(n, fdp.get(fd).hold())


def host_cpus(conf):
    """The host CPU of each virtual CPU (None: not pinned).

    By default (and with -l map[,first]) each virtual CPU is a tracer thread
    pinned with its guests to its own host CPU: a ptrace stop costs several
    times less when tracer and tracee share a CPU.  With more virtual CPUs
    than host CPUs they share them round-robin.  -l N puts every virtual
    CPU on host CPU N; -l any pins nothing."""
    from vkernel.syscalls.linux64 import sys_info
    sys_info.NCPUS[0] = conf.ncpus
    how = conf.cpulock
    if how[0] == "any":
        return [None] * conf.ncpus
    avail = sorted(os.sched_getaffinity(0))
    if how[0] == "cpu":
        return [how[1] if how[1] in avail else avail[0]] * conf.ncpus
    first = how[1] or conf.host_cpu
    order = sorted(avail, key=lambda c: (c < first, c))
    return [order[i % len(order)] for i in range(conf.ncpus)]


def run_kernel(conf, disks=()):
    """Boot one kernel in this process; returns its exit status."""
    machine = Machine(conf, disks)
    atexit.register(machine.console.restore)
    platform = PtracePlatform(host_cpus(conf))
    kernel = Kernel(conf, platform, machine.console, machine.mountroot)
    kernel.attach_console = machine.attach_console
    signal.signal(signal.SIGTERM, lambda *_: kernel.request_shutdown("SIGTERM"))
    signal.signal(signal.SIGQUIT, kernel.request_ddb)   # ^\ or kill -QUIT: into ddb
    signal.signal(signal.SIGWINCH, lambda *_: kernel.request_shutdown("SIGWINCH"))
    return kernel.run()


def supervise(conf, disks=()):
    """DragonFly's supervisor: exit status 32 from a kernel means boot again.

    It ignores SIGINT, SIGQUIT and SIGHUP, forwards SIGTERM to the running
    kernel, and after each kernel, however it ended (even SIGKILL), puts the
    host terminal back as it found it."""
    child = [0]
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child[0] and os.kill(child[0], signal.SIGTERM))
    saved = _terminal_modes()
    while True:
        pid = os.fork()
        if pid == 0:
            _kernel_child(conf, disks)
        child[0] = pid
        st = _wait(pid)
        child[0] = 0
        _restore_terminal(saved)
        status = os.waitstatus_to_exitcode(st)
        if status != EXIT_REBOOT:
            return status if status >= 0 else 128 - status


def _kernel_child(conf, disks):
    """The forked kernel: the host signals as a fresh process has them."""
    status = 1
    try:
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        _die_with_supervisor()
        status = run_kernel(conf, disks)
    finally:
        os._exit(status)


def _die_with_supervisor():
    """If the supervisor is killed, this kernel goes too (and with it, through
    PTRACE_O_EXITKILL, every guest): a parent-death SIGKILL."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)      # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        os._exit(1)


def _wait(pid):
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _terminal_modes():
    """The host terminal's settings when stdin is one, else None."""
    try:
        return termios.tcgetattr(0) if os.isatty(0) else None
    except termios.error:
        return None


def _restore_terminal(saved):
    if saved is not None:
        try:
            termios.tcsetattr(0, termios.TCSANOW, saved)
        except (termios.error, OSError):
            pass


def main(conf):
    if not conf.roots:
        conf.roots.append(default_root())
    disks = attach_disks(conf)
    pidfd = None
    if conf.pidfile:
        from .cli import write_pidfile
        pidfd = write_pidfile(conf.pidfile)
    status = supervise(conf, disks)
    if pidfd is not None:
        try:
            os.unlink(conf.pidfile)
        except OSError:
            print("Warning: couldn't remove pidfile", file=sys.stderr)
    return status
