/* NICE (Dinh, Krueger, Bengio, arXiv 1410.8516): a fixed pixel permutation, additive
 * couplings y_b = x_b + m(x_a) with ReLU MLPs m, alternating halves, a diagonal scaling
 * h = exp(s) * y, and a logistic (or Gaussian) prior. log p(x) = sum_d log p_H(h_d) + sum_d s_d.
 * Built from genc ops, so training gets its gradients from autograd. See include/genc/flow.h. */
#include "genc/flow.h"
#include "genc/data.h"
#include "genc/ops.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

genc_nice_config genc_nice_defaults(void) {
    genc_nice_config c = {.rows = 28, .cols = 28, .hidden = 1000, .layers = 5, .couplings = 4,
                          .prior = GENC_NICE_LOGISTIC, .perm_seed = 1};
    return c;
}

genc_status genc_nice_prior_parse(genc_ctx *ctx, const char *name, genc_nice_prior *out) {
    if (!strcmp(name, "logistic")) *out = GENC_NICE_LOGISTIC;
    else if (!strcmp(name, "gaussian")) *out = GENC_NICE_GAUSSIAN;
    else return genc_error(ctx, GENC_EINVAL, "--prior: expected logistic or gaussian, found \"%s\"", name);
    return GENC_OK;
}

char *genc_nice_config_json(const genc_nice_config *c) {
    json_t *j = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:I}", "model", "nice", "rows", c->rows, "cols", c->cols,
                          "hidden", c->hidden, "layers", c->layers, "couplings", c->couplings, "prior",
                          c->prior == GENC_NICE_GAUSSIAN ? "gaussian" : "logistic", "perm_seed",
                          (json_int_t)c->perm_seed);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

genc_status genc_nice_config_parse(genc_ctx *ctx, const char *json, const char *label, genc_nice_config *c) {
    json_error_t err = {.text = ""};
    json_t *j = json ? json_loads(json, 0, &err) : NULL;
    const char *model = "", *prior = "";
    json_int_t seed = -1;
    int bad = !j || json_unpack_ex(j, &err, JSON_STRICT, "{s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:I}", "model", &model,
                                   "rows", &c->rows, "cols", &c->cols, "hidden", &c->hidden, "layers", &c->layers,
                                   "couplings", &c->couplings, "prior", &prior, "perm_seed", &seed);
    if (!bad) {
        c->prior = !strcmp(prior, "gaussian") ? GENC_NICE_GAUSSIAN : GENC_NICE_LOGISTIC;
        c->perm_seed = (uint64_t)seed;
        bad = strcmp(model, "nice") || (strcmp(prior, "gaussian") && strcmp(prior, "logistic")) || c->rows < 1 ||
              c->cols < 1 || c->rows > 4096 || c->cols > 4096 || (c->rows * c->cols) % 2 || c->hidden < 1 ||
              c->layers < 0 || c->layers > 64 || c->couplings < 1 || c->couplings > 64 || seed < 0;
    }
    json_decref(j);
    if (bad)
        return genc_error(ctx, GENC_EFORMAT, "%s: metadata \"config\" is not a valid NICE config%s%s", label,
                          json ? ": " : " (missing)", json ? err.text : "");
    return GENC_OK;
}

static genc_tensor *param(genc_ctx *ctx, genc_nice *m, const char *name, int64_t rows, int64_t cols, int64_t fan_in) {
    int64_t shape[2] = {rows, cols};
    genc_tensor *t = genc_params_new(ctx, &m->params, name, cols ? 2 : 1, shape);
    if (!t) return NULL;
    double bound = 1.0 / sqrt((double)fan_in);
    genc_fill_uniform(ctx, t, -bound, bound);
    return t;
}

/* Permutation from the seed: perm[j] = the pixel at permuted position j. */
static void make_perm(const genc_nice_config *c, int32_t *perm) {
    int64_t d = (int64_t)c->rows * c->cols;
    int64_t *p = malloc((size_t)d * sizeof *p);
    if (!p) return;
    genc_data_permutation(p, d, c->perm_seed);
    for (int64_t j = 0; j < d; j++) perm[j] = (int32_t)p[j];
    free(p);
}

