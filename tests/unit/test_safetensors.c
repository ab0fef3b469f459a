/* Unit tests for genc's safetensors reader/writer and dtype conversions: conversion
 * tables and brute-force checks, round trips, truncated, bit-flipped and hand-crafted
 * hostile files, and the atomic save's behaviour when writing fails. */
#include "genc/safetensors.h"
#include "test.h"

#include <dirent.h>
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static float fbits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static void path_in(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

/* A message must name the label and fit on one line. */
static int one_line_msg(const genc_ctx *ctx, const char *label) {
    const char *m = genc_last_error(ctx);
    return m[0] && !strchr(m, '\n') && strncmp(m, label, strlen(label)) == 0;
}

/* ---- conversions ---- */

static void test_bf16(void) {
    CHECK(genc_bf16_from_f32(1.0f) == 0x3f80);
    CHECK(genc_bf16_from_f32(-2.0f) == 0xc000);
    CHECK(genc_bf16_from_f32(-0.0f) == 0x8000);
    CHECK(genc_bf16_from_f32(fbits(0x3f808000)) == 0x3f80); /* tie to even: down */
    CHECK(genc_bf16_from_f32(fbits(0x3f818000)) == 0x3f82); /* tie to even: up */
    CHECK(genc_bf16_from_f32(fbits(0x3f808001)) == 0x3f81);
    CHECK(genc_bf16_from_f32(FLT_MAX) == 0x7f80);           /* overflow rounds to inf */
    CHECK(genc_bf16_from_f32(-INFINITY) == 0xff80);
    CHECK(genc_bf16_from_f32(fbits(0x00010000)) == 0x0001); /* subnormal kept */
    CHECK(isnan(genc_f32_from_bf16(genc_bf16_from_f32(NAN))));
    CHECK(isnan(genc_f32_from_bf16(genc_bf16_from_f32(fbits(0x7f800001))))); /* no inf */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = genc_f32_from_bf16((uint16_t)h);
        if (!isnan(x) && genc_bf16_from_f32(x) != h) bad++;
    }
    CHECK_MSG(bad == 0, "%d bf16 codes fail to round-trip", bad);
}

static void test_f16_table(void) {
    CHECK(genc_f16_from_f32(1.0f) == 0x3c00);
    CHECK(genc_f16_from_f32(-0.0f) == 0x8000);
    CHECK(genc_f16_from_f32(65504.0f) == 0x7bff);
    CHECK(genc_f16_from_f32(65519.0f) == 0x7bff);
    CHECK(genc_f16_from_f32(65520.0f) == 0x7c00); /* tie rounds to even: infinity */
    CHECK(genc_f16_from_f32(1e6f) == 0x7c00);
    CHECK(genc_f16_from_f32(-INFINITY) == 0xfc00);
    CHECK(genc_f16_from_f32(ldexpf(1, -14)) == 0x0400);    /* smallest normal */
    CHECK(genc_f16_from_f32(ldexpf(1, -24)) == 0x0001);    /* smallest subnormal */
    CHECK(genc_f16_from_f32(ldexpf(1, -25)) == 0x0000);    /* tie to even: zero */
    CHECK(genc_f16_from_f32(ldexpf(3, -25)) == 0x0002);    /* tie to even: up */
    CHECK(genc_f16_from_f32(fbits(0x33000001)) == 0x0001); /* just above 2^-25 */
    CHECK(genc_f16_from_f32(1.0f + ldexpf(1, -11)) == 0x3c00);
    CHECK(genc_f16_from_f32(1.0f + ldexpf(3, -11)) == 0x3c02);
    CHECK(genc_f16_from_f32(FLT_MIN / 4) == 0x0000);
    CHECK(genc_f32_from_f16(0x7bff) == 65504.0f);
    CHECK(genc_f32_from_f16(0x0001) == ldexpf(1, -24));
    CHECK(genc_f32_from_f16(0x8400) == -ldexpf(1, -14));
    CHECK(isinf(genc_f32_from_f16(0x7c00)) && isnan(genc_f32_from_f16(0x7e00)));
    CHECK(isnan(genc_f32_from_f16(genc_f16_from_f32(NAN))));
    CHECK(isnan(genc_f32_from_f16(genc_f16_from_f32(fbits(0x7f800001)))));
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float x = genc_f32_from_f16((uint16_t)h);
        if (!isnan(x) && genc_f16_from_f32(x) != h) bad++;
    }
    CHECK_MSG(bad == 0, "%d f16 codes fail to round-trip", bad);
}

