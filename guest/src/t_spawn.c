/*
 * t_spawn.c - process spawn benchmark: fork + exec + exit + wait.
 *
 * Tests: the cost of starting and reaping a small static program.  Loops
 * N times (argv[1], default 100): fork(); the child execs PATH (argv[2],
 * default /usr/local/bin/t_true) with no arguments; the parent waits for
 * it and checks that it exited 0.  Prints nothing; exits 0 on success and
 * 1 (with a message on stderr) if a fork, exec or child status fails.
 * Usage: t_spawn [N [PATH]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int spawn_one(const char *path)
{
    char *argv[] = { (char *)path, NULL };
    char *envp[] = { NULL };
    int status;
    pid_t pid = fork();

    if (pid < 0) {
        perror("t_spawn: fork");
        return -1;
    }
    if (pid == 0) {
        execve(path, argv, envp);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("t_spawn: waitpid");
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "t_spawn: %s: status %#x\n", path, status);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100;
    const char *path = argc > 2 ? argv[2] : "/usr/local/bin/t_true";

    for (long i = 0; i < n; i++)
        if (spawn_one(path) < 0)
            return 1;
    return 0;
}
