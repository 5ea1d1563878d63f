/*
 * t_mmap.c - the memory-management syscalls.
 *
 * Usage: t_mmap [DIR]   (DIR holds a temporary file; default /tmp)
 * Tests: brk growth and shrink; anonymous private mmap (zero-filled);
 * MAP_FIXED over part of a mapping; MAP_FIXED_NOREPLACE (EEXIST, and
 * success in a hole); munmap (later access faults, mincore ENOMEM);
 * mprotect (write to a read-only page raises SIGSEGV/SEGV_ACCERR at the
 * right address, PROT_NONE blocks reads); mremap grow/in-place failure/
 * MREMAP_FIXED move/shrink; madvise(MADV_DONTNEED) zeroing private pages
 * but not shared ones; msync of a shared file mapping; a private file
 * mapping (copy-on-write, zero tail, SIGBUS past EOF); a shared mapping of
 * a read-only descriptor that mprotect cannot make writable; mincore; a large
 * sparse mapping; MAP_SHARED anonymous memory shared across fork while
 * MAP_PRIVATE memory is copy-on-write; invalid mmap arguments.
 * Prints one line per check; exits 1 with "FAIL: ..." on stderr otherwise.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PG 4096L
#define RW (PROT_READ | PROT_WRITE)

static const char *tmpdir = "/tmp";

/* ---- helpers --------------------------------------------------------- */

#define EXPECT_ERR(call, err) \
    do { errno = 0; long r_ = (long)(call); \
         CHECK(r_ == -1 && errno == (err), "%s: got %ld/%s, want %s", #call, \
               r_, errname(errno), #err); } while (0)

static sigjmp_buf probe_env;
static volatile int fault_sig, fault_code;
static void *volatile fault_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = sig;
    fault_code = si->si_code;
    fault_addr = si->si_addr;
    siglongjmp(probe_env, 1);
}

static void install_fault_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0 && sigaction(SIGBUS, &sa, NULL) == 0,
          "sigaction");
}

/* Touch *p (write if write != 0); return the signal it raised, or 0. */
static int probe(volatile char *p, int write)
{
    fault_sig = 0;
    if (sigsetjmp(probe_env, 1) == 0) {
        if (write)
            *p = 1;
        else
            (void)*p;
    }
    return fault_sig;
}

static char *map_anon(size_t len, int flags)
{
    char *p = mmap(NULL, len, RW, flags | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap anonymous %zu", len);
    return p;
}

static int all_bytes(const char *p, size_t len, char c)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != c)
            return 0;
    return 1;
}

static int is_mapped(void *p)
{
    unsigned char v;
    return mincore(p, PG, &v) == 0;
}

static int temp_file(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/t_mmap.XXXXXX", tmpdir);
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp in %s", tmpdir);
    unlink(path);
    return fd;
}

/* ---- checks ---------------------------------------------------------- */

static void check_brk(void)
{
    long len = 256 * 1024;
    char *cur = (char *)syscall(SYS_brk, 0);
    char *top = (char *)syscall(SYS_brk, cur + len);
    CHECK(top == cur + len, "brk did not grow");
    memset(cur, 0x5a, len);
    CHECK(all_bytes(cur, len, 0x5a), "brk memory");
    CHECK((char *)syscall(SYS_brk, cur) == cur, "brk did not shrink");
    CHECK(probe(cur + PG, 0) == SIGSEGV, "shrunk brk still mapped");
    printf("brk: grow 256K ok, shrink ok\n");
}

static void check_anon_private(void)
{
    char *p = map_anon(4 * PG, MAP_PRIVATE);
    CHECK(((uintptr_t)p & (PG - 1)) == 0, "mmap not page aligned");
    CHECK(all_bytes(p, 4 * PG, 0), "fresh mapping not zeroed");
    memset(p, 'q', 4 * PG);
    CHECK(all_bytes(p, 4 * PG, 'q'), "anonymous memory");
    CHECK(munmap(p, 4 * PG) == 0, "munmap");
    printf("mmap anonymous private: ok\n");
}

