/*
 * t_smp.c - threads of one process that run on different CPUs at once.
 *
 * Tests what a multi-CPU kernel must get right when the threads of one
 * process are traced by different virtual CPUs (vkernel -n 2): a signal
 * sent to a thread spinning in user code, pipe ping-pong between two
 * threads (every wakeup crosses CPUs), exit_group(2) from one thread while
 * its siblings spin, and execve(2) from a non-main thread while its
 * siblings spin (the kernel must end them first).
 * Prints: "signal ok", "pingpong 2000", "exit_group ok", "exec ok".
 * Usage: t_smp            (t_smp exec-child is the re-exec'd image)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define ROUNDS 2000
#define SPINNERS 3

static volatile sig_atomic_t got_signal;
static volatile int stop_spinning;
static int ping[2], pong[2];
static char *self_path;

static void on_usr1(int sig)
{
    (void)sig;
    got_signal = 1;
}

static void *spin_until_signalled(void *arg)
{
    (void)arg;
    while (!got_signal)
        ;
    return NULL;
}

static void *spin(void *arg)
{
    (void)arg;
    while (!stop_spinning)
        ;
    return NULL;
}

static void *echo_back(void *arg)
{
    (void)arg;
    char c;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK(read(ping[0], &c, 1) == 1, "echo read");
        CHECK(write(pong[1], &c, 1) == 1, "echo write");
    }
    return NULL;
}

static void test_signal_to_spinning_thread(void)
{
    pthread_t t;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    CHECK(pthread_create(&t, NULL, spin_until_signalled, NULL) == 0, "pthread_create");
    usleep(20000);
    CHECK(pthread_kill(t, SIGUSR1) == 0, "pthread_kill");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    printf("signal ok\n");
}

static void test_pingpong(void)
{
    pthread_t t;
    CHECK(pipe(ping) == 0 && pipe(pong) == 0, "pipe");
    CHECK(pthread_create(&t, NULL, echo_back, NULL) == 0, "pthread_create");
    int n = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char c = (char)i, r;
        CHECK(write(ping[1], &c, 1) == 1, "ping write");
        CHECK(read(pong[0], &r, 1) == 1, "pong read");
        n += r == c;
    }
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    printf("pingpong %d\n", n);
}

static void start_spinners(void)
{
    pthread_t t;
    for (int i = 0; i < SPINNERS; i++)
        CHECK(pthread_create(&t, NULL, spin, NULL) == 0, "pthread_create spinner");
    usleep(20000);
}

static void *exit_group_now(void *arg)
{
    (void)arg;
    exit(7);
}

static void test_exit_group_from_thread(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        pthread_t t;
        start_spinners();
        CHECK(pthread_create(&t, NULL, exit_group_now, NULL) == 0, "pthread_create");
        for (;;)
            pause();
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "exit_group status %#x", status);
    printf("exit_group ok\n");
}

static void *exec_now(void *arg)
{
    (void)arg;
    char *argv[] = {self_path, "exec-child", NULL};
    execv(self_path, argv);
    _exit(99);
}

static void test_exec_from_thread(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        pthread_t t;
        start_spinners();
        CHECK(pthread_create(&t, NULL, exec_now, NULL) == 0, "pthread_create");
        for (;;)
            pause();
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec child status %#x", status);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        /* the thread that exec'd took over the process id, as on Linux */
        printf("exec ok%s\n", getpid() == (pid_t)syscall(SYS_gettid) ? "" : " (tid != pid)");
        return 0;
    }
    self_path = argv[0];
    test_signal_to_spinning_thread();
    test_pingpong();
    test_exit_group_from_thread();
    test_exec_from_thread();
    return 0;
}
