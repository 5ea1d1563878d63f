/*
 * t_shm.c - POSIX shared memory between processes: shm_open, memfd_create,
 * sem_open, and the coherence of shared file mappings with read/write.
 *
 * Usage: t_shm [DIR]           (DIR holds the file test; default /dev/shm)
 *        t_shm leak N [KEEP]   (N shm files and N memfds made, mapped and
 *                               dropped; KEEP files /dev/shm/t_shm.keep.K left)
 * Tests: shm_open + ftruncate + mmap MAP_SHARED before fork: the parent and
 * four children count under a process-shared pthread mutex and with atomic
 * increments, half of them through a mapping of their own made after fork
 * (shm_open by name); the totals, and each child's slot read back through
 * the parent's mapping and with pread; shm_unlink.  memfd_create + mmap
 * shared + fork: the child's stores, its write() and a mapping of its own
 * are seen by the parent; seals (F_SEAL_WRITE is EBUSY while a writable
 * mapping exists, then writable shared mmap and write() are EPERM, a
 * private mapping still works).  A file in DIR: pwrite seen through a
 * shared mapping and a read-only one, stores through the mapping seen by
 * pread and read, ftruncate growing a mapped file, a private mapping not
 * writing through, mprotect(PROT_WRITE) of a read-only shared mapping
 * EACCES.  Named semaphores across fork: a ping-pong with a child that
 * reopens them by name (a mapping at another address), three children
 * using one as a lock around a shared counter; sem_unlink.
 * Prints one line per check; exits 1 with "FAIL: ..." on stderr otherwise.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_WRITE 0x0008
#endif

#define PG 4096L
#define RW (PROT_READ | PROT_WRITE)
#define NCHILD 4
#define ITERS 2000
#define ROUNDS 200

#define EXPECT_ERR(call, err) \
    do { errno = 0; long r_ = (long)(call); \
         CHECK(r_ == -1 && errno == (err), "%s: got %ld/%s, want %s", #call, \
               r_, errname(errno), #err); } while (0)

/* ---- helpers --------------------------------------------------------- */

static void wait_children(int n)
{
    for (int i = 0; i < n; i++) {
        int st;
        pid_t pid = wait(&st);
        CHECK(pid > 0, "wait");
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child failed (status %#x)", st);
    }
}

static void *map_fd(int fd, size_t len, int prot, int flags)
{
    void *p = mmap(NULL, len, prot, flags, fd, 0);
    CHECK(p != MAP_FAILED, "mmap %zu bytes", len);
    return p;
}

/* ---- shm_open: counting with a process-shared mutex and atomics ---------- */

struct counters {
    pthread_mutex_t mu;
    long locked;
    long atomic;
    long slot[NCHILD + 1];
};

static void count(struct counters *c, int who)
{
    for (int j = 0; j < ITERS; j++) {
        CHECK(pthread_mutex_lock(&c->mu) == 0, "pthread_mutex_lock");
        c->locked++;
        CHECK(pthread_mutex_unlock(&c->mu) == 0, "pthread_mutex_unlock");
        __atomic_fetch_add(&c->atomic, 1, __ATOMIC_SEQ_CST);
    }
    c->slot[who] = 100 + who;
}

/* A child of odd index maps the segment itself: another address. */
static void shm_child(const char *name, struct counters *inherited, int who)
{
    struct counters *c = inherited;
    if (who % 2) {
        int fd = shm_open(name, O_RDWR, 0);
        CHECK(fd >= 0, "child shm_open %s", name);
        c = map_fd(fd, PG, RW, MAP_SHARED);
        CHECK(c != inherited, "a new mapping at the old address");
        close(fd);
    }
    count(c, who);
    _exit(0);
}

static void test_shm_open(void)
{
    char name[64];
    snprintf(name, sizeof name, "/t_shm.%d", (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0, "shm_open %s", name);
    CHECK(ftruncate(fd, PG) == 0, "ftruncate");
    struct counters *c = map_fd(fd, PG, RW, MAP_SHARED);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    CHECK(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) == 0, "setpshared");
    CHECK(pthread_mutex_init(&c->mu, &ma) == 0, "pthread_mutex_init");
    for (int i = 0; i < NCHILD; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0)
            shm_child(name, c, i);
    }
    count(c, NCHILD);
    wait_children(NCHILD);
    printf("shm_open: %d processes, mutex count %ld, atomic count %ld (want %d)\n",
           NCHILD + 1, c->locked, c->atomic, (NCHILD + 1) * ITERS);
    long slots[NCHILD + 1];
    CHECK(pread(fd, slots, sizeof slots, offsetof(struct counters, slot)) == sizeof slots,
          "pread");
    for (int i = 0; i <= NCHILD; i++)
        CHECK(c->slot[i] == 100 + i && slots[i] == 100 + i, "slot %d: %ld/%ld", i,
              c->slot[i], slots[i]);
    printf("shm_open: every slot seen through the mapping and by pread\n");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_size == PG, "fstat size");
    CHECK(munmap(c, PG) == 0 && close(fd) == 0, "munmap/close");
    CHECK(shm_unlink(name) == 0, "shm_unlink");
    EXPECT_ERR(shm_open(name, O_RDWR, 0), ENOENT);
    printf("shm_unlink: gone\n");
}

