/*
 * t_time.c - clocks, sleeps, timers, limits and misc process-info syscalls.
 *
 * Tests: clock_gettime (monotonic never goes back, realtime is sane),
 * clock_getres; nanosleep 50ms and clock_nanosleep (relative and
 * TIMER_ABSTIME) measured roughly; setitimer/getitimer with SIGALRM
 * (one-shot and periodic); timerfd (one-shot, non-blocking EAGAIN,
 * periodic); alarm return values; gettimeofday; getrandom (length only);
 * uname (sysname only); getrlimit/setrlimit/prlimit64 (RLIMIT_NOFILE is
 * enforced by dup2); getrusage; times; sysinfo; sched_yield;
 * sched_getaffinity; getcpu; prctl PR_SET_NAME/PR_GET_NAME;
 * personality(0xffffffff).
 * Never prints times or measured durations: each line is "name: ok" or
 * "name: not ok" (or a fixed value).  Exits 1 if any check failed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define MS 1000000LL   /* nanoseconds per millisecond */

static int failures;

static void report(const char *name, int good)
{
    printf("%s: %s\n", name, good ? "ok" : "not ok");
    if (!good)
        failures++;
}

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    CHECK(clock_gettime(clk, &ts) == 0, "clock_gettime(%d)", (int)clk);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono(void)
{
    return now_ns(CLOCK_MONOTONIC);
}

/* Is the measured interval [start, now] at least want ns and not absurd? */
static int took_about(int64_t start, int64_t want)
{
    int64_t d = mono() - start;
    return d >= want && d < want + 5000 * MS;
}

/* ---- clocks and sleeping --------------------------------------------- */

static void check_clocks(void)
{
    int64_t first = mono(), prev = first, cur = first;
    int monotonic = 1;
    for (int i = 0; i < 1000; i++) {
        cur = mono();
        monotonic &= cur >= prev;
        prev = cur;
    }
    struct timespec ts = { 0, 1 * MS };
    nanosleep(&ts, NULL);
    monotonic &= mono() > first;
    report("clock_gettime CLOCK_MONOTONIC increasing", monotonic);
    report("clock_gettime CLOCK_REALTIME sane",
           now_ns(CLOCK_REALTIME) > 1600000000LL * 1000000000LL);
    report("clock_gettime CLOCK_BOOTTIME/PROCESS_CPUTIME",
           now_ns(CLOCK_BOOTTIME) > 0 && now_ns(CLOCK_PROCESS_CPUTIME_ID) > 0);
    struct timespec res;
    report("clock_getres", clock_getres(CLOCK_MONOTONIC, &res) == 0 &&
           res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10 * MS);
}

static void check_nanosleep(void)
{
    struct timespec ts = { 0, 50 * MS };
    int64_t start = mono();
    int r = nanosleep(&ts, NULL);
    report("nanosleep 50ms", r == 0 && took_about(start, 50 * MS));
}

static void check_clock_nanosleep(void)
{
    struct timespec rel = { 0, 20 * MS };
    int64_t start = mono();
    int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
    report("clock_nanosleep relative", r == 0 && took_about(start, 20 * MS));

    int64_t deadline = mono() + 20 * MS;
    struct timespec abs = { deadline / 1000000000LL, deadline % 1000000000LL };
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
    report("clock_nanosleep TIMER_ABSTIME", r == 0 && mono() >= deadline);
    r = clock_nanosleep((clockid_t)1234, 0, &rel, NULL);
    printf("clock_nanosleep bad clock: %s\n", errname(r));
}

