/* The language-model recipe's side of data parallelism (train.c calls these when c->dist has
 * several ranks): the start-up checks (the batch splits evenly, the balance loss is per sequence,
 * and every rank has the same version, config, flags and tokens), and the step's exchange of the
 * losses and expert loads, so the metrics, MaxVio and the auxiliary-loss-free bias update all see
 * the global batch and every rank keeps the same bias. */
#include "lm/lm_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_tokens(const int32_t *t, int64_t n) {
    uint64_t h = 14695981039346656037ull;
    for (int64_t i = 0; i < n; i++) h = (h ^ (uint32_t)t[i]) * 1099511628211ull;
    return h;
}

genc_status genc_lm_dist_start(genc_ctx *ctx, const genc_lm *m, const genc_lm_corpus *corpus,
                               const genc_lm_train_config *c, const char *cfg_json) {
    int R = genc_dist_size(c->dist);
    if (c->ep > 1 && c->ep != R)
        return genc_error(ctx, GENC_EINVAL, "--ep %d: expected the number of ranks, %d (experts are spread over all "
                          "of them)", c->ep, R);
    if (c->ep > 1 && (m->cfg.n_routed == 0 || m->cfg.n_routed % R))
        return genc_error(ctx, GENC_EINVAL, "--ep %d: the %d routed experts do not split over %d ranks", c->ep,
                          m->cfg.n_routed, R);
    if (R == 1) return GENC_OK;
    if (c->batch % R)
        return genc_error(ctx, GENC_EINVAL, "--batch %lld does not split over %d ranks: expected a multiple of %d",
                          (long long)c->batch, R, R);
    if (m->cfg.n_routed && m->cfg.aux_alpha > 0 && !m->cfg.seq_aux)
        return genc_error(ctx, GENC_EINVAL, "--seq-aux false (a balance loss over the whole batch) is not split over "
                          "ranks: use --seq-aux true or one rank");
    size_t n = strlen(cfg_json) + 1024;
    char *desc = malloc(n);
    if (!desc) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    snprintf(desc, n, "genc %s\n%s\nsteps %lld batch %lld seq %lld lr %.17g %.17g warmup %lld wd %.17g beta2 %.17g "
             "bf16 %d clip %.17g validate %d eval %lld %lld %lld save %lld stop %lld seed %llu resume %d prec %d %d %d "
             "tokens %lld %lld %016llx zero %d ep %d overlap %d", GENC_VERSION, cfg_json, (long long)c->steps, (long long)c->batch,
             (long long)c->seq, c->lr, c->min_lr, (long long)c->warmup, c->weight_decay, c->beta2, c->moments_bf16,
             c->clip, c->validate, (long long)c->eval_every, (long long)c->eval_tokens, (long long)c->eval_batch,
             (long long)c->save_every, (long long)c->stop_at, (unsigned long long)c->seed, c->resume,
             (int)m->qmode.prec, m->qmode.promote, m->qmode.acc_bits, (long long)corpus->n, (long long)corpus->n_train,
             (unsigned long long)hash_tokens(corpus->tokens, corpus->n), c->zero, c->ep, c->overlap);
    genc_status s = genc_dist_check_same(ctx, c->dist, "configuration (flags, model, data)", desc, strlen(desc));
    free(desc);
    return s;
}

genc_status genc_lm_dist_step(genc_ctx *ctx, genc_lm *m, genc_dist *d, int64_t step, double *mean, int n_mean) {
    int R = genc_dist_size(d), n = n_mean, E = m->cfg.n_routed, nb = m->cfg.n_layers + m->cfg.mtp_depth;
    if (R == 1) return GENC_OK;
    for (int i = 0; i < nb; i++) n += m->blocks[i].router ? E + 1 : 0;
    double *v = malloc((size_t)n * sizeof *v), *at = v + n_mean;
    if (!v) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    memcpy(v, mean, (size_t)n_mean * sizeof *v);
    for (int i = 0; i < nb; i++) {
        const genc_lm_block *k = &m->blocks[i];
        if (!k->router) continue;
        for (int e = 0; e < E; e++) *at++ = (double)k->load[e];
        *at++ = (double)k->load_tokens;
    }
    char where[64];
    snprintf(where, sizeof where, "step %lld (losses and expert loads)", (long long)step);
    genc_status s = genc_dist_sum_f64(ctx, d, v, n, where);
    for (int i = 0; !s && i < n_mean; i++) mean[i] = v[i] / R;
    at = v + n_mean;
    for (int i = 0; !s && i < nb; i++) {
        genc_lm_block *k = &m->blocks[i];
        if (!k->router) continue;
        for (int e = 0; e < E; e++) k->load[e] = (int64_t)*at++; /* counts: exact in a double */
        k->load_tokens = (int64_t)*at++;
    }
    free(v);
    return s;
}
