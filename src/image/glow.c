/* Glow (Kingma and Dhariwal, arXiv 1807.03039) for grey images: multi-scale squeeze/split,
 * flow steps of actnorm, LU-parameterised invertible 1x1 convolution and affine coupling.
 * Built from genc ops (conv2d, matmul, mul/add, exp, sigmoid, softplus, sum) and the squeeze
 * op, so training gets its gradients from autograd. See include/genc/glow.h. Only engine
 * calls here, so the gradient tests compile this file in double precision; configs and
 * checkpoints are in glow_io.c. */
#include "genc/glow.h"
#include "genc/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

genc_glow_config genc_glow_defaults(void) {
    genc_glow_config c = {.rows = 28, .cols = 28, .levels = 2, .steps = 8, .hidden = 128};
    return c;
}

bool genc_glow_config_ok(const genc_glow_config *c) {
    if (c->levels < 1 || c->levels > 6 || c->steps < 1 || c->steps > 64 || c->hidden < 1 || c->hidden > 4096)
        return false;
    int k = 1 << c->levels;
    return c->rows >= k && c->cols >= k && c->rows <= 4096 && c->cols <= 4096 && c->rows % k == 0 && c->cols % k == 0;
}

/* ---- initialisation ---- */

static genc_tensor *param(genc_ctx *ctx, genc_glow *m, const char *name, int ndim, const int64_t *shape,
                          double bound) {
    genc_tensor *t = genc_params_new(ctx, &m->params, name, ndim, shape);
    if (!t) return NULL;
    if (bound > 0) genc_fill_uniform(ctx, t, -bound, bound);
    else genc_fill(t, 0);
    return t;
}

/* A random orthogonal C x C matrix (Gram-Schmidt of Gaussian rows), then P A = L U with
 * partial pivoting (Doolittle): a row-major, in place, L unit lower below the diagonal and U
 * on and above it; piv[i] = the row of A that row i of P A is. */
static void random_rotation_lu(genc_ctx *ctx, int C, double *a, int *piv) {
    for (int i = 0; i < C * C; i++) a[i] = genc_rand_normal(ctx);
    for (int i = 0; i < C; i++) {
        for (int k = 0; k < i; k++) {
            double d = 0;
            for (int j = 0; j < C; j++) d += a[i * C + j] * a[k * C + j];
            for (int j = 0; j < C; j++) a[i * C + j] -= d * a[k * C + j];
        }
        double n = 0;
        for (int j = 0; j < C; j++) n += a[i * C + j] * a[i * C + j];
        for (int j = 0; j < C; j++) a[i * C + j] /= sqrt(n);
    }
    for (int i = 0; i < C; i++) piv[i] = i;
    for (int k = 0; k < C; k++) {
        int p = k;
        for (int i = k + 1; i < C; i++)
            if (fabs(a[i * C + k]) > fabs(a[p * C + k])) p = i;
        for (int j = 0; p != k && j < C; j++) {
            double t = a[k * C + j];
            a[k * C + j] = a[p * C + j], a[p * C + j] = t;
        }
        int t = piv[k];
        piv[k] = piv[p], piv[p] = t;
        for (int i = k + 1; i < C; i++) {
            a[i * C + k] /= a[k * C + k];
            for (int j = k + 1; j < C; j++) a[i * C + j] -= a[i * C + k] * a[k * C + j];
        }
    }
}

static genc_status init_invconv(genc_ctx *ctx, genc_glow_step *s) {
    int C = s->C;
    double *a = malloc((size_t)(C * C) * sizeof *a);
    int *piv = malloc((size_t)C * sizeof *piv);
    s->perm = malloc((size_t)C * sizeof *s->perm), s->sign = malloc((size_t)C * sizeof *s->sign);
    if (!a || !piv || !s->perm || !s->sign) {
        free(a), free(piv);
        return genc_error(ctx, GENC_ENOMEM, "glow: out of memory");
    }
    random_rotation_lu(ctx, C, a, piv);
    for (int i = 0; i < C; i++) {
        s->perm[i] = piv[i];
        s->sign[i] = a[i * C + i] < 0 ? -1 : 1;
        s->log_s->data[i] = (genc_real)log(fabs(a[i * C + i]));
        for (int j = 0; j < C; j++) {
            s->lower->data[i * C + j] = (genc_real)(j < i ? a[i * C + j] : 0);
            s->upper->data[i * C + j] = (genc_real)(j > i ? a[i * C + j] : 0);
        }
    }
    free(a), free(piv);
    return GENC_OK;
}

