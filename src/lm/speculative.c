/* Self-speculative decoding with the multi-token-prediction modules (V3 report section 2.2:
 * module k maps h^{k-1}_i and Emb(t_{i+k}) to h^k_i = TRM_k(M_k [enorm(Emb(t_{i+k}));
 * hnorm(h^{k-1}_i)]) whose head predicts t_{i+k+1}), one row.
 *
 * State: the main cache holds slots 0..n-1 (tokens x_0..x_{n-1}); x_n is sampled but not
 * fed yet; the main hidden states h^0 of every slot are kept (module 1's input); every MTP
 * cache holds its first c confirmed slots. A round:
 *   1. module k = 1..D processes slots c..n-1 with inputs h^{k-1} and t_{i+k} (t_{n+j} for
 *      j >= 1 are this round's drafts) and drafts d_k ~ q_k = sampler(head(h^k_{n-1}));
 *   2. one main forward over [x_n, d_1..d_D] (slots n..n+D) gives p_j for slots n+j;
 *   3. d_j is accepted with probability min(1, p_{j-1}(d_j) / q_j(d_j)) while all before it
 *      were; the first rejected draft is replaced by a draw from max(0, p - q) normalised
 *      (Leviathan et al. 2023, "Fast inference from transformers via speculative decoding";
 *      the output has the main model's distribution), or when all D pass one more token is
 *      drawn from p_D. At temperature 0 p and q are one-hot, so this keeps exactly the
 *      drafts equal to the main model's argmax: the tokens of plain greedy decoding.
 *   4. roll back: the main cache keeps n + a + 1 slots (a accepted); module k's slot i is
 *      confirmed when t_{i+k} is (i + k <= n + a + 1), so every MTP cache is cut to the
 *      smallest confirmed length c' and the next round recomputes from there. */
#include "genc/lm_infer.h"

#include <stdlib.h>
#include <string.h>

struct genc_spec_state {
    genc_lm *m;
    genc_lm_cache *c;
    genc_sampler s;
    int D;
    int64_t V, dim, max_len, n, conf; /* main length n, confirmed MTP length c */
    int32_t *tok;        /* [max_len + 10]: x_0..x_n, then the round's drafts */
    genc_real *h0;       /* [max_len + 10, dim] main hidden states per slot */
    genc_real *ha, *hb;  /* [max_len, dim] module inputs / outputs */
    genc_real *mlog;     /* [V] a module's logits of its last slot */
    genc_real *q, *p;    /* [D, V] draft distributions; [V] */
    genc_real *vlog;     /* [D + 1, V] verification logits */
    int64_t drafted, accepted, forwards;
};

void genc_spec_free(genc_spec_state *st) {
    if (!st) return;
    genc_lm_cache_free(st->c);
    free(st->tok), free(st->h0), free(st->ha), free(st->hb), free(st->mlog), free(st->q), free(st->p), free(st->vlog);
    free(st);
}

void genc_spec_stats(const genc_spec_state *st, int64_t *drafted, int64_t *accepted, int64_t *forwards) {
    *drafted = st->drafted, *accepted = st->accepted, *forwards = st->forwards;
}

/* A token from the distribution `probs` of logits: the argmax at temperature 0 (no draw). */
static int32_t draw(genc_ctx *ctx, const genc_spec_state *st, const genc_real *logits, const genc_real *probs) {
    if (st->s.temperature > 0) return genc_sample_from(ctx, probs, st->V);
    int32_t best = 0;
    for (int64_t i = 1; i < st->V; i++)
        if (logits[i] > logits[best]) best = (int32_t)i;
    return best;
}

static genc_status spec_alloc(genc_ctx *ctx, genc_spec_state *st) {
    size_t L = (size_t)st->max_len + 10, V = (size_t)st->V, d = (size_t)st->dim, R = sizeof(genc_real);
    st->tok = calloc(L, sizeof *st->tok);
    st->h0 = malloc(L * d * R), st->ha = malloc(L * d * R), st->hb = malloc(L * d * R);
    st->mlog = malloc(V * R), st->q = malloc((size_t)st->D * V * R), st->p = malloc(V * R);
    st->vlog = malloc((size_t)(st->D + 1) * V * R);
    if (!st->tok || !st->h0 || !st->ha || !st->hb || !st->mlog || !st->q || !st->p || !st->vlog)
        return genc_error(ctx, GENC_ENOMEM, "out of memory for speculative decoding");
    return GENC_OK;
}

