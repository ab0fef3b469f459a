/* The diffusion / rectified-flow U-Net (DDPM, Ho, Jain, Abbeel 2020, appendix B; scaled down
 * for 28x28 images): config, parameters and the forward pass from genc ops. The layout is
 * described in include/genc/unet.h. */
#include "genc/unet.h"
#include "genc/ops.h"
#include "genc/safetensors.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GN_EPS 1e-5

genc_unet_config genc_unet_defaults(void) {
    genc_unet_config c = {.rows = 28, .cols = 28, .channels = 1, .base = 32, .levels = 3, .mult = {1, 2, 2},
                          .res_blocks = 2, .groups = 8, .attn_heads = 4, .classes = 0, .dropout = 0.1};
    return c;
}

char *genc_unet_config_json(const genc_unet_config *c) {
    json_t *mult = json_array();
    for (int l = 0; l < c->levels && l < GENC_UNET_MAX_LEVELS; l++) json_array_append_new(mult, json_integer(c->mult[l]));
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:i, s:i, s:f}", "model", "unet", "rows",
                          c->rows, "cols", c->cols, "channels", c->channels, "base", c->base, "levels", c->levels,
                          "mult", mult, "res_blocks", c->res_blocks, "groups", c->groups, "attn_heads",
                          c->attn_heads, "classes", c->classes, "dropout", c->dropout);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return s;
}

/* Channel count at level l. */
static int level_ch(const genc_unet_config *c, int l) { return c->base * c->mult[l]; }

/* Why the config cannot build a network, or NULL. */
static const char *config_problem(const genc_unet_config *c) {
    if (c->rows < 1 || c->cols < 1 || c->rows > 4096 || c->cols > 4096 || c->channels < 1 || c->channels > 64)
        return "image size";
    if (c->levels < 1 || c->levels > GENC_UNET_MAX_LEVELS) return "levels (1 to 4)";
    if (c->rows % (1 << (c->levels - 1)) || c->cols % (1 << (c->levels - 1)))
        return "levels: rows and cols must divide by 2^(levels - 1)";
    if (c->base < 4 || c->base % 2 || c->base > 4096) return "base (even, 4 or more)";
    if (c->res_blocks < 1 || c->res_blocks > 16) return "res_blocks (1 to 16)";
    if (c->groups < 1) return "groups";
    for (int l = 0; l < c->levels; l++)
        if (c->mult[l] < 1 || c->mult[l] > 64 || level_ch(c, l) % c->groups) return "mult (groups must divide every width)";
    int top = level_ch(c, c->levels - 1);
    if (c->attn_heads < 0 || (c->attn_heads && top % c->attn_heads)) return "attn_heads (must divide the lowest width)";
    if (c->classes < 0 || c->classes > 100000) return "classes";
    if (!(c->dropout >= 0 && c->dropout < 1)) return "dropout (in [0, 1))";
    return NULL;
}

genc_status genc_unet_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_unet_config *c) {
    json_error_t err = {.text = ""};
    json_t *j = json ? json_loads(json, 0, &err) : NULL, *mult = NULL;
    const char *model = "";
    *c = genc_unet_defaults();
    int bad = !j || json_unpack_ex(j, &err, JSON_STRICT, "{s:s, s:i, s:i, s:i, s:i, s:i, s:o, s:i, s:i, s:i, s:i, s:F}",
                                   "model", &model, "rows", &c->rows, "cols", &c->cols, "channels", &c->channels,
                                   "base", &c->base, "levels", &c->levels, "mult", &mult, "res_blocks",
                                   &c->res_blocks, "groups", &c->groups, "attn_heads", &c->attn_heads, "classes",
                                   &c->classes, "dropout", &c->dropout);
    const char *why = bad ? err.text : NULL;
    if (!bad && (strcmp(model, "unet") || !json_is_array(mult) || (int)json_array_size(mult) != c->levels ||
                 c->levels < 1 || c->levels > GENC_UNET_MAX_LEVELS))
        bad = 1, why = "model, levels or mult";
    for (int l = 0; !bad && l < c->levels; l++) {
        json_t *v = json_array_get(mult, (size_t)l);
        if (!json_is_integer(v)) bad = 1, why = "mult";
        else c->mult[l] = (int)json_integer_value(v);
    }
    if (!bad && (why = config_problem(c))) bad = 1;
    if (bad)
        genc_error(ctx, GENC_EFORMAT, "%s: metadata \"config\" is not a valid U-Net config%s%s", label,
                   json ? ": " : " (missing)", json ? why : "");
    json_decref(j);
    return bad ? GENC_EFORMAT : GENC_OK;
}