/* The compiler's own _Float16 conversion (round-to-nearest-even) as an independent check. */
static void test_f16_vs_compiler(void) {
#if defined(__FLT16_MAX__) && (defined(__x86_64__) || defined(__aarch64__))
    int bad = 0;
    uint32_t u = 12345;
    for (int i = 0; i < 2000000; i++) {
        u = u * 1664525u + 1013904223u;
        uint32_t b = (i & 1) ? u : (u & 0x87ffffffu) | 0x30000000u; /* half near f16 range */
        float x = fbits(b);
        if (isnan(x)) continue;
        _Float16 h = (_Float16)x;
        uint16_t hb;
        memcpy(&hb, &h, 2);
        if (hb != genc_f16_from_f32(x) && bad++ < 5)
            fprintf(stderr, "f16 of %08x: compiler %04x genc %04x\n", b, hb, genc_f16_from_f32(x));
    }
    CHECK_MSG(bad == 0, "%d f16 conversions differ from _Float16", bad);
#endif
}

/* Nearest finite e4m3fn code by brute force, ties to the even code, saturating. */
static uint8_t f8_nearest(float x) {
    double ax = fabs((double)x), best = INFINITY;
    int code = 0;
    for (int c = 0; c <= 0x7e; c++) {
        double d = fabs(genc_f32_from_f8e4m3((uint8_t)c) - ax);
        if (d < best || (d == best && !(c & 1))) best = d, code = c;
    }
    if (ax > 448) code = 0x7e;
    return (uint8_t)(code | (signbit(x) ? 0x80 : 0));
}

static void test_f8(void) {
    CHECK(genc_f8e4m3_from_f32(0.0f) == 0x00 && genc_f8e4m3_from_f32(-0.0f) == 0x80);
    CHECK(genc_f8e4m3_from_f32(1.0f) == 0x38);
    CHECK(genc_f8e4m3_from_f32(448.0f) == 0x7e && genc_f8e4m3_from_f32(-448.0f) == 0xfe);
    CHECK(genc_f8e4m3_from_f32(449.0f) == 0x7e);   /* saturate */
    CHECK(genc_f8e4m3_from_f32(464.0f) == 0x7e);   /* tie with the NaN slot: saturate */
    CHECK(genc_f8e4m3_from_f32(1e30f) == 0x7e && genc_f8e4m3_from_f32(-1e30f) == 0xfe);
    CHECK(genc_f8e4m3_from_f32(INFINITY) == 0x7e && genc_f8e4m3_from_f32(-INFINITY) == 0xfe);
    CHECK(genc_f8e4m3_from_f32(NAN) == 0x7f);
    CHECK(genc_f8e4m3_from_f32(-NAN) == 0xff);
    CHECK(isnan(genc_f32_from_f8e4m3(0x7f)) && isnan(genc_f32_from_f8e4m3(0xff)));
    CHECK(genc_f8e4m3_from_f32(ldexpf(1, -9)) == 0x01);  /* smallest subnormal */
    CHECK(genc_f8e4m3_from_f32(ldexpf(1, -10)) == 0x00); /* tie to even: zero */
    CHECK(genc_f8e4m3_from_f32(ldexpf(3, -10)) == 0x02); /* tie to even: up */
    CHECK(genc_f8e4m3_from_f32(ldexpf(1, -6)) == 0x08);  /* smallest normal */
    CHECK(genc_f8e4m3_from_f32(17.0f) == 0x58);           /* tie 16|18 -> 16 */
    CHECK(genc_f8e4m3_from_f32(19.0f) == 0x5a);           /* tie 18|20 -> 20 */
    CHECK(genc_f32_from_f8e4m3(0x7e) == 448.0f && genc_f32_from_f8e4m3(0x01) == ldexpf(1, -9));
    CHECK(genc_f32_from_f8e4m3(0x0f) == ldexpf(1, -6) * 1.875f);
    int bad = 0;
    for (int c = 0; c < 256; c++)
        if ((c & 0x7f) != 0x7f && genc_f8e4m3_from_f32(genc_f32_from_f8e4m3((uint8_t)c)) != c)
            bad++;
    CHECK_MSG(bad == 0, "%d f8 codes fail to round-trip", bad);
    bad = 0;
    uint32_t u = 777;
    for (int i = 0; i < 200000; i++) {
        u = u * 1664525u + 1013904223u;
        float x = ldexpf((float)(u >> 8) / 16777216.0f, (int)(u % 24) - 13); /* 2^-13..2^10 */
        if (u & 0x80) x = -x;
        if (genc_f8e4m3_from_f32(x) != f8_nearest(x) && bad++ < 5)
            fprintf(stderr, "f8 of %.9g: genc %02x nearest %02x\n", x, genc_f8e4m3_from_f32(x),
                    f8_nearest(x));
    }
    CHECK_MSG(bad == 0, "%d f8 conversions are not the nearest code", bad);
}

