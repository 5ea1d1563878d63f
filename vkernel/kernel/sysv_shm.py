"""System V shared memory: shmget, shmat, shmdt, shmctl.

BSD counterpart: sys/kern/sysv_shm.c (shmsegs[], shm_find_segment_by_key,
shmget_allocate_segment, shm_delete_mapping); the semantics are Linux's
ipc/shm.c and ipc/util.c (ipcperms, ids as seq * IPCMNI + index, SHM_DEST,
attaching a removed segment).

A segment is an unnamed memfs file of the segment's size (a MemNode of a
private tmpfs mount, as Linux keeps its segments on the internal shm_mnt);
its data lives in a kernel-owned host memfd from the start, and shmat(2) is
a MAP_SHARED mapping of that descriptor (VmSpace.mmap with hostfd=, obj=),
so every attachment shares the host's pages.

Attachments are not counted by hand: shm_nattch is the number of vm_map
entries, in all address spaces, whose object is the segment's file.  fork
copies the entries, exec and exit clear them (VmSpace.clear / release), so
the count is right without hooks.  The table holds the file strongly until
IPC_RMID; from then on only the mappings do, and the segment disappears
with the last of them (a weak reference notices it), as shm_destroy runs at
the last detach of a SHM_DEST segment.
"""
import time
import weakref

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import ipc as I
from vkernel.abi.linux import mman as M
from vkernel.fs.memfs.memfs_vfsops import MemMount
from vkernel.vfs.vnode import VREG

from .errors import KernelError
from .kern_proc import allproc
from .vm_map import PAGE, page_round

_shm_mount = None
shmsegs = {}                # index -> ShmSegment (BSD shmsegs[])
_seqs = {}                  # index -> the last sequence number used there


class ShmSegment:
    """struct shmid_kernel: one segment, its ipc_perm and its file."""

    def __init__(self, idx, seq, key, size, mode, td):
        p, cred = td.lwp_proc, td.lwp_proc.p_ucred
        self.idx, self.seq, self.key = idx, seq, key
        self.uid = self.cuid = cred.uid
        self.gid = self.cgid = cred.gid
        self.mode = mode & 0o777
        self.segsz = size
        self.atime = self.dtime = 0
        self.ctime = int(time.time())
        self.cpid = self.lpid = p.p_pid
        self.vp = _new_file(size, self.uid, self.gid)
        self._ref = weakref.ref(self.vp)

    @property
    def id(self):
        return self.seq * I.IPCMNI + self.idx

    def file(self):
        """The segment's file, or None once it is removed and unmapped."""
        return self._ref()

    def __repr__(self):
        return f"<shm {self.id} key {self.key:#x} {self.segsz} bytes mode {self.mode:o}>"


def _new_file(size, uid, gid):
    """An unnamed memfs file of `size` bytes, already in a (sparse) host memfd."""
    global _shm_mount
    if _shm_mount is None:
        _shm_mount = MemMount(source="sysvshm", size_limit=1 << 62, max_file=1 << 62)
    vp = _shm_mount.node_class(_shm_mount, VREG, 0o600, uid, gid)
    vp.host_fd(True)
    try:
        vp.setattr(size=size)
    except KernelError as e:
        raise KernelError(E.ENOMEM if e.errno in (E.ENOSPC, E.EFBIG) else e.errno) from None
    return vp


# -- the table -------------------------------------------------------------------------
def _sweep():
    """Forget removed segments whose last mapping is gone (shm_destroy)."""
    for idx in [i for i, s in shmsegs.items() if s.file() is None]:
        del shmsegs[idx]


def _alloc_index():
    for idx in range(I.SHMMNI):
        if idx not in shmsegs:
            return idx
    raise KernelError(E.ENOSPC)


def _by_key(key):
    for seg in shmsegs.values():
        if seg.key == key and not seg.mode & I.SHM_DEST:
            return seg
    return None


def shm_lookup(shmid):
    """The segment with this id (removed ones too, until destroyed), or EINVAL."""
    _sweep()
    if shmid < 0:
        raise KernelError(E.EINVAL)
    seg = shmsegs.get(shmid % I.IPCMNI)
    if seg is None or seg.seq != shmid // I.IPCMNI:
        raise KernelError(E.EINVAL)
    return seg


