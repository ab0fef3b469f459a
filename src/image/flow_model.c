/* The image flows (NICE, Glow) as one model type, and their recipe: loading either from a
 * checkpoint, log-likelihood of dequantised images, sampling, encoding and inverting, and
 * maximum-likelihood training (data-initialised scales, validation nll and bits/dim, the test
 * log-likelihood of the best checkpoint) through the one training loop. */
#include "genc/data.h"
#include "genc/flow_model.h"
#include "genc/ops.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

genc_params *genc_flow_params(genc_flow_model *f) { return f->glow ? &f->g.params : &f->nice.params; }
const char *genc_flow_name(const genc_flow_model *f) { return f->glow ? "Glow" : "NICE"; }

static void set_dims(genc_flow_model *f) {
    f->rows = f->glow ? f->g.cfg.rows : f->nice.cfg.rows, f->cols = f->glow ? f->g.cfg.cols : f->nice.cfg.cols;
    f->dim = f->rows * f->cols;
}

void genc_flow_model_free(genc_flow_model *f) {
    if (f->glow) genc_glow_free(&f->g);
    else genc_nice_free(&f->nice);
}

static char *config_json(const genc_flow_model *f) {
    return f->glow ? genc_glow_config_json(&f->g.cfg) : genc_nice_config_json(&f->nice.cfg);
}

genc_tensor *genc_flow_model_log_prob(genc_ctx *ctx, genc_flow_model *f, genc_tensor *x) {
    return f->glow ? genc_glow_log_prob(ctx, &f->g, x, NULL) : genc_nice_log_prob(ctx, &f->nice, x, NULL);
}

/* x -> the latent h. */
genc_tensor *genc_flow_model_encode(genc_ctx *ctx, genc_flow_model *f, genc_tensor *x) {
    return f->glow ? genc_glow_forward(ctx, &f->g, x, NULL)
                   : genc_nice_forward(ctx, &f->nice, x, f->nice.cfg.couplings, true);
}

genc_tensor *genc_flow_model_inverse(genc_ctx *ctx, genc_flow_model *f, genc_tensor *h) {
    return f->glow ? genc_glow_inverse(ctx, &f->g, h) : genc_nice_inverse(ctx, &f->nice, h);
}

genc_status genc_flow_model_sample(genc_ctx *ctx, genc_flow_model *f, int64_t n, double t, uint64_t seed, float *out) {
    return f->glow ? genc_glow_sample(ctx, &f->g, n, t, seed, out) : genc_nice_sample(ctx, &f->nice, n, t, seed, out);
}

static genc_status ckpt_extra(genc_ctx *ctx, void *user, genc_st_writer *w) {
    genc_flow_model *f = user;
    return f->glow ? genc_glow_ckpt_extra(ctx, &f->g, w) : genc_nice_ckpt_extra(ctx, &f->nice, w);
}

/* Load either flow: the checkpoint's config names the model. */
genc_status genc_flow_model_load(genc_ctx *ctx, const char *path, genc_flow_model *f) {
    memset(f, 0, sizeof *f);
    char *model = genc_flow_checkpoint_model(ctx, path);
    if (!model) return genc_ctx_status(ctx);
    genc_status s;
    if (!strcmp(model, "glow")) f->glow = true, s = genc_glow_load(ctx, path, &f->g);
    else if (!strcmp(model, "nice")) s = genc_nice_load(ctx, path, &f->nice);
    else s = genc_error(ctx, GENC_EFORMAT, "%s: config model \"%s\" is not an image flow (nice or glow)", path, model);
    free(model);
    if (!s) set_dims(f);
    return s;
}

/* Dequantised images idx[0..n) of d as an [n, D] step tensor; noise draws offset.. of seed. */
genc_tensor *genc_flow_batch_input(genc_ctx *ctx, const genc_dataset *d, const int64_t *idx, int64_t n, float *pix,
                                uint64_t seed, uint64_t offset) {
    int64_t D = (int64_t)d->rows * d->cols, shape[2] = {n, D};
    genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
    if (!x) return NULL;
    genc_dataset_gather(d, idx, n, pix, NULL);
    genc_nice_dequantize(pix, n * D, seed, offset, x->data);
    return x;
}

/* Mean log p(x) (nats) over a data set, with fixed dequantisation noise, no gradients. */
genc_status genc_flow_mean_log_prob(genc_ctx *ctx, genc_flow_model *m, const genc_dataset *d, uint64_t seed, double *out) {
    enum { B = 250 };
    int64_t idx[B], D = m->dim;
    float *pix = malloc((size_t)(B * D) * sizeof *pix);
    if (!pix) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    double total = 0;
    bool old = genc_set_grad_enabled(ctx, false);
    for (int64_t s = 0; s < d->n; s += B) {
        int64_t n = d->n - s < B ? d->n - s : B;
        for (int64_t k = 0; k < n; k++) idx[k] = s + k;
        genc_tensor *lp = genc_flow_model_log_prob(ctx, m, genc_flow_batch_input(ctx, d, idx, n, pix, seed, (uint64_t)(s * D)));
        if (!lp) break;
        for (int64_t k = 0; k < n; k++) total += lp->data[k];
        genc_step_reset(ctx);
    }
    genc_set_grad_enabled(ctx, old);
    free(pix);
    *out = total / (double)(d->n > 0 ? d->n : 1);
    return genc_ctx_status(ctx);
}

