/*
 * sysemu_tracer.c - the baseline for the syscall round-trip benchmark.
 *
 * The smallest ptrace(PTRACE_SYSEMU) tracer that can run a static guest
 * program: the cost floor that vkernel's Python syscall path (platform
 * wait, trap.c-style user_trap, syscall2, userret) is compared against.
 * Compiled by the bench harness at bench time (cc -O2).
 *
 * Usage: sysemu_tracer [-c CPU] PROGRAM [ARG ...]
 *
 * Pins itself (and so the child it forks) to host CPU (default 0), like
 * vkernel pins itself and its guests.  The child does PTRACE_TRACEME and
 * execs PROGRAM.  Then the loop, per stop:
 *   - getppid(2): answered with a constant through PTRACE_GETREGS /
 *     PTRACE_SETREGS, the guest resumed with PTRACE_SYSEMU (the hot path,
 *     the same host requests vkernel makes for a getppid);
 *   - any other syscall (arch_prctl, set_tid_address, ioctl, exit_group
 *     of the C runtime): passed through to the host by rewinding rip over
 *     the syscall instruction and re-running it under PTRACE_SYSCALL.
 * At the end prints "getppid N other M" on stdout and exits with the
 * child's exit status (128 + signal if it was killed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_SYSEMU
#define PTRACE_SYSEMU 31
#endif

#define PPID_ANSWER 1
#define SYSCALL_INSN_LEN 2

static void die(const char *what)
{
    fprintf(stderr, "sysemu_tracer: %s: %s\n", what, strerror(errno));
    exit(125);
}

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

static pid_t start_child(char **argv)
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status))
        die("child did not stop after exec");
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
               (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) < 0)
        die("PTRACE_SETOPTIONS");
    return pid;
}

/* Resume with req, wait for the next stop; returns -1 once the child is gone. */
static int step(pid_t pid, int req, int *status)
{
    if (ptrace(req, pid, NULL, NULL) < 0)
        die("ptrace resume");
    if (waitpid(pid, status, __WALL) != pid)
        die("waitpid");
    if (WIFEXITED(*status) || WIFSIGNALED(*status))
        return -1;
    return 0;
}

/* Re-run the syscall we are stopped at natively: entry stop, exit stop. */
static int pass_through(pid_t pid, struct user_regs_struct *regs, int *status)
{
    regs->rip -= SYSCALL_INSN_LEN;
    regs->rax = regs->orig_rax;
    if (ptrace(PTRACE_SETREGS, pid, NULL, regs) < 0)
        die("PTRACE_SETREGS");
    if (step(pid, PTRACE_SYSCALL, status) < 0)      /* to syscall entry */
        return -1;
    return step(pid, PTRACE_SYSCALL, status);       /* to syscall exit */
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
    struct user_regs_struct regs;
    long served = 0, other = 0;
    int status, cpu = 0, argi = 1;
    pid_t pid;

    if (argc > 2 && strcmp(argv[1], "-c") == 0) {
        cpu = atoi(argv[2]);
        argi = 3;
    }
    if (argi >= argc) {
        fprintf(stderr, "usage: sysemu_tracer [-c CPU] PROGRAM [ARG ...]\n");
        return 64;
    }
    pin(cpu);
    pid = start_child(argv + argi);
    while (step(pid, PTRACE_SYSEMU, &status) == 0) {
        if (WSTOPSIG(status) != (SIGTRAP | 0x80)) {
            fprintf(stderr, "sysemu_tracer: unexpected stop %#x\n", status);
            kill(pid, SIGKILL);
            return 125;
        }
        if (ptrace(PTRACE_GETREGS, pid, NULL, &regs) < 0)
            die("PTRACE_GETREGS");
        if (regs.orig_rax == SYS_getppid) {
            regs.rax = PPID_ANSWER;
            if (ptrace(PTRACE_SETREGS, pid, NULL, &regs) < 0)
                die("PTRACE_SETREGS");
            served++;
        } else {
            other++;
            if (pass_through(pid, &regs, &status) < 0)
                break;
        }
    }
    printf("getppid %ld other %ld\n", served, other);
    return exit_code(status);
}
