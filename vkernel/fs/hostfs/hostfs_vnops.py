"""hostfs vnodes: a host file reached through an O_PATH descriptor.

FreeBSD counterpart: the vnops of a disk filesystem (sys/fs/ext2fs/
ext2_vnops.c; ext2_lookup.c for directories), here answered by host
syscalls; gVisor's gofer does the same job.

Each HostVnode owns an O_PATH|O_NOFOLLOW descriptor opened relative to its
parent's, so it keeps naming the same inode across renames and unlinks.
Directory operations work relative to that descriptor on names checked by
hostname(); data moves through a second, lazily opened descriptor
re-opened from fdpath() (regular files only).  Symlinks are read, never
followed.  '..' is never asked of the host: a directory's parent comes
from the VFS name cache (Vnode.parent), which namei fills on the way down.
"""
import os
import weakref

from vkernel.abi.linux import errno as E
from vkernel.abi.linux import fcntl as F
from vkernel.abi.linux import stat as S
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vnode import (MODE_MASK, VDIR, VLNK, VREG, Vattr, Vnode,
                               iftovt, ns_to_ts, ts_to_ns, vttodt, vttoif)

from .hostfs_meta import Meta
from .hostfs_subr import fdpath, guestname, host, hostname, renameat2, utimens_fd

_UNREAD = object()          # HostVnode._meta before the first look
_READ_ONLY_ERRORS = (E.EACCES, E.EPERM, E.EROFS, E.ETXTBSY)
_O_NEW = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _close_all(fds):
    for fd in fds:
        os.close(fd)


def host_perm(mode, vtype):
    """Host permission bits for a guest mode: the owner (us) keeps access."""
    return (mode & 0o777) | (0o700 if vtype == VDIR else 0o600)


