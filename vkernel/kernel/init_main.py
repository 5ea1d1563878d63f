"""Boot: from a command line to init running as pid 1 (BSD kern/init_main.c).

mi_startup() in the original walks SYSINIT entries; ours is a short list of
steps: message buffer and console, platform and virtual CPU, root and
device filesystems, the syscall table, then the first process (pid 1),
exec'd from the guest root like any other program.
"""
import os
import sys
import threading
import time
import traceback

import vkernel
from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S

from . import (imgact_elf, kern_exec, kern_exit, kern_fork, kern_futex, kern_proc,
               kern_shutdown, kern_sig, kern_vfs, msgbuf)
from .errors import KernelError
from .kern_descrip import FileDesc
from .kern_shutdown import EXIT_PANIC, EXIT_REBOOT, EXIT_RESET, Halt   # noqa: F401  (re-exported)
from .kern_synch import mp_lock, sched
from .proc import Lwp, Proc, SACTIVE, SZOMB
from .trap import BALANCE_PERIOD, Cpu, balance_cpus
from .vm_map import MemoryLimit, VmSpace
from vkernel.platform import spawn_thread


INIT_FALLBACKS = ("/etc/init", "/bin/init", "/bin/sh")


def host_cpu_model():
    """The host processor's name, for the banner."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine


def uptime_text(seconds):
    """print_uptime(): 1d2h3m4s, leading zero units left out."""
    s, out = int(seconds), ""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if out or s >= n:
            out += f"{s // n}{unit}"
            s %= n
    return f"{out}{s}s"


VISITORS_DELAY = 0.05       # s after boot: a short `-- command` never pays for them


def _for_visitors():
    """What outside tools need, made by a callout soon after boot (off the
    path to init): the namelist <rundir>/kernel.<pid> (vkernel ps -M
    /proc/<pid>/mem) and the debugger stub <rundir>/kgdb.<pid> (vkernel gdb).
    Neither can stop the kernel: a failure is one line on the host's stderr."""
    try:
        from vkernel.kvm import kvm_nlist
        kvm_nlist.write_namelist()
        from vkernel.debug import kgdb_start
        kgdb_start()
    except Exception as e:                       # not kernel code: no fatal trap
        print(f"vkernel: namelist or debugger stub: {e!r}", file=sys.stderr)


def _takes_signal(p, sig):
    """Does p catch sig, or block it in some thread (to sigwait for it)?"""
    if p.p_sigacts[sig].handler not in (S.SIG_DFL, S.SIG_IGN):
        return True
    return any(td.lwp_sigmask & S.sigmask(sig) for td in p.p_lwps.values())


