"""Copying between kernel and guest memory (copyin/copyout/copyinstr).

BSD counterpart: the copyin(9) family.  "We don't trust user code": every
guest pointer goes through here, and a bad one is EFAULT, never a kernel
exception.
"""
import struct

from vkernel.abi.linux import errno as E
from vkernel.platform import PlatformError

from .errors import KernelError

PATH_MAX = 4096


def _space(td):
    return td.lwp_proc.p_vmspace.space


def copyin(td, addr, n):
    if n == 0:
        return b""
    if addr == 0 or n < 0 or addr + n > 1 << 47:
        raise KernelError(E.EFAULT)
    try:
        return _space(td).read(addr, n)
    except PlatformError:
        raise KernelError(E.EFAULT) from None


def copyout(td, addr, data):
    if not data:
        return
    if addr == 0 or addr + len(data) > 1 << 47:
        raise KernelError(E.EFAULT)
    try:
        _space(td).write(addr, bytes(data))
    except PlatformError:
        raise KernelError(E.EFAULT) from None


def copyinstr_bytes(td, addr, maxlen=PATH_MAX):
    """A NUL-terminated string as bytes; ENAMETOOLONG past maxlen."""
    out = bytearray()
    while len(out) < maxlen:
        chunk = min(4096 - (addr & 4095), maxlen - len(out))
        data = copyin(td, addr, chunk)
        i = data.find(b"\0")
        if i >= 0:
            out += data[:i]
            return bytes(out)
        out += data
        addr += chunk
    raise KernelError(E.ENAMETOOLONG)


def copyinstr(td, addr, maxlen=PATH_MAX):
    """A NUL-terminated guest string as str (surrogateescape)."""
    return copyinstr_bytes(td, addr, maxlen).decode("utf-8", "surrogateescape")


def copyin_ptrs(td, addr, limit=1 << 16):
    """A NULL-terminated array of pointers (argv, envp)."""
    out = []
    while addr:
        (p,) = struct.unpack("<Q", copyin(td, addr, 8))
        if p == 0:
            return out
        out.append(p)
        if len(out) > limit:
            raise KernelError(E.E2BIG)
        addr += 8
    return out


def copyin_u64(td, addr):
    return struct.unpack("<Q", copyin(td, addr, 8))[0]


def copyin_i32(td, addr):
    return struct.unpack("<i", copyin(td, addr, 4))[0]


def copyout_i32(td, addr, v):
    copyout(td, addr, struct.pack("<i", v))


def copyout_u64(td, addr, v):
    copyout(td, addr, struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF))


def copyin_iovec(td, addr, cnt):
    """struct iovec[cnt] -> [(base, len)]."""
    if cnt < 0 or cnt > 1024:
        raise KernelError(E.EINVAL)
    data = copyin(td, addr, 16 * cnt) if cnt else b""
    return [struct.unpack_from("<QQ", data, 16 * i) for i in range(cnt)]
