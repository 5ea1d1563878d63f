/*
 * t_files.c - the file-related syscall families.
 *
 * Usage: t_files DIR
 * Works in DIR/t_files.d (created fresh, removed at the end).  Tests:
 * openat/read/write/pread64/pwrite64/readv/writev/lseek; dup/dup2/dup3;
 * fcntl (FD_CLOEXEC, F_GETFL/F_SETFL O_NONBLOCK/O_APPEND, F_DUPFD[_CLOEXEC]);
 * pipe2; linkat/symlinkat/readlinkat; stat/fstat/lstat/fstatat/statx
 * (mode, size, nlink only - never times or inode numbers); mkdirat and a
 * sorted getdents64 listing; renameat2 (plain, NOREPLACE, EXCHANGE);
 * unlinkat; chdir/fchdir/getcwd (relative to the start directory);
 * fchmodat/fchmod/umask; utimensat with fixed times (incl. UTIME_OMIT and
 * AT_SYMLINK_NOFOLLOW); faccessat; truncate/ftruncate; fsync/fdatasync;
 * sendfile; copy_file_range; statfs/fstatfs; memfd_create (+ seals);
 * eventfd; poll/ppoll/select/pselect6/epoll on pipes.
 * Prints one line per check; exits 1 with "FAIL: ..." on stderr otherwise.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"

#define WORKDIR "t_files.d"

static int W;                      /* fd of the work directory (also cwd) */
static int B;                      /* fd of DIR, the base directory */
static int orig_cwd;               /* fd of the cwd we started in */
static char start_cwd[PATH_MAX];   /* getcwd() inside the work directory */

/* ---- helpers --------------------------------------------------------- */

