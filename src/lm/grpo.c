/* GRPO rollouts and policy loss (see include/genc/grpo.h): G samples per prompt with the
 * latent-cache generator, rule-based rewards, group-normalised advantages
 * A_i = (r_i - mean) / (std + eps) (sample std, as TRL), right-padded training rows, and the
 * old-policy and reference log-probs from no-grad forwards. */
#include "lm/lm_internal.h"
#include "lm/grpo_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void genc_grpo_config_default(genc_grpo_config *c) {
    memset(c, 0, sizeof *c);
    c->prompts = 8, c->group = 8, c->max_new = 64, c->mu = 1;
    c->sampler = (genc_sampler){.temperature = 1.0, .top_k = 0, .top_p = 1.0};
    c->eps_low = 0.2, c->eps_high = 0.2, c->beta = 0.0, c->adv_eps = 1e-4;
    c->scale_std = true, c->skip_equal = false, c->agg = GENC_GRPO_AGG_SEQ;
    c->template_kind = GENC_TEMPLATE_R1;
    genc_reward_cfg_default(&c->reward);
}

static const char *TEMPLATE_HEAD =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>. User: ";
/* Both templates end with the assistant's "<think>" already written (as TinyZero's
 * prompts do): the model continues inside the think block, and a response is scored as
 * "<think>" + completion (GENC_GRPO_PREFILL). */
static const char *TEMPLATE_TAIL = " Assistant: ";
/* The short template keeps the R1 order: instruction first, the question right before
 * "Assistant:". */
static const char *SHORT_HEAD = "Think in <think> </think>, then answer in <answer> </answer>. User: ";
static const char *SHORT_TAIL = " Assistant: ";

genc_status genc_grpo_template_parse(genc_ctx *ctx, const char *name, genc_template *out) {
    if (!strcmp(name, "r1")) *out = GENC_TEMPLATE_R1;
    else if (!strcmp(name, "short")) *out = GENC_TEMPLATE_SHORT;
    else return genc_error(ctx, GENC_EINVAL, "--template: expected r1 or short, found \"%s\"", name);
    return GENC_OK;
}

static const char *prefill(bool empty_think) { return empty_think ? GENC_GRPO_PREFILL_EMPTY : GENC_GRPO_PREFILL; }

char *genc_grpo_prompt(genc_template t, bool empty_think, const char *question) {
    const char *head = t == GENC_TEMPLATE_R1 ? TEMPLATE_HEAD : SHORT_HEAD;
    const char *tail = t == GENC_TEMPLATE_R1 ? TEMPLATE_TAIL : SHORT_TAIL;
    size_t n = strlen(head) + strlen(question) + strlen(tail) + strlen(prefill(empty_think)) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s%s", head, question, tail, prefill(empty_think));
    return s;
}

genc_status genc_grpo_encode_prompt(genc_ctx *ctx, genc_tokenizer *tok, genc_template t, bool empty_think,
                                    const char *question, int32_t **ids, size_t *n) {
    char *text = genc_grpo_prompt(t, empty_think, question);
    if (!text) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    genc_status s = genc_tokenizer_encode(tok, ctx, (const uint8_t *)text, strlen(text), true, ids, n);
    free(text);
    return s;
}

double genc_grpo_temp(const genc_grpo_config *c) { return c->sampler.temperature > 0 ? c->sampler.temperature : 1.0; }

int64_t genc_grpo_advantages(const double *r, int64_t P, int64_t G, const genc_grpo_config *c, double *adv, bool *keep) {
    int64_t kept = 0;
    for (int64_t p = 0; p < P; p++) {
        const double *x = r + p * G;
        bool signal = false; /* rewards not all equal: exact, never a rounding residue */
        double mean = 0, var = 0;
        for (int64_t g = 0; g < G; g++) mean += x[g] / (double)G, signal |= x[g] != x[0];
        if (!signal) mean = x[0];
        for (int64_t g = 0; g < G; g++) var += (x[g] - mean) * (x[g] - mean);
        double sd = G > 1 ? sqrt(var / (double)(G - 1)) : 0; /* the sample std, as TRL */
        keep[p] = c->keep_groups > 0 ? signal && kept < c->keep_groups : !c->skip_equal || signal;
        kept += signal;
        for (int64_t g = 0; g < G; g++)
            adv[p * G + g] = signal ? (x[g] - mean) / (c->scale_std ? sd + c->adv_eps : 1.0) : 0.0;
    }
    if ((c->skip_equal || c->keep_groups > 0) && kept == 0) /* nothing to learn from: keep one group */
        for (int64_t p = 0; p < P; p++) keep[p] = c->keep_groups > 0 ? p == 0 : true;
    return kept;
}

/* out[t] = log softmax(logits_t / temp)[action_t] of model m at every masked position (no
 * grad): the log-probs of the distribution the rollouts were sampled from, as TRL takes them. */