static void test_dtype_names(void) {
    static const char *names[] = {"F32", "F16", "BF16", "F8_E4M3", "F64", "I64", "I32", "U8"};
    static const size_t sizes[] = {4, 2, 2, 1, 8, 8, 4, 1};
    for (int i = 0; i < 8; i++) {
        genc_dtype d;
        CHECK(strcmp(genc_dtype_name((genc_dtype)i), names[i]) == 0);
        CHECK(genc_dtype_size((genc_dtype)i) == sizes[i]);
        CHECK(genc_dtype_parse(names[i], &d) && (int)d == i);
    }
    genc_dtype d;
    CHECK(!genc_dtype_parse("F8_E5M2", &d) && genc_dtype_size((genc_dtype)99) == 0);
}

/* ---- round trip ---- */

static genc_st_writer *sample_writer(genc_ctx *ctx) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    float a[6] = {1, -2.5f, 3.25f, 0, 1e-3f, 448};
    int64_t s23[2] = {2, 3}, s6[1] = {6}, s0[2] = {0, 3}, s4[1] = {4};
    int64_t iv[4] = {-1, 0, INT64_MAX, (int64_t)1 << 53};
    int32_t i32[4] = {-7, 7, INT32_MIN, 1};
    uint8_t u8[4] = {0, 1, 128, 255};
    double dv[4] = {1e300, -1e-300, 0.1, 3};
    float scalar = 42;
    CHECK(genc_st_writer_add_f32(w, "a.f32", GENC_DT_F32, 2, s23, a) == GENC_OK);
    CHECK(genc_st_writer_add_f32(w, "a.f16", GENC_DT_F16, 1, s6, a) == GENC_OK);
    CHECK(genc_st_writer_add_f32(w, "a.bf16", GENC_DT_BF16, 2, s23, a) == GENC_OK);
    CHECK(genc_st_writer_add_f32(w, "a.f8", GENC_DT_F8_E4M3, 2, s23, a) == GENC_OK);
    CHECK(genc_st_writer_add(w, "d", GENC_DT_F64, 1, s4, dv) == GENC_OK);
    CHECK(genc_st_writer_add(w, "i64", GENC_DT_I64, 1, s4, iv) == GENC_OK);
    CHECK(genc_st_writer_add(w, "i32", GENC_DT_I32, 1, s4, i32) == GENC_OK);
    CHECK(genc_st_writer_add(w, "empty", GENC_DT_F32, 2, s0, NULL) == GENC_OK);
    CHECK(genc_st_writer_add_f32(w, "scalar", GENC_DT_F32, 0, NULL, &scalar) == GENC_OK);
    CHECK(genc_st_writer_add(w, "u8", GENC_DT_U8, 1, s4, u8) == GENC_OK);
    CHECK(genc_st_writer_meta(w, "format", "pt") == GENC_OK);
    CHECK(genc_st_writer_meta(w, "config", "{\"dim\": 4, \"name\": \"h\\u00e9\"}") == GENC_OK);
    CHECK(genc_st_writer_meta(w, "format", "genc") == GENC_OK); /* replaces */
    return w;
}

