/*
 * t_robust.c - robust mutexes: the kernel walks a dead thread's robust list.
 *
 * Tests: set_robust_list(2) and the kernel's part of robust futexes.  A
 * process-shared robust mutex in MAP_SHARED memory is locked by a child
 * that exits holding it: the parent's next lock returns EOWNERDEAD (the
 * kernel marked the word FUTEX_OWNER_DIED).  Then a parent already blocked
 * on the mutex when its owner dies is woken with EOWNERDEAD.  Then a thread
 * that exits holding a private robust mutex.  Each time the mutex is made
 * consistent and locked again normally.
 * Prints: "dead owner: EOWNERDEAD", "blocked waiter: EOWNERDEAD",
 * "dead thread: EOWNERDEAD", "robust ok".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static pthread_mutex_t *shared_mutex(void)
{
    pthread_mutex_t *m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap");
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(m, &a) == 0, "pthread_mutex_init");
    return m;
}

static void recover(pthread_mutex_t *m, const char *what, int r)
{
    printf("%s: %s\n", what, r == EOWNERDEAD ? "EOWNERDEAD" : errname(r));
    if (r == EOWNERDEAD)
        CHECK(pthread_mutex_consistent(m) == 0, "consistent");
    CHECK(pthread_mutex_unlock(m) == 0, "unlock");
    CHECK(pthread_mutex_lock(m) == 0, "relock");
    CHECK(pthread_mutex_unlock(m) == 0, "unlock again");
}

static void dead_owner(void)
{
    pthread_mutex_t *m = shared_mutex();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        CHECK(pthread_mutex_lock(m) == 0, "child lock");
        _exit(0);
    }
    CHECK(waitpid(pid, NULL, 0) == pid, "waitpid");
    recover(m, "dead owner", pthread_mutex_lock(m));
}

static void blocked_waiter(void)
{
    pthread_mutex_t *m = shared_mutex();
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        CHECK(pthread_mutex_lock(m) == 0, "child lock");
        CHECK(write(p[1], "x", 1) == 1, "child write");
        usleep(100000);                      /* the parent blocks meanwhile */
        _exit(0);
    }
    char c;
    CHECK(read(p[0], &c, 1) == 1, "read");
    recover(m, "blocked waiter", pthread_mutex_lock(m));
    CHECK(waitpid(pid, NULL, 0) == pid, "waitpid");
}

static pthread_mutex_t private_mutex;

static void *lock_and_leave(void *arg)
{
    CHECK(pthread_mutex_lock(&private_mutex) == 0, "thread lock");
    return arg;
}

static void dead_thread(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    CHECK(pthread_mutex_init(&private_mutex, &a) == 0, "init");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, lock_and_leave, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    recover(&private_mutex, "dead thread", pthread_mutex_lock(&private_mutex));
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    dead_owner();
    blocked_waiter();
    dead_thread();
    printf("robust ok\n");
    return 0;
}
