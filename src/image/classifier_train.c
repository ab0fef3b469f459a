/* The classifier family's recipe: loading a checkpoint, scoring a data set (loss, accuracy, per
 * class), and training (batches of the seeded split, cross-entropy, validation loss and
 * accuracy, the test set at the end) through the one training loop. */
#include "genc/data.h"
#include "genc/image.h"
#include "genc/ops.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Build a classifier from a checkpoint's config and load its parameters. */
genc_status genc_classifier_load(genc_ctx *ctx, const char *path, genc_classifier *m) {
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
    genc_classifier *model;
    genc_dataset *train, *val;
    genc_batcher batcher;
    int64_t *idx;
    int32_t *labels;
    genc_dist *dist;
} train_job;

/* Copy the batch's pixels into the arena and wrap them as an input tensor. */
static genc_tensor *batch_input(genc_ctx *ctx, const genc_dataset *d, const int64_t *idx, int64_t n, int32_t *labels) {
    int64_t shape[2] = {n, (int64_t)d->rows * d->cols};
    genc_tensor *x = genc_tensor_empty(ctx, 2, shape);
    if (x) genc_dataset_gather(d, idx, n, x->data, labels);
    return x;
}

/* With R ranks, rank r takes rows [r n/R, (r+1) n/R) of the batch and scales its mean loss by
 * n_r R / n, so the mean over ranks (the data-parallel average) is the batch's mean loss even when
 * the shards differ in size; a rank left without rows (n < R) runs row 0 with weight 0. */
static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    train_job *j = user;
    int64_t n = genc_batcher_next(&j->batcher, j->idx), R = genc_dist_size(j->dist), r = genc_dist_rank(j->dist);
    st->epoch = j->batcher.epoch, st->pos = j->batcher.pos;
    *items = (double)n;
    int64_t lo = r * n / R, hi = (r + 1) * n / R, rows = hi > lo ? hi - lo : 1;
    genc_tensor *x = batch_input(ctx, j->train, j->idx + (hi > lo ? lo : 0), rows, j->labels);
    genc_tensor *loss = genc_cross_entropy(ctx, genc_classifier_forward(ctx, j->model, x, NULL), j->labels, -1);
    return R == 1 ? loss : genc_scale(ctx, loss, (double)(hi - lo) * (double)R / (double)n);
}

/* Mean loss and accuracy of the model on a whole data set, in batches, no gradients. */
genc_status genc_classifier_score(genc_ctx *ctx, genc_classifier *m, const genc_dataset *d, double *loss,
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
    genc_status s = genc_classifier_score(ctx, j->model, j->val, &loss, &acc, NULL, NULL);
    if (s) return s;
    *metric = loss;
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f}", "event", "eval", "step", (json_int_t)st->step, "val_loss", loss,
                            "val_acc", acc);
}

static genc_status setup_model(genc_ctx *ctx, const genc_classifier_train_config *a, int rows, int cols, int classes, genc_classifier *m) {
    genc_classifier_config c = genc_classifier_defaults();
    if (strcmp(a->arch, "convnet") && strcmp(a->arch, "mlp"))
        return genc_error(ctx, GENC_EINVAL, "--arch: expected convnet or mlp, found \"%s\"", a->arch);
    c.arch = !strcmp(a->arch, "mlp") ? GENC_CLS_MLP : GENC_CLS_CONVNET;
    c.rows = rows, c.cols = cols, c.classes = classes;
    c.channels[0] = (int)a->c1, c.channels[1] = (int)a->c2, c.hidden = (int)a->hidden, c.dropout = a->dropout;
    return genc_classifier_init(ctx, m, &c);
}

static genc_status setup_optim(genc_ctx *ctx, const genc_classifier_train_config *a, const genc_params *p, genc_optim *o) {
    genc_opt_kind kind = GENC_OPT_ADAMW;
    if (!strcmp(a->optim, "sgd")) kind = GENC_OPT_SGD;
    else if (strcmp(a->optim, "adamw"))
        return genc_error(ctx, GENC_EINVAL, "--optim: expected adamw or sgd, found \"%s\"", a->optim);
    genc_optim_config oc = genc_optim_defaults(kind);
    oc.lr = a->lr, oc.weight_decay = a->wd, oc.momentum = a->momentum;
    return genc_optim_init(ctx, o, p, &oc);
}

/* Test loss and accuracy of the final model, also logged to the metrics. */
static genc_status test_report(genc_ctx *ctx, const genc_classifier_train_config *a, genc_classifier *m,
                               const genc_train_state *st, genc_metrics *log, genc_classifier_result *r) {
    genc_dataset test;
    genc_status s = genc_data_load_named(ctx, a->data, a->mnist_dir, false, &test);
    if (s) return s;
    s = genc_classifier_score(ctx, m, &test, &r->test_loss, &r->test_acc, NULL, NULL);
    r->test_images = test.n, r->tested = !s;
    if (!s)
        s = genc_metrics_log(log, "{s:s, s:I, s:f, s:f, s:I}", "event", "test", "step", (json_int_t)st->step,
                             "test_loss", r->test_loss, "test_acc", r->test_acc, "test_images", (json_int_t)test.n);
    genc_dataset_free(&test);
    return s;
}