static void check_sample_values(genc_ctx *ctx, const genc_st *st) {
    int64_t s23[2] = {2, 3}, s6[1] = {6}, s4[1] = {4}, s0[2] = {0, 3};
    float f[6], ref[6] = {1, -2.5f, 3.25f, 0, 1e-3f, 448};
    CHECK(genc_st_read_f32(ctx, st, "a.f32", f, 2, s23) == GENC_OK);
    CHECK(memcmp(f, ref, sizeof f) == 0);
    CHECK(genc_st_read_f32(ctx, st, "a.f16", f, 1, s6) == GENC_OK);
    for (int i = 0; i < 6; i++) CHECK(f[i] == genc_f32_from_f16(genc_f16_from_f32(ref[i])));
    CHECK(genc_st_read_f32(ctx, st, "a.bf16", f, 2, s23) == GENC_OK);
    for (int i = 0; i < 6; i++) CHECK(f[i] == genc_f32_from_bf16(genc_bf16_from_f32(ref[i])));
    CHECK(genc_st_read_f32(ctx, st, "a.f8", f, 2, s23) == GENC_OK);
    for (int i = 0; i < 6; i++) CHECK(f[i] == genc_f32_from_f8e4m3(genc_f8e4m3_from_f32(ref[i])));
    double d[4];
    CHECK(genc_st_read_f64(ctx, st, "d", d, 1, s4) == GENC_OK);
    CHECK(d[0] == 1e300 && d[1] == -1e-300 && d[2] == 0.1 && d[3] == 3);
    int64_t iv[4];
    CHECK(genc_st_read_i64(ctx, st, "i64", iv, 1, s4) == GENC_OK);
    CHECK(iv[0] == -1 && iv[2] == INT64_MAX && iv[3] == (int64_t)1 << 53);
    CHECK(genc_st_read_i64(ctx, st, "i32", iv, 1, s4) == GENC_OK);
    CHECK(iv[0] == -7 && iv[2] == INT32_MIN);
    CHECK(genc_st_read_i64(ctx, st, "u8", iv, 1, s4) == GENC_OK && iv[3] == 255);
    CHECK(genc_st_read_f64(ctx, st, "i64", d, 1, s4) == GENC_OK && d[3] == 9007199254740992.0);
    CHECK(genc_st_read_f32(ctx, st, "empty", NULL, 2, s0) == GENC_OK);
    CHECK(genc_st_read_f32(ctx, st, "scalar", f, 0, NULL) == GENC_OK && f[0] == 42);
    CHECK(genc_ctx_status(ctx) == GENC_OK);
}

static void check_sample_layout(const genc_st *st) {
    static const char *order[] = {"a.f32", "a.f16", "a.bf16", "a.f8", "d", "i64", "i32",
                                  "empty", "scalar", "u8"};
    CHECK(genc_st_count(st) == 10);
    uint64_t off = 0;
    for (int i = 0; i < genc_st_count(st) && i < 10; i++) {
        const genc_st_entry *e = genc_st_at(st, i);
        CHECK_MSG(strcmp(e->name, order[i]) == 0, "entry %d is %s", i, e->name);
        CHECK(e->begin == off && genc_st_find(st, order[i]) == e);
        off = e->end;
    }
    CHECK(genc_st_at(st, 10) == NULL && genc_st_at(st, -1) == NULL);
    CHECK(genc_st_find(st, "nope") == NULL);
    const genc_st_entry *e = genc_st_find(st, "a.bf16");
    CHECK(e && e->dtype == GENC_DT_BF16 && e->ndim == 2 && e->shape[0] == 2 && e->shape[1] == 3);
    CHECK(((uintptr_t)genc_st_data(st, genc_st_at(st, 0)) & 63) == 0);
    CHECK(genc_st_find(st, "scalar")->ndim == 0);
    CHECK(strcmp(genc_st_meta(st, "format"), "genc") == 0);
    CHECK(strstr(genc_st_meta(st, "config"), "h\\u00e9") != NULL);
    CHECK(genc_st_meta(st, "absent") == NULL && genc_st_meta_count(st) == 2);
    const char *k, *v;
    CHECK(genc_st_meta_at(st, 0, &k, &v) && strcmp(k, "format") == 0);
    CHECK(!genc_st_meta_at(st, 2, &k, &v));
}

static void test_roundtrip(genc_ctx *ctx) {
    char path[128];
    path_in(path, sizeof path, "rt.safetensors");
    genc_st_writer *w = sample_writer(ctx);
    CHECK(genc_st_writer_save(w, path) == GENC_OK);
    genc_st_writer_free(w);
    genc_st *st = NULL;
    CHECK_MSG(genc_st_open(ctx, path, &st) == GENC_OK, "%s", genc_last_error(ctx));
    if (!st) return;
    check_sample_layout(st);
    check_sample_values(ctx, st);
    genc_st_close(st);
    size_t len;
    unsigned char *bytes = slurp(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | bytes[i];
    CHECK(n % 8 == 0 && bytes[8] == '{' && bytes[8 + n - 1] != '\n');
    CHECK(genc_st_open_memory(ctx, bytes, len, "mem", &st) == GENC_OK);
    if (st) check_sample_values(ctx, st);
    genc_st_close(st);
    free(bytes);
}

static void test_read_errors(genc_ctx *ctx) {
    char path[128];
    path_in(path, sizeof path, "rt.safetensors");
    genc_st *st = NULL;
    CHECK(genc_st_open(ctx, path, &st) == GENC_OK);
    if (!st) return;
    float f[8];
    int64_t s32[2] = {3, 2}, s6[1] = {6};
    CHECK(genc_st_read_f32(ctx, st, "a.f32", f, 2, s32) == GENC_EFORMAT);
    CHECK_MSG(strstr(genc_last_error(ctx), "rt.safetensors: tensor \"a.f32\": expected shape "
                     "[3, 2] but the file has F32 [2, 3]"), "%s", genc_last_error(ctx));
    genc_clear_error(ctx);
    CHECK(genc_st_read_f32(ctx, st, "a.f32", f, 1, s6) == GENC_EFORMAT);
    genc_clear_error(ctx);
    CHECK(genc_st_read_f32(ctx, st, "missing", f, 1, s6) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "no tensor \"missing\"") != NULL);
    genc_clear_error(ctx);
    int64_t iv[6];
    CHECK(genc_st_read_i64(ctx, st, "a.f16", iv, 1, s6) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "integer dtype") != NULL);
    genc_clear_error(ctx);
    genc_st_close(st);
}

