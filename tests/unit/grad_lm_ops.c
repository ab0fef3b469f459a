/* Gradient and value checks (double precision) for the language-model ops: rope, fused
 * attention (causal and not, T == S and S > T, key_start padding with a fully masked row,
 * H = 1 and 3, dk != dv, several query blocks), swiglu, take_along with repeated indices and
 * expand on the first, a middle and the last axis; then their error paths. Forward values
 * are compared with naive loops written here. Nonlinear ops use rtol 1e-6 / atol 1e-8 (the
 * central-difference error at h = 1e-6 is ~1e-10); linear ones (take_along, expand, rope)
 * 1e-7 / 1e-9. */
#include "gradcheck.h"

static int64_t idx4_off(const genc_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    return a * t->stride[0] + b * t->stride[1] + c * t->stride[2] + d * t->stride[3];
}
static double at4(const genc_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    return t->data[idx4_off(t, a, b, c, d)];
}

/* ---- rope ---- */

typedef struct {
    const int32_t *pos;
    double theta;
    bool view; /* in[0] is stored [B, H, T, d] and transposed to [B, T, H, d] first */
} rope_arg;

static genc_tensor *f_rope(genc_ctx *c, genc_tensor **in, void *u) {
    rope_arg *a = u;
    return genc_rope(c, a->view ? genc_transpose(c, in[0], 1, 2) : in[0], a->pos, a->theta);
}

/* max |y - naive rope(x)|, and checks that pair norms are kept and pos 0 is the identity. */
static double rope_naive_err(const genc_tensor *x, const genc_tensor *y, const int32_t *pos, double theta) {
    double err = 0;
    int64_t B = x->shape[0], T = x->shape[1], H = x->shape[2], d = x->shape[3];
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = 0; i < d / 2; i++) {
                    double ang = pos[t] * pow(theta, -2.0 * (double)i / (double)d);
                    double x0 = at4(x, b, t, h, 2 * i), x1 = at4(x, b, t, h, 2 * i + 1);
                    double y0 = at4(y, b, t, h, 2 * i), y1 = at4(y, b, t, h, 2 * i + 1);
                    err = fmax(err, fabs(y0 - (x0 * cos(ang) - x1 * sin(ang))));
                    err = fmax(err, fabs(y1 - (x0 * sin(ang) + x1 * cos(ang))));
                    err = fmax(err, fabs(hypot(x0, x1) - hypot(y0, y1)));
                    if (pos[t] == 0) err = fmax(err, fabs(x0 - y0) + fabs(x1 - y1));
                }
    return err;
}

static void check_rope(genc_ctx *ctx) {
    int32_t pos[5] = {0, 1, 2, 7, 100};
    rope_arg a = {pos, 10000, false};
    int64_t s[4] = {2, 5, 3, 6};
    genc_tensor *x = gc_input(ctx, 4, s, 21);
    genc_step_reset(ctx);
    genc_tensor *y = genc_rope(ctx, x, pos, 10000);
    CHECK(y && rope_naive_err(x, y, pos, 10000) < 1e-12);
    gradcheck(ctx, "rope", f_rope, &x, 1, &a, 1e-7, 1e-9);
    genc_tensor_free(x);
    int64_t sv[4] = {2, 3, 5, 6}; /* a transposed (non-contiguous) input */
    genc_tensor *xv = gc_input(ctx, 4, sv, 22);
    a.view = true;
    genc_step_reset(ctx);
    genc_tensor *v = genc_transpose(ctx, xv, 1, 2);
    y = genc_rope(ctx, v, pos, 500);
    CHECK(y && rope_naive_err(v, y, pos, 500) < 1e-12);
    gradcheck(ctx, "rope of a transposed view", f_rope, &xv, 1, &a, 1e-7, 1e-9);
    genc_tensor_free(xv);
}

/* genc_rope_freqs: y = mag R(pos freq) x with arbitrary frequencies (YaRN's) and magnitude. */
typedef struct {
    const int32_t *pos;
    const double *freq;
    double mag;
} rope_freq_arg;

