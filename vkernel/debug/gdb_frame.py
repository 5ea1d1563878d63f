"""Frames and source lines as gdb shows them (gdb's stack.c and source.c
print_frame_info, print_source_lines), for kernel code.

Kernel frames are ddb's (vkernel/ddb/db_trace.py: Python frames of vkernel
code, innermost first, cut below the CPU loop go_user); addresses are
ddb's too (db_sym.py: kernel code at id(code object) + bytecode offset,
kernel objects at id(object)).  Here they take gdb's shapes:

    #0  sys_ktrace (td=0x7f3a5c1e2b40, fname=4210688, ops=2, facs=0, pid=0)
            at vkernel/kernel/kern_ktrace.py:111                (one line)
    #1  0x00007f3a5c9e1f30 in syscall2 (td=0x7f3a5c1e2b40) at vkernel/syscalls/dispatch.py:78
    111	    curp = td.lwp_proc

Arguments are `name=value`: numbers in decimal, None as 0x0, strings
quoted, functions as `0xADDR <name>` and every other object by its
address.  File names are relative to the directory holding the vkernel
package, as a kernel's debug info names its sources (`sys/kern/...`).
"""
import linecache
import os
import sys

from vkernel.ddb.db_print import c_string
from vkernel.ddb.db_sym import KERNEL_DIRS, VKERNEL_DIR, is_kernel_code, pc_of
from vkernel.ddb.db_trace import KFrame

SRC_ROOT = os.path.dirname(VKERNEL_DIR)
DEBUG_DIR = os.path.join(VKERNEL_DIR, "debug")
MAXSTR = 40
MAXFRAMES = 1024
_stoppable = {}             # co_filename -> may kgdb stop in this file's code?


def src_name(filename):
    """vkernel/kernel/kern_ktrace.py for a kernel source, else the name as is."""
    fn = os.path.abspath(filename)
    if fn.startswith(SRC_ROOT + os.sep):
        return os.path.relpath(fn, SRC_ROOT)
    return filename


def stoppable(code):
    """Kernel code where kgdb may stop: vkernel's, not a debugger's own."""
    fn = code.co_filename
    ok = _stoppable.get(fn)
    if ok is None:
        ok = _stoppable[fn] = (is_kernel_code(code)
                               and not os.path.abspath(fn).startswith(DEBUG_DIR + os.sep))
    return ok


# -- values ---------------------------------------------------------------------------------
def format_arg(v):
    """An argument value, gdb style (see the module docstring)."""
    if v is None:
        return "0x0"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (str, bytes)):
        return c_string(v, MAXSTR)
    fn = getattr(v, "__func__", v)
    code = getattr(fn, "__code__", None)
    if code is not None:
        return f"{id(code):#x} <{code.co_name}>"
    return f"{id(v):#x}"


def frame_locals(frame):
    try:
        return frame.f_locals
    except Exception:                 # a frame being torn down
        return {}


def arg_names(code):
    n = code.co_argcount + code.co_kwonlyargcount
    n += bool(code.co_flags & 0x04) + bool(code.co_flags & 0x08)    # *args, **kwargs
    return code.co_varnames[:n]


def format_args(frame):
    loc = frame_locals(frame)
    return ", ".join(f"{name}={format_arg(loc.get(name))}" for name in arg_names(frame.f_code))


# -- frames ---------------------------------------------------------------------------------
def frames_of(frame):
    """The kernel stack from `frame` outward (KFrames, innermost first)."""
    out = []
    while frame is not None and len(out) < MAXFRAMES:
        if stoppable(frame.f_code):
            out.append(KFrame(frame, frame.f_lasti, frame.f_lineno))
            if frame.f_code.co_name == "go_user":
                break
        frame = frame.f_back
    return out


def thread_frames(ident):
    """The kernel stack of a host thread right now (sys._current_frames)."""
    frame = sys._current_frames().get(ident)
    return frames_of(frame) if frame is not None else []


def location(kf, with_pc=False):
    """`[0xPC in ]func (args) at file:line`."""
    code = kf.frame.f_code
    pc = f"{pc_of(code, kf.lasti):#018x} in " if with_pc else ""
    return (f"{pc}{code.co_name} ({format_args(kf.frame)}) at "
            f"{src_name(code.co_filename)}:{kf.lineno}")


def frame_line(n, kf, running=False):
    """A backtrace line: `#N  ...`.  A frame shows its PC when it is not at
    the start of a line: frames above #0, and every frame of a running thread."""
    return f"#{n:<3d}{location(kf, with_pc=n > 0 or running)}"


def source_line(filename, lineno):
    """`114\\t    curp = td.lwp_proc` (the line as it is in the file)."""
    text = linecache.getline(filename, lineno)
    if not text:
        return f"{lineno}\tin {src_name(filename)}"
    return f"{lineno}\t{text.rstrip()}"


def kframe(frame):
    """The KFrame of a live frame as it stands now."""
    return KFrame(frame, frame.f_lasti, frame.f_lineno)


# -- code and lines ---------------------------------------------------------------------------
def line_starts(code):
    """{line: first bytecode offset} of code itself (not its nested code)."""
    out = {}
    for start, _end, line in code.co_lines():
        if line is not None and line not in out:
            out[line] = start
    return out


def body_line(code):
    """(line, offset) where a call of code stops (gdb: after the prologue):
    the first line after the `def` that has code, else the def line."""
    starts = line_starts(code)
    later = [(off, ln) for ln, off in starts.items() if ln != code.co_firstlineno]
    if later:
        off, ln = min(later)
        return ln, off
    return code.co_firstlineno, starts.get(code.co_firstlineno, 0)


def source_files():
    """{absolute path: module} of the loaded kernel modules."""
    out = {}
    for mod in list(sys.modules.values()):
        fn = getattr(mod, "__file__", None) if mod is not None else None
        if fn and fn.endswith(".py"):
            fn = os.path.abspath(fn)
            if any(fn.startswith(d + os.sep) for d in KERNEL_DIRS):
                out[fn] = mod
    return out
