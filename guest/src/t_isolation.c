/*
 * t_isolation.c - tries to escape the guest's view of the system.
 *
 * Usage: t_isolation HOSTPATH [HOSTPID [SCRATCHDIR]]
 *   HOSTPATH   an absolute path that must NOT be reachable from the guest
 *              (e.g. a host file outside the guest root)
 *   HOSTPID    a host pid that must not be signalable (only signal 0 is
 *              ever sent)
 *   SCRATCHDIR where to create the escape symlink (default /tmp)
 * Attempts: open HOSTPATH by absolute path; through a ../../.. chain from
 * the cwd and from /; through a symlink pointing at it; through
 * /proc/self/root, /proc/1/root and /proc/1/cwd; kill(1, 0); kill(HOSTPID, 0);
 * and a 32-bit "int $0x80" getpid (eax=20), whose result is compared with
 * getpid() rather than printed raw.
 * Prints one line per attempt: "reached!" when the path opened (or the
 * signal could be sent), otherwise the errno name.  Natively everything is
 * reachable; inside vkernel nothing should be.  Always exits 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char *open_result(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errname(errno);
    close(fd);
    return "reached!";
}

static void attempt(const char *what, const char *path)
{
    printf("%s: %s\n", what, open_result(path));
}

static void try_paths(const char *target)
{
    char path[8192];
    const char *rel = target[0] == '/' ? target + 1 : target;

    attempt("absolute path", target);

    snprintf(path, sizeof path, "../../../../../../../../../../../../%s", rel);
    attempt("dotdot chain from cwd", path);

    if (chdir("/") == 0) {
        attempt("dotdot chain from /", path);
        snprintf(path, sizeof path, "/../../../%s", rel);
        attempt("/.. chain", path);
    } else {
        printf("dotdot chain from /: chdir %s\n", errname(errno));
    }

    snprintf(path, sizeof path, "/proc/self/root/%s", rel);
    attempt("/proc/self/root", path);
    snprintf(path, sizeof path, "/proc/1/root/%s", rel);
    attempt("/proc/1/root", path);
    snprintf(path, sizeof path, "/proc/1/cwd/../../../../../../%s", rel);
    attempt("/proc/1/cwd", path);
}

static void try_symlink(const char *target, const char *dir)
{
    char link[4096];
    snprintf(link, sizeof link, "%s/t_isolation.link.%d", dir, (int)getpid());
    unlink(link);
    if (symlink(target, link) != 0) {
        printf("symlink: create %s\n", errname(errno));
        return;
    }
    attempt("symlink", link);
    unlink(link);
}

static const char *kill_result(pid_t pid)
{
    if (pid <= 0)
        return "invalid pid";
    if (kill(pid, 0) == 0)
        return "reached!";
    return errname(errno);
}

/* ---- int $0x80 ------------------------------------------------------- */

static sigjmp_buf int80_env;
static volatile int int80_sig;

static void on_int80_fault(int sig)
{
    int80_sig = sig;
    siglongjmp(int80_env, 1);
}

static long int80_getpid(void)
{
    long ret = 20;   /* __NR_getpid in the i386 table */
    asm volatile("int $0x80"
                 : "+a"(ret)
                 :
                 : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

static void try_int80(void)
{
    signal(SIGSEGV, on_int80_fault);
    signal(SIGILL, on_int80_fault);
    if (sigsetjmp(int80_env, 1) != 0) {
        printf("int $0x80 getpid: %s\n", int80_sig == SIGSEGV ? "SIGSEGV" : "SIGILL");
        return;
    }
    long r = int80_getpid();
    if (r == getpid())
        printf("int $0x80 getpid: returned getpid()\n");
    else if (r < 0 && r > -4096)
        printf("int $0x80 getpid: %s\n", errname((int)-r));
    else
        printf("int $0x80 getpid: returned a different pid\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: t_isolation HOSTPATH [HOSTPID [SCRATCHDIR]]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    try_symlink(argv[1], argc > 3 ? argv[3] : "/tmp");
    try_paths(argv[1]);
    printf("kill(1, 0): %s\n", kill_result(1));
    if (argc > 2)
        printf("kill(hostpid, 0): %s\n", kill_result((pid_t)atoi(argv[2])));
    try_int80();
    return 0;
}
