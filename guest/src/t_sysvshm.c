/*
 * t_sysvshm.c - System V shared memory: shmget, shmat, shmdt, shmctl.
 *
 * Usage: t_sysvshm             (must run as root: a child drops to uid 1000)
 *        t_sysvshm nattch ID   (prints the segment's shm_nattch; used after exec)
 *        t_sysvshm leak N KEEP (N private segments made, attached in a child
 *                               too, removed and detached; KEEP keyed ones left)
 *        t_sysvshm unkeep KEEP (removes the KEEP keyed segments)
 * Tests: a keyed segment created, attached and written in the parent; a
 * child attaches it by key, sees and changes the data; shm_nattch counts
 * (a second attachment, attachments inherited across fork, dropped at
 * exec and exit, by shmdt); the segment survives detach; IPC_STAT fields;
 * IPC_PRIVATE segments; shmat at a given address, SHM_RND, SHM_REMAP and
 * EINVAL on an occupied range; SHM_RDONLY (a store faults with SIGSEGV);
 * permissions for uid 1000 (EACCES, EPERM, then IPC_SET opens the mode);
 * EEXIST, ENOENT, EINVAL cases; IPC_RMID with an attachment (the attachment
 * still works, SHM_DEST is set, the key is free: shmget by key makes a new
 * segment, and the old id is gone after the last shmdt); IPC_INFO, SHM_INFO,
 * SHM_STAT.
 * Prints one line per check, never ids, keys or addresses, so the output is
 * identical natively and inside vkernel; exits 1 with "FAIL: ..." otherwise.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define SEGSZ 10000
#define PG 4096

static key_t base_key;
static sigjmp_buf probe_env;

static void on_segv(int sig)
{
    siglongjmp(probe_env, sig);
}

/* Store one byte at p; returns the signal it raised, or 0. */
static int probe_store(volatile char *p)
{
    int sig = sigsetjmp(probe_env, 1);
    if (sig == 0) {
        *p = 'x';
        return 0;
    }
    return sig;
}

static unsigned long nattch(int id)
{
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
    return (unsigned long)ds.shm_nattch;
}

static const char *err(long r)
{
    return r == -1 ? errname(errno) : "OK";
}

static const char *err_ptr(void *p)
{
    return p == (void *)-1 ? errname(errno) : "OK";
}

