/*
 * t_poll.c - waiting for events: poll/ppoll/select/epoll with timeouts and
 * wakeups from other processes, eventfd, timerfd, signalfd, and the
 * in-kernel copies sendfile/splice/tee.
 *
 * Tests: poll timing out, and woken by a child writing a pipe; select
 * woken the same way, and its timeout written back (raw syscall); poll
 * interrupted by a signal handler (EINTR); ppoll's temporary mask letting
 * a blocked signal in and the old mask coming back; blocking eventfd read
 * woken by a child; epoll level-triggered, EPOLLET with data arriving
 * between a drain and the next epoll_wait, EPOLLONESHOT re-armed by
 * EPOLL_CTL_MOD, a closed fd leaving the interest list, nested epoll,
 * a timerfd in an epoll set; signalfd read and poll (SIGUSR2, and a
 * blocked, default-ignored SIGCHLD); sendfile into a
 * pipe, splice out of it, tee between pipes.
 * Never prints times: each line is "name: ok"/"name: not ok" or a fixed
 * value.  Exits 1 if any check failed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MS 1000000LL

static int failures;

static void report(const char *name, int good)
{
    printf("%s: %s\n", name, good ? "ok" : "not ok");
    if (!good)
        failures++;
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap(int ms)
{
    struct timespec ts = { 0, ms * MS };
    nanosleep(&ts, NULL);
}

/* Fork a child that sleeps ms, writes 8 bytes of value v to fd and exits. */
static pid_t later_write(int fd, int ms, uint64_t v)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        nap(ms);
        _exit(write(fd, &v, sizeof v) == sizeof v ? 0 : 1);
    }
    return pid;
}

