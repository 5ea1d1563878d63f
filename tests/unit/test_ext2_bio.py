"""The buffer cache under ext2 (vkernel/vfs/vfs_bio.py): block devices on
image files, copy-on-write devices, bread/bdwrite/brelse, write-back with a
bound on dirty buffers, eviction, and the whole-block data path."""
import errno
import hashlib
import os

import pytest

from vkernel.abi.linux import errno as E
from vkernel.kernel.errors import KernelError
from vkernel.vfs.vfs_bio import BlockDevice, BufCache, CowDevice

BS = 1024


@pytest.fixture
def image(tmp_path):
    path = str(tmp_path / "disk")
    with open(path, "wb") as f:
        f.write(b"".join(bytes([i % 251]) * BS for i in range(64)))
    return path


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def test_ext2_bio_device_bounds(image):
    dev = BlockDevice(image)
    assert dev.size == 64 * BS
    assert dev.read(BS, 3) == bytes([1]) * 3
    for off, n in ((-1, 1), (64 * BS - 1, 2), (64 * BS, 1)):
        with pytest.raises(KernelError) as exc:
            dev.read(off, n)
        assert exc.value.errno == E.EIO
    with pytest.raises(KernelError):
        dev.write(64 * BS - 1, b"ab")
    dev.write(0, b"xy")
    dev.close()
    assert os.path.getsize(image) == 64 * BS


def test_ext2_bio_lock_and_readonly(image):
    dev = BlockDevice(image)
    with pytest.raises(KernelError) as exc:
        BlockDevice(image)
    assert exc.value.errno == E.EBUSY and "already in use" in str(exc.value)
    with pytest.raises(KernelError):
        CowDevice(image)             # a shared lock waits for the writer too
    dev.close()
    ro1, ro2 = BlockDevice(image, readonly=True), CowDevice(image)
    with pytest.raises(KernelError) as exc:
        ro1.write(0, b"x")
    assert exc.value.errno == E.EROFS
    ro1.close()
    ro2.close()
    with pytest.raises(KernelError) as exc:
        BlockDevice(image + ".missing")
    assert exc.value.errno == errno.ENOENT


def test_ext2_bio_cow_device_keeps_writes_in_memory(image):
    before = digest(image)
    dev = CowDevice(image)
    dev.write(BS - 2, b"ABCD")                      # straddles two chunks
    dev.write(10 * BS, b"Z" * (8 * BS))             # whole chunks
    assert dev.read(BS - 4, 8) == bytes([0, 0]) + b"ABCD" + bytes([1, 1])
    assert dev.read(10 * BS - 1, 2) == bytes([9]) + b"Z"
    assert dev.read(18 * BS - 1, 2) == b"Z" + bytes([18])
    assert dev.read(30 * BS, BS) == bytes([30]) * BS
    dev.flush()
    dev.close()
    assert digest(image) == before


def test_ext2_bio_bread_bdwrite_flush(image):
    dev = BlockDevice(image)
    bio = BufCache(dev, BS, 64)
    bp = bio.bread(5)
    assert bp.data == bytes([5]) * BS and bio.bread(5) is bp
    bp.data[0:3] = b"new"
    bio.bdwrite(bp)
    for n in (6, 7, 9):
        b = bio.getblk(n)
        b.data[:] = bytes([200]) * BS
        bio.bdwrite(b)
    assert bio.dirty_count() == 4
    assert dev.read(5 * BS, 3) == bytes([5]) * 3       # not yet on disk
    writes = []
    real = dev.write
    dev.write = lambda off, data: (writes.append((off, len(data))), real(off, data))
    bio.flush()
    assert writes == [(5 * BS, 3 * BS), (9 * BS, BS)]    # adjacent blocks together
    assert dev.read(5 * BS, 3) == b"new" and bio.dirty_count() == 0
    with pytest.raises(KernelError):
        bio.bread(64)
    bio.brelse(bp)
    dev.close()


def test_ext2_bio_dirty_bound_and_eviction(image):
    dev = BlockDevice(image)
    bio = BufCache(dev, BS, 64, max_bytes=16 * BS, max_dirty=4 * BS)
    bio.max_bufs, bio.max_dirty = 8, 4
    pinned = bio.bread(0)
    bio.pin(pinned)
    for n in range(1, 40):
        bp = bio.bread(n)
        bp.data[0] = 0xEE
        bio.bdwrite(bp)
        assert bio.dirty_count() <= 4
    bio.trim()
    assert len(bio) <= 8 and bio.incore(0) is pinned
    bio.sync()
    assert all(dev.read(n * BS, 1) == b"\xee" for n in range(1, 40))
    bio.binval(39)
    assert bio.incore(39) is None
    dev.close()


def test_ext2_bio_whole_block_path_is_coherent(image):
    dev = BlockDevice(image)
    bio = BufCache(dev, BS, 64)
    cached = bio.bread(21)
    cached.data[:4] = b"DIRT"
    bio.bdwrite(cached)
    assert bio.read_blocks([20, 21, 0, 22]) == \
        bytes([20]) * BS + b"DIRT" + bytes([21]) * (BS - 4) + bytes(BS) + bytes([22]) * BS
    bio.write_blocks([21, 22, 40], b"a" * BS + b"b" * BS + b"c" * BS)
    assert cached.data == b"a" * BS and not cached.dirty     # the cached copy follows
    assert dev.read(40 * BS, 2) == b"cc"
    with pytest.raises(KernelError):
        bio.read_blocks([63, 64])
    dev.close()
