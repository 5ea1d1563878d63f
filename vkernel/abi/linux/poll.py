"""poll(2)/ppoll(2) event bits and struct pollfd.

Linux counterparts: include/uapi/asm-generic/poll.h (x86-64's asm/poll.h is
just this) and include/uapi/linux/poll.h.  Data only.
"""
from ._layout import Layout

POLLIN = 0x0001
POLLPRI = 0x0002
POLLOUT = 0x0004
POLLERR = 0x0008
POLLHUP = 0x0010
POLLNVAL = 0x0020
POLLRDNORM = 0x0040
POLLRDBAND = 0x0080
POLLWRNORM = 0x0100
POLLWRBAND = 0x0200
POLLMSG = 0x0400
POLLREMOVE = 0x1000
POLLRDHUP = 0x2000

# Always reported, whether requested or not.
POLL_ALWAYS = POLLERR | POLLHUP | POLLNVAL

POLLFD = Layout("pollfd", [("fd", "i"), ("events", "h"), ("revents", "h")])
POLLFD_SIZE = POLLFD.size  # 8


def unpack_pollfds(buf, count):
    """Decode count struct pollfd -> list of (fd, events, revents)."""
    return [POLLFD.struct.unpack_from(buf, i * POLLFD_SIZE) for i in range(count)]


def pack_pollfd(fd, events, revents=0):
    return POLLFD.struct.pack(fd, events, revents)
