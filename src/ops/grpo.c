/* The fused GRPO policy objective (see ops.h for the formula): log-softmax of the chosen
 * token, the clipped importance ratio, the k3 KL to the reference, weighted aggregation,
 * and its gradient with respect to the (temperature-divided) logits in one pass per token:
 *   dL/dlogp = -w (dsurr/dlogp - beta (1 - exp(ref - logp))),  dlogp/dz = onehot(a) - softmax(z).
 * dsurr/dlogp = r A where the unclipped term is the smaller, 0 where clipping binds, and at a
 * tie half from each side (PyTorch's convention for minimum, which gives r A when r is in
 * range, the case of every token when old_logp == logp). */
#include "genc/genc.h"

#include <string.h>
#include <tgmath.h>

typedef struct {
    genc_grpo_batch b;
    genc_real *lse; /* [N] log-sum-exp of each row */
} grpo_saved;

/* d surr / d logp for one token. */
static genc_real surr_grad(genc_real r, genc_real A, double lo, double hi) {
    genc_real un = r * A, rc = r < lo ? (genc_real)lo : r > hi ? (genc_real)hi : r, cl = rc * A;
    genc_real dun = r * A, dcl = (r >= lo && r <= hi) ? r * A : 0;
    if (un < cl) return dun;
    if (un > cl) return dcl;
    return (dun + dcl) / 2;
}

static void grpo_backward(genc_ctx *ctx, genc_node *n) {
    genc_tensor *z = n->in[0];
    const grpo_saved *s = n->saved;
    const genc_grpo_batch *b = &s->b;
    int64_t N = z->shape[0], V = z->shape[1];
    genc_real *gz = genc_grad(ctx, z), g = n->out->grad[0];
    if (!gz) return;
#pragma omp parallel for if (N * V > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < N; i++) {
        if (b->weight[i] == 0) continue;
        const genc_real *zi = z->data + i * V;
        genc_real logp = zi[b->actions[i]] - s->lse[i], r = exp(logp - b->old_logp[i]);
        genc_real d = surr_grad(r, b->adv[i], 1 - b->eps_low, 1 + b->eps_high);
        if (b->beta > 0) d -= (genc_real)b->beta * (1 - exp(b->ref_logp[i] - logp));
        d *= -b->weight[i] * g;
        genc_real *gi = gz + i * V;
        for (int64_t v = 0; v < V; v++) gi[v] -= d * exp(zi[v] - s->lse[i]);
        gi[b->actions[i]] += d;
    }
}

static void token_terms(const genc_grpo_batch *b, int64_t i, genc_real logp, double *obj, genc_grpo_stats *st) {
    genc_real r = exp(logp - b->old_logp[i]), A = b->adv[i];
    genc_real rc = r < 1 - b->eps_low ? (genc_real)(1 - b->eps_low) : r > 1 + b->eps_high ? (genc_real)(1 + b->eps_high) : r;
    genc_real surr = r * A < rc * A ? r * A : rc * A, kl = 0;
    if (b->beta > 0) kl = exp(b->ref_logp[i] - logp) - (b->ref_logp[i] - logp) - 1;
    *obj += (double)b->weight[i] * (surr - (genc_real)b->beta * kl);
    st->kl += kl, st->ratio += r, st->clip_frac += rc * A < r * A; /* the clipped side bound */
}

