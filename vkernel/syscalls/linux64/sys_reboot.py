"""reboot(2): halt, power off or restart the vkernel (Linux kernel/reboot.c;
DragonFly's boot()/cpu_halt()/cpu_reset() in kern_shutdown.c).

Every process is killed and the filesystems are synced and unmounted
first (Kernel.boot_howto in init_main.py).  Halting and powering off exit
the vkernel with status 0; restarting exits with 32, which the `vkernel`
supervisor (boot.py) answers by booting a fresh kernel.
"""
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import process as PR
from vkernel.kernel import kern_shutdown
from vkernel.kernel.errors import KernelError
from vkernel.syscalls.table import NR, PTR, U32, syscall

_MAGIC2 = (PR.LINUX_REBOOT_MAGIC2, PR.LINUX_REBOOT_MAGIC2A, PR.LINUX_REBOOT_MAGIC2B,
           PR.LINUX_REBOOT_MAGIC2C)


@syscall(NR.reboot, U32, U32, U32, PTR)
def sys_reboot(td, magic1, magic2, cmd, arg):
    """Implements Linux reboot(2): RESTART, HALT, POWER_OFF, CAD_ON/OFF."""
    if magic1 != PR.LINUX_REBOOT_MAGIC1 or magic2 not in _MAGIC2:
        raise KernelError(E.EINVAL)
    if td.lwp_proc.p_ucred.uid != 0:
        raise KernelError(E.EPERM)
    if cmd in (PR.LINUX_REBOOT_CMD_CAD_ON, PR.LINUX_REBOOT_CMD_CAD_OFF):
        return 0
    if cmd == PR.LINUX_REBOOT_CMD_RESTART:
        kern_shutdown.clean_shutdown("reboot")
    elif cmd == PR.LINUX_REBOOT_CMD_HALT:
        kern_shutdown.clean_shutdown("halt")
    elif cmd == PR.LINUX_REBOOT_CMD_POWER_OFF:
        kern_shutdown.clean_shutdown("poweroff")
    raise KernelError(E.EINVAL)
