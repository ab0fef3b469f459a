/* The MPI layer of distributed training (include/genc/dist.h): joining the launcher's job, sums
 * across ranks with non-blocking calls polled against a deadline (a dead or hung rank becomes a
 * one-line error naming it, never an abort or an endless wait), and the configuration check.
 * Compiled without GENC_HAVE_MPI it is the one-rank version of the same calls. */
#include "genc/dist.h"
#include "genc/genc.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef GENC_HAVE_MPI
#include <mpi.h>
#endif

struct genc_dist {
    int rank, size;
    bool mpi_started; /* MPI_Init was called here */
    bool together;    /* the last failure was seen by every rank */
    bool broken;      /* an exchange failed or timed out */
    double timeout;
    uint64_t sent;
};

double genc_dist_default_timeout(void) {
    const char *e = getenv("GENC_DIST_TIMEOUT");
    char *end;
    double t = e ? strtod(e, &end) : 0;
    return e && end != e && !*end && t > 0 ? t : 300;
}

bool genc_dist_built(void) {
#ifdef GENC_HAVE_MPI
    return true;
#else
    return false;
#endif
}

int genc_dist_rank(const genc_dist *d) { return d ? d->rank : 0; }
int genc_dist_size(const genc_dist *d) { return d ? d->size : 1; }
double genc_dist_timeout(const genc_dist *d) { return d ? d->timeout : genc_dist_default_timeout(); }
uint64_t genc_dist_bytes_sent(const genc_dist *d) { return d ? d->sent : 0; }
bool genc_dist_failed_together(const genc_dist *d) { return d && d->together; }
bool genc_dist_broken(const genc_dist *d) { return d && d->broken; }

/* The number of tasks a launcher says it started (1 when none did). */
static long launched_tasks(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atol(v) > 1) return atol(v);
    }
    return getenv("PMIX_RANK") || getenv("OMPI_COMM_WORLD_RANK") ? 0 : 1; /* 0: a launcher, size unknown */
}

static uint64_t fnv1a(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#ifdef GENC_HAVE_MPI

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

genc_status genc_dist_open(genc_ctx *ctx, double timeout_s, genc_dist **out) {
    *out = NULL;
    genc_dist *d = calloc(1, sizeof *d);
    if (!d) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    d->size = 1, d->timeout = timeout_s > 0 ? timeout_s : genc_dist_default_timeout();
    long tasks = launched_tasks();
    if (tasks != 1) {
        int inited = 0, provided;
        MPI_Initialized(&inited);
        if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(d);
            return genc_error(ctx, GENC_EIO, "MPI_Init failed: is this process started by mpirun or srun?");
        }
        d->mpi_started = !inited;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* errors come back, never abort */
        MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &d->size);
        if (tasks > 1 && d->size != tasks) {
            genc_dist_close(d, true);
            return genc_error(ctx, GENC_EINVAL, "the launcher started %ld tasks but MPI sees %d (under Slurm: srun "
                              "--mpi=pmix)", tasks, d->size > 0 ? d->size : 1);
        }
    }
    *out = d;
    return GENC_OK;
}

void genc_dist_close(genc_dist *d, bool failed) {
    if (!d) return;
    if (d->mpi_started && !failed) MPI_Finalize();
    free(d);
}

enum { DONE, FAILED, LATE };

/* Poll `n` requests until all complete (DONE), one fails (FAILED) or the deadline passes (LATE).
 * *late: the request that failed or the first that did not complete, -1 when all did. */
static int wait_all(genc_dist *d, MPI_Request *req, int n, int *late, int *err) {
    double t0 = now();
    *late = -1, *err = MPI_SUCCESS;
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++) {
            if (req[i] == MPI_REQUEST_NULL) continue;
            int done = 0, e = MPI_Test(&req[i], &done, MPI_STATUS_IGNORE);
            if (e != MPI_SUCCESS) {
                *late = i, *err = e, d->broken = true;
                return FAILED;
            }
            all &= done;
        }
        if (all) return DONE;
        if (now() - t0 > d->timeout) break;
        struct timespec nap = {0, 20000}; /* 20 us: the wait costs no core while peers compute */
        nanosleep(&nap, NULL);
    }
    for (int i = 0; i < n && *late < 0; i++)
        if (req[i] != MPI_REQUEST_NULL) *late = i;
    d->broken = true;
    return LATE;
}

