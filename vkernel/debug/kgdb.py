"""vkernel gdb: attach a debugger to a running vkernel's kernel (the seed's
`gdb kernel PID`; DragonFly's kgdb(1) names the prompt).

    python3 -m vkernel gdb [PID]

PID is the kernel process (the supervisor's child, as `vkernel ps`
reports it); without it, the one vkernel kernel of this user that runs.
The client connects to the kernel's stub (gdb_main.py) over
`<rundir>/kgdb.<PID>`, prints `Attaching to vkernel, process PID`, and
then is a `(kgdb) ` prompt: lines are edited with prompt_toolkit on a
terminal and read plainly otherwise; the stub runs them.  While the
kernel runs after continue/step/next/finish, ^C interrupts it; at the
prompt ^C cancels the line and ^D is quit (detach: the kernel runs on).
Exit status 0 after a detach, 1 if the kernel could not be reached or
went away, 64 for a usage error.
"""
import os
import queue
import signal
import socket
import sys
import threading

from . import gdb_packet

PROMPT = "(kgdb) "
USAGE = "usage: vkernel gdb [PID]\n"


class KgdbError(Exception):
    pass


# -- finding the kernel ------------------------------------------------------------------------
def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def live_kernels():
    """The pids of this user's kernels that have a debugger socket."""
    d = os.path.dirname(gdb_packet.socket_path(0))
    try:
        names = os.listdir(d)
    except OSError:
        return []
    pids = [int(n[len(gdb_packet.PREFIX):]) for n in names
            if n.startswith(gdb_packet.PREFIX) and n[len(gdb_packet.PREFIX):].isdigit()]
    return sorted(p for p in pids if _is_vkernel(p))


def _is_vkernel(pid):
    """Is pid alive and a vkernel (not a recycled pid behind a stale socket)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"vkernel" in f.read()
    except OSError:
        return False


def find_kernel(pid=None):
    """The kernel pid to attach to, or KgdbError saying why not."""
    kernels = live_kernels()
    where = os.path.dirname(gdb_packet.socket_path(0))
    if pid is None:
        if not kernels:
            raise KgdbError(f"no running vkernel (no debugger socket in {where})")
        if len(kernels) > 1:
            raise KgdbError("several vkernels are running (kernel processes "
                            f"{', '.join(map(str, kernels))}): vkernel gdb PID")
        return kernels[0]
    if pid in kernels:
        return pid
    if not os.path.exists(f"/proc/{pid}"):
        raise KgdbError(f"process {pid}: No such process")
    kids = [k for k in kernels if _ppid(k) == pid]
    if kids:
        raise KgdbError(f"process {pid} is a vkernel supervisor; its kernel is process "
                        f"{kids[0]}: vkernel gdb {kids[0]}")
    raise KgdbError(f"process {pid} is not a running vkernel kernel "
                    f"(no {gdb_packet.socket_path(pid)})")


def connect(pid):
    path = gdb_packet.socket_path(pid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise KgdbError(f"cannot attach to vkernel process {pid}: {path}: "
                        f"{e.strerror or e}") from None
    return s


def gone_text(pid):
    """What to say when the stub's socket closes without a detach."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            alive = f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        alive = False
    if alive:
        return f"\nkgdb: lost the connection to vkernel process {pid}\n"
    return f"\n[Inferior 1 (process {pid}) exited]\n"