genc_tensor *genc_grpo_loss(genc_ctx *ctx, genc_tensor *logits, const genc_grpo_batch *b, genc_grpo_stats *stats) {
    if (!logits) return NULL;
    if (logits->ndim != 2 || (b->beta > 0 && !b->ref_logp) || b->eps_low < 0 || b->eps_high < 0) {
        genc_error(ctx, GENC_EINVAL, "grpo_loss: expected logits [N, V]%s and eps >= 0",
                   b->beta > 0 && !b->ref_logp ? ", and reference log-probs since beta > 0" : "");
        return NULL;
    }
    if (b->temperature > 0 && b->temperature != 1) logits = genc_scale(ctx, logits, 1.0 / b->temperature);
    genc_tensor *z = genc_contiguous(ctx, logits), *out = genc_tensor_empty(ctx, 1, (int64_t[]){1});
    grpo_saved *s = genc_arena_alloc(ctx, sizeof *s);
    int64_t N = z ? z->shape[0] : 0, V = z ? z->shape[1] : 0;
    if (!z || !out || !s || !(s->lse = genc_arena_alloc(ctx, (size_t)N * sizeof(genc_real)))) return NULL;
    for (int64_t i = 0; i < N; i++)
        if (b->weight[i] != 0 && (b->actions[i] < 0 || b->actions[i] >= V)) {
            genc_error(ctx, GENC_EINVAL, "grpo_loss: actions[%lld] = %d is outside [0, %lld)", (long long)i, b->actions[i], (long long)V);
            return NULL;
        }
    s->b = *b;
    double obj = 0, ent = 0, counted = 0;
    genc_grpo_stats st = {0};
    for (int64_t i = 0; i < N; i++) {
        const genc_real *zi = z->data + i * V;
        s->lse[i] = genc_row_logsumexp(zi, V);
        if (b->weight[i] == 0) continue;
        token_terms(b, i, zi[b->actions[i]] - s->lse[i], &obj, &st);
        for (int64_t v = 0; v < V; v++) ent -= (double)exp(zi[v] - s->lse[i]) * (double)(zi[v] - s->lse[i]);
        counted++;
    }
    out->data[0] = (genc_real)-obj;
    if (stats) {
        double c = counted > 0 ? counted : 1;
        stats->kl = st.kl / c, stats->ratio = st.ratio / c, stats->clip_frac = st.clip_frac / c, stats->entropy = ent / c;
    }
    genc_node *nd = genc_record(ctx, "grpo_loss", grpo_backward, out, 1, &z);
    if (nd) nd->saved = s;
    return genc_ctx_status(ctx) ? NULL : out;
}

void genc_grpo_weights(genc_grpo_agg agg, const genc_real *mask, int64_t rows, int64_t T, int64_t max_len,
                       genc_real *weight) {
    double total = 0;
    for (int64_t i = 0; i < rows * T; i++) total += mask[i] != 0;
    genc_grpo_weights_of(agg, mask, rows, T, max_len, (double)rows, total, 1.0, weight);
}

void genc_grpo_weights_of(genc_grpo_agg agg, const genc_real *mask, int64_t rows, int64_t T, int64_t max_len,
                          double rows_all, double tokens_all, double scale, genc_real *weight) {
    for (int64_t r = 0; r < rows; r++) {
        double len = 0;
        for (int64_t t = 0; t < T; t++) len += mask[r * T + t] != 0;
        double w = agg == GENC_GRPO_AGG_SEQ ? (len > 0 ? scale / (rows_all * len) : 0)
                 : agg == GENC_GRPO_AGG_CONST ? scale / (rows_all * (double)max_len)
                 : (tokens_all > 0 ? scale / tokens_all : 0);
        for (int64_t t = 0; t < T; t++) weight[r * T + t] = mask[r * T + t] != 0 ? (genc_real)w : 0;
    }
}

genc_status genc_grpo_agg_parse(genc_ctx *ctx, const char *name, genc_grpo_agg *out) {
    if (!strcmp(name, "grpo")) *out = GENC_GRPO_AGG_SEQ;
    else if (!strcmp(name, "dr_grpo")) *out = GENC_GRPO_AGG_CONST;
    else if (!strcmp(name, "dapo")) *out = GENC_GRPO_AGG_TOKEN;
    else return genc_error(ctx, GENC_EINVAL, "--loss-agg: expected grpo, dr_grpo or dapo, found \"%s\"", name);
    return GENC_OK;
}