static genc_status init_step(genc_ctx *ctx, genc_glow *m, int l, int k, genc_glow_step *s, int C) {
    char p[64], name[128];
    int h = m->cfg.hidden, Ch = C / 2;
    snprintf(p, sizeof p, "level.%d.step.%d", l, k);
    s->C = C;
#define P(field, suffix, bound, ...)                                                                                  \
    snprintf(name, sizeof name, "%s.%s", p, suffix);                                                                  \
    s->field = param(ctx, m, name, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                         \
                     (const int64_t[]){__VA_ARGS__}, bound)
    P(an_bias, "actnorm.bias", 0, C, 1, 1);
    P(an_logs, "actnorm.logs", 0, C, 1, 1);
    P(lower, "invconv.lower", 0, C, C);
    P(upper, "invconv.upper", 0, C, C);
    P(log_s, "invconv.log_s", 0, C);
    P(w1, "coupling.conv1.weight", 1 / sqrt(Ch * 9.0), h, Ch, 3, 3);
    P(b1, "coupling.conv1.bias", 1 / sqrt(Ch * 9.0), h);
    P(w2, "coupling.conv2.weight", 1 / sqrt((double)h), h, h, 1, 1);
    P(b2, "coupling.conv2.bias", 1 / sqrt((double)h), h);
    P(w3, "coupling.conv3.weight", 0, C, h, 3, 3);
    P(b3, "coupling.conv3.bias", 0, C);
#undef P
    if (genc_ctx_status(ctx)) return genc_ctx_status(ctx);
    return init_invconv(ctx, s);
}

genc_status genc_glow_init(genc_ctx *ctx, genc_glow *m, const genc_glow_config *cfg) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->dim = cfg->rows * cfg->cols;
    if (!genc_glow_config_ok(cfg))
        return genc_error(ctx, GENC_EINVAL,
                          "glow: bad config (%dx%d images need sides divisible by 2^levels = 2^%d; steps %d, hidden %d)",
                          cfg->rows, cfg->cols, cfg->levels, cfg->steps, cfg->hidden);
    m->lev = calloc((size_t)cfg->levels, sizeof *m->lev);
    if (!m->lev) return genc_error(ctx, GENC_ENOMEM, "glow: out of memory");
    int C = 1, H = cfg->rows, W = cfg->cols;
    char name[128];
    for (int l = 0; l < cfg->levels && !genc_ctx_status(ctx); l++) {
        genc_glow_level *L = &m->lev[l];
        C *= 4, H /= 2, W /= 2;
        L->C = C, L->H = H, L->W = W;
        L->steps = calloc((size_t)cfg->steps, sizeof *L->steps);
        if (!L->steps) {
            genc_error(ctx, GENC_ENOMEM, "glow: out of memory");
            break;
        }
        for (int k = 0; k < cfg->steps && !genc_ctx_status(ctx); k++) init_step(ctx, m, l, k, &L->steps[k], C);
        if (l < cfg->levels - 1) {
            snprintf(name, sizeof name, "level.%d.split.weight", l);
            L->split_w = param(ctx, m, name, 4, (const int64_t[]){C, C / 2, 3, 3}, 0);
            snprintf(name, sizeof name, "level.%d.split.bias", l);
            L->split_b = param(ctx, m, name, 1, (const int64_t[]){C}, 0);
            C /= 2;
        }
    }
    if (genc_ctx_status(ctx)) genc_glow_free(m);
    return genc_ctx_status(ctx);
}