static void test_writer_rejects(genc_ctx *ctx) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    float x[2] = {1, 2};
    int64_t s2[1] = {2}, neg[1] = {-1};
    CHECK(genc_st_writer_add_f32(w, "x", GENC_DT_F32, 1, s2, x) == GENC_OK);
    CHECK(genc_st_writer_add_f32(w, "x", GENC_DT_F16, 1, s2, x) == GENC_EINVAL);
    CHECK(strstr(genc_last_error(ctx), "duplicate tensor \"x\"") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_st_writer_add_f32(w, "__metadata__", GENC_DT_F32, 1, s2, x) == GENC_EINVAL);
    CHECK(genc_st_writer_add_f32(w, "", GENC_DT_F32, 1, s2, x) == GENC_EINVAL);
    CHECK(genc_st_writer_add_f32(w, "n", GENC_DT_F32, 1, neg, x) == GENC_EINVAL);
    CHECK(genc_st_writer_add_f32(w, "n", GENC_DT_F32, 9, s2, x) == GENC_EINVAL);
    CHECK(genc_st_writer_add_f32(w, "n", GENC_DT_I64, 1, s2, x) == GENC_EINVAL);
    CHECK(genc_st_writer_add(w, "n", (genc_dtype)42, 1, s2, x) == GENC_EINVAL);
    CHECK(genc_st_writer_add(w, "bad\xff", GENC_DT_F32, 1, s2, x) == GENC_EINVAL);
    CHECK(genc_st_writer_meta(w, "k", "bad\xc3") == GENC_EINVAL);
    CHECK(genc_st_writer_add(w, "n", GENC_DT_F32, 1, s2, NULL) == GENC_EINVAL);
    genc_clear_error(ctx);
    genc_st_writer_free(w);
}

/* ---- hostile input ---- */

/* A small valid file (kept tiny: every prefix and bit flip is tried). */
static unsigned char *small_file(genc_ctx *ctx, size_t *len) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    float a[4] = {1, 2, 3, 4};
    int64_t s22[2] = {2, 2}, s3[1] = {3};
    genc_st_writer_add_f32(w, "w", GENC_DT_BF16, 2, s22, a);
    genc_st_writer_add_f32(w, "b", GENC_DT_F32, 1, s3, a);
    genc_st_writer_meta(w, "k", "v");
    char path[128];
    path_in(path, sizeof path, "small.safetensors");
    CHECK(genc_st_writer_save(w, path) == GENC_OK);
    genc_st_writer_free(w);
    return slurp(path, len);
}

static void test_truncated(genc_ctx *ctx) {
    size_t len;
    unsigned char *buf = small_file(ctx, &len);
    int ok = 0, bad_msg = 0;
    for (size_t n = 0; n < len; n++) {
        genc_st *st = NULL;
        unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        memcpy(copy, buf, n);
        if (genc_st_open_memory(ctx, copy, n, "cut.st", &st) == GENC_OK) ok++;
        else if (!one_line_msg(ctx, "cut.st")) bad_msg++;
        genc_clear_error(ctx);
        genc_st_close(st);
        free(copy);
    }
    CHECK_MSG(ok == 0, "%d truncated prefixes were accepted", ok);
    CHECK(bad_msg == 0);
    genc_st *st = NULL;
    CHECK(genc_st_open_memory(ctx, buf, len, "whole.st", &st) == GENC_OK);
    genc_st_close(st);
    free(buf);
}

/* A parsed file must be self-consistent: in bounds, sized, readable. */
static int consistent(genc_ctx *ctx, const genc_st *st, uint64_t data_len) {
    for (int i = 0; i < genc_st_count(st); i++) {
        const genc_st_entry *e = genc_st_at(st, i);
        uint64_t numel = 1;
        for (int d = 0; d < e->ndim; d++) numel *= (uint64_t)e->shape[d];
        if (e->end > data_len || e->end - e->begin != numel * genc_dtype_size(e->dtype)) return 0;
        double *buf = malloc(numel * sizeof(double) + 1);
        genc_status s = genc_st_read_f64(ctx, st, e->name, buf, e->ndim, e->shape);
        free(buf);
        if (s || genc_st_find(st, e->name) != e) return 0;
    }
    return 1;
}

