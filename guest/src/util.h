/*
 * util.h - tiny helpers shared by the guest test programs.
 *
 * Everything here is static so each program stays a single translation
 * unit.  Output helpers never print pids, addresses or times, so program
 * output stays byte-for-byte identical between a native run and a run
 * inside vkernel.
 */
#ifndef VK_GUEST_UTIL_H
#define VK_GUEST_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Symbolic name of an errno value ("ENOENT"), or "E<number>". */
static const char *errname(int e)
{
    static char buf[32];
    switch (e) {
    case 0: return "OK";
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(ESRCH) E(EINTR) E(EIO) E(ENXIO) E(E2BIG)
    E(ENOEXEC) E(EBADF) E(ECHILD) E(EAGAIN) E(ENOMEM) E(EACCES)
    E(EFAULT) E(EBUSY) E(EEXIST) E(EXDEV) E(ENODEV) E(ENOTDIR)
    E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ENOTTY) E(EFBIG)
    E(ENOSPC) E(ESPIPE) E(EROFS) E(EMLINK) E(EPIPE) E(ERANGE)
    E(ENAMETOOLONG) E(ENOSYS) E(ENOTEMPTY) E(ELOOP) E(EOPNOTSUPP)
    E(ETIMEDOUT) E(EOVERFLOW) E(ENOTSOCK) E(ECONNREFUSED)
#undef E
    default:
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
}

/* Print "msg: reason" to stderr and exit 1 (a failed check). */
static void die(const char *fmt, ...)
{
    va_list ap;
    int saved = errno;
    fflush(stdout);
    fprintf(stderr, "FAIL: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (errno=%s)\n", errname(saved));
    exit(1);
}

/* Abort the program with a message unless cond holds. */
#define CHECK(cond, ...) do { if (!(cond)) die(__VA_ARGS__); } while (0)

#endif /* VK_GUEST_UTIL_H */