genc_status genc_grpo_logp_of(genc_ctx *ctx, genc_lm *m, const genc_grpo_rollouts *r, double temp, genc_real *out) {
    const int64_t chunk = 16, T = r->T, V = m->cfg.vocab_size;
    bool old = genc_set_grad_enabled(ctx, false);
    for (int64_t r0 = 0; r0 < r->rows && !genc_ctx_status(ctx); r0 += chunk) {
        int64_t nb = r->rows - r0 < chunk ? r->rows - r0 : chunk;
        genc_tensor *lg = genc_lm_logits(ctx, m, r->tokens + r0 * T, nb, T);
        if (temp != 1.0) lg = genc_scale(ctx, lg, 1.0 / temp);
        for (int64_t i = r0 * T; lg && i < (r0 + nb) * T; i++) {
            out[i] = 0;
            if (r->mask[i] == 0) continue;
            const genc_real *z = lg->data + (i - r0 * T) * V;
            out[i] = z[r->actions[i]] - genc_row_logsumexp(z, V);
        }
        genc_step_reset(ctx);
    }
    genc_set_grad_enabled(ctx, old);
    return genc_ctx_status(ctx);
}

genc_status genc_grpo_build_rows(genc_ctx *ctx, genc_grpo_rollouts *o, const int32_t *const *pids,
                                 const int64_t *plen, const genc_gen_result *res, const double *adv, const bool *keep,
                                 int64_t G, int32_t pad, bool overlong_filter) {
    int64_t rows = 0, T = 2;
    for (int64_t i = 0; i < o->n_all; i++)
        if (keep[i / G]) rows++, T = plen[i / G] + res->len[i] > T ? plen[i / G] + res->len[i] : T;
    o->rows = rows, o->T = T;
    size_t nt = (size_t)(rows * T);
    o->tokens = malloc(nt * sizeof(int32_t)), o->actions = malloc(nt * sizeof(int32_t));
    o->mask = calloc(nt, sizeof(genc_real)), o->weight = malloc(nt * sizeof(genc_real));
    o->adv = malloc(nt * sizeof(genc_real)), o->old_logp = malloc(nt * sizeof(genc_real));
    if (!o->tokens || !o->actions || !o->mask || !o->weight || !o->adv || !o->old_logp)
        return genc_error(ctx, GENC_ENOMEM, "out of memory for the rollouts");
    int64_t row = 0;
    for (int64_t i = 0; i < o->n_all; i++) {
        if (!keep[i / G]) continue;
        int32_t *t = o->tokens + row * T;
        int64_t P = plen[i / G], L = res->len[i];
        bool learn = !overlong_filter || res->finish[i] != GENC_GEN_LENGTH;
        memcpy(t, pids[i / G], (size_t)P * sizeof *t);
        memcpy(t + P, res->tokens + i * res->max_new, (size_t)L * sizeof *t);
        for (int64_t k = P + L; k < T; k++) t[k] = pad;
        for (int64_t k = 0; k < T; k++) {
            int64_t at = row * T + k;
            o->actions[at] = k + 1 < T ? t[k + 1] : pad;
            o->mask[at] = learn && k >= P - 1 && k <= P + L - 2;
            o->adv[at] = (genc_real)adv[i];
        }
        row++;
    }
    return GENC_OK;
}

/* Tokens of response i that end before its first "</think>" (0 when there is none): by
 * the text, so "</think>" may be one special token or several text tokens. */
static int64_t think_tokens(const genc_gen_result *res, int64_t i, const genc_tokenizer *tok) {
    const char *text = (const char *)res->text[i], *close = strstr(text, "</think>");
    if (!close) return 0;
    size_t at = (size_t)(close - text), bytes = 0;
    int64_t t = 0;
    for (; t < res->len[i]; t++) {
        size_t len = 0;
        genc_tokenizer_token_bytes(tok, res->tokens[i * res->max_new + t], &len);
        if ((bytes += len) > at) break;
    }
    return t;
}

/* Score every rollout as prefill + completion; the stop string "</answer>" ends generation
 * and is put back. per (NULL: none) gets each rollout's accuracy, format, think and length. */
genc_status genc_grpo_score(genc_ctx *ctx, genc_grpo_rollouts *o, const genc_gen_result *res,
                            const genc_task_problem *pr, const genc_grpo_config *cfg, const genc_tokenizer *tok,
                            double *per) {
    o->reward = calloc((size_t)o->n_all, sizeof *o->reward);
    o->think_tokens = calloc((size_t)o->n_all, sizeof *o->think_tokens);
    o->text = calloc((size_t)o->n_all, sizeof *o->text);
    if (!o->reward || !o->text || !o->think_tokens) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    const char *head = prefill(cfg->empty_think);
    for (int64_t i = 0; i < o->n_all; i++) {
        const char *tail = res->finish[i] == GENC_GEN_STOP ? "</answer>" : "";
        size_t n = strlen(head) + res->text_len[i] + strlen(tail) + 1;
        if (!(o->text[i] = malloc(n))) return genc_error(ctx, GENC_ENOMEM, "out of memory");
        snprintf(o->text[i], n, "%s%.*s%s", head, (int)res->text_len[i], (const char *)res->text[i], tail);
        genc_reward r = genc_task_reward(&pr[i / cfg->group], o->text[i], n - 1, &cfg->reward);
        o->think_tokens[i] = r.think && !cfg->empty_think ? think_tokens(res, i, tok) : 0;
        double w = 1.0 / (double)o->n_all;
        o->reward[i] = r.reward;
        o->mean_reward += r.reward * w, o->accuracy += r.accuracy * w, o->format_rate += r.format * w;
        o->think_rate += r.think * w, o->think_len += (double)o->think_tokens[i] * w;
        o->mean_len += (double)res->len[i] * w;
        if (per)
            per[4 * i] = r.accuracy, per[4 * i + 1] = r.format, per[4 * i + 2] = r.think, per[4 * i + 3] = (double)res->len[i];
    }
    return GENC_OK;
}

