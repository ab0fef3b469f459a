/* The diffusion family's training recipe: images (x1 in [-1, 1], fresh noise each step) or
 * fixed (z, x) pairs for reflow and distillation, the DDPM and rectified-flow losses, the EMA of
 * the weights (stored in checkpoints as "extra.ema.<name>", used for sampling by default), the
 * held-out loss with fixed randomness, and the set-up (data -> model -> optimiser -> EMA ->
 * resume -> metrics) around the one training loop. */
#include "genc/data.h"
#include "genc/diffusion_model.h"
#include "genc/ops.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_SEED 0x65766c64ULL /* fixed t, noise and label drops of the validation loss */
#define EVAL_MAX 500            /* validation examples */
#define RF_T_MIN 1e-3           /* rectified flow training times t ~ U(1e-3, 1), as the reference code */

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

/* ---- train ---- */


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
    genc_dist *dist;
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

/* The loss of examples idx[0..n), rows i0.. of a batch of n_all, with randomness from (seed, offset)
 * drawn by the row's place in the whole batch (a rank's shard gets what one process draws): DDPM
 * ||target - net(x_t, t)||^2 (eps or v target, Ho et al. eq. 14), rectified flow
 * ||(x1 - z) - v(x_t, t)||^2 with x_t = t x1 + (1 - t) z (Liu et al. eq. 1); distillation fixes
 * t = 0, so the loss is ||x1 - (z + v(z, 0))||^2. Labels are dropped to the null class with
 * probability cond_drop. */
