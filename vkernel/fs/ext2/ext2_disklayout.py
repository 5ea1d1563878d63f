"""ext2 on-disk structures: superblock, group descriptor, inode, directory entry.

FreeBSD counterpart: sys/fs/ext2fs/ext2fs.h, ext2_dinode.h, ext2_dir.h;
Linux's is fs/ext2/ext2.h.  Data only: struct layouts, constants, and the
conversions between the bytes and a Python object with the C field names.
Everything is little-endian.  Layouts cover revision 0 and 1 filesystems
with 32-byte group descriptors (no 64bit feature).
"""
import struct

SUPERBLOCK_OFFSET = 1024        # bytes from the start of the device
SUPERBLOCK_SIZE = 1024
EXT2_SUPER_MAGIC = 0xEF53
MIN_BLOCK_LOG = 10              # 1 KiB
MAX_BLOCK_LOG = 16              # 64 KiB

GOOD_OLD_REV = 0
DYNAMIC_REV = 1
GOOD_OLD_INODE_SIZE = 128
GOOD_OLD_FIRST_INO = 11

BAD_INO = 1
ROOT_INO = 2
RESIZE_INO = 7

NDIR_BLOCKS = 12
IND_BLOCK, DIND_BLOCK, TIND_BLOCK = 12, 13, 14
N_BLOCKS = 15
LINK_MAX = 32000                # EXT2_LINK_MAX
DFL_MAX_MNT_COUNT = 20
NAME_LEN = 255
FAST_SYMLINK_MAX = N_BLOCKS * 4 - 1     # the text and its NUL fit in i_block

# s_state
VALID_FS = 0x0001
ERROR_FS = 0x0002
# s_errors
ERRORS_CONTINUE, ERRORS_RO, ERRORS_PANIC = 1, 2, 3

# -- features ------------------------------------------------------------------
COMPAT_DIR_PREALLOC = 0x0001
COMPAT_IMAGIC_INODES = 0x0002
COMPAT_HAS_JOURNAL = 0x0004
COMPAT_EXT_ATTR = 0x0008
COMPAT_RESIZE_INODE = 0x0010
COMPAT_DIR_INDEX = 0x0020
COMPAT_SPARSE_SUPER2 = 0x0200

RO_COMPAT_SPARSE_SUPER = 0x0001
RO_COMPAT_LARGE_FILE = 0x0002
RO_COMPAT_BTREE_DIR = 0x0004
RO_COMPAT_HUGE_FILE = 0x0008
RO_COMPAT_GDT_CSUM = 0x0010
RO_COMPAT_DIR_NLINK = 0x0020
RO_COMPAT_EXTRA_ISIZE = 0x0040
RO_COMPAT_QUOTA = 0x0100
RO_COMPAT_BIGALLOC = 0x0200
RO_COMPAT_METADATA_CSUM = 0x0400
RO_COMPAT_READONLY = 0x1000
RO_COMPAT_PROJECT = 0x2000
RO_COMPAT_VERITY = 0x8000
RO_COMPAT_ORPHAN_PRESENT = 0x10000

INCOMPAT_COMPRESSION = 0x0001
INCOMPAT_FILETYPE = 0x0002
INCOMPAT_RECOVER = 0x0004
INCOMPAT_JOURNAL_DEV = 0x0008
INCOMPAT_META_BG = 0x0010
INCOMPAT_EXTENTS = 0x0040
INCOMPAT_64BIT = 0x0080
INCOMPAT_MMP = 0x0100
INCOMPAT_FLEX_BG = 0x0200
INCOMPAT_EA_INODE = 0x0400
INCOMPAT_DIRDATA = 0x1000
INCOMPAT_CSUM_SEED = 0x2000
INCOMPAT_LARGEDIR = 0x4000
INCOMPAT_INLINE_DATA = 0x8000
INCOMPAT_ENCRYPT = 0x10000
INCOMPAT_CASEFOLD = 0x20000

# What this driver reads and writes correctly.
INCOMPAT_SUPP = INCOMPAT_FILETYPE | INCOMPAT_META_BG | INCOMPAT_FLEX_BG
RO_COMPAT_SUPP = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR

