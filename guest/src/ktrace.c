/*
 * ktrace.c - ktrace(1): enable or clear kernel trace logging (DragonFly's).
 *
 * Usage: ktrace [-aCcdi] [-f trfile] [-g pgrp | -p pid] [-t cnisuw]
 *        ktrace [-adi] [-f trfile] [-t cnisuw] command
 *
 * DragonFly counterpart: usr.bin/ktrace/ktrace.c and subr.c.  Calls the
 * vkernel's ktrace(2) (a private syscall number, from the generated
 * vk_ktrace.h).  Without a pid, pgrp or clear flag it creates the trace
 * file (ktrace.out unless -f; unlinked and recreated unless -a), starts
 * tracing itself and execs the command.  -c without -p/-g clears every
 * process tracing to the file (KTROP_CLEARFILE); -C clears all processes.
 * Bare `ktrace -c` is accepted (the usage check of DragonFly's 2009 fix).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vk_ktrace.h"

#define DEF_TRACEFILE "ktrace.out"
#define DEFFILEMODE (S_IRUSR | S_IWUSR | S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)

enum clearmode { NOTSET, CLEAR, CLEARALL };

static void usage(void)
{
    fprintf(stderr, "%s\n%s\n",
            "usage: ktrace [-aCcdi] [-f trfile] [-g pgrp | -p pid] [-t cnisuw]",
            "       ktrace [-adi] [-f trfile] [-t cnisuw] command");
    exit(1);
}

static int ktrace(const char *file, int ops, int trpoints, pid_t pid)
{
    long r = syscall(SYS_ktrace, file, ops, trpoints, pid);

    if (r < 0 && errno == ENOSYS) {
        /* DragonFly's SIGSYS handler text; Linux answers ENOSYS instead */
        fprintf(stderr, "error:\tktrace() system call not supported in the running kernel\n"
                        "\tre-compile kernel with 'options KTRACE'\n");
        exit(1);
    }
    return (int)r;
}

#include "ktrace_subr.h"

static int rpid(const char *p)
{
    static int first;

    if (first++) {
        warnx("only one -g or -p flag is permitted.");
        usage();
    }
    if (!*p) {
        warnx("illegal process id.");
        usage();
    }
    return atoi(p);
}

/* Create (or, with -a, open for appending) the trace file before tracing. */
static void make_tracefile(const char *tracefile, int append)
{
    struct stat sb;
    mode_t omask = umask(S_IRWXG | S_IRWXO);
    int fd;

    if (append) {
        if ((fd = open(tracefile, O_CREAT | O_WRONLY, DEFFILEMODE)) < 0)
            err(1, "%s", tracefile);
        if (fstat(fd, &sb) != 0 || sb.st_uid != getuid())
            errx(1, "Refuse to append to %s not owned by you.", tracefile);
    } else {
        if (unlink(tracefile) == -1 && errno != ENOENT)
            err(1, "unlink %s", tracefile);
        if ((fd = open(tracefile, O_CREAT | O_EXCL | O_WRONLY, DEFFILEMODE)) < 0)
            err(1, "%s", tracefile);
    }
    umask(omask);
    close(fd);
}

static void clear(const char *tracefile, enum clearmode mode, int ops, int trpoints,
                  int pidset, pid_t pid)
{
    if (mode == CLEARALL) {
        ops = KTROP_CLEAR | KTRFLAG_DESCEND;
        trpoints = ALL_POINTS;
        pid = 1;
    } else {
        ops |= pidset ? KTROP_CLEAR : KTROP_CLEARFILE;
    }
    if (ktrace(tracefile, ops, trpoints, pid) < 0)
        err(1, "%s", tracefile);
    exit(0);
}

int main(int argc, char **argv)
{
    enum clearmode mode = NOTSET;
    int append = 0, ch, inherit = 0, ops = 0, pidset = 0, trpoints = DEF_POINTS;
    pid_t pid = 0;
    const char *tracefile = DEF_TRACEFILE;

    while ((ch = getopt(argc, argv, ":aCcdf:g:ip:t:")) != -1) {
        switch (ch) {
        case 'a': append = 1; break;
        case 'C': mode = CLEARALL; pidset = 1; break;
        case 'c': mode = CLEAR; break;
        case 'd': ops |= KTRFLAG_DESCEND; break;
        case 'f': tracefile = optarg; break;
        case 'g': pid = -rpid(optarg); pidset = 1; break;
        case 'i': inherit = 1; break;
        case 'p': pid = rpid(optarg); pidset = 1; break;
        case 't':
            trpoints = getpoints(optarg);
            if (trpoints < 0) {
                warnx("unknown facility in %s", optarg);
                usage();
            }
            break;
        default: bad_option(ch);
        }
    }
    argv += optind;
    argc -= optind;

    if ((pidset && *argv) || (!pidset && mode == NOTSET && !*argv))
        usage();
    if (inherit)
        trpoints |= KTRFAC_INHERIT;
    if (mode != NOTSET)
        clear(tracefile, mode, ops, trpoints, pidset, pid);

    make_tracefile(tracefile, append);
    if (*argv) {
        if (ktrace(tracefile, ops, trpoints, getpid()) < 0)
            err(1, "%s", tracefile);
        execvp(argv[0], argv);
        err(1, "exec of '%s' failed", argv[0]);
    }
    if (ktrace(tracefile, ops, trpoints, pid) < 0)
        err(1, "%s", tracefile);
    return 0;
}