static genc_tensor *example_loss(genc_ctx *ctx, train_job *j, const example_set *e, const int64_t *idx, int64_t n,
                                 uint64_t seed, uint64_t off, int64_t i0, int64_t n_all) {
    const genc_diff_config *c = &j->m->cfg;
    int64_t D = e->dim, shape[2] = {n, D};
    bool ddpm = !strcmp(c->model, "ddpm");
    int32_t tint[1024];
    for (int64_t i = 0; i < n; i++) {
        memcpy(j->x1 + i * D, e->x1 + idx[i] * D, (size_t)D * sizeof *j->x1);
        for (int64_t k = 0; k < D; k++)
            j->z[i * D + k] = e->z ? e->z[idx[i] * D + k] : (float)genc_philox_normal(seed, off + (uint64_t)((i0 + i) * D + k));
        double u = genc_philox_uniform(seed, off + (uint64_t)(n_all * D + i0 + i));
        double drop = genc_philox_uniform(seed, off + (uint64_t)(n_all * D + n_all + i0 + i));
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

/* With R ranks, rank r takes rows [r n/R, (r+1) n/R) of the batch and scales its mean loss by
 * n_r R / n, so the average over ranks is the batch's mean loss (a rank left without rows, n < R,
 * runs row 0 with weight 0). U-Net dropout draws from the context's stream: there each rank
 * draws from its own region (the step's position + r 2^40) and all move on to the same place, so
 * with dropout the ranks are equivalent to one process in distribution, not in bits. */
static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    train_job *j = user;
    int64_t n = genc_batcher_next(&j->batcher, j->idx), R = genc_dist_size(j->dist), r = genc_dist_rank(j->dist);
    st->epoch = j->batcher.epoch, st->pos = j->batcher.pos;
    *items = (double)n;
    uint64_t off = genc_rng_take(ctx, (uint64_t)(n * j->train.dim + 2 * n)), at = genc_rng_offset(ctx);
    if (R == 1) return example_loss(ctx, j, &j->train, j->idx, n, genc_rng_get_seed(ctx), off, 0, n);
    int64_t lo = r * n / R, hi = (r + 1) * n / R, first = hi > lo ? lo : 0;
    bool drops = j->m->cfg.unet.dropout > 0;
    if (drops) genc_rng_set_offset(ctx, at + ((uint64_t)r << 40));
    genc_tensor *loss = example_loss(ctx, j, &j->train, j->idx + first, hi > lo ? hi - lo : 1, genc_rng_get_seed(ctx),
                                     off, first, n);
    if (drops) genc_rng_set_offset(ctx, at + ((uint64_t)R << 40));
    return genc_scale(ctx, loss, (double)(hi - lo) * (double)R / (double)n);
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
        genc_tensor *l = example_loss(ctx, j, &j->val, idx, n, EVAL_SEED, (uint64_t)(s * (j->val.dim + 2)), 0, n);
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

static genc_status config_from_flags(genc_ctx *ctx, const genc_diff_train_config *a, int rows, int cols, genc_diff_config *c) {
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
static genc_status init_from(genc_ctx *ctx, const genc_diff_train_config *a, genc_diff_model *m) {
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

static genc_status prepare_examples(genc_ctx *ctx, const genc_diff_train_config *a, train_job *j, int *rows, int *cols) {
    genc_dataset tr = {0}, val = {0};
    genc_status s = genc_data_train_split(ctx, a->data, a->mnist_dir, a->val, a->seed, a->limit, &tr, &val);
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


/* Several ranks must have been started alike: version, model, flags and data (hashed and compared
 * across ranks; the error names the first rank that differs). */
static genc_status same_on_every_rank(genc_ctx *ctx, const genc_diff_train_config *a, const char *cfg_json,
                                      int64_t n_train) {
    if (genc_dist_size(a->dist) == 1) return GENC_OK;
    size_t n = strlen(cfg_json) + 2048;
    char *desc = malloc(n);
    if (!desc) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    snprintf(desc, n, "genc %s %s data %s %s pairs %s init %s sched %s steps %lld stop %lld batch %lld val %lld limit "
             "%lld seed %lld warmup %lld eval %lld save %lld lr %.17g %.17g wd %.17g clip %.17g ema %.17g distill %d "
             "resume %d n %lld", GENC_VERSION, cfg_json, a->data, a->mnist_dir ? a->mnist_dir : "", a->pairs, a->init,
             a->schedule, (long long)a->steps, (long long)a->stop_at, (long long)a->batch, (long long)a->val,
             (long long)a->limit, (long long)a->seed, (long long)a->warmup, (long long)a->eval_every,
             (long long)a->save_every, a->lr, a->min_lr, a->wd, a->clip, a->ema, a->distill, a->resume,
             (long long)n_train);
    genc_status s = genc_dist_check_same(ctx, a->dist, "configuration (flags, model, data)", desc, strlen(desc));
    free(desc);
    return s;
}

static genc_status train_run(genc_ctx *ctx, const genc_diff_train_config *a, train_job *j, genc_optim *o,
                             genc_metrics *log, genc_diff_train_start_fn on_start, void *user, genc_diff_train_result *r) {
    genc_train_state st = {.data_seed = (uint64_t)a->seed, .best_metric = INFINITY};
    char *cfg_json = genc_diff_config_json(&j->m->cfg);
    genc_status s = cfg_json ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = same_on_every_rank(ctx, a, cfg_json, j->train.n);
    if (!s && a->resume) s = genc_checkpoint_resume(ctx, a->checkpoint, cfg_json, &j->m->net.params, o, &st);
    if (!s && a->resume) s = resume_ema(ctx, a->checkpoint, j);
    if (!s) genc_rng_set_offset(ctx, st.rng_offset);
    if (!s) s = genc_batcher_init(ctx, &j->batcher, j->train.n, a->batch, st.data_seed, true);
    if (!s) s = genc_batcher_seek(ctx, &j->batcher, st.epoch, st.pos);
    if (!s) {
        genc_diff_train_info info = {.model = j->m, .n_train = j->train.n, .n_val = j->val.n,
                                     .n_params = genc_params_numel(&j->m->net.params), .first_step = st.step};
        if (on_start) on_start(user, &info);
        r->first_step = st.step;
        genc_train_config tc = {.steps = a->steps, .eval_every = a->eval_every, .save_every = a->save_every,
                                .clip = a->clip, .checkpoint = a->checkpoint, .best_checkpoint = a->best_checkpoint,
                                .config_json = cfg_json, .label = j->m->cfg.model, .metrics = log, .stop = a->stop,
                                .stop_at = a->stop_at, .ckpt_extra = ema_save, .ckpt_extra_user = &j->ema,
                                .dist = a->dist,
                                .schedule = {.min_lr = a->min_lr, .warmup = a->warmup, .total = a->steps}};
        s = genc_schedule_parse(ctx, a->schedule, &tc.schedule.kind);
        genc_train_hooks h = {.user = j, .step_loss = step_loss, .evaluate = evaluate, .after_step = after_step};
        if (!s) s = genc_train_run(ctx, &tc, &j->m->net.params, o, &h, &st);
    }
    r->steps_done = st.step, r->best_val_loss = st.best_metric;
    free(cfg_json);
    return s;
}

/* The model to train: --init's (reflow, distillation) or a new one from the flags. */
static genc_status build_model(genc_ctx *ctx, const genc_diff_train_config *a, int rows, int cols, genc_diff_model *m) {
    if (*a->init) return init_from(ctx, a, m);
    genc_status s = config_from_flags(ctx, a, rows, cols, &m->cfg);
    if (!s) s = genc_unet_init(ctx, &m->net, &m->cfg.unet);
    if (!s && !strcmp(m->cfg.model, "ddpm"))
        s = genc_ddpm_schedule_init(ctx, &m->sched, m->cfg.beta, m->cfg.T, m->cfg.beta_start, m->cfg.beta_end);
    return s;
}

genc_status genc_diff_train(genc_ctx *ctx, const genc_diff_train_config *a, genc_diff_train_start_fn on_start,
                            void *user, genc_diff_train_result *r) {
    genc_diff_model m = {0};
    train_job j = {.m = &m, .distill = a->distill, .dist = a->dist};
    genc_optim o = {0};
    genc_metrics *log = NULL;
    int rows = 28, cols = 28;
    *r = (genc_diff_train_result){.best_val_loss = INFINITY};
    genc_status s = GENC_OK;
    if ((*a->pairs || a->distill) && !*a->init)
        s = genc_error(ctx, GENC_EINVAL, "--pairs/--distill: also give --init, the rectified flow that made the pairs");
    if (!s && a->distill && !*a->pairs) s = genc_error(ctx, GENC_EINVAL, "--distill: also give --pairs");
    if (!s) s = prepare_examples(ctx, a, &j, &rows, &cols);
    if (!s) s = build_model(ctx, a, rows, cols, &m);
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
    bool writer = genc_dist_rank(a->dist) == 0; /* rank 0 alone writes the metrics */
    if (!s && writer && !(log = genc_metrics_open(ctx, a->metrics, a->resume))) s = genc_ctx_status(ctx);
    if (!s) s = train_run(ctx, a, &j, &o, log, on_start, user, r);
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

genc_diff_train_config genc_diff_train_defaults(void) {
    return (genc_diff_train_config){
        .model = "ddpm", .data = "fashion-mnist", .mnist_dir = genc_data_mnist_dir(), .schedule = "constant",
        .beta = "linear", .pred = "epsilon", .mult = "1,2,2", .pairs = "", .init = "", .steps = 2000, .batch = 64,
        .base = 32, .levels = 3, .res_blocks = 1, .groups = 8, .heads = 0, .T = 1000, .val = 1000, .seed = 1,
        .warmup = 200, .eval_every = 500, .lr = 2e-4, .wd = 0, .clip = 1, .dropout = 0.1, .cond_drop = 0.1,
        .ema = 0.999, .beta_start = 1e-4, .beta_end = 0.02};
}
