/* The diffusion family's model: loading a DDPM or rectified-flow checkpoint, the network as a
 * sampler callback (with classifier-free guidance, Ho & Salimans 2022), generation with any
 * sampler, the straightness of rectified-flow paths, the DDIM inversion round trip and the
 * samples file. Training is diffusion_train.c. */
#include "genc/diffusion_model.h"
#include "genc/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool genc_diff_is_checkpoint(const char *path) {
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

/* Straightness (Liu et al. 2022, S(Z)) of the Euler paths from the first n noises, per pixel. */
genc_status genc_diff_straightness(genc_ctx *ctx, genc_diff_model *m, int64_t n, int steps, const float *z,
                                   double *total) {
    int64_t dim = (int64_t)m->cfg.unet.rows * m->cfg.unet.cols * m->cfg.unet.channels, B = 250;
    float *tnet = malloc((size_t)B * sizeof *tnet);
    denoise_job dj = {.m = m, .guidance = 1, .tnet = tnet};
    double sum = 0;
    genc_status s = tnet ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t f = 0; !s && f < n; f += B) {
        int64_t k = n - f < B ? n - f : B;
        double part = 0;
        s = genc_rflow_straightness(ctx, denoise, &dj, k, dim, steps, z + f * dim, &part);
        sum += part * (double)k;
    }
    *total = sum / (double)n;
    free(tnet);
    return s;
}

genc_status genc_diff_ddim_roundtrip(genc_ctx *ctx, genc_diff_model *m, int steps, const char *spacing, int64_t n,
                                     float *x, float *latents) {
    if (strcmp(m->cfg.model, "ddpm")) return genc_error(ctx, GENC_EINVAL, "--invert: needs a ddpm checkpoint");
    int64_t dim = (int64_t)m->cfg.unet.rows * m->cfg.unet.cols * m->cfg.unet.channels;
    int32_t *ts = malloc((size_t)steps * sizeof *ts);
    float *tnet = malloc((size_t)(n + 1) * sizeof *tnet);
    genc_status s = ts && tnet ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_spacing sp;
    if (!s && genc_spacing_parse(ctx, spacing, &sp)) s = genc_error_prefix(ctx, false, "--spacing");
    if (!s) s = genc_ddim_timesteps(ctx, m->cfg.T, steps, sp, ts);
    denoise_job dj = {.m = m, .guidance = 1, .tnet = tnet};
    genc_sampler_opts o = genc_sampler_defaults();
    o.pred = m->cfg.pred;
    if (!s) s = genc_ddim_invert(ctx, &m->sched, ts, steps, denoise, &dj, n, dim, &o, x);
    if (!s && latents) memcpy(latents, x, (size_t)(n * dim) * sizeof *x);
    if (!s) s = genc_ddim_sample(ctx, &m->sched, ts, steps, denoise, &dj, n, dim, &o, x);
    free(ts), free(tnet);
    return s;
}

genc_status genc_diff_save_samples(genc_ctx *ctx, const char *path, const char **names, float **data, int k, int64_t n,
                                   int64_t dim, const char *source) {
    genc_st_writer *w = genc_st_writer_new(ctx);
    int64_t shape[2] = {n, dim};
    genc_status s = w ? GENC_OK : genc_ctx_status(ctx);
    for (int i = 0; !s && i < k; i++) s = genc_st_writer_add_f32(w, names[i], GENC_DT_F32, 2, shape, data[i]);
    if (!s) s = genc_st_writer_meta(w, "source", source);
    if (!s) s = genc_st_writer_save(w, path);
    genc_st_writer_free(w);
    return s;
}

/* The defaults are the best measured (docs/diffusion.md): the ddpm sampler on a DDPM
 * checkpoint, and DDIM with eta 1, better than eta 0 at every step count (50 steps: FID 187.9
 * against 263.9). */
genc_diff_sampling genc_diff_sampling_defaults(void) {
    return (genc_diff_sampling){.sampler = "", .spacing = "uniform", .variance = "fixed_small", .steps = 50, .eta = 1,
                                .guidance = 1, .clip = true, .label = -1, .batch = 250};
}

genc_status genc_diff_read_samples(genc_ctx *ctx, const char *path, int64_t dim, int64_t need, int64_t max,
                                   float *out, int64_t *n_read) {
    genc_st *f;
    *n_read = 0;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    const genc_st_entry *e = genc_st_find(f, "images");
    int64_t take = e && e->ndim == 2 ? (e->shape[0] < max ? e->shape[0] : max) : 0, want = need > 0 ? need : take;
    if (!e || e->ndim != 2 || e->shape[1] != dim || e->shape[0] < want)
        s = genc_error(ctx, GENC_EINVAL, "%s: expected a diffusion checkpoint or an \"images\" tensor [>= %lld, %lld]",
                       path, (long long)want, (long long)dim);
    float *all = s ? NULL : malloc((size_t)(e->shape[0] * dim) * sizeof *all);
    if (!s && !all) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = genc_st_read_f32(ctx, f, "images", all, 2, e->shape);
    if (!s) memcpy(out, all, (size_t)(take * dim) * sizeof *out), *n_read = take;
    free(all);
    genc_st_close(f);
    return s;
}
