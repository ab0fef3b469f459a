/* Token samplers: greedy argmax (temperature 0, ties to the lowest id), and
 *   p_i = softmax(logits / T)_i = e^{(l_i - max l) / T} / sum_j e^{(l_j - max l) / T}
 * truncated to the top_k most likely ids, then to the smallest most-likely prefix whose
 * (renormalised) mass is >= top_p (nucleus sampling, Holtzman et al. 2019; at least one
 * id), renormalised and drawn with one uniform from the context's Philox stream. The
 * reported log-probability is log p_i of the untruncated tempered distribution. */
#include "genc/lm_infer.h"

#include <math.h>
#include <stdlib.h>

genc_status genc_sampler_check(genc_ctx *ctx, const genc_sampler *s) {
    if (!(s->temperature >= 0) || !isfinite(s->temperature))
        return genc_error(ctx, GENC_EINVAL, "temperature: expected >= 0, found %g", s->temperature);
    if (s->top_k < 0) return genc_error(ctx, GENC_EINVAL, "top-k: expected >= 0, found %lld", (long long)s->top_k);
    if (!(s->top_p > 0 && s->top_p <= 1)) return genc_error(ctx, GENC_EINVAL, "top-p: expected in (0, 1], found %g", s->top_p);
    return GENC_OK;
}

/* argmax_i l_i, ties to the lowest i. */
static int32_t argmax(const genc_real *l, int64_t V) {
    int64_t best = 0;
    for (int64_t i = 1; i < V; i++)
        if (l[i] > l[best]) best = i;
    return (int32_t)best;
}

typedef struct {
    genc_real p;
    int32_t id;
} ranked;

/* Descending probability, ties to the lowest id. */
static int by_rank(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* probs = softmax(logits / T), computed in double. */
static void tempered_softmax(const genc_real *l, int64_t V, double T, genc_real *probs) {
    double mx = l[argmax(l, V)], sum = 0;
    for (int64_t i = 0; i < V; i++) sum += exp(((double)l[i] - mx) / T);
    for (int64_t i = 0; i < V; i++) probs[i] = (genc_real)(exp(((double)l[i] - mx) / T) / sum);
}

/* Zero every id outside the top-k / top-p set of probs (formula at the top), renormalise. */
static genc_status truncate_probs(genc_ctx *ctx, const genc_sampler *s, genc_real *probs, int64_t V) {
    int64_t k = s->top_k > 0 && s->top_k < V ? s->top_k : V;
    if (k == V && s->top_p >= 1) return GENC_OK;
    ranked *r = malloc((size_t)V * sizeof *r);
    if (!r) return genc_error(ctx, GENC_ENOMEM, "out of memory in the sampler");
    for (int64_t i = 0; i < V; i++) r[i] = (ranked){probs[i], (int32_t)i};
    qsort(r, (size_t)V, sizeof *r, by_rank);
    double mass_k = 0, cum = 0;
    for (int64_t i = 0; i < k; i++) mass_k += r[i].p;
    int64_t keep = 0;
    while (keep < k && (keep == 0 || cum < s->top_p * mass_k)) cum += r[keep++].p;
    for (int64_t i = keep; i < V; i++) probs[r[i].id] = 0;
    for (int64_t i = 0; i < keep; i++) probs[r[i].id] = (genc_real)(r[i].p / cum);
    free(r);
    return GENC_OK;
}

genc_status genc_sampler_probs(genc_ctx *ctx, const genc_sampler *s, const genc_real *logits, int64_t V,
                               genc_real *probs) {
    if (s->temperature <= 0) {
        for (int64_t i = 0; i < V; i++) probs[i] = 0;
        probs[argmax(logits, V)] = 1;
        return GENC_OK;
    }
    tempered_softmax(logits, V, s->temperature, probs);
    return truncate_probs(ctx, s, probs, V);
}

int32_t genc_sample_from(genc_ctx *ctx, const genc_real *probs, int64_t n) {
    double u = genc_rand_uniform(ctx), total = 0;
    for (int64_t i = 0; i < n; i++) total += probs[i] > 0 ? probs[i] : 0;
    u *= total;
    int32_t last = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(probs[i] > 0)) continue;
        last = (int32_t)i;
        if ((u -= probs[i]) < 0) return last;
    }
    return last;
}

double genc_sample_logprob(const genc_sampler *s, const genc_real *logits, int64_t V, int32_t id) {
    double T = s->temperature > 0 ? s->temperature : 1, mx = logits[argmax(logits, V)], sum = 0;
    for (int64_t i = 0; i < V; i++) sum += exp(((double)logits[i] - mx) / T);
    return ((double)logits[id] - mx) / T - log(sum);
}

int32_t genc_sample(genc_ctx *ctx, const genc_sampler *s, const genc_real *logits, int64_t V, double *logprob) {
    int32_t id;
    if (s->temperature <= 0) {
        id = argmax(logits, V);
    } else {
        genc_real *p = malloc((size_t)V * sizeof *p);
        if (!p || genc_sampler_probs(ctx, s, logits, V, p)) {
            if (!p) genc_error(ctx, GENC_ENOMEM, "out of memory in the sampler");
            free(p);
            return -1;
        }
        id = genc_sample_from(ctx, p, V);
        free(p);
    }
    if (logprob) *logprob = genc_sample_logprob(s, logits, V, id);
    return id;
}
