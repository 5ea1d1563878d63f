"""The kernel's debugger stub (FreeBSD sys/gdb/gdb_main.c): what `vkernel
gdb` talks to.

`kgdb_start()`, called once at boot, listens on the unix socket
`<rundir>/kgdb.<kernel pid>` (gdb_packet.py) from a host thread of its own
(started with platform.spawn_thread, so it never takes the kernel's host
signals).  One client at a time: a second is told the kernel is already
being debugged.  Each client gets a Session thread, which

  * runs the client's command lines (gdb_command.KgdbCmd): on the stopped
    CPU's thread while the kernel is stopped (gdb_trace.Stop.call), on its
    own thread while the kernel runs;
  * reports stops: after continue/step/next/finish the prompt comes back
    with the stop; a breakpoint hit while the prompt is up is a notice;
  * interrupts the kernel on ^C or `interrupt` (every CPU stops at the top
    of its loop; if none does within INTERRUPT_WAIT seconds, as when a CPU
    sits in ddb holding mp_lock, the client is told and the kernel runs on);
  * ends with detach, quit, EOF or any error: the breakpoints are removed
    and a stopped kernel continues (gdb_trace.KgdbState.detach).

Nothing here raises into the kernel: a failure ends the session, which
detaches.
"""
import os
import select
import socket
import stat
import struct
import sys
import time

from . import gdb_packet
from .gdb_command import KgdbCmd
from .gdb_trace import state

INTERRUPT_WAIT = 3.0


def kgdb_start(path=None):
    """Start the stub; returns the socket's path, or None (the reason goes
    to the host's stderr; the boot goes on without a debugger)."""
    try:
        from vkernel.kvm.kvm_nlist import prepare_dir
        from vkernel.platform import spawn_thread
        path = os.path.abspath(path or gdb_packet.socket_path(os.getpid()))
        prepare_dir(os.path.dirname(path))
        remove_stale(os.path.dirname(path))
        lsock = listen(path)
        spawn_thread(_accept_loop, "kgdb", lsock)
    except Exception as e:                    # the kernel boots without a debugger
        print(f"vkernel: cannot start the debugger stub {path}: {e}", file=sys.stderr)
        return None
    return path


def listen(path):
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o600)
    s.listen(4)
    return s


def remove_stale(d):
    """Remove the sockets of kernels that are gone."""
    try:
        names = os.listdir(d)
    except OSError:
        return
    for name in names:
        pid = name[len(gdb_packet.PREFIX):]
        if name.startswith(gdb_packet.PREFIX) and pid.isdigit() \
                and int(pid) != os.getpid() and not os.path.exists(f"/proc/{pid}"):
            try:
                os.unlink(os.path.join(d, name))
            except OSError:
                pass


def peer_uid(conn):
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _accept_loop(lsock):
    from vkernel.platform import spawn_thread
    while True:
        try:
            conn, _ = lsock.accept()
        except OSError:
            time.sleep(0.5)
            continue
        try:
            if peer_uid(conn) not in (os.getuid(), 0):
                conn.close()
                continue
        except OSError:
            conn.close()
            continue
        spawn_thread(_session_main, "kgdb-session", conn)


def _session_main(conn):
    s = Session(conn)
    with state.lock:
        busy = state.session is not None and state.session.alive
        if not busy:
            state.session = s
    if busy:
        s.send(out=f"kgdb: vkernel process {os.getpid()} is already being debugged\n")
        s.send(bye=True)
        s.close()
        return
    try:
        s.run()
    except BaseException as e:               # a debugger bug ends the session, not the kernel
        s.send(out=f"kgdb: internal error in the stub: {type(e).__name__}: {e}\n")
    finally:
        s.alive = False
        state.detach(s)
        s.close()


