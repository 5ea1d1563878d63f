"""The buffer cache: disk blocks in memory, written back with a bound on dirty data.

FreeBSD counterpart: sys/kern/vfs_bio.c (bread, getblk, bwrite, bdwrite,
brelse, the buf queues and the dirty-buffer limit lodirtybuffers/
hidirtybuffers); Linux's is fs/buffer.c.  xv6's bio.c is the small model.

Two layers:

    BlockDevice   a disk image file read and written with os.pread/os.pwrite,
                  every request checked against the image's size, the file
                  locked with flock (exclusive for read-write use)
    CowDevice     the same image, but writes stay in memory (vkernel -R):
                  the file is opened read-only and never changes
    BufCache      Bufs keyed by block number over one device, in LRU order

Buffers: bread() returns the cached Buf (reading it on a miss), getblk()
one whose old contents do not matter (zero-filled on a miss).  A caller
changes bp.data in place, then bdwrite(bp) (delayed write: the block is
written back later) or bwrite(bp) (written now), or brelse(bp) when it only
read.  The kernel is single-threaded, so there is no B_BUSY locking: a Buf
is never evicted while a filesystem operation runs, because eviction only
happens in trim(), which a filesystem calls between operations.  Pinned
buffers (group descriptors) are never evicted at all.

Write-back: dirty buffers are written when their total passes `max_dirty`
bytes (all of them, in block order, adjacent blocks in one write), at
flush(), and at sync() which also makes the host write the image to stable
storage (fdatasync) -- what sync(2), syncfs(2) and fsync(2) need.

File data takes a side door: read_blocks() and write_blocks() move many
whole blocks with one host call per contiguous run, looking at the cache
only so that cached copies stay authoritative and coherent.
"""
import collections
import fcntl
import os

from vkernel.abi.linux import errno as E
from vkernel.kernel import msgbuf
from vkernel.kernel.errors import KernelError

DEFAULT_MAX_BYTES = 64 << 20        # cached blocks (clean ones are evicted beyond)
DEFAULT_MAX_DIRTY = 16 << 20        # delayed writes before write-back starts
COW_CHUNK = 4096


def _eio(msg):
    msgbuf.log(msg)
    return KernelError(E.EIO, msg)