/* ---- train ---- */

typedef struct {
    genc_flow_model *model;
    genc_dataset *train, *val;
    genc_batcher batcher;
    int64_t *idx;
    float *pix;
} train_job;

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    train_job *j = user;
    int64_t n = genc_batcher_next(&j->batcher, j->idx), D = j->model->dim;
    st->epoch = j->batcher.epoch, st->pos = j->batcher.pos;
    *items = (double)n;
    uint64_t off = genc_rng_take(ctx, (uint64_t)(n * D));
    genc_tensor *x = genc_flow_batch_input(ctx, j->train, j->idx, n, j->pix, genc_rng_get_seed(ctx), off);
    return genc_scale(ctx, genc_mean_all(ctx, genc_flow_model_log_prob(ctx, j->model, x)), -1.0); /* nll, nats */
}

static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    train_job *j = user;
    double lp;
    genc_status s = genc_flow_mean_log_prob(ctx, j->model, j->val, GENC_FLOW_EVAL_SEED, &lp);
    if (s) return s;
    *metric = -lp;
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f}", "event", "eval", "step", (json_int_t)st->step, "val_nll", -lp,
                            "val_bpd", genc_nice_bits_per_dim(lp, j->model->dim));
}

static genc_status prepare_data(genc_ctx *ctx, const genc_flow_train_config *a, genc_dataset *tr, genc_dataset *val) {
    genc_status s = genc_data_train_split(ctx, a->data, a->mnist_dir, a->val, a->seed, a->limit, tr, val);
    if (!s && a->batch > tr->n)
        s = genc_error(ctx, GENC_EINVAL, "--batch %lld is larger than the %lld training images", (long long)a->batch,
                       (long long)tr->n);
    return s;
}

static genc_status setup_model(genc_ctx *ctx, const genc_flow_train_config *a, const genc_dataset *d, genc_flow_model *m) {
    genc_status s;
    memset(m, 0, sizeof *m);
    if (!strcmp(a->model, "glow")) {
        genc_glow_config c = genc_glow_defaults();
        c.rows = d->rows, c.cols = d->cols, c.levels = (int)a->levels, c.steps = (int)a->flow_steps;
        if (a->hidden) c.hidden = (int)a->hidden;
        m->glow = true;
        s = genc_glow_init(ctx, &m->g, &c);
    } else if (!strcmp(a->model, "nice")) {
        genc_nice_config c = genc_nice_defaults();
        c.rows = d->rows, c.cols = d->cols, c.layers = (int)a->layers;
        if (a->hidden) c.hidden = (int)a->hidden;
        c.couplings = (int)a->couplings, c.perm_seed = (uint64_t)a->perm_seed;
        s = genc_nice_prior_parse(ctx, a->prior, &c.prior);
        if (!s) s = genc_nice_init(ctx, &m->nice, &c);
    } else {
        return genc_error(ctx, GENC_EINVAL, "--model: expected nice or glow, found \"%s\"", a->model);
    }
    if (!s) set_dims(m);
    return s;
}

/* --scale-init data: NICE's s, or every Glow actnorm, from the first (up to) 1,000 training
 * images (genc_nice_data_init, genc_glow_data_init). */
static genc_status init_scale(genc_ctx *ctx, const genc_flow_train_config *a, genc_flow_model *m, const genc_dataset *tr) {
    if (!strcmp(a->scale_init, "zero")) return GENC_OK;
    if (strcmp(a->scale_init, "data"))
        return genc_error(ctx, GENC_EINVAL, "--scale-init: expected data or zero, found \"%s\"", a->scale_init);
    int64_t n = tr->n < 1000 ? tr->n : 1000;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *pix = malloc((size_t)(n * m->dim) * sizeof *pix);
    genc_status s = idx && pix ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t k = 0; !s && k < n; k++) idx[k] = k;
    genc_tensor *x = s ? NULL : genc_flow_batch_input(ctx, tr, idx, n, pix, (uint64_t)a->seed ^ 0x5ca1eULL, 0);
    if (!s) s = m->glow ? genc_glow_data_init(ctx, &m->g, x) : genc_nice_data_init(ctx, &m->nice, x);
    free(idx), free(pix);
    return s;
}

static genc_status setup_optim(genc_ctx *ctx, const genc_flow_train_config *a, const genc_params *p, genc_optim *o) {
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = a->lr, oc.beta1 = a->beta1, oc.beta2 = a->beta2, oc.eps = a->eps, oc.weight_decay = a->wd;
    return genc_optim_init(ctx, o, p, &oc);
}

