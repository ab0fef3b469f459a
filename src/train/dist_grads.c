/* Data parallelism's one step of communication: every rank ran forward and backward on its
 * equal shard of the global batch, so the global batch's gradient is the mean of the ranks'
 * (each rank's loss is a mean over its own tokens). First a small exchange of the loss, the stop
 * flag and which gradients exist (the heartbeat that names a missing rank); then the gradients,
 * packed into one buffer and all-reduced in buckets, after the whole backward pass
 * (dist_overlap.c is the version that starts the buckets during the pass). */
#include "genc/dist.h"
#include "genc/genc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The trainable gradients of `p` that any rank produced, packed into `flat` (or unpacked from it,
 * scaled by `scale`, when `unpack`). Returns the count of reals. */
static int64_t pack(const genc_params *p, const double *any, genc_real *flat, bool unpack, genc_real scale) {
    int64_t at = 0;
    for (int i = 0; i < p->n; i++) {
        genc_tensor *t = p->t[i];
        if (!t->requires_grad || any[i] == 0) continue;
        int64_t n = genc_numel(t);
        if (!unpack) memcpy(flat + at, t->grad, (size_t)n * sizeof *flat);
        else
            for (int64_t j = 0; j < n; j++) t->grad[j] = flat[at + j] * scale;
        at += n;
    }
    return at;
}

genc_status genc_dist_average_grads(genc_ctx *ctx, genc_dist *d, const genc_params *p, int64_t step, double *loss,
                                    bool *stop, uint64_t *bytes) {
    int R = genc_dist_size(d);
    uint64_t sent0 = genc_dist_bytes_sent(d);
    *bytes = 0;
    if (R == 1) return GENC_OK;
    char at[64];
    snprintf(at, sizeof at, "step %lld", (long long)step + 1);
    double *v = malloc((size_t)(p->n + 2) * sizeof *v), *any = v + 2;
    if (!v) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    v[0] = *loss, v[1] = *stop ? 1 : 0;
    for (int i = 0; i < p->n; i++) any[i] = p->t[i]->requires_grad && p->t[i]->grad ? 1 : 0;
    genc_status s = genc_dist_sum_f64(ctx, d, v, p->n + 2, at);
    int64_t total = 0;
    for (int i = 0; !s && i < p->n; i++) {
        if (!p->t[i]->requires_grad || any[i] == 0) continue;
        if (!genc_grad(ctx, p->t[i])) s = genc_ctx_status(ctx); /* zeros: this rank's shard never reached it */
        total += genc_numel(p->t[i]);
    }
    genc_real *flat = s ? NULL : malloc((size_t)(total ? total : 1) * sizeof *flat);
    if (!s && !flat) s = genc_error(ctx, GENC_ENOMEM, "out of memory for the gradient buffer (%lld values)", (long long)total);
    if (!s) pack(p, any, flat, false, 1);
    if (!s) s = genc_dist_sum_real(ctx, d, flat, total, at);
    if (!s) pack(p, any, flat, true, (genc_real)(1.0 / R));
    if (!s) *loss = v[0] / R, *stop = v[1] > 0;
    *bytes = genc_dist_bytes_sent(d) - sent0;
    if (genc_dist_broken(d)) flat = NULL, v = NULL; /* a pending all-reduce may still write there; the run is over */
    free(flat), free(v);
    return s;
}