/* ---- memfd_create ----------------------------------------------------------- */

static void memfd_child(int fd, char *p)
{
    strcpy(p, "child via mapping");
    CHECK(pwrite(fd, "child via write", 15, PG) == 15, "child pwrite");
    char *own = map_fd(fd, 2 * PG, RW, MAP_SHARED);
    own[PG + 100] = 'X';
    _exit(0);
}

static void test_memfd_seals(int fd, char *p)
{
    EXPECT_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
    CHECK(munmap(p, 2 * PG) == 0, "munmap");
    CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0, "F_ADD_SEALS");
    CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_WRITE, "F_GET_SEALS");
    EXPECT_ERR(mmap(NULL, PG, RW, MAP_SHARED, fd, 0), EPERM);
    EXPECT_ERR(pwrite(fd, "x", 1, 0), EPERM);
    char *ro = map_fd(fd, PG, PROT_READ, MAP_SHARED);
    char *priv = map_fd(fd, PG, RW, MAP_PRIVATE);
    priv[0] = 'P';
    char c;
    CHECK(pread(fd, &c, 1, 0) == 1 && c == 'c' && ro[0] == 'c', "private store wrote through");
    munmap(ro, PG);
    munmap(priv, PG);
    printf("memfd seals: F_SEAL_WRITE EBUSY while mapped writable, then mmap and write EPERM,"
           " MAP_PRIVATE allowed\n");
}

static void test_memfd(void)
{
    int fd = memfd_create("t_shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    CHECK(fd >= 0, "memfd_create");
    CHECK(ftruncate(fd, 2 * PG) == 0, "ftruncate");
    char *p = map_fd(fd, 2 * PG, RW, MAP_SHARED);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        memfd_child(fd, p);
    wait_children(1);
    char buf[32] = {0};
    CHECK(pread(fd, buf, 17, 0) == 17, "pread");
    printf("memfd: parent's mapping has \"%s\", pread \"%s\"\n", p, buf);
    printf("memfd: child's write() seen as \"%.15s\", its own mapping's store '%c'\n",
           p + PG, p[PG + 100]);
    test_memfd_seals(fd, p);
    close(fd);
}

/* ---- a file in DIR: write() and the mapping -------------------------------- */

static void test_file_readonly(const char *path, int fd)
{
    int ro = open(path, O_RDONLY);
    CHECK(ro >= 0, "open O_RDONLY");
    char *q = map_fd(ro, PG, PROT_READ, MAP_SHARED);
    CHECK(pwrite(fd, "again", 5, 200) == 5, "pwrite");
    printf("file: read-only shared mapping sees pwrite: \"%.5s\"\n", q + 200);
    EXPECT_ERR(mprotect(q, PG, RW), EACCES);
    printf("file: mprotect(PROT_WRITE) of it: EACCES\n");
    munmap(q, PG);
    close(ro);
}

static void test_file_grow(int fd)
{
    CHECK(ftruncate(fd, 2 * PG) == 0, "ftruncate grow");
    char *p2 = map_fd(fd, 2 * PG, RW, MAP_SHARED);
    p2[PG + 1] = 'Z';
    char c = 0;
    struct stat st;
    CHECK(pread(fd, &c, 1, PG + 1) == 1 && fstat(fd, &st) == 0, "pread/fstat");
    printf("file: grown to %ld bytes, store past the old end read back '%c'\n",
           (long)st.st_size, c);
    char *priv = map_fd(fd, PG, RW, MAP_PRIVATE);
    priv[0] = 'P';
    CHECK(pread(fd, &c, 1, 0) == 1, "pread");
    printf("file: private mapping store not written through: '%c' '%c'\n", priv[0], c);
    munmap(priv, PG);
    munmap(p2, 2 * PG);
}

static void test_file(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/t_shm.file.%d", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0, "open %s", path);
    CHECK(ftruncate(fd, PG) == 0, "ftruncate");
    char *p = map_fd(fd, PG, RW, MAP_SHARED);
    CHECK(pwrite(fd, "written", 7, 0) == 7, "pwrite");
    printf("file: pwrite after mmap seen through the mapping: \"%.7s\"\n", p);
    memcpy(p + 100, "stored", 6);
    char buf[8] = {0};
    CHECK(pread(fd, buf, 6, 100) == 6, "pread");
    printf("file: store through the mapping seen by pread: \"%s\"\n", buf);
    memset(buf, 0, sizeof buf);
    CHECK(lseek(fd, 100, SEEK_SET) == 100 && read(fd, buf, 6) == 6, "read");
    printf("file: and by read: \"%s\"\n", buf);
    test_file_readonly(path, fd);
    test_file_grow(fd);
    munmap(p, PG);
    close(fd);
    CHECK(unlink(path) == 0, "unlink");
}

/* ---- named semaphores -------------------------------------------------------- */

/* The child drops the inherited semaphores and opens them by name again,
 * after taking the old address with a page of its own. */
static void pong_child(const char *na, const char *nb, sem_t *a, sem_t *b)
{
    sem_close(a);
    sem_close(b);
    void *hole = mmap(NULL, 2 * PG, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(hole != MAP_FAILED, "mmap");
    a = sem_open(na, 0);
    b = sem_open(nb, 0);
    CHECK(a != SEM_FAILED && b != SEM_FAILED, "child sem_open");
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(sem_wait(a) == 0, "child sem_wait");
        CHECK(sem_post(b) == 0, "child sem_post");
    }
    _exit(0);
}

static void test_sem_pingpong(const char *na, const char *nb)
{
    sem_t *a = sem_open(na, O_CREAT | O_EXCL, 0600, 0);
    sem_t *b = sem_open(nb, O_CREAT | O_EXCL, 0600, 0);
    CHECK(a != SEM_FAILED && b != SEM_FAILED, "sem_open");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        pong_child(na, nb, a, b);
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(sem_post(a) == 0, "sem_post");
        CHECK(sem_wait(b) == 0, "sem_wait");
    }
    wait_children(1);
    int va = -1, vb = -1;
    sem_getvalue(a, &va);
    sem_getvalue(b, &vb);
    printf("sem_open: %d round trips with a child that reopened them, values %d %d\n",
           ROUNDS, va, vb);
    sem_close(a);
    sem_close(b);
}