void genc_glow_free(genc_glow *m) {
    genc_params_free_all(&m->params);
    for (int l = 0; m->lev && l < m->cfg.levels; l++) {
        for (int k = 0; m->lev[l].steps && k < m->cfg.steps; k++) free(m->lev[l].steps[k].perm), free(m->lev[l].steps[k].sign);
        free(m->lev[l].steps);
    }
    free(m->lev);
    m->lev = NULL;
}

/* ---- layers ---- */

/* Sum over every dim but the first: [N, ...] -> [N]. */
static genc_tensor *sum_per_example(genc_ctx *ctx, genc_tensor *t) {
    if (!t) return NULL;
    return genc_sum(ctx, genc_reshape(ctx, genc_contiguous(ctx, t), 2, (const int64_t[]){t->shape[0], -1}), 1, false);
}

static genc_tensor *channels(genc_ctx *ctx, genc_tensor *x, int64_t start, int64_t len) {
    return genc_contiguous(ctx, genc_slice(ctx, x, 1, start, len));
}

/* W = P L U' with L = lower * (strict lower mask) + I and U' = upper * (strict upper mask) +
 * diag(sign * exp(log_s)) (Glow sec. 3.2, LU decomposition); W [C, C]. */
static genc_tensor *invconv_weight(genc_ctx *ctx, genc_glow_step *s) {
    int64_t C = s->C, sh[2] = {C, C};
    genc_tensor *lmask = genc_tensor_zeros(ctx, 2, sh), *umask = genc_tensor_zeros(ctx, 2, sh);
    genc_tensor *eye = genc_tensor_zeros(ctx, 2, sh), *pm = genc_tensor_zeros(ctx, 2, sh);
    genc_tensor *sign = genc_tensor_empty(ctx, 1, sh);
    if (!lmask || !umask || !eye || !pm || !sign) return NULL;
    for (int64_t i = 0; i < C; i++) {
        for (int64_t j = 0; j < C; j++) lmask->data[i * C + j] = j < i, umask->data[i * C + j] = j > i;
        eye->data[i * C + i] = 1;
        pm->data[s->perm[i] * C + i] = 1; /* row perm[i] of P M is row i of M */
        sign->data[i] = (genc_real)s->sign[i];
    }
    genc_tensor *L = genc_add(ctx, genc_mul(ctx, s->lower, lmask), eye);
    genc_tensor *diag = genc_mul(ctx, eye, genc_mul(ctx, sign, genc_exp(ctx, s->log_s))); /* eye[i,j] d[j] */
    genc_tensor *U = genc_add(ctx, genc_mul(ctx, s->upper, umask), diag);
    return genc_matmul(ctx, pm, genc_matmul(ctx, L, U));
}

/* Kernel: the inverse of a small C x C matrix by Gauss-Jordan with partial pivoting, in double. */
static bool invert_matrix(int C, const genc_real *w, genc_real *out) {
    double *a = malloc((size_t)(2 * C * C) * sizeof *a);
    if (!a) return false;
    for (int i = 0; i < C; i++)
        for (int j = 0; j < 2 * C; j++) a[i * 2 * C + j] = j < C ? w[i * C + j] : (j - C == i);
    bool ok = true;
    for (int k = 0; k < C && ok; k++) {
        int p = k;
        for (int i = k + 1; i < C; i++)
            if (fabs(a[i * 2 * C + k]) > fabs(a[p * 2 * C + k])) p = i;
        ok = a[p * 2 * C + k] != 0;
        for (int j = 0; ok && p != k && j < 2 * C; j++) {
            double t = a[k * 2 * C + j];
            a[k * 2 * C + j] = a[p * 2 * C + j], a[p * 2 * C + j] = t;
        }
        double piv = ok ? a[k * 2 * C + k] : 1;
        for (int j = 0; j < 2 * C; j++) a[k * 2 * C + j] /= piv;
        for (int i = 0; i < C; i++) {
            double f = i == k ? 0 : a[i * 2 * C + k];
            for (int j = 0; f != 0 && j < 2 * C; j++) a[i * 2 * C + j] -= f * a[k * 2 * C + j];
        }
    }
    for (int i = 0; ok && i < C; i++)
        for (int j = 0; j < C; j++) out[i * C + j] = (genc_real)a[i * 2 * C + C + j];
    free(a);
    return ok;
}