genc_status genc_grpo_rollout(genc_ctx *ctx, genc_lm *policy, genc_lm *ref, genc_tokenizer *tok,
                              const genc_task_problem *problems, const genc_grpo_config *cfg, genc_grpo_rollouts *out) {
    memset(out, 0, sizeof *out);
    int64_t P = cfg->prompts, G = cfg->group, n = P * G;
    int32_t **pids = calloc((size_t)P, sizeof *pids);
    const int32_t **rows = calloc((size_t)n, sizeof *rows);
    int64_t *plen = calloc((size_t)P, sizeof *plen), *rlen = calloc((size_t)n, sizeof *rlen);
    double *adv = calloc((size_t)n, sizeof *adv);
    bool *keep = calloc((size_t)P, sizeof *keep);
    genc_gen_result res = {0};
    genc_status s = pids && rows && plen && rlen && adv && keep ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int64_t p = 0; !s && p < P; p++) {
        size_t len;
        s = genc_grpo_encode_prompt(ctx, tok, cfg->template_kind, cfg->empty_think, problems[p].prompt, &pids[p], &len);
        plen[p] = (int64_t)len;
        for (int64_t g = 0; !s && g < G; g++) rows[p * G + g] = pids[p], rlen[p * G + g] = plen[p];
    }
    const char *stops[1] = {"</answer>"};
    int32_t pad = genc_tokenizer_special(tok, "<|pad|>");
    genc_gen_config gc = {.max_new = cfg->max_new, .sampler = cfg->sampler, .eos_id = genc_tokenizer_special(tok, "<|eos|>"),
                          .pad_id = pad, .tok = tok, .stops = stops, .n_stops = 1};
    out->n_all = n;
    if (!s) s = genc_lm_generate(ctx, policy, rows, rlen, n, &gc, &res);
    if (!s) s = genc_grpo_score(ctx, out, &res, problems, cfg, tok, NULL);
    if (!s) out->kept_groups = genc_grpo_advantages(out->reward, P, G, cfg, adv, keep);
    if (cfg->score_only) goto done;
    if (!s) s = genc_grpo_build_rows(ctx, out, (const int32_t *const *)pids, plen, &res, adv, keep, G, pad, cfg->overlong_filter);
    if (!s) genc_grpo_weights(cfg->agg, out->mask, out->rows, out->T, cfg->max_new, out->weight);
    if (!s) s = genc_grpo_logp_of(ctx, policy, out, genc_grpo_temp(cfg), out->old_logp);
    if (!s && cfg->beta > 0) {
        out->ref_logp = malloc((size_t)(out->rows * out->T) * sizeof(genc_real));
        s = out->ref_logp ? genc_grpo_logp_of(ctx, ref, out, genc_grpo_temp(cfg), out->ref_logp)
                          : genc_error(ctx, GENC_ENOMEM, "out of memory");
    }
done:
    for (int64_t p = 0; pids && p < P; p++) free(pids[p]);
    free(pids), free(rows), free(plen), free(rlen), free(adv), free(keep);
    genc_gen_result_free(&res);
    if (s) genc_grpo_rollouts_free(out);
    return s;
}

void genc_grpo_rollouts_free(genc_grpo_rollouts *r) {
    free(r->tokens), free(r->actions), free(r->mask), free(r->weight), free(r->adv);
    free(r->old_logp), free(r->ref_logp), free(r->reward), free(r->think_tokens);
    for (int64_t i = 0; r->text && i < r->n_all; i++) free(r->text[i]);
    free(r->text);
    memset(r, 0, sizeof *r);
}

genc_tensor *genc_grpo_policy_loss(genc_ctx *ctx, genc_lm *policy, const genc_grpo_rollouts *r,
                                   const genc_grpo_config *cfg, genc_grpo_stats *stats) {
    genc_tensor *logits = genc_lm_logits(ctx, policy, r->tokens, r->rows, r->T);
    genc_tensor *flat = genc_reshape(ctx, logits, 2, (int64_t[]){r->rows * r->T, policy->cfg.vocab_size});
    genc_grpo_batch b = {r->actions, r->old_logp, r->ref_logp, r->adv, r->weight, cfg->eps_low, cfg->eps_high, cfg->beta,
                        genc_grpo_temp(cfg)};
    return genc_grpo_loss(ctx, flat, &b, stats);
}