genc_status genc_nice_init(genc_ctx *ctx, genc_nice *m, const genc_nice_config *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->dim = cfg->rows * cfg->cols, m->half = m->dim / 2;
    if (m->dim < 2 || m->dim % 2 || cfg->hidden < 1 || cfg->layers < 0 || cfg->couplings < 1)
        return genc_error(ctx, GENC_EINVAL, "nice: bad config (D = %d must be even; hidden %d, layers %d, couplings %d)",
                          m->dim, cfg->hidden, cfg->layers, cfg->couplings);
    int nl = cfg->layers + 1, n = cfg->couplings * nl;
    m->w = calloc((size_t)n, sizeof *m->w), m->b = calloc((size_t)n, sizeof *m->b);
    m->perm = malloc((size_t)m->dim * sizeof *m->perm);
    if (!m->w || !m->b || !m->perm) {
        genc_nice_free(m);
        return genc_error(ctx, GENC_ENOMEM, "nice: out of memory");
    }
    make_perm(cfg, m->perm);
    char name[96];
    for (int k = 0; k < cfg->couplings; k++)
        for (int l = 0; l < nl; l++) {
            int64_t in = l == 0 ? m->half : cfg->hidden, out = l == nl - 1 ? m->half : cfg->hidden;
            snprintf(name, sizeof name, "coupling.%d.mlp.%d.weight", k, l);
            m->w[k * nl + l] = param(ctx, m, name, out, in, in);
            snprintf(name, sizeof name, "coupling.%d.mlp.%d.bias", k, l);
            m->b[k * nl + l] = param(ctx, m, name, out, 0, in);
        }
    m->s = param(ctx, m, "scale.s", m->dim, 0, 1);
    if (m->s) genc_fill(m->s, 0);
    if (genc_ctx_status(ctx)) genc_nice_free(m);
    return genc_ctx_status(ctx);
}

void genc_nice_free(genc_nice *m) {
    genc_params_free_all(&m->params);
    free(m->w), free(m->b), free(m->perm);
    m->w = m->b = NULL, m->perm = NULL;
}

/* The coupling function m_k: (Linear, ReLU) x layers, then Linear. */
static genc_tensor *coupling_mlp(genc_ctx *ctx, genc_nice *m, int k, genc_tensor *a) {
    int nl = m->cfg.layers + 1;
    genc_tensor *h = a;
    for (int l = 0; l < nl; l++) {
        h = genc_linear(ctx, h, m->w[k * nl + l], m->b[k * nl + l]);
        if (l < nl - 1) h = genc_relu(ctx, h);
    }
    return h;
}

/* Kernel: xp[n, j] = x[n, perm[j]] (the fixed permutation; data, so no gradient). */
static genc_tensor *permute_in(genc_ctx *ctx, genc_nice *m, genc_tensor *x) {
    if (!x) return NULL;
    if (x->ndim != 2 || x->shape[1] != m->dim) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "nice: input %s, expected [N, %d]", genc_shape_str(x, b, 64), m->dim);
        return NULL;
    }
    x = genc_contiguous(ctx, x);
    genc_tensor *out = genc_tensor_empty(ctx, 2, x->shape);
    if (!out) return NULL;
    int64_t N = x->shape[0], D = m->dim;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < D; j++) out->data[n * D + j] = x->data[n * D + m->perm[j]];
    return out;
}

genc_tensor *genc_nice_forward(genc_ctx *ctx, genc_nice *m, genc_tensor *x, int n_couplings, bool scale) {
    genc_tensor *xp = permute_in(ctx, m, x);
    if (!xp) return NULL;
    genc_tensor *a = genc_contiguous(ctx, genc_slice(ctx, xp, 1, 0, m->half));
    genc_tensor *b = genc_contiguous(ctx, genc_slice(ctx, xp, 1, m->half, m->half));
    for (int k = 0; k < n_couplings && k < m->cfg.couplings; k++) {
        if (k % 2 == 0) b = genc_add(ctx, b, coupling_mlp(ctx, m, k, a)); /* y_b = x_b + m(x_a) */
        else a = genc_add(ctx, a, coupling_mlp(ctx, m, k, b));            /* y_a = x_a + m(x_b) */
    }
    genc_tensor *y = genc_concat(ctx, (genc_tensor *[]){a, b}, 2, 1);
    return scale ? genc_mul(ctx, y, genc_exp(ctx, m->s)) : y; /* h = exp(s) * y */
}