static genc_tensor *conv1x1(genc_ctx *ctx, genc_tensor *x, genc_tensor *w) {
    return genc_conv2d(ctx, x, genc_reshape(ctx, w, 4, (const int64_t[]){w->shape[0], w->shape[1], 1, 1}), NULL, 1, 0);
}

/* The coupling NN: (shift, raw) halves of conv3x3(ReLU(conv1x1(ReLU(conv3x3(x_a))))). */
static genc_tensor *coupling_nn(genc_ctx *ctx, genc_glow_step *s, genc_tensor *xa) {
    genc_tensor *h = genc_relu(ctx, genc_conv2d(ctx, xa, s->w1, s->b1, 1, 1));
    h = genc_relu(ctx, genc_conv2d(ctx, h, s->w2, s->b2, 1, 0));
    return genc_conv2d(ctx, h, s->w3, s->b3, 1, 1);
}

/* Split prior: (mean, logs) halves of conv3x3(z1). */
static genc_tensor *split_nn(genc_ctx *ctx, genc_glow_level *L, genc_tensor *z1) {
    return genc_conv2d(ctx, z1, L->split_w, L->split_b, 1, 1);
}

static genc_tensor *layer_check(genc_ctx *ctx, genc_glow *m, int level, int step, genc_glow_layer kind, genc_tensor *x) {
    if (!x) return NULL;
    if (level < 0 || level >= m->cfg.levels || step < 0 || step >= m->cfg.steps ||
        (kind == GENC_GLOW_SPLIT && !m->lev[level].split_w)) {
        genc_error(ctx, GENC_EINVAL, "glow: no layer %d at level %d step %d", (int)kind, level, step);
        return NULL;
    }
    genc_glow_level *L = &m->lev[level];
    if (x->ndim != 4 || x->shape[1] != L->C || x->shape[2] != L->H || x->shape[3] != L->W) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "glow: level %d input %s, expected [N, %d, %d, %d]", level, genc_shape_str(x, b, 64),
                   L->C, L->H, L->W);
        return NULL;
    }
    return x;
}

genc_tensor *genc_glow_layer_forward(genc_ctx *ctx, genc_glow *m, int level, int step, genc_glow_layer kind,
                                     genc_tensor *x, genc_tensor **logdet) {
    if (!layer_check(ctx, m, level, step, kind, x)) return NULL;
    genc_glow_level *L = &m->lev[level];
    genc_glow_step *s = &L->steps[step];
    double hw = (double)L->H * L->W;
    int64_t C = L->C, Ch = C / 2;
    switch (kind) {
    case GENC_GLOW_ACTNORM: /* y = (x + b) exp(logs); log-det H W sum(logs) */
        *logdet = genc_scale(ctx, genc_sum_all(ctx, s->an_logs), hw);
        return genc_mul(ctx, genc_add(ctx, x, s->an_bias), genc_exp(ctx, s->an_logs));
    case GENC_GLOW_INVCONV: /* y = W x; log-det H W log|det W| = H W sum(log_s) */
        *logdet = genc_scale(ctx, genc_sum_all(ctx, s->log_s), hw);
        return conv1x1(ctx, x, invconv_weight(ctx, s));
    case GENC_GLOW_COUPLING: { /* y_b = (x_b + shift) * sigmoid(raw + 2); log-det sum log sigmoid */
        genc_tensor *xa = channels(ctx, x, 0, Ch), *xb = channels(ctx, x, Ch, C - Ch);
        genc_tensor *h = coupling_nn(ctx, s, xa);
        genc_tensor *shift = channels(ctx, h, 0, C - Ch), *raw = genc_add_scalar(ctx, channels(ctx, h, C - Ch, C - Ch), 2.0);
        genc_tensor *scale = genc_sigmoid(ctx, raw);
        *logdet = genc_scale(ctx, sum_per_example(ctx, genc_softplus(ctx, genc_scale(ctx, raw, -1.0))), -1.0);
        genc_tensor *yb = genc_mul(ctx, genc_add(ctx, xb, shift), scale);
        return genc_concat(ctx, (genc_tensor *[]){xa, yb}, 2, 1);
    }
    case GENC_GLOW_SPLIT: { /* eps = (z2 - mean(z1)) exp(-logs(z1)); log-det -sum(logs) */
        genc_tensor *z1 = channels(ctx, x, 0, Ch), *z2 = channels(ctx, x, Ch, C - Ch);
        genc_tensor *h = split_nn(ctx, L, z1);
        genc_tensor *mean = channels(ctx, h, 0, C - Ch), *logs = channels(ctx, h, C - Ch, C - Ch);
        *logdet = genc_scale(ctx, sum_per_example(ctx, logs), -1.0);
        genc_tensor *eps = genc_mul(ctx, genc_sub(ctx, z2, mean), genc_exp(ctx, genc_scale(ctx, logs, -1.0)));
        return genc_concat(ctx, (genc_tensor *[]){z1, eps}, 2, 1);
    }
    }
    return NULL;
}

