/*
 * t_signals.c - signal delivery, masks, frames and sigreturn.
 *
 * Tests: rt_sigaction with SA_SIGINFO (si_code/si_pid for kill and raise);
 * the signal mask inside a handler; FPU/SSE state (xmm0-15, MXCSR, x87
 * st0 and control word) of the interrupted code surviving a handler that
 * clobbers all of it; rt_sigprocmask blocking + rt_sigpending + delivery on
 * unblock; SA_RESTART vs EINTR for a read(2) on a pipe interrupted by
 * SIGALRM (alarm(1) and setitimer); sigaltstack with SA_ONSTACK;
 * rt_sigtimedwait (with a signal and with a timeout); queued real-time
 * signals with sigqueue; SIGCHLD siginfo from a child exit; SA_RESETHAND;
 * nested signals, deferred signals (sa_mask) and SA_NODEFER recursion.
 * Prints one line per check; exits 1 with "FAIL: ..." on stderr otherwise.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* ---- shared recording handler ---------------------------------------- */

static volatile sig_atomic_t hits;
static volatile int last_signo, last_code, last_pid, last_status;

static void record(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_signo = sig;
    last_code = si->si_code;
    last_pid = si->si_pid;
    last_status = si->si_status;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags,
                    const sigset_t *mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    if (mask)
        sa.sa_mask = *mask;
    else
        sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d)", sig);
}

static void set_default(int sig)
{
    signal(sig, SIG_DFL);
}

static int is_blocked(int sig)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

static void block(int sig, int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    CHECK(sigprocmask(how, &s, NULL) == 0, "sigprocmask");
}

/* ---- kill / raise ---------------------------------------------------- */

static void check_kill(void)
{
    hits = 0;
    install(SIGUSR1, record, 0, NULL);
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill self");
    CHECK(hits == 1, "handler ran %d times", (int)hits);
    CHECK(last_signo == SIGUSR1, "si_signo");
    CHECK(last_code == SI_USER, "si_code %d != SI_USER", last_code);
    CHECK(last_pid == getpid(), "si_pid is not our pid");
    printf("kill SIGUSR1: ok si_code=SI_USER\n");
}

static void check_raise(void)
{
    hits = 0;
    CHECK(raise(SIGUSR1) == 0, "raise");
    CHECK(hits == 1 && last_signo == SIGUSR1, "raise not delivered");
    CHECK(last_code == SI_TKILL, "si_code %d != SI_TKILL", last_code);
    printf("raise SIGUSR1: ok si_code=SI_TKILL\n");
}

/* ---- mask while a handler runs --------------------------------------- */

static volatile int mask_in_handler_ok;

static void mask_probe(int sig, siginfo_t *si, void *uc)
{
    (void)si; (void)uc;
    mask_in_handler_ok = is_blocked(sig) && is_blocked(SIGUSR2) &&
                         !is_blocked(SIGTERM);
}

static void check_handler_mask(void)
{
    sigset_t extra;
    sigemptyset(&extra);
    sigaddset(&extra, SIGUSR2);
    install(SIGUSR1, mask_probe, 0, &extra);
    mask_in_handler_ok = 0;
    raise(SIGUSR1);
    CHECK(mask_in_handler_ok, "mask inside handler wrong");
    CHECK(!is_blocked(SIGUSR1) && !is_blocked(SIGUSR2), "mask not restored");
    printf("handler signal mask: ok\n");
}

/* ---- FPU / SSE state across a handler -------------------------------- */

static volatile double handler_result;
static volatile unsigned handler_mxcsr;
static volatile unsigned short handler_fcw;

static double fp_work(int n)
{
    volatile double acc = 0.5;
    for (int i = 1; i <= n; i++)
        acc = acc * 1.000001 + 1.0 / (double)i;
    return acc;
}

