/*
 * t_fsyncstress.c - a write-heavy workload that says what it made durable.
 *
 * Usage: t_fsyncstress DIR [ROUNDS [MAXSIZE [NOISE]]]
 *
 * Round r (r = 0, 1, ... ROUNDS-1; ROUNDS 0 means until killed):
 *   1. write DIR/tmp.r: a pseudo-random size in [1, MAXSIZE] bytes
 *      (default 262144) of xorshift64 output seeded with r, in uneven
 *      chunks; fsync it; close it;
 *   2. rename DIR/tmp.r to DIR/f.r, fsync DIR;
 *   3. print "done f.r LEN FNV" (FNV-1a 64 of the contents, 16 hex digits)
 *      and flush stdout: from this line on f.r must survive a crash;
 *   4. churn that is never synced: append NOISE bytes (default 131072) to
 *      DIR/noise (truncated to nothing every 8 rounds, so freed blocks are
 *      reused), create DIR/junk.r, and remove DIR/junk.(r-3).
 * Names are never reused, so every "done" file must be intact after a
 * crash at any moment, whatever the state of the noise.  At the end (or
 * never, when killed) it prints "finished ROUNDS".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The contents of round r: `len` bytes of xorshift64 seeded with r. */
static void fill(unsigned char *buf, size_t len, long r)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(r + 1);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = xorshift(&s);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(buf + i, &v, n);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        CHECK(k > 0, "write");
        p += k;
        n -= (size_t)k;
    }
}

/* Steps 1-3: one durable file. */
static void durable_file(int dfd, long r, unsigned char *buf, size_t maxsize)
{
    uint64_t s = (uint64_t)r * 2654435761u + 1;
    size_t len = 1 + xorshift(&s) % maxsize;
    char tmp[64], name[64];
    snprintf(tmp, sizeof tmp, "tmp.%ld", r);
    snprintf(name, sizeof name, "f.%ld", r);
    fill(buf, len, r);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s", tmp);
    for (size_t off = 0; off < len;) {
        size_t chunk = 1 + xorshift(&s) % 70000;
        if (chunk > len - off)
            chunk = len - off;
        write_all(fd, buf + off, chunk);
        off += chunk;
    }
    CHECK(fsync(fd) == 0, "fsync %s", tmp);
    CHECK(close(fd) == 0, "close");
    CHECK(renameat(dfd, tmp, dfd, name) == 0, "rename %s", tmp);
    CHECK(fsync(dfd) == 0, "fsync dir");
    printf("done %s %zu %016llx\n", name, len, (unsigned long long)fnv1a(buf, len));
    fflush(stdout);
}

/* Step 4: unsynced churn. */
static void noise(int dfd, long r, unsigned char *buf, size_t nbytes)
{
    char name[64];
    int flags = O_WRONLY | O_CREAT | O_APPEND | (r % 8 == 0 ? O_TRUNC : 0);
    int fd = openat(dfd, "noise", flags, 0644);
    CHECK(fd >= 0, "open noise");
    fill(buf, nbytes, -r);
    write_all(fd, buf, nbytes);
    close(fd);
    snprintf(name, sizeof name, "junk.%ld", r);
    fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0, "open %s", name);
    write_all(fd, buf, 1 + (size_t)r % 5000);
    close(fd);
    if (r >= 3) {
        snprintf(name, sizeof name, "junk.%ld", r - 3);
        CHECK(unlinkat(dfd, name, 0) == 0, "unlink %s", name);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: t_fsyncstress DIR [ROUNDS [MAXSIZE [NOISE]]]\n");
        return 2;
    }
    long rounds = argc > 2 ? atol(argv[2]) : 0;
    size_t maxsize = argc > 3 ? (size_t)atol(argv[3]) : 262144;
    size_t nbytes = argc > 4 ? (size_t)atol(argv[4]) : 131072;
    size_t bufsize = (maxsize > nbytes ? maxsize : nbytes) + 8;
    unsigned char *buf = malloc(bufsize);
    CHECK(buf != NULL && maxsize > 0, "malloc");
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open %s", argv[1]);
    for (long r = 0; rounds == 0 || r < rounds; r++) {
        durable_file(dfd, r, buf, maxsize);
        noise(dfd, r, buf, nbytes);
    }
    printf("finished %ld\n", rounds);
    return 0;
}