FEATURE_NAMES = {
    "compat": {
        COMPAT_DIR_PREALLOC: "dir_prealloc", COMPAT_IMAGIC_INODES: "imagic_inodes",
        COMPAT_HAS_JOURNAL: "has_journal", COMPAT_EXT_ATTR: "ext_attr",
        COMPAT_RESIZE_INODE: "resize_inode", COMPAT_DIR_INDEX: "dir_index",
        COMPAT_SPARSE_SUPER2: "sparse_super2",
    },
    "ro_compat": {
        RO_COMPAT_SPARSE_SUPER: "sparse_super", RO_COMPAT_LARGE_FILE: "large_file",
        RO_COMPAT_BTREE_DIR: "btree_dir", RO_COMPAT_HUGE_FILE: "huge_file",
        RO_COMPAT_GDT_CSUM: "uninit_bg", RO_COMPAT_DIR_NLINK: "dir_nlink",
        RO_COMPAT_EXTRA_ISIZE: "extra_isize", RO_COMPAT_QUOTA: "quota",
        RO_COMPAT_BIGALLOC: "bigalloc", RO_COMPAT_METADATA_CSUM: "metadata_csum",
        RO_COMPAT_READONLY: "read-only", RO_COMPAT_PROJECT: "project",
        RO_COMPAT_VERITY: "verity", RO_COMPAT_ORPHAN_PRESENT: "orphan_present",
    },
    "incompat": {
        INCOMPAT_COMPRESSION: "compression", INCOMPAT_FILETYPE: "filetype",
        INCOMPAT_RECOVER: "needs_recovery", INCOMPAT_JOURNAL_DEV: "journal_dev",
        INCOMPAT_META_BG: "meta_bg", INCOMPAT_EXTENTS: "extent",
        INCOMPAT_64BIT: "64bit", INCOMPAT_MMP: "mmp", INCOMPAT_FLEX_BG: "flex_bg",
        INCOMPAT_EA_INODE: "ea_inode", INCOMPAT_DIRDATA: "dirdata",
        INCOMPAT_CSUM_SEED: "metadata_csum_seed", INCOMPAT_LARGEDIR: "large_dir",
        INCOMPAT_INLINE_DATA: "inline_data", INCOMPAT_ENCRYPT: "encrypt",
        INCOMPAT_CASEFOLD: "casefold",
    },
}


def feature_names(kind, bits):
    """'extent 64bit' for the set `bits` of feature word `kind`."""
    names = FEATURE_NAMES[kind]
    out = [names.get(1 << i, f"{kind}_0x{1 << i:x}") for i in range(32) if bits >> i & 1]
    return " ".join(out)


# -- inode flags and modes -------------------------------------------------------
SECRM_FL = 0x00000001
IMMUTABLE_FL = 0x00000010
APPEND_FL = 0x00000020
INDEX_FL = 0x00001000           # hashed (htree) directory: EXT2_BTREE_FL
HUGE_FILE_FL = 0x00040000
EXTENTS_FL = 0x00080000
EA_INODE_FL = 0x00200000
INLINE_DATA_FL = 0x10000000

S_IFMT = 0o170000
S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK = 0o140000, 0o120000, 0o100000, 0o060000
S_IFDIR, S_IFCHR, S_IFIFO = 0o040000, 0o020000, 0o010000
VALID_IFMT = (S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO)

# Directory entry file types (EXT2_FT_*), indexed by nothing: mapped by mode.
FT_UNKNOWN, FT_REG_FILE, FT_DIR, FT_CHRDEV = 0, 1, 2, 3
FT_BLKDEV, FT_FIFO, FT_SOCK, FT_SYMLINK = 4, 5, 6, 7
FT_MAX = 8
IFMT_TO_FT = {S_IFREG: FT_REG_FILE, S_IFDIR: FT_DIR, S_IFCHR: FT_CHRDEV,
              S_IFBLK: FT_BLKDEV, S_IFIFO: FT_FIFO, S_IFSOCK: FT_SOCK,
              S_IFLNK: FT_SYMLINK}

# -- extended attribute blocks (only their reference count matters here) ---------
EA_MAGIC = 0xEA020000
EA_HEADER = struct.Struct("<III")      # h_magic, h_refcount, h_blocks


class _Record:
    """A struct as an object: fields named as in C, packed back in place.

    Subclasses give FIELDS, a sequence of (name, struct code) in order from
    OFFSET; unpack() reads them from a buffer, pack_into() writes them back,
    leaving the bytes of fields not listed untouched.
    """

    FIELDS = ()
    OFFSET = 0

    def __init_subclass__(cls):
        cls.NAMES = tuple(name for name, _ in cls.FIELDS)
        cls.STRUCT = struct.Struct("<" + "".join(code for _, code in cls.FIELDS))

    @classmethod
    def unpack(cls, buf, off=0):
        rec = cls.__new__(cls)
        for name, value in zip(cls.NAMES, cls.STRUCT.unpack_from(buf, off + cls.OFFSET)):
            setattr(rec, name, value)
        return rec

    def pack_into(self, buf, off=0):
        self.STRUCT.pack_into(buf, off + self.OFFSET,
                              *[getattr(self, name) for name in self.NAMES])


