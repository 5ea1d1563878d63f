"""File modes, struct stat / statx / statfs, device numbers and linux_dirent64.

Linux counterparts: include/uapi/linux/stat.h (S_IF*, permission bits,
struct statx, STATX_*), arch/x86/include/uapi/asm/stat.h (x86-64 struct stat,
144 bytes), include/uapi/asm-generic/statfs.h (struct statfs, 120 bytes),
include/uapi/linux/magic.h (f_type values), fs/statfs.c and <sys/statvfs.h>
(ST_* mount flags), include/linux/kdev_t.h plus glibc's <sys/sysmacros.h>
(dev_t encoding), fs/readdir.c (struct linux_dirent64 / linux_dirent) and
<dirent.h> (DT_*).  Data only.
"""
from ._layout import Layout

S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000
S_IRWXU = 0o700
S_IRUSR = 0o400
S_IWUSR = 0o200
S_IXUSR = 0o100
S_IRWXG = 0o070
S_IRGRP = 0o040
S_IWGRP = 0o020
S_IXGRP = 0o010
S_IRWXO = 0o007
S_IROTH = 0o004
S_IWOTH = 0o002
S_IXOTH = 0o001
S_IALLUGO = S_ISUID | S_ISGID | S_ISVTX | S_IRWXU | S_IRWXG | S_IRWXO  # 07777


def file_type(mode):
    """The S_IF* bits of a mode."""
    return mode & S_IFMT


# d_type values for getdents (<dirent.h>); DT = IFTODT(mode) = (mode >> 12) & 15.
DT_UNKNOWN = 0
DT_FIFO = 1
DT_CHR = 2
DT_DIR = 4
DT_BLK = 6
DT_REG = 8
DT_LNK = 10
DT_SOCK = 12
DT_WHT = 14


def mode_to_dtype(mode):
    """IFTODT(): the DT_* value for an S_IF* mode."""
    return (mode & S_IFMT) >> 12


# ----------------------------------------------------------------- dev_t

def makedev(major, minor):
    """glibc/Linux 64-bit dev_t encoding (gnu_dev_makedev)."""
    return (((major & 0x00000FFF) << 8) | ((major & 0xFFFFF000) << 32) |
            (minor & 0x000000FF) | ((minor & 0xFFFFFF00) << 12))


def major(dev):
    """Major number of a dev_t (gnu_dev_major)."""
    return ((dev >> 8) & 0x00000FFF) | ((dev >> 32) & 0xFFFFF000)


def minor(dev):
    """Minor number of a dev_t (gnu_dev_minor)."""
    return (dev & 0x000000FF) | ((dev >> 12) & 0xFFFFFF00)


# ----------------------------------------------------------------- struct stat

# x86-64 struct stat (asm/stat.h), 144 bytes.  Times are __kernel_ulong_t
# in the header; they are packed signed here so pre-1970 times work
# (identical bytes).
STAT = Layout("stat", [
    ("st_dev", "Q"), ("st_ino", "Q"), ("st_nlink", "Q"),
    ("st_mode", "I"), ("st_uid", "I"), ("st_gid", "I"), ("_pad0", "4x"),
    ("st_rdev", "Q"), ("st_size", "q"), ("st_blksize", "q"), ("st_blocks", "q"),
    ("st_atime", "q"), ("st_atime_nsec", "q"),
    ("st_mtime", "q"), ("st_mtime_nsec", "q"),
    ("st_ctime", "q"), ("st_ctime_nsec", "q"),
    ("_unused", "24x"),
])
STAT_SIZE = STAT.size  # 144


def pack_stat(**fields):
    """Pack an x86-64 struct stat from keyword fields (st_dev=..., st_mode=...)."""
    return STAT.pack(**fields)


def unpack_stat(buf, offset=0):
    """Unpack an x86-64 struct stat -> namedtuple."""
    return STAT.unpack(buf, offset)


# ----------------------------------------------------------------- statx

