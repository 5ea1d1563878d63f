"""epoll(7) constants and struct epoll_event (packed, 12 bytes, on x86-64).

Linux counterpart: include/uapi/linux/eventpoll.h (EPOLL_PACKED applies on
x86-64, so epoll_event has no padding between events and data).  Data only.
"""
from ._layout import Layout

EPOLL_CLOEXEC = 0o2000000
EPOLL_CTL_ADD = 1
EPOLL_CTL_DEL = 2
EPOLL_CTL_MOD = 3

EPOLLIN = 0x00000001
EPOLLPRI = 0x00000002
EPOLLOUT = 0x00000004
EPOLLERR = 0x00000008
EPOLLHUP = 0x00000010
EPOLLNVAL = 0x00000020
EPOLLRDNORM = 0x00000040
EPOLLRDBAND = 0x00000080
EPOLLWRNORM = 0x00000100
EPOLLWRBAND = 0x00000200
EPOLLMSG = 0x00000400
EPOLLRDHUP = 0x00002000
EPOLL_URING_WAKE = 1 << 27
EPOLLEXCLUSIVE = 1 << 28
EPOLLWAKEUP = 1 << 29
EPOLLONESHOT = 1 << 30
EPOLLET = 1 << 31
# Input-only flags (not events): EPOLL_CTL_MOD may not set EPOLLEXCLUSIVE.
EPOLL_INPUT_FLAGS = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET

EPOLL_EVENT = Layout("epoll_event", [("events", "I"), ("data", "Q")])
EPOLL_EVENT_SIZE = EPOLL_EVENT.size  # 12
EP_MAX_EVENTS = 0x7FFFFFFF // EPOLL_EVENT_SIZE  # INT_MAX / sizeof(epoll_event)


def pack_epoll_event(events, data):
    return EPOLL_EVENT.struct.pack(events, data)


def unpack_epoll_event(buf, offset=0):
    """-> (events, data)."""
    return EPOLL_EVENT.struct.unpack_from(buf, offset)
