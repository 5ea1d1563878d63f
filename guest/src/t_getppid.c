/*
 * t_getppid.c - syscall round-trip benchmark.
 *
 * Tests: the raw cost of one trivial system call.  Calls
 * syscall(SYS_getppid) N times (N = argv[1], default 1000000) and exits 0.
 * Prints nothing.
 */
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return 0;
}
