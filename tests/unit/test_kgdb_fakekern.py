"""A tiny "kernel" for test_kgdb_stub.py: a CPU loop named go_user that calls
kgdb_poll() under its lock, and kernel functions to break in and step
through.  The line numbers matter to the tests: keep the layout."""
import threading

from vkernel.debug import kgdb_poll


def leaf(x):
    """Double x + 1."""
    y = x + 1
    return y * 2


def middle(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


class FakeCpu:
    """A virtual CPU: a host thread that runs `work` when asked."""

    def __init__(self, cpuid=0):
        self.cpuid = cpuid
        self.lock = threading.RLock()
        self.bell = threading.Event()
        self.running = True
        self.todo = []
        self.results = []
        self.curthread = None
        self.thread = threading.Thread(target=self.go_user, name=f"cpu{cpuid}", daemon=True)

    def kick(self):
        self.bell.set()

    def go_user(self):
        while self.running:
            self.bell.wait(0.05)
            self.bell.clear()
            with self.lock:
                kgdb_poll()
                while self.todo:
                    self.results.append(middle(self.todo.pop(0)))

    def run(self, n):
        self.todo.append(n)
        self.kick()