class Session:
    """One attached client."""

    def __init__(self, conn):
        self.conn = conn
        self.reader = gdb_packet.PacketReader(conn)
        self.alive = True
        self.cmd = KgdbCmd(os.getpid(), state)
        self.bell_r, self.bell_w = os.pipe()
        os.set_blocking(self.bell_w, False)
        os.set_blocking(self.bell_r, False)
        self.waiting = False                  # the client waits for a stop (no prompt)
        self.interrupt_deadline = None
        self.notices = []

    # -- from the CPUs ------------------------------------------------------------------
    def notify(self):
        """A CPU stopped (any thread; never blocks)."""
        try:
            os.write(self.bell_w, b"!")
        except OSError:
            pass

    def report(self, text):
        """A notice from a CPU (a tracer's error, a breakpoint it cannot stop at)."""
        self.notices.append(text)
        self.notify()

    # -- the wire ---------------------------------------------------------------------------
    def send(self, **msg):
        if not gdb_packet.send(self.conn, **msg):
            self.alive = False

    def close(self):
        for fd in (self.bell_r, self.bell_w):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.conn.close()
        except OSError:
            pass

    def greeting(self):
        n = len(self.cmd.threads())
        return (f"[vkernel process {os.getpid()}: {n} virtual CPU{'s' if n != 1 else ''}, "
                f"running; ^C or `interrupt` stops it]\n")

    # -- the loop -----------------------------------------------------------------------------
    def run(self):
        self.send(out=self.greeting())
        self.send(ready=True)
        while self.alive:
            timeout = None
            if self.interrupt_deadline is not None:
                timeout = max(0.0, self.interrupt_deadline - time.monotonic())
            r = select.select([self.conn, self.bell_r], [], [], timeout)[0]
            if self.bell_r in r:
                self._drain()
            self.check_notices()
            self.check_stop()
            if self.conn in r:
                if not self.reader.fill():
                    break
                self.handle_all()
            self.check_interrupt()

    def _drain(self):
        try:
            while os.read(self.bell_r, 512):
                pass
        except OSError:
            pass

    def handle_all(self):
        while self.alive:
            msg = self.reader.pop()
            if msg is None:
                return
            self.check_stop()
            self.handle(msg)

    def handle(self, msg):
        if msg.get("interrupt"):
            return self.interrupt()
        line = msg.get("cmd")
        if not isinstance(line, str):
            return
        if self.cmd.is_control(line):
            return self.control(line)
        if self.waiting:
            return self.send(out="The kernel is running; ^C (interrupt) stops it.\n")
        stop = self.cmd.stop
        if stop is not None:
            text, action = stop.call(self.cmd, line)
        else:
            text = self.cmd.onecmd(line)
            action, self.cmd.resume = self.cmd.resume, None
        if text:
            self.send(out=text)
        if action is None:
            return self.send(ready=True)
        if action[0] == "detach":
            return self.detach()
        self.cmd.resumed()
        self.waiting = True

    def control(self, line):
        self.cmd.onecmd(line)
        what, self.cmd.control = self.cmd.control, None
        if what == "interrupt":
            return self.interrupt()
        self.detach()

    def detach(self):
        pid = os.getpid()
        self.send(out=f"Detaching from vkernel, process {pid}\n"
                      f"[Inferior 1 (process {pid}) detached]\n")
        self.send(bye=True)
        self.alive = False

    # -- stops -----------------------------------------------------------------------------
    def check_stop(self):
        stop = state.stop
        if stop is None or stop.reported or stop.session is not self:
            return
        stop.reported = True
        self.interrupt_deadline = None
        text = self.cmd.stop_report(stop)
        if self.waiting:
            self.waiting = False
            self.send(out=text)
            self.send(ready=True)
        else:
            self.send(notice=text)

    def check_notices(self):
        while self.notices:
            self.send(notice=self.notices.pop(0) + "\n")

    def interrupt(self):
        if self.cmd.stop is not None:
            self.send(out="The kernel is already stopped.\n")
            if not self.waiting:
                self.send(ready=True)
            return
        state.request_interrupt()
        self.interrupt_deadline = time.monotonic() + INTERRUPT_WAIT
        self.waiting = True

    def check_interrupt(self):
        if self.interrupt_deadline is None or time.monotonic() < self.interrupt_deadline:
            return
        self.interrupt_deadline = None
        state.take_interrupt()
        if state.stop is None:
            self.send(out=f"kgdb: the kernel did not stop within {INTERRUPT_WAIT:g} seconds "
                          "(no CPU came back to its loop: one may be in ddb); it runs on.\n")
            self.waiting = False
            self.send(ready=True)