static void wait_child(pid_t pid, const char *what)
{
    int st;
    CHECK(waitpid(pid, &st, 0) == pid, "waitpid %s", what);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed (status %#x)", what, st);
}

static void remove_key(key_t key)
{
    int id = shmget(key, 0, 0);
    if (id >= 0)
        shmctl(id, IPC_RMID, NULL);
}

/* -- a keyed segment shared with a child -------------------------------------------- */
static void child_by_key(int id)
{
    int id2 = shmget(base_key, 0, 0);
    printf("child: shmget by key finds it: %s\n", id2 == id ? "yes" : "no");
    printf("child: nattch inherited %lu\n", nattch(id));
    char *q = shmat(id2, NULL, 0);
    CHECK(q != (void *)-1, "child shmat");
    printf("child: reads \"%s\", nattch %lu\n", q, nattch(id));
    strcpy(q, "changed by the child");
    CHECK(shmdt(q) == 0, "child shmdt");
    printf("child: after shmdt nattch %lu\n", nattch(id));
    fflush(stdout);
    _exit(0);
}

static void test_keyed(const char *self)
{
    int id = shmget(base_key, SEGSZ, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget IPC_CREAT");
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
    printf("created: segsz %zu nattch %lu mode %o key matches %s cpid ok %s uid ok %s\n",
           (size_t)ds.shm_segsz, (unsigned long)ds.shm_nattch,
           (unsigned)ds.shm_perm.mode & 0777, ds.shm_perm.__key == base_key ? "yes" : "no",
           ds.shm_cpid == getpid() ? "yes" : "no",
           ds.shm_perm.uid == getuid() && ds.shm_perm.cuid == getuid() ? "yes" : "no");
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1, "shmat");
    printf("attached: page aligned %s, zero filled %s, nattch %lu\n",
           ((uintptr_t)p & (PG - 1)) == 0 ? "yes" : "no", p[SEGSZ - 1] == 0 ? "yes" : "no",
           nattch(id));
    strcpy(p, "written by the parent");
    char *p2 = shmat(id, NULL, 0);
    CHECK(p2 != (void *)-1 && p2 != p, "second shmat");
    printf("second attachment reads \"%s\", nattch %lu\n", p2, nattch(id));
    CHECK(shmdt(p2) == 0, "shmdt second");
    printf("after shmdt nattch %lu; shmdt again: %s\n", nattch(id), err(shmdt(p2)));

    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        child_by_key(id);
    wait_child(pid, "child_by_key");
    printf("parent reads \"%s\", nattch %lu\n", p, nattch(id));

    fflush(stdout);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        char arg[32];
        snprintf(arg, sizeof arg, "%d", id);
        execl(self, self, "nattch", arg, (char *)NULL);
        _exit(127);
    }
    wait_child(pid, "exec child");

    CHECK(shmdt(p) == 0, "shmdt");
    printf("detached: nattch %lu; segment still there: %s\n", nattch(id),
           shmget(base_key, 0, 0) == id ? "yes" : "no");
    p = shmat(id, NULL, SHM_RDONLY);
    CHECK(p != (void *)-1, "reattach");
    printf("reattached read-only reads \"%s\"\n", p);
    printf("store into SHM_RDONLY attachment: %s\n",
           probe_store(p) == SIGSEGV ? "SIGSEGV" : "no fault");
    CHECK(shmdt(p) == 0, "shmdt rdonly");
}

/* -- errors -------------------------------------------------------------------------- */
static void test_errors(void)
{
    int id = shmget(base_key, 0, 0);
    printf("shmget IPC_CREAT|IPC_EXCL existing: %s\n",
           err(shmget(base_key, SEGSZ, IPC_CREAT | IPC_EXCL | 0600)));
    printf("shmget existing, larger size: %s\n", err(shmget(base_key, SEGSZ + 1, 0)));
    printf("shmget existing, smaller size: %s\n",
           shmget(base_key, 100, 0) == id ? "same id" : "other");
    printf("shmget missing key: %s\n", err(shmget(base_key + 1, 100, 0)));
    printf("shmget size 0: %s\n", err(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600)));
    printf("shmat bad id: %s\n", err_ptr(shmat(-1, NULL, 0)));
    printf("shmat stale id: %s\n", err_ptr(shmat(id + 32768 * 7, NULL, 0)));
    printf("shmat unaligned address: %s\n", err_ptr(shmat(id, (void *)0x100001, 0)));
    printf("shmdt unaligned: %s\n", err(shmdt((void *)0x100001)));
    char *anon = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(anon != MAP_FAILED, "mmap");
    printf("shmdt not an attachment: %s\n", err(shmdt(anon)));
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1, "shmat");
    printf("shmdt inside an attachment: %s\n", err(shmdt(p + PG)));
    CHECK(shmdt(p) == 0, "shmdt");
    struct shmid_ds ds;
    printf("shmctl bad command: %s\n", err(shmctl(id, 12345, &ds)));
    printf("shmctl IPC_STAT bad id: %s\n", err(shmctl(-1, IPC_STAT, &ds)));
    munmap(anon, PG);
}

