/* FP8 weights in DeepSeek-V3's release layout (include/genc/fp8_weights.h, src/lm/fp8_export.c;
 * report section 3.3): a model written by genc_lm_save_fp8 and read back by the checkpoint
 * loader has every block linear weight equal to its 128x128-block E4M3 quantise-dequantise and
 * everything else (embedding, head, gate, norms) exact; the scale tensors have DeepSeek's
 * shape; malformed scale tensors (missing, wrong shape or dtype, zero, NaN) are refused with
 * one line naming the tensor. */
#include "genc/fp8_weights.h"
#include "genc/lm.h"
#include "genc/train.h"
#include "test.h"

#include <unistd.h>

static char PATH[64];

static genc_lm_config small_config(void) {
    genc_lm_config c;
    genc_lm_preset(NULL, "tiny", &c);
    c.vocab_size = 64, c.max_seq = 32, c.dim = 136, c.dense_inter = 200; /* ragged 128-blocks */
    return c;
}

static void test_roundtrip(genc_ctx *ctx) {
    genc_lm_config c = small_config();
    genc_lm a, b;
    int64_t n8 = 0;
    CHECK(genc_lm_init(ctx, &a, &c, 0.05) == GENC_OK && genc_lm_init(ctx, &b, &c, 0.0) == GENC_OK);
    CHECK(genc_lm_save_fp8(ctx, &a, PATH, NULL, NULL, &n8) == GENC_OK && n8 > 0);
    genc_st *st = NULL;
    CHECK(genc_st_open(ctx, PATH, &st) == GENC_OK);
    CHECK(st && genc_checkpoint_load(ctx, st, &b.params, NULL, NULL) == GENC_OK);
    const genc_st_entry *e = st ? genc_st_find(st, "model.layers.0.mlp.gate_proj.weight_scale_inv") : NULL;
    CHECK(e && e->dtype == GENC_DT_F32 && e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 2); /* [200, 136] */
    e = st ? genc_st_find(st, "model.layers.0.mlp.gate_proj.weight") : NULL;
    CHECK(e && e->dtype == GENC_DT_F8_E4M3);
    CHECK(st && !genc_st_find(st, "lm_head.weight_scale_inv") && !genc_st_find(st, "model.layers.1.mlp.gate.weight_scale_inv"));
    genc_st_close(st);
    int bad = 0, quantised = 0;
    for (int i = 0; i < a.params.n; i++) {
        const genc_tensor *t = a.params.t[i], *u = b.params.t[i];
        int64_t n = genc_numel(t);
        float *want = malloc(sizeof(float) * (size_t)n);
        if (genc_lm_param_is_fp8(t)) {
            genc_fp8_qdq(t->data, t->shape[0], t->shape[1], t->shape[1], 128, 128, want, t->shape[1], NULL);
            quantised++;
        } else {
            memcpy(want, t->data, sizeof(float) * (size_t)n);
        }
        for (int64_t j = 0; j < n; j++) bad += u->data[j] != want[j];
        free(want);
    }
    CHECK_MSG(bad == 0 && quantised == n8, "%d values differ; %d quantised of %lld", bad, quantised, (long long)n8);
    CHECK(!genc_lm_param_is_fp8(a.embed) && !genc_lm_param_is_fp8(a.lm_head) && !genc_lm_param_is_fp8(a.blocks[1].router));
    CHECK(genc_lm_param_is_fp8(a.blocks[0].kv_b) && genc_lm_param_is_fp8(a.blocks[1].e_down[3]));
    genc_lm_free(&a), genc_lm_free(&b);
}

/* A 130 x 5 F8 weight "w" with the scale tensor given (NULL: none), read back. */
static genc_status read_with_scales(genc_ctx *ctx, genc_dtype dt, int64_t r, int64_t c, const float *s) {
    static uint8_t codes[130 * 5];
    static float out[130 * 5];
    memset(codes, 0x38, sizeof codes);
    genc_st_writer *w = genc_st_writer_new(ctx);
    genc_st_writer_add(w, "w", GENC_DT_F8_E4M3, 2, (int64_t[]){130, 5}, codes);
    if (s) genc_st_writer_add_f32(w, "w_scale_inv", dt, 2, (int64_t[]){r, c}, s);
    genc_st_writer_save(w, PATH);
    genc_st_writer_free(w);
    genc_st *st = NULL;
    genc_status rc = genc_st_open(ctx, PATH, &st);
    if (!rc) rc = genc_fp8_weights_read(ctx, st, "w", out, 2, (int64_t[]){130, 5});
    genc_st_close(st);
    return rc;
}

static void expect_refused(genc_ctx *ctx, genc_status rc, const char *what) {
    const char *msg = genc_last_error(ctx);
    CHECK_MSG(rc == GENC_EFORMAT && strstr(msg, what) && !strchr(msg, '\n'), "%s: status %d, \"%s\"", what, rc, msg);
    genc_clear_error(ctx);
}

static void test_malformed(genc_ctx *ctx) {
    float good[2] = {0.5f, 2.0f}, zero[2] = {0.5f, 0}, nan[2] = {NAN, 1}, three[3] = {1, 1, 1};
    CHECK(read_with_scales(ctx, GENC_DT_F32, 2, 1, good) == GENC_OK);
    expect_refused(ctx, read_with_scales(ctx, GENC_DT_F32, 2, 1, NULL), "\"w_scale_inv\" is missing");
    expect_refused(ctx, read_with_scales(ctx, GENC_DT_F32, 1, 3, three), "w_scale_inv");
    expect_refused(ctx, read_with_scales(ctx, GENC_DT_BF16, 2, 1, good), "must be F32");
    expect_refused(ctx, read_with_scales(ctx, GENC_DT_F32, 2, 1, zero), "positive and finite");
    expect_refused(ctx, read_with_scales(ctx, GENC_DT_F32, 2, 1, nan), "positive and finite");
}

int main(void) {
    snprintf(PATH, sizeof PATH, "/tmp/genc_test_fp8_weights.%d.safetensors", (int)getpid());
    genc_ctx *ctx = genc_ctx_new();
    genc_set_threads(ctx, 2);
    test_roundtrip(ctx);
    test_malformed(ctx);
    remove(PATH);
    genc_ctx_free(ctx);
    return test_report("test_fp8_weights");
}
