/*
 * t_fault.c - synchronous faults and fatal signals.
 *
 * Usage: t_fault KIND [handle]
 *   KIND: segv  - write to a read-only page          -> SIGSEGV (SEGV_ACCERR)
 *         null  - write through a NULL pointer       -> SIGSEGV (SEGV_MAPERR)
 *         ill   - execute ud2                        -> SIGILL  (ILL_ILLOPN)
 *         fpe   - integer divide by zero             -> SIGFPE  (FPE_INTDIV)
 *         trap  - execute int3                       -> SIGTRAP (SI_KERNEL)
 *         abort - abort()                            -> SIGABRT (SI_TKILL)
 *         bus   - touch a mapped page past EOF       -> SIGBUS  (BUS_ADRERR)
 * Without "handle" the program just faults; the caller checks that it was
 * killed by that signal (RLIMIT_CORE is set to 0 first, so no core file).
 * With "handle" a SA_SIGINFO handler siglongjmps back out and the program
 * prints "caught SIGSEGV" (etc.) and "si_code SEGV_ACCERR" (etc.), exit 0.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util.h"

struct fault {
    const char *kind;
    int sig;
    const char *signame;
    int code;
    const char *codename;
    void (*trigger)(void);
};

static sigjmp_buf escape;
static volatile int caught_sig, caught_code;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    caught_sig = sig;
    caught_code = si->si_code;
    siglongjmp(escape, 1);
}

/* ---- the faults ------------------------------------------------------ */

static void do_segv(void)
{
    volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED, "mmap");
    p[0] = 1;
}

static void do_null(void)
{
    volatile int *p = NULL;
    *p = 1;
}

static void do_ill(void)
{
    asm volatile("ud2");
}

static void do_fpe(void)
{
    volatile int a = 1, b = 0;
    a = a / b;
}

static void do_trap(void)
{
    asm volatile("int3");
}

static void do_abort(void)
{
    abort();
}

/* An empty file mapped shared: its first page lies wholly beyond EOF. */
static int empty_file(void)
{
    int fd = memfd_create("t_fault", 0);
    if (fd >= 0)
        return fd;
    char path[] = "/tmp/t_fault.XXXXXX";
    fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    return fd;
}

static void do_bus(void)
{
    int fd = empty_file();
    volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(p != MAP_FAILED, "mmap empty file");
    (void)p[0];
}

static const struct fault faults[] = {
    { "segv",  SIGSEGV, "SIGSEGV", SEGV_ACCERR, "SEGV_ACCERR", do_segv },
    { "null",  SIGSEGV, "SIGSEGV", SEGV_MAPERR, "SEGV_MAPERR", do_null },
    { "ill",   SIGILL,  "SIGILL",  ILL_ILLOPN,  "ILL_ILLOPN",  do_ill },
    { "fpe",   SIGFPE,  "SIGFPE",  FPE_INTDIV,  "FPE_INTDIV",  do_fpe },
    { "trap",  SIGTRAP, "SIGTRAP", SI_KERNEL,   "SI_KERNEL",   do_trap },
    { "abort", SIGABRT, "SIGABRT", SI_TKILL,    "SI_TKILL",    do_abort },
    { "bus",   SIGBUS,  "SIGBUS",  BUS_ADRERR,  "BUS_ADRERR",  do_bus },
};

static const struct fault *lookup(const char *kind)
{
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        if (strcmp(faults[i].kind, kind) == 0)
            return &faults[i];
    return NULL;
}

static int handle_fault(const struct fault *f)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(f->sig, &sa, NULL) == 0, "sigaction");

    if (sigsetjmp(escape, 1) == 0) {
        f->trigger();
        fprintf(stderr, "FAIL: %s did not fault\n", f->kind);
        return 1;
    }
    CHECK(caught_sig == f->sig, "caught signal %d, expected %s", caught_sig,
          f->signame);
    printf("caught %s\n", f->signame);
    CHECK(caught_code == f->code, "si_code %d, expected %s", caught_code,
          f->codename);
    printf("si_code %s\n", f->codename);
    return 0;
}

int main(int argc, char **argv)
{
    const struct fault *f = argc > 1 ? lookup(argv[1]) : NULL;
    if (!f) {
        fprintf(stderr, "usage: t_fault segv|null|ill|fpe|trap|abort|bus [handle]\n");
        return 2;
    }
    struct rlimit no_core = { 0, 0 };
    setrlimit(RLIMIT_CORE, &no_core);
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (argc > 2 && strcmp(argv[2], "handle") == 0)
        return handle_fault(f);
    f->trigger();
    fprintf(stderr, "FAIL: %s did not kill the process\n", f->kind);
    return 1;
}