class Kernel:
    """The booted system: configuration, the CPU loop and the first process."""

    def __init__(self, conf, platform, console, mountroot):
        self.conf = conf
        self.platform = platform
        self.console = console
        self.mountroot = mountroot
        self.exit_status = 0
        self.cpu = None                     # CPU 0, on the main thread
        self.cpus = []
        self._ap_exit = None                # what ended another CPU's loop
        self.init = None
        self.attach_console = lambda td: None
        self.host_signals = set()           # host signals noted by their handlers
        self.boot_time = time.monotonic()
        self.unmounted = False

    # -- boot ------------------------------------------------------------------------------
    def banner(self):
        """The first console lines, after DragonFly's: the kernel's version and
        build, the CPU, real memory, the virtual CPUs (the root device follows
        from mountroot).  Under a -- command they go to the message buffer only."""
        c = self.conf
        u = os.uname()
        lines = [f"vkernel {vkernel.__version__} #0: Python {sys.version.split()[0]} "
                 f"virtual kernel on {u.sysname} {u.release} {u.machine}",
                 f"CPU: {host_cpu_model()}",
                 f"real memory  = {c.memsize} ({c.memsize >> 10}K bytes)",
                 f"Virtual CPUs: {c.ncpus} (host CPU"
                 f"{'s' if c.ncpus > 1 else ''} {self._host_cpu_list()})"]
        for line in lines:
            msgbuf.log(line, console=c.verbose or not c.command)

    def _host_cpu_list(self):
        cpus = getattr(self.platform, "tracers", None)
        if not cpus:
            return str(self.conf.host_cpu)
        return ",".join("any" if t.host_cpu is None else str(t.host_cpu) for t in cpus)

    def boot(self):
        msgbuf.console_write = self.console.write_kernel
        self.boot_time = time.monotonic()
        self.banner()
        from vkernel.syscalls import dispatch
        import vkernel.syscalls.linux64  # noqa: F401  (registers every handler)
        self.cpus = [Cpu(i, self.platform.cpu(i), dispatch.syscall2, dispatch.finish)
                     for i in range(self.platform.ncpus)]
        self.cpu = sched.curcpu = self.cpus[0]
        self.cpu.tracer.start()
        self.console.attach(self.cpu.fd_handlers)
        self.cpu.host_requests = self.poll_host_requests
        self.limit = MemoryLimit(self.conf.memsize)
        self.limit.log = msgbuf.log
        self._hooks()
        from vkernel.kvm import kvm_dump          # crash dumps, sysctl kern.dumpdev
        if getattr(self.conf, "dumpdir", ""):
            kvm_dump.set_dumpdir(self.conf.dumpdir)
        sched.callout(time.monotonic() + VISITORS_DELAY, _for_visitors)
        self.rootvp = self.mountroot(self)
        self.init = self._start_init()

    def _hooks(self):
        kern_sig.hooks["exit"] = kern_exit.exit1
        kern_sig.hooks["log"] = msgbuf.log
        kern_exit.hooks["halt"] = self._init_exit
        kern_exit.hooks["futex_wake"] = kern_futex.wake_on_exit
        kern_fork.hooks["start"] = self._start_thread
        kern_exec.hooks["log"] = msgbuf.log
        kern_shutdown.shutdown_handler = self.boot_howto
        self._ddb_hooks()

    def _ddb_hooks(self):
        """The debugger's console and CPU; ddb on panics only with a human there."""
        from vkernel.ddb.db_input import DbConsole
        con = DbConsole(self.console.in_fd, self.console.out_fd, self.console)
        kern_shutdown.hooks.update(console=con, cpu=self.cpu, wakeup=self._wakeup)
        kern_shutdown.debugger_on_panic.value = int(con.interactive)

    def _wakeup(self):
        """Make CPU 0 call poll_host_requests soon (signal-handler safe)."""
        if self.cpu is not None:
            self.cpu.pending_work = True
            self.cpu.kick()

    def _start_thread(self, td):
        """A new thread begins life in userret (on the least loaded CPU)."""
        (sched.curcpu or self.cpu).start_thread(td)

    def _start_init(self):
        host = self.cpu.tracer.new_space()
        vdso = self.platform.vdso_range(host)
        kern_exec.hooks["vdso"] = vdso[0] if vdso else 0
        p = Proc(1, None)
        p.p_vmspace = VmSpace(host.space, self.limit, self.platform.reserved_ranges(host))
        p.p_fd = FileDesc()
        p.p_cwd = p.p_root = self.rootvp
        p.p_comm = "init"
        td = Lwp(p, 1, host)
        host.cookie = td
        self.cpu.assign(td)
        p.p_lwps[1] = td
        kern_proc.alllwp[1] = td
        kern_proc.proc_insert(p)
        kern_proc.enterpgrp(p, 1, True)
        p.p_stat = SACTIVE
        self.attach_console(td)
        td.regs = host.get_regs()
        argv, env = self.conf.init_argv()
        for path in [argv[0]] + ([] if self.conf.command else list(INIT_FALLBACKS)):
            try:
                kern_exec.kern_execve(td, path, [path.encode()] + [a.encode() for a in argv[1:]],
                                      [e.encode() for e in env])
                return p
            except KernelError as e:
                msgbuf.log(f"exec of {path} failed: {E.strerror(e.errno)}")
        if self.conf.command:
            raise Halt(127)
        raise Halt(kern_shutdown.EXIT_PANIC if hasattr(kern_shutdown, "EXIT_PANIC") else 70)

    def _init_exit(self, p, xstat):
        if self.conf.command:
            code = (xstat >> 8) & 0xFF if xstat & 0x7F == 0 else 128 + (xstat & 0x7F)
        elif self.conf.single:
            msgbuf.log("single-user shell exited")
            self.boot_howto("halt")
        else:
            msgbuf.log(f"init died (wait status {xstat:#x})")
            code = 1
        raise Halt(code)

    def boot_howto(self, how):
        """boot(9) for reboot(2), ddb's reboot, the end of single user and a
        host SIGTERM with no init to tell; `how` is "halt", "poweroff" or
        "reboot".  Every process is killed, the filesystems are synced and
        unmounted, then the virtual CPU halts (exit 0) or resets (exit 32,
        which the supervisor answers with a fresh boot).  Does not return."""
        self.kill_all()
        self.sync_all()
        msgbuf.log("syncing disks... done")
        self.unmount_all()
        msgbuf.log("Uptime: " + uptime_text(time.monotonic() - self.boot_time))
        if how == "reboot":
            msgbuf.log("Rebooting...")
            msgbuf.log("cpu reset, rebooting vkernel")
            raise Halt(EXIT_REBOOT)
        if how == "halt":
            msgbuf.log("The operating system has halted.")
        msgbuf.log("cpu halt, exiting vkernel")
        raise Halt(0)

    def kill_all(self):
        for p in list(kern_proc.allproc.values()):
            if p.p_stat != SZOMB:
                kern_exit.exit1_quiet(p, S.SIGKILL)

    def sync_all(self):
        mounts = kern_vfs.mounts
        for mnt in (mounts.mounts() if mounts else []):
            sync = getattr(mnt, "sync", None)
            if sync is not None:
                try:
                    sync()
                except Exception as e:            # a sync failure must not stop the halt
                    msgbuf.log(f"sync of {mnt}: {e}")

    def unmount_all(self):
        """vfs_unmountall: every filesystem written back and its disk released,
        the last mounted first, so that a clean halt leaves disk images clean."""
        if self.unmounted:
            return
        mounts, self.unmounted = kern_vfs.mounts, True
        for mnt in reversed(mounts.mounts() if mounts else []):
            try:
                mnt.unmount()
            except Exception as e:            # one failure must not stop the others
                msgbuf.log(f"unmount of {mnt.path}: {e}")

    def request_shutdown(self, why):
        """Host signal handler: only note it; the CPU loop acts at a safe point."""
        self.host_signals.add(why)
        self._wakeup()

    def request_ddb(self, signo, frame):
        """Host SIGQUIT handler: a break-in into ddb at the next safe point."""
        kern_shutdown.kdb_request("interrupt from console", signo, frame)

    def poll_host_requests(self):
        """Called by the CPU loop between traps (never inside kernel code)."""
        reqs, self.host_signals = self.host_signals, set()
        if "SIGWINCH" in reqs:                # the host terminal was resized
            self.console.update_winsize()
        if "SIGTERM" in reqs:
            msgbuf.log("Caught SIGTERM from host system. Shutting down...")
            self._host_shutdown()
        kern_shutdown.kdb_poll()

    def _host_shutdown(self):
        """SIGUSR2 (poweroff) to an init that catches it or waits for it
        blocked (busybox init's sigtimedwait); a -- command gets SIGTERM;
        with no such init (a single-user shell), power off at once."""
        init = kern_proc.pfind(1)
        if self.conf.command:
            kern_sig.psignal(init, S.SIGTERM)
        elif init is not None and init.p_stat != SZOMB and _takes_signal(init, S.SIGUSR2):
            kern_sig.psignal(init, S.SIGUSR2)
        else:
            self.boot_howto("poweroff")

    # -- running ---------------------------------------------------------------------------
    def run(self):
        """Boot and run until halt; returns the vkernel's exit status."""
        try:
            with mp_lock:
                self.boot()
                self.cpu.userret(self.init.main_lwp())
            self.start_aps()
            self.cpu.go_user()
            self.stop_aps()
            if self._ap_exit is not None:
                raise self._ap_exit
            self.unmount_all()
            return 0
        except Halt as h:
            self.stop_aps()
            if h.status not in (EXIT_PANIC, EXIT_RESET):    # panics leave disks unclean
                self.unmount_all()
            return h.status
        except Exception as exc:
            self.stop_aps()
            return self.panic_exit(exc)
        finally:
            self.shutdown()

    # -- the other CPUs (DragonFly's APs: application processors) ---------------------------
    def start_aps(self):
        """Start CPUs 1..N-1, each on its own host thread, and the balancer."""
        if len(self.cpus) > 1:
            self._balance()
        for cpu in self.cpus[1:]:
            cpu.thread = spawn_thread(self._ap_main, f"cpu{cpu.cpuid}", cpu)

    def _balance(self):
        """A callout every BALANCE_PERIOD: even out the CPUs' loads."""
        balance_cpus()
        sched.callout(time.monotonic() + BALANCE_PERIOD, self._balance)

    def _ap_main(self, cpu):
        try:
            cpu.tracer.start()
            cpu.go_user()
        except BaseException as exc:            # Halt, or a bug in the CPU loop itself
            if self._ap_exit is None:
                self._ap_exit = exc
            for c in self.cpus:
                c.stop()

    def stop_aps(self):
        """Stop the other CPUs and wait for their threads (their guests die
        with them: PTRACE_O_EXITKILL)."""
        for cpu in self.cpus[1:]:
            cpu.stop()
        for cpu in self.cpus[1:]:
            t = getattr(cpu, "thread", None)
            if t is not None and t is not threading.current_thread():
                t.join(5)

    def panic_exit(self, exc):
        """A Python exception escaped the CPU loop itself (not the work for a
        thread, which trap.py catches): a fatal trap that cannot be resumed;
        ddb, then the reboot.  If reporting it fails too, the raw tracebacks."""
        cpu = sched.curcpu or self.cpu
        td = cpu.curthread if cpu else None
        try:
            kern_shutdown.trap_fatal(exc, td, resumable=False)
        except Halt as h:
            return h.status
        except Exception:
            text = "".join(traceback.format_exception(exc)) + traceback.format_exc()
            cur = f"{td.lwp_proc.p_pid} ({td.lwp_proc.p_comm})" if td else "none"
            os.write(2, f"\npanic: kernel exception\ncurrent process = {cur}\n{text}".encode())
        return EXIT_PANIC

    def shutdown(self):
        """Kill every guest and restore the host terminal."""
        for p in list(kern_proc.allproc.values()):
            vm = p.p_vmspace
            if p.p_stat != SZOMB and vm is not None and vm.space.memfd >= 0:
                try:
                    vm.space.kill()
                except Exception:
                    pass
        self.console.restore()