static void test_bitflips(genc_ctx *ctx) {
    size_t len;
    unsigned char *buf = small_file(ctx, &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    static const unsigned char masks[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff};
    int accepted = 0, bad = 0;
    for (size_t pos = 0; pos < 8 + hlen; pos++)
        for (size_t m = 0; m < sizeof masks; m++) {
            unsigned char *copy = malloc(len);
            memcpy(copy, buf, len);
            copy[pos] ^= masks[m];
            genc_st *st = NULL;
            if (genc_st_open_memory(ctx, copy, len, "flip.st", &st) == GENC_OK) {
                accepted++;
                if (!consistent(ctx, st, len - 8 - hlen)) bad++;
            } else if (!one_line_msg(ctx, "flip.st")) bad++;
            genc_clear_error(ctx);
            genc_st_close(st);
            free(copy);
        }
    CHECK_MSG(bad == 0, "%d bit-flipped files were mishandled", bad);
    CHECK(accepted > 0); /* e.g. flips inside the metadata value */
    free(buf);
}

/* Open header `json` (with `data` zero bytes after it); return the status, message in ctx. */
static genc_status open_header(genc_ctx *ctx, const char *json, size_t jlen, size_t data) {
    size_t len = 8 + jlen + data;
    unsigned char *buf = calloc(1, len);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)jlen >> (8 * i));
    memcpy(buf + 8, json, jlen);
    genc_st *st = NULL;
    genc_status s = genc_st_open_memory(ctx, buf, len, "h.st", &st);
    genc_st_close(st);
    free(buf);
    return s;
}

static void expect_reject(genc_ctx *ctx, const char *json, size_t data, const char *needle) {
    genc_status s = open_header(ctx, json, strlen(json), data);
    const char *m = genc_last_error(ctx);
    CHECK_MSG(s == GENC_EFORMAT && one_line_msg(ctx, "h.st") && strstr(m, needle),
              "header %.60s: status %d, message \"%s\", wanted \"%s\"", json, s, m, needle);
    genc_clear_error(ctx);
}

static void expect_accept(genc_ctx *ctx, const char *json, size_t data) {
    genc_status s = open_header(ctx, json, strlen(json), data);
    CHECK_MSG(s == GENC_OK, "header %.60s: %s", json, genc_last_error(ctx));
    genc_clear_error(ctx);
}

static void test_hostile_prefix(genc_ctx *ctx) {
    unsigned char buf[16] = {0};
    genc_st *st = NULL;
    memset(buf, 0xff, 8);
    CHECK(genc_st_open_memory(ctx, buf, 16, "h.st", &st) == GENC_EFORMAT && !st);
    CHECK(strstr(genc_last_error(ctx), "exceeds the limit") != NULL);
    genc_clear_error(ctx);
    memset(buf, 0, 8);
    buf[3] = 0x10; /* 256 MiB */
    CHECK(genc_st_open_memory(ctx, buf, 16, "h.st", &st) == GENC_EFORMAT);
    genc_clear_error(ctx);
    buf[3] = 0;
    buf[0] = 9; /* 9 > 8 bytes left */
    CHECK(genc_st_open_memory(ctx, buf, 16, "h.st", &st) == GENC_EFORMAT);
    CHECK(strstr(genc_last_error(ctx), "truncated") != NULL);
    genc_clear_error(ctx);
    CHECK(genc_st_open_memory(ctx, buf, 5, "h.st", &st) == GENC_EFORMAT);
    CHECK(genc_st_open_memory(ctx, NULL, 0, "h.st", &st) != GENC_OK);
    genc_clear_error(ctx);
    CHECK(open_header(ctx, "{\"a\":{}}\0 ", 10, 0) == GENC_EFORMAT); /* NUL in header */
    genc_clear_error(ctx);
    CHECK(open_header(ctx, "", 0, 0) == GENC_EFORMAT);
    genc_clear_error(ctx);
}

