"""Stack traces: `trace`, `where`, `bt` (DragonFly platform db_trace.c).

A kernel stack is the chain of Python frames of vkernel code (ddb's own
frames excluded), innermost first, cut below the CPU loop (go_user): for a
fatal trap it comes from the exception's traceback plus the callers of the
frame that caught it; for a panic or a break-in, from the frame that called
Debugger().  Each frame prints in the i386 ddb's shape, with five argument
words whatever the arity (real arguments padded with 0; kernel objects by
their address; numbers in the radix without 0x), and the procedure-strategy
location of the PC:

    ktrace_clear_callback(7f3a5c1e2b40,7f3a5c0a1d00,0,0,0) at ktrace_clear_callback+0x1a [kern_ktrace.py:215]

Below the kernel frames comes the guest frame the thread entered from, in
the x86_64 separator form: `--- syscall 27f (ktrace), rip = 0x401a2b,
rsp = 0x7ffd4a3c1e28, rbp = 0x7ffd4a3c1e50 ---`.  A thread that is asleep
in the kernel has no Python stack (its syscall re-runs from the handler
when woken), so its trace is the handler it will re-run and its guest frame.
"""
from .db_sym import DbError, access_error, is_kernel_code, pc_of, printsym

NARGS = 5
MAXFRAMES = 1024


class KFrame:
    """One kernel frame: the frame object and where it stands."""
    __slots__ = ("frame", "lasti", "lineno")

    def __init__(self, frame, lasti, lineno):
        self.frame, self.lasti, self.lineno = frame, lasti, lineno

    @property
    def code(self):
        return self.frame.f_code

    @property
    def pc(self):
        return pc_of(self.frame.f_code, self.lasti)


def kernel_frames(frames):
    """Keep the kernel's frames; nothing outer than the CPU loop."""
    out = [kf for kf in frames if is_kernel_code(kf.frame.f_code)]
    for i, kf in enumerate(out):
        if kf.frame.f_code.co_name == "go_user":
            return out[:i + 1]
    return out


def frames_from_frame(frame):
    """The stack from `frame` outward."""
    out = []
    while frame is not None and len(out) < MAXFRAMES:
        out.append(KFrame(frame, frame.f_lasti, frame.f_lineno))
        frame = frame.f_back
    return kernel_frames(out)


