/* Data parallelism with the gradient all-reduce overlapped with the backward pass (dist.h,
 * genc_dist_backward_overlap). Before the pass, one walk of the tape finds, for each trainable
 * parameter, the last node the pass visits that adds to its gradient; from then on that gradient
 * is final. The parameters, last layer first (the order the pass finishes them in), form buckets
 * of about 256 KiB; a hook after every visited node starts each bucket's MPI_Iallreduce once all
 * its parameters are final, in bucket order on every rank (collectives must start in the same
 * order everywhere), and lets MPI progress the ones in flight. A parameter with no gradient here
 * travels as zeros; after the pass the loss, the stop flag and which gradients exist are
 * exchanged, and a gradient no rank produced stays absent, as in genc_dist_average_grads. */
#include "genc/dist.h"
#include "genc/genc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OVERLAP_BUCKET (1 << 16) /* reals: 256 KiB of floats */

typedef struct {
    const genc_tensor *t;
    int i;
} param_ref;

typedef struct {
    genc_ctx *ctx;
    genc_dist *d;
    const genc_params *p;
    int64_t *last;            /* per parameter: the visit after which its gradient is final (-1: none adds) */
    int *order, nb, next;     /* trainable parameters, last first; buckets; the next to start */
    int *b_first;             /* bucket b: order[b_first[b] .. b_first[b + 1]) */
    int64_t *b_off, *b_ready; /* its offset in flat; the visit after which it can start */
    genc_real *flat;
    int64_t visited;
    genc_dist_pending *pend;
    genc_status s;
    char at[64];
} overlap;

static int by_ptr(const void *a, const void *b) {
    const genc_tensor *x = ((const param_ref *)a)->t, *y = ((const param_ref *)b)->t;
    return (x > y) - (x < y);
}

/* last[i] for every parameter: walk the tape in the pass's order. */
static genc_status find_last(genc_ctx *ctx, overlap *o, const genc_tensor *loss) {
    const genc_params *p = o->p;
    param_ref *ref = malloc((size_t)(p->n ? p->n : 1) * sizeof *ref);
    if (!ref) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int i = 0; i < p->n; i++) ref[i] = (param_ref){p->t[i], i}, o->last[i] = -1;
    qsort(ref, (size_t)p->n, sizeof *ref, by_ptr);
    int64_t k = 0;
    for (const genc_node *nd = loss->node; nd; nd = nd->prev, k++)
        for (int a = 0; a < nd->n_in; a++) {
            param_ref key = {nd->in[a], 0}, *hit = bsearch(&key, ref, (size_t)p->n, sizeof *ref, by_ptr);
            if (hit) o->last[hit->i] = k;
        }
    free(ref);
    return GENC_OK;
}

/* Buckets over the trainable parameters, last registered first. */
static genc_status plan(genc_ctx *ctx, overlap *o) {
    const genc_params *p = o->p;
    int n = 0;
    o->order = malloc((size_t)(p->n + 1) * sizeof *o->order);
    o->b_first = malloc((size_t)(p->n + 2) * sizeof *o->b_first);
    o->b_off = malloc((size_t)(p->n + 2) * sizeof *o->b_off), o->b_ready = malloc((size_t)(p->n + 1) * sizeof *o->b_ready);
    if (!o->order || !o->b_first || !o->b_off || !o->b_ready) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int i = p->n - 1; i >= 0; i--)
        if (p->t[i]->requires_grad) o->order[n++] = i;
    int64_t off = 0, in_bucket = 0;
    o->nb = 0;
    for (int k = 0; k < n; k++) {
        int64_t m = genc_numel(p->t[o->order[k]]);
        if (k == 0 || in_bucket + m > OVERLAP_BUCKET) {
            o->b_first[o->nb] = k, o->b_off[o->nb] = off, o->b_ready[o->nb] = -1, o->nb++;
            in_bucket = 0;
        }
        int64_t r = o->last[o->order[k]];
        if (r > o->b_ready[o->nb - 1]) o->b_ready[o->nb - 1] = r;
        in_bucket += m, off += m;
    }
    o->b_first[o->nb] = n, o->b_off[o->nb] = off;
    o->flat = malloc((size_t)(off ? off : 1) * sizeof *o->flat);
    return o->flat ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory for the gradient buffer (%lld values)",
                                          (long long)off);
}