static int reaped_ok(pid_t pid)
{
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* ---- poll / select ------------------------------------------------------ */

static void check_poll_waits(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd pf = { p[0], POLLIN, 0 };
    int64_t t0 = mono();
    int n = poll(&pf, 1, 50);
    report("poll times out", n == 0 && pf.revents == 0 && mono() - t0 >= 50 * MS);

    pid_t child = later_write(p[1], 30, 7);
    t0 = mono();
    n = poll(&pf, 1, 5000);
    report("poll woken by a writer", n == 1 && pf.revents == POLLIN &&
           mono() - t0 >= 25 * MS && reaped_ok(child));

    uint64_t v;
    CHECK(read(p[0], &v, sizeof v) == sizeof v, "drain");
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    struct timeval tv = { 5, 0 };
    child = later_write(p[1], 30, 8);
    n = select(p[0] + 1, &r, NULL, NULL, &tv);
    report("select woken by a writer", n == 1 && FD_ISSET(p[0], &r) && reaped_ok(child));
    CHECK(read(p[0], &v, sizeof v) == sizeof v, "drain");

    long raw[2] = { 0, 20000 };
    FD_SET(p[0], &r);
    n = syscall(SYS_select, p[0] + 1, &r, NULL, NULL, raw);
    report("select timeout written back", n == 0 && raw[0] == 0 && raw[1] == 0 &&
           !FD_ISSET(p[0], &r));
    close(p[0]);
    close(p[1]);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    (void)sig;
    got_signal++;
}

static void check_poll_signals(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    struct pollfd pf = { p[0], POLLIN, 0 };
    got_signal = 0;
    ualarm(30000, 0);
    errno = 0;
    int n = poll(&pf, 1, -1);
    report("poll interrupted by a handler: EINTR", n == -1 && errno == EINTR &&
           got_signal == 1);

    sigset_t block, none, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &block, NULL);
    got_signal = 0;
    kill(getpid(), SIGUSR1);
    int before = got_signal;
    struct timespec ts = { 5, 0 };
    errno = 0;
    n = ppoll(&pf, 1, &ts, &none);
    int err = errno;
    sigprocmask(SIG_SETMASK, NULL, &now);
    report("ppoll temporary mask lets a pending signal in", before == 0 && n == -1 &&
           err == EINTR && got_signal == 1);
    report("ppoll restores the mask", sigismember(&now, SIGUSR1) == 1);

    CHECK(write(p[1], "x", 1) == 1, "write");
    kill(getpid(), SIGUSR1);
    got_signal = 0;
    n = ppoll(&pf, 1, &ts, &block);
    report("ppoll ready: mask back, signal still blocked", n == 1 && got_signal == 0);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    report("signal delivered after unblocking", got_signal == 1);
    close(p[0]);
    close(p[1]);
    signal(SIGALRM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
}

/* ---- eventfd ------------------------------------------------------------ */

static void check_eventfd_blocking(void)
{
    uint64_t v = 0;
    int fd = eventfd(0, 0);
    CHECK(fd >= 0, "eventfd");
    pid_t child = later_write(fd, 30, 5);
    int r = read(fd, &v, sizeof v);
    report("eventfd read woken by a writer", r == 8 && v == 5 && reaped_ok(child));
    struct pollfd pf = { fd, POLLIN | POLLOUT, 0 };
    printf("eventfd poll empty: %s\n",
           poll(&pf, 1, 0) == 1 && pf.revents == POLLOUT ? "POLLOUT" : "other");
    v = 2;
    CHECK(write(fd, &v, sizeof v) == 8, "write");
    printf("eventfd poll counted: %s\n",
           poll(&pf, 1, 0) == 1 && pf.revents == (POLLIN | POLLOUT) ? "POLLIN|POLLOUT" : "other");
    close(fd);
}

/* ---- epoll -------------------------------------------------------------- */

static int ep_add(int ep, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = { .events = events, .data.u64 = tag };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int ep_wait1(int ep, int ms, uint64_t *tag, uint32_t *events)
{
    struct epoll_event got[4];
    int n = epoll_wait(ep, got, 4, ms);
    if (n >= 1) {
        *tag = got[0].data.u64;
        *events = got[0].events;
    }
    return n;
}

static void check_epoll_waits(void)
{
    int p[2];
    uint64_t tag = 0, v;
    uint32_t events = 0;
    int ep = epoll_create1(0);
    int efd = eventfd(0, EFD_NONBLOCK);
    CHECK(ep >= 0 && efd >= 0 && pipe(p) == 0, "epoll setup");
    CHECK(ep_add(ep, p[0], EPOLLIN, 1) == 0 && ep_add(ep, efd, EPOLLIN, 2) == 0, "add");
    int64_t t0 = mono();
    report("epoll_wait times out", ep_wait1(ep, 40, &tag, &events) == 0 &&
           mono() - t0 >= 40 * MS);
    pid_t child = later_write(efd, 30, 1);
    int n = ep_wait1(ep, 5000, &tag, &events);
    report("epoll_wait woken by an eventfd", n == 1 && tag == 2 && events == EPOLLIN &&
           reaped_ok(child));
    CHECK(read(efd, &v, 8) == 8, "eventfd drain");

    /* EPOLLET: drain to EAGAIN, new data before the next wait must fire */
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = 1 };
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "MOD ET");
    CHECK(write(p[1], "a", 1) == 1, "write");
    n = ep_wait1(ep, 0, &tag, &events);
    char buf[16];
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    while (read(p[0], buf, sizeof buf) > 0)
        ;
    CHECK(write(p[1], "b", 1) == 1, "write");
    int again = ep_wait1(ep, 1000, &tag, &events);
    int quiet = ep_wait1(ep, 0, &tag, &events);
    report("epoll EPOLLET after drain and refill", n == 1 && again == 1 && tag == 1 &&
           quiet == 0);
    while (read(p[0], buf, sizeof buf) > 0)
        ;

    /* EPOLLONESHOT */
    ev.events = EPOLLIN | EPOLLONESHOT;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "MOD ONESHOT");
    CHECK(write(p[1], "c", 1) == 1, "write");
    int first = ep_wait1(ep, 0, &tag, &events);
    CHECK(write(p[1], "d", 1) == 1, "write");
    int second = ep_wait1(ep, 0, &tag, &events);
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "re-arm");
    int third = ep_wait1(ep, 0, &tag, &events);
    report("epoll EPOLLONESHOT", first == 1 && second == 0 && third == 1);

    /* closing the last descriptor of a file removes it from the set */
    close(p[0]);
    close(p[1]);
    report("closed fd leaves the epoll set", ep_wait1(ep, 0, &tag, &events) == 0);
    close(efd);
    close(ep);
}