/* -- addresses ----------------------------------------------------------------------- */
static void test_addresses(void)
{
    int id = shmget(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget IPC_PRIVATE");
    int id2 = shmget(IPC_PRIVATE, 2 * PG, IPC_CREAT | 0600);
    printf("IPC_PRIVATE twice: %s\n", id2 >= 0 && id2 != id ? "two segments" : "same");
    shmctl(id2, IPC_RMID, NULL);
    char *hole = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(hole != MAP_FAILED, "mmap hole");
    char *want = hole + 2 * PG;
    printf("shmat over a mapping: %s\n", err_ptr(shmat(id, want, 0)));
    char *p = shmat(id, want, SHM_REMAP);
    printf("shmat SHM_REMAP at the address: %s\n", p == want ? "yes" : "no");
    strcpy(p, "fixed");
    munmap(hole, 8 * PG);
    char *q = shmat(id, want + 123, SHM_RND);
    printf("shmat SHM_RND rounds down: %s, reads \"%s\"\n", q == want ? "yes" : "no", q);
    printf("nattch %lu\n", nattch(id));
    CHECK(shmdt(q) == 0, "shmdt");
    printf("mapping gone after shmdt: %s\n",
           mmap(want, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0)
           == want ? "yes" : "no");
    munmap(want, PG);
    shmctl(id, IPC_RMID, NULL);
}

/* -- permissions --------------------------------------------------------------------- */
static void perm_child(int id, int phase)
{
    CHECK(setgid(1000) == 0 && setuid(1000) == 0, "setuid");
    struct shmid_ds ds;
    if (phase == 0) {
        printf("uid 1000, mode 600: shmget asking 0: %s\n", err(shmget(base_key, 0, 0)));
        printf("uid 1000, mode 600: shmget asking 0600: %s\n",
               err(shmget(base_key, 0, 0600)));
        printf("uid 1000, mode 600: shmat: %s\n", err_ptr(shmat(id, NULL, 0)));
        printf("uid 1000, mode 600: IPC_STAT: %s\n", err(shmctl(id, IPC_STAT, &ds)));
        printf("uid 1000, mode 600: IPC_RMID: %s\n", err(shmctl(id, IPC_RMID, NULL)));
    } else {
        printf("uid 1000, mode 644: IPC_STAT: %s\n", err(shmctl(id, IPC_STAT, &ds)));
        printf("uid 1000, mode 644: shmat SHM_RDONLY: %s\n",
               err_ptr(shmat(id, NULL, SHM_RDONLY)));
        printf("uid 1000, mode 644: shmat read-write: %s\n", err_ptr(shmat(id, NULL, 0)));
        ds.shm_perm.mode = 0666;
        printf("uid 1000, mode 644: IPC_SET: %s\n", err(shmctl(id, IPC_SET, &ds)));
    }
    fflush(stdout);
    _exit(0);
}

static void test_permissions(void)
{
    int id = shmget(base_key, 0, 0);
    for (int phase = 0; phase < 2; phase++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork");
        if (pid == 0)
            perm_child(id, phase);
        wait_child(pid, "perm_child");
        struct shmid_ds ds;
        CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
        ds.shm_perm.mode = 0644;
        CHECK(shmctl(id, IPC_SET, &ds) == 0, "IPC_SET");
    }
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT");
    printf("after IPC_SET: mode %o\n", (unsigned)ds.shm_perm.mode & 0777);
}

/* -- IPC_RMID -------------------------------------------------------------------------- */
static void test_rmid(void)
{
    int id = shmget(base_key, 0, 0);
    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1, "shmat");
    strcpy(p, "still here");
    printf("IPC_RMID with an attachment: %s\n", err(shmctl(id, IPC_RMID, NULL)));
    struct shmid_ds ds;
    CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT after RMID");
    printf("after RMID: SHM_DEST %s, key private %s, nattch %lu, reads \"%s\"\n",
           ds.shm_perm.mode & SHM_DEST ? "set" : "clear",
           ds.shm_perm.__key == IPC_PRIVATE ? "yes" : "no", (unsigned long)ds.shm_nattch, p);
    strcpy(p, "written after RMID");
    printf("after RMID: shmget by key: %s\n", err(shmget(base_key, 0, 0)));
    int id2 = shmget(base_key, 100, IPC_CREAT | 0600);
    printf("after RMID: IPC_CREAT by key makes a new segment: %s\n",
           id2 >= 0 && id2 != id ? "yes" : "no");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        printf("child of removed segment: nattch %lu, reads \"%s\"\n", nattch(id), p);
        fflush(stdout);
        _exit(0);
    }
    wait_child(pid, "rmid child");
    CHECK(shmdt(p) == 0, "shmdt");
    printf("last shmdt: IPC_STAT of the old id: %s\n", err(shmctl(id, IPC_STAT, &ds)));
    printf("new segment nattch %lu\n", nattch(id2));
    shmctl(id2, IPC_RMID, NULL);
}

