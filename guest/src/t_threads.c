/*
 * t_threads.c - pthreads: clone(CLONE_THREAD), futex contention, TLS, join.
 *
 * Tests: 8 threads each increment a shared counter under a pthread_mutex
 * 100000 times (heavy FUTEX_WAIT/FUTEX_WAKE traffic); a barrier built from
 * a mutex + condition variable; thread-local storage (each thread sees a
 * fresh copy of an initialised __thread variable, set through %fs); and
 * pthread_join collecting each thread's return value (CLONE_CHILD_CLEARTID
 * wakeups).
 * Prints: "counter 800000", "barrier ok", "tls ok", "join ok", "threads ok".
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"

#define NTHREADS 8
#define NITERS 100000

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static pthread_mutex_t barrier_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t barrier_cond = PTHREAD_COND_INITIALIZER;
static int barrier_arrived;
static int barrier_failures;

static __thread int tls_value = 42;
static __thread char tls_buf[64];

/* Wait until all NTHREADS threads have arrived. */
static void barrier_wait(void)
{
    pthread_mutex_lock(&barrier_lock);
    barrier_arrived++;
    if (barrier_arrived == NTHREADS)
        pthread_cond_broadcast(&barrier_cond);
    while (barrier_arrived < NTHREADS)
        pthread_cond_wait(&barrier_cond, &barrier_lock);
    pthread_mutex_unlock(&barrier_lock);
}

static void hammer_counter(void)
{
    for (int i = 0; i < NITERS; i++) {
        pthread_mutex_lock(&counter_lock);
        counter++;
        pthread_mutex_unlock(&counter_lock);
    }
}

/* Returns id*1000 + 1 if TLS behaved, id*1000 otherwise. */
static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    int tls_good = tls_value == 42 && tls_buf[0] == 0;

    tls_value = id;
    snprintf(tls_buf, sizeof tls_buf, "thread-%d", id);
    hammer_counter();
    barrier_wait();
    /* Everyone has written their own copy by now; ours must be intact. */
    char expect[64];
    snprintf(expect, sizeof expect, "thread-%d", id);
    tls_good = tls_good && tls_value == id && strcmp(tls_buf, expect) == 0;

    pthread_mutex_lock(&barrier_lock);
    if (barrier_arrived != NTHREADS)
        barrier_failures++;
    pthread_mutex_unlock(&barrier_lock);
    return (void *)(intptr_t)(id * 1000 + tls_good);
}

int main(void)
{
    pthread_t th[NTHREADS];
    int tls_ok = 1, join_ok = 1;

    tls_value = -1;
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)(i + 1)) == 0,
              "pthread_create %d", i);
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        CHECK(pthread_join(th[i], &ret) == 0, "pthread_join %d", i);
        long r = (long)(intptr_t)ret;
        if (r / 1000 != i + 1)
            join_ok = 0;
        if (r % 1000 != 1)
            tls_ok = 0;
    }
    if (tls_value != -1)
        tls_ok = 0;

    printf("counter %ld\n", counter);
    CHECK(counter == (long)NTHREADS * NITERS, "counter mismatch");
    CHECK(barrier_failures == 0, "barrier released early");
    printf("barrier ok\n");
    CHECK(tls_ok, "thread-local storage corrupted");
    printf("tls ok\n");
    CHECK(join_ok, "pthread_join returned wrong values");
    printf("join ok\n");
    printf("threads ok\n");
    return 0;
}