genc_status genc_dist_sum_f64(genc_ctx *ctx, genc_dist *d, double *buf, int n, const char *at) {
    if (!d || d->size == 1) return GENC_OK;
    int R = d->size, me = d->rank, late, err;
    double *all = malloc((size_t)R * (size_t)n * sizeof *all);
    MPI_Request *req = malloc(2 * (size_t)R * sizeof *req);
    if (!all || !req) {
        free(all), free(req);
        return genc_error(ctx, GENC_ENOMEM, "out of memory");
    }
    for (int r = 0; r < 2 * R; r++) req[r] = MPI_REQUEST_NULL;
    memcpy(all + (size_t)me * n, buf, (size_t)n * sizeof *buf);
    for (int r = 0; r < R; r++) {
        if (r == me) continue;
        MPI_Irecv(all + (size_t)r * n, n, MPI_DOUBLE, r, 7, MPI_COMM_WORLD, &req[r]);
        MPI_Isend(buf, n, MPI_DOUBLE, r, 7, MPI_COMM_WORLD, &req[R + r]);
        d->sent += (uint64_t)n * sizeof *buf;
    }
    int w = wait_all(d, req, 2 * R, &late, &err);
    genc_status s = GENC_OK;
    if (w != DONE) all = NULL, req = NULL; /* pending receives may still write there: the process is leaving */
    if (w == DONE) {
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int r = 0; r < R; r++) sum += all[(size_t)r * n + i];
            buf[i] = sum;
        }
    } else if (w == LATE) {
        s = genc_error(ctx, GENC_EIO, "rank %d: rank %d did not answer within %g s at %s (it died or hangs; the "
                       "timeout is --dist-timeout or GENC_DIST_TIMEOUT)", me, late % R, d->timeout, at);
    } else {
        s = genc_error(ctx, GENC_EIO, "rank %d: the exchange with rank %d failed at %s (MPI error %d: it died?)", me,
                       late % R, at, err);
    }
    free(all), free(req);
    return s;
}

/* After a collective timed out, which rank is gone: every surviving rank lands here within about
 * the timeout, and greets every other (tag 8, apart from the exchanges' tag 7); the first that
 * does not answer within the timeout is named (-1: all answered). */
static int roll_call(genc_dist *d) {
    int R = d->size, late, err, hello = 1, *got = calloc((size_t)R, sizeof *got);
    MPI_Request *req = malloc(2 * (size_t)R * sizeof *req);
    if (!got || !req) {
        free(got), free(req);
        return -1;
    }
    for (int r = 0; r < 2 * R; r++) req[r] = MPI_REQUEST_NULL;
    for (int r = 0; r < R; r++) {
        if (r == d->rank) continue;
        MPI_Irecv(&got[r], 1, MPI_INT, r, 8, MPI_COMM_WORLD, &req[r]);
        MPI_Isend(&hello, 1, MPI_INT, r, 8, MPI_COMM_WORLD, &req[R + r]);
    }
    int w = wait_all(d, req, 2 * R, &late, &err);
    if (w != DONE) return late % R; /* got and req stay: MPI may still write there; the process is leaving */
    free(got), free(req);
    return -1;
}

#define BUCKET (1 << 20) /* reals per all-reduce: 4 MiB of floats */

