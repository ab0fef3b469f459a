/* The language-model training recipe every front-end shares: the defaults, the hooks of the one
 * training loop (a batch of windows, the DeepSeek-V3 loss with MTP and balancing, the
 * auxiliary-loss-free bias update and per-step MoE/MTP metrics after each step, validation
 * loss and perplexity) and the set-up around it (optimiser -> resume -> metrics -> loop). */
#include "genc/lm.h"
#include "genc/tokenizer.h"
#include "lm/lm_internal.h"
#include "genc/train.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

genc_lm_train_config genc_lm_train_defaults(void) {
    return (genc_lm_train_config){.steps = 300, .batch = 16, .seq = 128, .lr = 3e-3, .min_lr = 3e-4, .warmup = 30,
                                  .weight_decay = 0.1, .beta2 = 0.95, .clip = 1.0, .validate = true, .eval_every = 100,
                                  .eval_tokens = 20000, .eval_batch = 8, .seed = 1};
}

typedef struct {
    genc_lm *m;
    const genc_lm_corpus *corpus;
    const genc_lm_train_config *c;
    const genc_tokenizer *tok; /* saved with every checkpoint, or NULL */
    int32_t *batch;
    genc_metrics *log;
    genc_lm_losses last;
    double t_last, main_loss, mtp_loss; /* the last step's main and mean MTP losses */
    double total_loss, *mtp;            /* the last step's objective and MTP losses (global means) */
} lm_job;

static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    lm_job *j = user;
    int64_t R = genc_dist_size(j->c->dist), B = j->c->batch / R; /* this rank's shard of the global batch */
    genc_lm_windows_rows(j->corpus, j->c->seed, st->step, j->c->batch, B * genc_dist_rank(j->c->dist), B, j->c->seq,
                         j->batch);
    *items = (double)(j->c->batch * j->c->seq);
    if (genc_lm_forward_train(ctx, j->m, j->batch, B, j->c->seq, &j->last)) return NULL;
    return j->last.total;
}

/* One metrics line per step: the main loss, MaxVio per MoE layer, the MTP losses and their
 * mean, the rate. */
static genc_status log_step(genc_ctx *ctx, lm_job *j, const genc_train_state *st) {
    if (!j->log) return GENC_OK;
    const genc_lm_config *c = &j->m->cfg;
    double *vals = malloc((size_t)(c->n_layers + c->mtp_depth + 1) * sizeof *vals), *vio = vals, *mtp;
    if (!vals) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    int n_vio = 0;
    for (int l = 0; l < c->n_layers; l++)
        if (j->m->blocks[l].router) vio[n_vio++] = genc_lm_maxvio(j->m, l);
    mtp = vio + n_vio;
    for (int k = 0; k < c->mtp_depth; k++) mtp[k] = j->mtp[k];
    double now = genc_now(), tokens = (double)(j->c->batch * j->c->seq);
    genc_metric_field f[4] = {{"maxvio", vio, n_vio}, {"mtp_loss", mtp, c->mtp_depth}};
    int n_f = 2;
    if (c->mtp_depth) f[n_f++] = (genc_metric_field){"mtp_loss_mean", NULL, 0, j->mtp_loss};
    if (j->t_last > 0) f[n_f++] = (genc_metric_field){"tokens_per_s", NULL, 0, tokens / (now - j->t_last)};
    genc_status s = genc_metrics_log_fields(j->log, f, n_f, "{s:s, s:I, s:f}", "event", "lm", "step",
                                            (json_int_t)st->step, "main_loss", j->main_loss);
    j->t_last = now;
    free(vals);
    return s;
}

/* After the update: the losses and expert loads made global (several ranks), the balancing
 * bias step, the metrics line, the caller's hook. */
static genc_status after_step(genc_ctx *ctx, void *user, genc_train_state *st) {
    lm_job *j = user;
    int D = j->m->cfg.mtp_depth;
    double *v = j->mtp - 2; /* [total, main, mtp 0 .. D-1] */
    v[0] = j->last.total->data[0], v[1] = j->last.main->data[0];
    for (int k = 0; k < D; k++) v[2 + k] = j->last.mtp[k]->data[0];
    genc_status s = genc_lm_dist_step(ctx, j->m, j->c->dist, st->step, v, 2 + D);
    if (s) return s;
    genc_lm_update_bias(j->m);
    j->total_loss = v[0], j->main_loss = v[1], j->mtp_loss = 0;
    for (int k = 0; k < D; k++) j->mtp_loss += j->mtp[k] / D;
    s = log_step(ctx, j, st);
    if (!s && j->c->on_step) s = j->c->on_step(j->c->user, st->step, j->total_loss);
    return s;
}

/* The progress line shows the main (next-token) loss, the one validation measures, and the
 * MTP loss beside it; the objective optimised is main + mtp_lambda x the MTP losses. */
static double shown_loss(void *user, double loss, char *extra, size_t n) {
    lm_job *j = user;
    if (j->m->cfg.mtp_depth) snprintf(extra, n, "mtp %.4f  objective %.4f", j->mtp_loss, loss);
    return j->main_loss;
}