STATX_TYPE = 0x00000001
STATX_MODE = 0x00000002
STATX_NLINK = 0x00000004
STATX_UID = 0x00000008
STATX_GID = 0x00000010
STATX_ATIME = 0x00000020
STATX_MTIME = 0x00000040
STATX_CTIME = 0x00000080
STATX_INO = 0x00000100
STATX_SIZE = 0x00000200
STATX_BLOCKS = 0x00000400
STATX_BASIC_STATS = 0x000007FF
STATX_BTIME = 0x00000800
STATX_MNT_ID = 0x00001000
STATX_DIOALIGN = 0x00002000
STATX__RESERVED = 0x80000000
STATX_ALL = 0x00000FFF

STATX_ATTR_COMPRESSED = 0x00000004
STATX_ATTR_IMMUTABLE = 0x00000010
STATX_ATTR_APPEND = 0x00000020
STATX_ATTR_NODUMP = 0x00000040
STATX_ATTR_ENCRYPTED = 0x00000800
STATX_ATTR_AUTOMOUNT = 0x00001000
STATX_ATTR_MOUNT_ROOT = 0x00002000
STATX_ATTR_VERITY = 0x00100000
STATX_ATTR_DAX = 0x00200000

STATX_TIMESTAMP = Layout("statx_timestamp", [
    ("tv_sec", "q"), ("tv_nsec", "I"), ("_reserved", "4x"),
])


def _stx_time(name):
    return [(f"{name}_sec", "q"), (f"{name}_nsec", "I"), (f"_{name}_reserved", "4x")]


# struct statx, 256 bytes.  Timestamps are flattened: stx_atime_sec/_nsec etc.
STATX = Layout("statx", [
    ("stx_mask", "I"), ("stx_blksize", "I"), ("stx_attributes", "Q"),
    ("stx_nlink", "I"), ("stx_uid", "I"), ("stx_gid", "I"), ("stx_mode", "H"),
    ("_spare0", "2x"),
    ("stx_ino", "Q"), ("stx_size", "Q"), ("stx_blocks", "Q"),
    ("stx_attributes_mask", "Q"),
    *_stx_time("stx_atime"), *_stx_time("stx_btime"),
    *_stx_time("stx_ctime"), *_stx_time("stx_mtime"),
    ("stx_rdev_major", "I"), ("stx_rdev_minor", "I"),
    ("stx_dev_major", "I"), ("stx_dev_minor", "I"),
    ("stx_mnt_id", "Q"), ("stx_dio_mem_align", "I"), ("stx_dio_offset_align", "I"),
    ("_spare3", "96x"),
])
STATX_STRUCT_SIZE = STATX.size  # 256 (STATX_SIZE is the mask bit)


def pack_statx(**fields):
    """Pack a struct statx from keyword fields (stx_mask=..., stx_atime_sec=...)."""
    return STATX.pack(**fields)


def unpack_statx(buf, offset=0):
    """Unpack a struct statx -> namedtuple."""
    return STATX.unpack(buf, offset)


# ----------------------------------------------------------------- statfs

# x86-64 struct statfs (== statfs64), 120 bytes.  f_fsid is int val[2].
STATFS = Layout("statfs", [
    ("f_type", "q"), ("f_bsize", "q"), ("f_blocks", "q"), ("f_bfree", "q"),
    ("f_bavail", "q"), ("f_files", "q"), ("f_ffree", "q"),
    ("f_fsid0", "i"), ("f_fsid1", "i"),
    ("f_namelen", "q"), ("f_frsize", "q"), ("f_flags", "q"), ("_spare", "32x"),
])
STATFS_SIZE = STATFS.size  # 120


def pack_statfs(**fields):
    """Pack an x86-64 struct statfs from keyword fields (f_type=..., f_bsize=...)."""
    return STATFS.pack(**fields)