genc_tensor *genc_glow_layer_inverse(genc_ctx *ctx, genc_glow *m, int level, int step, genc_glow_layer kind,
                                     genc_tensor *y) {
    if (!layer_check(ctx, m, level, step, kind, y)) return NULL;
    genc_glow_level *L = &m->lev[level];
    genc_glow_step *s = &L->steps[step];
    int64_t C = L->C, Ch = C / 2;
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *x = NULL;
    switch (kind) {
    case GENC_GLOW_ACTNORM: /* x = y exp(-logs) - b */
        x = genc_sub(ctx, genc_mul(ctx, y, genc_exp(ctx, genc_scale(ctx, s->an_logs, -1.0))), s->an_bias);
        break;
    case GENC_GLOW_INVCONV: {
        genc_tensor *w = genc_contiguous(ctx, invconv_weight(ctx, s));
        genc_tensor *wi = w ? genc_tensor_empty(ctx, 2, w->shape) : NULL;
        if (wi && !invert_matrix((int)C, w->data, wi->data))
            genc_error(ctx, GENC_EINVAL, "glow: level %d step %d: the 1x1 convolution is singular", level, step);
        x = genc_ctx_status(ctx) ? NULL : conv1x1(ctx, y, wi);
        break;
    }
    case GENC_GLOW_COUPLING: { /* x_b = y_b / scale - shift */
        genc_tensor *ya = channels(ctx, y, 0, Ch), *yb = channels(ctx, y, Ch, C - Ch);
        genc_tensor *h = coupling_nn(ctx, s, ya);
        genc_tensor *shift = channels(ctx, h, 0, C - Ch);
        genc_tensor *scale = genc_sigmoid(ctx, genc_add_scalar(ctx, channels(ctx, h, C - Ch, C - Ch), 2.0));
        genc_tensor *xb = genc_sub(ctx, genc_div(ctx, yb, scale), shift);
        x = genc_concat(ctx, (genc_tensor *[]){ya, xb}, 2, 1);
        break;
    }
    case GENC_GLOW_SPLIT: { /* z2 = eps exp(logs(z1)) + mean(z1) */
        genc_tensor *z1 = channels(ctx, y, 0, Ch), *eps = channels(ctx, y, Ch, C - Ch);
        genc_tensor *h = split_nn(ctx, L, z1);
        genc_tensor *mean = channels(ctx, h, 0, C - Ch), *logs = channels(ctx, h, C - Ch, C - Ch);
        genc_tensor *z2 = genc_add(ctx, genc_mul(ctx, eps, genc_exp(ctx, logs)), mean);
        x = genc_concat(ctx, (genc_tensor *[]){z1, z2}, 2, 1);
        break;
    }
    }
    genc_set_grad_enabled(ctx, old);
    return x;
}