/* ---- interval timers ------------------------------------------------- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

/* Wait (with SIGALRM blocked outside sigsuspend) until alarms >= n. */
static void wait_alarms(int n)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigprocmask(SIG_BLOCK, &block, &old);
    while (alarms < n)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void check_itimer(void)
{
    struct itimerval it = { { 0, 0 }, { 0, 50000 } }, cur;
    signal(SIGALRM, on_alarm);
    alarms = 0;
    int64_t start = mono();
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
    CHECK(getitimer(ITIMER_REAL, &cur) == 0, "getitimer");
    int armed = cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 &&
                cur.it_value.tv_usec <= 50000;
    wait_alarms(1);
    int fired = took_about(start, 50 * MS);
    CHECK(getitimer(ITIMER_REAL, &cur) == 0, "getitimer");
    int disarmed = cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0;
    report("setitimer/getitimer one-shot", armed && fired && disarmed);

    struct itimerval periodic = { { 0, 10000 }, { 0, 10000 } }, off = { { 0, 0 }, { 0, 0 } };
    alarms = 0;
    start = mono();
    CHECK(setitimer(ITIMER_REAL, &periodic, NULL) == 0, "setitimer periodic");
    wait_alarms(3);
    CHECK(setitimer(ITIMER_REAL, &off, &cur) == 0, "setitimer off");
    report("setitimer periodic", took_about(start, 30 * MS) &&
           cur.it_interval.tv_usec == 10000);
    CHECK(getitimer(ITIMER_VIRTUAL, &cur) == 0, "getitimer virtual");
    signal(SIGALRM, SIG_DFL);
}

static void check_timerfd(void)
{
    uint64_t n = 0;
    struct itimerspec one = { { 0, 0 }, { 0, 30 * MS } }, cur;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(fd >= 0, "timerfd_create");
    int64_t start = mono();
    CHECK(timerfd_settime(fd, 0, &one, NULL) == 0, "timerfd_settime");
    CHECK(timerfd_gettime(fd, &cur) == 0, "timerfd_gettime");
    int armed = cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
                cur.it_value.tv_nsec <= 30 * MS;
    int r = read(fd, &n, sizeof n);
    report("timerfd one-shot", armed && r == 8 && n == 1 && took_about(start, 30 * MS));
    close(fd);

    struct itimerspec periodic = { { 0, 10 * MS }, { 0, 10 * MS } };
    fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(fd >= 0, "timerfd_create nonblock");
    CHECK(timerfd_settime(fd, 0, &periodic, NULL) == 0, "timerfd_settime");
    errno = 0;
    int early = read(fd, &n, sizeof n) == -1 && errno == EAGAIN;
    struct timespec nap = { 0, 35 * MS };
    nanosleep(&nap, NULL);
    r = read(fd, &n, sizeof n);
    report("timerfd periodic/nonblocking", early && r == 8 && n >= 3);
    close(fd);
}

static void check_alarm(void)
{
    unsigned first = alarm(5);
    unsigned second = alarm(0);
    printf("alarm: %u then %u\n", first, second);
}

/* ---- wall clock and entropy ------------------------------------------ */

static void check_gettimeofday(void)
{
    struct timeval tv;
    CHECK(gettimeofday(&tv, NULL) == 0, "gettimeofday");
    int64_t rt = now_ns(CLOCK_REALTIME) / 1000000000LL;
    report("gettimeofday", tv.tv_usec >= 0 && tv.tv_usec < 1000000 &&
           rt - tv.tv_sec >= 0 && rt - tv.tv_sec <= 1 && time(NULL) >= tv.tv_sec);
}

static void check_getrandom(void)
{
    unsigned char buf[32];
    memset(buf, 0, sizeof buf);
    long n = syscall(SYS_getrandom, buf, 16, 0);
    int nonzero = 0;
    for (int i = 0; i < 16; i++)
        nonzero |= buf[i];
    long m = syscall(SYS_getrandom, buf, sizeof buf, 1 /* GRND_NONBLOCK */);
    printf("getrandom: %ld bytes, nonblock %ld bytes\n", n, m);
    if (n != 16 || m != 32 || !nonzero)
        failures++;
}

static void check_uname(void)
{
    struct utsname u;
    CHECK(uname(&u) == 0, "uname");
    CHECK(strcmp(u.machine, "x86_64") == 0, "uname machine %s", u.machine);
    printf("uname sysname: %s\n", u.sysname);
}

/* ---- resource limits and usage --------------------------------------- */