genc_status genc_spec_begin(genc_ctx *ctx, genc_lm *m, const int32_t *prompt, int64_t n, int64_t max_len,
                            const genc_sampler *s, genc_spec_state **out, int32_t *first, double *first_lp) {
    *out = NULL;
    if (m->cfg.mtp_depth < 1) return genc_error(ctx, GENC_EINVAL, "speculative decoding needs MTP modules");
    if (n < 1 || n >= max_len) return genc_error(ctx, GENC_EINVAL, "speculative: prompt of %lld tokens", (long long)n);
    genc_spec_state *st = calloc(1, sizeof *st);
    if (!st) return genc_error(ctx, GENC_ENOMEM, "out of memory for speculative decoding");
    *st = (genc_spec_state){.m = m, .s = *s, .D = m->cfg.mtp_depth, .V = m->cfg.vocab_size, .dim = m->cfg.dim,
                            .max_len = max_len, .n = n};
    genc_status r = spec_alloc(ctx, st);
    if (!r) r = genc_lm_cache_new(ctx, m, 1, max_len, true, &st->c);
    if (!r) memcpy(st->tok, prompt, (size_t)n * sizeof *prompt);
    if (!r) r = genc_lm_decode(ctx, m, st->c, prompt, n, st->vlog, false, st->h0);
    if (!r) r = genc_sampler_probs(ctx, s, st->vlog, st->V, st->p);
    if (r) {
        genc_spec_free(st);
        return r;
    }
    st->tok[n] = *first = draw(ctx, st, st->vlog, st->p);
    *first_lp = genc_sample_logprob(s, st->vlog, st->V, *first);
    *out = st;
    return GENC_OK;
}

/* Step 1: modules 1..nd on slots conf..n-1; drafts tok[n + k] ~ q_k. */
static genc_status draft(genc_ctx *ctx, genc_spec_state *st, int nd) {
    int64_t cnt = st->n - st->conf, V = st->V;
    const genc_real *in = st->h0 + st->conf * st->dim;
    genc_real *outs[2] = {st->ha, st->hb};
    for (int k = 1; k <= nd; k++) {
        genc_real *out = outs[k % 2], *q = st->q + (k - 1) * V;
        genc_status s = genc_lm_mtp_decode(ctx, st->m, st->c, k, in, st->tok + st->conf + k, cnt, st->mlog, false, out);
        if (!s) s = genc_sampler_probs(ctx, &st->s, st->mlog, V, q);
        if (s) return s;
        st->tok[st->n + k] = draw(ctx, st, st->mlog, q);
        in = out;
    }
    return GENC_OK;
}

/* Step 3: how many drafts pass, and the token that follows them (*next). */
static genc_status accept(genc_ctx *ctx, genc_spec_state *st, int nd, int *a, int32_t *next) {
    int64_t V = st->V;
    for (*a = 0; *a <= nd; (*a)++) {
        const genc_real *lg = st->vlog + *a * V;
        genc_status s = genc_sampler_probs(ctx, &st->s, lg, V, st->p);
        if (s) return s;
        if (*a == nd) break; /* every draft passed: one more token from p */
        int32_t d = st->tok[st->n + *a + 1];
        const genc_real *q = st->q + *a * V;
        bool ok = st->s.temperature > 0 ? genc_rand_uniform(ctx) * q[d] < st->p[d] : draw(ctx, st, lg, st->p) == d;
        if (ok) continue;
        if (st->s.temperature > 0) { /* residual max(0, p - q), or p when it vanishes */
            double sum = 0;
            for (int64_t i = 0; i < V; i++) sum += st->p[i] > q[i] ? st->p[i] - q[i] : 0;
            for (int64_t i = 0; sum > 0 && i < V; i++) st->p[i] = st->p[i] > q[i] ? st->p[i] - q[i] : 0;
        }
        break;
    }
    *next = draw(ctx, st, st->vlog + *a * V, st->p);
    return GENC_OK;
}

/* Step 4: roll the caches back to what the accepted tokens confirm. */
static void roll_back(genc_spec_state *st, int nd, int a) {
    int64_t n = st->n, c_new = st->conf;
    genc_lm_cache_truncate(st->c, 0, n + a + 1);
    if (nd > 0) {
        c_new = n;
        for (int k = 1; k <= st->D; k++) {
            int64_t len_k = k <= nd ? (n + a + 2 - k < n ? n + a + 2 - k : n) : st->conf;
            c_new = len_k < c_new ? len_k : c_new;
        }
    }
    for (int k = 1; k <= st->D; k++) genc_lm_cache_truncate(st->c, k, c_new);
    st->conf = c_new;
}

genc_status genc_spec_next(genc_ctx *ctx, genc_spec_state *st, int32_t *ids, double *lps, int64_t *n_out) {
    *n_out = 0;
    int64_t n = st->n, room = st->max_len - n - 1;
    if (room < 0) return genc_error(ctx, GENC_EINVAL, "speculative: the cache of %lld slots is full", (long long)st->max_len);
    int nd = room < st->D ? (int)room : st->D, a = 0;
    int32_t next = 0;
    genc_status s = draft(ctx, st, nd);
    if (!s) s = genc_lm_decode(ctx, st->m, st->c, st->tok + n, nd + 1, st->vlog, true, st->h0 + n * st->dim);
    if (!s) s = accept(ctx, st, nd, &a, &next);
    if (s) return s;
    st->forwards++, st->drafted += nd, st->accepted += a;
    roll_back(st, nd, a);
    st->tok[n + a + 1] = next;
    for (int j = 1; j <= a + 1; j++) {
        ids[j - 1] = st->tok[n + j];
        lps[j - 1] = genc_sample_logprob(&st->s, st->vlog + (j - 1) * st->V, st->V, ids[j - 1]);
    }
    st->n = n + a + 1;
    *n_out = a + 1;
    return GENC_OK;
}
