/* Inverted dropout: in training (grad mode on) each element is kept with probability 1 - p
 * and scaled by 1 / (1 - p), so the expected output equals the input and evaluation needs no
 * rescaling; with p == 0 or grad mode off the op is the identity (returns its input).
 *
 * The mask comes from the context's Philox stream: the call reserves numel draws with
 * genc_rng_take and element i is kept iff philox_uniform(seed, first + i) >= p. Each draw
 * depends only on its counter, so the mask is the same for any thread count. The mask is
 * kept as bytes in the step arena for backward: dx += dy * mask / (1 - p). */
#include "genc/genc.h"

static void dropout_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *a = n->in[0];
    genc_real *ga = genc_grad(ctx, a);
    if (!ga) return;
    const uint8_t *mask = n->saved;
    const genc_real *go = n->out->grad, scale = (genc_real)n->farg[0];
    int64_t m = genc_numel(a);
#pragma omp parallel for if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) ga[i] += mask[i] ? go[i] * scale : 0;
}

genc_tensor *genc_dropout(genc_ctx *ctx, genc_tensor *a, double p) {
    if (!a) return NULL;
    if (!(p >= 0 && p < 1)) {
        genc_error(ctx, GENC_EINVAL, "dropout: p = %g is outside [0, 1)", p);
        return NULL;
    }
    if (p == 0 || !genc_grad_enabled(ctx)) return a;
    a = genc_contiguous(ctx, a);
    genc_tensor *out = a ? genc_tensor_empty(ctx, a->ndim, a->shape) : NULL;
    int64_t m = a ? genc_numel(a) : 0;
    uint8_t *mask = out ? genc_arena_alloc(ctx, (size_t)m) : NULL;
    if (!mask) return NULL;
    uint64_t seed = genc_rng_get_seed(ctx), first = genc_rng_take(ctx, (uint64_t)m);
    const genc_real scale = (genc_real)(1.0 / (1.0 - p));
    const genc_real *x = a->data;
    genc_real *y = out->data;
#pragma omp parallel for if (m > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < m; i++) {
        mask[i] = genc_philox_uniform(seed, first + (uint64_t)i) >= p;
        y[i] = mask[i] ? x[i] * scale : 0;
    }
    genc_node *n = genc_record(ctx, "dropout", dropout_backward, out, 1, &a);
    if (n) n->saved = mask, n->farg[0] = scale;
    return genc_ctx_status(ctx) ? NULL : out;
}