genc_status genc_dist_sum_real(genc_ctx *ctx, genc_dist *d, genc_real *buf, int64_t n, const char *at) {
    if (!d || d->size == 1 || n == 0) return GENC_OK;
    int nb = (int)((n + BUCKET - 1) / BUCKET), late, err;
    MPI_Request *req = malloc((size_t)nb * sizeof *req);
    if (!req) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    MPI_Datatype type = sizeof(genc_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    for (int b = 0; b < nb; b++) {
        int64_t lo = (int64_t)b * BUCKET, len = n - lo < BUCKET ? n - lo : BUCKET;
        req[b] = MPI_REQUEST_NULL;
        if (MPI_Iallreduce(MPI_IN_PLACE, buf + lo, (int)len, type, MPI_SUM, MPI_COMM_WORLD, &req[b]) != MPI_SUCCESS) {
            free(req);
            return genc_error(ctx, GENC_EIO, "rank %d: MPI_Iallreduce failed at %s", d->rank, at);
        }
    }
    d->sent += (uint64_t)(2.0 * (d->size - 1) / d->size * (double)n * sizeof *buf);
    int w = wait_all(d, req, nb, &late, &err);
    free(req);
    int missing = w == LATE ? roll_call(d) : -1;
    if (w == LATE && missing >= 0)
        return genc_error(ctx, GENC_EIO, "rank %d: rank %d did not answer within %g s at %s (it died or hangs; the "
                          "timeout is --dist-timeout or GENC_DIST_TIMEOUT)", d->rank, missing, d->timeout, at);
    if (w == LATE)
        return genc_error(ctx, GENC_EIO, "rank %d: the gradient all-reduce did not finish within %g s at %s (a rank died or "
                          "hangs; the timeout is --dist-timeout or GENC_DIST_TIMEOUT)", d->rank, d->timeout, at);
    if (w == FAILED) return genc_error(ctx, GENC_EIO, "rank %d: the gradient all-reduce failed at %s (MPI error %d: a rank died?)",
                             d->rank, at, err);
    return GENC_OK;
}

struct genc_dist_pending {
    MPI_Request *req;
    int n, cap;
};

genc_status genc_dist_isum_real(genc_ctx *ctx, genc_dist *d, genc_real *buf, int64_t n, genc_dist_pending **pend,
                                const char *at) {
    if (!d || d->size == 1 || n == 0) return GENC_OK;
    if (n > INT_MAX) return genc_error(ctx, GENC_EINVAL, "rank %d: a sum of %lld values is too large at %s", d->rank,
                                       (long long)n, at);
    genc_dist_pending *p = *pend ? *pend : calloc(1, sizeof *p);
    if (!p) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    *pend = p;
    if (p->n == p->cap) {
        MPI_Request *r = realloc(p->req, (size_t)(p->cap ? 2 * p->cap : 16) * sizeof *r);
        if (!r) return genc_error(ctx, GENC_ENOMEM, "out of memory");
        p->req = r, p->cap = p->cap ? 2 * p->cap : 16;
    }
    MPI_Datatype type = sizeof(genc_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    p->req[p->n] = MPI_REQUEST_NULL;
    if (MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, type, MPI_SUM, MPI_COMM_WORLD, &p->req[p->n]) != MPI_SUCCESS)
        return genc_error(ctx, GENC_EIO, "rank %d: MPI_Iallreduce failed at %s", d->rank, at);
    p->n++;
    d->sent += (uint64_t)(2.0 * (d->size - 1) / d->size * (double)n * sizeof *buf);
    return GENC_OK;
}

void genc_dist_progress(genc_dist_pending *p) {
    for (int i = 0; p && i < p->n; i++) {
        int done = 0;
        if (p->req[i] != MPI_REQUEST_NULL) MPI_Test(&p->req[i], &done, MPI_STATUS_IGNORE);
    }
}

genc_status genc_dist_wait_sums(genc_ctx *ctx, genc_dist *d, genc_dist_pending **pend, const char *at) {
    genc_dist_pending *p = *pend;
    if (!p) return GENC_OK;
    int late, err, w = wait_all(d, p->req, p->n, &late, &err);
    int missing = w == LATE ? roll_call(d) : -1; /* p stays on failure: MPI may still write */
    if (missing >= 0)
        return genc_error(ctx, GENC_EIO, "rank %d: rank %d did not answer within %g s at %s (it died or hangs; the "
                          "timeout is --dist-timeout or GENC_DIST_TIMEOUT)", d->rank, missing, d->timeout, at);
    if (w != DONE) return genc_error(ctx, GENC_EIO, "rank %d: the gradient all-reduce %s at %s (a rank died or hangs; "
                                     "the timeout is --dist-timeout or GENC_DIST_TIMEOUT)", d->rank,
                                     w == LATE ? "did not finish in time" : "failed", at);
    free(p->req), free(p);
    *pend = NULL;
    return GENC_OK;
}

/* A rank's part as an MPI count (parts past INT_MAX values are refused). */
static genc_status part_count(genc_ctx *ctx, const int64_t *lo, int r, int *count) {
    int64_t n = lo[r + 1] - lo[r];
    if (n > INT_MAX) return genc_error(ctx, GENC_EINVAL, "a rank's part of %lld values exceeds MPI's count", (long long)n);
    *count = (int)n;
    return GENC_OK;
}

static genc_status late_error(genc_ctx *ctx, genc_dist *d, int w, int peer, int err, const char *what, const char *at) {
    if (w == LATE && peer < 0) peer = roll_call(d);
    if (w == LATE && peer >= 0)
        return genc_error(ctx, GENC_EIO, "rank %d: rank %d did not answer within %g s at %s (it died or hangs; the "
                          "timeout is --dist-timeout or GENC_DIST_TIMEOUT)", d->rank, peer, d->timeout, at);
    if (w == LATE)
        return genc_error(ctx, GENC_EIO, "rank %d: the %s did not finish within %g s at %s (a rank died or hangs; the "
                          "timeout is --dist-timeout or GENC_DIST_TIMEOUT)", d->rank, what, d->timeout, at);
    return genc_error(ctx, GENC_EIO, "rank %d: the %s failed at %s (MPI error %d: a rank died?)", d->rank, what, at, err);
}

genc_status genc_dist_gather_real(genc_ctx *ctx, genc_dist *d, genc_real *all, const int64_t *lo, const char *at) {
    if (!d || d->size == 1) return GENC_OK;
    int R = d->size, n = 0, late = -1, err, w = DONE;
    MPI_Datatype type = sizeof(genc_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    MPI_Request *req = calloc((size_t)R, sizeof *req);
    if (!req) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = GENC_OK;
    for (int r = 0; r < R; r++) req[r] = MPI_REQUEST_NULL;
    for (int r = 1; !s && r < R; r++) { /* rank 0 receives from every other; rank r sends its part */
        if (d->rank != 0 && d->rank != r) continue;
        if ((s = part_count(ctx, lo, r, &n))) break;
        if (d->rank == 0) MPI_Irecv(all + lo[r], n, type, r, 9, MPI_COMM_WORLD, &req[r]);
        else MPI_Isend(all + lo[r], n, type, 0, 9, MPI_COMM_WORLD, &req[r]), d->sent += (uint64_t)n * sizeof *all;
    }
    if (!s) w = wait_all(d, req, R, &late, &err);
    if (w != DONE) return late_error(ctx, d, w, d->rank ? 0 : late, err, "gather to rank 0", at); /* req stays */
    free(req);
    return s;
}

genc_status genc_dist_allgather_real(genc_ctx *ctx, genc_dist *d, genc_real *all, const int64_t *lo, const char *at) {
    if (!d || d->size == 1) return GENC_OK;
    int R = d->size, late, err, *count = calloc(2 * (size_t)R, sizeof *count), *displ = count + R;
    if (!count) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = GENC_OK;
    for (int r = 0; !s && r < R; r++) s = part_count(ctx, lo, r, &count[r]);
    if (!s && lo[R] > INT_MAX) s = genc_error(ctx, GENC_EINVAL, "%lld values exceed MPI's displacements", (long long)lo[R]);
    for (int r = 0; !s && r < R; r++) displ[r] = (int)lo[r];
    MPI_Request req = MPI_REQUEST_NULL;
    MPI_Datatype type = sizeof(genc_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    if (!s && MPI_Iallgatherv(MPI_IN_PLACE, 0, type, all, count, displ, type, MPI_COMM_WORLD, &req) != MPI_SUCCESS)
        s = genc_error(ctx, GENC_EIO, "rank %d: MPI_Iallgatherv failed at %s", d->rank, at);
    if (s) {
        free(count);
        return s;
    }
    d->sent += (uint64_t)((double)(R - 1) / R * (double)lo[R] * sizeof *all); /* ring volume */
    int w = wait_all(d, &req, 1, &late, &err);
    if (w != DONE) return late_error(ctx, d, w, -1, err, "parameter all-gather", at); /* count stays */
    free(count);
    return GENC_OK;
}

genc_status genc_dist_alltoall_rows(genc_ctx *ctx, genc_dist *d, const genc_real *send, const int64_t *scount,
                                   genc_real *recv, const int64_t *rcount, int64_t width, const char *at) {
    int R = genc_dist_size(d), me = genc_dist_rank(d), late, err;
    int64_t so = 0, ro = 0, so_me = 0, ro_me = 0;
    for (int r = 0; r < me; r++) so_me += scount[r], ro_me += rcount[r];
    memcpy(recv + ro_me * width, send + so_me * width, (size_t)(scount[me] * width) * sizeof *send); /* to itself */
    if (R == 1) return GENC_OK;
    MPI_Request *req = malloc(2 * (size_t)R * sizeof *req);
    if (!req) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    MPI_Datatype type = sizeof(genc_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT;
    for (int r = 0; r < R; r++) {
        req[r] = req[R + r] = MPI_REQUEST_NULL;
        if (rcount[r] * width > INT_MAX || scount[r] * width > INT_MAX) {
            free(req);
            return genc_error(ctx, GENC_EINVAL, "all-to-all: a block of rows exceeds MPI's count");
        }
        if (r != me && rcount[r])
            MPI_Irecv(recv + ro * width, (int)(rcount[r] * width), type, r, 10, MPI_COMM_WORLD, &req[r]);
        if (r != me && scount[r]) {
            MPI_Isend(send + so * width, (int)(scount[r] * width), type, r, 10, MPI_COMM_WORLD, &req[R + r]);
            d->sent += (uint64_t)(scount[r] * width) * sizeof *send;
        }
        so += scount[r], ro += rcount[r];
    }
    int w = wait_all(d, req, 2 * R, &late, &err);
    if (w != DONE) return late_error(ctx, d, w, late % R, err, "expert all-to-all", at); /* req stays */
    free(req);
    return GENC_OK;
}

genc_status genc_dist_check_same(genc_ctx *ctx, genc_dist *d, const char *label, const void *what, size_t n) {
    if (!d || d->size == 1) return GENC_OK;
    int R = d->size;
    double *h = calloc((size_t)R * 2, sizeof *h);
    if (!h) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    uint64_t mine = fnv1a(what, n);
    /* The hash in two 32-bit halves, each exact in a double; slot r is rank r's. */
    h[2 * d->rank] = (double)(mine >> 32), h[2 * d->rank + 1] = (double)(mine & 0xffffffffu);
    genc_status s = genc_dist_sum_f64(ctx, d, h, 2 * R, "start-up (configuration check)");
    for (int r = 1; !s && r < R; r++)
        if (h[2 * r] != h[0] || h[2 * r + 1] != h[1]) {
            d->together = true;
            s = genc_error(ctx, GENC_EINVAL, "rank %d was started with a different %s than rank 0 (hash %016llx vs "
                           "%016llx): every rank needs the same flags, data and genc version", r, label,
                           (unsigned long long)((uint64_t)h[2 * r] << 32 | (uint64_t)h[2 * r + 1]),
                           (unsigned long long)((uint64_t)h[0] << 32 | (uint64_t)h[1]));
        }
    free(h);
    return s;
}

#else /* one rank: no MPI */

genc_status genc_dist_open(genc_ctx *ctx, double timeout_s, genc_dist **out) {
    *out = NULL;
    if (launched_tasks() != 1)
        return genc_error(ctx, GENC_EINVAL, "launched as several ranks, but this genc was built without MPI "
                          "(install libopenmpi-dev and rebuild with -DGENC_MPI=ON)");
    genc_dist *d = calloc(1, sizeof *d);
    if (!d) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    d->size = 1, d->timeout = timeout_s > 0 ? timeout_s : genc_dist_default_timeout();
    *out = d;
    (void)fnv1a;
    return GENC_OK;
}

void genc_dist_close(genc_dist *d, bool failed) { free(d); }

genc_status genc_dist_sum_f64(genc_ctx *ctx, genc_dist *d, double *buf, int n, const char *at) { return GENC_OK; }
genc_status genc_dist_isum_real(genc_ctx *ctx, genc_dist *d, genc_real *buf, int64_t n, genc_dist_pending **pend,
                                const char *at) {
    return GENC_OK;
}
void genc_dist_progress(genc_dist_pending *pend) {}
genc_status genc_dist_wait_sums(genc_ctx *ctx, genc_dist *d, genc_dist_pending **pend, const char *at) { return GENC_OK; }
genc_status genc_dist_sum_real(genc_ctx *ctx, genc_dist *d, genc_real *buf, int64_t n, const char *at) {
    return GENC_OK;
}
genc_status genc_dist_check_same(genc_ctx *ctx, genc_dist *d, const char *label, const void *what, size_t n) {
    return GENC_OK;
}
genc_status genc_dist_gather_real(genc_ctx *ctx, genc_dist *d, genc_real *all, const int64_t *lo, const char *at) {
    return GENC_OK;
}
genc_status genc_dist_alltoall_rows(genc_ctx *ctx, genc_dist *d, const genc_real *send, const int64_t *scount,
                                   genc_real *recv, const int64_t *rcount, int64_t width, const char *at) {
    memcpy(recv, send, (size_t)(scount[0] * width) * sizeof *send);
    return GENC_OK;
}
genc_status genc_dist_allgather_real(genc_ctx *ctx, genc_dist *d, genc_real *all, const int64_t *lo, const char *at) {
    return GENC_OK;
}

#endif
