/*
 * t_pingpong.c - two threads bounce one byte through two pipes N times.
 *
 * Tests: blocking pipe reads and writes that wake a thread of the same
 * process, N round trips (argv[1], default 1000).  Under vkernel -n 2 the
 * two threads may be traced by different virtual CPUs, so every wakeup
 * crosses CPUs (bench/b_smp.py measures that).
 * Prints: "pingpong N".
 * Usage: t_pingpong [N]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

static int to_echo[2], from_echo[2];
static int rounds;

static void *echo(void *arg)
{
    char c;
    for (int i = 0; i < rounds; i++) {
        CHECK(read(to_echo[0], &c, 1) == 1, "echo read");
        CHECK(write(from_echo[1], &c, 1) == 1, "echo write");
    }
    return arg;
}

int main(int argc, char **argv)
{
    pthread_t t;
    rounds = argc > 1 ? atoi(argv[1]) : 1000;
    CHECK(pipe(to_echo) == 0 && pipe(from_echo) == 0, "pipe");
    CHECK(pthread_create(&t, NULL, echo, NULL) == 0, "pthread_create");
    char c = 'x';
    for (int i = 0; i < rounds; i++) {
        CHECK(write(to_echo[1], &c, 1) == 1, "write");
        CHECK(read(from_echo[0], &c, 1) == 1, "read");
    }
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    printf("pingpong %d\n", rounds);
    return 0;
}