# f_flags bits (<sys/statvfs.h>; ST_VALID is set by the kernel, fs/statfs.c).
ST_RDONLY = 0x0001
ST_NOSUID = 0x0002
ST_NODEV = 0x0004
ST_NOEXEC = 0x0008
ST_SYNCHRONOUS = 0x0010
ST_VALID = 0x0020
ST_MANDLOCK = 0x0040
ST_WRITE = 0x0080
ST_APPEND = 0x0100
ST_IMMUTABLE = 0x0200
ST_NOATIME = 0x0400
ST_NODIRATIME = 0x0800
ST_RELATIME = 0x1000

# f_type magic numbers (linux/magic.h).
TMPFS_MAGIC = 0x01021994
RAMFS_MAGIC = 0x858458F6
PROC_SUPER_MAGIC = 0x9FA0
SYSFS_MAGIC = 0x62656572
DEVPTS_SUPER_MAGIC = 0x1CD1
EXT4_SUPER_MAGIC = 0xEF53
BTRFS_SUPER_MAGIC = 0x9123683E
XFS_SUPER_MAGIC = 0x58465342
OVERLAYFS_SUPER_MAGIC = 0x794C7630
FUSE_SUPER_MAGIC = 0x65735546
NFS_SUPER_MAGIC = 0x6969
PIPEFS_MAGIC = 0x50495045
SOCKFS_MAGIC = 0x534F434B
ANON_INODE_FS_MAGIC = 0x09041934
CGROUP_SUPER_MAGIC = 0x27E0EB
CGROUP2_SUPER_MAGIC = 0x63677270
DEBUGFS_MAGIC = 0x64626720
TRACEFS_MAGIC = 0x74726163
SECURITYFS_MAGIC = 0x73636673
BPF_FS_MAGIC = 0xCAFE4A11
NSFS_MAGIC = 0x6E736673
HUGETLBFS_MAGIC = 0x958458F6
V9FS_MAGIC = 0x01021997

# ----------------------------------------------------------------- dirents

# struct linux_dirent64 header: d_ino u64, d_off s64, d_reclen u16, d_type u8,
# then d_name (NUL-terminated); d_reclen is rounded up to 8.
DIRENT64 = Layout("linux_dirent64", [
    ("d_ino", "Q"), ("d_off", "q"), ("d_reclen", "H"), ("d_type", "B"),
])
DIRENT64_NAME_OFFSET = DIRENT64.size  # 19
DIRENT_ALIGN = 8


def _align(n, a=DIRENT_ALIGN):
    return (n + a - 1) & ~(a - 1)


def dirent64_reclen(name):
    """d_reclen of a linux_dirent64 for name (bytes)."""
    return _align(DIRENT64_NAME_OFFSET + len(name) + 1)


def pack_dirent64(ino, off, dtype, name):
    """Pack one linux_dirent64 record (name: bytes, no NUL), zero padded to reclen."""
    reclen = dirent64_reclen(name)
    head = DIRENT64.pack(d_ino=ino, d_off=off, d_reclen=reclen, d_type=dtype)
    return (head + name).ljust(reclen, b"\0")


# Legacy struct linux_dirent (getdents(2)): d_ino u64, d_off u64, d_reclen u16,
# d_name..., NUL, then d_type in the record's last byte.
DIRENT = Layout("linux_dirent", [("d_ino", "Q"), ("d_off", "Q"), ("d_reclen", "H")])
DIRENT_NAME_OFFSET = DIRENT.size  # 18


def dirent_reclen(name):
    """d_reclen of a legacy linux_dirent for name (bytes)."""
    return _align(DIRENT_NAME_OFFSET + len(name) + 2)


def pack_dirent(ino, off, dtype, name):
    """Pack one legacy linux_dirent record; d_type is the last byte."""
    reclen = dirent_reclen(name)
    head = DIRENT.pack(d_ino=ino, d_off=off, d_reclen=reclen)
    return (head + name).ljust(reclen - 1, b"\0") + bytes([dtype])