static void check_rlimits(void)
{
    struct rlimit orig, now, old;
    CHECK(getrlimit(RLIMIT_NOFILE, &orig) == 0, "getrlimit");
    CHECK(orig.rlim_cur <= orig.rlim_max && orig.rlim_max >= 64, "NOFILE limits");
    struct rlimit small = { 64, orig.rlim_max };
    CHECK(setrlimit(RLIMIT_NOFILE, &small) == 0, "setrlimit");
    CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == 64, "readback");
    CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old) == 0 &&
          old.rlim_cur == 64 && old.rlim_max == orig.rlim_max, "prlimit64 get");
    errno = 0;
    int high = dup2(0, 64);
    int high_err = errno;
    int low = dup2(0, 63);
    close(63);
    CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &orig, &old) == 0 &&
          old.rlim_cur == 64, "prlimit64 set");
    struct rlimit bad = { orig.rlim_max, orig.rlim_max - 1 };
    errno = 0;
    int bad_r = setrlimit(RLIMIT_NOFILE, &bad);
    printf("rlimit NOFILE=64: dup2 to 63 %s, to 64 %s; soft>hard %s\n",
           low == 63 ? "ok" : "failed", high == -1 ? errname(high_err) : "allowed",
           bad_r == -1 ? errname(errno) : "allowed");
    CHECK(getrlimit(RLIMIT_STACK, &now) == 0, "getrlimit STACK");
    report("prlimit64", getrlimit(RLIMIT_NOFILE, &now) == 0 &&
           now.rlim_cur == orig.rlim_cur);
}

static void check_rusage(void)
{
    struct rusage ru, th, ch;
    int64_t start = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile uint64_t x = 1;
    while (now_ns(CLOCK_PROCESS_CPUTIME_ID) - start < 30 * MS)
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005ULL + 1;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0, "getrusage SELF");
    CHECK(getrusage(RUSAGE_THREAD, &th) == 0, "getrusage THREAD");
    CHECK(getrusage(RUSAGE_CHILDREN, &ch) == 0, "getrusage CHILDREN");
    int64_t us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec +
                 ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
    report("getrusage", us > 0 && ru.ru_maxrss > 0);
    struct tms t;
    report("times", times(&t) != (clock_t)-1);
}

/* ---- system and scheduler info --------------------------------------- */

static void check_sysinfo(void)
{
    struct sysinfo si;
    report("sysinfo", sysinfo(&si) == 0 && si.uptime > 0 && si.totalram > 0 &&
           si.mem_unit >= 1 && si.procs > 0);
}

static void check_sched(void)
{
    cpu_set_t set;
    unsigned cpu = ~0u, node = ~0u;
    report("sched_yield", sched_yield() == 0);
    CPU_ZERO(&set);
    report("sched_getaffinity", sched_getaffinity(0, sizeof set, &set) == 0 &&
           CPU_COUNT(&set) > 0);
    report("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL) == 0 &&
           cpu < CPU_SETSIZE && node != ~0u);
}

static void check_prctl(void)
{
    char name[32] = { 0 };
    CHECK(prctl(PR_SET_NAME, "vk-time-test", 0, 0, 0) == 0, "PR_SET_NAME");
    CHECK(prctl(PR_GET_NAME, name, 0, 0, 0) == 0, "PR_GET_NAME");
    printf("prctl PR_GET_NAME: %s\n", name);
    CHECK(prctl(PR_SET_NAME, "0123456789abcdefghij", 0, 0, 0) == 0, "PR_SET_NAME long");
    CHECK(prctl(PR_GET_NAME, name, 0, 0, 0) == 0, "PR_GET_NAME");
    printf("prctl long name truncated: %s\n", name);
}

static void check_personality(void)
{
    int p = personality(0xffffffff);
    CHECK(p != -1, "personality query");
    printf("personality: %s\n", (p & PER_MASK) == PER_LINUX ? "PER_LINUX" : "other");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    check_clocks();
    check_nanosleep();
    check_clock_nanosleep();
    check_itimer();
    check_timerfd();
    check_alarm();
    check_gettimeofday();
    check_getrandom();
    check_uname();
    check_rlimits();
    check_rusage();
    check_sysinfo();
    check_sched();
    check_prctl();
    check_personality();
    if (failures) {
        fprintf(stderr, "FAIL: %d time check(s) failed\n", failures);
        return 1;
    }
    printf("time ok\n");
    return 0;
}