static genc_tensor *f_rope_freqs(genc_ctx *c, genc_tensor **in, void *u) {
    rope_freq_arg *a = u;
    return genc_rope_freqs(c, in[0], a->pos, a->freq, a->mag);
}

static void check_rope_freqs(genc_ctx *ctx) {
    int32_t pos[4] = {0, 3, 17, 250};
    double freq[3] = {1.0, 0.031, 2.5e-4};
    rope_freq_arg a = {pos, freq, 1.37};
    int64_t s[4] = {2, 4, 3, 6};
    genc_tensor *x = gc_input(ctx, 4, s, 23);
    genc_step_reset(ctx);
    genc_tensor *y = genc_rope_freqs(ctx, x, pos, freq, a.mag);
    double err = y ? 0 : 1;
    for (int64_t b = 0; y && b < 2; b++)
        for (int64_t t = 0; t < 4; t++)
            for (int64_t h = 0; h < 3; h++)
                for (int64_t i = 0; i < 3; i++) {
                    double ang = pos[t] * freq[i], x0 = at4(x, b, t, h, 2 * i), x1 = at4(x, b, t, h, 2 * i + 1);
                    err = fmax(err, fabs(at4(y, b, t, h, 2 * i) - a.mag * (x0 * cos(ang) - x1 * sin(ang))));
                    err = fmax(err, fabs(at4(y, b, t, h, 2 * i + 1) - a.mag * (x0 * sin(ang) + x1 * cos(ang))));
                }
    CHECK_MSG(err < 1e-12, "rope_freqs vs the rotation written out: %g", err);
    gradcheck(ctx, "rope with frequencies and magnitude", f_rope_freqs, &x, 1, &a, 1e-7, 1e-9);
    genc_tensor_free(x);
}

/* ---- attention ---- */

typedef struct {
    const char *name;
    int64_t B, T, S, H, dk, dv;
    bool causal;
    const int32_t *ks;
    bool grad_v_only;
} attn_case;

static genc_tensor *f_attn(genc_ctx *c, genc_tensor **in, void *u) {
    attn_case *a = u;
    return genc_attention(c, in[0], in[1], in[2], 1 / sqrt((double)a->dk), a->causal, a->ks);
}

/* max |y - naive attention|: visible keys of (b, t) are key_start[b] <= s (and, causal,
 * s <= t + S - T); a row with none gives 0. */
static double attn_naive_err(const attn_case *a, genc_tensor *const *in, const genc_tensor *y) {
    double err = 0, sc[512], scale = 1 / sqrt((double)a->dk);
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->H; h++)
            for (int64_t t = 0; t < a->T; t++) {
                int64_t lo = a->ks ? a->ks[b] : 0, hi = a->causal ? t + a->S - a->T + 1 : a->S;
                double m = -INFINITY, sum = 0;
                for (int64_t s = lo; s < hi; s++) {
                    sc[s] = 0;
                    for (int64_t j = 0; j < a->dk; j++) sc[s] += at4(in[0], b, t, h, j) * at4(in[1], b, s, h, j);
                    sc[s] *= scale, m = fmax(m, sc[s]);
                }
                for (int64_t s = lo; s < hi; s++) sum += exp(sc[s] - m);
                for (int64_t j = 0; j < a->dv; j++) {
                    double o = 0;
                    for (int64_t s = lo; s < hi; s++) o += exp(sc[s] - m) / sum * at4(in[2], b, s, h, j);
                    err = fmax(err, fabs(o - at4(y, b, t, h, j)));
                }
            }
    return err;
}

