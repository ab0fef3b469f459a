/* GRPO rollouts split over data-parallel ranks (grpo.h, genc_grpo_rollout_split). The batch's P
 * groups of G rollouts are shared out by group: rank r generates groups [r P/R, (r+1) P/R), one
 * group per generate call (every row of a call has the same prompt, so no row's padding depends
 * on its neighbours) and every rollout from its own random stream (draws base + i max_new + k),
 * so rollout i's tokens are the same for any rank count. Each rollout's reward and statistics
 * are then summed over ranks (each rank fills its own, zeros elsewhere: exact), so every rank
 * computes the advantages, the kept groups and the metrics of the whole batch as one process
 * would; each rank builds the training rows of its own kept groups, weighted for the whole batch
 * and multiplied by R (the ranks' gradients are averaged). */
#include "lm/grpo_internal.h"
#include "lm/lm_internal.h"

#include <stdlib.h>
#include <string.h>

/* Per rollout, summed over ranks: reward, think tokens, accuracy, format, think, length, and the
 * response tokens that carry a loss. */
enum { F_REWARD, F_THINK_TOKENS, F_ACC, F_FORMAT, F_THINK, F_LEN, F_MASKED, N_F };

/* Move group result g (G rows) to rows [at, at + G) of all. */
static void take_group(genc_gen_result *all, genc_gen_result *g, int64_t at) {
    int64_t G = g->batch, M = g->max_new;
    memcpy(all->tokens + at * M, g->tokens, (size_t)(G * M) * sizeof *g->tokens);
    memcpy(all->logprobs + at * M, g->logprobs, (size_t)(G * M) * sizeof *g->logprobs);
    memcpy(all->len + at, g->len, (size_t)G * sizeof *g->len);
    memcpy(all->finish + at, g->finish, (size_t)G * sizeof *g->finish);
    memcpy(all->text_len + at, g->text_len, (size_t)G * sizeof *g->text_len);
    for (int64_t b = 0; b < G; b++) free(all->text[at + b]), all->text[at + b] = g->text[b], g->text[b] = NULL;
}

/* This rank's Pl groups (global index p0 on), group p from its own per-row streams. */
static genc_status generate_groups(genc_ctx *ctx, genc_lm *policy, genc_tokenizer *tok, const genc_grpo_config *cfg,
                                   int32_t *const *pids, const int64_t *plen, int64_t p0, int64_t Pl, uint64_t base,
                                   genc_gen_result *res) {
    int64_t G = cfg->group;
    const char *stops[1] = {"</answer>"};
    genc_gen_config gc = {.max_new = cfg->max_new, .sampler = cfg->sampler, .pad_id = genc_tokenizer_special(tok, "<|pad|>"),
                          .eos_id = genc_tokenizer_special(tok, "<|eos|>"), .tok = tok, .stops = stops, .n_stops = 1,
                          .row_streams = true};
    const int32_t **rows = calloc((size_t)G, sizeof *rows);
    int64_t *rlen = calloc((size_t)G, sizeof *rlen);
    genc_status s = rows && rlen ? genc_gen_result_alloc(ctx, res, Pl * G, cfg->max_new, true)
                                 : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t p = 0; !s && p < Pl; p++) {
        genc_gen_result one = {0};
        for (int64_t g = 0; g < G; g++) rows[g] = pids[p], rlen[g] = plen[p];
        gc.stream_base = base + (uint64_t)((p0 + p) * G * cfg->max_new);
        s = genc_lm_generate(ctx, policy, rows, rlen, G, &gc, &one);
        if (!s) take_group(res, &one, p * G);
        genc_gen_result_free(&one);
    }
    free(rows), free(rlen);
    return s;
}

/* v [n, N_F]: this rank's nl rollouts (from global index i0) filled in, the rest zero. */
static void fill_mine(double *v, int64_t i0, const genc_grpo_rollouts *o, const genc_gen_result *res,
                      const double *per, const genc_grpo_config *cfg) {
    for (int64_t i = 0; i < res->batch; i++) {
        double *x = v + (i0 + i) * N_F;
        bool learn = !cfg->overlong_filter || res->finish[i] != GENC_GEN_LENGTH;
        x[F_REWARD] = o->reward[i], x[F_THINK_TOKENS] = (double)o->think_tokens[i];
        x[F_ACC] = per[4 * i], x[F_FORMAT] = per[4 * i + 1], x[F_THINK] = per[4 * i + 2], x[F_LEN] = per[4 * i + 3];
        x[F_MASKED] = learn ? (double)res->len[i] : 0; /* genc_grpo_build_rows masks len positions */
    }
}

/* The whole batch's rewards, think tokens and means (in one process's order, so the same values)
 * from v; this rank's texts move to their global places. */
static genc_status take_batch(genc_ctx *ctx, genc_grpo_rollouts *o, const double *v, int64_t n, int64_t i0) {
    double *reward = calloc((size_t)n, sizeof *reward);
    int64_t *think = calloc((size_t)n, sizeof *think);
    char **text = calloc((size_t)n, sizeof *text);
    if (!reward || !think || !text) {
        free(reward), free(think), free(text);
        return genc_error(ctx, GENC_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < o->n_all; i++) text[i0 + i] = o->text[i];
    free(o->reward), free(o->think_tokens), free(o->text);
    o->reward = reward, o->think_tokens = think, o->text = text, o->n_all = n;
    o->mean_reward = o->accuracy = o->format_rate = o->think_rate = o->think_len = o->mean_len = 0;
    double w = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        const double *x = v + i * N_F;
        reward[i] = x[F_REWARD], think[i] = (int64_t)x[F_THINK_TOKENS];
        o->mean_reward += x[F_REWARD] * w, o->accuracy += x[F_ACC] * w, o->format_rate += x[F_FORMAT] * w;
        o->think_rate += x[F_THINK] * w, o->think_len += (double)think[i] * w, o->mean_len += x[F_LEN] * w;
    }
    return GENC_OK;
}

