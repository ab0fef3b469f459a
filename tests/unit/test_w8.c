/* FP8-held weights for inference (genc_w8, src/ops/w8_gemm.c; genc_lm_hold_fp8,
 * src/lm/fp8_hold.c): the panel-decoding product against the GEMM on genc_fp8_dequantize's
 * weights (ragged 128-blocks, one and several rows, with and without accumulation), a model
 * whose weights are held in FP8 against the same model with those weights quantised and
 * dequantised in place (full forward and cached decode), the bytes reported, and a backward
 * through a held weight, or a view of one, refused. */
#include "genc/fp8.h"
#include "genc/genc.h"
#include "genc/lm.h"
#include "genc/lm_infer.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_matmul(genc_ctx *ctx) {
    const int64_t rows = 300, cols = 200, Ms[2] = {1, 5};
    float *w = malloc(sizeof(float) * rows * cols), *deq = malloc(sizeof(float) * rows * cols);
    float x[5 * 200], y[5 * 300], ref[5 * 300];
    for (int64_t i = 0; i < rows * cols; i++) w[i] = (float)sin(0.37 * (double)i) * (i % 97 == 0 ? 30.0f : 1.0f);
    for (int i = 0; i < 5 * 200; i++) x[i] = (float)cos(0.11 * i);
    genc_w8 q;
    CHECK(genc_w8_from_f32(ctx, w, rows, cols, &q) == GENC_OK);
    CHECK(genc_w8_bytes(&q) == rows * cols + 3 * 2 * 4);
    genc_fp8_dequantize(q.codes, rows, cols, 128, 128, q.scales, deq);
    for (int k = 0; k < 2; k++)
        for (int acc = 0; acc < 2; acc++) {
            int64_t M = Ms[k];
            for (int i = 0; i < 5 * 300; i++) y[i] = ref[i] = (float)i * 0.001f;
            genc_gemm(false, true, M, rows, cols, 1, x, cols, deq, cols, (float)acc, ref, rows);
            CHECK(genc_w8_matmul_nt(M, x, cols, &q, (float)acc, y, rows));
            double err = 0, mx = 0;
            for (int64_t i = 0; i < M * rows; i++) err = fmax(err, fabs(y[i] - ref[i])), mx = fmax(mx, fabs(ref[i]));
            CHECK_MSG(err <= 1e-5 * mx, "M %lld acc %d: max error %g of %g", (long long)M, acc, err, mx);
        }
    genc_w8_free(&q);
    free(w), free(deq);
}

static genc_lm_config config(void) {
    genc_lm_config c;
    genc_lm_preset(NULL, "tiny", &c);
    c.vocab_size = 64, c.max_seq = 32, c.dim = 136, c.dense_inter = 200, c.topk_groups = 1; /* ragged blocks */
    return c;
}

/* The model's logits at every position, full forward and cached decode (one token at a time). */
static void logits_of(genc_ctx *ctx, genc_lm *m, const int32_t *tok, int T, float *full, float *dec) {
    int V = m->cfg.vocab_size;
    genc_step_reset(ctx);
    genc_tensor *y = genc_lm_logits(ctx, m, tok, 1, T);
    CHECK_MSG(y != NULL, "%s", genc_last_error(ctx));
    if (y) memcpy(full, y->data, sizeof(float) * (size_t)(T * V));
    genc_lm_cache *c = NULL;
    CHECK(genc_lm_cache_new(ctx, m, 1, T, false, &c) == GENC_OK);
    for (int t = 0; c && t < T; t++) CHECK(genc_lm_decode(ctx, m, c, tok + t, 1, dec + t * V, false, NULL) == GENC_OK);
    genc_lm_cache_free(c);
}

static void test_model(genc_ctx *ctx) {
    genc_lm_config c = config();
    genc_lm a, b;
    genc_rng_seed(ctx, 5);
    CHECK(genc_lm_init(ctx, &a, &c, 0.1) == GENC_OK);
    genc_rng_seed(ctx, 5);
    CHECK(genc_lm_init(ctx, &b, &c, 0.1) == GENC_OK);
    /* a: the weights b will hold, quantised and dequantised in place (kv_b stays F32 in both) */
    for (int i = 0; i < a.params.n; i++) {
        genc_tensor *t = a.params.t[i];
        if (genc_lm_param_is_fp8(t) && !strstr(t->name, "kv_b_proj"))
            genc_fp8_qdq(t->data, t->shape[0], t->shape[1], t->shape[1], 128, 128, t->data, t->shape[1], NULL);
    }
    int64_t f32 = 0, fp8 = 0;
    CHECK(genc_lm_hold_fp8(ctx, &b, &f32, &fp8) == GENC_OK && b.n_w8 > 0);
    CHECK_MSG(f32 > 3 * fp8 && fp8 > 0, "%lld -> %lld bytes", (long long)f32, (long long)fp8);
    CHECK(genc_lm_hold_fp8(ctx, &b, NULL, NULL) == GENC_EINVAL);
    genc_clear_error(ctx);
    enum { T = 12 };
    int32_t tok[T];
    for (int t = 0; t < T; t++) tok[t] = (t * 7 + 3) % 64;
    static float fa[T * 64], da[T * 64], fb[T * 64], db[T * 64];
    logits_of(ctx, &a, tok, T, fa, da);
    logits_of(ctx, &b, tok, T, fb, db);
    double e1 = 0, e2 = 0;
    for (int i = 0; i < T * 64; i++) e1 = fmax(e1, fabs(fa[i] - fb[i])), e2 = fmax(e2, fabs(da[i] - db[i]));
    CHECK_MSG(e1 < 1e-5 && e2 < 1e-5, "held FP8 vs dequantised in place: forward %g, decode %g", e1, e2);
    /* a backward through a held weight is an error, not a silent zero */
    genc_step_reset(ctx);
    genc_tensor *y = genc_lm_logits(ctx, &b, tok, 1, T);
    genc_tensor *l = y ? genc_mean_all(ctx, y) : NULL;
    CHECK(l && genc_backward(ctx, l) != GENC_OK && strstr(genc_last_error(ctx), "FP8"));
    genc_clear_error(ctx);
    /* nor can a view of one be taken (its numbers are not in data) */
    genc_tensor *held = NULL;
    for (int i = 0; i < b.params.n && !held; i++) held = b.params.t[i]->w8 ? b.params.t[i] : NULL;
    CHECK(held && !genc_transpose(ctx, held, 0, 1) && strstr(genc_last_error(ctx), "held in FP8"));
    genc_clear_error(ctx);
    genc_lm_free(&a), genc_lm_free(&b);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    test_matmul(ctx);
    test_model(ctx);
    genc_ctx_free(ctx);
    return test_report("test_w8");
}
