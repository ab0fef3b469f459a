/* Unit tests for genc's GGUF writer and reader: every key type and tensor type written and
 * read back (values exact; F16 and Q8_0 within their rounding), the byte layout llama.cpp
 * expects (magic, version, alignment), and malformed files: every truncation, bit flips,
 * bad magic/version/types/dims/offsets, each refused with one line naming the file. */
#include "genc/gguf.h"
#include "genc/safetensors.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[64];

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

static bool one_line(const char *msg, const char *label) {
    return msg[0] && !strchr(msg, '\n') && strstr(msg, label) != NULL;
}

#define N_F 96 /* 3 Q8_0 blocks per row */
static float vals[2 * N_F];

/* A file with every kv type and three tensors; returns its path in a static buffer. */
static const char *write_sample(genc_ctx *ctx) {
    static char path[128];
    snprintf(path, sizeof path, "%s/sample.gguf", tmpdir);
    genc_gguf_writer *w = genc_gguf_writer_new(ctx);
    const char *strs[] = {"a", "", "h\xc3\xa9llo wor ld"};
    int32_t ints[] = {-5, 0, 70000};
    float fl[] = {0.5f, -1e-6f};
    for (int i = 0; i < 2 * N_F; i++) vals[i] = (float)sin(0.37 * i) * (i % 7 == 0 ? 3.0f : 0.5f);
    CHECK(!genc_gguf_set_str(w, "general.architecture", "deepseek2"));
    CHECK(!genc_gguf_set_u32(w, "x.u32", 4000000000u));
    CHECK(!genc_gguf_set_i32(w, "x.i32", -7));
    CHECK(!genc_gguf_set_f32(w, "x.f32", 1e-6f));
    CHECK(!genc_gguf_set_bool(w, "x.bool", true));
    CHECK(!genc_gguf_set_arr_str(w, "x.strs", strs, NULL, 3));
    CHECK(!genc_gguf_set_arr_i32(w, "x.ints", ints, 3));
    CHECK(!genc_gguf_set_arr_f32(w, "x.floats", fl, 2));
    CHECK(genc_gguf_set_u32(w, "x.u32", 1) == GENC_EINVAL); /* a key twice */
    genc_clear_error(ctx);
    CHECK(!genc_gguf_add_tensor(w, "t.f32", GENC_GGML_F32, 2, (int64_t[]){N_F, 2}, vals));
    CHECK(!genc_gguf_add_tensor(w, "t.f16", GENC_GGML_F16, 1, (int64_t[]){7}, vals));
    CHECK(!genc_gguf_add_tensor(w, "t.q8", GENC_GGML_Q8_0, 3, (int64_t[]){N_F, 1, 2}, vals));
    CHECK(genc_gguf_add_tensor(w, "t.bad", GENC_GGML_Q8_0, 1, (int64_t[]){31}, vals) == GENC_EINVAL);
    genc_clear_error(ctx);
    CHECK(!genc_gguf_writer_save(w, path));
    genc_gguf_writer_free(w);
    return path;
}

static void test_roundtrip(genc_ctx *ctx) {
    const char *path = write_sample(ctx);
    genc_gguf *g;
    CHECK_MSG(!genc_gguf_open(ctx, path, &g), "%s", genc_last_error(ctx));
    if (!g) return;
    CHECK(genc_gguf_version(g) == 3 && genc_gguf_kv_count(g) == 8 && genc_gguf_tensor_count(g) == 3);
    CHECK(genc_gguf_data_offset(g) % 32 == 0);
    size_t len;
    const char *s = genc_gguf_get_str(g, "general.architecture", &len);
    CHECK(s && len == 9 && !memcmp(s, "deepseek2", 9));
    int64_t iv;
    float fv;
    bool bv;
    CHECK(genc_gguf_get_int(g, "x.u32", &iv) && iv == 4000000000LL);
    CHECK(genc_gguf_get_int(g, "x.i32", &iv) && iv == -7);
    CHECK(genc_gguf_get_f32(g, "x.f32", &fv) && fv == 1e-6f);
    CHECK(genc_gguf_get_bool(g, "x.bool", &bv) && bv);
    CHECK(!genc_gguf_get_int(g, "x.f32", &iv) && !genc_gguf_get_int(g, "nope", &iv));
    const genc_gguf_kv *k = genc_gguf_find_kv(g, "x.strs");
    CHECK(k && k->type == GENC_GGUF_ARRAY && k->arr_type == GENC_GGUF_STRING && k->n == 3);
    s = genc_gguf_arr_str(g, k, 2, &len);
    CHECK(s && len == 13 && !memcmp(s, "h\xc3\xa9llo wor ld", 13));
    CHECK(genc_gguf_arr_str(g, k, 1, &len) && len == 0 && !genc_gguf_arr_str(g, k, 3, &len));
    double d;
    k = genc_gguf_find_kv(g, "x.ints");
    CHECK(k && genc_gguf_arr_num(g, k, 2, &d) && d == 70000 && genc_gguf_arr_num(g, k, 0, &d) && d == -5);
    k = genc_gguf_find_kv(g, "x.floats");
    CHECK(k && genc_gguf_arr_num(g, k, 1, &d) && (float)d == -1e-6f);
    float back[2 * N_F];
    const genc_gguf_tensor *t = genc_gguf_find_tensor(g, "t.f32");
    CHECK(t && t->type == GENC_GGML_F32 && t->ndim == 2 && t->ne[0] == N_F && t->ne[1] == 2 && t->offset % 32 == 0);
    if (t) genc_gguf_tensor_read_f32(g, t, back);
    CHECK(t && !memcmp(back, vals, sizeof back));
    t = genc_gguf_find_tensor(g, "t.f16");
    if (t) genc_gguf_tensor_read_f32(g, t, back);
    bool ok = t && t->nbytes == 14;
    for (int i = 0; ok && i < 7; i++) ok = back[i] == genc_f32_from_f16(genc_f16_from_f32(vals[i]));
    CHECK(ok);
    t = genc_gguf_find_tensor(g, "t.q8");
    CHECK(t && t->ndim == 3 && t->ne[2] == 2 && t->nbytes == 2 * 3 * 34 && t->offset % 32 == 0);
    if (t) genc_gguf_tensor_read_f32(g, t, back);
    double worst = 0;
    for (int b = 0; t && b < 2 * N_F / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fabsf(vals[32 * b + j]) > amax ? fabsf(vals[32 * b + j]) : amax;
        for (int j = 0; j < 32; j++) {
            double e = fabs(back[32 * b + j] - vals[32 * b + j]) / (amax / 127.0);
            worst = e > worst ? e : worst;
        }
    }
    CHECK_MSG(t && worst <= 0.5 + 127.0 / 2048, "q8_0 error %.4f steps", worst); /* half a step + 127 x the F16 scale error */
    genc_gguf_close(g);
}

