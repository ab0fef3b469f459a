/* st_roundtrip: helper for tests/reference/test_safetensors_reader.py, which checks genc's
 * safetensors code against an independent Python reader/writer.
 *   st_roundtrip write PATH   write the sample file the script decodes and checks
 *   st_roundtrip check PATH   read the file the script wrote; exit 1 on any mismatch
 *   st_roundtrip open PATH    open and list entries; exit 2 with the error on stderr
 * The values on both sides come from the same simple formulas, fixed here and there. */
#include "genc/core.h"
#include "genc/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "check: " __VA_ARGS__); \
    fputc('\n', stderr); } } while (0)

/* Inputs shared with the Python script. */
static float val_a(int i) { return (float)((i * 37) % 101 - 50) / 16.0f; }
static float val_b(int i) { return (float)((i * 53) % 97 - 48) * 0.3f; }

static const float f8_inputs[16] = {0.0f, 1.0f, -1.5f, 17.0f, 19.0f, 1000.0f, -500.0f, 448.0f,
                                    464.0f, 0.0009765625f, 0.0029296875f, 0.3f, -0.01f, 240.0f,
                                    0.015625f, -3.3f};

static int cmd_write(genc_ctx *ctx, const char *path) {
    float a[12], b[10], bt[4] = {1.00390625f, 1.01171875f, -1.00390625f, 3.40282347e38f};
    for (int i = 0; i < 12; i++) a[i] = val_a(i);
    for (int i = 0; i < 10; i++) b[i] = val_b(i);
    int64_t l[4] = {-1, (int64_t)1 << 40, INT64_MIN, 7};
    int64_t s34[2] = {3, 4}, s25[2] = {2, 5}, s16[1] = {16}, s22[2] = {2, 2}, s4[1] = {4};
    genc_st_writer *w = genc_st_writer_new(ctx);
    if (!w) return 1;
    genc_st_writer_add_f32(w, "model.a", GENC_DT_F32, 2, s34, a);
    genc_st_writer_add_f32(w, "model.b", GENC_DT_BF16, 2, s25, b);
    genc_st_writer_add_f32(w, "model.b_ties", GENC_DT_BF16, 1, s4, bt);
    genc_st_writer_add_f32(w, "model.h", GENC_DT_F16, 2, s25, b);
    genc_st_writer_add_f32(w, "model.f8", GENC_DT_F8_E4M3, 1, s16, f8_inputs);
    genc_st_writer_add(w, "step.i64", GENC_DT_I64, 2, s22, l);
    genc_st_writer_meta(w, "format", "pt");
    genc_st_writer_meta(w, "config", "{\"hidden_size\": 8}");
    genc_st_writer_meta(w, "note", "h\xc3\xa9llo \xe2\x98\x83");
    genc_status s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s != GENC_OK;
}

static void check_floats(genc_ctx *ctx, const genc_st *st, const char *name, int ndim,
                         const int64_t *shape, const float *want, int n) {
    float got[16];
    genc_status s = genc_st_read_f32(ctx, st, name, got, ndim, shape);
    EXPECT(s == GENC_OK, "%s: %s", name, genc_last_error(ctx));
    genc_clear_error(ctx);
    for (int i = 0; s == GENC_OK && i < n; i++)
        EXPECT(got[i] == want[i] || (isnan(got[i]) && isnan(want[i])), "%s[%d] = %.9g, want %.9g",
               name, i, got[i], want[i]);
}

