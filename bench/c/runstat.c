/*
 * runstat.c - run one program and report its wall time and peak RSS.
 *
 * The bench harness starts every timed program through this launcher
 * (compiled at bench time, cc -O2) for two reasons:
 *   - ru_maxrss is inherited across exec from the image that forked: a
 *     program vforked straight from the Python harness would report the
 *     harness's own ~16 MB.  runstat is small, so the child it fork()s
 *     starts from a small image and wait4 reports the program's own peak
 *     (and the peak of everything the program itself reaped).
 *   - wall time is taken in C around fork..wait4, so the harness's Python
 *     overhead is not part of any figure.
 *
 * Usage: runstat [-c CPU] -o STATFILE PROGRAM [ARG ...]
 *
 * -c pins runstat (and so PROGRAM) to host CPU.  PROGRAM inherits stdin,
 * stdout and stderr.  STATFILE receives one line:
 *   status S wall_ns W maxrss_kb M utime_us U stime_us T
 * where S is the exit status, or 128 + signal number.  runstat exits 0
 * when it could run PROGRAM, 125 on its own errors, 127 if exec failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "runstat: %s: %s\n", what, strerror(errno));
    exit(125);
}

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_us(struct timeval tv)
{
    return tv.tv_sec * 1000000LL + tv.tv_usec;
}

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

int main(int argc, char **argv)
{
    const char *statfile = NULL;
    struct rusage ru;
    long long t0, t1;
    int opt, status;
    pid_t pid;
    FILE *f;

    while ((opt = getopt(argc, argv, "+c:o:")) != -1) {
        if (opt == 'c')
            pin(atoi(optarg));
        else if (opt == 'o')
            statfile = optarg;
        else
            return 64;
    }
    if (!statfile || optind >= argc) {
        fprintf(stderr, "usage: runstat [-c CPU] -o STATFILE PROGRAM [ARG ...]\n");
        return 64;
    }
    t0 = now_ns();
    pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        execvp(argv[optind], argv + optind);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid)
        die("wait4");
    t1 = now_ns();
    f = fopen(statfile, "w");
    if (!f)
        die(statfile);
    fprintf(f, "status %d wall_ns %lld maxrss_kb %ld utime_us %lld stime_us %lld\n",
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
            t1 - t0, ru.ru_maxrss, tv_us(ru.ru_utime), tv_us(ru.ru_stime));
    return fclose(f) == 0 ? 0 : 125;
}
