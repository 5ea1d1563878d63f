"""Path name lookup: namei() turns a path into a vnode.

FreeBSD counterpart: sys/kern/vfs_lookup.c (namei, lookup, struct
nameidata); the semantics follow Linux fs/namei.c path_lookupat and
link_path_walk, since our guests are Linux programs:

  * absolute paths start at nd.root, relative ones at nd.cwd;
  * '.' is the directory itself; '..' never rises above nd.root (the
    process root, so a chroot confines) and, at the root of a mount,
    crosses to the parent of the vnode the mount covers;
  * mount points are crossed downward after every lookup;
  * symlinks inside the path are always followed, the last component's only
    when nd.follow (or the path ends in '/', for plain lookups); the 41st
    link is ELOOP; a magic link (Vnode.magiclink, procfs) leads straight to
    the vnode it names, never through a path;
  * every directory searched needs search (x) permission;
  * a trailing '/' requires the result to be a directory.

Filesystems only ever see single, validated component names (no '.', '..',
'/' or empty names) -- hostfs's confinement rests on that.
"""
import collections
import dataclasses

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError

from .vfs_cache import cache_enter, vn_fullpath
from .vnode import VDIR, VLNK

PATH_MAX = 4096          # bytes, including the terminating NUL
NAME_MAX = 255
MAXSYMLINKS = 40

R_OK, W_OK, X_OK = 4, 2, 1
DOTS = (".", "..")
FOLLOWED = object()      # lookup() result: a symlink was queued instead


def _blen(s):
    return len(s.encode("utf-8", "surrogateescape"))


def access_ok(va, cred, want):
    """May `cred` have `want` (R_OK|W_OK|X_OK bits) on a file with attrs `va`?

    uid 0 may do anything except execute a non-directory that has no x bit
    at all (Linux generic_permission).
    """
    if not want:
        return True
    if cred.uid == 0:
        return not (want & X_OK and va.type != VDIR and not va.mode & 0o111)
    if cred.uid == va.uid:
        bits = va.mode >> 6
    elif va.gid == cred.gid or va.gid in cred.groups:
        bits = va.mode >> 3
    else:
        bits = va.mode
    return not want & ~bits & 7


def check_access(vp, cred, want):
    """access_ok on a vnode, raising EACCES."""
    if want and not access_ok(vp.getattr(), cred, want):
        raise KernelError(E.EACCES)


@dataclasses.dataclass
class NameiData:
    """struct nameidata: what to look up and from where."""
    path: str
    root: object
    cwd: object
    cred: object
    follow: bool = True
    want_parent: bool = False
    mounts: object = None


class NameiResult:
    """What namei found.

    vp      the vnode (None when want_parent and the last name is absent)
    dvp     the directory holding the last component (want_parent only)
    name    the last component ('/' for the root itself)
    trailing_slash  the path ended in '/' (creating a file there is EISDIR)
    path    the absolute path of the result, for ktrace and /proc
    """

    __slots__ = ("vp", "dvp", "name", "trailing_slash", "_root", "_base", "_trail")

    def __init__(self, walk, vp, dvp, name):
        self.vp, self.dvp, self.name = vp, dvp, name
        self.trailing_slash = walk.must_dir
        self._root, self._base = walk.root, walk.base
        self._trail = list(walk.trail)
        if vp is None:
            self._trail.append(name)

    @property
    def path(self):
        try:
            base = vn_fullpath(self._base, self._root)
        except KernelError:
            base = "?"
        return "/".join([base.rstrip("/")] + self._trail) or "/"