static void test_sem_lock(const char *na)
{
    sem_t *lock = sem_open(na, O_CREAT | O_EXCL, 0600, 1);
    CHECK(lock != SEM_FAILED, "sem_open");
    long *n = mmap(NULL, PG, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(n != MAP_FAILED, "mmap");
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            for (int j = 0; j < ITERS / 4; j++) {
                CHECK(sem_wait(lock) == 0, "sem_wait");
                long v = *n;
                if (j % 50 == 0)
                    sched_yield();
                *n = v + 1;
                CHECK(sem_post(lock) == 0, "sem_post");
            }
            _exit(0);
        }
    }
    wait_children(3);
    printf("sem_open: 3 children counted %ld under a named semaphore (want %d)\n",
           *n, 3 * (ITERS / 4));
    sem_close(lock);
}

static void test_sem(void)
{
    char na[64], nb[64];
    snprintf(na, sizeof na, "/t_shm.a.%d", (int)getpid());
    snprintf(nb, sizeof nb, "/t_shm.b.%d", (int)getpid());
    test_sem_pingpong(na, nb);
    CHECK(sem_unlink(na) == 0 && sem_unlink(nb) == 0, "sem_unlink");
    test_sem_lock(na);
    CHECK(sem_unlink(na) == 0, "sem_unlink");
    errno = 0;
    CHECK(sem_open(na, 0) == SEM_FAILED && errno == ENOENT, "sem_open after sem_unlink");
    printf("sem_unlink: gone\n");
}

/* ---- leak: many files made and dropped ------------------------------------------ */

static void make_mapped(int fd, long tag)
{
    CHECK(ftruncate(fd, PG) == 0, "ftruncate");
    long *p = map_fd(fd, PG, RW, MAP_SHARED);
    *p = tag;
    CHECK(munmap(p, PG) == 0 && close(fd) == 0, "munmap/close");
}

static int leak(int n, int keep)
{
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "/t_shm.leak.%d.%d", (int)getpid(), i);
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        CHECK(fd >= 0, "shm_open %s", name);
        make_mapped(fd, i);
        CHECK(shm_unlink(name) == 0, "shm_unlink");
        fd = memfd_create("t_shm.leak", 0);
        CHECK(fd >= 0, "memfd_create");
        make_mapped(fd, i);
    }
    for (int k = 0; k < keep; k++) {
        snprintf(name, sizeof name, "/t_shm.keep.%d", k);
        int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
        CHECK(fd >= 0, "shm_open %s", name);
        make_mapped(fd, k);
    }
    printf("leak: %d shm files and %d memfds made and dropped, %d kept\n", n, n, keep);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "leak") == 0)
        return leak(atoi(argv[2]), argc > 3 ? atoi(argv[3]) : 0);
    test_shm_open();
    test_memfd();
    test_file(argc > 1 ? argv[1] : "/dev/shm");
    test_sem();
    return 0;
}
