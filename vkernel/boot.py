"""Machine glue: wire a platform, the console and the root filesystems to the kernel.

This is the only module that picks implementations (the ptrace platform,
hostfs, devfs, the console tty); the kernel receives them as objects.  The
counterpart in DragonFly is sys/platform/vkernel64/platform/init.c.
"""
import atexit
import os
import signal
import sys

from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux.stat import makedev
from vkernel.fs.fs_mountroot import mountroot
from vkernel.kernel import kern_vfs, msgbuf
from vkernel.kernel.init_main import EXIT_REBOOT, Kernel
from vkernel.platform.ptrace import PtracePlatform
from vkernel.syscalls.linux64.sys_file import kern_open
from vkernel.tty.console import Console
from vkernel.tty.tty_tty import ctty_factory

CONSOLE_RDEV = makedev(5, 1)
TTY_RDEV = makedev(5, 0)


def default_root():
    """The built-in root: made once with mkroot and cached."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(base, "vkernel", "default-root")
    if not os.path.exists(os.path.join(root, "bin", "busybox")):
        from vkernel import mkroot
        print(f"vkernel: building the default root in {root} ...", file=sys.stderr)
        mkroot.build(root)
    return root


class Machine:
    """Everything outside the kernel proper: devices and mounts."""

    def __init__(self, conf):
        self.conf = conf
        self.console = Console(0, 1, vquit=True)      # ^\ enters ddb

    def mountroot(self, kernel):
        root = self.conf.root
        if not os.path.isdir(root):
            raise SystemExit(f"vkernel: root {root}: not a directory "
                             "(disk images are not supported yet)")
        mounts = mountroot(root)
        kern_vfs.mounts = mounts
        dev = mounts.find("/dev")
        if dev is None:
            msgbuf.log("no /dev directory in the root; devfs not mounted")
        else:
            tty = self.console.tty
            dev.make_dev("console", tty.ops_factory, mode=0o600, rdev=CONSOLE_RDEV)
            dev.make_dev("tty", ctty_factory, mode=0o666, rdev=TTY_RDEV)
        return mounts.root.root

    def attach_console(self, td):
        """Open /dev/console as init's fds 0, 1 and 2 (it becomes the ctty)."""
        fd = kern_open(td, F.AT_FDCWD, "/dev/console", F.O_RDWR, 0)
        fdp = td.lwp_proc.p_fd
        for n in (1, 2):
            fdp.install(n, fdp.get(fd).hold())


def run_kernel(conf):
    """Boot one kernel in this process; returns its exit status."""
    machine = Machine(conf)
    atexit.register(machine.console.restore)
    platform = PtracePlatform(cpu=conf.host_cpu)
    kernel = Kernel(conf, platform, machine.console, machine.mountroot)
    kernel.attach_console = machine.attach_console
    signal.signal(signal.SIGTERM, lambda *_: kernel.request_shutdown("SIGTERM"))
    signal.signal(signal.SIGQUIT, kernel.request_ddb)   # ^\ or kill -QUIT: into ddb
    return kernel.run()


def supervise(conf):
    """DragonFly's supervisor: exit status 32 from a kernel means boot again."""
    while True:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = run_kernel(conf)
            finally:
                os._exit(status)
        for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
        while True:
            try:
                _, st = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        status = os.waitstatus_to_exitcode(st)
        if status != EXIT_REBOOT:
            return status if status >= 0 else 128 - status


def main(conf):
    if not conf.roots:
        conf.roots.append(default_root())
    pidfd = None
    if conf.pidfile:
        from .cli import write_pidfile
        pidfd = write_pidfile(conf.pidfile)
    status = supervise(conf)
    if pidfd is not None:
        try:
            os.unlink(conf.pidfile)
        except OSError:
            print("Warning: couldn't remove pidfile", file=sys.stderr)
    return status