class _Walk:
    """The state of one lookup (link_path_walk's nameidata)."""

    def __init__(self, nd):
        self.nd = nd
        self.root = nd.root
        self.links = 0
        self.comps = collections.deque()
        self.must_dir = False
        self.dvp = nd.root if nd.path.startswith("/") else nd.cwd
        self.base, self.trail = self.dvp, []
        self._push(nd.path, final=True)

    def _push(self, path, final):
        """Queue the components of `path` before the remaining ones."""
        comps = [c for c in path.split("/") if c]
        if final and path.endswith("/") and comps:
            self.must_dir = True
        if path.startswith("/"):
            self.dvp = self.base = self.root
            self.trail = []
        self.comps.extendleft(reversed(comps))

    def traverse(self, vp):
        mounts = self.nd.mounts
        return mounts.traverse(vp) if mounts is not None else vp

    def search(self, dvp):
        """The checks before looking anything up in dvp (may_lookup)."""
        if dvp.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        if self.nd.cred.uid != 0:
            check_access(dvp, self.nd.cred, X_OK)

    def dotdot(self, vp):
        """'..' of vp: the root stays put, a mount root crosses upward."""
        while vp is not self.root:
            mnt = vp.mount
            if vp is not mnt.root:
                return self.traverse(vp.parent())
            if mnt.covered is None:
                break
            vp = mnt.covered
        return vp

    def step_dotdot(self, dvp):
        vp = self.dotdot(dvp)
        if vp is not dvp:
            if self.trail:
                self.trail.pop()
            else:
                self.base = vp
        return vp

    def follow_last(self):
        """Follow a final symlink?  A trailing '/' asks to, except when the
        caller works on the name itself (rmdir("link/") must not remove the
        directory the link points to: it is ENOTDIR, as in Linux)."""
        return self.nd.follow or (self.must_dir and not self.nd.want_parent)

    def follow(self, lvp, final):
        self.links += 1
        if self.links > MAXSYMLINKS:
            raise KernelError(E.ELOOP)
        jump = lvp.magiclink(self.nd.cred)
        if jump is not None:
            self.dvp = self.base = jump     # a magic link: go to its vnode
            self.trail = []
            return
        target = lvp.readlink()
        if not target:
            raise KernelError(E.ENOENT)
        if _blen(target) >= PATH_MAX:
            raise KernelError(E.ENAMETOOLONG)
        self._push(target, final)

    def lookup(self, dvp, name, final):
        """One component: its vnode, or FOLLOWED when it was a symlink."""
        if name == ".":
            return dvp
        if name == "..":
            return self.step_dotdot(dvp)
        if _blen(name) > NAME_MAX:
            raise KernelError(E.ENAMETOOLONG)
        vp = dvp.lookup(name)
        cache_enter(dvp, name, vp)
        if vp.vtype == VLNK and (not final or self.follow_last()):
            self.follow(vp, final)
            return FOLLOWED
        self.trail.append(name)
        return self.traverse(vp)

    def lookup_last(self, dvp, name):
        """lookup() of the last name of a create: None when it is absent."""
        links = self.links
        try:
            return self.lookup(dvp, name, final=True)
        except KernelError as e:
            if e.errno != E.ENOENT or self.links != links:   # not an empty link
                raise
            return None

    def finish(self, vp, dvp, name):
        if vp is not None and self.must_dir and vp.vtype != VDIR:
            raise KernelError(E.ENOTDIR)
        return NameiResult(self, vp, dvp, name)

    def run(self):
        while self.comps:
            dvp, name = self.dvp, self.comps.popleft()
            final = not self.comps
            self.search(dvp)
            if final and self.nd.want_parent and name not in DOTS:
                vp = self.lookup_last(dvp, name)
            else:
                vp = self.lookup(dvp, name, final)
            if vp is FOLLOWED:
                continue
            if final:
                return self.finish(vp, dvp, name)
            self.dvp = vp
        # Only slashes left: "/" itself, or a symlink to it.
        return self.finish(self.dvp, self.dvp, "/")


def nlookup(ctx, dirvp, path, follow=True, want_parent=False, cred=None):
    """namei on behalf of a VFS context (see vfs_syscalls): a NameiResult.

    Reports the path to ctx.ktrnamei; `cred` overrides ctx.cred (access(2)
    searches with the real ids).
    """
    ctx.ktrnamei(path)
    return namei(NameiData(path, ctx.root, dirvp, cred or ctx.cred, follow=follow,
                           want_parent=want_parent, mounts=ctx.mounts))


def namei(nd):
    """Look up nd.path; returns a NameiResult or raises KernelError."""
    if not nd.path:
        raise KernelError(E.ENOENT)
    if _blen(nd.path) >= PATH_MAX:
        raise KernelError(E.ENAMETOOLONG)
    return _Walk(nd).run()