static void check_epoll_nested_timerfd(void)
{
    uint64_t tag = 0, ticks = 0;
    uint32_t events = 0;
    int outer = epoll_create1(EPOLL_CLOEXEC), inner = epoll_create(1);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(outer >= 0 && inner >= 0 && tfd >= 0, "setup");
    CHECK(ep_add(inner, tfd, EPOLLIN, 9) == 0, "add timerfd");
    CHECK(ep_add(outer, inner, EPOLLIN, 8) == 0, "add inner epoll");
    errno = 0;
    int loop = ep_add(inner, outer, EPOLLIN, 7);
    printf("epoll loop: %s\n", loop == -1 ? errname(errno) : "allowed");
    struct itimerspec its = { { 0, 20 * MS }, { 0, 20 * MS } };
    CHECK(timerfd_settime(tfd, 0, &its, NULL) == 0, "timerfd_settime");
    int n = ep_wait1(outer, 5000, &tag, &events);
    report("nested epoll sees a timerfd", n == 1 && tag == 8 && events == EPOLLIN);
    n = ep_wait1(inner, 0, &tag, &events);
    report("inner epoll reports the timerfd", n == 1 && tag == 9 &&
           read(tfd, &ticks, 8) == 8 && ticks >= 1);
    struct itimerspec off = { { 0, 0 }, { 0, 0 } }, cur;
    timerfd_settime(tfd, 0, &off, NULL);
    timerfd_gettime(tfd, &cur);
    report("timerfd disarmed", cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
    errno = 0;
    int r = epoll_ctl(outer, EPOLL_CTL_ADD, 0, NULL);
    printf("epoll_ctl ADD NULL event: %s\n", r == -1 ? errname(errno) : "ok");
    int reg = open("/proc/self/exe", O_RDONLY);
    if (reg < 0)
        reg = open("/bin/sh", O_RDONLY);
    errno = 0;
    r = ep_add(outer, reg, EPOLLIN, 1);
    printf("epoll on a regular file: %s\n", r == -1 ? errname(errno) : "ok");
    close(reg);
    close(tfd);
    close(inner);
    close(outer);
}

/* ---- signalfd ------------------------------------------------------------ */

static void check_signalfd(void)
{
    sigset_t mask;
    struct signalfd_siginfo si;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR2);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(fd >= 0, "signalfd");
    errno = 0;
    int r = read(fd, &si, sizeof si);
    printf("signalfd empty: %s\n", r == -1 ? errname(errno) : "data");
    kill(getpid(), SIGUSR2);
    struct pollfd pf = { fd, POLLIN, 0 };
    int n = poll(&pf, 1, 1000);
    r = read(fd, &si, sizeof si);
    report("signalfd poll and read", n == 1 && r == sizeof si && si.ssi_signo == SIGUSR2 &&
           si.ssi_code == SI_USER && si.ssi_pid == (uint32_t)getpid());

    fcntl(fd, F_SETFL, 0);
    pid_t parent = getpid(), child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        nap(30);
        _exit(kill(parent, SIGUSR2) == 0 ? 0 : 1);
    }
    r = read(fd, &si, sizeof si);
    report("signalfd blocking read woken by kill", r == sizeof si &&
           si.ssi_signo == SIGUSR2 && reaped_ok(child));
    close(fd);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);

    /* SIGCHLD is ignored by default, but a blocked one stays pending */
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    fd = signalfd(-1, &mask, 0);
    CHECK(fd >= 0, "signalfd SIGCHLD");
    child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0)
        _exit(3);
    r = read(fd, &si, sizeof si);
    printf("signalfd SIGCHLD: signo=%s code=%s status=%d pid=%s\n",
           si.ssi_signo == SIGCHLD ? "SIGCHLD" : "other",
           si.ssi_code == CLD_EXITED ? "CLD_EXITED" : "other", (int)si.ssi_status,
           si.ssi_pid == (uint32_t)child ? "child" : "other");
    CHECK(r == sizeof si && waitpid(child, NULL, 0) == child, "reap");
    close(fd);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
}

/* ---- sendfile, splice, tee ------------------------------------------------ */

static void check_copies(void)
{
    char path[] = "/tmp/t_poll.XXXXXX", buf[64];
    int f = mkstemp(path);
    CHECK(f >= 0, "mkstemp");
    unlink(path);
    CHECK(write(f, "0123456789", 10) == 10, "write");
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipes");
    off_t off = 2;
    ssize_t n = sendfile(a[1], f, &off, 5);
    report("sendfile into a pipe", n == 5 && off == 7);
    n = tee(a[0], b[1], 100, 0);
    ssize_t m = read(b[0], buf, sizeof buf);
    report("tee copies without consuming", n == 5 && m == 5 && memcmp(buf, "23456", 5) == 0);
    loff_t out = 20;
    n = splice(a[0], NULL, f, &out, 100, 0);
    report("splice from a pipe into a file", n == 5 && out == 25);
    CHECK(pread(f, buf, 5, 20) == 5, "pread");
    printf("splice data: %.5s\n", buf);
    errno = 0;
    n = splice(f, NULL, f, NULL, 10, 0);
    printf("splice without a pipe: %s\n", n == -1 ? errname(errno) : "ok");
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    close(f);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_poll_waits();
    check_poll_signals();
    check_eventfd_blocking();
    check_epoll_waits();
    check_epoll_nested_timerfd();
    check_signalfd();
    check_copies();
    if (failures) {
        fprintf(stderr, "FAIL: %d poll check(s) failed\n", failures);
        return 1;
    }
    printf("poll ok\n");
    return 0;
}