static void test_hostile_shapes(genc_ctx *ctx) {
    expect_reject(ctx, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16,
                  "h.st: tensor \"w\": data_offsets [0, 12] give 12 bytes but F32 [2, 2] needs 16");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0,
                  "shape[0] must be a non-negative integer");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,"
                  "4611686018427387904],\"data_offsets\":[0,0]}}", 0, "overflows");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],"
                  "\"data_offsets\":[0,0]}}", 0, "overflows");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                  "\"data_offsets\":[0,1]}}", 1, "9 dims");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1,
                  "non-negative integer");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"U8\",\"shape\":\"1\",\"data_offsets\":[0,1]}}", 1,
                  "must be an array");
    expect_reject(ctx, "{\"w\":{\"dtype\":\"U8\",\"shape\":[99999999999999999999],"
                  "\"data_offsets\":[0,1]}}", 1, "not valid UTF-8 JSON");
    expect_accept(ctx, "{\"w\":{\"dtype\":\"U8\",\"shape\":[0,4611686018427387904],"
                  "\"data_offsets\":[0,0]}}", 0);
    expect_accept(ctx, "{\"w\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}", 8);
}

static void test_hostile_offsets(genc_ctx *ctx) {
    expect_reject(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24,
                  "overlap");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,0]}}", 8,
                  "reversed");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,9]}}", 8,
                  "reach past");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 8,
                  "two non-negative integers");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 8,
                  "[begin, end]");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{}}}", 8,
                  "[begin, end]");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,"
                  "18446744073709551615]}}", 8, "JSON");
    /* gaps and trailing bytes are tolerated; empty tensors may sit anywhere */
    expect_accept(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]},"
                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 16);
}

static void test_hostile_keys(genc_ctx *ctx) {
    const char *u8 = "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]";
    char j[512];
    expect_reject(ctx, "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                  "unsupported dtype \"Q7\"");
    expect_reject(ctx, "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                  "\"dtype\" must be a string");
    expect_reject(ctx, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "missing \"data_offsets\"");
    snprintf(j, sizeof j, "{\"a\":{%s,\"extra\":1}}", u8);
    expect_reject(ctx, j, 1, "unknown key \"extra\"");
    snprintf(j, sizeof j, "{\"a\":{%s},\"a\":{%s}}", u8, u8);
    expect_reject(ctx, j, 1, "duplicate");
    snprintf(j, sizeof j, "{\"a\":{%s,\"dtype\":\"U8\"}}", u8);
    expect_reject(ctx, j, 1, "duplicate");
    snprintf(j, sizeof j, "{\"__metadata__\":{\"k\":1},\"a\":{%s}}", u8);
    expect_reject(ctx, j, 1, "metadata \"k\" must be a string");
    expect_reject(ctx, "{\"__metadata__\":[\"k\"]}", 0, "must be an object of strings");
    expect_reject(ctx, "{\"__metadata__\":{\"k\":null}}", 0, "must be a string");
    expect_reject(ctx, "{\"a\":[1]}", 1, "entry must be an object");
    expect_reject(ctx, "[]", 0, "header must be a JSON object");
    expect_reject(ctx, "\"x\"", 0, "JSON");
    expect_reject(ctx, "hello", 0, "JSON");
    expect_reject(ctx, "{} x", 0, "JSON");
    expect_reject(ctx, "{\"a\xff\":{}}", 0, "JSON");
    expect_reject(ctx, "{\"a\\u0000b\":{}}", 0, "JSON");
    expect_reject(ctx, "{\"a\nb\":{}}", 0, "JSON");
    snprintf(j, sizeof j, "{\"very\\nlong\\u0001name%0100d\":{\"dtype\":\"X\"}}", 0);
    expect_reject(ctx, j, 0, "very?long?name000"); /* shown printable and cut */
    expect_accept(ctx, "{}", 0);
    expect_accept(ctx, "{\"__metadata__\":{}}       ", 0);
    expect_accept(ctx, "{\"__metadata__\":{\"k\":\"v\",\"\\u00e9\":\"\\u2603\"}}", 0);
}

static void test_hostile_deep(genc_ctx *ctx) {
    size_t n = 100000;
    char *j = malloc(2 * n + 1);
    memset(j, '[', n);
    memset(j + n, ']', n);
    j[2 * n] = 0;
    expect_reject(ctx, j, 0, "JSON");
    for (size_t i = 0; i < n; i++) j[i] = (i % 2) ? ':' : '{';
    expect_reject(ctx, j, 0, "JSON");
    free(j);
}

/* ---- atomic save ---- */

static int tmp_leftovers(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static genc_st_writer *one_tensor(genc_ctx *ctx, float v, int64_t n) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = v;
    genc_st_writer_add_f32(w, "x", GENC_DT_F32, 1, &n, x);
    free(x);
    return w;
}