static void check_attn_case(genc_ctx *ctx, attn_case *a, uint64_t seed) {
    int64_t sq[4] = {a->B, a->T, a->H, a->dk}, sk[4] = {a->B, a->S, a->H, a->dk}, sv[4] = {a->B, a->S, a->H, a->dv};
    genc_tensor *in[3] = {gc_input(ctx, 4, sq, seed), gc_input(ctx, 4, sk, seed + 1), gc_input(ctx, 4, sv, seed + 2)};
    if (a->grad_v_only) in[0]->requires_grad = in[1]->requires_grad = false;
    genc_step_reset(ctx);
    genc_tensor *y = f_attn(ctx, in, a);
    CHECK_MSG(y && attn_naive_err(a, in, y) < 1e-12, "%s: forward differs from the naive loop", a->name);
    bool old = genc_set_grad_enabled(ctx, false); /* the no-grad path uses per-thread scratch */
    genc_tensor *y2 = f_attn(ctx, in, a);
    genc_set_grad_enabled(ctx, old);
    CHECK_MSG(y2 && attn_naive_err(a, in, y2) < 1e-12, "%s: no-grad forward differs", a->name);
    gradcheck(ctx, a->name, f_attn, in, 3, a, 1e-6, 1e-8);
    for (int i = 0; i < 3; i++) genc_tensor_free(in[i]);
}

