/* libFuzzer target for genc's GGUF reader: any input must be rejected with a one-line
 * message naming the label, or parse into key-values and tensors that can all be read in
 * full (every scalar, every array element, every tensor decoded to float). Crashes,
 * sanitizer reports and broken invariants all abort. */
#include "genc/core.h"
#include "genc/gguf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static void touch_kv(const genc_gguf *g, const genc_gguf_kv *kv) {
    int64_t iv;
    float fv;
    bool bv;
    size_t len;
    REQUIRE(genc_gguf_find_kv(g, kv->key) == kv);
    (void)genc_gguf_get_int(g, kv->key, &iv), (void)genc_gguf_get_f32(g, kv->key, &fv);
    (void)genc_gguf_get_bool(g, kv->key, &bv), (void)genc_gguf_get_str(g, kv->key, &len);
    if (kv->type != GENC_GGUF_ARRAY) return;
    for (uint64_t i = 0; i < kv->n; i++) {
        double d;
        const char *s = genc_gguf_arr_str(g, kv, i, &len);
        REQUIRE((s != NULL) == (kv->arr_type == GENC_GGUF_STRING));
        if (s && len) REQUIRE(s[0] == s[0] && s[len - 1] == s[len - 1]); /* in bounds (ASan) */
        if (!s) REQUIRE(genc_gguf_arr_num(g, kv, i, &d));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    if (!ctx) ctx = genc_ctx_new();
    genc_gguf *g;
    genc_status s = genc_gguf_open_memory(ctx, data, size, "fuzz.gguf", &g);
    if (s) {
        const char *msg = genc_last_error(ctx);
        REQUIRE(g == NULL && msg[0] && !strchr(msg, '\n') && strstr(msg, "fuzz.gguf"));
        genc_clear_error(ctx);
        return 0;
    }
    for (int i = 0; i < genc_gguf_kv_count(g); i++) touch_kv(g, genc_gguf_kv_at(g, i));
    for (int i = 0; i < genc_gguf_tensor_count(g); i++) {
        const genc_gguf_tensor *t = genc_gguf_tensor_at(g, i);
        uint64_t n = (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
        REQUIRE(genc_gguf_find_tensor(g, t->name) == t);
        REQUIRE(genc_ggml_nbytes(t->type, n) == t->nbytes && t->offset + t->nbytes <= size);
        float *buf = malloc(n * sizeof *buf + 1);
        REQUIRE(buf);
        genc_gguf_tensor_read_f32(g, t, buf);
        free(buf);
    }
    genc_gguf_close(g);
    return 0;
}