/* Copy bucket b's gradients (zeros where this rank has none) into flat and start its sum. */
static void start_bucket(overlap *o, int b) {
    genc_real *dst = o->flat + o->b_off[b];
    for (int k = o->b_first[b]; k < o->b_first[b + 1]; k++) {
        const genc_tensor *t = o->p->t[o->order[k]];
        int64_t m = genc_numel(t);
        if (t->grad) memcpy(dst, t->grad, (size_t)m * sizeof *dst);
        else memset(dst, 0, (size_t)m * sizeof *dst);
        dst += m;
    }
    if (!o->s) o->s = genc_dist_isum_real(o->ctx, o->d, o->flat + o->b_off[b], o->b_off[b + 1] - o->b_off[b], &o->pend, o->at);
}

static void after_node(void *user, const genc_node *nd) {
    overlap *o = user;
    (void)nd;
    for (; !o->s && o->next < o->nb && o->b_ready[o->next] <= o->visited; o->next++) start_bucket(o, o->next);
    genc_dist_progress(o->pend);
    o->visited++;
}

/* After the pass: the loss, stop flag and gradient presence of every rank; the averaged
 * gradients where any rank has one. */
static genc_status finish(overlap *o, double *loss_value, bool *stop) {
    const genc_params *p = o->p;
    int R = genc_dist_size(o->d);
    double *v = malloc((size_t)(p->n + 2) * sizeof *v), *any = v + 2;
    if (!v) return genc_error(o->ctx, GENC_ENOMEM, "out of memory");
    v[0] = *loss_value, v[1] = *stop ? 1 : 0;
    for (int i = 0; i < p->n; i++) any[i] = p->t[i]->requires_grad && p->t[i]->grad ? 1 : 0;
    genc_status s = genc_dist_sum_f64(o->ctx, o->d, v, p->n + 2, o->at);
    const genc_real *src = o->flat; /* the buckets lie end to end, in order */
    for (int k = 0; !s && k < o->b_first[o->nb]; k++) {
        genc_tensor *t = p->t[o->order[k]];
        int64_t m = genc_numel(t);
        if (any[o->order[k]] > 0) { /* else no rank has it: it stays absent */
            genc_real *g = genc_grad(o->ctx, t);
            if (!g) s = genc_ctx_status(o->ctx);
            for (int64_t j = 0; !s && j < m; j++) g[j] = src[j] * (genc_real)(1.0 / R);
        }
        src += m;
    }
    if (!s) *loss_value = v[0] / R, *stop = v[1] > 0;
    free(v);
    return s;
}

genc_status genc_dist_backward_overlap(genc_ctx *ctx, genc_dist *d, const genc_params *p, genc_tensor *loss,
                                       int64_t step, double *loss_value, bool *stop, uint64_t *bytes) {
    uint64_t sent0 = genc_dist_bytes_sent(d);
    overlap o = {.ctx = ctx, .d = d, .p = p, .last = malloc((size_t)(p->n ? p->n : 1) * sizeof *o.last)};
    snprintf(o.at, sizeof o.at, "step %lld", (long long)step + 1);
    genc_status s = o.last && loss ? GENC_OK : genc_error(ctx, GENC_ENOMEM, "out of memory");
    if (!s) s = find_last(ctx, &o, loss);
    if (!s) s = plan(ctx, &o);
    if (!s) genc_set_backward_hook(ctx, after_node, &o);
    if (!s) s = genc_backward(ctx, loss);
    genc_set_backward_hook(ctx, NULL, NULL);
    for (; !s && !o.s && o.next < o.nb; o.next++) start_bucket(&o, o.next);
    if (!s) s = o.s;
    if (!s) s = genc_dist_wait_sums(ctx, d, &o.pend, o.at);
    if (!s) s = finish(&o, loss_value, stop);
    *bytes = genc_dist_bytes_sent(d) - sent0;
    if (!o.pend) free(o.flat); /* else a started sum may still write there: the run is failing */
    free(o.last), free(o.order), free(o.b_first), free(o.b_off), free(o.b_ready);
    return s;
}
