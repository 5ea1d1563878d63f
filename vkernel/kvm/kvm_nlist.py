"""The namelist: our kernel image's symbol table (DragonFly's `-N
/var/vkernel/boot/kernel`, libkvm's kvm_nlist(3)).

A C kernel's symbols are in its ELF image.  Ours are addresses of Python
objects, known only once the kernel runs, so the kernel writes them at boot
(`write_namelist()`) into a small JSON file:

    <rundir>/kernel.<kernel pid>       rundir: $VKERNEL_RUNDIR, else /tmp/vkernel-<uid>

It records who wrote it (the kernel's host pid, its supervisor's, the
process start time, so a reader can tell a live kernel from a recycled
pid), the CPython version, the struct layout the reader needs
(kvm_layout.probe(): offsets computed with ctypes and checked in this very
interpreter), and the symbols:

    symbols     allproc, alllwp, pgrphash (kern_proc), msgbuf (the message
                buffer's deque), hostname (the list holding it)
    modules     every loaded vkernel module's globals dict, so any global
                (`kern_shutdown.panicstr`, `kern_proc._lastpid`) resolves
                even after it is rebound
    types       the builtin types and constants the reader decodes
    classes     the kernel's struct types (Proc, Lwp, Pgrp, Session, ...)
    slots       {class address: {slot: offset}} of every slotted class
    values      boot time (epoch and monotonic)
    pflags      proc.py's p_flags bits by name (P_WEXIT, P_PPWAIT, ...)

Addresses are written as hex strings ("0x7f3a5c1e2b40") so they can be
pasted into ddb; parse_namelist turns them back into ints.  write_namelist
also removes the namelists of kernels that are gone.  A crash dump embeds
the namelist of the kernel that wrote it.
"""
import json
import os
import stat
import sys
import time

MAGIC = "vkernel namelist 1"
PREFIX = "kernel."
_ADDR_SECTIONS = ("symbols", "modules", "types", "classes", "constants")


class NlistError(Exception):
    pass


# -- where namelists live -----------------------------------------------------------------
def rundir():
    """The vkernels' run directory of this user: $VKERNEL_RUNDIR or /tmp/vkernel-<uid>."""
    return os.environ.get("VKERNEL_RUNDIR") or f"/tmp/vkernel-{os.getuid()}"


def default_path(pid):
    return os.path.join(rundir(), f"{PREFIX}{pid}")


