"""FdWatcher: host descriptors (the console) watched for the virtual CPU.

The CPU thread blocks in waitpid(2), not in select(2), so a second thread
selects on the descriptors and wakes the CPU (rings its doorbell) when one
becomes readable.  Part of the ptrace platform.
"""
import os
import select
import threading
import time

from . import spawn_thread


class FdWatcher:
    """Watches host fds (the console) for the virtual CPU from its own thread.

    When one is readable it records it and kicks the CPU, then waits until
    the CPU has taken it (select would report it again meanwhile); it kicks
    again every 10 ms while it waits.
    """

    def __init__(self, kick):
        self.kick = kick
        self.lock = threading.Lock()
        self.fds = ()
        self.ready = []
        self.taken = threading.Event()
        self.ack = False
        self.ctl_r, self.ctl_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.thread = None

    def take(self, fds):
        """The fds found ready since the last call (and tell the watcher)."""
        fds = tuple(fds)
        if fds != self.fds:
            self.fds = fds
            self._poke()
        if self.thread is None and fds:
            self.thread = spawn_thread(self._run, "fdwatch")
        if self.ack:                 # the handlers of the last report have run
            self.ack = False
            self.taken.set()
        if not self.ready:
            return []
        with self.lock:
            ready, self.ready = self.ready, []
        self.ack = True
        return [fd for fd in ready if fd in fds]

    def _poke(self):
        try:
            os.write(self.ctl_w, b"x")
        except BlockingIOError:
            pass

    def _run(self):
        while True:
            try:
                r, _, _ = select.select([self.ctl_r, *self.fds], [], [])
            except (OSError, ValueError):
                time.sleep(0.01)
                continue
            if self.ctl_r in r:
                try:
                    os.read(self.ctl_r, 4096)
                except BlockingIOError:
                    pass
            r = [fd for fd in r if fd != self.ctl_r]
            if r:
                self._report(r)

    def _report(self, r):
        with self.lock:
            self.ready = r
        self.taken.clear()
        while not self.taken.is_set():
            self.kick()
            self.taken.wait(0.01)