/* ---- the whole flow ---- */

static genc_tensor *add_logdet(genc_ctx *ctx, genc_tensor *acc, genc_tensor *ld) {
    return acc ? genc_add(ctx, acc, ld) : ld;
}

/* Actnorm data init on its input x: b = -mean_c, logs = -log(std_c + 1e-6) (openai/glow). */
static void actnorm_init(genc_glow_step *s, const genc_tensor *x) {
    int64_t N = x->shape[0], C = x->shape[1], P = x->shape[2] * x->shape[3];
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double sum = 0, sq = 0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < P; p++) sum += x->data[(n * C + c) * P + p];
        double mean = sum / (double)(N * P);
        for (int64_t n = 0; n < N; n++)
            for (int64_t p = 0; p < P; p++) {
                double d = x->data[(n * C + c) * P + p] - mean;
                sq += d * d;
            }
        s->an_bias->data[c] = (genc_real)-mean;
        s->an_logs->data[c] = (genc_real)-log(sqrt(sq / (double)(N * P)) + 1e-6);
    }
}

/* The forward pass; with `init`, each actnorm is data-initialised on its input first. */
static genc_tensor *flow_forward(genc_ctx *ctx, genc_glow *m, genc_tensor *x, genc_tensor **logdet, bool init) {
    if (!x) return NULL;
    if (x->ndim != 2 || x->shape[1] != m->dim) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "glow: input %s, expected [N, %d]", genc_shape_str(x, b, 64), m->dim);
        return NULL;
    }
    int64_t N = x->shape[0];
    genc_tensor *z = genc_reshape(ctx, genc_contiguous(ctx, x), 4, (const int64_t[]){N, 1, m->cfg.rows, m->cfg.cols});
    genc_tensor *ld = NULL, *part, *outs[8];
    int n_out = 0;
    for (int l = 0; l < m->cfg.levels; l++) {
        genc_glow_level *L = &m->lev[l];
        z = genc_squeeze2x2(ctx, z);
        for (int k = 0; k < m->cfg.steps; k++) {
            if (init && z) actnorm_init(&L->steps[k], genc_contiguous(ctx, z));
            for (int kind = GENC_GLOW_ACTNORM; kind <= GENC_GLOW_COUPLING; kind++) {
                z = genc_glow_layer_forward(ctx, m, l, k, (genc_glow_layer)kind, z, &part);
                ld = add_logdet(ctx, ld, part);
            }
        }
        if (L->split_w) {
            z = genc_glow_layer_forward(ctx, m, l, 0, GENC_GLOW_SPLIT, z, &part);
            ld = add_logdet(ctx, ld, part);
            if (!z) return NULL;
            outs[n_out++] = genc_reshape(ctx, channels(ctx, z, L->C / 2, L->C - L->C / 2), 2, (const int64_t[]){N, -1});
            z = channels(ctx, z, 0, L->C / 2);
        }
    }
    if (!z || !ld) return NULL;
    outs[n_out++] = genc_reshape(ctx, z, 2, (const int64_t[]){N, -1});
    if (logdet) *logdet = ld->shape[0] == N ? ld : genc_add(ctx, ld, genc_tensor_zeros(ctx, 1, (const int64_t[]){N}));
    return n_out == 1 ? outs[0] : genc_concat(ctx, outs, n_out, 1);
}

genc_tensor *genc_glow_forward(genc_ctx *ctx, genc_glow *m, genc_tensor *x, genc_tensor **logdet) {
    return flow_forward(ctx, m, x, logdet, false);
}

/* log p(x) = sum_d log N(h_d; 0, 1) + log-det. */
genc_tensor *genc_glow_log_prob(genc_ctx *ctx, genc_glow *m, genc_tensor *x, genc_tensor **h_out) {
    genc_tensor *ld = NULL, *h = flow_forward(ctx, m, x, &ld, false);
    if (h_out) *h_out = h;
    if (!h) return NULL;
    genc_tensor *prior = genc_add_scalar(ctx, genc_scale(ctx, genc_sum(ctx, genc_square(ctx, h), 1, false), -0.5),
                                         -0.5 * m->dim * log(2 * M_PI));
    return genc_add(ctx, prior, ld);
}

