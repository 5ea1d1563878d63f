"""Benchmark 5: a disk image.  dd a big file and untar a tree of small ones.

The guest runs on an ext2 image made for the run (`vkernel mkroot --image`
in the work directory); the native side runs the same busybox binary (the
root's /bin/busybox) on files in the same work directory, so both sides
write to the same host disk, pinned to the same CPU.

- disk_write: `dd if=/dev/zero of=F bs=1M count=N conv=fsync` (the
  fsync makes the guest's ext2 write everything back and the host flush
  the image, as it makes the host flush the native file).  MB/s.
- disk_read: `dd if=F of=/dev/null bs=1M count=N` of that file, just
  written, so both sides read from the host's page cache.  MB/s.
- untar: `tar -xf T -C DIR` of a tarball of generated small files (a few
  thousand, 100 B to 8 KiB, in a hundred directories; made at bench time
  with Python's tarfile and copied into the image with debugfs), each run
  into a fresh directory.  Wall time per thousand files.

Start-up cancels as everywhere (harness.compare): each figure is the
difference between N and n0 units of work divided by N - n0.
"""
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile

from .harness import BenchError, REPO, child_env, compare, compare_raw, figure, vkernel_argv

MIB = 1 << 20
N0_MIB = 8
N0_FILES = 100
FILE_SIZES = (100, 8192)
DIRS = 100


class DiskBench:
    """The image, the native directory and the commands of both sides."""

    def __init__(self, setup, workdir, image_mb):
        self.setup = setup
        self.busybox = setup.host_path("/bin/busybox")
        self.dir = os.path.join(workdir, "disk")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.image = os.path.join(self.dir, "disk.img")
        self.native = os.path.join(self.dir, "native")
        os.makedirs(self.native)
        self.runs = 0
        _mkimage(self.image, image_mb)

    def vk(self, script):
        return self.setup.run(vkernel_argv(self.image, "/bin/sh", "-c", script))

    def host(self, *args):
        return self.setup.run([self.busybox, *args], pinned=True)

    def fresh(self):
        self.runs += 1
        return f"x{self.runs}"

    def put(self, host_path, guest_name):
        """Copy a host file into the image's root directory (debugfs write)."""
        r = subprocess.run(["debugfs", "-w", "-R", f"write {host_path} {guest_name}",
                            self.image], capture_output=True, text=True)
        if r.returncode != 0 or "Allocated inode" not in r.stdout + r.stderr:
            raise BenchError(f"debugfs write {guest_name} failed: {r.stdout}{r.stderr}")


def _mkimage(image, size_mb):
    res = subprocess.run([sys.executable, "-m", "vkernel", "mkroot", "--image", "--size",
                          f"{size_mb}M", image], cwd=REPO, env=child_env(),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise BenchError(f"mkroot --image failed:\n{res.stdout}{res.stderr}")


def make_tarball(path, nfiles, seed=1):
    """nfiles generated files in DIRS directories, as an uncompressed tar."""
    rnd = random.Random(seed)
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in range(nfiles):
            data = rnd.randbytes(rnd.randint(*FILE_SIZES))
            info = tarfile.TarInfo(f"tree/d{i % DIRS:03d}/file{i:05d}.dat")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_600_000_000
            tar.addfile(info, io.BytesIO(data))


def _dd_figures(db, mib, reps):
    n = max(mib, N0_MIB + 1)

    def vk_write(k):
        return db.vk(f"dd if=/dev/zero of=/w{k} bs=1M count={k} conv=fsync")

    def host_write(k):
        return db.host("dd", "if=/dev/zero", f"of={db.native}/w{k}", "bs=1M",
                       f"count={k}", "conv=fsync")

    write = compare(reps, {"vk": (vk_write, n), "native": (host_write, n)}, N0_MIB)

    def vk_read(k):
        return db.vk(f"dd if=/w{n} of=/dev/null bs=1M count={k}")

    def host_read(k):
        return db.host("dd", f"if={db.native}/w{n}", "of=/dev/null", "bs=1M", f"count={k}")

    read = compare(reps, {"vk": (vk_read, n), "native": (host_read, n)}, N0_MIB)
    figs = {}
    for name, cmp, title in (("disk_write", write, "dd write to an ext2 image"),
                             ("disk_read", read, "dd read back")):
        vk, nat = cmp["vk"], cmp["native"]
        raw = {"mib": n, "n0_mib": N0_MIB, **compare_raw(cmp)}
        figs[name] = figure(title, "MB/s", MIB / vk["wall"] / 1e6, MIB / nat["wall"] / 1e6,
                            "native, same disk", vk["wall"] / nat["wall"], None,
                            vk["noisy"] or nat["noisy"], raw, cpu_ratio=vk["cpu"] / nat["cpu"])
    return figs


def _untar_figure(db, nfiles, reps):
    n = max(nfiles, N0_FILES + 1)
    for k in (n, N0_FILES):
        tarball = os.path.join(db.dir, f"tree{k}.tar")
        make_tarball(tarball, k)
        db.put(tarball, f"tree{k}.tar")

    def vk_untar(k):
        d = db.fresh()
        return db.vk(f"mkdir /{d} && tar -xf /tree{k}.tar -C /{d}")

    def host_untar(k):
        d = os.path.join(db.native, db.fresh())
        os.makedirs(d)
        return db.host("tar", "-xf", os.path.join(db.dir, f"tree{k}.tar"), "-C", d)

    cmp = compare(reps, {"vk": (vk_untar, n), "native": (host_untar, n)}, N0_FILES)
    vk, nat = cmp["vk"], cmp["native"]
    raw = {"files": n, "n0_files": N0_FILES, **compare_raw(cmp)}
    return {"untar": figure(f"untar {n} small files", "s/1000 files", vk["wall"] * 1000,
                            nat["wall"] * 1000, "native, same disk", vk["wall"] / nat["wall"],
                            None, vk["noisy"] or nat["noisy"], raw,
                            cpu_ratio=vk["cpu"] / nat["cpu"])}


def run(setup, mib, nfiles, reps):
    """dd write and read of `mib` MiB and an untar of `nfiles` files, vkernel vs native."""
    db = DiskBench(setup, setup.workdir, image_mb=max(512, 3 * mib + 256))
    figs = _dd_figures(db, mib, reps)
    figs.update(_untar_figure(db, nfiles, reps))
    shutil.rmtree(db.dir, ignore_errors=True)
    return figs
