"""eventfd2(2) flags.

Linux counterpart: include/linux/eventfd.h (EFD_* = O_CLOEXEC/O_NONBLOCK);
the same values appear in glibc's <sys/eventfd.h>.  Data only.
"""

EFD_SEMAPHORE = 1 << 0
EFD_CLOEXEC = 0o2000000
EFD_NONBLOCK = 0o4000
EFD_SHARED_FCNTL_FLAGS = EFD_CLOEXEC | EFD_NONBLOCK
EFD_FLAGS_SET = EFD_SHARED_FCNTL_FLAGS | EFD_SEMAPHORE
EVENTFD_MAX = (1 << 64) - 2   # counter may not exceed ULLONG_MAX - 1