static void check_attention(genc_ctx *ctx) {
    int32_t ks_pad[2] = {2, 0}, ks_full[2] = {1, 7}, ks_causal[2] = {3, 6}, ks_long[1] = {5};
    attn_case cases[] = {
        {"attention causal T == S", 2, 5, 5, 3, 6, 5, true, NULL, false},
        {"attention non-causal T == S, H = 1", 2, 5, 5, 1, 6, 5, false, NULL, false},
        {"attention causal S > T (prefix)", 2, 5, 7, 3, 6, 5, true, NULL, false},
        {"attention non-causal S > T", 2, 5, 7, 3, 4, 6, false, NULL, false},
        {"attention causal key_start", 2, 5, 5, 3, 6, 5, true, ks_pad, false},
        {"attention non-causal key_start, one row fully masked", 2, 5, 7, 3, 6, 5, false, ks_full, false},
        {"attention causal S > T key_start, masked rows", 2, 5, 7, 1, 6, 5, true, ks_causal, false},
        {"attention causal S < T, early rows see nothing", 1, 6, 4, 2, 3, 2, true, NULL, false},
        {"attention grad of v only", 2, 5, 7, 3, 6, 5, true, ks_pad, true},
        {"attention causal, 3 query blocks", 1, 150, 150, 1, 3, 2, true, ks_long, false},
        {"attention causal S > T, 2 query blocks", 1, 70, 90, 1, 2, 3, true, NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_attn_case(ctx, &cases[i], 100 + 10 * i);
}

/* ---- swiglu, take_along, expand ---- */

static genc_tensor *f_swiglu(genc_ctx *c, genc_tensor **in, void *u) { return genc_swiglu(c, in[0], in[1]); }
/* the fused projection on a view of x (transposed), so its contiguous copy is in the graph */
static genc_tensor *f_swiglu_linear(genc_ctx *c, genc_tensor **in, void *u) {
    return genc_swiglu_linear(c, genc_transpose(c, in[0], 0, 1), in[1], in[2]);
}

typedef struct {
    const int32_t *idx;
    int64_t K;
} take_arg;
static genc_tensor *f_take(genc_ctx *c, genc_tensor **in, void *u) {
    take_arg *a = u;
    return genc_take_along(c, in[0], a->idx, a->K);
}

typedef struct {
    int axis;
    int64_t n;
} expand_arg;
static genc_tensor *f_expand(genc_ctx *c, genc_tensor **in, void *u) {
    expand_arg *a = u;
    return genc_expand(c, in[0], a->axis, a->n);
}

static void check_swiglu(genc_ctx *ctx) {
    int64_t s[3] = {2, 3, 7};
    genc_tensor *in[2] = {gc_input(ctx, 3, s, 31), gc_input(ctx, 3, s, 32)};
    in[0]->data[0] = 30, in[0]->data[1] = -30; /* saturated sigmoid both ways */
    genc_step_reset(ctx);
    genc_tensor *y = genc_swiglu(ctx, in[0], in[1]);
    double err = 0;
    for (int64_t i = 0; y && i < genc_numel(y); i++) {
        double a = in[0]->data[i];
        err = fmax(err, fabs(y->data[i] - a / (1 + exp(-a)) * in[1]->data[i]));
    }
    CHECK(y && err < 1e-14);
    gradcheck(ctx, "swiglu", f_swiglu, in, 2, NULL, 1e-6, 1e-8);
    genc_tensor_free(in[0]), genc_tensor_free(in[1]);
}

static void expect_error(genc_ctx *ctx, genc_tensor *r, const char *needle) {
    CHECK_MSG(r == NULL && genc_ctx_status(ctx) == GENC_EINVAL && strstr(genc_last_error(ctx), needle),
              "expected EINVAL mentioning \"%s\", found \"%s\"", needle, genc_last_error(ctx));
    genc_clear_error(ctx);
}

/* swiglu_linear(x, Wg, Wu) against swiglu(linear(x, Wg), linear(x, Wu)), and its gradients
 * against finite differences; x [D, M] is used transposed ([M, D] = [4, 5]), I = 3. */
static void check_swiglu_linear(genc_ctx *ctx) {
    int64_t sx[2] = {5, 4}, sw[2] = {3, 5};
    genc_tensor *in[3] = {gc_input(ctx, 2, sx, 41), gc_input(ctx, 2, sw, 42), gc_input(ctx, 2, sw, 43)};
    genc_step_reset(ctx);
    genc_tensor *xt = genc_transpose(ctx, in[0], 0, 1);
    genc_tensor *y = genc_swiglu_linear(ctx, xt, in[1], in[2]);
    genc_tensor *ref = genc_swiglu(ctx, genc_linear(ctx, xt, in[1], NULL), genc_linear(ctx, xt, in[2], NULL));
    double err = 0;
    for (int64_t i = 0; y && ref && i < genc_numel(y); i++) err = fmax(err, fabs(y->data[i] - ref->data[i]));
    CHECK(y && ref && y->shape[0] == 4 && y->shape[1] == 3 && err < 1e-14);
    gradcheck(ctx, "swiglu_linear", f_swiglu_linear, in, 3, NULL, 1e-6, 1e-8);
    in[1]->requires_grad = false; /* only some inputs need a gradient */
    gradcheck(ctx, "swiglu_linear, no dWg", f_swiglu_linear, in, 3, NULL, 1e-6, 1e-8);
    in[1]->requires_grad = true;
    genc_step_reset(ctx);
    expect_error(ctx, genc_swiglu_linear(ctx, in[0], in[1], in[0]), "swiglu_linear: input [5, 4]");
    CHECK(!genc_swiglu_linear(ctx, NULL, in[1], in[2]) && genc_ctx_status(ctx) == GENC_OK);
    for (int i = 0; i < 3; i++) genc_tensor_free(in[i]);
}

static void check_take_along(genc_ctx *ctx) {
    int32_t idx[12] = {3, 3, 0, 1, 4, 1, 2, 2, 2, 0, 4, 3}; /* repeats inside rows */
    take_arg a = {idx, 3};
    int64_t s[2] = {4, 5};
    genc_tensor *x = gc_input(ctx, 2, s, 41);
    genc_step_reset(ctx);
    genc_tensor *y = genc_take_along(ctx, x, idx, 3);
    bool ok = y && y->shape[0] == 4 && y->shape[1] == 3;
    for (int64_t i = 0; ok && i < 12; i++) ok = y->data[i] == x->data[(i / 3) * 5 + idx[i]];
    CHECK(ok);
    gradcheck(ctx, "take_along repeated indices", f_take, &x, 1, &a, 1e-7, 1e-9);
    genc_tensor_free(x);
}

static void check_expand(genc_ctx *ctx) {
    static const int64_t shapes[3][4] = {{1, 3, 2, 4}, {2, 3, 1, 4}, {2, 3, 4, 1}};
    static const expand_arg args[3] = {{0, 3}, {2, 5}, {-1, 2}};
    static const char *names[3] = {"expand axis 0", "expand axis 2", "expand last axis (-1)"};
    for (int k = 0; k < 3; k++) {
        genc_tensor *x = gc_input(ctx, 4, shapes[k], 51 + k);
        genc_step_reset(ctx);
        genc_tensor *y = genc_expand(ctx, x, args[k].axis, args[k].n);
        int ax = args[k].axis < 0 ? 3 : args[k].axis;
        bool ok = y && y->shape[ax] == args[k].n;
        for (int64_t i = 0; ok && i < genc_numel(y); i++) {
            int64_t id[4], r = i, xi[4];
            for (int d = 3; d >= 0; d--) id[d] = r % y->shape[d], r /= y->shape[d];
            memcpy(xi, id, sizeof xi), xi[ax] = 0;
            ok = y->data[i] == genc_get(x, xi);
        }
        CHECK_MSG(ok, "%s: values", names[k]);
        gradcheck(ctx, names[k], f_expand, &x, 1, (void *)&args[k], 1e-7, 1e-9);
        genc_tensor_free(x);
    }
}

/* ---- error paths ---- */

static void check_errors(genc_ctx *ctx) {
    int64_t s5[4] = {1, 2, 2, 5}, s4[4] = {1, 2, 2, 4}, sk[4] = {1, 3, 2, 4}, sv[4] = {1, 3, 2, 3}, s2[2] = {2, 3};
    genc_tensor *odd = gc_input(ctx, 4, s5, 1), *q = gc_input(ctx, 4, s4, 2), *k = gc_input(ctx, 4, sk, 3);
    genc_tensor *v = gc_input(ctx, 4, sv, 4), *m = gc_input(ctx, 2, s2, 5);
    int32_t pos[2] = {0, 1}, bad_ks[1] = {4}, idx[4] = {0, 2, 1, 3};
    genc_step_reset(ctx);
    expect_error(ctx, genc_rope(ctx, odd, pos, 10000), "[1, 2, 2, 5]");
    expect_error(ctx, genc_rope(ctx, m, pos, 10000), "rope");
    expect_error(ctx, genc_rope(ctx, q, NULL, 10000), "no positions");
    CHECK(genc_attention(ctx, q, k, v, 0.5, true, NULL) != NULL);
    expect_error(ctx, genc_attention(ctx, q, v, v, 0.5, true, NULL), "k [1, 3, 2, 3]");
    expect_error(ctx, genc_attention(ctx, q, k, m, 0.5, false, NULL), "v [2, 3]");
    expect_error(ctx, genc_attention(ctx, q, k, v, 0.5, false, bad_ks), "key_start[0] = 4");
    expect_error(ctx, genc_swiglu(ctx, q, k), "swiglu: a [1, 2, 2, 4] and b [1, 3, 2, 4]");
    expect_error(ctx, genc_take_along(ctx, m, idx, 2), "idx[3] = 3 is outside [0, E = 3)");
    expect_error(ctx, genc_take_along(ctx, q, idx, 2), "take_along");
    expect_error(ctx, genc_take_along(ctx, m, idx, 0), "K 0");
    expect_error(ctx, genc_expand(ctx, q, 1, 3), "axis 1 of x [1, 2, 2, 4]");
    expect_error(ctx, genc_expand(ctx, q, 4, 3), "axis 4");
    expect_error(ctx, genc_expand(ctx, q, 0, 0), "n (0)");
    /* NULL in, NULL out, and no new error */
    CHECK(!genc_rope(ctx, NULL, pos, 1e4) && !genc_attention(ctx, q, NULL, v, 1, true, NULL));
    CHECK(!genc_swiglu(ctx, NULL, q) && !genc_take_along(ctx, NULL, idx, 1) && !genc_expand(ctx, NULL, 0, 2));
    CHECK(genc_ctx_status(ctx) == GENC_OK);
    genc_tensor *all[5] = {odd, q, k, v, m};
    for (int i = 0; i < 5; i++) genc_tensor_free(all[i]);
}

int main(void) {
    genc_ctx *ctx = genc_ctx_new();
    check_rope(ctx);
    check_rope_freqs(ctx);
    check_attention(ctx);
    check_swiglu(ctx);
    check_swiglu_linear(ctx);
    check_take_along(ctx);
    check_expand(ctx);
    check_errors(ctx);
    genc_ctx_free(ctx);
    return test_report("grad_lm_ops");
}