def shm_nattch(seg):
    """Attachments: vm_map entries of the segment's file in every address space."""
    vp = seg.file()
    if vp is None:
        return 0
    seen, n = set(), 0
    for p in list(allproc.values()):
        vm = p.p_vmspace
        if vm is None or id(vm) in seen:
            continue
        seen.add(id(vm))
        n += sum(1 for e in vm.entries if e.obj is vp)
    return n


# -- permissions (ipc/util.c) -------------------------------------------------------------
def _in_group(cred, gid):
    return cred.gid == gid or gid in cred.groups


def ipcperms(cred, seg, flag):
    """EACCES unless the mode bits grant the access `flag` asks (S_IRUGO...)."""
    requested = (flag >> 6 | flag >> 3 | flag) & 7
    granted = seg.mode
    if cred.uid in (seg.cuid, seg.uid):
        granted >>= 6
    elif _in_group(cred, seg.gid) or _in_group(cred, seg.cgid):
        granted >>= 3
    if requested & ~granted & 7 and cred.uid != 0:
        raise KernelError(E.EACCES)


def _check_owner(cred, seg):
    """IPC_SET / IPC_RMID: the creator, the owner or root (ipcctl_obtain_check)."""
    if cred.uid not in (seg.cuid, seg.uid, 0):
        raise KernelError(E.EPERM)


# -- shmget ------------------------------------------------------------------------------
def shmget(td, key, size, flags):
    """shmget(2): the id of the segment of `key`, created if asked."""
    _sweep()
    if key != I.IPC_PRIVATE:
        seg = _by_key(key)
        if seg is not None:
            if flags & I.IPC_CREAT and flags & I.IPC_EXCL:
                raise KernelError(E.EEXIST)
            if size > seg.segsz:
                raise KernelError(E.EINVAL)
            ipcperms(td.lwp_proc.p_ucred, seg, flags & 0o777)
            return seg.id
        if not flags & I.IPC_CREAT:
            raise KernelError(E.ENOENT)
    return _newseg(td, key, size, flags)


def _newseg(td, key, size, flags):
    if size < I.SHMMIN or size > I.SHMMAX or page_round(size) < size:
        raise KernelError(E.EINVAL)
    idx = _alloc_index()
    seq = (_seqs.get(idx, -1) + 1) % 0x10000
    seg = ShmSegment(idx, seq, key, size, flags, td)
    _seqs[idx] = seq
    shmsegs[idx] = seg
    return seg.id


# -- shmat / shmdt -----------------------------------------------------------------------
def _attach_address(vm, addr, size, flags):
    """Where to map: 0 (the kernel chooses) or a checked fixed address."""
    if addr & (I.SHMLBA - 1):
        if not flags & I.SHM_RND:
            raise KernelError(E.EINVAL)
        addr &= ~(I.SHMLBA - 1)
        if not addr and flags & I.SHM_REMAP:
            raise KernelError(E.EINVAL)
    if addr:
        vm.check_range(addr, addr + size)
        if not flags & I.SHM_REMAP and vm.overlapping(addr, addr + size):
            raise KernelError(E.EINVAL)
    return addr


def shmat(td, shmid, addr, flags):
    """shmat(2): map the segment MAP_SHARED; returns the guest address."""
    seg = shm_lookup(shmid)
    vp = seg.file()
    if flags & I.SHM_RDONLY:
        prot, acc = M.PROT_READ, 0o444
    else:
        prot, acc = M.PROT_READ | M.PROT_WRITE, 0o666
    if flags & I.SHM_EXEC:
        prot |= M.PROT_EXEC
        acc |= 0o111
    ipcperms(td.lwp_proc.p_ucred, seg, acc)
    vm = td.lwp_proc.p_vmspace
    size = page_round(seg.segsz)
    addr = _attach_address(vm, addr, size, flags)
    mflags = M.MAP_SHARED | (M.MAP_FIXED if addr else 0)
    hostfd = vp.host_fd(bool(prot & M.PROT_WRITE))
    start = vm.mmap(addr, size, prot, mflags, f"/SYSV{seg.key & 0xFFFFFFFF:08x} (deleted)",
                    0, hostfd=hostfd, obj=vp)
    seg.atime, seg.lpid = int(time.time()), td.lwp_proc.p_pid
    return start


