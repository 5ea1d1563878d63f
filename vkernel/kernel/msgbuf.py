"""The kernel message buffer (BSD subr_prf.c / msgbuf): log(), dmesg, syslog(2).

Every kernel message goes to the console and into a bounded ring that the
guest's dmesg reads through syslog(2).
"""
import collections
import time

MSGBUF_SIZE = 64 * 1024
_ring = collections.deque()
_size = 0
_t0 = time.monotonic()
console_write = None      # set at boot: writes bytes to the console


def log(msg, console=True):
    """printf(9): a kernel message line."""
    global _size
    line = f"[{time.monotonic() - _t0:12.6f}] {msg}\n"
    _ring.append(line)
    _size += len(line)
    while _size > MSGBUF_SIZE and _ring:
        _size -= len(_ring.popleft())
    if console and console_write is not None:
        console_write((msg + "\n").encode("utf-8", "replace"))


def contents():
    return "".join(_ring)


def clear():
    global _size
    _ring.clear()
    _size = 0