/* ---- parameters ---- */

/* A parameter named prefix.suffix, uniform in +-1/sqrt(fan_in) (fan_in 0: filled with `fill`). */
static genc_tensor *param(genc_ctx *ctx, genc_unet *m, const char *prefix, const char *suffix, int ndim,
                          const int64_t *shape, int64_t fan_in, double fill) {
    char name[96];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", suffix);
    genc_tensor *t = genc_params_new(ctx, &m->params, name, ndim, shape);
    if (!t) return NULL;
    if (fan_in > 0) genc_fill_uniform(ctx, t, -1.0 / sqrt((double)fan_in), 1.0 / sqrt((double)fan_in));
    else genc_fill(t, (genc_real)fill);
    return t;
}

/* PyTorch Conv2d(cin, cout, k): weight [cout, cin, k, k] and bias [cout], both bound 1/sqrt(cin k k). */
static void conv_params(genc_ctx *ctx, genc_unet *m, const char *name, int cin, int cout, int k, genc_tensor **w,
                        genc_tensor **b) {
    int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
    *w = param(ctx, m, name, "weight", 4, ws, (int64_t)cin * k * k, 0);
    *b = param(ctx, m, name, "bias", 1, bs, (int64_t)cin * k * k, 0);
}

static void linear_params(genc_ctx *ctx, genc_unet *m, const char *name, int in, int out, genc_tensor **w,
                          genc_tensor **b) {
    int64_t ws[2] = {out, in}, bs[1] = {out};
    *w = param(ctx, m, name, "weight", 2, ws, in, 0);
    *b = param(ctx, m, name, "bias", 1, bs, in, 0);
}

static void norm_params(genc_ctx *ctx, genc_unet *m, const char *name, int ch, genc_tensor **w, genc_tensor **b) {
    int64_t s[1] = {ch};
    *w = param(ctx, m, name, "weight", 1, s, 0, 1.0);
    *b = param(ctx, m, name, "bias", 1, s, 0, 0.0);
}

static void res_params(genc_ctx *ctx, genc_unet *m, const char *prefix, int cin, int cout, genc_unet_res *r) {
    char name[80];
    int temb = 4 * m->cfg.base;
    r->cin = cin, r->cout = cout;
#define SUB(s) (snprintf(name, sizeof name, "%s.%s", prefix, s), name)
    norm_params(ctx, m, SUB("norm1"), cin, &r->norm1_w, &r->norm1_b);
    conv_params(ctx, m, SUB("conv1"), cin, cout, 3, &r->conv1_w, &r->conv1_b);
    linear_params(ctx, m, SUB("temb"), temb, cout, &r->temb_w, &r->temb_b);
    norm_params(ctx, m, SUB("norm2"), cout, &r->norm2_w, &r->norm2_b);
    conv_params(ctx, m, SUB("conv2"), cout, cout, 3, &r->conv2_w, &r->conv2_b);
    if (cin != cout) conv_params(ctx, m, SUB("skip"), cin, cout, 1, &r->skip_w, &r->skip_b);
#undef SUB
}