def _segment_of(obj):
    if obj is None:
        return None
    for seg in shmsegs.values():
        if seg.file() is obj:
            return seg
    return None


def _detach(vm, addr):
    """Unmap the attachment starting at addr; returns its segment.  The
    entries and the file are only referenced in this frame, so that they
    are gone when it returns."""
    e = vm.find(addr)
    seg = _segment_of(e.obj) if e is not None and e.start - e.offset == addr else None
    if seg is None:
        raise KernelError(E.EINVAL)
    vp, end = e.obj, addr + page_round(seg.segsz)
    for part in list(vm.overlapping(addr, end)):
        if part.obj is vp and part.start - part.offset == addr:
            vm.munmap(part.start, part.end - part.start)
    return seg


def shmdt(td, addr):
    """shmdt(2): unmap the attachment that starts at addr."""
    if addr & (PAGE - 1):
        raise KernelError(E.EINVAL)
    seg = _detach(td.lwp_proc.p_vmspace, addr)
    seg.dtime, seg.lpid = int(time.time()), td.lwp_proc.p_pid
    _sweep()
    return 0


# -- shmctl ------------------------------------------------------------------------------
def shm_stat(td, seg, check=True):
    """struct shmid64_ds of a segment (IPC_STAT); EACCES without read access."""
    if check:
        ipcperms(td.lwp_proc.p_ucred, seg, 0o444)
    return I.SHMID64_DS.pack(
        perm_key=seg.key, perm_uid=seg.uid, perm_gid=seg.gid, perm_cuid=seg.cuid,
        perm_cgid=seg.cgid, perm_mode=seg.mode, perm_seq=seg.seq,
        shm_segsz=seg.segsz, shm_atime=seg.atime, shm_dtime=seg.dtime,
        shm_ctime=seg.ctime, shm_cpid=seg.cpid, shm_lpid=seg.lpid,
        shm_nattch=shm_nattch(seg))


def shm_set(td, seg, buf):
    """IPC_SET from a struct shmid64_ds: owner, group and the 9 mode bits."""
    _check_owner(td.lwp_proc.p_ucred, seg)
    ds = I.SHMID64_DS.unpack(buf)
    seg.uid, seg.gid = ds.perm_uid, ds.perm_gid
    seg.mode = (seg.mode & ~0o777) | (ds.perm_mode & 0o777)
    seg.ctime = int(time.time())


def shm_rmid(td, seg):
    """IPC_RMID: the key is freed at once; the segment goes with its last
    attachment (the table drops its reference to the file)."""
    _check_owner(td.lwp_proc.p_ucred, seg)
    seg.mode |= I.SHM_DEST
    seg.key = I.IPC_PRIVATE
    seg.ctime = int(time.time())
    seg.vp = None
    _sweep()


def shm_lock(td, seg, lock):
    """SHM_LOCK / SHM_UNLOCK: only the SHM_LOCKED mark (nothing is swapped)."""
    _check_owner(td.lwp_proc.p_ucred, seg)
    seg.mode = seg.mode | I.SHM_LOCKED if lock else seg.mode & ~I.SHM_LOCKED


def shm_index_stat(td, index, any_access):
    """SHM_STAT / SHM_STAT_ANY: the segment at a table index; returns it."""
    _sweep()
    seg = shmsegs.get(index) if index >= 0 else None
    if seg is None:
        raise KernelError(E.EINVAL)
    return seg, shm_stat(td, seg, check=not any_access)


def shm_max_index():
    _sweep()
    return max(shmsegs, default=0)


def shminfo():
    """IPC_INFO: struct shminfo64 (the limits)."""
    return I.SHMINFO64.pack(shmmax=I.SHMMAX, shmmin=I.SHMMIN, shmmni=I.SHMMNI,
                            shmseg=I.SHMSEG, shmall=I.SHMALL)


def shm_info():
    """SHM_INFO: struct shm_info (ids in use and their pages)."""
    _sweep()
    tot = sum(page_round(s.segsz) // PAGE for s in shmsegs.values())
    return I.SHM_INFO_DS.pack(used_ids=len(shmsegs), shm_tot=tot, shm_rss=tot)