static float first_value(genc_ctx *ctx, const char *path) {
    genc_st *st = NULL;
    float v = NAN;
    if (genc_st_open(ctx, path, &st) == GENC_OK) memcpy(&v, genc_st_data(st, genc_st_at(st, 0)), 4);
    genc_st_close(st);
    return v;
}

static void test_atomic_basic(genc_ctx *ctx) {
    char path[128], dirpath[128];
    path_in(path, sizeof path, "ckpt.safetensors");
    genc_st_writer *w1 = one_tensor(ctx, 1, 4), *w2 = one_tensor(ctx, 2, 4);
    CHECK(genc_st_writer_save(w1, path) == GENC_OK && first_value(ctx, path) == 1);
    CHECK(genc_st_writer_save(w2, path) == GENC_OK && first_value(ctx, path) == 2);
    CHECK(genc_st_writer_save(w1, path) == GENC_OK && first_value(ctx, path) == 1);
    CHECK(tmp_leftovers(tmpdir) == 0);
    path_in(dirpath, sizeof dirpath, "adir");
    mkdir(dirpath, 0755);
    CHECK(genc_st_writer_save(w2, dirpath) == GENC_EIO);
    CHECK(one_line_msg(ctx, dirpath));
    genc_clear_error(ctx);
    struct stat sb;
    CHECK(stat(dirpath, &sb) == 0 && S_ISDIR(sb.st_mode) && tmp_leftovers(tmpdir) == 0);
    genc_st *st = NULL;
    CHECK(genc_st_open(ctx, dirpath, &st) == GENC_EIO && strstr(genc_last_error(ctx), "directory"));
    genc_clear_error(ctx);
    rmdir(dirpath);
    path_in(dirpath, sizeof dirpath, "no/such/dir.st");
    CHECK(genc_st_writer_save(w2, dirpath) == GENC_EIO);
    CHECK(genc_st_open(ctx, dirpath, &st) == GENC_EIO);
    genc_clear_error(ctx);
    genc_st_writer_free(w1);
    genc_st_writer_free(w2);
}

/* Writing fails midway (file size limit): the old file must survive, no temp left. */
static void test_atomic_write_failure(genc_ctx *ctx) {
    char path[128];
    path_in(path, sizeof path, "ckpt.safetensors");
    genc_st_writer *big = one_tensor(ctx, 3, 100000);
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        CHECK(genc_st_writer_save(big, path) == GENC_EIO);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(strstr(genc_last_error(ctx), "writing temporary file") != NULL);
        genc_clear_error(ctx);
        CHECK(first_value(ctx, path) == 1 && tmp_leftovers(tmpdir) == 0);
    }
    signal(SIGXFSZ, prev);
    genc_st_writer_free(big);
}

/* An unwritable directory (skipped as root, who may write anyway). */
static void test_atomic_readonly_dir(genc_ctx *ctx) {
    char dir[128], path[160];
    path_in(dir, sizeof dir, "ro");
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/c.st", dir);
    genc_st_writer *w1 = one_tensor(ctx, 1, 4), *w2 = one_tensor(ctx, 2, 4);
    CHECK(genc_st_writer_save(w1, path) == GENC_OK);
    chmod(dir, 0555);
    if (access(dir, W_OK) != 0) {
        CHECK(genc_st_writer_save(w2, path) == GENC_EIO && one_line_msg(ctx, path));
        genc_clear_error(ctx);
        CHECK(first_value(ctx, path) == 1 && tmp_leftovers(dir) == 0);
    } else {
        printf("note: running as a user who can write a 0555 directory; read-only case skipped\n");
    }
    chmod(dir, 0755);
    unlink(path);
    rmdir(dir);
    genc_st_writer_free(w1);
    genc_st_writer_free(w2);
}

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[512];
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(tmpdir);
}

int main(void) {
    strcpy(tmpdir, "/tmp/genc_st_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    genc_ctx *ctx = genc_ctx_new();
    test_dtype_names();
    test_bf16();
    test_f16_table();
    test_f16_vs_compiler();
    test_f8();
    test_roundtrip(ctx);
    test_read_errors(ctx);
    test_writer_rejects(ctx);
    test_truncated(ctx);
    test_bitflips(ctx);
    test_hostile_prefix(ctx);
    test_hostile_shapes(ctx);
    test_hostile_offsets(ctx);
    test_hostile_keys(ctx);
    test_hostile_deep(ctx);
    test_atomic_basic(ctx);
    test_atomic_write_failure(ctx);
    test_atomic_readonly_dir(ctx);
    genc_ctx_free(ctx);
    remove_tmpdir();
    return test_report("test_safetensors");
}