/* Clobbers xmm0-15, MXCSR and the x87 unit; the kernel must restore them. */
static void fpu_clobber(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    unsigned mx;
    unsigned short cw;
    asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mx), "=m"(cw));
    handler_mxcsr = mx;
    handler_fcw = cw;
    long double ld = 1.0L;
    for (int i = 0; i < 10; i++)
        ld = ld * 3.0L / 7.0L;
    handler_result = fp_work(1000) + (double)(ld * 0.0L);
    unsigned mxcsr = 0x7f80 | 0x6000;  /* all masked, round toward zero */
    asm volatile(
        "pcmpeqd %%xmm0, %%xmm0\n\t"  "pcmpeqd %%xmm1, %%xmm1\n\t"
        "pcmpeqd %%xmm2, %%xmm2\n\t"  "pcmpeqd %%xmm3, %%xmm3\n\t"
        "pcmpeqd %%xmm4, %%xmm4\n\t"  "pcmpeqd %%xmm5, %%xmm5\n\t"
        "pcmpeqd %%xmm6, %%xmm6\n\t"  "pcmpeqd %%xmm7, %%xmm7\n\t"
        "pcmpeqd %%xmm8, %%xmm8\n\t"  "pcmpeqd %%xmm9, %%xmm9\n\t"
        "pcmpeqd %%xmm10, %%xmm10\n\t" "pcmpeqd %%xmm11, %%xmm11\n\t"
        "pcmpeqd %%xmm12, %%xmm12\n\t" "pcmpeqd %%xmm13, %%xmm13\n\t"
        "pcmpeqd %%xmm14, %%xmm14\n\t" "pcmpeqd %%xmm15, %%xmm15\n\t"
        "ldmxcsr %0\n\t"
        "fninit\n\t"
        :
        : "m"(mxcsr)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
          "xmm15", "memory");
}

struct fp_regs {
    double xmm[32];         /* two doubles per register, xmm0..xmm15 */
    double st0;
    unsigned mxcsr;
    unsigned short fcw;
};

/*
 * Load xmm0-15, st0, MXCSR and the x87 control word from *in, issue
 * kill(getpid(), sig) with a raw syscall instruction (so nothing is
 * spilled around the signal), then store them all into *out.
 */
static long kill_with_live_fp(const struct fp_regs *in, struct fp_regs *out,
                              int sig)
{
    long ret = SYS_kill;
    asm volatile(
        "ldmxcsr %c[mx](%[in])\n\t"
        "fldcw %c[cw](%[in])\n\t"
        "fldl %c[st](%[in])\n\t"
        "movupd 0(%[in]), %%xmm0\n\t"    "movupd 16(%[in]), %%xmm1\n\t"
        "movupd 32(%[in]), %%xmm2\n\t"   "movupd 48(%[in]), %%xmm3\n\t"
        "movupd 64(%[in]), %%xmm4\n\t"   "movupd 80(%[in]), %%xmm5\n\t"
        "movupd 96(%[in]), %%xmm6\n\t"   "movupd 112(%[in]), %%xmm7\n\t"
        "movupd 128(%[in]), %%xmm8\n\t"  "movupd 144(%[in]), %%xmm9\n\t"
        "movupd 160(%[in]), %%xmm10\n\t" "movupd 176(%[in]), %%xmm11\n\t"
        "movupd 192(%[in]), %%xmm12\n\t" "movupd 208(%[in]), %%xmm13\n\t"
        "movupd 224(%[in]), %%xmm14\n\t" "movupd 240(%[in]), %%xmm15\n\t"
        "syscall\n\t"
        "movupd %%xmm0, 0(%[out])\n\t"    "movupd %%xmm1, 16(%[out])\n\t"
        "movupd %%xmm2, 32(%[out])\n\t"   "movupd %%xmm3, 48(%[out])\n\t"
        "movupd %%xmm4, 64(%[out])\n\t"   "movupd %%xmm5, 80(%[out])\n\t"
        "movupd %%xmm6, 96(%[out])\n\t"   "movupd %%xmm7, 112(%[out])\n\t"
        "movupd %%xmm8, 128(%[out])\n\t"  "movupd %%xmm9, 144(%[out])\n\t"
        "movupd %%xmm10, 160(%[out])\n\t" "movupd %%xmm11, 176(%[out])\n\t"
        "movupd %%xmm12, 192(%[out])\n\t" "movupd %%xmm13, 208(%[out])\n\t"
        "movupd %%xmm14, 224(%[out])\n\t" "movupd %%xmm15, 240(%[out])\n\t"
        "fstpl %c[st](%[out])\n\t"
        "fnstcw %c[cw](%[out])\n\t"
        "stmxcsr %c[mx](%[out])\n\t"
        : "+a"(ret)
        : [in] "r"(in), [out] "r"(out), "D"((long)getpid()), "S"((long)sig),
          [st] "i"(offsetof(struct fp_regs, st0)),
          [mx] "i"(offsetof(struct fp_regs, mxcsr)),
          [cw] "i"(offsetof(struct fp_regs, fcw))
        : "rcx", "r11", "memory",
          "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
          "xmm15");
    return ret;
}