class BlockDevice:
    """A disk image file as a block device (byte-addressed, bounds-checked).

    `lock` takes an flock on the file: exclusive when opened for writing,
    shared otherwise, so a second vkernel cannot write the same image.
    """

    def __init__(self, path, readonly=False, lock=True):
        self.path = path
        self.readonly = readonly
        flags = (os.O_RDONLY if readonly else os.O_RDWR) | os.O_CLOEXEC
        try:
            self.fd = os.open(path, flags)
        except OSError as e:
            raise KernelError(e.errno, f"{path}: {e.strerror}") from None
        try:
            if lock:
                self._lock(fcntl.LOCK_SH if readonly else fcntl.LOCK_EX)
            self.size = os.lseek(self.fd, 0, os.SEEK_END)
        except BaseException:
            os.close(self.fd)
            raise

    def __repr__(self):
        return f"<{type(self).__name__} {self.path}>"

    def _lock(self, how):
        try:
            fcntl.flock(self.fd, how | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KernelError(E.EBUSY, f"Disk image {self.path} is already in use") from None

    def _check(self, off, n):
        if off < 0 or n < 0 or off + n > self.size:
            raise _eio(f"{self.path}: access beyond end of device "
                       f"(offset {off}, length {n}, size {self.size})")

    def read(self, off, n):
        self._check(off, n)
        try:
            data = os.pread(self.fd, n, off)
        except OSError as e:
            raise _eio(f"{self.path}: read error at {off}: {e.strerror}") from None
        if len(data) != n:
            raise _eio(f"{self.path}: short read at {off}")
        return data

    def write(self, off, data):
        if self.readonly:
            raise KernelError(E.EROFS)
        self._check(off, len(data))
        view = memoryview(data)
        try:
            while view:
                done = os.pwrite(self.fd, view, off)
                view, off = view[done:], off + done
        except OSError as e:
            raise _eio(f"{self.path}: write error at {off}: {e.strerror}") from None

    def flush(self):
        """Make what was written durable on the host (fdatasync)."""
        if not self.readonly:
            try:
                os.fdatasync(self.fd)
            except OSError as e:
                raise _eio(f"{self.path}: flush error: {e.strerror}") from None

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class CowDevice(BlockDevice):
    """An image whose writes stay in memory: the file is only ever read.

    Written bytes live in COW_CHUNK-sized chunks; a read takes each chunk
    from memory when it was written, else from the file.
    """

    def __init__(self, path, lock=True):
        super().__init__(path, readonly=True, lock=lock)
        self._chunks = {}
        self.readonly = False       # as a device it takes writes

    def _chunk(self, idx):
        """The writable copy of chunk idx (read from the file on first write)."""
        buf = self._chunks.get(idx)
        if buf is None:
            start = idx * COW_CHUNK
            n = min(COW_CHUNK, self.size - start)
            buf = bytearray(os.pread(self.fd, n, start))
            buf.extend(bytes(n - len(buf)))
            self._chunks[idx] = buf
        return buf

    def read(self, off, n):
        self._check(off, n)
        if not self._chunks:
            return super().read(off, n)
        out, end, chunks = [], off + n, self._chunks
        while off < end:
            idx, coff = divmod(off, COW_CHUNK)
            buf = chunks.get(idx)
            if buf is not None:
                take = min(end - off, COW_CHUNK - coff)
                out.append(bytes(buf[coff:coff + take]))
                off += take
                continue
            stop = idx + 1          # a run of unwritten chunks: one host read
            while stop * COW_CHUNK < end and stop not in chunks:
                stop += 1
            stop = min(end, stop * COW_CHUNK)
            out.append(super().read(off, stop - off))
            off = stop
        return b"".join(out)

    def write(self, off, data):
        self._check(off, len(data))
        view, end = memoryview(data), off + len(data)
        pos = 0
        while off < end:
            idx, coff = divmod(off, COW_CHUNK)
            take = min(end - off, COW_CHUNK - coff)
            if take == COW_CHUNK:
                self._chunks[idx] = bytearray(view[pos:pos + take])
            else:
                self._chunk(idx)[coff:coff + take] = view[pos:pos + take]
            off, pos = off + take, pos + take

    def flush(self):
        pass

    def dirty_bytes(self):
        """Memory held by written chunks."""
        return len(self._chunks) * COW_CHUNK


class Buf:
    """struct buf: one cached block.  `data` is a bytearray of the block size."""

    __slots__ = ("blkno", "data", "dirty", "pinned", "_words")

    def __init__(self, blkno, data):
        self.blkno = blkno
        self.data = data
        self.dirty = False
        self.pinned = False
        self._words = None

    def __repr__(self):
        return f"<Buf {self.blkno}{' dirty' if self.dirty else ''}>"

    def words(self):
        """The block as an array of little-endian 32-bit words, in place."""
        if self._words is None:
            self._words = memoryview(self.data).cast("I")
        return self._words


class BufCache:
    """The cached blocks of one device; blocks are `bsize` bytes, `nblocks` of them."""

    def __init__(self, dev, bsize, nblocks, max_bytes=DEFAULT_MAX_BYTES,
                 max_dirty=DEFAULT_MAX_DIRTY):
        self.dev = dev
        self.bsize = bsize
        self.nblocks = nblocks
        self.max_bufs = max(64, max_bytes // bsize)
        self.max_dirty = max(16, max_dirty // bsize)
        self.zero = bytes(bsize)
        self._bufs = collections.OrderedDict()      # blkno -> Buf, LRU first
        self._dirty = {}                            # blkno -> Buf
        self.stats = collections.Counter()

    def __len__(self):
        return len(self._bufs)

    def _check(self, blkno):
        if not 0 <= blkno < self.nblocks:
            raise _eio(f"{self.dev.path}: block {blkno} out of range "
                       f"(device has {self.nblocks})")

    # -- the buf interface -------------------------------------------------------
    def incore(self, blkno):
        """The cached Buf of blkno, or None (no I/O)."""
        return self._bufs.get(blkno)

    def bread(self, blkno):
        """The Buf of blkno with its contents, from the cache or the device."""
        bp = self._bufs.get(blkno)
        if bp is not None:
            self._bufs.move_to_end(blkno)
            self.stats["hit"] += 1
            return bp
        self._check(blkno)
        self.stats["miss"] += 1
        bp = Buf(blkno, bytearray(self.dev.read(blkno * self.bsize, self.bsize)))
        self._bufs[blkno] = bp
        return bp

    def getblk(self, blkno):
        """The Buf of blkno for a caller that overwrites it all (zeroed on a miss)."""
        bp = self._bufs.get(blkno)
        if bp is not None:
            self._bufs.move_to_end(blkno)
            return bp
        self._check(blkno)
        bp = Buf(blkno, bytearray(self.bsize))
        self._bufs[blkno] = bp
        return bp

    def brelse(self, bp):
        """The caller is done with bp; it stays cached until trim() evicts it."""

    def bdwrite(self, bp):
        """Delayed write: bp is dirty and will be written back later."""
        if not bp.dirty:
            bp.dirty = True
            self._dirty[bp.blkno] = bp
            if self._bufs.get(bp.blkno) is not bp:
                self._bufs[bp.blkno] = bp
            if len(self._dirty) > self.max_dirty:
                self.stats["pressure"] += 1
                self.flush()

    def bwrite(self, bp):
        """Synchronous write of bp (to the host; sync() makes it durable)."""
        self.dev.write(bp.blkno * self.bsize, bp.data)
        if bp.dirty:
            bp.dirty = False
            self._dirty.pop(bp.blkno, None)

    def binval(self, blkno):
        """Forget blkno, dirty or not: the filesystem freed the block."""
        bp = self._bufs.pop(blkno, None)
        if bp is not None and bp.dirty:
            bp.dirty = False
            del self._dirty[blkno]

    def pin(self, bp):
        """Keep bp cached for good (until unpinned)."""
        bp.pinned = True

    # -- write-back ---------------------------------------------------------------
    def dirty_count(self):
        return len(self._dirty)

    def flush(self):
        """Write every dirty buffer, in block order, adjacent ones together."""
        if not self._dirty:
            return
        bps = [self._dirty[b] for b in sorted(self._dirty)]
        run = [bps[0]]
        for bp in bps[1:]:
            if bp.blkno != run[-1].blkno + 1:
                self._write_run(run)
                run = []
            run.append(bp)
        self._write_run(run)
        self.stats["flush"] += 1

    def _write_run(self, run):
        data = run[0].data if len(run) == 1 else b"".join(bp.data for bp in run)
        self.dev.write(run[0].blkno * self.bsize, data)
        for bp in run:
            bp.dirty = False
            del self._dirty[bp.blkno]

    def sync(self):
        """flush() and make the device durable: sync(2)/fsync(2) semantics."""
        self.flush()
        self.dev.flush()

    def trim(self):
        """Evict clean, unpinned buffers beyond the cache size (LRU first)."""
        bufs = self._bufs
        excess = len(bufs) - self.max_bufs
        if excess <= 0:
            return
        for _ in range(len(bufs)):
            if excess <= 0:
                break
            blkno, bp = next(iter(bufs.items()))
            if bp.dirty or bp.pinned:
                bufs.move_to_end(blkno)
                continue
            del bufs[blkno]
            excess -= 1

    def invalidate_all(self):
        """Drop everything (unmount, after sync)."""
        self._bufs.clear()
        self._dirty.clear()

    # -- file data -------------------------------------------------------------------
    def read_blocks(self, blknos):
        """The contents of the blocks `blknos` (0 means a hole: zeros), joined.

        Cached blocks come from the cache; runs of consecutive uncached
        blocks from one device read each.  Nothing is added to the cache.
        """
        out, bs, bufs = [], self.bsize, self._bufs
        i, n = 0, len(blknos)
        while i < n:
            b = blknos[i]
            if b == 0:
                out.append(self.zero)
                i += 1
                continue
            bp = bufs.get(b)
            if bp is not None:
                out.append(bytes(bp.data))
                i += 1
                continue
            j = i + 1
            while j < n and blknos[j] == b + (j - i) and blknos[j] not in bufs:
                j += 1
            self._check(b)
            self._check(b + j - i - 1)
            out.append(self.dev.read(b * bs, (j - i) * bs))
            i = j
        return b"".join(out)

    def write_blocks(self, blknos, data):
        """Write whole blocks now: data[k*bsize:(k+1)*bsize] to blknos[k].

        One device write per run of consecutive block numbers; a cached copy
        of a block is updated and becomes clean, so the cache stays coherent.
        """
        bs, bufs, view = self.bsize, self._bufs, memoryview(data)
        i, n = 0, len(blknos)
        while i < n:
            b = blknos[i]
            j = i + 1
            while j < n and blknos[j] == b + (j - i):
                j += 1
            self._check(b)
            self._check(b + j - i - 1)
            self.dev.write(b * bs, view[i * bs:j * bs])
            for k in range(i, j):
                bp = bufs.get(blknos[k])
                if bp is not None:
                    bp.data[:] = view[k * bs:(k + 1) * bs]
                    if bp.dirty:
                        bp.dirty = False
                        del self._dirty[bp.blkno]
            i = j
