"""Linux x86-64 open(2) flags, *at() flags, fcntl(2) commands, locks and seeks.

Linux counterparts: include/uapi/asm-generic/fcntl.h (O_*, F_*, LOCK_*,
struct flock; x86-64's asm/fcntl.h adds nothing), include/uapi/linux/fcntl.h
(AT_*, F_SETPIPE_SZ & other F_LINUX_SPECIFIC_BASE commands, seals),
include/uapi/linux/fs.h (SEEK_*, RENAME_*), include/uapi/linux/openat2.h
(RESOLVE_*, struct open_how), and <unistd.h> (F_OK/R_OK/W_OK/X_OK).
O_* values are the kernel's: note O_LARGEFILE is 0o100000 here, while
glibc's x86-64 headers define it as 0.  Data only.
"""
from ._layout import Layout

O_ACCMODE = 0o3
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_NDELAY = O_NONBLOCK
O_DSYNC = 0o10000
FASYNC = 0o20000
O_ASYNC = FASYNC
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
__O_SYNC = 0o4000000
O_SYNC = __O_SYNC | O_DSYNC
O_RSYNC = O_SYNC
O_PATH = 0o10000000
__O_TMPFILE = 0o20000000
O_TMPFILE = __O_TMPFILE | O_DIRECTORY
O_TMPFILE_MASK = __O_TMPFILE | O_DIRECTORY | O_CREAT
# Flags F_SETFL may change (fs/fcntl.c SETFL_MASK).
SETFL_MASK = O_APPEND | O_NONBLOCK | O_NDELAY | FASYNC | O_DIRECT | O_NOATIME
# Flags only meaningful at open time, never reported by F_GETFL.
O_OPEN_ONLY = O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC

O_FLAG_NAMES = {
    O_WRONLY: "O_WRONLY", O_RDWR: "O_RDWR", O_CREAT: "O_CREAT", O_EXCL: "O_EXCL",
    O_NOCTTY: "O_NOCTTY", O_TRUNC: "O_TRUNC", O_APPEND: "O_APPEND",
    O_NONBLOCK: "O_NONBLOCK", O_DSYNC: "O_DSYNC", FASYNC: "O_ASYNC",
    O_DIRECT: "O_DIRECT", O_LARGEFILE: "O_LARGEFILE", O_DIRECTORY: "O_DIRECTORY",
    O_NOFOLLOW: "O_NOFOLLOW", O_NOATIME: "O_NOATIME", O_CLOEXEC: "O_CLOEXEC",
    __O_SYNC: "O_SYNC", O_PATH: "O_PATH", __O_TMPFILE: "O_TMPFILE",
}

# *at() (linux/fcntl.h).
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EACCESS = 0x200
AT_REMOVEDIR = 0x200
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_SYNC_TYPE = 0x6000
AT_STATX_SYNC_AS_STAT = 0x0000
AT_STATX_FORCE_SYNC = 0x2000
AT_STATX_DONT_SYNC = 0x4000
AT_RECURSIVE = 0x8000

# openat2(2) (linux/openat2.h).
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20
OPEN_HOW = Layout("open_how", [("flags", "Q"), ("mode", "Q"), ("resolve", "Q")])
OPEN_HOW_SIZE_VER0 = 24

# fcntl(2) commands.
F_DUPFD = 0
F_GETFD = 1
F_SETFD = 2
F_GETFL = 3
F_SETFL = 4
F_GETLK = 5
F_SETLK = 6
F_SETLKW = 7
F_SETOWN = 8
F_GETOWN = 9
F_SETSIG = 10
F_GETSIG = 11
F_SETOWN_EX = 15
F_GETOWN_EX = 16
F_GETOWNER_UIDS = 17
F_OFD_GETLK = 36
F_OFD_SETLK = 37
F_OFD_SETLKW = 38
F_LINUX_SPECIFIC_BASE = 1024
F_SETLEASE = F_LINUX_SPECIFIC_BASE + 0
F_GETLEASE = F_LINUX_SPECIFIC_BASE + 1
F_NOTIFY = F_LINUX_SPECIFIC_BASE + 2
F_CANCELLK = F_LINUX_SPECIFIC_BASE + 5
F_DUPFD_CLOEXEC = F_LINUX_SPECIFIC_BASE + 6
F_SETPIPE_SZ = F_LINUX_SPECIFIC_BASE + 7
F_GETPIPE_SZ = F_LINUX_SPECIFIC_BASE + 8
F_ADD_SEALS = F_LINUX_SPECIFIC_BASE + 9
F_GET_SEALS = F_LINUX_SPECIFIC_BASE + 10
F_GET_RW_HINT = F_LINUX_SPECIFIC_BASE + 11
F_SET_RW_HINT = F_LINUX_SPECIFIC_BASE + 12
F_GET_FILE_RW_HINT = F_LINUX_SPECIFIC_BASE + 13
F_SET_FILE_RW_HINT = F_LINUX_SPECIFIC_BASE + 14