static void restore_default_fp_control(void)
{
    unsigned mxcsr = 0x1f80;
    unsigned short fcw = 0x037f;
    asm volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(fcw));
}

static void check_fpu_preserved(void)
{
    struct fp_regs in, out;
    double before = fp_work(1000);

    for (int i = 0; i < 32; i++)
        in.xmm[i] = 1.0 / (i + 3) + i * 1000.25;
    in.st0 = 2.718281828459045;
    in.mxcsr = 0x1f80 | 0x2000;   /* round down */
    in.fcw = 0x027f;              /* 53-bit precision */
    memset(&out, 0, sizeof out);

    install(SIGUSR2, fpu_clobber, 0, NULL);
    handler_result = 0;
    handler_mxcsr = handler_fcw = 0;
    long r = kill_with_live_fp(&in, &out, SIGUSR2);
    restore_default_fp_control();
    CHECK(r == 0, "raw kill returned %ld", r);
    CHECK(handler_mxcsr == 0x1f80 && handler_fcw == 0x037f,
          "handler did not start with a clean FPU state (MXCSR %#x, FCW %#x)",
          handler_mxcsr, (unsigned)handler_fcw);
    CHECK(handler_result == before, "handler computed a different value");
    CHECK(memcmp(in.xmm, out.xmm, sizeof in.xmm) == 0, "xmm registers clobbered");
    CHECK(out.st0 == in.st0, "x87 st0 clobbered");
    CHECK(out.mxcsr == in.mxcsr, "MXCSR clobbered (%#x)", out.mxcsr);
    CHECK(out.fcw == in.fcw, "x87 control word clobbered (%#x)", out.fcw);
    CHECK(fp_work(1000) == before, "floating point broken after handler");
    printf("fpu/sse state preserved across handler: ok\n");
}

/* ---- blocking, pending, unblocking ----------------------------------- */

static void check_sigprocmask(void)
{
    sigset_t pend;
    install(SIGUSR1, record, 0, NULL);
    hits = 0;
    block(SIGUSR1, SIG_BLOCK);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);   /* standard signals do not queue */
    CHECK(hits == 0, "blocked signal delivered");
    CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR1),
          "SIGUSR1 not pending");
    CHECK(!sigismember(&pend, SIGUSR2), "SIGUSR2 spuriously pending");
    block(SIGUSR1, SIG_UNBLOCK);
    CHECK(hits == 1, "unblocked signal delivered %d times", (int)hits);
    CHECK(sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR1),
          "still pending after delivery");
    printf("sigprocmask/sigpending: ok\n");
}

/* ---- SA_RESTART vs EINTR --------------------------------------------- */

static int alarm_pipe[2];

static void alarm_writer(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    hits++;
    if (write(alarm_pipe[1], "x", 1) != 1)
        _exit(3);
}