genc_status genc_glow_data_init(genc_ctx *ctx, genc_glow *m, genc_tensor *x) {
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *h = flow_forward(ctx, m, x, NULL, true);
    genc_set_grad_enabled(ctx, old);
    genc_status s = h ? GENC_OK : genc_ctx_status(ctx);
    genc_step_reset(ctx);
    return s;
}

genc_tensor *genc_glow_inverse(genc_ctx *ctx, genc_glow *m, genc_tensor *h) {
    if (!h) return NULL;
    if (h->ndim != 2 || h->shape[1] != m->dim) {
        char b[64];
        genc_error(ctx, GENC_EINVAL, "glow: latent %s, expected [N, %d]", genc_shape_str(h, b, 64), m->dim);
        return NULL;
    }
    bool old = genc_set_grad_enabled(ctx, false);
    int64_t N = h->shape[0], off[8], o = 0;
    for (int l = 0; l < m->cfg.levels; l++) { /* where each level's emitted part starts in h */
        genc_glow_level *L = &m->lev[l];
        off[l] = o;
        o += (int64_t)(L->split_w ? L->C - L->C / 2 : L->C) * L->H * L->W;
    }
    genc_tensor *z = NULL;
    for (int l = m->cfg.levels - 1; l >= 0; l--) {
        genc_glow_level *L = &m->lev[l];
        if (!L->split_w) {
            z = genc_reshape(ctx, genc_contiguous(ctx, genc_slice(ctx, h, 1, off[l], (int64_t)L->C * L->H * L->W)), 4,
                             (const int64_t[]){N, L->C, L->H, L->W});
        } else {
            int64_t c2 = L->C - L->C / 2;
            genc_tensor *eps = genc_reshape(ctx, genc_contiguous(ctx, genc_slice(ctx, h, 1, off[l], c2 * L->H * L->W)), 4,
                                            (const int64_t[]){N, c2, L->H, L->W});
            z = genc_glow_layer_inverse(ctx, m, l, 0, GENC_GLOW_SPLIT, genc_concat(ctx, (genc_tensor *[]){z, eps}, 2, 1));
        }
        for (int k = m->cfg.steps - 1; k >= 0; k--)
            for (int kind = GENC_GLOW_COUPLING; kind >= GENC_GLOW_ACTNORM; kind--)
                z = genc_glow_layer_inverse(ctx, m, l, k, (genc_glow_layer)kind, z);
        z = genc_unsqueeze2x2(ctx, z);
    }
    genc_tensor *x = z ? genc_reshape(ctx, z, 2, (const int64_t[]){N, m->dim}) : NULL;
    genc_set_grad_enabled(ctx, old);
    return x;
}

genc_status genc_glow_sample(genc_ctx *ctx, genc_glow *m, int64_t n, double temperature, uint64_t seed, float *out) {
    enum { CHUNK = 128 };
    for (int64_t s = 0; s < n && !genc_ctx_status(ctx); s += CHUNK) {
        int64_t c = n - s < CHUNK ? n - s : CHUNK, shape[2] = {c, m->dim};
        genc_tensor *h = genc_tensor_empty(ctx, 2, shape);
        if (!h) break;
        /* draws row-major over (image, dim) of the whole sample, so chunking changes nothing */
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < c * m->dim; i++)
            h->data[i] = (genc_real)(temperature * genc_philox_normal(seed, (uint64_t)(s * m->dim + i)));
        genc_tensor *x = genc_glow_inverse(ctx, m, h);
        if (x)
            for (int64_t i = 0; i < c * m->dim; i++) out[s * m->dim + i] = (float)x->data[i];
        genc_step_reset(ctx);
    }
    return genc_ctx_status(ctx);
}