#define EXPECT_ERR(call, err) \
    do { errno = 0; long r_ = (long)(call); \
         CHECK(r_ == -1 && errno == (err), "%s: got %ld/%s, want %s", #call, \
               r_, errname(errno), #err); } while (0)

static int create(const char *name, const char *content)
{
    int fd = openat(W, name, O_CREAT | O_TRUNC | O_RDWR, 0644);
    CHECK(fd >= 0, "create %s", name);
    size_t len = strlen(content);
    CHECK(write(fd, content, len) == (ssize_t)len, "write %s", name);
    return fd;
}

static void create_closed(const char *name, const char *content)
{
    close(create(name, content));
}

static void expect_content(const char *name, const char *want)
{
    char buf[256];
    int fd = openat(W, name, O_RDONLY);
    CHECK(fd >= 0, "open %s", name);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    CHECK(n >= 0, "read %s", name);
    buf[n] = 0;
    CHECK(strcmp(buf, want) == 0, "%s holds \"%s\", want \"%s\"", name, buf, want);
}

static void print_stat(const char *label, const struct stat *st)
{
    printf("%s: mode=%o size=%lld nlink=%lu\n", label, (unsigned)st->st_mode,
           (long long)st->st_size, (unsigned long)st->st_nlink);
}

static struct stat stat_at(const char *name, int flags)
{
    struct stat st;
    CHECK(fstatat(W, name, &st, flags) == 0, "fstatat %s", name);
    return st;
}

static int is_cloexec(int fd)
{
    return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

/* Recursively remove dirfd/name (ignoring errors). */
static void rmtree(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
        return;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd >= 0) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                rmtree(fd, e->d_name);
        if (d)
            closedir(d);
        else
            close(fd);
    }
    unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* ---- open / read / write / offsets ----------------------------------- */

static int check_open_rw(void)
{
    char buf[64];
    int fd = openat(W, "a.txt", O_CREAT | O_EXCL | O_RDWR, 0666);
    CHECK(fd >= 0, "openat O_CREAT");
    CHECK(write(fd, "hello world\n", 12) == 12, "write");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    CHECK(read(fd, buf, sizeof buf) == 12 && memcmp(buf, "hello world\n", 12) == 0,
          "read back");
    CHECK(read(fd, buf, sizeof buf) == 0, "read at EOF");
    printf("openat/write/read: ok\n");
    EXPECT_ERR(openat(W, "a.txt", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
    EXPECT_ERR(openat(W, "missing", O_RDONLY), ENOENT);
    printf("openat O_EXCL: EEXIST, missing: ENOENT\n");
    return fd;
}

static void check_pread_pwrite(int fd)
{
    char buf[64];
    CHECK(pwrite(fd, "WORLD", 5, 6) == 5, "pwrite");
    CHECK(lseek(fd, 0, SEEK_CUR) == 12, "pwrite moved the offset");
    CHECK(pread(fd, buf, sizeof buf, 0) == 12, "pread");
    CHECK(memcmp(buf, "hello WORLD\n", 12) == 0, "pread data");
    CHECK(lseek(fd, 0, SEEK_CUR) == 12, "pread moved the offset");
    printf("pread/pwrite: ok\n");
}

static void check_readv_writev(void)
{
    char a[3], b[10];
    struct iovec out[3] = { { "abc", 3 }, { "", 0 }, { "defgh", 5 } };
    struct iovec in[2] = { { a, sizeof a }, { b, sizeof b } };
    int fd = openat(W, "v.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0, "open v.txt");
    CHECK(writev(fd, out, 3) == 8, "writev");
    CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
    CHECK(readv(fd, in, 2) == 8, "readv");
    CHECK(memcmp(a, "abc", 3) == 0 && memcmp(b, "defgh", 5) == 0, "readv data");
    close(fd);
    printf("readv/writev: ok\n");
}

static void check_lseek(void)
{
    struct stat st;
    char c = 1;
    int p[2];
    int fd = openat(W, "v.txt", O_RDWR);
    CHECK(fd >= 0, "open v.txt");
    CHECK(lseek(fd, 0, SEEK_END) == 8, "SEEK_END");
    CHECK(lseek(fd, -3, SEEK_CUR) == 5, "SEEK_CUR");
    CHECK(lseek(fd, 100, SEEK_SET) == 100, "SEEK_SET past EOF");
    CHECK(write(fd, "Z", 1) == 1, "write after hole");
    CHECK(fstat(fd, &st) == 0 && st.st_size == 101, "size after hole");
    CHECK(pread(fd, &c, 1, 50) == 1 && c == 0, "hole reads as zero");
    EXPECT_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
    close(fd);
    CHECK(pipe(p) == 0, "pipe");
    EXPECT_ERR(lseek(p[0], 0, SEEK_CUR), ESPIPE);
    close(p[0]);
    close(p[1]);
    printf("lseek: ok (hole size=101, negative: EINVAL, pipe: ESPIPE)\n");
}

/* ---- descriptors ----------------------------------------------------- */

static void check_dup(int fd)
{
    int d = dup(fd);
    CHECK(d >= 0, "dup");
    CHECK(lseek(fd, 3, SEEK_SET) == 3 && lseek(d, 0, SEEK_CUR) == 3,
          "dup does not share the offset");
    CHECK(dup2(fd, 100) == 100 && !is_cloexec(100), "dup2");
    CHECK(dup2(fd, fd) == fd, "dup2 onto itself");
    CHECK(dup3(fd, 101, O_CLOEXEC) == 101 && is_cloexec(101), "dup3 O_CLOEXEC");
    EXPECT_ERR(syscall(SYS_dup3, fd, fd, 0), EINVAL);   /* musl checks in libc */
    CHECK(dup2(100, d) == d, "dup2 onto an open fd");
    EXPECT_ERR(dup(999), EBADF);
    close(100);
    close(101);
    close(d);
    EXPECT_ERR(close(d), EBADF);
    printf("dup/dup2/dup3: ok\n");
}

static void check_fcntl(int fd)
{
    int p[2];
    char c;
    CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && is_cloexec(fd), "F_SETFD");
    CHECK(fcntl(fd, F_SETFD, 0) == 0 && !is_cloexec(fd), "F_SETFD 0");
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "F_GETFL accmode");

    CHECK(pipe(p) == 0, "pipe");
    CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0, "F_SETFL O_NONBLOCK");
    CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK, "O_NONBLOCK not set");
    EXPECT_ERR(read(p[0], &c, 1), EAGAIN);

    int d = fcntl(fd, F_DUPFD_CLOEXEC, 50);
    CHECK(d >= 50 && is_cloexec(d), "F_DUPFD_CLOEXEC");
    int e = fcntl(fd, F_DUPFD, 50);
    CHECK(e > d && !is_cloexec(e), "F_DUPFD");
    close(d);
    close(e);
    close(p[0]);
    close(p[1]);

    int v = openat(W, "v.txt", O_WRONLY);
    CHECK(v >= 0 && fcntl(v, F_SETFL, O_APPEND) == 0, "F_SETFL O_APPEND");
    CHECK(write(v, "!", 1) == 1 && lseek(v, 0, SEEK_CUR) == 102, "O_APPEND write");
    close(v);
    printf("fcntl: ok\n");
}

static void check_pipe2(void)
{
    int p[2];
    char buf[8];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2");
    CHECK(is_cloexec(p[0]) && is_cloexec(p[1]), "pipe2 O_CLOEXEC");
    CHECK((fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK),
          "pipe2 O_NONBLOCK");
    EXPECT_ERR(read(p[0], buf, sizeof buf), EAGAIN);
    CHECK(write(p[1], "ping", 4) == 4, "pipe write");
    CHECK(read(p[0], buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0, "pipe read");
    close(p[1]);
    CHECK(read(p[0], buf, sizeof buf) == 0, "EOF after writer closed");
    printf("pipe2: ok\n");

    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    EXPECT_ERR(write(p[1], "x", 1), EPIPE);
    close(p[1]);
    printf("write to a pipe without readers: EPIPE\n");
}

/* ---- links and stat -------------------------------------------------- */

static void check_links(void)
{
    char buf[64];
    CHECK(linkat(W, "a.txt", W, "hard.txt", 0) == 0, "linkat");
    CHECK(stat_at("a.txt", 0).st_nlink == 2, "nlink after linkat");
    printf("linkat: nlink=2\n");

    CHECK(symlinkat("a.txt", W, "sym") == 0, "symlinkat");
    memset(buf, 'X', sizeof buf);
    CHECK(readlinkat(W, "sym", buf, sizeof buf) == 5, "readlinkat length");
    CHECK(memcmp(buf, "a.txt", 5) == 0 && buf[5] == 'X', "readlinkat data");
    EXPECT_ERR(readlinkat(W, "a.txt", buf, sizeof buf), EINVAL);
    expect_content("sym", "hello WORLD\n");
    printf("symlinkat/readlinkat: a.txt\n");

    CHECK(symlinkat("loop", W, "loop") == 0, "symlinkat loop");
    EXPECT_ERR(openat(W, "loop", O_RDONLY), ELOOP);
    printf("symlink loop: ELOOP\n");
}

static void check_stat_family(int fd)
{
    struct stat st, fst;
    CHECK(stat("a.txt", &st) == 0, "stat");
    print_stat("stat a.txt", &st);
    CHECK(fstat(fd, &fst) == 0, "fstat");
    CHECK(fst.st_ino == st.st_ino && fst.st_dev == st.st_dev, "fstat != stat");
    print_stat("fstat a.txt", &fst);
    CHECK(lstat("sym", &st) == 0 && S_ISLNK(st.st_mode), "lstat");
    printf("lstat sym: mode=%o size=%lld\n", (unsigned)st.st_mode,
           (long long)st.st_size);
    CHECK(stat("sym", &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == fst.st_ino,
          "stat follows symlinks");
    st = stat_at("sym", AT_SYMLINK_NOFOLLOW);
    CHECK(S_ISLNK(st.st_mode), "fstatat AT_SYMLINK_NOFOLLOW");
    st = stat_at("hard.txt", 0);
    print_stat("fstatat hard.txt", &st);
    st = stat_at(".", 0);
    printf("fstatat .: mode=%o\n", (unsigned)st.st_mode);
    EXPECT_ERR(stat("nope", &st), ENOENT);
    EXPECT_ERR(stat("a.txt/x", &st), ENOTDIR);
    printf("stat errors: ENOENT ENOTDIR\n");
}

/* struct statx from <linux/stat.h>, which musl does not ship. */
struct kstatx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct kstatx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    struct kstatx_ts atime, btime, ctime, mtime;
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t spare[14];
};
#define KSTATX_BASIC_STATS 0x7ffu

static void check_statx(void)
{
    struct kstatx stx;
    struct stat st = stat_at("a.txt", 0);
    memset(&stx, 0xff, sizeof stx);
    CHECK(syscall(SYS_statx, W, "a.txt", 0, KSTATX_BASIC_STATS, &stx) == 0, "statx");
    CHECK((stx.mask & 0x0f6) == 0x0f6, "statx mask %#x lacks basic fields", stx.mask);
    CHECK(stx.ino == st.st_ino && stx.size == (uint64_t)st.st_size, "statx != stat");
    printf("statx a.txt: mode=%o size=%llu nlink=%u\n", stx.mode,
           (unsigned long long)stx.size, stx.nlink);
    CHECK(syscall(SYS_statx, W, "sym", AT_SYMLINK_NOFOLLOW, KSTATX_BASIC_STATS,
                  &stx) == 0 && S_ISLNK(stx.mode), "statx nofollow");
    printf("statx sym AT_SYMLINK_NOFOLLOW: mode=%o\n", stx.mode);
}

/* ---- directories ----------------------------------------------------- */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Print a sorted getdents64 listing, reading with a deliberately tiny buffer. */
static void list_dir(const char *label, const char *path)
{
    char buf[128] __attribute__((aligned(8)));
    char *names[64];
    int n = 0;
    long got;
    int fd = openat(W, path, O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0, "open dir %s", path);
    while ((got = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < got;) {
            struct linux_dirent64 *e = (void *)(buf + off);
            CHECK(n < 64, "too many entries");
            names[n++] = strdup(e->d_name);
            if (strcmp(e->d_name, "sub") == 0)
                CHECK(e->d_type == DT_DIR || e->d_type == DT_UNKNOWN, "d_type");
            off += e->d_reclen;
        }
    }
    CHECK(got == 0, "getdents64");
    close(fd);
    qsort(names, n, sizeof names[0], cmp_str);
    printf("%s:", label);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void check_dirs(void)
{
    CHECK(mkdirat(W, "d", 0755) == 0, "mkdirat");
    EXPECT_ERR(mkdirat(W, "d", 0755), EEXIST);
    printf("mkdirat d: mode=%o\n", (unsigned)stat_at("d", 0).st_mode);
    CHECK(mkdirat(W, "d/sub", 0700) == 0, "mkdirat d/sub");
    create_closed("d/c", "c");
    create_closed("d/a", "a");
    create_closed("d/b", "b");
    list_dir("getdents64 d", "d");
    int fd = openat(W, "a.txt", O_RDONLY);
    char buf[128];
    EXPECT_ERR(syscall(SYS_getdents64, fd, buf, sizeof buf), ENOTDIR);
    close(fd);
    EXPECT_ERR(unlinkat(W, "d", AT_REMOVEDIR), ENOTEMPTY);
    printf("getdents64 on a file: ENOTDIR, rmdir non-empty: ENOTEMPTY\n");
}

static long renameat2_(const char *from, const char *to, unsigned flags)
{
    return syscall(SYS_renameat2, W, from, W, to, flags);
}

static void check_rename(void)
{
    struct stat st;
    CHECK(renameat2_("d/a", "d/a2", 0) == 0, "renameat2");
    EXPECT_ERR(fstatat(W, "d/a", &st, 0), ENOENT);
    expect_content("d/a2", "a");
    printf("renameat2: ok\n");
    EXPECT_ERR(renameat2_("d/b", "d/c", 1 /* RENAME_NOREPLACE */), EEXIST);
    printf("renameat2 RENAME_NOREPLACE: EEXIST\n");
    CHECK(renameat2_("d/b", "d/c", 2 /* RENAME_EXCHANGE */) == 0, "RENAME_EXCHANGE");
    expect_content("d/b", "c");
    expect_content("d/c", "b");
    printf("renameat2 RENAME_EXCHANGE: ok\n");
    CHECK(renameat(W, "d/a2", W, "d/b") == 0, "renameat over a file");
    expect_content("d/b", "a");
    list_dir("after renames d", "d");
}

static void check_chdir(void)
{
    char cwd[PATH_MAX], want[PATH_MAX + 16];
    CHECK(chdir("d/sub") == 0, "chdir");
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    snprintf(want, sizeof want, "%s/d/sub", start_cwd);
    CHECK(strcmp(cwd, want) == 0, "getcwd after chdir: %s", cwd);
    CHECK(chdir("..") == 0 && getcwd(cwd, sizeof cwd), "chdir ..");
    snprintf(want, sizeof want, "%s/d", start_cwd);
    CHECK(strcmp(cwd, want) == 0, "getcwd after chdir ..: %s", cwd);
    CHECK(fchdir(W) == 0 && getcwd(cwd, sizeof cwd), "fchdir");
    CHECK(strcmp(cwd, start_cwd) == 0, "getcwd after fchdir");
    EXPECT_ERR(chdir("a.txt"), ENOTDIR);
    printf("chdir/fchdir/getcwd: ok\n");
}

static void check_unlink(void)
{
    CHECK(unlinkat(W, "hard.txt", 0) == 0, "unlinkat");
    CHECK(stat_at("a.txt", 0).st_nlink == 1, "nlink after unlink");
    EXPECT_ERR(unlinkat(W, "d", 0), EISDIR);
    EXPECT_ERR(unlinkat(W, "a.txt", AT_REMOVEDIR), ENOTDIR);
    EXPECT_ERR(unlinkat(W, "hard.txt", 0), ENOENT);
    CHECK(unlinkat(W, "d/sub", AT_REMOVEDIR) == 0, "rmdir d/sub");
    CHECK(unlinkat(W, "d/b", 0) == 0 && unlinkat(W, "d/c", 0) == 0, "unlink d/*");
    list_dir("emptied d", "d");
    CHECK(unlinkat(W, "d", AT_REMOVEDIR) == 0, "rmdir d");
    printf("unlinkat: ok (dir: EISDIR, AT_REMOVEDIR on file: ENOTDIR)\n");
}

/* ---- permissions and times ------------------------------------------- */

static void check_chmod_umask(int fd)
{
    CHECK(fchmodat(W, "a.txt", 0600, 0) == 0, "fchmodat");
    printf("fchmodat: mode=%o\n", (unsigned)stat_at("a.txt", 0).st_mode);
    CHECK(fchmod(fd, 0640) == 0, "fchmod");
    printf("fchmod: mode=%o\n", (unsigned)stat_at("a.txt", 0).st_mode);
    mode_t old = umask(077);
    create_closed("u.txt", "u");
    mode_t mode = stat_at("u.txt", 0).st_mode;
    CHECK(umask(old) == 077, "umask readback");
    printf("umask: old=%03o new file mode=%o\n", (unsigned)old, (unsigned)mode);
}

static void print_times(const char *label, const struct stat *st)
{
    printf("%s: atime=%lld.%09ld mtime=%lld.%09ld\n", label,
           (long long)st->st_atim.tv_sec, st->st_atim.tv_nsec,
           (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static void check_utimensat(void)
{
    struct timespec t[2] = { { 1234567890, 123456789 }, { 1500000000, 0 } };
    CHECK(utimensat(W, "a.txt", t, 0) == 0, "utimensat");
    struct stat st = stat_at("a.txt", 0);
    print_times("utimensat a.txt", &st);

    struct timespec omit[2] = { { 0, UTIME_OMIT }, { 1600000000, 5 } };
    CHECK(utimensat(W, "a.txt", omit, 0) == 0, "utimensat UTIME_OMIT");
    st = stat_at("a.txt", 0);
    print_times("utimensat UTIME_OMIT", &st);

    struct timespec lt[2] = { { 1000000000, 0 }, { 1000000001, 0 } };
    CHECK(utimensat(W, "sym", lt, AT_SYMLINK_NOFOLLOW) == 0, "utimensat nofollow");
    st = stat_at("sym", AT_SYMLINK_NOFOLLOW);
    print_times("utimensat sym AT_SYMLINK_NOFOLLOW", &st);
    CHECK(stat_at("a.txt", 0).st_mtim.tv_sec == 1600000000, "target touched");
}

static void check_faccessat(void)
{
    CHECK(faccessat(W, "a.txt", R_OK | W_OK, 0) == 0, "faccessat R_OK|W_OK");
    CHECK(faccessat(W, "a.txt", F_OK, 0) == 0, "faccessat F_OK");
    EXPECT_ERR(faccessat(W, "missing", F_OK, 0), ENOENT);
    EXPECT_ERR(faccessat(W, "a.txt", X_OK, 0), EACCES);
    printf("faccessat: ok (missing: ENOENT, X_OK on 0640: EACCES)\n");
}

/* ---- sizes and syncing ----------------------------------------------- */

static void check_truncate(void)
{
    char c = 1;
    CHECK(truncate("v.txt", 5) == 0, "truncate");
    CHECK(stat_at("v.txt", 0).st_size == 5, "size after truncate");
    expect_content("v.txt", "abcde");
    int fd = openat(W, "v.txt", O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, 100) == 0, "ftruncate");
    CHECK(stat_at("v.txt", 0).st_size == 100, "size after ftruncate");
    CHECK(pread(fd, &c, 1, 50) == 1 && c == 0, "extended region is zero");
    EXPECT_ERR(ftruncate(fd, -1), EINVAL);
    close(fd);
    fd = openat(W, "v.txt", O_RDONLY);
    errno = 0;
    int r = ftruncate(fd, 0);
    printf("truncate/ftruncate: ok (read-only fd: %s)\n", r == 0 ? "OK" : errname(errno));
    close(fd);
}

static void check_fsync(int fd)
{
    int p[2];
    CHECK(fsync(fd) == 0 && fdatasync(fd) == 0, "fsync/fdatasync");
    CHECK(pipe(p) == 0, "pipe");
    EXPECT_ERR(fsync(p[0]), EINVAL);
    close(p[0]);
    close(p[1]);
    printf("fsync/fdatasync: ok (pipe: EINVAL)\n");
}

/* ---- in-kernel copies ------------------------------------------------ */

static void check_sendfile(void)
{
    off_t off = 6;
    int in = openat(W, "a.txt", O_RDONLY);
    int out = openat(W, "sf.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(in >= 0 && out >= 0, "open for sendfile");
    CHECK(sendfile(out, in, &off, 5) == 5 && off == 11, "sendfile with offset");
    CHECK(lseek(in, 0, SEEK_CUR) == 0, "sendfile moved the input offset");
    CHECK(sendfile(out, in, NULL, 100) == 12, "sendfile without offset");
    CHECK(lseek(in, 0, SEEK_CUR) == 12, "input offset not advanced");
    close(in);
    close(out);
    expect_content("sf.txt", "WORLDhello WORLD\n");
    printf("sendfile: ok\n");
}

static void check_copy_file_range(void)
{
    loff_t off_in = 0, off_out = 2;
    char buf[16];
    int in = openat(W, "a.txt", O_RDONLY);
    int out = openat(W, "cfr.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(in >= 0 && out >= 0, "open for copy_file_range");
    long n = syscall(SYS_copy_file_range, in, &off_in, out, &off_out, 5L, 0);
    CHECK(n == 5 && off_in == 5 && off_out == 7, "copy_file_range returned %ld", n);
    CHECK(pread(out, buf, sizeof buf, 0) == 7, "copy_file_range size");
    CHECK(memcmp(buf, "\0\0hello", 7) == 0, "copy_file_range data");
    close(in);
    close(out);
    printf("copy_file_range: ok\n");
}

static void check_statfs(int fd)
{
    struct statfs a, b;
    CHECK(statfs(".", &a) == 0 && fstatfs(fd, &b) == 0, "statfs/fstatfs");
    CHECK(a.f_bsize > 0 && a.f_type == b.f_type, "statfs fields");
    printf("statfs/fstatfs: ok\n");
}

/* ---- special fds ----------------------------------------------------- */

static void check_memfd(void)
{
    static char data[10000], back[10000];
    struct stat st;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 31);
    int fd = syscall(SYS_memfd_create, "t_files", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0 && is_cloexec(fd), "memfd_create");
    CHECK(write(fd, data, sizeof data) == sizeof data, "memfd write");
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "memfd fstat");
    CHECK(pread(fd, back, sizeof back, 0) == sizeof back, "memfd read");
    CHECK(memcmp(data, back, sizeof data) == 0, "memfd data");
    printf("memfd_create: size=%lld\n", (long long)st.st_size);
    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK) == 0, "F_ADD_SEALS");
    CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_WRITE | F_SEAL_SHRINK), "F_GET_SEALS");
    EXPECT_ERR(write(fd, "x", 1), EPERM);
    EXPECT_ERR(ftruncate(fd, 10), EPERM);
    close(fd);
    printf("memfd seals: write EPERM, shrink EPERM\n");
}

static void check_eventfd(void)
{
    uint64_t v;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(fd >= 0, "eventfd");
    EXPECT_ERR(read(fd, &v, sizeof v), EAGAIN);
    v = 3;
    CHECK(write(fd, &v, sizeof v) == 8, "eventfd write");
    v = 4;
    CHECK(write(fd, &v, sizeof v) == 8, "eventfd write");
    CHECK(read(fd, &v, sizeof v) == 8 && v == 7, "eventfd sum");
    v = UINT64_MAX;
    EXPECT_ERR(write(fd, &v, sizeof v), EINVAL);
    close(fd);

    fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    CHECK(fd >= 0, "eventfd semaphore");
    CHECK(read(fd, &v, 8) == 8 && v == 1 && read(fd, &v, 8) == 8 && v == 1,
          "semaphore reads");
    EXPECT_ERR(read(fd, &v, 8), EAGAIN);
    close(fd);
    printf("eventfd: ok (sum=7, semaphore 1 1 EAGAIN)\n");
}

/* ---- readiness ------------------------------------------------------- */

static int poll2(int rfd, int wfd, short *rev, short *wev)
{
    struct pollfd p[2] = { { rfd, POLLIN, 0 }, { wfd, POLLOUT, 0 } };
    int n = poll(p, 2, 0);
    *rev = p[0].revents;
    *wev = p[1].revents;
    return n;
}

static int select_readable(int fd, int use_pselect)
{
    fd_set r;
    FD_ZERO(&r);
    FD_SET(fd, &r);
    struct timeval tv = { 0, 0 };
    struct timespec ts = { 0, 0 };
    sigset_t none;
    sigemptyset(&none);
    int n = use_pselect ? pselect(fd + 1, &r, NULL, NULL, &ts, &none)
                        : select(fd + 1, &r, NULL, NULL, &tv);
    CHECK(n >= 0, "select");
    return n == 1 && FD_ISSET(fd, &r);
}

static void check_poll(void)
{
    int p[2];
    short rev, wev;
    char c;
    CHECK(pipe(p) == 0, "pipe");
    CHECK(poll2(p[0], p[1], &rev, &wev) == 1 && rev == 0 && wev == POLLOUT,
          "poll on an empty pipe");
    CHECK(!select_readable(p[0], 0) && !select_readable(p[0], 1), "select empty");
    struct pollfd one = { p[0], POLLIN, 0 };
    struct timespec wait = { 0, 20000000 };
    CHECK(ppoll(&one, 1, &wait, NULL) == 0, "ppoll timeout");
    CHECK(write(p[1], "x", 1) == 1, "write");
    CHECK(poll2(p[0], p[1], &rev, &wev) == 2 && rev == POLLIN, "poll readable");
    printf("poll: ok\n");
    CHECK(ppoll(&one, 1, &wait, NULL) == 1 && one.revents == POLLIN, "ppoll ready");
    printf("ppoll: ok\n");
    CHECK(select_readable(p[0], 0), "select readable");
    printf("select: ok\n");
    CHECK(select_readable(p[0], 1), "pselect readable");
    printf("pselect6: ok\n");

    close(p[1]);
    CHECK(poll(&one, 1, 0) == 1 && one.revents == (POLLIN | POLLHUP), "POLLIN|POLLHUP");
    CHECK(read(p[0], &c, 1) == 1, "drain");
    CHECK(poll(&one, 1, 0) == 1 && one.revents == POLLHUP, "POLLHUP");
    close(p[0]);
    CHECK(poll(&one, 1, 0) == 1 && one.revents == POLLNVAL, "POLLNVAL");
    printf("poll POLLHUP/POLLNVAL: ok\n");
}

static void check_epoll(void)
{
    int p[2];
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 }, got[4];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0 && is_cloexec(ep), "epoll_create1");
    CHECK(pipe(p) == 0, "pipe");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "EPOLL_CTL_ADD");
    EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
    CHECK(epoll_wait(ep, got, 4, 0) == 0, "epoll_wait on empty pipe");
    CHECK(write(p[1], "x", 1) == 1, "write");
    CHECK(epoll_wait(ep, got, 4, 0) == 1, "epoll_wait readable");
    CHECK(got[0].events == EPOLLIN && got[0].data.u64 == 42, "epoll event");
    CHECK(epoll_pwait(ep, got, 4, 0, NULL) == 1, "level-triggered repeat");
    printf("epoll: ok\n");

    ev.events = EPOLLIN | EPOLLET;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "EPOLL_CTL_MOD");
    CHECK(write(p[1], "y", 1) == 1, "write");
    CHECK(epoll_wait(ep, got, 4, 0) == 1, "edge fires");
    CHECK(epoll_wait(ep, got, 4, 0) == 0, "edge fires only once");
    printf("epoll EPOLLET: ok\n");

    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "EPOLL_CTL_DEL");
    CHECK(epoll_wait(ep, got, 4, 0) == 0, "deleted fd still reported");
    EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL), ENOENT);
    printf("epoll_ctl errors: EEXIST ENOENT\n");
    close(p[0]);
    close(p[1]);
    close(ep);
}