def frames_from_traceback(tb):
    """The stack of an exception: its traceback, then the catcher's callers."""
    inner = []
    outer_start = tb.tb_frame.f_back if tb is not None else None
    while tb is not None:
        inner.append(KFrame(tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        tb = tb.tb_next
    outer = []
    f = outer_start
    while f is not None and len(outer) < MAXFRAMES:
        outer.append(KFrame(f, f.f_lasti, f.f_lineno))
        f = f.f_back
    return kernel_frames(list(reversed(inner)) + outer)


# -- formatting -------------------------------------------------------------------------
def arg_word(v):
    """What a value looks like as a stack word: numbers as such, functions by
    their text address, other objects by their address."""
    if v is None:
        return 0
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    code = getattr(v, "__code__", None)
    return id(code) if code is not None else id(v)


def format_radix(v, radix=16):
    """db_format_radix without the alternate form: hex digits, a sign if negative."""
    sign = "-" if v < 0 else ""
    v = abs(v)
    body = {16: f"{v:x}", 8: f"{v:o}"}.get(radix, f"{v:d}")
    return sign + body


def frame_args(frame):
    """The first five argument words of a frame, padded with 0."""
    code = frame.f_code
    n = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames[:min(n, NARGS)]
    try:
        loc = frame.f_locals
    except Exception:
        loc = {}
    words = [arg_word(loc.get(name)) for name in names]
    return words + [0] * (NARGS - len(words))


def format_frame(kf, radix=16):
    args = ",".join(format_radix(w, radix) for w in frame_args(kf.frame))
    return f"{kf.code.co_name}({args}) at {printsym(kf.pc, proc=True, lineno=kf.lineno)}"


def guest_frame(td, name_of=None):
    """The separator line for the guest context a thread entered the kernel from."""
    regs = getattr(td, "regs", None)
    if regs is None:
        return None
    where = f"rip = {regs.rip:#x}, rsp = {regs.rsp:#x}, rbp = {regs.rbp:#x}"
    if getattr(td, "td_insyscall", False):
        nr = regs.orig_rax
        name = name_of(nr) if name_of else _syscall_name(nr)
        return f"--- syscall {nr:x} ({name}), {where} ---"
    return f"--- trap, {where} ---"


def _syscall_name(nr):
    from vkernel.syscalls.table import name_of
    return name_of(nr)


def _handler_line(td, radix):
    """A sleeping thread's syscall handler, as the frame it will re-run from."""
    from vkernel.syscalls.table import sysent
    regs = td.regs
    ent = sysent.get(regs.orig_rax) if regs is not None else None
    if ent is None or not getattr(td, "td_insyscall", False):
        return None
    code = ent.handler.__code__
    words = [id(td), regs.rdi, regs.rsi, regs.rdx, regs.r10]
    args = ",".join(format_radix(w, radix) for w in words)
    return f"{code.co_name}({args}) at {printsym(id(code), proc=True)}"


class TraceCommands:
    """The trace commands of the ddb command class (a mixin of DbCmd)."""

    def do_trace(self, arg, modif=""):
        """trace [pid|tid|address][,count]
        The kernel stack, innermost frame first, five argument words per frame,
        then the guest frame below the syscall.  Without an argument: the
        stack ddb was entered with.  A decimal number is a pid or thread id;
        an address may be a frame (from `stack pointer`/`frame pointer`), a
        struct lwp or a struct proc."""
        target, count = self.split_count(arg)
        count = MAXFRAMES if count is None else count
        if not target:
            return self.trace_context(self.ctx.frames, self.ctx.curthread, count)
        if target.isdigit():
            return self.trace_id(int(target, 10), count)
        return self.trace_address(self.eval_int(target), count)

    do_where = do_trace
    do_bt = do_trace

    def trace_context(self, frames, td, count):
        radix = self.radix
        for kf in frames[:count]:
            self.printf(format_frame(kf, radix) + "\n")
        line = guest_frame(td) if td is not None and len(frames) <= count else None
        if line:
            self.printf(line + "\n")

    def trace_id(self, tid, count):
        from vkernel.kernel import kern_proc
        cur = self.ctx.curthread
        td = kern_proc.alllwp.get(tid)
        p = kern_proc.allproc.get(tid)
        if cur is not None and (td is cur or (p is not None and p is cur.lwp_proc)):
            return self.trace_context(self.ctx.frames, cur, count)
        tds = [td] if td is not None else list(p.p_lwps.values()) if p is not None else None
        if tds is None:
            raise DbError(f"No process or thread {tid}")
        if not tds:
            self.printf(f"pid {tid} is a zombie: it has no threads\n")
        for t in tds:
            self.trace_thread(t, count)

    def trace_thread(self, td, count):
        p = td.lwp_proc
        self.printf(f"Tracing pid {p.p_pid} tid {td.lwp_tid} td {id(td):#x}\n")
        if td is self.ctx.curthread:
            return self.trace_context(self.ctx.frames, td, count)
        if td.td_wchans is not None:
            self.printf(f"(asleep on \"{td.td_wmesg}\"; the kernel keeps no stack for a "
                        "sleeping thread: its syscall re-runs when it is woken)\n")
        line = _handler_line(td, self.radix)
        if line and count > 0:
            self.printf(line + "\n")
        g = guest_frame(td)
        if g:
            self.printf(g + "\n")

    def trace_address(self, addr, count):
        objs = self.objects()
        hit = objs.objs.get(addr)
        if hit is None:
            raise access_error(addr, ": not a frame, a thread or a process")
        obj, kind = hit
        if kind == "frame":
            self.printf(f"Trace beginning at frame {addr:#x}\n")
            frames = self.ctx.frames
            start = next(i for i, kf in enumerate(frames) if kf.frame is obj)
            return self.trace_context(frames[start:], self.ctx.curthread, count)
        if kind == "lwp":
            return self.trace_thread(obj, count)
        if kind == "proc":
            return self.trace_id(obj.p_pid, count)
        raise DbError(f"{addr:#x} does not look like a stack frame (it is a struct {kind})")

    def do_frame(self, arg, modif=""):
        """frame [n]
        Select kernel frame n of the trace (0 is the innermost) for the names
        `print` resolves: its arguments and locals, then its module's globals."""
        frames = self.ctx.frames
        if arg.strip():
            n = int(arg.strip(), 10) if arg.strip().isdigit() else self.eval_int(arg)
            if not 0 <= n < len(frames):
                raise DbError(f"No frame {n} (there are {len(frames)})")
            self.frame_index = n
        if not frames:
            raise DbError("No kernel stack")
        self.printf(f"#{self.frame_index} {format_frame(frames[self.frame_index], self.radix)}\n")