static void check_eintr(void)
{
    char c;
    install(SIGALRM, alarm_writer, 0, NULL);
    hits = 0;
    alarm(1);
    ssize_t n = read(alarm_pipe[0], &c, 1);
    CHECK(n == -1 && errno == EINTR, "read returned %zd, wanted EINTR", n);
    CHECK(hits == 1, "SIGALRM handler did not run");
    CHECK(read(alarm_pipe[0], &c, 1) == 1 && c == 'x', "drain pipe");
    printf("read without SA_RESTART: EINTR\n");
}

static void check_restart(void)
{
    char c = 0;
    struct itimerval it = { { 0, 0 }, { 0, 100000 } };
    install(SIGALRM, alarm_writer, SA_RESTART, NULL);
    hits = 0;
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
    ssize_t n = read(alarm_pipe[0], &c, 1);
    CHECK(n == 1 && c == 'x', "restarted read returned %zd", n);
    CHECK(hits == 1, "SIGALRM handler did not run");
    printf("read with SA_RESTART: restarted\n");
}

/* ---- sigaltstack ----------------------------------------------------- */

static char alt_stack[65536] __attribute__((aligned(16)));
static volatile int on_alt_stack, alt_flag_seen;

static void alt_probe(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    char local;
    stack_t cur;
    uintptr_t p = (uintptr_t)&local, lo = (uintptr_t)alt_stack;
    on_alt_stack = p >= lo && p < lo + sizeof alt_stack;
    alt_flag_seen = sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK);
}

static void check_sigaltstack(void)
{
    stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0 };
    stack_t cur;
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack set");
    install(SIGUSR2, alt_probe, SA_ONSTACK, NULL);
    on_alt_stack = alt_flag_seen = 0;
    raise(SIGUSR2);
    CHECK(on_alt_stack, "handler local not on the alternate stack");
    CHECK(alt_flag_seen, "SS_ONSTACK not reported inside handler");
    CHECK(sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_ONSTACK),
          "SS_ONSTACK still set after handler");
    CHECK(cur.ss_sp == alt_stack && cur.ss_size == sizeof alt_stack,
          "sigaltstack readback");
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack disable");
    printf("sigaltstack: ok\n");
}

/* ---- rt_sigtimedwait and queued RT signals --------------------------- */

static void check_sigtimedwait(void)
{
    sigset_t set;
    siginfo_t si;
    struct timespec one_sec = { 1, 0 }, short_wait = { 0, 50000000 };

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    install(SIGUSR1, record, 0, NULL);
    hits = 0;
    block(SIGUSR1, SIG_BLOCK);
    raise(SIGUSR1);
    /* Raw syscall: glibc's wrapper rewrites SI_TKILL to SI_USER. */
    int r = syscall(SYS_rt_sigtimedwait, &set, &si, &one_sec, _NSIG / 8);
    CHECK(r == SIGUSR1, "rt_sigtimedwait returned %d", r);
    CHECK(si.si_signo == SIGUSR1 && si.si_code == SI_TKILL, "sigtimedwait info");
    CHECK(hits == 0, "handler ran for an accepted signal");
    printf("rt_sigtimedwait: SIGUSR1 si_code=SI_TKILL\n");

    r = syscall(SYS_rt_sigtimedwait, &set, &si, &short_wait, _NSIG / 8);
    CHECK(r == -1 && errno == EAGAIN, "timed-out sigtimedwait returned %d", r);
    printf("rt_sigtimedwait timeout: EAGAIN\n");
    block(SIGUSR1, SIG_UNBLOCK);
}

static void check_rt_queue(void)
{
    int sig = SIGRTMIN + 1;
    sigset_t set;
    siginfo_t si;
    struct timespec one_sec = { 1, 0 };

    sigemptyset(&set);
    sigaddset(&set, sig);
    block(sig, SIG_BLOCK);
    for (int i = 0; i < 3; i++)
        CHECK(sigqueue(getpid(), sig, (union sigval){ .sival_int = 70 + i }) == 0,
              "sigqueue");
    for (int i = 0; i < 3; i++) {
        CHECK(sigtimedwait(&set, &si, &one_sec) == sig, "rt signal %d missing", i);
        CHECK(si.si_code == SI_QUEUE, "si_code %d != SI_QUEUE", si.si_code);
        CHECK(si.si_value.sival_int == 70 + i, "rt signals out of order");
    }
    block(sig, SIG_UNBLOCK);
    printf("queued rt signals: 70 71 72\n");
}