/* Every failure: a status, and one line naming the label. */
static int refuse(genc_ctx *ctx, const unsigned char *b, size_t n, const char *why) {
    genc_gguf *g;
    genc_status s = genc_gguf_open_memory(ctx, b, n, "mem.gguf", &g);
    bool good = s != GENC_OK && g == NULL && one_line(genc_last_error(ctx), "mem.gguf");
    if (!good) fprintf(stderr, "  %s: status %d, message \"%s\"\n", why, (int)s, genc_last_error(ctx));
    genc_gguf_close(g);
    genc_clear_error(ctx);
    return good;
}

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_malformed(genc_ctx *ctx) {
    size_t n = 0;
    unsigned char *b = slurp(write_sample(ctx), &n), *c = malloc(n);
    /* every truncation inside the header and tensor infos, and into the data */
    uint64_t data_off;
    genc_gguf *g;
    CHECK(!genc_gguf_open_memory(ctx, b, n, "mem.gguf", &g));
    data_off = genc_gguf_data_offset(g);
    uint64_t end = 0; /* the last tensor's last byte: its padding may be cut */
    for (int i = 0; i < genc_gguf_tensor_count(g); i++) {
        const genc_gguf_tensor *t = genc_gguf_tensor_at(g, i);
        end = t->offset + t->nbytes > end ? t->offset + t->nbytes : end;
    }
    genc_gguf_close(g);
    int bad = 0;
    for (size_t len = 0; len < data_off + end; len++) bad += !refuse(ctx, b, len, "truncated");
    CHECK_MSG(bad == 0, "%d truncations accepted or badly reported", bad);
    memcpy(c, b, n), c[0] = 'X';
    CHECK(refuse(ctx, c, n, "magic"));
    memcpy(c, b, n), c[4] = 4;
    CHECK(refuse(ctx, c, n, "version"));
    memcpy(c, b, n), put64(c + 16, (uint64_t)1 << 60);
    CHECK(refuse(ctx, c, n, "kv count"));
    memcpy(c, b, n), put64(c + 8, (uint64_t)1 << 60);
    CHECK(refuse(ctx, c, n, "tensor count"));
    /* the first key's value type (after the u64 length and 20 bytes of key) */
    memcpy(c, b, n), c[24 + 8 + 20] = 99;
    CHECK(refuse(ctx, c, n, "value type"));
    /* random bit flips in the header: accepted or refused cleanly, never a crash */
    unsigned rng = 12345;
    for (int k = 0; k < 2000; k++) {
        memcpy(c, b, n);
        rng = rng * 1103515245u + 12345u;
        size_t at = (rng >> 8) % data_off;
        c[at] ^= (unsigned char)(1u << ((rng >> 4) % 8));
        genc_status s = genc_gguf_open_memory(ctx, c, n, "mem.gguf", &g);
        if (s) CHECK(one_line(genc_last_error(ctx), "mem.gguf"));
        genc_gguf_close(g);
        genc_clear_error(ctx);
    }
    free(b), free(c);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/genc_gguf_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    genc_ctx *ctx = genc_ctx_new();
    test_roundtrip(ctx);
    test_malformed(ctx);
    genc_ctx_free(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) return 1;
    return test_report("test_gguf");
}
