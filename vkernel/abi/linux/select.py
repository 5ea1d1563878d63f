"""select(2)/pselect6(2) constants: fd_set geometry.

Linux counterpart: include/uapi/linux/posix_types.h (__FD_SETSIZE) and
fs/select.c (the fd_set is an array of unsigned long bits).  Data only.
"""

FD_SETSIZE = 1024
NFDBITS = 64                     # bits per unsigned long
FD_SET_BYTES = FD_SETSIZE // 8   # 128


def fd_set_bytes(nfds):
    """Bytes the kernel reads for an fd_set covering nfds descriptors."""
    return ((nfds + NFDBITS - 1) // NFDBITS) * 8
