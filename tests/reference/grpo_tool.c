/* grpo_tool IN OUT: reads logits [N, V], actions, old/ref log-probs, advantages and the
 * response mask [rows, T] from IN (safetensors; eps_low, eps_high, beta, agg, max_len and
 * temperature in its
 * metadata), computes genc's GRPO loss and its gradient, and writes "loss" [1] and
 * "dlogits" [N, V] to OUT, for tests/reference/test_grpo_loss.py. */
#include "genc/genc.h"
#include "genc/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

static double meta(const genc_st *st, const char *key) {
    const char *v = genc_st_meta(st, key);
    return v ? atof(v) : 0;
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: grpo_tool IN OUT\n"), 2;
    genc_ctx *ctx = genc_ctx_new();
    genc_st *st;
    if (genc_st_open(ctx, argv[1], &st)) return fprintf(stderr, "%s\n", genc_last_error(ctx)), 1;
    const genc_st_entry *e = genc_st_find(st, "logits"), *m = genc_st_find(st, "mask");
    int64_t N = e->shape[0], V = e->shape[1], rows = m->shape[0], T = m->shape[1];
    genc_tensor *z = genc_param_new(ctx, "logits", 2, (int64_t[]){N, V});
    float *old = malloc(N * sizeof(float)), *ref = malloc(N * sizeof(float)), *adv = malloc(N * sizeof(float));
    float *mask = malloc(N * sizeof(float)), *w = malloc(N * sizeof(float));
    int64_t *a64 = malloc(N * sizeof(int64_t));
    int32_t *act = malloc(N * sizeof(int32_t));
    genc_status s = genc_st_read_f32(ctx, st, "logits", z->data, 2, (int64_t[]){N, V});
    if (!s) s = genc_st_read_i64(ctx, st, "actions", a64, 1, &N);
    if (!s) s = genc_st_read_f32(ctx, st, "old_logp", old, 1, &N);
    if (!s) s = genc_st_read_f32(ctx, st, "ref_logp", ref, 1, &N);
    if (!s) s = genc_st_read_f32(ctx, st, "adv", adv, 1, &N);
    if (!s) s = genc_st_read_f32(ctx, st, "mask", mask, 2, (int64_t[]){rows, T});
    for (int64_t i = 0; i < N; i++) act[i] = (int32_t)a64[i];
    genc_grpo_weights((genc_grpo_agg)meta(st, "agg"), mask, rows, T, (int64_t)meta(st, "max_len"), w);
    genc_grpo_batch b = {act, old, ref, adv, w, meta(st, "eps_low"), meta(st, "eps_high"), meta(st, "beta"),
                        meta(st, "temperature")};
    genc_tensor *loss = s ? NULL : genc_grpo_loss(ctx, z, &b, NULL);
    if (loss) s = genc_backward(ctx, loss);
    genc_st_writer *wr = genc_st_writer_new(ctx);
    if (loss && !s) s = genc_st_writer_add_f32(wr, "loss", GENC_DT_F32, 1, (int64_t[]){1}, loss->data);
    if (loss && !s) s = genc_st_writer_add_f32(wr, "dlogits", GENC_DT_F32, 2, (int64_t[]){N, V}, z->grad);
    if (loss && !s) s = genc_st_writer_save(wr, argv[2]);
    if (!loss || s) fprintf(stderr, "grpo_tool: %s\n", genc_last_error(ctx));
    int rc = !loss || s;
    genc_st_writer_free(wr), genc_st_close(st), genc_tensor_free(z);
    free(old), free(ref), free(adv), free(mask), free(w), free(a64), free(act);
    genc_ctx_free(ctx);
    return rc;
}
