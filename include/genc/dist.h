/* genc distributed training over MPI: joining the job a launcher (mpirun, srun) started, sums
 * across ranks polled against a deadline (a rank that dies or hangs makes the others fail within
 * the timeout, naming it, instead of waiting for ever), a check that every rank was started with
 * the same configuration, and the data-parallel gradient average the training loop uses. A
 * build without MPI, or a plain launch, is one rank: every call below is then a no-op. */
#ifndef GENC_DIST_H
#define GENC_DIST_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct genc_dist genc_dist;

/* The default deadline of one collective, in seconds: GENC_DIST_TIMEOUT in the environment, else
 * 300. A wait past it fails the run with one line naming the rank that did not answer. */
double genc_dist_default_timeout(void);

/* Whether this genc was built with MPI (CMake option GENC_MPI). */
bool genc_dist_built(void);

/* Join the MPI job this process was launched in (Open MPI's mpirun, Slurm's srun with PMI/PMIx);
 * a process not started by a launcher is rank 0 of 1 and MPI is not touched. Fails (one line)
 * when launched as several ranks by a genc built without MPI, or when the launcher started
 * several tasks but MPI sees one (srun without --mpi). *out is NULL on failure. */
genc_status genc_dist_open(genc_ctx *ctx, double timeout_s, genc_dist **out);
/* Leave the job: MPI_Finalize after a clean run; after a failure (`failed`) the process leaves
 * without it, so a dead peer cannot hang the exit. NULL is fine. */
void genc_dist_close(genc_dist *d, bool failed);

int genc_dist_rank(const genc_dist *d); /* 0 for NULL */
int genc_dist_size(const genc_dist *d); /* 1 for NULL */
double genc_dist_timeout(const genc_dist *d);
/* Bytes this rank has sent so far: exact for point-to-point exchanges; for the all-reduce of n
 * bytes, the ring algorithm's 2 (R - 1) / R x n (what MPI actually sends depends on its choice of
 * algorithm; Open MPI's ring for large messages sends that). */
uint64_t genc_dist_bytes_sent(const genc_dist *d);
/* True after a failure every rank detected together (e.g. a configuration mismatch): rank 0
 * reports it, the others may stay silent so the job prints one line. */
bool genc_dist_failed_together(const genc_dist *d);
/* True once an exchange failed or timed out: the job is broken, no collective may follow. */
bool genc_dist_broken(const genc_dist *d);

/* Sum n doubles across ranks in place, by exchanging every rank's values and adding them in rank
 * order, so every rank gets the same bits. Doubles as the heartbeat: a rank whose values do not
 * arrive within the timeout is named in the error ("at" says where, e.g. "step 12"). */
genc_status genc_dist_sum_f64(genc_ctx *ctx, genc_dist *d, double *buf, int n, const char *at);
/* Sum n reals across ranks in place (MPI_Iallreduce in buckets of at most 4 MiB, all in flight
 * together, polled against the timeout). */
genc_status genc_dist_sum_real(genc_ctx *ctx, genc_dist *d, genc_real *buf, int64_t n, const char *at);
/* Overlapped sums: genc_dist_isum_real starts a sum of n reals in place across ranks
 * (MPI_Iallreduce) and adds it to *pend (created on first use); genc_dist_progress lets MPI move
 * the started sums on (Open MPI's progress only runs inside MPI calls); genc_dist_wait_sums
 * polls them all to completion against the timeout, then frees *pend. Every rank must start the
 * same sums in the same order. */
typedef struct genc_dist_pending genc_dist_pending;
genc_status genc_dist_isum_real(genc_ctx *ctx, genc_dist *d, genc_real *buf, int64_t n, genc_dist_pending **pend,
                                const char *at);
void genc_dist_progress(genc_dist_pending *pend);
genc_status genc_dist_wait_sums(genc_ctx *ctx, genc_dist *d, genc_dist_pending **pend, const char *at);
/* lo[0..R]: rank r's part of a flat vector is [lo[r], lo[r+1]). Gather: rank 0 receives every
 * rank's part of `all` (the others send theirs from `all` too). Allgather: every rank receives
 * every part (MPI_Iallgatherv). Both polled against the timeout. */
genc_status genc_dist_gather_real(genc_ctx *ctx, genc_dist *d, genc_real *all, const int64_t *lo, const char *at);
genc_status genc_dist_allgather_real(genc_ctx *ctx, genc_dist *d, genc_real *all, const int64_t *lo, const char *at);
/* All-to-all of rows of `width` reals: send[rows of dest 0 | dest 1 | ...] (scount[r] rows for
 * rank r), recv likewise (rcount[r] rows from rank r); point-to-point, polled against the timeout. */
genc_status genc_dist_alltoall_rows(genc_ctx *ctx, genc_dist *d, const genc_real *send, const int64_t *scount,
                                   genc_real *recv, const int64_t *rcount, int64_t width, const char *at);
/* Refuse to go on unless `what` (a description of the run: version, config, data) is the same on
 * every rank: its 64-bit hash is exchanged and compared; the error names the first rank that
 * differs from rank 0. */
genc_status genc_dist_check_same(genc_ctx *ctx, genc_dist *d, const char *label, const void *what, size_t n);

/* ---- data parallelism (dist_grads.c) ---- */
/* After every rank's backward on its shard of the global batch: the global mean of *loss and the
 * OR of *stop across ranks, every trainable gradient replaced by the mean over ranks (a gradient
 * no rank produced stays absent, as in one process), and the step's bytes in *bytes. `step` is
 * for error messages. */
genc_status genc_dist_average_grads(genc_ctx *ctx, genc_dist *d, const genc_params *p, int64_t step, double *loss,
                                    bool *stop, uint64_t *bytes);
/* The same with the backward pass of `loss` run here and the all-reduce overlapped with it
 * (dist_overlap.c): the gradients go in buckets of about 256 KiB, each started as soon as the
 * backward has passed the last node that adds to it; the loss, stop flag and which gradients
 * exist are exchanged after the pass. The result is that of backward + genc_dist_average_grads
 * (with 2 ranks bit for bit: a sum of two is the same in any order). */
genc_status genc_dist_backward_overlap(genc_ctx *ctx, genc_dist *d, const genc_params *p, genc_tensor *loss,
                                       int64_t step, double *loss_value, bool *stop, uint64_t *bytes);

#ifdef __cplusplus
}
#endif
#endif
