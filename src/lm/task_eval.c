/* Held-out evaluation of a language model on verifiable tasks at fixed sampling settings:
 * k samples per problem, pass@1 = mean accuracy over all samples, cons@k = accuracy of the
 * most frequent canonical answer among the responses that may score (well-formed ones under
 * the R1 rule; ties go to the answer seen first), and the thinking statistics (think rate,
 * think tokens, the share of correct answers that followed a non-blank think). Problems are
 * generated in batches of rows through the latent cache. */
#include "lm/lm_internal.h"
#include "genc/grpo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void genc_task_eval_opts_default(genc_task_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->k = 4, o->max_new = 64;
    o->sampler = (genc_sampler){.temperature = 1.0, .top_k = 0, .top_p = 1.0};
    genc_reward_cfg_default(&o->reward);
    o->template_kind = GENC_TEMPLATE_R1;
}

static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* The vote of one response: its canonical answer in buf, or false when it has no vote (no
 * single answer block, or not well-formed while accuracy needs the format). Integers vote
 * by value ("007" and "7" agree); a countdown answer that solves the problem votes "=T"
 * (every solution is the same answer); anything else votes its trimmed text. */
static bool vote_key(const genc_task_problem *p, const char *r, const genc_reward_cfg *rc, char *buf, size_t cap) {
    size_t n = strlen(r), off = 0, al = 0;
    if (rc->mode == GENC_REWARD_WEIGHTED && rc->accuracy_needs_format && !genc_response_format_ok(r, n)) return false;
    if (!genc_response_answer(r, n, rc->mode == GENC_REWARD_TINYZERO, &off, &al)) return false;
    const char *a = r + off;
    while (al && is_ws(*a)) a++, al--;
    while (al && is_ws(a[al - 1])) al--;
    if (!al || al + 2 > cap) return false;
    if (p->kind == GENC_TASK_COUNTDOWN && genc_task_check_answer(p, a, al) == GENC_CHECK_OK) {
        snprintf(buf, cap, "=%lld", (long long)p->target);
        return true;
    }
    size_t i = 0, neg = a[0] == '-';
    bool integer = al > neg;
    for (i = neg; i < al; i++) integer &= a[i] >= '0' && a[i] <= '9';
    if (integer) {
        for (i = neg; i + 1 < al && a[i] == '0'; i++) {}
        neg &= !(al - i == 1 && a[i] == '0'); /* "-0" is 0 */
        snprintf(buf, cap, "%s%.*s", neg ? "-" : "", (int)(al - i), a + i);
        return true;
    }
    snprintf(buf, cap, "%.*s", (int)al, a);
    return true;
}

int64_t genc_task_majority(const genc_task_problem *p, const char *const *resp, int64_t k, const genc_reward_cfg *rc) {
    enum { CAP = 256 };
    char (*key)[CAP] = calloc((size_t)(k > 0 ? k : 1), CAP);
    bool *has = calloc((size_t)(k > 0 ? k : 1), sizeof *has);
    int64_t best = -1, best_votes = 0;
    for (int64_t i = 0; key && has && i < k; i++) has[i] = vote_key(p, resp[i], rc, key[i], CAP);
    for (int64_t i = 0; key && has && i < k; i++) {
        if (!has[i]) continue;
        int64_t votes = 0;
        for (int64_t j = 0; j < k; j++) votes += has[j] && !strcmp(key[i], key[j]);
        if (votes > best_votes) best = i, best_votes = votes;
    }
    free(key), free(has);
    return best;
}

static int majority_correct(const genc_task_problem *p, char **resp, int64_t k, const genc_reward_cfg *rc) {
    int64_t best = genc_task_majority(p, (const char *const *)resp, k, rc);
    return best >= 0 && genc_task_reward(p, resp[best], strlen(resp[best]), rc).accuracy;
}

genc_status genc_task_evaluate(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_task_set *set,
                               const genc_task_eval_opts *o, genc_task_eval *out) {
    memset(out, 0, sizeof *out);
    out->problems = set->n, out->k = o->k;
    genc_grpo_config c;
    genc_grpo_config_default(&c);
    c.group = o->k, c.max_new = o->max_new, c.sampler = o->sampler, c.reward = o->reward, c.score_only = true;
    c.template_kind = o->template_kind, c.empty_think = o->empty_think;
    const int64_t per_batch = o->k >= 16 ? 1 : 16 / o->k; /* problems per generation batch */
    double correct = 0, correct_think = 0;
    genc_status st = GENC_OK;
    for (int64_t p0 = 0; !st && p0 < set->n; p0 += per_batch) {
        c.prompts = set->n - p0 < per_batch ? set->n - p0 : per_batch;
        genc_grpo_rollouts r;
        if ((st = genc_grpo_rollout(ctx, m, NULL, tok, set->problems + p0, &c, &r))) break;
        for (int64_t i = 0; i < r.n_all; i++) {
            const genc_task_problem *p = &set->problems[p0 + i / o->k];
            genc_reward w = genc_task_reward(p, r.text[i], strlen(r.text[i]), &o->reward);
            out->pass1 += w.accuracy, out->format_rate += w.format, out->think_rate += w.think;
            out->think_len += (double)r.think_tokens[i];
            correct += w.accuracy, correct_think += w.accuracy && w.think;
            if (o->show && (st = o->show(o->user, p, r.text[i], &w))) break;
        }
        out->mean_len += r.mean_len * (double)r.n_all;
        for (int64_t q = 0; q < c.prompts; q++)
            out->consk += majority_correct(&set->problems[p0 + q], r.text + q * o->k, o->k, &o->reward);
        genc_grpo_rollouts_free(&r);
    }
    double n = (double)(set->n * o->k);
    out->pass1 /= n, out->format_rate /= n, out->mean_len /= n, out->consk /= (double)set->n;
    out->think_rate /= n, out->think_len /= n;
    out->correct_think = correct > 0 ? correct_think / correct : 0;
    return st;
}