/* Down path, middle and up path in forward order (the order of m->res). */
static void build_blocks(genc_ctx *ctx, genc_unet *m) {
    const genc_unet_config *c = &m->cfg;
    int skips[1 + GENC_UNET_MAX_LEVELS * 18], ns = 0, ch = c->base, k = 0;
    char name[80];
    skips[ns++] = ch;
    for (int l = 0; l < c->levels; l++) {
        for (int r = 0; r < c->res_blocks; r++) {
            snprintf(name, sizeof name, "down.%d.res.%d", l, r);
            res_params(ctx, m, name, ch, level_ch(c, l), &m->res[k++]);
            skips[ns++] = ch = level_ch(c, l);
        }
        if (l == c->levels - 1) continue;
        snprintf(name, sizeof name, "down.%d.down", l);
        conv_params(ctx, m, name, ch, ch, 3, &m->down_w[l], &m->down_b[l]);
        skips[ns++] = ch;
    }
    res_params(ctx, m, "mid.res.0", ch, ch, &m->res[k++]);
    if (c->attn_heads) {
        norm_params(ctx, m, "mid.attn.norm", ch, &m->attn_norm_w, &m->attn_norm_b);
        const char *proj[4] = {"mid.attn.q", "mid.attn.k", "mid.attn.v", "mid.attn.proj"};
        for (int i = 0; i < 4; i++) linear_params(ctx, m, proj[i], ch, ch, &m->attn_w[i], &m->attn_b[i]);
    }
    res_params(ctx, m, "mid.res.1", ch, ch, &m->res[k++]);
    for (int l = c->levels - 1; l >= 0; l--) {
        for (int r = 0; r <= c->res_blocks; r++) {
            snprintf(name, sizeof name, "up.%d.res.%d", l, r);
            res_params(ctx, m, name, ch + skips[--ns], level_ch(c, l), &m->res[k++]);
            ch = level_ch(c, l);
        }
        if (l == 0) continue;
        snprintf(name, sizeof name, "up.%d.up", l);
        conv_params(ctx, m, name, ch, ch, 3, &m->up_w[l], &m->up_b[l]);
    }
    norm_params(ctx, m, "norm_out", ch, &m->norm_out_w, &m->norm_out_b);
    conv_params(ctx, m, "conv_out", ch, c->channels, 3, &m->conv_out_w, &m->conv_out_b);
}

genc_status genc_unet_init(genc_ctx *ctx, genc_unet *m, const genc_unet_config *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const char *why = config_problem(cfg);
    if (why) return genc_error(ctx, GENC_EINVAL, "unet: bad config: %s", why);
    /* groups must also divide the concatenated widths of the up path: checked per block below */
    m->n_res = cfg->levels * cfg->res_blocks + 2 + cfg->levels * (cfg->res_blocks + 1);
    m->res = calloc((size_t)m->n_res, sizeof *m->res);
    if (!m->res) return genc_error(ctx, GENC_ENOMEM, "unet: out of memory");
    int temb = 4 * cfg->base;
    int64_t es[2] = {cfg->classes + 1, temb};
    linear_params(ctx, m, "time.0", cfg->base, temb, &m->time_w[0], &m->time_b[0]);
    linear_params(ctx, m, "time.2", temb, temb, &m->time_w[1], &m->time_b[1]);
    if (cfg->classes) {
        m->class_emb = param(ctx, m, "class_emb", "weight", 2, es, 0, 0);
        if (m->class_emb) genc_fill_normal(ctx, m->class_emb, 0, 1);
    }
    conv_params(ctx, m, "conv_in", cfg->channels, cfg->base, 3, &m->conv_in_w, &m->conv_in_b);
    build_blocks(ctx, m);
    if (m->conv_out_w) genc_fill(m->conv_out_w, 0), genc_fill(m->conv_out_b, 0);
    for (int i = 0; i < m->n_res && !genc_ctx_status(ctx); i++)
        if (m->res[i].cin % cfg->groups)
            genc_error(ctx, GENC_EINVAL, "unet: bad config: %d groups do not divide the %d input channels of block %d",
                       cfg->groups, m->res[i].cin, i);
    if (genc_ctx_status(ctx)) genc_unet_free(m);
    return genc_ctx_status(ctx);
}

