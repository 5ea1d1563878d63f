"""Socket ABI: address families, socket types, options, MSG_* flags, control
messages and the msghdr/cmsghdr/iovec/sockaddr layouts.

Linux counterparts: include/linux/socket.h (AF_*, MSG_*, SOL_*, SCM_*,
struct user_msghdr, struct cmsghdr and CMSG_* arithmetic; mirrored by glibc
<bits/socket.h>), include/linux/net.h (SOCK_*, SHUT_*),
include/uapi/asm-generic/socket.h (SOL_SOCKET, SO_*; x86-64 uses it as is),
include/uapi/linux/un.h (sockaddr_un), include/uapi/linux/in.h and in6.h
(sockaddr_in/in6, IPPROTO_*), include/uapi/linux/tcp.h (TCP_*),
include/uapi/linux/uio.h (struct iovec, UIO_MAXIOV).  Data only.
"""
from ._layout import Layout

AF_UNSPEC = 0
AF_UNIX = 1
AF_LOCAL = AF_UNIX
AF_INET = 2
AF_INET6 = 10
AF_NETLINK = 16
AF_PACKET = 17
AF_MAX = 46
PF_UNSPEC = AF_UNSPEC
PF_UNIX = AF_UNIX
PF_LOCAL = AF_LOCAL
PF_INET = AF_INET
PF_INET6 = AF_INET6
PF_NETLINK = AF_NETLINK
PF_PACKET = AF_PACKET

SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOCK_RDM = 4
SOCK_SEQPACKET = 5
SOCK_DCCP = 6
SOCK_PACKET = 10
SOCK_MAX = 11              # types are below this (net.h)
SOCK_TYPE_MASK = 0xF
SOCK_CLOEXEC = 0o2000000
SOCK_NONBLOCK = 0o4000

SHUT_RD = 0
SHUT_WR = 1
SHUT_RDWR = 2

SOMAXCONN = 4096

SOL_IP = 0
SOL_SOCKET = 1
SOL_TCP = 6
SOL_UDP = 17
SOL_IPV6 = 41
SOL_RAW = 255
SOL_PACKET = 263
SOL_NETLINK = 270

IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_IPV6 = 41
IPPROTO_ICMPV6 = 58
IPPROTO_RAW = 255

TCP_NODELAY = 1
TCP_MAXSEG = 2
TCP_CORK = 3
TCP_KEEPIDLE = 4
TCP_KEEPINTVL = 5
TCP_KEEPCNT = 6
TCP_INFO = 11

# SOL_SOCKET options (asm-generic/socket.h; x86-64 time_t is 64-bit so the
# SO_*TIMEO / SO_TIMESTAMP* names are the *_OLD values).
SO_DEBUG = 1
SO_REUSEADDR = 2
SO_TYPE = 3
SO_ERROR = 4
SO_DONTROUTE = 5
SO_BROADCAST = 6
SO_SNDBUF = 7
SO_RCVBUF = 8
SO_KEEPALIVE = 9
SO_OOBINLINE = 10
SO_NO_CHECK = 11
SO_PRIORITY = 12
SO_LINGER = 13
SO_BSDCOMPAT = 14
SO_REUSEPORT = 15
SO_PASSCRED = 16
SO_PEERCRED = 17
SO_RCVLOWAT = 18
SO_SNDLOWAT = 19
SO_RCVTIMEO_OLD = 20
SO_SNDTIMEO_OLD = 21
SO_RCVTIMEO = SO_RCVTIMEO_OLD
SO_SNDTIMEO = SO_SNDTIMEO_OLD
SO_BINDTODEVICE = 25
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SO_PEERNAME = 28
SO_TIMESTAMP_OLD = 29
SO_TIMESTAMP = SO_TIMESTAMP_OLD
SO_ACCEPTCONN = 30
SO_PEERSEC = 31
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
SO_PASSSEC = 34
SO_TIMESTAMPNS_OLD = 35
SO_TIMESTAMPNS = SO_TIMESTAMPNS_OLD
SO_MARK = 36
SO_TIMESTAMPING_OLD = 37
SO_TIMESTAMPING = SO_TIMESTAMPING_OLD
SO_PROTOCOL = 38
SO_DOMAIN = 39
SO_RXQ_OVFL = 40
SO_PEEK_OFF = 42
SO_BUSY_POLL = 46
SO_INCOMING_CPU = 49
SO_ATTACH_BPF = 50
SO_COOKIE = 57
SO_PEERGROUPS = 59
SO_ZEROCOPY = 60
SO_BINDTOIFINDEX = 62
SO_RCVTIMEO_NEW = 66
SO_SNDTIMEO_NEW = 67

