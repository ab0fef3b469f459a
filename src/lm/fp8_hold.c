/* FP8 weights resident in memory for inference (issue: "FP8 weights for inference", DeepSeek-
 * V3 report section 3.3's release layout): the blocks' linear weights become E4M3 codes with
 * 128x128 block scales (genc_w8), 1 byte per weight instead of 4, decoded inside the GEMM by
 * genc_linear; the embedding, output head, MoE gate, norms and kv_b_proj stay F32. */
#include "genc/fp8.h"
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static bool held(const genc_tensor *t) {
    const char *kvb = ".self_attn.kv_b_proj.weight"; /* decode.c's absorption reads it as floats */
    size_t n = strlen(t->name), k = strlen(kvb);
    return genc_lm_param_is_fp8(t) && !(n > k && !strcmp(t->name + n - k, kvb));
}

genc_status genc_lm_hold_fp8(genc_ctx *ctx, genc_lm *m, int64_t *f32, int64_t *fp8) {
    if (m->w8) return genc_error(ctx, GENC_EINVAL, "lm: the weights are already held in FP8");
    int n = 0;
    for (int i = 0; i < m->params.n; i++) n += held(m->params.t[i]);
    m->w8 = calloc((size_t)n + 1, sizeof *m->w8);
    if (!m->w8) return genc_error(ctx, GENC_ENOMEM, "lm: out of memory holding weights in FP8");
    int64_t before = 0, after = 0;
    for (int i = 0; i < m->params.n; i++) {
        genc_tensor *t = m->params.t[i];
        if (!held(t)) continue;
        genc_w8 *w = &m->w8[m->n_w8];
        genc_status s = genc_w8_from_f32(ctx, (const float *)t->data, t->shape[0], t->shape[1], w);
        if (s) return s; /* the weights converted so far stay valid */
        m->n_w8++;
        before += t->shape[0] * t->shape[1] * (int64_t)sizeof(float), after += genc_w8_bytes(w);
        if (t->owns_data) free(t->data);
        free(t->grad);
        t->data = NULL, t->grad = NULL, t->owns_data = false, t->requires_grad = false, t->w8 = w;
    }
#ifdef __GLIBC__
    malloc_trim(0); /* hand the freed F32 pages back, or the heap keeps them resident */
#endif
    if (f32) *f32 = before;
    if (fp8) *fp8 = after;
    return GENC_OK;
}