class Superblock(_Record):
    """struct ext2_super_block, the fields up to s_first_meta_bg."""

    FIELDS = (
        ("s_inodes_count", "I"), ("s_blocks_count", "I"), ("s_r_blocks_count", "I"),
        ("s_free_blocks_count", "I"), ("s_free_inodes_count", "I"),
        ("s_first_data_block", "I"), ("s_log_block_size", "I"),
        ("s_log_frag_size", "I"), ("s_blocks_per_group", "I"),
        ("s_frags_per_group", "I"), ("s_inodes_per_group", "I"),
        ("s_mtime", "I"), ("s_wtime", "I"), ("s_mnt_count", "H"),
        ("s_max_mnt_count", "h"), ("s_magic", "H"), ("s_state", "H"),
        ("s_errors", "H"), ("s_minor_rev_level", "H"), ("s_lastcheck", "I"),
        ("s_checkinterval", "I"), ("s_creator_os", "I"), ("s_rev_level", "I"),
        ("s_def_resuid", "H"), ("s_def_resgid", "H"),
        # EXT2_DYNAMIC_REV only (zero on revision 0)
        ("s_first_ino", "I"), ("s_inode_size", "H"), ("s_block_group_nr", "H"),
        ("s_feature_compat", "I"), ("s_feature_incompat", "I"),
        ("s_feature_ro_compat", "I"), ("s_uuid", "16s"), ("s_volume_name", "16s"),
        ("s_last_mounted", "64s"), ("s_algorithm_usage_bitmap", "I"),
        ("s_prealloc_blocks", "B"), ("s_prealloc_dir_blocks", "B"),
        ("s_reserved_gdt_blocks", "H"), ("s_journal_uuid", "16s"),
        ("s_journal_inum", "I"), ("s_journal_dev", "I"), ("s_last_orphan", "I"),
        ("s_hash_seed", "16s"), ("s_def_hash_version", "B"),
        ("s_jnl_backup_type", "B"), ("s_desc_size", "H"),
        ("s_default_mount_opts", "I"), ("s_first_meta_bg", "I"),
    )


GROUP_DESC_SIZE = 32


class GroupDesc(_Record):
    """struct ext2_group_desc (32 bytes; the rest is padding or ext4's)."""

    FIELDS = (
        ("bg_block_bitmap", "I"), ("bg_inode_bitmap", "I"), ("bg_inode_table", "I"),
        ("bg_free_blocks_count", "H"), ("bg_free_inodes_count", "H"),
        ("bg_used_dirs_count", "H"), ("bg_flags", "H"),
    )


class RawInode(_Record):
    """struct ext2_inode: the 128 bytes every revision has (osd2 as Linux's)."""

    FIELDS = (
        ("i_mode", "H"), ("i_uid", "H"), ("i_size", "I"), ("i_atime", "I"),
        ("i_ctime", "I"), ("i_mtime", "I"), ("i_dtime", "I"), ("i_gid", "H"),
        ("i_links_count", "H"), ("i_blocks", "I"), ("i_flags", "I"),
        ("i_osd1", "I"), ("i_block", "60s"), ("i_generation", "I"),
        ("i_file_acl", "I"), ("i_size_high", "I"), ("i_faddr", "I"),
        ("l_i_blocks_hi", "H"), ("l_i_file_acl_high", "H"), ("l_i_uid_high", "H"),
        ("l_i_gid_high", "H"), ("l_i_checksum_lo", "H"), ("l_i_reserved", "H"),
    )


I_BLOCK_STRUCT = struct.Struct("<15I")

# The large-inode tail (inode_size > 128): ext4's i_extra_isize and the
# nanosecond/epoch parts of the times, which mke2fs -d fills in for ext2 too.
EXTRA_ISIZE = struct.Struct("<H")       # at offset 128
EXTRA_TIMES = struct.Struct("<III")     # i_ctime_extra, i_mtime_extra, i_atime_extra at 132
EXTRA_TIMES_OFF = 132
EXTRA_TIMES_NEED = 16                   # i_extra_isize covering them
CRTIME = struct.Struct("<II")           # i_crtime, i_crtime_extra at 144
CRTIME_OFF = 144
CRTIME_NEED = 24
DEFAULT_EXTRA_ISIZE = 32


# -- directory entries ------------------------------------------------------------
DIRENT = struct.Struct("<IHBB")         # inode, rec_len, name_len, file_type
DIRENT_HDR = DIRENT.size                # 8


def rec_len_of(name_len):
    """EXT2_DIR_REC_LEN: the bytes an entry with that name needs (4-aligned)."""
    return (name_len + 8 + 3) & ~3


def rec_len_from_disk(dlen, bsize):
    """ext2_rec_len_from_disk: 64 KiB blocks store 65536 as 0xFFFF or 0."""
    if bsize >= 65536 and dlen in (0, 0xFFFF):
        return 65536
    return dlen


def rec_len_to_disk(rlen):
    return 0xFFFF if rlen == 65536 else rlen
