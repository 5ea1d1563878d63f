/*
 * t_forkstorm.c - fork/exec/wait storms, zombies and waitid.
 *
 * Tests: N children (argv[1], default 200) forked back to back, all alive
 * at once.  Child i does one of four things, by i % 4:
 *   0: execve("/proc/self/exe", {"t_forkstorm", "exit", CODE}) -> exit(CODE)
 *   1: _exit(CODE) directly
 *   2: fork a grandchild that exits CODE, reap it, exit with its status
 *   3: kill itself with SIGTERM
 * The parent reaps half with wait4(-1, ...) and the rest with
 * waitpid(pid, ...), checking every status, then expects ECHILD.
 * Also: a zombie stays signalable (kill(pid, 0)) until reaped (waitid
 * WNOWAIT), and waitid reports CLD_EXITED / CLD_KILLED / CLD_STOPPED /
 * CLD_CONTINUED plus WNOHANG on a live child.
 * Usage: t_forkstorm [N]          (t_forkstorm exit CODE is internal)
 * Prints a summary; all counts depend only on N.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

enum kind { K_EXEC, K_EXIT, K_GRANDCHILD, K_SIGNAL, NKINDS };

static int expected_code(int i)
{
    return (i * 7 + 1) % 256;
}

/* ---- the child side -------------------------------------------------- */

static void child_exec(int code)
{
    char arg[16];
    snprintf(arg, sizeof arg, "%d", code);
    char *argv[] = { "t_forkstorm", "exit", arg, NULL };
    execv("/proc/self/exe", argv);
    _exit(127);
}

static void child_grandchild(int code)
{
    int st;
    pid_t g = fork();
    if (g < 0)
        _exit(125);
    if (g == 0)
        _exit(code);
    if (waitpid(g, &st, 0) != g || !WIFEXITED(st))
        _exit(126);
    _exit(WEXITSTATUS(st));
}

static void run_child(int i)
{
    switch (i % NKINDS) {
    case K_EXEC:       child_exec(expected_code(i)); break;
    case K_EXIT:       _exit(expected_code(i));
    case K_GRANDCHILD: child_grandchild(expected_code(i)); break;
    case K_SIGNAL:     kill(getpid(), SIGTERM); break;
    }
    _exit(124);
}

/* ---- the parent side ------------------------------------------------- */

static int status_ok(int i, int st)
{
    if (i % NKINDS == K_SIGNAL)
        return WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
    return WIFEXITED(st) && WEXITSTATUS(st) == expected_code(i);
}

static int index_of(const pid_t *pids, int n, pid_t pid)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == pid)
            return i;
    return -1;
}

static void check_status(int i, int st)
{
    CHECK(status_ok(i, st), "child %d (kind %d): bad status %#x", i,
          i % NKINDS, st);
}

static void storm(int n)
{
    pid_t *pids = calloc(n, sizeof *pids);
    char *reaped = calloc(n, 1);
    int by_wait4 = 0, by_waitpid = 0, st;
    CHECK(pids && reaped, "calloc");

    fflush(stdout);
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        CHECK(pids[i] >= 0, "fork %d", i);
        if (pids[i] == 0)
            run_child(i);
    }
    for (; by_wait4 < n / 2; by_wait4++) {
        struct rusage ru;
        pid_t p = wait4(-1, &st, 0, &ru);
        int i = index_of(pids, n, p);
        CHECK(i >= 0 && !reaped[i], "wait4 returned unknown pid");
        check_status(i, st);
        reaped[i] = 1;
    }
    for (int i = 0; i < n; i++) {
        if (reaped[i])
            continue;
        CHECK(waitpid(pids[i], &st, 0) == pids[i], "waitpid child %d", i);
        check_status(i, st);
        by_waitpid++;
    }
    CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD,
          "children left over");

    int counts[NKINDS] = { 0 };
    for (int i = 0; i < n; i++)
        counts[i % NKINDS]++;
    printf("children: %d\n", n);
    printf("exec'd: %d, exited: %d, with grandchild: %d, signaled: %d\n",
           counts[K_EXEC], counts[K_EXIT], counts[K_GRANDCHILD], counts[K_SIGNAL]);
    printf("reaped by wait4: %d, by waitpid: %d\n", by_wait4, by_waitpid);
    printf("statuses: ok\n");
    printf("no children left: ECHILD\n");
    free(pids);
    free(reaped);
}

/* ---- zombies --------------------------------------------------------- */

static void check_zombie(void)
{
    siginfo_t si;
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        _exit(3);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0, "waitid WNOWAIT");
    CHECK(si.si_pid == pid && si.si_status == 3, "WNOWAIT info");
    CHECK(kill(pid, 0) == 0, "zombie is not signalable");
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_pid == pid,
          "waitid reap");
    CHECK(kill(pid, 0) == -1 && errno == ESRCH, "reaped zombie still exists");
    CHECK(waitpid(pid, NULL, 0) == -1 && errno == ECHILD, "reaped twice");
    printf("zombie: ok\n");
}

/* ---- waitid ---------------------------------------------------------- */

static void expect_waitid(idtype_t type, pid_t pid, int options, int code,
                          int status, const char *what)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK(waitid(type, type == P_ALL ? 0 : pid, &si, options) == 0, "waitid %s", what);
    CHECK(si.si_pid == pid && si.si_signo == SIGCHLD, "waitid %s: pid/signo", what);
    CHECK(si.si_code == code && si.si_status == status,
          "waitid %s: code %d status %d", what, si.si_code, si.si_status);
    printf("waitid %s: ok\n", what);
}

static void check_waitid(void)
{
    int gate[2];
    siginfo_t si;
    CHECK(pipe(gate) == 0, "pipe");
    fflush(stdout);

    pid_t quick = fork();
    CHECK(quick >= 0, "fork");
    if (quick == 0)
        _exit(5);
    expect_waitid(P_ALL, quick, WEXITED, CLD_EXITED, 5, "CLD_EXITED");

    pid_t slow = fork();
    CHECK(slow >= 0, "fork");
    if (slow == 0) {
        char c;
        close(gate[1]);
        _exit(read(gate[0], &c, 1) == 0 ? 6 : 106);
    }
    close(gate[0]);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, slow, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0,
          "WNOHANG on a live child");
    printf("waitid WNOHANG: ok\n");
    kill(slow, SIGSTOP);
    expect_waitid(P_PID, slow, WSTOPPED, CLD_STOPPED, SIGSTOP, "CLD_STOPPED");
    kill(slow, SIGCONT);
    expect_waitid(P_PID, slow, WCONTINUED, CLD_CONTINUED, SIGCONT, "CLD_CONTINUED");
    close(gate[1]);
    expect_waitid(P_PID, slow, WEXITED, CLD_EXITED, 6, "after EOF");

    pid_t victim = fork();
    CHECK(victim >= 0, "fork");
    if (victim == 0) {
        for (;;)
            pause();
    }
    kill(victim, SIGKILL);
    expect_waitid(P_PID, victim, WEXITED, CLD_KILLED, SIGKILL, "CLD_KILLED");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "exit") == 0)
        return atoi(argv[2]);
    int n = argc > 1 ? atoi(argv[1]) : 200;
    CHECK(n > 0, "usage: t_forkstorm [N]");
    storm(n);
    check_zombie();
    check_waitid();
    printf("forkstorm ok\n");
    return 0;
}