def process_starttime(pid):
    """Field 22 of /proc/PID/stat (start time in clock ticks), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _namelists():
    """[(pid, path)] of the namelists in the run directory."""
    try:
        names = os.listdir(rundir())
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith(PREFIX) and name[len(PREFIX):].isdigit():
            out.append((int(name[len(PREFIX):]), os.path.join(rundir(), name)))
    return sorted(out)


def _alive(pid, path):
    try:
        nl = read_namelist(path)
    except NlistError:
        return False
    return nl.get("starttime") is not None and nl["starttime"] == process_starttime(pid)


def running_kernel():
    """The pid of the one vkernel kernel of this user that is running."""
    live = [pid for pid, path in _namelists() if _alive(pid, path)]
    if not live:
        raise NlistError(f"no running vkernel (no live namelist in {rundir()}); "
                         "use -M /proc/PID/mem or -M vmcore")
    if len(live) > 1:
        raise NlistError("several vkernels are running (kernel pids "
                         f"{', '.join(map(str, live))}): use -M /proc/PID/mem")
    return live[0]


def supervisor_hint(pid):
    """For a pid that is a vkernel supervisor (the -p pidfile's pid), where
    its kernel is: " (the supervisor of kernel 124: -M /proc/124/mem)"."""
    for kpid, path in _namelists():
        try:
            nl = read_namelist(path)
        except NlistError:
            continue
        if nl.get("ppid") == pid and _alive(kpid, path):
            return f" (it is the supervisor of kernel {kpid}: -M /proc/{kpid}/mem)"
    return ""


# -- reading ------------------------------------------------------------------------------
def parse_namelist(text, where="namelist"):
    try:
        nl = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise NlistError(f"{where}: not a vkernel namelist") from None
    if not isinstance(nl, dict) or nl.get("magic") != MAGIC:
        raise NlistError(f"{where}: not a vkernel namelist")
    missing = [k for k in ("pid", "starttime", "layout", "symbols", "types", "constants")
               if k not in nl]
    if missing:
        raise NlistError(f"{where}: incomplete namelist (no {', '.join(missing)})")
    for section in _ADDR_SECTIONS:
        nl[section] = {k: int(v, 16) for k, v in nl.get(section, {}).items()}
    nl["slots"] = {int(k, 16): v for k, v in nl.get("slots", {}).items()}
    return nl


def read_namelist(path):
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise NlistError(f"{path}: {e.strerror}") from None
    return parse_namelist(text, path)


def kvm_nlist(kd, names):
    """{name: address} for symbol names: a namelist symbol ("allproc") or a
    module global ("kern_shutdown.panicstr", "vkernel.kernel.msgbuf._ring"),
    read from the module's dict in the kernel's memory.  KvmError
    `NAME: no such symbol` when a name resolves to nothing."""
    from .kvm import KvmError
    from .kvm_pyobj import PyMem
    nl, mem, out = kd.nlist, PyMem(kd), {}
    for name in names:
        if name in nl["symbols"]:
            out[name] = nl["symbols"][name]
            continue
        modname, _, attr = name.rpartition(".")
        mods = [a for m, a in nl["modules"].items() if m == modname or m.endswith("." + modname)]
        addr = mem.dict_get_str(mods[0], attr) if len(mods) == 1 and attr else None
        if addr is None:
            raise KvmError(f"{name}: no such symbol")
        out[name] = addr
    return out


# -- writing (in the kernel) -----------------------------------------------------------------
def _hex(d):
    return {k: f"{v:#x}" for k, v in d.items()}


def _slotted_classes(modules):
    seen = {}
    for mod in modules.values():
        for obj in list(vars(mod).values()):
            if isinstance(obj, type) and "__slots__" in obj.__dict__ \
                    and obj.__module__ == mod.__name__:
                seen[id(obj)] = obj
    return seen.values()


def _slots(modules):
    from . import kvm_layout
    out = {}
    for cls in _slotted_classes(modules):
        try:
            offsets = kvm_layout.slot_offsets(cls)
        except (TypeError, kvm_layout.LayoutError):
            continue            # a class object.__new__ cannot make: not readable by slots
        if offsets:
            out[f"{id(cls):#x}"] = offsets
    return out


def _classes():
    from vkernel.kernel import proc, vm_map
    from vkernel.tty import tty
    named = {"Proc": proc.Proc, "Lwp": proc.Lwp, "Pgrp": proc.Pgrp, "Session": proc.Session,
             "Ucred": proc.Ucred, "VmSpace": vm_map.VmSpace, "Entry": vm_map.Entry,
             "Tty": tty.Tty}
    return {k: id(v) for k, v in named.items()}


def _types():
    import collections
    types = {"NoneType": type(None), "bool": bool, "int": int, "float": float, "str": str,
             "bytes": bytes, "tuple": tuple, "list": list, "dict": dict, "set": set,
             "deque": collections.deque}
    return {k: id(v) for k, v in types.items()}


def _symbols():
    from vkernel.kernel import kern_proc, msgbuf
    sym = {"allproc": id(kern_proc.allproc), "alllwp": id(kern_proc.alllwp),
           "pgrphash": id(kern_proc.pgrphash), "msgbuf": id(msgbuf._ring)}
    info = sys.modules.get("vkernel.syscalls.linux64.sys_info")
    if info is not None:
        sym["hostname"] = id(info.HOSTNAME)
    return sym


def _values():
    tmod = sys.modules.get("vkernel.syscalls.linux64.sys_time")
    boot_mono = tmod.BOOT_TIME if tmod is not None else time.monotonic()
    return {"boottime_mono": boot_mono,
            "boottime": time.time() - (time.monotonic() - boot_mono)}


def _pflags():
    """proc.py's p_flags bits (P_WEXIT, P_PPWAIT, ...), for ps's STAT letters."""
    from vkernel.kernel import proc
    return {k: v for k, v in vars(proc).items() if k.startswith("P_") and isinstance(v, int)}


def namelist():
    """The namelist of this kernel, as a dict ready for json."""
    from . import kvm_layout
    classes = _classes()                # imports the struct modules first
    modules = {name: mod for name, mod in list(sys.modules.items())
               if (name == "vkernel" or name.startswith("vkernel.")) and mod is not None}
    return {
        "magic": MAGIC, "pid": os.getpid(), "ppid": os.getppid(),
        "starttime": process_starttime(os.getpid()), "written": time.time(),
        "python": sys.version.split()[0], "executable": sys.executable,
        "layout": kvm_layout.probe(),
        "symbols": _hex(_symbols()),
        "modules": _hex({name: id(vars(mod)) for name, mod in modules.items()}),
        "types": _hex(_types()),
        "constants": _hex({"None": id(None), "True": id(True), "False": id(False)}),
        "classes": _hex(classes),
        "slots": _slots(modules),
        "values": _values(),
        "pflags": _pflags(),
    }


def prepare_dir(d):
    """Make a directory of ours (0700); refuse a symbolic link or a directory
    another user owns (the run directory is in /tmp)."""
    os.makedirs(d, mode=0o700, exist_ok=True)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode):
        raise NlistError(f"{d} is not a directory")
    if st.st_uid != os.getuid():
        raise NlistError(f"{d} belongs to uid {st.st_uid}, not to us")


def remove_stale():
    """Delete the namelists of kernels that are no longer running."""
    for pid, path in _namelists():
        if pid != os.getpid() and not _alive(pid, path):
            try:
                os.unlink(path)
            except OSError:
                pass


def write_namelist(path=None):
    """Write this kernel's namelist (default <rundir>/kernel.<pid>) and
    return its path.  Call it once the kernel's modules are loaded (the
    syscall table too): its `modules` section lists what is loaded now.
    It never stops a boot: if the file cannot be written, the reason goes
    to the host's stderr (not to the guest's message buffer) and it
    returns None."""
    path = os.path.abspath(path or default_path(os.getpid()))
    try:
        prepare_dir(os.path.dirname(path))
        remove_stale()
        text = json.dumps(namelist(), indent=1, sort_keys=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, path)
    except (OSError, NlistError) as e:
        print(f"vkernel: cannot write the namelist {path}: {e}", file=sys.stderr)
        return None
    return path
