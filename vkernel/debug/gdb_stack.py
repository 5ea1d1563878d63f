"""kgdb's stack, source and thread commands (gdb's stack.c, source.c and
thread.c): backtrace, frame, up, down, info frame|locals|args, list,
thread, info threads.

The threads are the virtual CPUs: CPU N is gdb's thread N+1, named cpuN,
its host thread's address and LWP (Linux thread id) as gdb shows them.
While the kernel is stopped, the stopped CPU's stack is the one it stopped
with and the other CPUs wait for mp_lock where they are; while it runs,
a backtrace shows every CPU's stack as it is at that moment (each is a
snapshot: the CPU goes on).
"""
import linecache
import threading

from vkernel.ddb.db_print import format_value
from vkernel.ddb.db_sym import DbError

from .gdb_break import find_file, parse_linespec
from .gdb_frame import (arg_names, frame_line, frame_locals, source_line, src_name,
                        thread_frames)

LISTSIZE = 10


class StackCommands:
    """A mixin of KgdbCmd."""

    # -- threads --------------------------------------------------------------------------
    def threads(self):
        """[(gdb thread number, cpu, host thread ident)] of the virtual CPUs."""
        out = []
        for cpu in self.state.cpus():
            ident = self.state.idents.get(cpu.cpuid)
            if ident is None:
                t = getattr(cpu, "thread", None)
                t = t if t is not None else threading.main_thread() if cpu.cpuid == 0 else None
                ident = t.ident if t is not None else None
            if ident is not None:
                out.append((cpu.cpuid + 1, cpu, ident))
        return out

    def thread_number(self, ident):
        for num, _cpu, i in self.threads():
            if i == ident:
                return num
        return 0

    def target_id(self, ident):
        """`Thread 0x7f3a5c1e2b40 (LWP 1234) "cpu0"`."""
        t = next((t for t in threading.enumerate() if t.ident == ident), None)
        lwp = getattr(t, "native_id", None)
        num = self.thread_number(ident)
        name = f"cpu{num - 1}" if num else (t.name if t is not None else "?")
        return f'Thread {ident:#x} (LWP {lwp}) "{name}"'

    def stack_of(self, ident):
        stop = self.stop
        if stop is not None and ident == stop.ident:
            return stop.frames, False
        return thread_frames(ident), stop is None

    def do_thread(self, arg, modif=""):
        """thread [N] | thread apply all bt
        Show or select the current thread (thread N is CPU N-1).
        The selected thread is the one backtrace, frame and print look at;
        `thread apply all bt` shows every CPU's stack."""
        words = arg.split()
        if words[:3] == ["apply", "all", "bt"] or words[:3] == ["apply", "all", "backtrace"]:
            return self.all_stacks()
        if not words:
            ident = self.selected_ident()
            if ident is None:
                raise DbError("No thread selected.")
            num = self.thread_number(ident)
            self.printf(f"[Current thread is {num} ({self.target_id(ident)})]\n")
            return
        if not words[0].isdigit():
            raise DbError(f"Invalid thread ID: {arg.strip()}")
        hit = [i for num, _c, i in self.threads() if num == int(words[0])]
        if not hit:
            raise DbError(f"Invalid thread ID: {words[0]}")
        self.thread_ident, self.frame_index = hit[0], 0
        self.printf(f"[Switching to thread {words[0]} ({self.target_id(hit[0])})]\n")
        frames, running = self.stack_of(hit[0])
        if frames:
            self.printf(frame_line(0, frames[0], running) + "\n")

    def selected_ident(self):
        if self.thread_ident is not None:
            return self.thread_ident
        return self.stop.ident if self.stop is not None else None

    def info_threads(self, arg):
        rows = []
        cur = self.selected_ident()
        for num, _cpu, ident in self.threads():
            frames, running = self.stack_of(ident)
            where = frame_line(0, frames[0], running)[4:] if frames else "(no kernel frame)"
            rows.append((ident == cur, str(num), self.target_id(ident), where))
        if not rows:
            return self.printf("No threads.\n")
        w = max(len(r[2]) for r in rows)
        self.printf(f"  {'Id':<4s} {'Target Id':<{w}s} Frame \n")
        for mark, num, tid, where in rows:
            self.printf(f"{'*' if mark else ' '} {num:<4s} {tid:<{w}s} {where}\n")

    def all_stacks(self, limit=None):
        for num, _cpu, ident in self.threads():
            self.printf(f"\nThread {num} ({self.target_id(ident)}):\n")
            frames, running = self.stack_of(ident)
            self.print_frames(frames, running, limit)

    # -- frames ---------------------------------------------------------------------------
    def print_frames(self, frames, running=False, limit=None):
        shown = frames if limit is None else frames[:limit]
        for i, kf in enumerate(shown):
            self.printf(frame_line(i, kf, running) + "\n")
        if len(shown) < len(frames):
            self.printf("(More stack frames follow...)\n")

    def do_backtrace(self, arg, modif=""):
        """backtrace [N]  (bt, where)
        Show the stack, innermost frame first, down to the CPU loop go_user.
        The stack of the stopped CPU (or of the thread selected with `thread`);
        while the kernel runs, every CPU's stack as it is now."""
        words = [w for w in arg.split() if w != "full"]
        limit = int(words[0]) if words and words[0].isdigit() else None
        if self.stop is None and self.thread_ident is None:
            return self.all_stacks(limit)
        frames, running = self.stack_of(self.selected_ident())
        if not frames:
            raise DbError("No stack.")
        self.print_frames(frames, running, limit)

    def selected(self):
        """The selected frame (a KFrame) of the stopped kernel."""
        self.need_stop()
        frames = self.frames()
        if not frames:
            raise DbError("No stack.")
        return frames[min(self.frame_index, len(frames) - 1)]

    def show_frame(self):
        kf = self.selected()
        self.printf(frame_line(self.frame_index, kf) + "\n")
        self.printf(source_line(kf.code.co_filename, kf.lineno) + "\n")

    def do_frame(self, arg, modif=""):
        """frame [N]  (f)
        Select and show frame N of the stack (0 is the innermost).
        print, list, next and finish then work on that frame."""
        self.need_stop()
        if arg.strip():
            if not arg.strip().isdigit():
                raise DbError(f"Invalid frame: {arg.strip()}")
            n = int(arg)
            if n >= len(self.frames()):
                raise DbError("No frame at level " + arg.strip() + ".")
            self.frame_index = n
            self.list_next = None
        self.show_frame()

    def do_up(self, arg, modif=""):
        """up [N]
        Select the frame N (default 1) levels outward (toward go_user)."""
        self.need_stop()
        n = int(arg) if arg.strip().isdigit() else 1
        last = len(self.frames()) - 1
        if self.frame_index >= last:
            raise DbError("Initial frame selected; you cannot go up.")
        self.frame_index = min(self.frame_index + n, last)
        self.list_next = None
        self.show_frame()

    def do_down(self, arg, modif=""):
        """down [N]
        Select the frame N (default 1) levels inward."""
        self.need_stop()
        n = int(arg) if arg.strip().isdigit() else 1
        if self.frame_index == 0:
            raise DbError("Bottom (innermost) frame selected; you cannot go down.")
        self.frame_index = max(self.frame_index - n, 0)
        self.list_next = None
        self.show_frame()

    def info_frame(self, arg):
        kf = self.selected()
        code = kf.code
        self.printf(f"Stack level {self.frame_index}, frame at {id(kf.frame):#x}:\n")
        self.printf(f" pc = {id(code) + kf.lasti:#x} in {code.co_name} "
                    f"({src_name(code.co_filename)}:{kf.lineno})\n")
        back = kf.frame.f_back
        if back is not None:
            self.printf(f" called by frame at {id(back):#x}\n")
        self.printf(" source language python.\n")

    def info_args(self, arg):
        kf = self.selected()
        names = arg_names(kf.code)
        if not names:
            return self.printf("No arguments.\n")
        loc = frame_locals(kf.frame)
        objs = self.objects()
        for name in names:
            self.printf(f"{name} = {format_value(loc.get(name), objs)}\n")

    def info_locals(self, arg):
        kf = self.selected()
        args = set(arg_names(kf.code))
        loc = {k: v for k, v in frame_locals(kf.frame).items() if k not in args}
        if not loc:
            return self.printf("No locals.\n")
        objs = self.objects()
        for name, v in loc.items():
            self.printf(f"{name} = {format_value(v, objs)}\n")

    # -- source ---------------------------------------------------------------------------
    def do_list(self, arg, modif=""):
        """list [LINE | FUNC | FILE:LINE]  (l)
        List ten source lines around the current line, a line or a function.
        `list` again (or an empty line) shows the next ten."""
        spec = arg.strip()
        if spec:
            filename, center = self.list_target(spec)
            first = max(center - 5, 1)
        elif self.list_next is not None:
            filename, first = self.list_next
        else:
            kf = self.selected()
            filename, first = kf.code.co_filename, max(kf.lineno - 5, 1)
        lines = linecache.getlines(filename)
        if first > len(lines):
            raise DbError(f'Line number {first} out of range; "{src_name(filename)}" '
                          f"has {len(lines)} lines.")
        last = min(first + LISTSIZE, len(lines) + 1)
        for n in range(first, last):
            self.printf(source_line(filename, n) + "\n")
        self.list_next = (filename, last)

    def list_target(self, spec):
        head, sep, tail = spec.rpartition(":")
        if sep and tail.isdigit():
            return find_file(head), int(tail)
        if spec.isdigit():
            cur = self.list_next[0] if self.list_next else None
            if cur is None and self.stop is not None:
                cur = self.selected().code.co_filename
            if cur is None:
                raise DbError("No default source file: use FILE:LINE.")
            return cur, int(spec)
        _kind, locs = parse_linespec(spec)
        return locs[0].filename, locs[0].line