static void check_python_floats(genc_ctx *ctx, const genc_st *st) {
    float a[12];
    for (int i = 0; i < 12; i++) a[i] = val_a(i);
    static const float h[5] = {1.0f, -2.5f, 65504.0f, 5.9604644775390625e-08f, 0.0999755859375f};
    static const float b[6] = {1.0f, -2.0f, 0.5f, 3.140625f, -0.0078125f, 256.0f};
    static const float f8[4] = {1.0f, -448.0f, 0.001953125f, NAN};
    int64_t s34[2] = {3, 4}, s5[1] = {5}, s23[2] = {2, 3}, s4[1] = {4};
    check_floats(ctx, st, "a", 2, s34, a, 12);
    check_floats(ctx, st, "h", 1, s5, h, 5);
    check_floats(ctx, st, "b", 2, s23, b, 6);
    check_floats(ctx, st, "f8", 1, s4, f8, 4);
    double d[4], sc;
    int64_t s22[2] = {2, 2};
    EXPECT(genc_st_read_f64(ctx, st, "d", d, 2, s22) == GENC_OK, "d: %s", genc_last_error(ctx));
    EXPECT(d[0] == 0.1 && d[1] == -1e300 && d[2] == 2.5 && d[3] == 0, "d values");
    EXPECT(genc_st_read_f64(ctx, st, "s", &sc, 0, NULL) == GENC_OK && sc == 3.5, "s scalar");
    int64_t s02[2] = {0, 2};
    EXPECT(genc_st_read_f32(ctx, st, "e", NULL, 2, s02) == GENC_OK, "e empty");
}

static void check_python_ints(genc_ctx *ctx, const genc_st *st) {
    int64_t v[4], s3[1] = {3}, s4[1] = {4}, s2[1] = {2};
    EXPECT(genc_st_read_i64(ctx, st, "i", v, 1, s3) == GENC_OK, "i: %s", genc_last_error(ctx));
    EXPECT(v[0] == -5 && v[1] == 0 && v[2] == 2147483647, "i values");
    EXPECT(genc_st_read_i64(ctx, st, "u", v, 1, s4) == GENC_OK, "u: %s", genc_last_error(ctx));
    EXPECT(v[0] == 0 && v[1] == 1 && v[2] == 127 && v[3] == 255, "u values");
    EXPECT(genc_st_read_i64(ctx, st, "l", v, 1, s2) == GENC_OK, "l: %s", genc_last_error(ctx));
    EXPECT(v[0] == -9007199254740993LL && v[1] == 5, "l values");
    EXPECT(genc_st_meta(st, "format") && !strcmp(genc_st_meta(st, "format"), "pt"), "meta format");
    EXPECT(genc_st_meta(st, "note") && !strcmp(genc_st_meta(st, "note"), "\xe2\x98\x83 snow"),
           "meta note");
    EXPECT(genc_st_count(st) == 10, "count %d", genc_st_count(st));
}

static int cmd_check(genc_ctx *ctx, const char *path) {
    genc_st *st = NULL;
    if (genc_st_open(ctx, path, &st) != GENC_OK) {
        fprintf(stderr, "%s\n", genc_last_error(ctx));
        return 1;
    }
    check_python_floats(ctx, st);
    check_python_ints(ctx, st);
    genc_st_close(st);
    if (!failures) printf("ok\n");
    return failures != 0;
}

static int cmd_open(genc_ctx *ctx, const char *path) {
    genc_st *st = NULL;
    if (genc_st_open(ctx, path, &st) != GENC_OK) {
        fprintf(stderr, "%s\n", genc_last_error(ctx));
        return 2;
    }
    for (int i = 0; i < genc_st_count(st); i++) {
        const genc_st_entry *e = genc_st_at(st, i);
        printf("%s %s %d %llu %llu\n", e->name, genc_dtype_name(e->dtype), e->ndim,
               (unsigned long long)e->begin, (unsigned long long)e->end);
    }
    genc_st_close(st);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: st_roundtrip write|check|open PATH\n");
        return 64;
    }
    genc_ctx *ctx = genc_ctx_new();
    int rc = 64;
    if (!strcmp(argv[1], "write")) rc = cmd_write(ctx, argv[2]);
    else if (!strcmp(argv[1], "check")) rc = cmd_check(ctx, argv[2]);
    else if (!strcmp(argv[1], "open")) rc = cmd_open(ctx, argv[2]);
    if (rc == 1 && genc_ctx_status(ctx)) fprintf(stderr, "%s\n", genc_last_error(ctx));
    genc_ctx_free(ctx);
    return rc;
}
