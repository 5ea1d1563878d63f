"""/dev/tty: the opener's controlling terminal, whatever it is.

BSD counterpart: sys/kern/tty_tty.c (cttyopen and friends); Linux's is the
/dev/tty case of tty_open (tty_open_current_tty) in drivers/tty/tty_io.c.

The open binds the File to the real terminal: `CttyOps.open(td, fp)`
replaces fp.ops with a TtyFileOps of the caller's controlling tty (ENXIO
without one), as Linux does.  Opening /dev/tty never acquires a
controlling terminal.  Should the open path not call open(), each
operation falls back to the caller's controlling tty at the time of the
call.
"""
from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vfs_vnops import DevOps

from .tty import TtyFileOps, ctty_of


def _real(td):
    tp = ctty_of(td.lwp_proc)
    if tp is None:
        raise KernelError(E.ENXIO)
    return TtyFileOps(tp)


class CttyOps(DevOps):
    """An open of /dev/tty before (or without) binding to the real tty."""

    kind = "ctty"

    def open(self, td, fp):
        fp.ops = _real(td)

    def read(self, td, fp, n):
        return _real(td).read(td, fp, n)

    def write(self, td, fp, data):
        return _real(td).write(td, fp, data)

    def ioctl(self, td, fp, cmd, arg):
        return _real(td).ioctl(td, fp, cmd, arg)

    def poll(self, td, fp, events):
        return _real(td).poll(td, fp, events)


def ctty_factory(flags):
    """devfs make_dev("tty", ctty_factory, rdev=TTY_RDEV)."""
    return CttyOps()
