"""The wire between `vkernel gdb` and the kernel's debugger stub (FreeBSD
sys/gdb/gdb_packet.c; ours is not gdb's remote protocol: the stub runs
the commands, the client only edits lines and prints).

A unix stream socket, `<rundir>/kgdb.<kernel pid>` (rundir as for the
namelist: $VKERNEL_RUNDIR or /tmp/vkernel-<uid>, a 0700 directory; the
socket is 0600 and the stub also checks the peer's uid).  Each message
is one line of JSON, an object with one of these keys:

    client -> stub   {"cmd": "break sys_ktrace"}   a command line
                     {"interrupt": true}           ^C: stop the running kernel
    stub -> client   {"out": "text"}               output of the last command
                     {"notice": "text"}            something happened while the
                                                   prompt was up (a breakpoint hit)
                     {"ready": true}               show the prompt: the stub waits
                                                   for a command
                     {"bye": true}                 detached; the stub closes

After a command that resumes the kernel (continue, step, next, finish)
`ready` comes only when the kernel stops again.
"""
import json
import os

PREFIX = "kgdb."
MAXLINE = 1 << 20


def socket_path(pid):
    from vkernel.kvm.kvm_nlist import rundir
    return os.path.join(rundir(), f"{PREFIX}{pid}")


def encode(**msg):
    return (json.dumps(msg) + "\n").encode()


def send(sock, **msg):
    """Send one message; False if the peer is gone."""
    try:
        sock.sendall(encode(**msg))
        return True
    except OSError:
        return False


class PacketReader:
    """Splits a socket's bytes into messages."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def fill(self):
        """Read what is there (one recv); False at EOF or on error."""
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        if len(self.buf) > MAXLINE and b"\n" not in self.buf:
            self.eof = True                # garbage: drop the peer
            return False
        return True

    def pop(self):
        """The next complete message, or None."""
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if isinstance(msg, dict):
                return msg
        return None

    def read(self):
        """Block for the next message; None at EOF."""
        while True:
            msg = self.pop()
            if msg is not None:
                return msg
            if self.eof or not self.fill():
                return None
