/* lm_ops_tool: helper for tests/reference/test_lm_ops.py, which checks genc's rope and fused
 * attention (values and gradients) against PyTorch.
 *   lm_ops_tool IN OUT
 * IN (safetensors, F32 unless noted): x [B, T, H, d], gy (x's output gradient), pos I32 [T],
 * q, k, v, go (the attention output gradient), key_start I32 [B] (optional); metadata
 * "theta", "scale", "causal" (0 or 1). OUT: rope_y, rope_gx, attn_o, attn_gq, attn_gk,
 * attn_gv. Exit 1 with the error on stderr on any failure. */
#include "genc/genc.h"
#include "genc/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

/* A persistent tensor requiring a gradient, filled from the file's entry `name`. */
static genc_tensor *load(genc_ctx *ctx, const genc_st *st, const char *name) {
    const genc_st_entry *e = genc_st_find(st, name);
    if (!e || e->ndim != 4) {
        genc_error(ctx, GENC_EFORMAT, "%s: no 4-d tensor %s", genc_st_label(st), name);
        return NULL;
    }
    genc_tensor *t = genc_param_new(ctx, name, 4, e->shape);
    if (t && genc_st_read_f32(ctx, st, name, t->data, 4, e->shape)) return genc_tensor_free(t), NULL;
    return t;
}

/* int32 copy of a 1-d integer entry (n values), or NULL (absent or bad). */
static int32_t *load_i32(genc_ctx *ctx, const genc_st *st, const char *name, int64_t n) {
    int64_t *tmp = malloc((size_t)n * sizeof *tmp);
    int32_t *out = malloc((size_t)n * sizeof *out);
    if (tmp && out && !genc_st_read_i64(ctx, st, name, tmp, 1, &n))
        for (int64_t i = 0; i < n; i++) out[i] = (int32_t)tmp[i];
    else
        free(out), out = NULL;
    free(tmp);
    return out;
}

static void save(genc_st_writer *w, const char *name, const genc_tensor *t, const genc_real *src) {
    genc_st_writer_add_f32(w, name, GENC_DT_F32, t->ndim, t->shape, src);
}

/* Runs rope and attention, each with backward from the file's seed gradient; saves the
 * outputs and the input gradients. */
static int run(genc_ctx *ctx, const genc_st *st, genc_st_writer *w) {
    genc_tensor *x = load(ctx, st, "x"), *gy = load(ctx, st, "gy"), *q = load(ctx, st, "q");
    genc_tensor *k = load(ctx, st, "k"), *v = load(ctx, st, "v"), *go = load(ctx, st, "go");
    if (genc_ctx_status(ctx)) return 1;
    int32_t *pos = load_i32(ctx, st, "pos", x->shape[1]);
    int32_t *ks = genc_st_find(st, "key_start") ? load_i32(ctx, st, "key_start", q->shape[0]) : NULL;
    double theta = atof(genc_st_meta(st, "theta")), scale = atof(genc_st_meta(st, "scale"));
    bool causal = atoi(genc_st_meta(st, "causal")) != 0;
    genc_tensor *y = genc_rope(ctx, x, pos, theta);
    if (!y || genc_backward_with(ctx, y, gy->data)) return 1;
    save(w, "rope_y", y, y->data), save(w, "rope_gx", x, x->grad);
    genc_tensor *o = genc_attention(ctx, q, k, v, scale, causal, ks);
    if (!o || genc_backward_with(ctx, o, go->data)) return 1;
    save(w, "attn_o", o, o->data), save(w, "attn_gq", q, q->grad), save(w, "attn_gk", k, k->grad);
    save(w, "attn_gv", v, v->grad);
    free(pos), free(ks);
    genc_tensor *all[6] = {x, gy, q, k, v, go};
    for (int i = 0; i < 6; i++) genc_tensor_free(all[i]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: lm_ops_tool IN OUT\n");
        return 2;
    }
    genc_ctx *ctx = genc_ctx_new();
    genc_st *st = NULL;
    genc_st_writer *w = genc_st_writer_new(ctx);
    int rc = !w || genc_st_open(ctx, argv[1], &st) || run(ctx, st, w) || genc_st_writer_save(w, argv[2]);
    if (rc) fprintf(stderr, "lm_ops_tool: %s\n", genc_last_error(ctx));
    genc_st_writer_free(w);
    genc_st_close(st);
    genc_ctx_free(ctx);
    return rc;
}