void genc_unet_free(genc_unet *m) {
    genc_params_free_all(&m->params);
    free(m->res);
    m->res = NULL;
}

/* ---- forward ---- */

/* Kernel: emb[n, i] = sin(t_n f_i), emb[n, half + i] = cos(t_n f_i), f_i = exp(-ln(10000) i / (half - 1))
 * (DDPM's get_timestep_embedding; Vaswani et al. 2017, section 3.5). */
static genc_tensor *time_features(genc_ctx *ctx, const float *t, int64_t N, int dim) {
    int64_t shape[2] = {N, dim}, half = dim / 2;
    genc_tensor *e = genc_tensor_empty(ctx, 2, shape);
    if (!e) return NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < half; i++) {
            double a = (double)t[n] * exp(-log(10000.0) * (double)i / (double)(half - 1));
            e->data[n * dim + i] = (genc_real)sin(a);
            e->data[n * dim + half + i] = (genc_real)cos(a);
        }
    return e;
}

/* SiLU(temb): temb = Linear(SiLU(Linear(sinusoid(t)))) (+ class embedding). */
static genc_tensor *time_embedding(genc_ctx *ctx, genc_unet *m, const float *t, const int32_t *labels, int64_t N) {
    genc_tensor *e = time_features(ctx, t, N, m->cfg.base);
    e = genc_linear(ctx, genc_silu(ctx, genc_linear(ctx, e, m->time_w[0], m->time_b[0])), m->time_w[1], m->time_b[1]);
    if (m->class_emb) {
        int32_t *ids = genc_arena_alloc(ctx, (size_t)N * sizeof *ids);
        if (!ids) return NULL;
        for (int64_t n = 0; n < N; n++) ids[n] = labels ? labels[n] : m->cfg.classes;
        e = genc_add(ctx, e, genc_embedding(ctx, m->class_emb, ids, N));
    }
    return genc_silu(ctx, e);
}

/* GN -> SiLU -> conv3x3 -> + Linear(temb) -> GN -> SiLU -> dropout -> conv3x3, + skip(h). */
static genc_tensor *res_block(genc_ctx *ctx, genc_unet *m, const genc_unet_res *r, genc_tensor *h, genc_tensor *st) {
    int G = m->cfg.groups;
    genc_tensor *a = genc_group_norm_silu(ctx, h, G, r->norm1_w, r->norm1_b, GN_EPS);
    a = genc_conv2d(ctx, a, r->conv1_w, r->conv1_b, 1, 1);
    genc_tensor *tp = genc_linear(ctx, st, r->temb_w, r->temb_b);
    int64_t ts[4] = {st ? st->shape[0] : 0, r->cout, 1, 1};
    a = genc_add(ctx, a, genc_reshape(ctx, tp, 4, ts));
    a = genc_group_norm_silu(ctx, a, G, r->norm2_w, r->norm2_b, GN_EPS);
    a = genc_conv2d(ctx, genc_dropout(ctx, a, m->cfg.dropout), r->conv2_w, r->conv2_b, 1, 1);
    genc_tensor *skip = r->skip_w ? genc_conv2d(ctx, h, r->skip_w, r->skip_b, 1, 0) : h;
    return genc_add(ctx, skip, a);
}