F_CMD_NAMES = {
    F_DUPFD: "F_DUPFD", F_GETFD: "F_GETFD", F_SETFD: "F_SETFD",
    F_GETFL: "F_GETFL", F_SETFL: "F_SETFL", F_GETLK: "F_GETLK",
    F_SETLK: "F_SETLK", F_SETLKW: "F_SETLKW", F_SETOWN: "F_SETOWN",
    F_GETOWN: "F_GETOWN", F_SETSIG: "F_SETSIG", F_GETSIG: "F_GETSIG",
    F_SETOWN_EX: "F_SETOWN_EX", F_GETOWN_EX: "F_GETOWN_EX",
    F_GETOWNER_UIDS: "F_GETOWNER_UIDS", F_OFD_GETLK: "F_OFD_GETLK",
    F_OFD_SETLK: "F_OFD_SETLK", F_OFD_SETLKW: "F_OFD_SETLKW",
    F_SETLEASE: "F_SETLEASE", F_GETLEASE: "F_GETLEASE", F_NOTIFY: "F_NOTIFY",
    F_CANCELLK: "F_CANCELLK", F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC",
    F_SETPIPE_SZ: "F_SETPIPE_SZ", F_GETPIPE_SZ: "F_GETPIPE_SZ",
    F_ADD_SEALS: "F_ADD_SEALS", F_GET_SEALS: "F_GET_SEALS",
    F_GET_RW_HINT: "F_GET_RW_HINT", F_SET_RW_HINT: "F_SET_RW_HINT",
    F_GET_FILE_RW_HINT: "F_GET_FILE_RW_HINT", F_SET_FILE_RW_HINT: "F_SET_FILE_RW_HINT",
}

FD_CLOEXEC = 1

# F_SETOWN_EX owner types and struct f_owner_ex.
F_OWNER_TID = 0
F_OWNER_PID = 1
F_OWNER_PGRP = 2
F_OWNER_EX = Layout("f_owner_ex", [("type", "i"), ("pid", "i")])

# Record locks (struct flock l_type).
F_RDLCK = 0
F_WRLCK = 1
F_UNLCK = 2
F_EXLCK = 4
F_SHLCK = 8

# File seals (F_ADD_SEALS / F_GET_SEALS).
F_SEAL_SEAL = 0x0001
F_SEAL_SHRINK = 0x0002
F_SEAL_GROW = 0x0004
F_SEAL_WRITE = 0x0008
F_SEAL_FUTURE_WRITE = 0x0010

# F_NOTIFY events.
DN_ACCESS = 0x00000001
DN_MODIFY = 0x00000002
DN_CREATE = 0x00000004
DN_DELETE = 0x00000008
DN_RENAME = 0x00000010
DN_ATTRIB = 0x00000020
DN_MULTISHOT = 0x80000000

# flock(2).
LOCK_SH = 1
LOCK_EX = 2
LOCK_NB = 4
LOCK_UN = 8

# renameat2(2).
RENAME_NOREPLACE = 1 << 0
RENAME_EXCHANGE = 1 << 1
RENAME_WHITEOUT = 1 << 2

# access(2) / faccessat(2) modes.
F_OK = 0
X_OK = 1
W_OK = 2
R_OK = 4

# lseek(2) whence.
SEEK_SET = 0
SEEK_CUR = 1
SEEK_END = 2
SEEK_DATA = 3
SEEK_HOLE = 4
SEEK_MAX = SEEK_HOLE

# struct flock on x86-64 (== struct flock64): 32 bytes.
FLOCK = Layout("flock", [
    ("l_type", "h"), ("l_whence", "h"), ("_pad0", "4x"),
    ("l_start", "q"), ("l_len", "q"), ("l_pid", "i"), ("_pad1", "4x"),
])


def pack_flock(l_type=F_UNLCK, l_whence=SEEK_SET, l_start=0, l_len=0, l_pid=0):
    """Pack a struct flock."""
    return FLOCK.pack(l_type=l_type, l_whence=l_whence, l_start=l_start,
                      l_len=l_len, l_pid=l_pid)


def unpack_flock(buf, offset=0):
    """Unpack a struct flock -> namedtuple(l_type, l_whence, l_start, l_len, l_pid)."""
    return FLOCK.unpack(buf, offset)
