/* genc profile: per-op wall time of a step, forward and backward, with the GEMM FLOPs each
 * op ran and the step-arena bytes each op and each layer allocated. Off by default; while
 * off every hook is one pointer test.
 *
 * Forward time is attributed between marks: every op records (genc_record) at its end, so
 * the time since the previous record or mark belongs to it; work outside ops is named with
 * genc_profile_mark (e.g. "routing", "optimizer"). Backward time is each node's backward
 * call. In wall-clock time an op's time is its parallel span; in CPU time it is the sum
 * over threads (waiting threads that spin count too). */
#ifndef GENC_PROFILE_H
#define GENC_PROFILE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_PROFILE_MAX_OPS 64
#define GENC_PROFILE_MAX_LAYERS 256

typedef struct {
    const char *name;             /* the op's name (a string literal) or a mark's */
    double fwd_s, bwd_s;          /* seconds, summed over the steps profiled */
    double fwd_flops, bwd_flops;  /* GEMM FLOPs (2 M N K per product) counted by the op */
    int64_t fwd_calls, bwd_calls;
    double fwd_bytes;             /* step-arena bytes allocated in the forward op */
} genc_profile_entry;

/* What the profile's seconds are: wall clock, or the process's CPU time (all threads; on a
 * shared machine, time spent descheduled then does not count). */
typedef enum { GENC_PROFILE_WALL, GENC_PROFILE_CPU } genc_profile_clock;

/* Start profiling (clears what was gathered); stop keeps the numbers readable. */
genc_status genc_profile_start(genc_ctx *ctx, genc_profile_clock clock);
void genc_profile_stop(genc_ctx *ctx);
bool genc_profile_on(const genc_ctx *ctx);
/* Attribute the time (and arena bytes) since the last record or mark to `name`. */
void genc_profile_mark(genc_ctx *ctx, const char *name);
/* The op running now multiplied flops more (called by the GEMM-running ops). */
void genc_profile_flops(genc_ctx *ctx, double flops);
/* The layer whose activations are being built (-1: none); its arena bytes add up separately. */
void genc_profile_layer(genc_ctx *ctx, int layer);
/* The entries gathered (NULL and 0 when never started); *n gets their count. */
const genc_profile_entry *genc_profile_entries(const genc_ctx *ctx, int *n);
/* Step-arena bytes allocated while `layer` was current, summed over the steps profiled. */
double genc_profile_layer_bytes(const genc_ctx *ctx, int layer);

#ifdef __cplusplus
}
#endif
#endif
