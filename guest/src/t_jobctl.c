/*
 * t_jobctl.c - job control below the shell; run natively and inside vkernel
 * (tests/e2e/test_console.py compares the two outputs).
 *
 * Tests: setpgid into the group one is already in (the group must survive),
 * stop and continue reported by waitpid (WUNTRACED, WCONTINUED), nanosleep
 * across a stop (it keeps its first deadline: restart_syscall) and under a
 * handler (EINTR and the time left), sigsuspend with a signal already
 * pending, and a stopped process group orphaned by an exit (SIGHUP, then
 * SIGCONT).  Every line printed is the same on Linux and in vkernel.
 *
 * Usage: t_jobctl
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_signal(int sig) { caught = sig; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void nap(double s)
{
    struct timespec t = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

static void handle(int sig)
{
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigaction(sig, &sa, 0);
}

static void same_group_again(void)
{
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        int r = setpgid(0, getpid());          /* already there */
        printf("setpgid again: %d, group still there: %s\n", r,
               kill(-getpid(), 0) == 0 ? "yes" : "no");
        _exit(0);
    }
    waitpid(c, 0, 0);
}

static void stop_and_continue_reported(void)
{
    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    int st;
    kill(c, SIGSTOP);
    waitpid(c, &st, WUNTRACED);
    printf("waitpid WUNTRACED: stopped %d by signal %d\n", WIFSTOPPED(st), WSTOPSIG(st));
    kill(c, SIGCONT);
    waitpid(c, &st, WCONTINUED);
    printf("waitpid WCONTINUED: continued %d\n", WIFCONTINUED(st));
    kill(c, SIGTERM);
    waitpid(c, &st, 0);
    printf("then killed by signal %d\n", WTERMSIG(st));
}

static void nanosleep_across_stop(void)
{
    pid_t c = fork();
    if (c == 0) {
        struct timespec t = { 2, 0 };
        double t0 = now();
        int r = nanosleep(&t, 0);
        double took = now() - t0;              /* stopped from 0.3 s to 3.0 s */
        printf("nanosleep across a stop: %d, back at the continue: %s\n", r,
               took < 4.0 ? "yes" : "no (it slept again)");
        _exit(0);
    }
    nap(0.3);
    kill(c, SIGSTOP);
    nap(2.7);
    kill(c, SIGCONT);
    waitpid(c, 0, 0);
}

static void nanosleep_under_handler(void)
{
    struct timespec t = { 3, 0 }, rem = { 0, 0 };
    handle(SIGALRM);
    alarm(1);
    int r = nanosleep(&t, &rem);
    int e = errno;
    printf("nanosleep under a handler: %d %s, caught %d, about %ld s left\n", r,
           e == EINTR ? "EINTR" : "?", caught, (long)(rem.tv_sec + (rem.tv_nsec > 500000000)));
}

static void sigsuspend_with_pending(void)
{
    sigset_t block, old;
    handle(SIGCHLD);
    caught = 0;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t c = fork();
    if (c == 0)
        _exit(3);
    nap(0.2);                                  /* SIGCHLD is pending, blocked */
    int r = sigsuspend(&old);
    printf("sigsuspend with SIGCHLD pending: %d, caught %d\n", r, caught);
    sigprocmask(SIG_SETMASK, &old, 0);
    waitpid(c, 0, 0);
}

static void orphaned_stopped_group(void)
{
    int fd[2], alive[2];
    pipe(fd);
    pipe(alive);                               /* c holds the write end until it dies */
    pid_t e = fork();
    if (e == 0) {                              /* a session whose exit orphans a group */
        setsid();
        pid_t c = fork();
        if (c == 0) {
            setpgid(0, 0);
            raise(SIGSTOP);
            pause();
            _exit(0);
        }
        close(alive[1]);
        setpgid(c, c);
        waitpid(c, 0, WUNTRACED);
        write(fd[1], &c, sizeof c);
        _exit(0);
    }
    close(alive[1]);
    pid_t c;
    read(fd[0], &c, sizeof c);
    waitpid(e, 0, 0);
    /* c is not our child: whoever adopts it may not reap it at once, so its
     * death is seen as the end of the pipe it held, not by kill(c, 0) */
    struct pollfd p = { .fd = alive[0], .events = POLLIN };
    if (poll(&p, 1, 10000) == 1) {
        printf("stopped group orphaned by an exit: hung up\n");
        return;
    }
    printf("stopped group orphaned by an exit: still stopped\n");
    kill(c, SIGKILL);
}

int main(void)
{
    setvbuf(stdout, 0, _IONBF, 0);
    same_group_again();
    stop_and_continue_reported();
    nanosleep_across_stop();
    nanosleep_under_handler();
    sigsuspend_with_pending();
    orphaned_stopped_group();
    return 0;
}
