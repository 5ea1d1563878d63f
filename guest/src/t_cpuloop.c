/*
 * t_cpuloop.c - pure CPU loop, no system calls inside the loop.
 *
 * Tests: that user-space computation runs at native speed (no syscall
 * traffic) and that general-purpose/SSE state is intact across the run.
 * Iterates an xorshift64 generator argv[1] times (default 100000000) and
 * prints "checksum <16 hex digits>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t churn(uint64_t iterations)
{
    uint64_t x = 0x9e3779b97f4a7c15ull, sum = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum += x ^ i;
    }
    return sum;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 100000000ull;
    printf("checksum %016" PRIx64 "\n", churn(n));
    return 0;
}
