"""System V IPC constants and structs for shared memory, x86-64 layouts.

Linux counterpart: include/uapi/linux/ipc.h, include/uapi/linux/shm.h,
include/uapi/asm-generic/ipcbuf.h and shmbuf.h (struct ipc64_perm,
struct shmid64_ds, struct shminfo64, struct shm_info).  Data only.
"""
from ._layout import Layout

IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_EXCL = 0o2000
IPC_NOWAIT = 0o4000

IPC_RMID = 0
IPC_SET = 1
IPC_STAT = 2
IPC_INFO = 3
IPC_64 = 0x0100                   # the "new" ipc version bit libcs may set in cmd

SHM_LOCK = 11
SHM_UNLOCK = 12
SHM_STAT = 13
SHM_INFO = 14
SHM_STAT_ANY = 15

SHM_RDONLY = 0o10000
SHM_RND = 0o20000
SHM_REMAP = 0o40000
SHM_EXEC = 0o100000

SHM_DEST = 0o1000                 # shm_perm.mode: removed, destroyed at the last detach
SHM_LOCKED = 0o2000
SHM_HUGETLB = 0o4000
SHM_NORESERVE = 0o10000

SHMLBA = 4096                     # x86-64: PAGE_SIZE
SHMMIN = 1
SHMMAX = (1 << 64) - 1 - (1 << 24)   # ULONG_MAX - (1UL << 24)
SHMALL = SHMMAX
SHMMNI = 4096
SHMSEG = SHMMNI
IPCMNI = 32768                    # an id is seq * IPCMNI + index

IPC64_PERM = Layout("ipc64_perm", [
    ("key", "i"), ("uid", "I"), ("gid", "I"), ("cuid", "I"), ("cgid", "I"),
    ("mode", "I"), ("seq", "H"), ("_pad2", "2x"), ("_pad3", "4x"),
    ("_unused1", "8x"), ("_unused2", "8x"),
])  # 48 bytes

SHMID64_DS = Layout("shmid64_ds", [
    ("perm_key", "i"), ("perm_uid", "I"), ("perm_gid", "I"), ("perm_cuid", "I"),
    ("perm_cgid", "I"), ("perm_mode", "I"), ("perm_seq", "H"), ("_perm_pad", "6x"),
    ("_perm_unused", "16x"),
    ("shm_segsz", "Q"), ("shm_atime", "q"), ("shm_dtime", "q"), ("shm_ctime", "q"),
    ("shm_cpid", "i"), ("shm_lpid", "i"), ("shm_nattch", "Q"),
    ("_unused4", "8x"), ("_unused5", "8x"),
])  # 112 bytes

SHMINFO64 = Layout("shminfo64", [
    ("shmmax", "Q"), ("shmmin", "Q"), ("shmmni", "Q"), ("shmseg", "Q"), ("shmall", "Q"),
    ("_unused1", "8x"), ("_unused2", "8x"), ("_unused3", "8x"), ("_unused4", "8x"),
])  # 72 bytes

SHM_INFO_DS = Layout("shm_info", [
    ("used_ids", "i"), ("_pad", "4x"), ("shm_tot", "Q"), ("shm_rss", "Q"),
    ("shm_swp", "Q"), ("swap_attempts", "Q"), ("swap_successes", "Q"),
])  # 48 bytes