class HostVnode(Vnode):
    """A file of the host directory tree."""

    def __init__(self, mount, vtype, fd, st):
        super().__init__(mount, vtype)
        self.fd = fd
        self.key = (st.st_dev, st.st_ino)
        self.host_vtype = S.S_IFMT & st.st_mode
        self._fds = [fd]            # closed when the vnode dies
        weakref.finalize(self, _close_all, self._fds)
        self._io = None             # (fd, writable) for data
        self._map_ro = None         # a read-only fd for read-only shared mappings
        self._meta = _UNREAD

    # -- metadata ----------------------------------------------------------
    def _path(self):
        """fdpath for host calls that resolve a path; not for symlinks."""
        return None if self.host_vtype == S.S_IFLNK else fdpath(self.fd)

    def meta(self):
        """The stored guest Meta (uid, gid, mode, rdev), or None."""
        if self._meta is _UNREAD:
            self._meta = self.mount.meta.load(self.key, self._path())
        return self._meta

    def set_meta(self, uid=None, gid=None, mode=None, rdev=None, fresh=False):
        """Change guest metadata.  `fresh` files with default values store none."""
        stored = self.meta()
        old = stored or Meta(0, 0, self._stat().st_mode & (S.S_IFMT | MODE_MASK), 0)
        new = Meta(old.uid if uid is None else uid, old.gid if gid is None else gid,
                   old.mode if mode is None else mode, old.rdev if rdev is None else rdev)
        if fresh and stored is None and new == old:
            return
        self.mount.meta.store(self.key, self._path(), new)
        self._meta = new

    def _stat(self):
        with host():
            return os.fstat(self.fd)

    def getattr(self):
        st, meta = self._stat(), self.meta()
        mode = (meta.mode if meta else st.st_mode) & MODE_MASK
        return Vattr(type=self.vtype, mode=mode, nlink=st.st_nlink,
                     uid=meta.uid if meta else 0, gid=meta.gid if meta else 0,
                     size=st.st_size, rdev=meta.rdev if meta else st.st_rdev,
                     ino=st.st_ino, dev=self.mount.dev, blksize=st.st_blksize,
                     blocks=st.st_blocks, atime=ns_to_ts(st.st_atime_ns),
                     mtime=ns_to_ts(st.st_mtime_ns), ctime=ns_to_ts(st.st_ctime_ns))

    def setattr(self, mode=None, uid=None, gid=None, size=None, atime=None, mtime=None):
        if size is not None:
            with host():
                os.ftruncate(self._iofd(True), size)
        if mode is not None or uid is not None or gid is not None:
            typ = vttoif(self.vtype)
            self.set_meta(uid, gid, None if mode is None else typ | (mode & MODE_MASK))
            if mode is not None:
                self._host_chmod(mode)
        if atime is not None or mtime is not None:
            self._utimes(atime, mtime)

    def _host_chmod(self, mode):
        if self._path() is not None:
            try:
                os.chmod(self._path(), host_perm(mode, self.vtype))
            except OSError:
                pass            # the guest's mode lives in the metadata anyway

    def _utimes(self, atime, mtime):
        st = self._stat()
        a = st.st_atime_ns if atime is None else ts_to_ns(atime)
        m = st.st_mtime_ns if mtime is None else ts_to_ns(mtime)
        with host():
            if self._path() is None:
                utimens_fd(self.fd, a, m)       # a symlink: by its own O_PATH fd
            else:
                os.utime(self._path(), ns=(a, m))

    # -- data --------------------------------------------------------------
    def host_fd(self, write):
        """A host descriptor of this file's data for the kernel to map into a
        guest (the platform duplicates it; the vnode keeps ownership).

        Without `write` the descriptor is read-only: the guest could
        otherwise mprotect a read-only shared mapping writable and write a
        file it may only read (the host checks the descriptor's mode)."""
        if write:
            return self._iofd(True)
        self._iofd(False)                       # a regular file with readable data
        if self._map_ro is None:
            with host():
                self._map_ro = os.open(fdpath(self.fd), os.O_RDONLY | os.O_CLOEXEC)
            self._fds.append(self._map_ro)
        return self._map_ro

    def _iofd(self, write):
        """A descriptor for reading (and writing) a regular file's data."""
        if self.vtype != VREG or self.host_vtype != S.S_IFREG:
            raise self._nodata()
        if self._io is None or (write and not self._io[1]):
            self._io = self._open_io(write)
            self._fds.append(self._io[0])
        return self._io[0]

    def _open_io(self, write):
        """(fd, writable): read-write if the host lets us, else read-only."""
        try:
            return os.open(fdpath(self.fd), os.O_RDWR | os.O_CLOEXEC), True
        except OSError as e:
            if write or e.errno not in _READ_ONLY_ERRORS:
                raise KernelError(e.errno) from None
        with host():
            return os.open(fdpath(self.fd), os.O_RDONLY | os.O_CLOEXEC), False

    def read(self, off, n):
        with host():
            return os.pread(self._iofd(False), n, off)

    def write(self, off, data):
        with host():
            return os.pwrite(self._iofd(True), data, off)

    def fsync(self):
        if self._io is not None:
            with host():
                os.fsync(self._io[0])
        return 0

    def readlink(self):
        if self.vtype != VLNK:
            raise KernelError(E.EINVAL)
        with host():
            return guestname(os.readlink(b"", dir_fd=self.fd))

    # -- directories -------------------------------------------------------
    def _dir(self):
        if self.vtype != VDIR:
            raise KernelError(E.ENOTDIR)

    def lookup(self, name):
        self._dir()
        return self.mount.vget(self, name)

    def readdir(self):
        self._dir()
        with host():
            fd = os.open(b".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
            try:
                with os.scandir(fd) as it:
                    ents = [(guestname(e.name), e.inode(), self._dtype(e)) for e in it]
            finally:
                os.close(fd)
        return ents

    def _dtype(self, entry):
        if entry.is_symlink():
            return S.DT_LNK
        if entry.is_dir(follow_symlinks=False):
            return S.DT_DIR
        if entry.is_file(follow_symlinks=False):
            return S.DT_UNKNOWN if self._holds_special() else S.DT_REG
        return vttodt(iftovt(entry.stat(follow_symlinks=False).st_mode))

    def _holds_special(self):
        return self.mount.meta.is_special_dir(self.key, self._path())

    def _note_special(self, vtype):
        if vtype not in (VREG, VDIR, VLNK):
            self.mount.meta.mark_special_dir(self.key, self._path())

    def _newfile(self, name, vtype, mode, uid, gid, rdev=0):
        """An empty host file standing for a guest `vtype` file."""
        with host():
            fd = os.open(hostname(name), _O_NEW | os.O_WRONLY,
                         host_perm(mode, vtype), dir_fd=self.fd)
            os.close(fd)
        self._note_special(vtype)
        vp = self.mount.vget(self, name)
        vp.vtype = vtype
        vp.set_meta(uid, gid, vttoif(vtype) | (mode & MODE_MASK), rdev, fresh=True)
        return vp

    def create(self, name, mode, uid, gid):
        self._dir()
        return self._newfile(name, VREG, mode, uid, gid)

    def mknod(self, name, vtype, mode, rdev, uid, gid):
        self._dir()
        if vtype in (VDIR, VLNK):
            raise KernelError(E.EINVAL)
        return self._newfile(name, vtype, mode, uid, gid, rdev)

    def mkdir(self, name, mode, uid, gid):
        self._dir()
        with host():
            os.mkdir(hostname(name), host_perm(mode, VDIR), dir_fd=self.fd)
        vp = self.mount.vget(self, name)
        vp.set_meta(uid, gid, S.S_IFDIR | (mode & MODE_MASK), fresh=True)
        return vp

    def symlink(self, name, target, uid, gid):
        self._dir()
        with host():
            os.symlink(target.encode("utf-8", "surrogateescape"), hostname(name),
                       dir_fd=self.fd)
        vp = self.mount.vget(self, name)
        vp.set_meta(uid, gid, S.S_IFLNK | 0o777, fresh=True)
        return vp

    def link(self, vp, name):
        self._dir()
        if vp.mount is not self.mount:
            raise KernelError(E.EXDEV)
        if vp.vtype == VDIR:
            raise KernelError(E.EPERM)
        with host():
            # AT_SYMLINK_FOLLOW on the magic link reaches vp's own inode.
            os.link(fdpath(vp.fd), hostname(name), dst_dir_fd=self.fd,
                    follow_symlinks=True)
        self._note_special(vp.vtype)

    def _remove(self, name, remove):
        hname = hostname(name)
        with host():
            st = os.stat(hname, dir_fd=self.fd, follow_symlinks=False)
            remove(hname, dir_fd=self.fd)
        if st.st_nlink <= 1 or S.S_IFMT & st.st_mode == S.S_IFDIR:
            self.mount.meta.forget((st.st_dev, st.st_ino))

    def unlink(self, name):
        self._dir()
        self._remove(name, os.unlink)

    def rmdir(self, name):
        self._dir()
        self._remove(name, os.rmdir)

    def rename(self, name, tdvp, tname, flags):
        self._dir()
        if not isinstance(tdvp, HostVnode) or tdvp.mount is not self.mount:
            raise KernelError(E.EXDEV)
        tdvp._dir()
        vp = self.lookup(name)
        tvp = tdvp.lookup(tname) if flags & F.RENAME_EXCHANGE else None
        with host():
            renameat2(self.fd, hostname(name), tdvp.fd, hostname(tname), flags)
        tdvp._note_special(vp.vtype)
        if tvp is not None:
            self._note_special(tvp.vtype)