# -- the session -------------------------------------------------------------------------------
class Client:
    """The prompt on this side, the stub's output printed as it comes.

    A reader thread takes the stub's messages; the main thread prints them
    in order while it waits for `ready`.  Only a notice that comes while
    the prompt is up (a breakpoint hit while the kernel ran) is printed by
    the reader thread, above the prompt."""

    def __init__(self, sock, pid, interactive=None):
        self.sock = sock
        self.pid = pid
        self.reader = gdb_packet.PacketReader(sock)
        self.msgs = queue.Queue()
        self.lock = threading.Lock()
        self.closed = self.bye = False
        self.at_prompt = False
        if interactive is None:
            interactive = sys.stdin.isatty() and sys.stdout.isatty()
        self.interactive = interactive
        self.echo = not sys.stdin.isatty()
        self.stdout = sys.stdout
        self.session = None

    def write(self, text):
        self.stdout.write(text)
        self.stdout.flush()

    def receive(self):
        """The reader thread."""
        while True:
            msg = self.reader.read()
            with self.lock:
                if msg is None and self.at_prompt:
                    return self.gone_at_prompt()
                if msg is not None and "notice" in msg and self.at_prompt:
                    self.notice_at_prompt(msg["notice"])
                else:
                    self.msgs.put(msg)
            if msg is None:
                return

    def gone_at_prompt(self):
        """The kernel went away while the prompt was up: say so and leave."""
        self.closed = True
        if self.interactive and self.session is not None and self.session.app.is_running:
            print(gone_text(self.pid), end="", flush=True)
            app = self.session.app
            app.loop.call_soon_threadsafe(lambda: app.exit(exception=EOFError()))
            return
        self.write(gone_text(self.pid))
        os._exit(1)                   # the main thread sits in a plain read of stdin

    def notice_at_prompt(self, text):
        if self.interactive:
            print("\n" + text, end="", flush=True)     # patch_stdout: above the prompt
        else:
            self.write("\n" + text + PROMPT)

    def wait_ready(self):
        """Print the stub's messages until it is ready for a command; ^C
        meanwhile interrupts the kernel."""
        while True:
            try:
                msg = self.msgs.get(timeout=0.2)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                gdb_packet.send(self.sock, interrupt=True)
                continue
            if msg is None:
                if not self.bye:
                    self.write(gone_text(self.pid))
                self.closed = True
                return
            self.write(msg.get("out", "") + msg.get("notice", ""))
            if msg.get("bye"):
                self.bye = self.closed = True
                return
            if msg.get("ready"):
                return

    def readline(self):
        """A command line, or None at EOF."""
        with self.lock:
            while not self.msgs.empty():          # notices that came in between
                msg = self.msgs.get()
                if msg is None:
                    self.closed = True
                    self.write(gone_text(self.pid))
                    return None
                self.write(msg.get("notice", "") + msg.get("out", ""))
            self.at_prompt = True
        try:
            if self.interactive:
                line = self._pt_readline()
                if line is not False:
                    return line
            self.write(PROMPT)
            line = sys.stdin.readline()
            if line and self.echo:
                self.write(line)
            return line.rstrip("\n") if line else None
        finally:
            with self.lock:
                self.at_prompt = False

    def _pt_readline(self):
        try:
            from prompt_toolkit import PromptSession
            if self.session is None:
                self.session = PromptSession()
            while True:
                try:
                    return self.session.prompt(PROMPT)
                except KeyboardInterrupt:
                    self.write("Quit\n")
        except EOFError:
            return None
        except Exception:                        # no usable terminal after all
            self.interactive = False
            return False

    def run(self):
        threading.Thread(target=self.receive, name="kgdb-receive", daemon=True).start()
        if self.interactive:
            try:
                from prompt_toolkit.patch_stdout import patch_stdout
            except ImportError:
                self.interactive = False
            else:
                with patch_stdout(raw=True):
                    return self.loop()
        return self.loop()

    def loop(self):
        self.wait_ready()
        while not self.closed:
            line = self.readline()
            if self.closed:
                break
            if line is None:
                self.write("quit\n")
                line = "quit"
            if not gdb_packet.send(self.sock, cmd=line):
                break
            self.wait_ready()
        return 0 if self.bye else 1


def main(argv):
    if argv[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    if len(argv) > 1 or (argv and not argv[0].isdigit()):
        sys.stderr.write(USAGE)
        return 64
    try:
        pid = find_kernel(int(argv[0]) if argv else None)
        sock = connect(pid)
    except KgdbError as e:
        print(f"vkernel gdb: {e}", file=sys.stderr)
        return 1
    print(f"Attaching to vkernel, process {pid}", flush=True)
    # ^C interrupts the kernel even when we were started with SIGINT ignored
    # (a background job of a non-interactive shell, nohup): as gdb does
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return Client(sock, pid).run()