/* sum_d log p_H(h_d) per row: logistic -softplus(h) - softplus(-h); Gaussian -h^2/2 - log(2 pi)/2. */
static genc_tensor *prior_log_prob(genc_ctx *ctx, genc_nice *m, genc_tensor *h) {
    if (m->cfg.prior == GENC_NICE_GAUSSIAN) {
        genc_tensor *q = genc_sum(ctx, genc_square(ctx, h), 1, false);
        return genc_add_scalar(ctx, genc_scale(ctx, q, -0.5), -0.5 * m->dim * log(2 * M_PI));
    }
    genc_tensor *sp = genc_add(ctx, genc_softplus(ctx, h), genc_softplus(ctx, genc_scale(ctx, h, -1.0)));
    return genc_scale(ctx, genc_sum(ctx, sp, 1, false), -1.0);
}

genc_tensor *genc_nice_log_prob(genc_ctx *ctx, genc_nice *m, genc_tensor *x, genc_tensor **h_out) {
    genc_tensor *h = genc_nice_forward(ctx, m, x, m->cfg.couplings, true);
    if (h_out) *h_out = h;
    return genc_add(ctx, prior_log_prob(ctx, m, h), genc_sum_all(ctx, m->s)); /* + log|det| = sum s */
}

/* Data-dependent initialisation of the scaling (as Glow's actnorm): with y = the couplings'
 * output on a batch, s_d = log((pi / sqrt 3) / std(y_d)), so h_d has the standard logistic's
 * standard deviation pi / sqrt 3 (the Gaussian's 1 for that prior). Std floored at 1e-6. */
genc_status genc_nice_data_init(genc_ctx *ctx, genc_nice *m, genc_tensor *x) {
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *y = genc_nice_forward(ctx, m, x, m->cfg.couplings, false);
    genc_set_grad_enabled(ctx, old);
    if (!y) return genc_ctx_status(ctx);
    int64_t N = y->shape[0], D = m->dim;
    double target = m->cfg.prior == GENC_NICE_GAUSSIAN ? 1.0 : M_PI / sqrt(3.0);
#pragma omp parallel for schedule(static)
    for (int64_t d = 0; d < D; d++) {
        double mean = 0, var = 0;
        for (int64_t n = 0; n < N; n++) mean += y->data[n * D + d];
        mean /= (double)N;
        for (int64_t n = 0; n < N; n++) var += (y->data[n * D + d] - mean) * (y->data[n * D + d] - mean);
        double sd = sqrt(var / (double)N);
        m->s->data[d] = (genc_real)log(target / (sd > 1e-6 ? sd : 1e-6));
    }
    genc_step_reset(ctx);
    return GENC_OK;
}

/* Kernel: x[n, perm[j]] = xp[n, j] (the permutation's inverse). */
static genc_tensor *permute_out(genc_ctx *ctx, genc_nice *m, genc_tensor *xp) {
    xp = genc_contiguous(ctx, xp);
    genc_tensor *out = xp ? genc_tensor_empty(ctx, 2, xp->shape) : NULL;
    if (!out) return NULL;
    int64_t N = xp->shape[0], D = m->dim;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < D; j++) out->data[n * D + m->perm[j]] = xp->data[n * D + j];
    return out;
}

genc_tensor *genc_nice_inverse(genc_ctx *ctx, genc_nice *m, genc_tensor *h) {
    if (!h) return NULL;
    if (h->ndim != 2 || h->shape[1] != m->dim) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "nice: latent %s, expected [N, %d]", genc_shape_str(h, b, 64), m->dim);
        return NULL;
    }
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *y = genc_mul(ctx, h, genc_exp(ctx, genc_scale(ctx, m->s, -1.0))); /* y = exp(-s) * h */
    genc_tensor *a = genc_contiguous(ctx, genc_slice(ctx, y, 1, 0, m->half));
    genc_tensor *b = genc_contiguous(ctx, genc_slice(ctx, y, 1, m->half, m->half));
    for (int k = m->cfg.couplings - 1; k >= 0; k--) {
        if (k % 2 == 0) b = genc_sub(ctx, b, coupling_mlp(ctx, m, k, a)); /* x_b = y_b - m(y_a) */
        else a = genc_sub(ctx, a, coupling_mlp(ctx, m, k, b));
    }
    genc_tensor *x = permute_out(ctx, m, genc_concat(ctx, (genc_tensor *[]){a, b}, 2, 1));
    genc_set_grad_enabled(ctx, old);
    return x;
}