/* Test log-likelihood of the best checkpoint (by validation), logged. */
static genc_status test_report(genc_ctx *ctx, const genc_flow_train_config *a, genc_metrics *log,
                               genc_flow_train_result *r) {
    genc_dataset test = {0};
    genc_flow_model m = {0};
    double lp = 0;
    genc_status s = genc_flow_model_load(ctx, a->best_checkpoint, &m);
    if (!s) s = genc_data_load_named(ctx, a->data, a->mnist_dir, false, &test);
    if (!s) s = genc_flow_mean_log_prob(ctx, &m, &test, GENC_FLOW_EVAL_SEED, &lp);
    if (!s) {
        r->tested = true, r->test_ll = lp, r->test_bpd = genc_nice_bits_per_dim(lp, m.dim), r->test_images = test.n;
        s = genc_metrics_log(log, "{s:s, s:f, s:f, s:I}", "event", "test", "test_ll", lp, "test_bpd", r->test_bpd,
                             "test_images", (json_int_t)test.n);
    }
    genc_flow_model_free(&m);
    genc_dataset_free(&test);
    return s;
}

static genc_status train_loop(genc_ctx *ctx, const genc_flow_train_config *a, train_job *job, genc_optim *o,
                              genc_train_state *st, genc_metrics *log, genc_flow_train_result *r) {
    char *cfg_json = config_json(job->model);
    if (!cfg_json) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_flow_train_info info = {.model = job->model, .n_train = job->train->n, .n_val = job->val->n, .steps = r->steps};
    if (a->on_start) a->on_start(a->user, &info);
    genc_train_config tc = {.steps = r->steps, .eval_every = a->eval_every, .save_every = a->save_every, .clip = a->clip,
                            .checkpoint = a->checkpoint, .best_checkpoint = a->best_checkpoint, .config_json = cfg_json,
                            .label = job->model->glow ? "glow" : "nice", .metrics = log, .stop = a->stop,
                            .stop_at = a->stop_at, .ckpt_extra = ckpt_extra, .ckpt_extra_user = job->model,
                            .schedule = {.min_lr = a->min_lr, .warmup = a->warmup, .total = r->steps}};
    genc_status s = genc_schedule_parse(ctx, a->schedule, &tc.schedule.kind);
    genc_train_hooks h = {.user = job, .step_loss = step_loss, .evaluate = evaluate};
    if (!s) s = genc_train_run(ctx, &tc, genc_flow_params(job->model), o, &h, st);
    free(cfg_json);
    r->steps_done = st->step;
    if (!s && st->step >= r->steps) s = test_report(ctx, a, log, r);
    return s;
}

genc_status genc_flow_train(genc_ctx *ctx, const genc_flow_train_config *a, genc_flow_train_result *r) {
    genc_dataset tr = {0}, val = {0};
    genc_flow_model m = {0};
    genc_optim o = {0};
    train_job job = {.model = &m, .train = &tr, .val = &val};
    genc_metrics *log = NULL;
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    memset(r, 0, sizeof *r);
    genc_status s = prepare_data(ctx, a, &tr, &val);
    if (!s) s = setup_model(ctx, a, &tr, &m);
    if (!s) s = setup_optim(ctx, a, genc_flow_params(&m), &o);
    if (!s && !a->resume) s = init_scale(ctx, a, &m, &tr);
    if (!s && a->resume) {
        char *cfg_json = config_json(&m);
        s = genc_checkpoint_resume(ctx, a->checkpoint, cfg_json, genc_flow_params(&m), &o, &st);
        free(cfg_json);
    }
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s) s = genc_batcher_init(ctx, &job.batcher, tr.n, a->batch, st.data_seed, true);
    if (!s) s = genc_batcher_seek(ctx, &job.batcher, st.epoch, st.pos);
    job.idx = malloc((size_t)a->batch * sizeof *job.idx);
    job.pix = malloc((size_t)(a->batch * (m.dim ? m.dim : 1)) * sizeof *job.pix);
    if (!s && (!job.idx || !job.pix)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && !(log = genc_metrics_open(ctx, a->metrics, a->resume))) s = genc_ctx_status(ctx);
    r->steps = a->steps > 0 ? a->steps : a->epochs * (tr.n / (a->batch ? a->batch : 1));
    if (!s) s = train_loop(ctx, a, &job, &o, &st, log, r);
    r->best_val_nll = st.best_metric;
    free(job.idx), free(job.pix);
    genc_metrics_close(log);
    genc_batcher_free(&job.batcher);
    genc_optim_free(&o);
    genc_flow_model_free(&m);
    genc_dataset_free(&tr), genc_dataset_free(&val);
    return s;
}

genc_flow_train_config genc_flow_train_defaults(void) {
    return (genc_flow_train_config){
        .model = "nice", .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .prior = "logistic", .schedule = "constant",
        .scale_init = "data", .epochs = 10, .batch = 200, .hidden = 0, .layers = 5, .couplings = 4, .levels = 2,
        .flow_steps = 8, .perm_seed = 1, .val = 1000, .seed = 1, .eval_every = 200, .lr = 1e-3, .beta1 = 0.9,
        .beta2 = 0.99, .eps = 1e-4};
}
