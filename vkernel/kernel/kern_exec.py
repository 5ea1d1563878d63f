"""execve(2): replace a process image (BSD kern_exec.c).

The file is read through the guest VFS, never opened by the host: ELF
images go to imgact_elf, `#!` scripts are turned into an exec of their
interpreter.  After the point of no return a failure kills the process.
"""
import collections

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import signal as S

from . import imgact_elf, kern_exit, kern_futex, kern_proc, kern_vfs
from .errors import KernelError
from .kern_synch import sched
from .proc import P_EXEC, P_PPWAIT
from vkernel.vfs.namei import access_ok
from vkernel.vfs.vnode import VREG

ARG_MAX = 2 << 20
MAX_SHEBANG_DEPTH = 4
MAX_IMAGE = 1 << 30
hooks = {"vdso": 0, "ktrace_exec": None, "log": print}


IMAGE_CACHE_SIZE = 32
_image_cache = collections.OrderedDict()   # (vnode, size, mtime, ctime) -> (data, Image)


def read_image(td, path):
    """Look up an executable and read it whole; checks type and x permission.

    Recently exec'd files are kept (bytes and parsed headers) while their
    size and times are unchanged, so a shell running busybox applets does
    not read and parse busybox every time.
    """
    vp, resolved = kern_vfs.lookup(td, path)
    va = vp.getattr()
    if va.type != VREG:
        raise KernelError(E.EACCES)
    if not access_ok(va, td.lwp_proc.p_ucred, 1) or not va.mode & 0o111:
        raise KernelError(E.EACCES)
    if va.size > MAX_IMAGE:
        raise KernelError(E.ENOMEM)
    key = (vp, va.size, va.mtime, va.ctime)
    hit = _image_cache.get(key)
    if hit is None:
        hit = [vp.read(0, va.size), None]
        _image_cache[key] = hit
        while len(_image_cache) > IMAGE_CACHE_SIZE:
            _image_cache.popitem(last=False)
    _image_cache.move_to_end(key)
    return vp, resolved, hit


def _parse(entry, path):
    """The parsed Image of a cached [data, Image] entry."""
    if entry[1] is None or entry[1].path != path:
        entry[1] = imgact_elf.Image(entry[0], path)
    return entry[1]


def _shebang(data, path, argv):
    line = data[2:256].split(b"\n", 1)[0].strip()
    if not line:
        raise KernelError(E.ENOEXEC)
    parts = line.split(None, 1)
    new = [parts[0]] + parts[1:] + [path.encode("utf-8", "surrogateescape")] + argv[1:]
    return parts[0].decode("utf-8", "surrogateescape"), new


def resolve(td, path, argv, depth=0):
    """Follow #! chains; returns (image, interp image, argv, path, text)
    where text is (vnode, resolved path) of the ELF file (p_textvp)."""
    vp, resolved, entry = read_image(td, path)
    data = entry[0]
    if data[:2] == b"#!":
        if depth >= MAX_SHEBANG_DEPTH:
            raise KernelError(E.ELOOP)
        ipath, nargv = _shebang(data, path, argv)
        return resolve(td, ipath, nargv, depth + 1)
    if data[:4] != b"\x7fELF":
        raise KernelError(E.ENOEXEC)
    img = _parse(entry, resolved)               # maps name the file itself
    interp = None
    if img.interp:
        _, _, ientry = read_image(td, img.interp)
        interp = _parse(ientry, img.interp)
        if interp.interp:
            raise KernelError(E.ELIBBAD)
    return img, interp, argv, path, (vp, resolved)


def kern_execve(td, path, argv, envp):
    """Replace td's process image.  argv/envp are lists of bytes."""
    if sum(len(a) + 1 for a in argv + envp) > ARG_MAX:
        raise KernelError(E.E2BIG)
    img, interp, argv, path, text = resolve(td, path, argv)
    p = td.lwp_proc
    _single_thread(td)                                  # point of no return
    vm = p.p_vmspace
    vm.clear()
    try:
        entry, rsp, _ = imgact_elf.load(vm, img, interp, p.p_ucred, argv, envp,
                                        path, hooks["vdso"])
    except KernelError as e:
        hooks["log"](f"pid {p.p_pid} ({p.p_comm}): exec of {path} failed after "
                     f"point of no return: {e}")
        kern_exit.exit1(p, S.SIGSEGV)
        raise
    _reset_regs(td, entry, rsp)
    _new_image(p, td, path, argv, envp, text)


def _single_thread(td):
    """End every other thread; a thread that execs takes over the process
    id as its thread id (Linux de_thread)."""
    p = td.lwp_proc
    kern_futex.exit_robust_list(td)             # the old image's locks (mm_release)
    for other in list(p.p_lwps.values()):
        if other is not td:
            kern_exit.thread_exit(other, 0)
    if td.lwp_tid != p.p_pid:
        del p.p_lwps[td.lwp_tid]
        kern_proc.alllwp.pop(td.lwp_tid, None)
        td.lwp_tid = p.p_pid
        p.p_lwps[td.lwp_tid] = td
        kern_proc.alllwp[td.lwp_tid] = td


def _reset_regs(td, entry, rsp):
    r = td.regs
    for name in ("r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
                 "fs_base gs_base").split():
        setattr(r, name, 0)
    r.rip, r.rsp, r.eflags, r.orig_rax = entry, rsp, 0x202, 2**64 - 1
    from vkernel.abi.linux import sigframe as SF
    td.host.set_fpregs(SF.pack_fxsave_default())


def _new_image(p, td, path, argv, envp, text):
    name = path.rsplit("/", 1)[-1]
    p.p_comm = name[:15]
    p.p_args = [a.decode("utf-8", "surrogateescape") for a in argv]
    p.p_env = envp
    p.p_textvp, p.p_exe = text
    p.p_flags |= P_EXEC
    p.p_vmspace.owner = f"pid {p.p_pid} ({p.p_comm})"
    for act in p.p_sigacts:
        if act.handler not in (S.SIG_IGN, S.SIG_DFL):
            act.handler, act.flags, act.mask = S.SIG_DFL, 0, 0
    td.lwp_sigaltstack = (0, S.SS_DISABLE, 0)
    td.lwp_clear_child_tid = 0
    td.lwp_robust_list = 0
    p.p_fd.close_on_exec()
    parent = p.p_pptr
    if parent is not None and parent.p_vfork_child is p:
        parent.p_vfork_child = None
        parent.p_flags &= ~P_PPWAIT
        sched.wakeup(("vfork", parent))
    if hooks["ktrace_exec"]:
        hooks["ktrace_exec"](p)