static void check_fixed(void)
{
    char *p = map_anon(8 * PG, MAP_PRIVATE);
    memset(p, 'A', 8 * PG);
    char *q = mmap(p + 2 * PG, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(q == p + 2 * PG, "MAP_FIXED address");
    CHECK(all_bytes(q, PG, 0), "MAP_FIXED page not fresh");
    CHECK(all_bytes(p, 2 * PG, 'A') && all_bytes(p + 3 * PG, 5 * PG, 'A'),
          "MAP_FIXED clobbered neighbours");
    printf("MAP_FIXED: ok\n");

    q = mmap(p + 4 * PG, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(q == MAP_FAILED && errno == EEXIST, "MAP_FIXED_NOREPLACE over a mapping");
    CHECK(munmap(p + 4 * PG, PG) == 0, "munmap hole");
    q = mmap(p + 4 * PG, PG, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(q == p + 4 * PG, "MAP_FIXED_NOREPLACE into a hole");
    printf("MAP_FIXED_NOREPLACE: EEXIST, hole ok\n");
    CHECK(munmap(p, 8 * PG) == 0, "munmap");
}

static void check_munmap(void)
{
    char *p = map_anon(3 * PG, MAP_PRIVATE);
    memset(p, 1, 3 * PG);
    CHECK(munmap(p + PG, PG) == 0, "munmap middle page");
    CHECK(probe(p + PG, 0) == SIGSEGV && fault_code == SEGV_MAPERR, "unmapped access");
    CHECK(fault_addr == p + PG, "si_addr of unmapped access");
    CHECK(probe(p, 1) == 0 && probe(p + 2 * PG, 1) == 0, "neighbours lost");
    unsigned char v;
    EXPECT_ERR(mincore(p + PG, PG, &v), ENOMEM);
    EXPECT_ERR(munmap(p + 1, PG), EINVAL);
    CHECK(munmap(p, 3 * PG) == 0, "munmap over a hole");
    printf("munmap: ok (access: SIGSEGV SEGV_MAPERR, mincore: ENOMEM)\n");
}

static void check_mprotect(void)
{
    char *p = map_anon(2 * PG, MAP_PRIVATE);
    p[PG] = 7;
    CHECK(mprotect(p + PG, PG, PROT_READ) == 0, "mprotect PROT_READ");
    CHECK(probe(p + PG, 0) == 0 && p[PG] == 7, "read of read-only page");
    CHECK(probe(p + PG + 10, 1) == SIGSEGV, "write to read-only page did not fault");
    CHECK(fault_code == SEGV_ACCERR && fault_addr == p + PG + 10,
          "fault info (code %d)", fault_code);
    CHECK(probe(p, 1) == 0, "first page became read-only");
    CHECK(mprotect(p + PG, PG, PROT_NONE) == 0, "mprotect PROT_NONE");
    CHECK(probe(p + PG, 0) == SIGSEGV, "read of PROT_NONE page");
    CHECK(mprotect(p + PG, PG, RW) == 0, "mprotect RW");
    CHECK(probe(p + PG, 1) == 0 && p[PG] == 1, "write after mprotect RW");
    EXPECT_ERR(syscall(SYS_mprotect, p + 1, PG, PROT_READ), EINVAL); /* musl rounds */
    munmap(p, 2 * PG);
    printf("mprotect: ok (write to PROT_READ: SIGSEGV SEGV_ACCERR)\n");
}

static void check_mremap(void)
{
    char *p = map_anon(PG, MAP_PRIVATE);
    p[0] = 'x';
    char *q = mremap(p, PG, 4 * PG, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED && q[0] == 'x', "mremap grow");
    CHECK(all_bytes(q + PG, 3 * PG, 0), "grown part not zero");
    q[4 * PG - 1] = 'y';
    printf("mremap grow: ok\n");

    EXPECT_ERR((long)mremap(q, PG, 2 * PG, 0), ENOMEM);   /* next page is taken */

    char *target = map_anon(4 * PG, MAP_PRIVATE);
    char *r = mremap(q, 4 * PG, 4 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    CHECK(r == target, "MREMAP_FIXED address");
    CHECK(r[0] == 'x' && r[4 * PG - 1] == 'y', "MREMAP_FIXED content");
    CHECK(!is_mapped(q), "old range still mapped after move");
    printf("mremap move (MREMAP_FIXED): ok\n");

    CHECK(mremap(r, 4 * PG, PG, 0) == r, "mremap shrink");
    CHECK(!is_mapped(r + PG) && r[0] == 'x', "shrink");
    munmap(r, PG);
    printf("mremap shrink: ok\n");
}

static void check_madvise(void)
{
    char *priv = map_anon(2 * PG, MAP_PRIVATE);
    char *shared = map_anon(PG, MAP_SHARED);
    memset(priv, 0xab, 2 * PG);
    memset(shared, 0xcd, PG);
    CHECK(madvise(priv, PG, MADV_DONTNEED) == 0, "madvise private");
    CHECK(all_bytes(priv, PG, 0), "MADV_DONTNEED did not zero a private page");
    CHECK(all_bytes(priv + PG, PG, (char)0xab), "MADV_DONTNEED hit the next page");
    CHECK(madvise(shared, PG, MADV_DONTNEED) == 0, "madvise shared");
    CHECK(all_bytes(shared, PG, (char)0xcd), "MADV_DONTNEED lost shared data");
    munmap(priv, 2 * PG);
    munmap(shared, PG);
    printf("madvise MADV_DONTNEED: private zeroed, shared kept\n");
}

static void check_msync(void)
{
    char buf[32] = { 0 };
    int fd = temp_file();
    CHECK(ftruncate(fd, 2 * PG) == 0, "ftruncate");
    char *p = mmap(NULL, 2 * PG, RW, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap shared file");
    memcpy(p + PG + 100, "msync data", 10);
    CHECK(msync(p, 2 * PG, MS_SYNC) == 0, "msync");
    CHECK(pread(fd, buf, 10, PG + 100) == 10 && memcmp(buf, "msync data", 10) == 0,
          "data not in file after msync");
    CHECK(pwrite(fd, "from file", 9, 0) == 9 && memcmp(p, "from file", 9) == 0,
          "file write not visible in shared mapping");
    EXPECT_ERR(msync(p + 1, PG, MS_SYNC), EINVAL);
    munmap(p, 2 * PG);
    close(fd);
    printf("msync: ok\n");
}

/* A shared mapping of a file opened read-only can never become writable:
 * mprotect(PROT_WRITE) is EACCES and the file keeps its bytes. */
static void check_shared_readonly(void)
{
    char path[4096], buf[8] = { 0 };
    snprintf(path, sizeof path, "%s/t_mmap.XXXXXX", tmpdir);
    int fd = mkstemp(path);
    CHECK(fd >= 0 && pwrite(fd, "keep", 4, 0) == 4, "mkstemp/pwrite");
    int ro = open(path, O_RDONLY);
    unlink(path);
    CHECK(ro >= 0, "open read-only");
    char *p = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
    CHECK(p != MAP_FAILED, "mmap shared read-only");
    EXPECT_ERR(mprotect(p, PG, PROT_READ | PROT_WRITE), EACCES);
    EXPECT_ERR((long)mmap(NULL, PG, RW, MAP_SHARED, ro, 0), EACCES);
    char *q = mmap(NULL, PG, RW, MAP_SHARED, fd, 0);          /* the read-write fd may */
    CHECK(q != MAP_FAILED && mprotect(q, PG, PROT_READ) == 0 &&
          mprotect(q, PG, RW) == 0, "read-write fd: mprotect back to writable");
    CHECK(pread(fd, buf, 4, 0) == 4 && memcmp(buf, "keep", 4) == 0, "file changed");
    munmap(p, PG);
    munmap(q, PG);
    close(ro);
    close(fd);
    printf("shared read-only: ok\n");
}

static void check_file_private(void)
{
    static char content[5000];
    char back[16];
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = 'a' + i % 26;
    int fd = temp_file();
    CHECK(write(fd, content, sizeof content) == sizeof content, "write file");
    char *p = mmap(NULL, 3 * PG, RW, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED, "mmap private file");
    CHECK(memcmp(p, content, sizeof content) == 0, "mapped content");
    CHECK(all_bytes(p + sizeof content, 2 * PG - sizeof content, 0), "tail not zero");
    memcpy(p, "PRIVATE", 7);
    CHECK(pread(fd, back, 7, 0) == 7 && memcmp(back, "abcdefg", 7) == 0,
          "private write reached the file");
    CHECK(probe(p + 2 * PG, 0) == SIGBUS && fault_code == BUS_ADRERR,
          "access past EOF did not raise SIGBUS");
    munmap(p, 3 * PG);
    close(fd);
    printf("file-backed private mmap: ok (past EOF: SIGBUS)\n");
}

static void check_mincore(void)
{
    unsigned char vec[4];
    char *p = map_anon(4 * PG, MAP_PRIVATE);
    p[0] = 1;
    p[2 * PG] = 1;
    CHECK(mincore(p, 4 * PG, vec) == 0, "mincore");
    CHECK((vec[0] & 1) && (vec[2] & 1), "touched pages not resident");
    EXPECT_ERR(mincore(p + 1, PG, vec), EINVAL);
    munmap(p, 4 * PG);
    printf("mincore: ok\n");
}

static void check_sparse(void)
{
    size_t len = 64L << 20;
    char *p = mmap(NULL, len, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(p != MAP_FAILED, "mmap 64M");
    for (size_t off = 0; off < len; off += 1 << 20)
        p[off] = (char)(off >> 20);
    for (size_t off = 0; off < len; off += 1 << 20)
        CHECK(p[off] == (char)(off >> 20), "sparse data");
    munmap(p, len);
    printf("mmap 64M sparse: ok\n");
}

static void check_fork_sharing(void)
{
    int *shared = (int *)map_anon(PG, MAP_SHARED);
    int *priv = (int *)map_anon(PG, MAP_PRIVATE);
    *shared = 1;
    *priv = 1;
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        *shared = *priv == 1 ? 1234 : -1;
        *priv = 999;
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "child");
    CHECK(*shared == 1234, "MAP_SHARED write not visible in parent (%d)", *shared);
    CHECK(*priv == 1, "MAP_PRIVATE write leaked into parent");
    printf("MAP_SHARED across fork: %d\n", *shared);
    printf("MAP_PRIVATE across fork: copy-on-write ok\n");
    munmap(shared, PG);
    munmap(priv, PG);
}

/* Raw syscalls: libc wrappers may reject some of these before the kernel. */
static void check_bad_args(void)
{
    EXPECT_ERR(syscall(SYS_mmap, 0, 0, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
    EXPECT_ERR(syscall(SYS_mmap, 0, PG, RW, MAP_PRIVATE, -1, 0), EBADF);
    int fd = temp_file();
    EXPECT_ERR(syscall(SYS_mmap, 0, PG, RW, MAP_PRIVATE, fd, 100), EINVAL);
    close(fd);
    printf("mmap bad arguments: EINVAL EBADF EINVAL\n");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        tmpdir = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(sysconf(_SC_PAGESIZE) == PG, "unexpected page size");
    install_fault_handlers();
    check_brk();
    check_anon_private();
    check_fixed();
    check_munmap();
    check_mprotect();
    check_mremap();
    check_madvise();
    check_msync();
    check_shared_readonly();
    check_file_private();
    check_mincore();
    check_sparse();
    check_fork_sharing();
    check_bad_args();
    printf("mmap ok\n");
    return 0;
}