static genc_status train_run(genc_ctx *ctx, const genc_classifier_train_config *a, train_job *job, genc_optim *o,
                             genc_metrics *log, const char *cfg_json, genc_train_state *st, genc_classifier_result *r) {
    genc_classifier_train_info info = {.model = job->model, .n_train = job->train->n, .n_val = job->val->n,
                                       .steps = r->steps};
    if (a->on_start) a->on_start(a->user, &info);
    genc_train_config tc = {.steps = r->steps, .eval_every = a->eval_every, .save_every = a->save_every,
                            .clip = a->clip, .checkpoint = a->checkpoint, .best_checkpoint = a->best_checkpoint,
                            .config_json = cfg_json, .label = "classify", .metrics = log, .stop = a->stop,
                            .stop_at = a->stop_at, .dist = a->dist,
                            .schedule = {.min_lr = a->min_lr, .warmup = a->warmup, .total = r->steps}};
    genc_status s = genc_schedule_parse(ctx, a->schedule, &tc.schedule.kind);
    genc_train_hooks h = {.user = job, .step_loss = step_loss, .evaluate = evaluate};
    if (!s) s = genc_train_run(ctx, &tc, &job->model->params, o, &h, st);
    r->steps_done = st->step;
    if (!s && st->step >= r->steps) s = test_report(ctx, a, job->model, st, log, r);
    return s;
}

/* Several ranks must have been started alike: version, model, flags and data size (hashed and
 * compared across ranks; the error names the first rank that differs). */
static genc_status same_on_every_rank(genc_ctx *ctx, const genc_classifier_train_config *a, const char *cfg_json,
                                      int64_t n_train) {
    if (genc_dist_size(a->dist) == 1) return GENC_OK;
    char desc[2048];
    snprintf(desc, sizeof desc, "genc %s %s %s %s %s %s steps %lld epochs %lld batch %lld val %lld limit %lld seed %lld "
             "warmup %lld eval %lld save %lld stop %lld lr %.17g %.17g wd %.17g mom %.17g clip %.17g resume %d n %lld",
             GENC_VERSION, cfg_json ? cfg_json : "", a->data, a->optim, a->schedule, a->arch, (long long)a->steps,
             (long long)a->epochs, (long long)a->batch, (long long)a->val, (long long)a->limit, (long long)a->seed,
             (long long)a->warmup, (long long)a->eval_every, (long long)a->save_every, (long long)a->stop_at, a->lr,
             a->min_lr, a->wd, a->momentum, a->clip, a->resume, (long long)n_train);
    return genc_dist_check_same(ctx, a->dist, "configuration (flags, model, data)", desc, strlen(desc));
}

genc_status genc_classifier_train(genc_ctx *ctx, const genc_classifier_train_config *a, genc_classifier_result *r) {
    genc_dataset tr = {0}, val = {0};
    genc_classifier m = {0};
    genc_optim o = {0};
    train_job job = {.model = &m, .train = &tr, .val = &val};
    genc_metrics *log = NULL;
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    memset(r, 0, sizeof *r);
    genc_status s = genc_data_train_split(ctx, a->data, a->mnist_dir, a->val, a->seed, a->limit, &tr, &val);
    if (!s) s = setup_model(ctx, a, tr.rows, tr.cols, 10, &m);
    if (!s) s = setup_optim(ctx, a, &m.params, &o);
    char *cfg_json = s ? NULL : genc_classifier_config_json(&m.cfg);
    if (!s) s = same_on_every_rank(ctx, a, cfg_json, tr.n);
    if (!s && a->resume) s = genc_checkpoint_resume(ctx, a->checkpoint, cfg_json, &m.params, &o, &st);
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s) s = genc_batcher_init(ctx, &job.batcher, tr.n, a->batch, st.data_seed, true);
    if (!s) s = genc_batcher_seek(ctx, &job.batcher, st.epoch, st.pos);
    job.idx = malloc((size_t)a->batch * sizeof *job.idx);
    job.labels = malloc((size_t)a->batch * sizeof *job.labels);
    if (!s && (!job.idx || !job.labels)) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    job.dist = a->dist;
    bool writer = genc_dist_rank(a->dist) == 0; /* rank 0 alone writes the metrics */
    if (!s && writer && !(log = genc_metrics_open(ctx, a->metrics, a->resume))) s = genc_ctx_status(ctx);
    r->steps = a->steps > 0 ? a->steps : a->epochs * (tr.n / a->batch);
    if (!s) s = train_run(ctx, a, &job, &o, log, cfg_json, &st, r);
    r->best_val_loss = st.best_metric;
    free(cfg_json), free(job.idx), free(job.labels);
    genc_metrics_close(log);
    genc_batcher_free(&job.batcher);
    genc_optim_free(&o);
    genc_classifier_free(&m);
    genc_dataset_free(&tr), genc_dataset_free(&val);
    return s;
}

genc_classifier_train_config genc_classifier_train_defaults(void) {
    return (genc_classifier_train_config){
        .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .arch = "convnet", .optim = "adamw",
        .schedule = "cosine", .epochs = 3, .batch = 128, .hidden = 256, .c1 = 32, .c2 = 64, .val = 5000, .seed = 1,
        .warmup = 100, .eval_every = 500, .lr = 2e-3, .min_lr = 1e-5, .wd = 5e-4, .momentum = 0.9, .dropout = 0.25};
}