/* Kernel: z = log u - log(1 - u) (logistic, inverse CDF) or Box-Muller N(0,1); h = T z.
 * Element i uses draw offset + i of key `seed`. */
static void draw_latents(genc_nice_prior prior, int64_t count, double temperature, uint64_t seed, uint64_t offset,
                         genc_real *h) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; i++) {
        double z;
        if (prior == GENC_NICE_GAUSSIAN) {
            z = genc_philox_normal(seed, offset + (uint64_t)i);
        } else {
            double u = genc_philox_uniform(seed, offset + (uint64_t)i);
            u = u < 1e-12 ? 1e-12 : u;
            z = log(u) - log1p(-u);
        }
        h[i] = (genc_real)(temperature * z);
    }
}

genc_status genc_nice_sample(genc_ctx *ctx, genc_nice *m, int64_t n, double temperature, uint64_t seed, float *out) {
    enum { CHUNK = 256 };
    for (int64_t s = 0; s < n && !genc_ctx_status(ctx); s += CHUNK) {
        int64_t c = n - s < CHUNK ? n - s : CHUNK, shape[2] = {c, m->dim};
        genc_tensor *h = genc_tensor_empty(ctx, 2, shape);
        if (!h) break;
        /* draws row-major over (image, dim) of the whole sample, so chunking changes nothing */
        draw_latents(m->cfg.prior, c * m->dim, temperature, seed, (uint64_t)(s * m->dim), h->data);
        genc_tensor *x = genc_nice_inverse(ctx, m, h);
        if (x)
            for (int64_t i = 0; i < c * m->dim; i++) out[s * m->dim + i] = (float)x->data[i];
        genc_step_reset(ctx);
    }
    return genc_ctx_status(ctx);
}

/* Kernel: x = (level + u) / 256, level = round(255 p) in 0..255, u ~ U[0,1) (the paper's
 * dequantisation of 256-level pixels). */
void genc_nice_dequantize(const float *pix, int64_t count, uint64_t seed, uint64_t offset, genc_real *out) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; i++) {
        double p = pix[i] < 0 ? 0 : pix[i] > 1 ? 1 : pix[i];
        double level = floor(p * 255.0 + 0.5);
        out[i] = (genc_real)((level + genc_philox_uniform(seed, offset + (uint64_t)i)) / 256.0);
    }
}

/* bpd = (-log p(x) + D ln 256) / (D ln 2): the discrete probability of the 256-level image is
 * at least p(x) * 256^-D (Jensen, over the dequantisation noise). */
double genc_nice_bits_per_dim(double log_prob, int64_t dim) {
    return (-log_prob + (double)dim * log(256.0)) / ((double)dim * log(2.0));
}

genc_status genc_nice_ckpt_extra(genc_ctx *ctx, void *nice, genc_st_writer *w) {
    genc_nice *m = nice;
    int64_t shape[1] = {m->dim};
    return genc_st_writer_add(w, "extra.permutation", GENC_DT_I32, 1, shape, m->perm);
}

static genc_status check_perm(genc_ctx *ctx, const genc_st *f, const char *path, const genc_nice *m) {
    int64_t shape[1] = {m->dim};
    int64_t *p = malloc((size_t)m->dim * sizeof *p);
    if (!p) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = genc_st_read_i64(ctx, f, "extra.permutation", p, 1, shape);
    for (int64_t j = 0; !s && j < m->dim; j++)
        if (p[j] != m->perm[j])
            s = genc_error(ctx, GENC_EFORMAT, "%s: extra.permutation differs from the config's perm_seed at %lld", path,
                           (long long)j);
    free(p);
    return s;
}

genc_status genc_nice_load(genc_ctx *ctx, const char *path, genc_nice *m) {
    genc_st *f;
    memset(m, 0, sizeof *m);
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    genc_nice_config c;
    s = genc_nice_config_parse(ctx, genc_st_meta(f, "config"), path, &c);
    if (!s) genc_checkpoint_param_budget(ctx, f);
    if (!s) s = genc_nice_init(ctx, m, &c);
    genc_param_budget(ctx, -1, NULL);
    if (!s) s = genc_checkpoint_load(ctx, f, &m->params, NULL, NULL);
    if (!s) s = check_perm(ctx, f, path, m);
    if (s) genc_nice_free(m);
    genc_st_close(f);
    return s;
}