/* ---- driver ---------------------------------------------------------- */

static void enter_workdir(const char *base)
{
    orig_cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    B = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(orig_cwd >= 0 && B >= 0, "open %s", base);
    rmtree(B, WORKDIR);
    CHECK(mkdirat(B, WORKDIR, 0755) == 0, "mkdir %s/%s", base, WORKDIR);
    W = openat(B, WORKDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(W >= 0 && fchdir(W) == 0, "enter work dir");
    CHECK(getcwd(start_cwd, sizeof start_cwd) != NULL, "getcwd");
}

static void leave_workdir(void)
{
    CHECK(fchdir(orig_cwd) == 0, "chdir back");
    close(W);
    rmtree(B, WORKDIR);
    struct stat st;
    EXPECT_ERR(fstatat(B, WORKDIR, &st, 0), ENOENT);
    close(B);
    close(orig_cwd);
    printf("cleanup: ok\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: t_files DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    enter_workdir(argv[1]);

    int fd = check_open_rw();
    check_pread_pwrite(fd);
    check_readv_writev();
    check_lseek();
    check_dup(fd);
    check_fcntl(fd);
    check_pipe2();
    check_links();
    check_stat_family(fd);
    check_statx();
    check_dirs();
    check_rename();
    check_chdir();
    check_unlink();
    check_chmod_umask(fd);
    check_utimensat();
    check_faccessat();
    check_truncate();
    check_fsync(fd);
    check_sendfile();
    check_copy_file_range();
    check_statfs(fd);
    check_memfd();
    check_eventfd();
    check_poll();
    check_epoll();
    close(fd);

    leave_workdir();
    printf("files ok\n");
    return 0;
}