/* h + proj(attention(q, k, v)) over the H W positions, q/k/v/proj Linear over channels of GN(h). */
static genc_tensor *attn_block(genc_ctx *ctx, genc_unet *m, genc_tensor *h) {
    if (!h) return NULL;
    int64_t N = h->shape[0], C = h->shape[1], P = h->shape[2] * h->shape[3], heads = m->cfg.attn_heads;
    int64_t s3[3] = {N, C, P}, s4[4] = {N, P, heads, C / heads}, sx[3] = {N, P, C};
    genc_tensor *a = genc_group_norm(ctx, h, m->cfg.groups, m->attn_norm_w, m->attn_norm_b, GN_EPS);
    a = genc_contiguous(ctx, genc_transpose(ctx, genc_reshape(ctx, a, 3, s3), 1, 2)); /* [N, P, C] */
    genc_tensor *qkv[3];
    for (int i = 0; i < 3; i++) qkv[i] = genc_reshape(ctx, genc_linear(ctx, a, m->attn_w[i], m->attn_b[i]), 4, s4);
    genc_tensor *o = genc_attention(ctx, qkv[0], qkv[1], qkv[2], 1.0 / sqrt((double)(C / heads)), false, NULL);
    o = genc_linear(ctx, genc_reshape(ctx, o, 3, sx), m->attn_w[3], m->attn_b[3]);
    o = genc_reshape(ctx, genc_contiguous(ctx, genc_transpose(ctx, o, 1, 2)), 4, h->shape);
    return genc_add(ctx, h, o);
}

genc_tensor *genc_unet_forward(genc_ctx *ctx, genc_unet *m, genc_tensor *x, const float *t, const int32_t *labels) {
    if (!x) return NULL;
    const genc_unet_config *c = &m->cfg;
    int64_t D = (int64_t)c->channels * c->rows * c->cols;
    if (x->ndim != 2 || x->shape[1] != D) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "unet: input %s, expected [N, %lld]", genc_shape_str(x, b, 64), (long long)D);
        return NULL;
    }
    int64_t N = x->shape[0], img[4] = {N, c->channels, c->rows, c->cols};
    if (!t) {
        genc_error(ctx, GENC_EINVAL, "unet: no times given (expected %lld)", (long long)N);
        return NULL;
    }
    for (int64_t n = 0; labels && c->classes && n < N; n++)
        if (labels[n] < 0 || labels[n] > c->classes) {
            genc_error(ctx, GENC_EINVAL, "unet: label %d of row %lld is outside 0..%d (%d is the null label)",
                       (int)labels[n], (long long)n, c->classes, c->classes);
            return NULL;
        }
    genc_tensor *st = time_embedding(ctx, m, t, labels, N);
    genc_tensor *h = genc_conv2d(ctx, genc_reshape(ctx, x, 4, img), m->conv_in_w, m->conv_in_b, 1, 1);
    genc_tensor *skips[1 + GENC_UNET_MAX_LEVELS * 18];
    int ns = 0, k = 0;
    skips[ns++] = h;
    for (int l = 0; l < c->levels; l++) {
        for (int r = 0; r < c->res_blocks; r++) skips[ns++] = h = res_block(ctx, m, &m->res[k++], h, st);
        if (l < c->levels - 1) skips[ns++] = h = genc_conv2d(ctx, h, m->down_w[l], m->down_b[l], 2, 1);
    }
    h = res_block(ctx, m, &m->res[k++], h, st);
    if (c->attn_heads) h = attn_block(ctx, m, h);
    h = res_block(ctx, m, &m->res[k++], h, st);
    for (int l = c->levels - 1; l >= 0; l--) {
        for (int r = 0; r <= c->res_blocks; r++)
            h = res_block(ctx, m, &m->res[k++], genc_concat(ctx, (genc_tensor *[]){h, skips[--ns]}, 2, 1), st);
        if (l > 0) h = genc_conv2d(ctx, genc_upsample_nearest2x(ctx, h), m->up_w[l], m->up_b[l], 1, 1);
    }
    h = genc_group_norm_silu(ctx, h, c->groups, m->norm_out_w, m->norm_out_b, GN_EPS);
    h = genc_conv2d(ctx, h, m->conv_out_w, m->conv_out_b, 1, 1);
    int64_t os[2] = {N, D};
    return genc_reshape(ctx, h, 2, os);
}
