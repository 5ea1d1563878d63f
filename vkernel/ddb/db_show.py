"""`show` commands for subsystems that keep no ddb code of their own:
descriptors, mounts, ktrace, sysctl and the message buffer (DragonFly
registers these next to their code: show msgbuf in subr_prf.c, show
lockedvnodes in vfs_subr.c, ...).  Each is registered with
@db_show_command and can move next to its subsystem unchanged.
"""
from .db_command import db_show_command
from .db_ps import ptr
from .db_sym import DbError

F_ACCMODE, F_WRONLY, F_RDWR, F_APPEND, F_NONBLOCK = 0o3, 0o1, 0o2, 0o2000, 0o4000


def _mode(fp, cloexec):
    acc = fp.flags & F_ACCMODE
    s = {0: "r", F_WRONLY: "w", F_RDWR: "rw"}.get(acc, "?")
    s += "a" if fp.flags & F_APPEND else ""
    s += "n" if fp.flags & F_NONBLOCK else ""
    return s + ("e" if cloexec else "")


def vnode_path(vp):
    """The vnode's path from the system root, or '?'."""
    from vkernel.kernel import kern_vfs
    from vkernel.vfs.vfs_cache import vn_fullpath
    try:
        return vn_fullpath(vp, kern_vfs.mounts.root.root)
    except Exception:
        return "?"


@db_show_command("files")
def db_show_files(db, arg, modif):
    """show files [pid|addr]: a process's descriptor table (mode letters: r w
    a=append n=nonblock e=close-on-exec)."""
    p = db.find_proc(arg)
    fdp = p.p_fd
    if fdp is None:
        raise DbError(f"pid {p.p_pid} has no descriptor table")
    db.printf(f"pid {p.p_pid} ({p.p_comm}) filedesc at {id(fdp):#x}, {len(fdp.files)} open:\n")
    db.printf("  fd           file refs   offset mode type           path\n")
    for fd in sorted(fdp.files):
        fp = fdp.files[fd]
        db.printf(f"{fd:4d} {ptr(id(fp)):>14s} {fp.refs:4d} {fp.offset:8d} "
                  f"{_mode(fp, fd in fdp.cloexec):<4s} {type(fp.ops).__name__:<14s} "
                  f"{fp.path or '-'}\n")


@db_show_command("mount")
def db_show_mount(db, arg, modif):
    """show mount: the mount table (struct mount addresses, mount points)."""
    from vkernel.kernel import kern_vfs
    if kern_vfs.mounts is None:
        raise DbError("No filesystems mounted")
    for m in kern_vfs.mounts.mounts():
        db.printf(f"{id(m):#x} {m.source} on {m.path} type {m.fstype} ({m.options()}) "
                  f"root vnode {ptr(id(m.root)) if m.root else '0x0'}\n")


@db_show_command("ktrace")
def db_show_ktrace(db, arg, modif):
    """show ktrace: every ktrace node, its file and the processes logging to it."""
    from vkernel.kernel import kern_proc
    nodes = {}
    for p in list(kern_proc.allproc.values()):
        kn = getattr(p, "p_tracenode", None)
        if kn is not None:
            nodes.setdefault(id(kn), (kn, []))[1].append(p)
    if not nodes:
        db.printf("no process is being traced\n")
    for kn, procs in nodes.values():
        vp = getattr(kn, "kn_vp", None)
        where = f"{id(vp):#x} ({vnode_path(vp)})" if vp is not None else "0x0"
        db.printf(f"ktrace_node {id(kn):#x} kn_vp {where} kn_refs "
                  f"{getattr(kn, 'kn_refs', '?')}\n")
        for p in sorted(procs, key=lambda q: q.p_pid):
            db.printf(f"  pid {p.p_pid:5d} ({p.p_comm}) p_traceflag {p.p_traceflag:#x}\n")


@db_show_command("sysctl")
def db_show_sysctl(db, arg, modif):
    """show sysctl [name]: the sysctl tree below name (all of it by default)."""
    from vkernel.kernel import kern_sysctl
    names = kern_sysctl.sysctl_list(arg.strip())
    if not names:
        raise DbError(f"unknown oid '{arg.strip()}'")
    for name in names:
        try:
            value = kern_sysctl.sysctl_get(name)
        except Exception as e:
            value = f"<{type(e).__name__}>"
        db.printf(f"{name}: {value}\n")


@db_show_command("msgbuf")
def db_show_msgbuf(db, arg, modif):
    """show msgbuf: the kernel message buffer (what dmesg reads)."""
    from vkernel.kernel import msgbuf
    db.printf(msgbuf.contents())