/* ---- SIGCHLD --------------------------------------------------------- */

static void check_sigchld(void)
{
    sigset_t old;
    block(SIGCHLD, SIG_BLOCK);
    sigprocmask(SIG_BLOCK, NULL, &old);
    sigdelset(&old, SIGCHLD);
    install(SIGCHLD, record, 0, NULL);
    hits = 0;
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        _exit(7);
    while (hits == 0)
        sigsuspend(&old);
    CHECK(last_signo == SIGCHLD && last_pid == pid, "SIGCHLD siginfo pid");
    CHECK(last_code == CLD_EXITED && last_status == 7, "SIGCHLD code/status");
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7,
          "waitpid after SIGCHLD");
    block(SIGCHLD, SIG_UNBLOCK);
    set_default(SIGCHLD);
    printf("SIGCHLD: ok CLD_EXITED status=7\n");
}

/* ---- SA_RESETHAND ---------------------------------------------------- */

static void check_resethand(void)
{
    struct sigaction now;
    install(SIGUSR1, record, SA_RESETHAND, NULL);
    hits = 0;
    raise(SIGUSR1);
    CHECK(hits == 1, "SA_RESETHAND handler did not run");
    CHECK(sigaction(SIGUSR1, NULL, &now) == 0, "sigaction query");
    CHECK(now.sa_handler == SIG_DFL, "handler not reset to SIG_DFL");
    printf("SA_RESETHAND: ok\n");
}

/* ---- nested, deferred and recursive signals -------------------------- */

static char order[16];
static volatile int order_len, depth;

static void note(char c)
{
    if (order_len < (int)sizeof order - 1)
        order[order_len++] = c;
}

static void outer(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    note('A');
    raise(SIGUSR2);
    note('a');
}

static void inner(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)si; (void)uc;
    note('B');
    note('b');
}

static void recursive(int sig, siginfo_t *si, void *uc)
{
    (void)si; (void)uc;
    note('A' + depth);
    if (depth++ < 2)
        raise(sig);
    note('a' + --depth);
}

static const char *run_order(int sig)
{
    memset(order, 0, sizeof order);
    order_len = 0;
    depth = 0;
    raise(sig);
    return order;
}

static void check_nested(void)
{
    sigset_t defer;
    sigemptyset(&defer);
    sigaddset(&defer, SIGUSR2);

    install(SIGUSR2, inner, 0, NULL);
    install(SIGUSR1, outer, 0, NULL);
    const char *o = run_order(SIGUSR1);
    CHECK(strcmp(o, "ABba") == 0, "nested order %s", o);
    printf("nested signals: %s\n", o);

    install(SIGUSR1, outer, 0, &defer);
    o = run_order(SIGUSR1);
    CHECK(strcmp(o, "AaBb") == 0, "deferred order %s", o);
    printf("deferred signal (sa_mask): %s\n", o);

    install(SIGUSR1, recursive, SA_NODEFER, NULL);
    o = run_order(SIGUSR1);
    CHECK(strcmp(o, "ABCcba") == 0, "SA_NODEFER order %s", o);
    printf("SA_NODEFER recursion: %s\n", o);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(pipe(alarm_pipe) == 0, "pipe");
    check_kill();
    check_raise();
    check_handler_mask();
    check_fpu_preserved();
    check_sigprocmask();
    check_eintr();
    check_restart();
    check_sigaltstack();
    check_sigtimedwait();
    check_rt_queue();
    check_sigchld();
    check_resethand();
    check_nested();
    printf("signals ok\n");
    return 0;
}
