"""The syscall table (FreeBSD's syscalls.master as data, gVisor's SyscallTable).

One decorator is the only registration a handler needs:

    @syscall(NR.dup, FD)
    def sys_dup(td, fd):
        '''Implements Linux dup(2).'''

The argument kinds decode the raw registers and tell ktrace how many
arguments the call has.  Every entry records a support level, so the table
doubles as the compatibility document (`vkernel syscalls`).
"""
import dataclasses

from vkernel.abi.linux.syscalls import NR, SYSCALL_NAMES as LINUX_SYSCALL_NAMES
from vkernel.abi.vkernel.syscalls import VKERNEL_SYSCALL_NAMES

SYSCALL_NAMES = {**LINUX_SYSCALL_NAMES, **VKERNEL_SYSCALL_NAMES}   # Linux's + ktrace, utrace

SUPPORTED, PARTIAL = "supported", "partial"
MASK64 = (1 << 64) - 1


def _i32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _u32(v):
    return v & 0xFFFFFFFF


def _i64(v):
    return v - (1 << 64) if v & (1 << 63) else v


def _u64(v):
    return v


@dataclasses.dataclass(frozen=True)
class ArgKind:
    name: str
    decode: object


FD = ArgKind("fd", _i32)
I32 = ArgKind("int", _i32)
U32 = ArgKind("uint", _u32)
I64 = ArgKind("long", _i64)
U64 = ArgKind("ulong", _u64)
PTR = ArgKind("ptr", _u64)
STR = ArgKind("string", _u64)       # a pointer to a NUL-terminated string


@dataclasses.dataclass
class Sysent:
    nr: int
    name: str
    handler: object
    args: tuple
    level: str
    note: str = ""
    invoke: object = None      # invoke(td, regs): decode the registers and call


ARG_REGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")


def make_invoker(fn, kinds):
    """Build `invoke(td, r)` = fn(td, decode_0(r.rdi), ...) for one entry.

    Made once per syscall at registration, so the dispatcher's hot path
    makes one call with no per-call tuple, zip or list.  The code is
    compiled once per argument shape and closed over fn and the decoders.
    """
    decoders = tuple(None if k.decode is _u64 else k.decode for k in kinds)
    shape = tuple(d is None for d in decoders)
    factory = _factories.get(shape)
    if factory is None:
        factory = _factories[shape] = _compile_factory(shape)
    return factory(fn, *[d for d in decoders if d is not None])


_factories = {}


def _compile_factory(shape):
    params, args = ["fn"], []
    for i, raw in enumerate(shape):
        if raw:
            args.append(f"r.{ARG_REGS[i]}")
        else:
            params.append(f"d{i}")
            args.append(f"d{i}(r.{ARG_REGS[i]})")
    src = (f"def factory({', '.join(params)}):\n"
           f"    def invoke(td, r):\n"
           f"        return fn(td{''.join(', ' + a for a in args)})\n"
           f"    return invoke\n")
    ns = {}
    exec(src, ns)
    return ns["factory"]


sysent = {}          # Linux number -> Sysent


class JustReturn:
    """Returned by handlers that set every register themselves (execve, sigreturn)."""

    def __repr__(self):
        return "JUSTRETURN"


JUSTRETURN = JustReturn()


def syscall(nr, *args, level=SUPPORTED, note=""):
    """Register the decorated function as the handler of Linux syscall `nr`."""
    nr = int(nr)

    def register(fn):
        if nr in sysent:
            raise ValueError(f"syscall {nr} registered twice ({fn.__name__})")
        sysent[nr] = Sysent(nr, SYSCALL_NAMES.get(nr, f"#{nr}"), fn, args, level, note,
                            make_invoker(fn, args))
        return fn
    return register


def name_of(nr):
    return SYSCALL_NAMES.get(nr, f"#{nr}")


__all__ = ["NR", "FD", "I32", "U32", "I64", "U64", "PTR", "STR", "syscall", "sysent",
           "JUSTRETURN", "SUPPORTED", "PARTIAL", "name_of"]
