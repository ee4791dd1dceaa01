/*
** pool.c: the CKKS runtime's worker threads.
**
** A small fixed pool of pthreads, created on first use and kept for the
** life of the process, runs the independent parts of a kernel (one RNS
** prime, one key-switching digit, one plaintext to encode) on the
** machine's cores. The caller is worker 0 and takes part; tasks are handed
** out through an atomic counter, and every task writes only its own part of
** the output with the same arithmetic whatever thread runs it, so results
** are bit-for-bit the same for any thread count.
**
** The count is HE_THREADS from the environment when set (1..CKKS_MAX_THREADS),
** else the number of online CPUs, capped at CKKS_MAX_THREADS; he_ckks_set_threads
** changes it. A parallel call made while the pool is busy (from a task, or
** from a second thread of the program) runs its tasks in the calling thread.
** The VM stays single-threaded: only the runtime's kernels use the pool.
*/
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "ckks/ckks_internal.h"

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_go = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER; /* one parallel call at a time */
static unsigned pool_started;   /* worker threads running (1..) */
static atomic_uint pool_want;   /* threads to use, the caller included; 0: not read yet */
static unsigned long pool_gen;  /* job generation */
static unsigned pool_active;    /* workers of the current job still running */
static unsigned pool_workers;   /* workers that take part in the current job */
static ckks_task_fn *job_fn;
static void *job_arg;
static unsigned job_ntasks;
static atomic_uint job_next;
static _Thread_local bool in_task;

static unsigned default_threads(void)
{
    const char *e = getenv("HE_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == 0 && v >= 1) return v > CKKS_MAX_THREADS ? CKKS_MAX_THREADS : (unsigned)v;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    return cpus > CKKS_MAX_THREADS ? CKKS_MAX_THREADS : (unsigned)cpus;
}

unsigned he_ckks_threads(void)
{
    unsigned w = atomic_load(&pool_want);
    if (w == 0) {
        w = default_threads();
        unsigned zero = 0;
        if (!atomic_compare_exchange_strong(&pool_want, &zero, w)) w = zero;
    }
    return w;
}

int he_ckks_set_threads(unsigned n)
{
    if (n < 1 || n > CKKS_MAX_THREADS)
        return he_error("ckks: thread count %u outside 1..%d", n, CKKS_MAX_THREADS);
    atomic_store(&pool_want, n);
    return 0;
}

static void run_tasks(unsigned worker)
{
    unsigned t;
    in_task = true;
    while ((t = atomic_fetch_add(&job_next, 1)) < job_ntasks) job_fn(job_arg, t, worker);
    in_task = false;
}

static void *worker_main(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&pool_mu);
    for (;;) {
        while (pool_gen == seen) pthread_cond_wait(&pool_go, &pool_mu);
        seen = pool_gen;
        if (id > pool_workers) continue; /* not in this job */
        pthread_mutex_unlock(&pool_mu);
        run_tasks(id);
        pthread_mutex_lock(&pool_mu);
        if (--pool_active == 0) pthread_cond_signal(&pool_done);
    }
    return NULL;
}

/* Starts workers 1..want-1 that are not running yet; returns how many run. */
static unsigned grow(unsigned want)
{
    while (pool_started + 1 < want) {
        pthread_t th;
        pthread_attr_t at;
        if (pthread_attr_init(&at) != 0) break;
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int r = pthread_create(&th, &at, worker_main, (void *)(uintptr_t)(pool_started + 1));
        pthread_attr_destroy(&at);
        if (r != 0) break; /* fewer threads: still correct */
        pool_started++;
    }
    return pool_started;
}

void ckks_parallel(unsigned ntasks, unsigned width, ckks_task_fn *fn, void *arg)
{
    unsigned want = he_ckks_threads();
    if (want > width) want = width;
    if (ntasks <= 1 || want <= 1 || in_task || pthread_mutex_trylock(&pool_busy) != 0) {
        for (unsigned t = 0; t < ntasks; t++) fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&pool_mu);
    unsigned workers = grow(want);
    if (workers > want - 1) workers = want - 1;
    if (workers > ntasks - 1) workers = ntasks - 1;
    job_fn = fn;
    job_arg = arg;
    job_ntasks = ntasks;
    atomic_store(&job_next, 0);
    pool_workers = workers;
    pool_active = workers;
    pool_gen++;
    pthread_cond_broadcast(&pool_go);
    pthread_mutex_unlock(&pool_mu);
    run_tasks(0);
    pthread_mutex_lock(&pool_mu);
    while (pool_active > 0) pthread_cond_wait(&pool_done, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
    pthread_mutex_unlock(&pool_busy);
}