# send/recv flags.
MSG_OOB = 0x1
MSG_PEEK = 0x2
MSG_DONTROUTE = 0x4
MSG_TRYHARD = MSG_DONTROUTE
MSG_CTRUNC = 0x8
MSG_PROBE = 0x10
MSG_PROXY = MSG_PROBE
MSG_TRUNC = 0x20
MSG_DONTWAIT = 0x40
MSG_EOR = 0x80
MSG_WAITALL = 0x100
MSG_FIN = 0x200
MSG_SYN = 0x400
MSG_CONFIRM = 0x800
MSG_RST = 0x1000
MSG_ERRQUEUE = 0x2000
MSG_NOSIGNAL = 0x4000
MSG_MORE = 0x8000
MSG_WAITFORONE = 0x10000
MSG_BATCH = 0x40000
MSG_ZEROCOPY = 0x4000000
MSG_FASTOPEN = 0x20000000
MSG_CMSG_CLOEXEC = 0x40000000

# Control message types at SOL_SOCKET.
SCM_RIGHTS = 0x01
SCM_CREDENTIALS = 0x02
SCM_SECURITY = 0x03
SCM_TIMESTAMP = SO_TIMESTAMP
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SCM_MAX_FD = 253           # max fds in one SCM_RIGHTS message

UIO_MAXIOV = 1024          # IOV_MAX
UNIX_PATH_MAX = 108

# ----------------------------------------------------------------- layouts

IOVEC = Layout("iovec", [("iov_base", "Q"), ("iov_len", "Q")])
IOVEC_SIZE = IOVEC.size  # 16

MSGHDR = Layout("msghdr", [
    ("msg_name", "Q"), ("msg_namelen", "i"), ("_pad0", "4x"),
    ("msg_iov", "Q"), ("msg_iovlen", "Q"),
    ("msg_control", "Q"), ("msg_controllen", "Q"),
    ("msg_flags", "i"), ("_pad1", "4x"),
])
MSGHDR_SIZE = MSGHDR.size  # 56

MMSGHDR = Layout("mmsghdr", MSGHDR.fields + (("msg_len", "I"), ("_pad2", "4x")))
MMSGHDR_SIZE = MMSGHDR.size  # 64
MMSGHDR_MSG_LEN_OFFSET = MMSGHDR.offsets["msg_len"]

CMSGHDR = Layout("cmsghdr", [("cmsg_len", "Q"), ("cmsg_level", "i"), ("cmsg_type", "i")])
CMSGHDR_SIZE = CMSGHDR.size  # 16
CMSG_ALIGNMENT = 8

UCRED = Layout("ucred", [("pid", "i"), ("uid", "I"), ("gid", "I")])
LINGER = Layout("linger", [("l_onoff", "i"), ("l_linger", "i")])

SOCKADDR_UN = Layout("sockaddr_un", [("sun_family", "H"), ("sun_path", "108s")])
SOCKADDR_UN_PATH_OFFSET = SOCKADDR_UN.offsets["sun_path"]  # 2
# sin_port / sin6_port are network byte order: pack them with int.to_bytes(2, "big").
SOCKADDR_IN = Layout("sockaddr_in", [
    ("sin_family", "H"), ("sin_port", "2s"), ("sin_addr", "4s"), ("_zero", "8x"),
])
SOCKADDR_IN6 = Layout("sockaddr_in6", [
    ("sin6_family", "H"), ("sin6_port", "2s"), ("sin6_flowinfo", "4s"),
    ("sin6_addr", "16s"), ("sin6_scope_id", "I"),
])
SOCKADDR_STORAGE_SIZE = 128


def CMSG_ALIGN(n):  # noqa: N802 - Linux's name
    return (n + CMSG_ALIGNMENT - 1) & ~(CMSG_ALIGNMENT - 1)


def CMSG_LEN(n):  # noqa: N802
    """cmsg_len for a payload of n bytes."""
    return CMSGHDR_SIZE + n


def CMSG_SPACE(n):  # noqa: N802
    """Bytes a control message with an n-byte payload occupies (incl. padding)."""
    return CMSGHDR_SIZE + CMSG_ALIGN(n)


def pack_cmsg(level, type, data):
    """One control message: header + data, padded to CMSG_SPACE(len(data))."""
    head = CMSGHDR.pack(cmsg_len=CMSG_LEN(len(data)), cmsg_level=level, cmsg_type=type)
    return (head + data).ljust(CMSG_SPACE(len(data)), b"\0")


def unpack_msghdr(buf, offset=0):
    """Decode struct msghdr -> namedtuple(msg_name, msg_namelen, msg_iov, ...)."""
    return MSGHDR.unpack(buf, offset)


def unpack_iovecs(buf, count):
    """Decode count struct iovec -> list of (base, len)."""
    return [IOVEC.struct.unpack_from(buf, i * IOVEC_SIZE) for i in range(count)]


def pack_sockaddr_un(path, family=AF_UNIX):
    """sockaddr_un bytes of exactly the used length (2 + len(path)); abstract
    names start with b"\\0".  Add the trailing NUL to path yourself if wanted."""
    return SOCKADDR_UN.struct.pack(family, path)[:SOCKADDR_UN_PATH_OFFSET + len(path)]