static void test_info(void)
{
    struct shminfo info;
    int r = shmctl(0, IPC_INFO, (struct shmid_ds *)&info);
    printf("IPC_INFO: %s, shmmin %lu, shmmni > 0 %s\n", r >= 0 ? "OK" : errname(errno),
           (unsigned long)info.shmmin, info.shmmni > 0 ? "yes" : "no");
    int id = shmget(IPC_PRIVATE, PG, IPC_CREAT | 0600);
    struct shm_info si;
    r = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
    printf("SHM_INFO: %s, used_ids >= 1 %s\n", r >= 0 ? "OK" : errname(errno),
           si.used_ids >= 1 ? "yes" : "no");
    int found = 0;
    for (int idx = 0; idx <= r; idx++) {
        struct shmid_ds ds;
        if (shmctl(idx, SHM_STAT, &ds) == id && ds.shm_segsz == PG)
            found = 1;
    }
    printf("SHM_STAT by index finds the segment: %s\n", found ? "yes" : "no");
    shmctl(id, IPC_RMID, NULL);
}

#define KEEP_KEY 0x56430000

static void leak(int n, int keep)
{
    for (int i = 0; i < n; i++) {
        int id = shmget(IPC_PRIVATE, 3 * PG, IPC_CREAT | 0600);
        CHECK(id >= 0, "shmget");
        char *p = shmat(id, NULL, 0);
        CHECK(p != (void *)-1, "shmat");
        p[2 * PG] = 'a';
        if (i % 3 == 0) {
            pid_t pid = fork();
            CHECK(pid >= 0, "fork");
            if (pid == 0)
                _exit(p[2 * PG] == 'a' ? 0 : 1);
            wait_child(pid, "leak child");
        }
        if (i % 2)
            CHECK(shmdt(p) == 0, "shmdt");
        CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
        if (i % 2 == 0)
            CHECK(shmdt(p) == 0, "shmdt");
    }
    for (int k = 0; k < keep; k++) {
        int id = shmget(KEEP_KEY + k, PG, IPC_CREAT | 0600);
        CHECK(id >= 0, "shmget keep");
        char *p = shmat(id, NULL, 0);
        CHECK(p != (void *)-1, "shmat keep");
        p[0] = 'k';
    }
}

static void unkeep(int keep)
{
    for (int k = 0; k < keep; k++) {
        int id = shmget(KEEP_KEY + k, 0, 0);
        CHECK(id >= 0, "shmget unkeep");
        CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID unkeep");
    }
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "leak") == 0) {
        leak(atoi(argv[2]), atoi(argv[3]));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "unkeep") == 0) {
        unkeep(atoi(argv[2]));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "nattch") == 0) {
        printf("after exec: nattch %lu\n", nattch(atoi(argv[2])));
        return 0;
    }
    CHECK(geteuid() == 0, "t_sysvshm must run as root");
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    CHECK(sigaction(SIGSEGV, &sa, NULL) == 0, "sigaction");
    base_key = 0x56420000 | (getpid() & 0xfff0);
    remove_key(base_key);
    remove_key(base_key + 1);
    test_keyed(argv[0]);
    test_errors();
    test_addresses();
    test_permissions();
    test_rmid();
    test_info();
    printf("done\n");
    return 0;
}
