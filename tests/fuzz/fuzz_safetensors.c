/* libFuzzer target for genc's safetensors reader and the dtype conversions: any input must
 * be rejected with a one-line message or parse into entries whose data can be read and
 * converted in full. Crashes, sanitizer reports and broken invariants all abort. */
#include "genc/core.h"
#include "genc/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Encoding a decoded value must give back a code that decodes to the same value. */
static void fuzz_conversions(const uint8_t *data, size_t size) {
    uint32_t u = 0;
    memcpy(&u, data, size < 4 ? size : 4);
    float x;
    memcpy(&x, &u, 4);
    if (x != x) return;
    uint16_t h = genc_f16_from_f32(x), b = genc_bf16_from_f32(x);
    uint8_t q = genc_f8e4m3_from_f32(x);
    REQUIRE(genc_f16_from_f32(genc_f32_from_f16(h)) == h);
    REQUIRE(genc_bf16_from_f32(genc_f32_from_bf16(b)) == b);
    REQUIRE(genc_f8e4m3_from_f32(genc_f32_from_f8e4m3(q)) == q);
    REQUIRE((q & 0x7f) != 0x7f); /* saturating: a non-NaN never becomes NaN */
}

static void touch_entry(genc_ctx *ctx, const genc_st *st, const genc_st_entry *e) {
    const volatile unsigned char *p = genc_st_data(st, e);
    unsigned char acc = 0;
    for (uint64_t i = e->begin; i < e->end; i++) acc ^= p[i - e->begin];
    (void)acc;
    uint64_t numel = (e->end - e->begin) / genc_dtype_size(e->dtype);
    void *buf = malloc(numel * 8 + 1);
    REQUIRE(buf);
    REQUIRE(genc_st_find(st, e->name) == e);
    REQUIRE(genc_st_read_f32(ctx, st, e->name, buf, e->ndim, e->shape) == GENC_OK);
    REQUIRE(genc_st_read_f64(ctx, st, e->name, buf, e->ndim, e->shape) == GENC_OK);
    genc_status s = genc_st_read_i64(ctx, st, e->name, buf, e->ndim, e->shape);
    REQUIRE(s == GENC_OK || (e->dtype != GENC_DT_I64 && e->dtype != GENC_DT_I32 &&
                             e->dtype != GENC_DT_U8));
    genc_clear_error(ctx);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static genc_ctx *ctx;
    if (!ctx) ctx = genc_ctx_new();
    fuzz_conversions(data, size);
    genc_st *st = NULL;
    if (genc_st_open_memory(ctx, data, size, "fuzz", &st) != GENC_OK) {
        const char *m = genc_last_error(ctx);
        REQUIRE(!st && m[0] && !strchr(m, '\n') && strncmp(m, "fuzz", 4) == 0);
        genc_clear_error(ctx);
        return 0;
    }
    for (int i = 0; i < genc_st_count(st); i++) touch_entry(ctx, st, genc_st_at(st, i));
    const char *k, *v;
    for (int i = 0; genc_st_meta_at(st, i, &k, &v); i++)
        REQUIRE(genc_st_meta(st, k) == v);
    genc_st_close(st);
    return 0;
}
