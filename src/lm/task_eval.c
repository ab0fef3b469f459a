/* Held-out evaluation of a language model on verifiable tasks at fixed sampling settings:
 * k samples per problem, pass@1 = mean accuracy over all samples, cons@k = accuracy of the
 * most frequent answer (majority vote over the trimmed <answer> texts; ties go to the
 * answer seen first). Problems are generated in batches of rows through the latent cache. */
#include "lm/lm_internal.h"
#include "genc/grpo.h"

#include <stdlib.h>
#include <string.h>

/* Trimmed answer text of a response, or an empty span. */
static void answer_span(const char *r, size_t n, const char **a, size_t *len) {
    size_t off = 0, al = 0;
    *a = "", *len = 0;
    if (!genc_response_answer(r, n, false, &off, &al)) return;
    while (al && (r[off] == ' ' || r[off] == '\n' || r[off] == '\t')) off++, al--;
    while (al && (r[off + al - 1] == ' ' || r[off + al - 1] == '\n' || r[off + al - 1] == '\t')) al--;
    *a = r + off, *len = al;
}

/* The majority answer among k responses is correct. */
static int majority_correct(const genc_task_problem *p, char **resp, int64_t k) {
    int64_t best = -1, best_votes = 0;
    for (int64_t i = 0; i < k; i++) {
        const char *a, *b;
        size_t la, lb;
        answer_span(resp[i], strlen(resp[i]), &a, &la);
        if (!la) continue;
        int64_t votes = 0;
        for (int64_t j = 0; j < k; j++) {
            answer_span(resp[j], strlen(resp[j]), &b, &lb);
            votes += la == lb && !memcmp(a, b, la);
        }
        if (votes > best_votes) best = i, best_votes = votes;
    }
    if (best < 0) return 0;
    const char *a;
    size_t la;
    answer_span(resp[best], strlen(resp[best]), &a, &la);
    return genc_task_check_answer(p, a, la) == GENC_CHECK_OK;
}

genc_status genc_task_evaluate(genc_ctx *ctx, genc_lm *m, genc_tokenizer *tok, const genc_task_set *set, int64_t k,
                               const genc_sampler *s, int64_t max_new, const genc_reward_cfg *rc,
                               genc_task_eval_show_fn show, void *user, genc_task_eval *out) {
    memset(out, 0, sizeof *out);
    out->problems = set->n, out->k = k;
    genc_grpo_config c;
    genc_grpo_config_default(&c);
    c.group = k, c.max_new = max_new, c.sampler = *s, c.reward = *rc, c.score_only = true;
    const int64_t per_batch = k >= 16 ? 1 : 16 / k; /* problems per generation batch */
    genc_status st = GENC_OK;
    for (int64_t p0 = 0; !st && p0 < set->n; p0 += per_batch) {
        c.prompts = set->n - p0 < per_batch ? set->n - p0 : per_batch;
        genc_grpo_rollouts r;
        if ((st = genc_grpo_rollout(ctx, m, NULL, tok, set->problems + p0, &c, &r))) break;
        for (int64_t i = 0; i < r.n_all; i++) {
            const genc_task_problem *p = &set->problems[p0 + i / k];
            genc_reward w = genc_task_reward(p, r.text[i], strlen(r.text[i]), rc);
            out->pass1 += w.accuracy, out->format_rate += w.format;
            if (show && (st = show(user, p, r.text[i], &w))) break;
        }
        out->mean_len += r.mean_len * (double)r.n_all;
        for (int64_t q = 0; q < c.prompts; q++) out->consk += majority_correct(&set->problems[p0 + q], r.text + q * k, k);
        genc_grpo_rollouts_free(&r);
    }
    double n = (double)(set->n * k);
    out->pass1 /= n, out->format_rate /= n, out->mean_len /= n, out->consk /= (double)set->n;
    return st;
}