static genc_status evaluate(genc_ctx *ctx, void *user, const genc_train_state *st, double *metric, genc_metrics *log) {
    lm_job *j = user;
    const genc_lm_corpus *c = j->corpus;
    int64_t n = c->n - c->n_train, count;
    if (j->c->eval_tokens > 0 && n > j->c->eval_tokens) n = j->c->eval_tokens;
    genc_status s = genc_lm_eval_loss(ctx, j->m, c->tokens + c->n_train, n, j->c->seq, j->c->eval_batch, metric, &count);
    if (s) return s;
    return genc_metrics_log(log, "{s:s, s:I, s:f, s:f, s:I}", "event", "eval", "step", (json_int_t)st->step, "val_loss",
                            *metric, "val_ppl", exp(*metric), "val_tokens", (json_int_t)count);
}

static genc_status save_tokenizer(genc_ctx *ctx, void *user, genc_st_writer *w) {
    return genc_tokenizer_add_to(user, ctx, w);
}

static genc_status run(genc_ctx *ctx, lm_job *j, genc_optim *o, genc_zero *z, const char *cfg_json,
                       genc_train_state *st) {
    const genc_lm_train_config *c = j->c;
    genc_train_config tc = {.steps = c->steps, .eval_every = c->eval_every, .save_every = c->save_every,
                            .clip = c->clip, .checkpoint = c->checkpoint,
                            .best_checkpoint = c->validate ? c->best_checkpoint : NULL, .config_json = cfg_json, .label = "lm",
                            .metrics = j->log, .stop = c->stop, .stop_at = c->stop_at,
                            .ckpt_extra = j->tok ? save_tokenizer : NULL, .ckpt_extra_user = (void *)j->tok,
                            .dist = c->dist, .zero = z, .overlap = c->overlap,
                            .schedule = {.kind = GENC_LR_COSINE, .min_lr = c->min_lr,
                                         .warmup = c->warmup, .total = c->steps}};
    genc_train_hooks h = {.user = j, .step_loss = step_loss, .evaluate = c->validate ? evaluate : NULL,
                          .after_step = after_step, .shown_loss = shown_loss};
    if (c->on_start) c->on_start(c->user, j->m, st->step);
    bool recycle = genc_set_recycle_grads(ctx, true); /* only the parameters' gradients are read */
    genc_status s = genc_train_run(ctx, &tc, &j->m->params, o, &h, st);
    genc_set_recycle_grads(ctx, recycle);
    return s;
}

genc_status genc_lm_train(genc_ctx *ctx, genc_lm *m, const genc_lm_corpus *corpus, const genc_tokenizer *tok,
                          const genc_lm_train_config *c, genc_train_state *st) {
    *st = (genc_train_state){.data_seed = c->seed, .best_metric = INFINITY};
    genc_optim full = {0}, *o = &full;
    genc_zero z = {0};
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = c->lr, oc.weight_decay = c->weight_decay, oc.beta2 = c->beta2, oc.moments_bf16 = c->moments_bf16;
    lm_job j = {.m = m, .corpus = corpus, .c = c, .tok = tok};
    double *losses = malloc((size_t)(m->cfg.mtp_depth + 2) * sizeof *losses);
    j.mtp = losses ? losses + 2 : NULL;
    genc_status s = losses ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && c->zero) s = genc_zero_init(ctx, &z, c->dist, &m->params, &oc), o = &z.o;
    else if (!s) s = genc_optim_init(ctx, o, &m->params, &oc);
    char *cfg_json = s ? NULL : genc_lm_config_json(&m->cfg);
    if (!s && !cfg_json) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = genc_lm_dist_start(ctx, m, corpus, c, cfg_json);
    if (!s && c->ep > 1) m->ep = c->dist; /* for this run only */
    if (!s && c->resume && c->checkpoint)
        s = c->zero ? genc_zero_resume(ctx, &z, c->checkpoint, cfg_json, st)
                    : genc_checkpoint_resume(ctx, c->checkpoint, cfg_json, &m->params, o, st);
    if (!s && c->optim_bytes)
        *c->optim_bytes = c->zero ? genc_zero_state_bytes(&z)
                                  : genc_params_numel(&m->params) * (int64_t)sizeof(genc_real) * 2;
    if (!s) genc_rng_set_offset(ctx, st->rng_offset);
    bool writer = genc_dist_rank(c->dist) == 0; /* rank 0 alone writes the metrics */
    if (!s && writer && c->metrics && !(j.log = genc_metrics_open(ctx, c->metrics, c->resume))) s = genc_ctx_status(ctx);
    j.batch = malloc((size_t)(c->batch * (c->seq + 1)) * sizeof *j.batch);
    if (!s && !j.batch) s = genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = run(ctx, &j, o, c->zero ? &z : NULL, cfg_json, st);
    free(cfg_json), free(j.batch), free(losses);
    genc_metrics_close(j.log);
    m->ep = NULL;
    if (c->zero) genc_zero_free(&z);
    else genc_optim_free(&full);
    return s;
}