/* This rank's kept rows, weighted for the whole batch (rows_all rows, tokens_all response tokens)
 * times R, with their old and reference log-probs. */
static genc_status my_rows(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok, const genc_grpo_config *cfg,
                           int32_t *const *pids, const int64_t *plen, const genc_gen_result *res, const double *adv,
                           const bool *keep, double rows_all, double tokens_all, int R, genc_grpo_rollouts *o) {
    int64_t G = cfg->group, n = o->n_all, mine = 0;
    for (int64_t p = 0; p < res->batch / G; p++) mine += keep[p];
    if (!mine) return GENC_OK; /* rows 0: this rank trains on nothing this time */
    o->n_all = res->batch; /* build_rows lays out this rank's rollouts */
    genc_status s = genc_grpo_build_rows(ctx, o, (const int32_t *const *)pids, plen, res, adv, keep, G,
                                         genc_tokenizer_special(tok, "<|pad|>"), cfg->overlong_filter);
    o->n_all = n;
    if (!s)
        genc_grpo_weights_of(cfg->agg, o->mask, o->rows, o->T, cfg->max_new, rows_all, tokens_all, (double)R, o->weight);
    if (!s) s = genc_grpo_logp_of(ctx, policy, o, genc_grpo_temp(cfg), o->old_logp);
    if (!s && cfg->beta > 0) {
        o->ref_logp = malloc((size_t)(o->rows * o->T) * sizeof(genc_real));
        s = o->ref_logp ? genc_grpo_logp_of(ctx, ref, o, genc_grpo_temp(cfg), o->ref_logp)
                        : genc_error(ctx, GENC_ENOMEM, "out of memory");
    }
    return s;
}

/* After the exchange: advantages and kept groups of the whole batch, then this rank's rows. */
static genc_status finish(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                          const genc_grpo_config *cfg, int32_t *const *pids, const int64_t *plen,
                          const genc_gen_result *res, const double *v, int64_t p0, int R, genc_grpo_rollouts *out) {
    int64_t P = cfg->prompts, G = cfg->group, n = P * G;
    double *adv = calloc((size_t)n, sizeof *adv), rows_all = 0, tokens_all = 0;
    bool *keep = calloc((size_t)P, sizeof *keep);
    genc_status s = adv && keep ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) out->kept_groups = genc_grpo_advantages(out->reward, P, G, cfg, adv, keep);
    for (int64_t i = 0; !s && i < n; i++)
        if (keep[i / G]) rows_all += 1, tokens_all += v[i * N_F + F_MASKED];
    if (!s && !cfg->score_only)
        s = my_rows(ctx, policy, ref, tok, cfg, pids, plen, res, adv + p0 * G, keep + p0, rows_all, tokens_all, R, out);
    free(adv), free(keep);
    return s;
}

genc_status genc_grpo_rollout_split(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                                    const genc_task_problem *problems, const genc_grpo_config *cfg, genc_dist *d,
                                    genc_grpo_rollouts *out) {
    memset(out, 0, sizeof *out);
    int R = genc_dist_size(d);
    int64_t P = cfg->prompts, G = cfg->group, n = P * G, Pl = P / R, p0 = Pl * genc_dist_rank(d);
    if (P % R)
        return genc_error(ctx, GENC_EINVAL, "grpo: %lld prompts do not split over %d ranks: expected a multiple of %d",
                          (long long)P, R, R);
    uint64_t base = genc_rng_take(ctx, (uint64_t)(n * cfg->max_new)), end = genc_rng_offset(ctx);
    int32_t **pids = calloc((size_t)Pl, sizeof *pids);
    int64_t *plen = calloc((size_t)Pl, sizeof *plen);
    double *per = calloc((size_t)(Pl * G * 4), sizeof *per), *v = calloc((size_t)(n * N_F), sizeof *v);
    genc_gen_result res = {0};
    genc_status s = pids && plen && per && v ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t p = 0; !s && p < Pl; p++) {
        size_t len;
        s = genc_grpo_encode_prompt(ctx, tok, cfg->template_kind, cfg->empty_think, problems[p0 + p].prompt, &pids[p], &len);
        plen[p] = (int64_t)len;
    }
    if (!s) s = generate_groups(ctx, policy, tok, cfg, pids, plen, p0, Pl, base, &res);
    genc_rng_set_offset(ctx, end); /* every rank leaves the stream at the same place */
    out->n_all = Pl * G;
    if (!s) s = genc_grpo_score(ctx, out, &res, problems + p0, cfg, tok, per);
    if (!s) fill_mine(v, p0 * G, out, &res, per, cfg);
    if (!s && n * N_F > 0x7fffffff)
        s = genc_error(ctx, GENC_EINVAL, "grpo: %lld rollouts are too many to exchange", (long long)n);
    if (!s) s = genc_dist_sum_f64(ctx, d, v, (int)(n * N_F), "the rollouts' rewards");
    if (!s) s = take_batch(ctx, out, v, n, p0 * G);
    if (!s) s = finish(ctx, policy, ref, tok, cfg, pids, plen, &res, v, p0, R, out);
    for (int64_t p = 0; pids && p < Pl; p++) free(pids[p]);
    free(pids), free(plen), free(per), free(v);
    genc_gen_result_free(&res);
    if (s) genc_grpo_rollouts_free(out);
    return s;
}
