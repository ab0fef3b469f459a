/* Prefix-tuning (Li & Liang 2021) of a frozen language model, or full fine-tuning as the
 * baseline, through the one training loop: batches of input/output examples drawn from
 * Philox(seed, step) with the loss on the output tokens (and <|eos|>) only, AdamW without
 * weight decay under a schedule, gradient clipping, and the prefix exported at the end. */
#include "genc/ops.h"
#include "genc/prefix.h"
#include "genc/train.h"

#include <stdlib.h>
#include <string.h>

genc_lm_prefix_tune_config genc_lm_prefix_tune_defaults(void) {
    return (genc_lm_prefix_tune_config){.len = 10, .reparam = 512, .init_std = 1.0, .steps = 300, .batch = 8,
                                        .lr = 5e-3, .schedule = GENC_LR_CONSTANT, .clip = 1.0, .seed = 1};
}

/* A batch of B examples drawn from Philox(seed, step): inputs [B, T] (right-padded), targets
 * [B * T] (-1 on input positions and padding). Returns T. */
static int64_t make_batch(const genc_lm_examples *e, uint64_t seed, int64_t step, int64_t B, int32_t *in, int32_t *tgt,
                          int64_t maxT) {
    int64_t T = 1, pick[256];
    for (int64_t j = 0; j < B; j++) {
        pick[j] = (int64_t)(genc_philox_u32(seed, (uint64_t)(step * B + j)) % (uint32_t)e->n);
        T = e->ex[pick[j]].n - 1 > T ? e->ex[pick[j]].n - 1 : T;
    }
    T = T < maxT ? T : maxT;
    for (int64_t j = 0; j < B; j++) {
        const genc_lm_example *x = &e->ex[pick[j]];
        for (int64_t t = 0; t < T; t++) {
            bool real = t + 1 < x->n;
            in[j * T + t] = real ? x->ids[t] : 0;
            tgt[j * T + t] = real && t + 1 >= x->n_in ? x->ids[t + 1] : -1;
        }
    }
    return T;
}

typedef struct {
    genc_lm *m;
    genc_lm_prefix_train *t; /* NULL: full fine-tuning */
    genc_tensor **ckv, **kpe;
    const genc_lm_examples *e;
    const genc_lm_prefix_tune_config *c;
    int32_t *in, *tgt;
    double loss, avg;
} tune_job;

/* The loss of one batch (the loop runs backward, clipping and the update). */
static genc_tensor *step_loss(genc_ctx *ctx, void *user, genc_train_state *st, double *items) {
    tune_job *j = user;
    int64_t L = j->t ? j->t->len : 0, B = j->c->batch;
    int64_t T = make_batch(j->e, j->c->seed, st->step, B, j->in, j->tgt, j->m->cfg.max_seq - L);
    *items = (double)B;
    genc_status s = j->t ? genc_lm_prefix_train_latents(ctx, j->m, j->t, j->ckv, j->kpe) : GENC_OK;
    genc_tensor *logits = s ? NULL : genc_lm_prefix_logits(ctx, j->m, j->t ? j->ckv : NULL, j->t ? j->kpe : NULL,
                                                           j->in, B, T);
    genc_tensor *l = genc_cross_entropy(ctx, logits, j->tgt, -1);
    if (l) j->loss = l->data[0];
    return l;
}

static genc_status after_step(genc_ctx *ctx, void *user, genc_train_state *st) {
    tune_job *j = user;
    j->avg = st->step > 1 ? 0.95 * j->avg + 0.05 * j->loss : j->loss;
    if (j->c->on_step) j->c->on_step(j->c->user, st->step, j->c->steps, j->loss, j->avg);
    return GENC_OK;
}

/* The loop from step 0 to c->steps; a stop request keeps what was trained so far. */
static genc_status train(genc_ctx *ctx, tune_job *j, const genc_params *p) {
    const genc_lm_prefix_tune_config *c = j->c;
    genc_optim_config oc = genc_optim_defaults(GENC_OPT_ADAMW);
    oc.lr = c->lr, oc.weight_decay = 0;
    genc_optim o = {0};
    int64_t maxT = j->m->cfg.max_seq;
    j->in = malloc((size_t)(c->batch * maxT) * sizeof *j->in), j->tgt = malloc((size_t)(c->batch * maxT) * sizeof *j->tgt);
    genc_status s = !j->in || !j->tgt ? genc_error(ctx, GENC_ENOMEM, "out of memory for a batch") : GENC_OK;
    if (!s) s = genc_optim_init(ctx, &o, p, &oc);
    genc_train_state st = {.data_seed = c->seed};
    genc_train_config tc = {.steps = c->steps, .clip = c->clip, .label = "prefix-tune", .stop = c->stop,
                            .schedule = {.kind = c->schedule, .min_lr = c->min_lr, .warmup = c->warmup,
                                         .total = c->steps}};
    genc_train_hooks h = {.user = j, .step_loss = step_loss, .after_step = after_step};
    if (!s) s = genc_train_run(ctx, &tc, p, &o, &h, &st);
    if (s == GENC_EINTR) { /* stopped: the prefix so far is the result */
        genc_clear_error(ctx);
        s = GENC_OK;
    }
    genc_optim_free(&o);
    free(j->in), free(j->tgt);
    return s;
}

/* The initial prefix from --init-words (P itself with --reparam 0, else the MLP fitted to it). */
static genc_status words_prefix(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_prefix_tune_config *a, genc_lm_prefix *p) {
    int32_t *ids = NULL;
    size_t n = 0;
    genc_status s = genc_lm_prefix_new(ctx, m, a->len, p);
    if (!s) s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)a->init_words, strlen(a->init_words), true, &ids, &n);
    if (!s) s = genc_lm_prefix_from_tokens(ctx, m, ids, (int64_t)n, p);
    free(ids);
    return s;
}

genc_status genc_lm_prefix_tune(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_lm_examples *e,
                                const genc_lm_prefix_tune_config *a, genc_lm_prefix *pre, int64_t *n_trained) {
    genc_lm_prefix init = {0};
    genc_lm_prefix_train t = {0};
    genc_tensor **lat = calloc((size_t)m->cfg.n_layers * 2, sizeof *lat);
    tune_job j = {.m = m, .t = a->full ? NULL : &t, .ckv = lat, .kpe = lat ? lat + m->cfg.n_layers : NULL, .e = e, .c = a};
    genc_status s = lat ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s && !a->full && a->init_words) s = words_prefix(ctx, m, tok, a, &init);
    if (!s && !a->full) s = genc_lm_prefix_train_init(ctx, m, a->len, a->reparam, a->init_std,
                                                      a->init_words ? &init : NULL, &t);
    for (int i = 0; !s && !a->full && i < m->params.n; i++) m->params.t[i]->requires_grad = false; /* frozen */
    *n_trained = a->full ? genc_params_numel(&m->params) : genc_params_numel(&t.params);
    if (!s) s = train(ctx, &j, a->full ? &m->params : &t.params);
    if (!s && !a->full) s = genc_lm_prefix_train_export(ctx, m, &t, pre);
    genc_step_reset(ctx);
    genc_lm_prefix_train_free(&t);
    genc_lm_prefix_free(&init);
    free(lat);
    return s;
}
