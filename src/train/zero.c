/* ZeRO stage 1 (Rajbhandari et al. 2020, "ZeRO: memory optimizations toward training trillion
 * parameter models", section 5.1, P_os): the optimiser state sharded over data-parallel ranks.
 * All parameters, in checkpoint order, form one flat vector; rank r owns the elements
 * [lo[r], lo[r+1]) and keeps AdamW moments for those alone, through "views": 1-D tensors over
 * its slice of each parameter's data and gradient, which the ordinary optimiser updates. After
 * the (already all-reduced) gradient step every rank's slice is all-gathered, so every rank holds
 * all parameters again. Checkpoints stay whole: the moments are gathered to rank 0 to be written,
 * and a resume (with any rank count) loads the whole file and keeps its slice. */
#include "genc/genc.h"
#include "genc/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void genc_zero_free(genc_zero *z) {
    for (int i = 0; i < z->views.n; i++) free(z->views.t[i]);
    free(z->views.t), free(z->part), free(z->offset), free(z->lo), free(z->flat);
    genc_optim_free(&z->o);
    memset(z, 0, sizeof *z);
}

/* The views over this rank's [lo, hi) of the flat vector. */
static genc_status make_views(genc_ctx *ctx, genc_zero *z) {
    const genc_params *p = z->params;
    int me = genc_dist_rank(z->dist), cap = p->n ? p->n : 1;
    int64_t lo = z->lo[me], hi = z->lo[me + 1], at = 0;
    z->views.t = calloc((size_t)cap, sizeof *z->views.t);
    z->part = calloc((size_t)cap, sizeof *z->part);
    z->offset = calloc((size_t)cap, sizeof *z->offset);
    if (!z->views.t || !z->part || !z->offset) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int i = 0; i < p->n; at += genc_numel(p->t[i]), i++) {
        int64_t n = genc_numel(p->t[i]), a = lo > at ? lo - at : 0, b = hi < at + n ? hi - at : n;
        if (b <= a) continue;
        genc_tensor *v = calloc(1, sizeof *v);
        if (!v) return genc_error(ctx, GENC_ENOMEM, "out of memory");
        v->ndim = 1, v->shape[0] = b - a, v->stride[0] = 1, v->data = p->t[i]->data + a;
        v->requires_grad = p->t[i]->requires_grad, v->persistent = true;
        snprintf(v->name, sizeof v->name, "%s", p->t[i]->name);
        z->part[z->views.n] = i, z->offset[z->views.n] = a;
        z->views.t[z->views.n++] = v;
    }
    z->views.cap = cap;
    return GENC_OK;
}

genc_status genc_zero_init(genc_ctx *ctx, genc_zero *z, genc_dist *d, const genc_params *p, const genc_optim_config *cfg) {
    memset(z, 0, sizeof *z);
    z->dist = d, z->params = p;
    int R = genc_dist_size(d);
    int64_t total = genc_params_numel(p);
    z->lo = calloc((size_t)R + 1, sizeof *z->lo);
    z->flat = malloc((size_t)(total ? total : 1) * sizeof *z->flat);
    if (!z->lo || !z->flat) return genc_error(ctx, GENC_ENOMEM, "out of memory");
    for (int r = 0; r <= R; r++) z->lo[r] = total * r / R;
    genc_status s = make_views(ctx, z);
    if (!s) s = genc_optim_init(ctx, &z->o, &z->views, cfg);
    for (int k = 0; !s && k < z->views.n; k++) /* the whole parameter's group: decay on matrices */
        genc_optim_set_decay(&z->o, k, p->t[z->part[k]]->ndim >= 2);
    if (s) genc_zero_free(z);
    return s;
}

int64_t genc_zero_state_bytes(const genc_zero *z) {
    int64_t n = 0;
    for (int k = 0; k < z->views.n; k++) n += genc_numel(z->views.t[k]);
    return n * (int64_t)sizeof(genc_real) * (z->o.cfg.kind == GENC_OPT_ADAMW ? 2 : 1);
}

/* Copy between the whole optimiser's moments and this rank's (to_views: whole -> views). */
static void copy_moments(genc_zero *z, genc_optim *full, bool to_views) {
    for (int k = 0; k < z->views.n; k++) {
        int i = z->part[k];
        size_t bytes = (size_t)genc_numel(z->views.t[k]) * sizeof(genc_real);
        genc_real *fm = full->m[i] + z->offset[k], *fv = full->v[i] ? full->v[i] + z->offset[k] : NULL;
        if (to_views) {
            memcpy(z->o.m[k], fm, bytes);
            if (fv) memcpy(z->o.v[k], fv, bytes);
        } else {
            memcpy(fm, z->o.m[k], bytes);
            if (fv) memcpy(fv, z->o.v[k], bytes);
        }
    }
}

genc_status genc_zero_resume(genc_ctx *ctx, genc_zero *z, const char *path, const char *config_json,
                             genc_train_state *st) {
    genc_optim full;
    genc_status s = genc_optim_init(ctx, &full, z->params, &z->o.cfg);
    if (!s) s = genc_checkpoint_resume(ctx, path, config_json, z->params, &full, st);
    if (!s) copy_moments(z, &full, true), z->o.step = full.step;
    genc_optim_free(&full);
    return s;
}

genc_status genc_zero_step(genc_ctx *ctx, genc_zero *z, double lr, int64_t step) {
    const genc_params *p = z->params;
    for (int k = 0; k < z->views.n; k++) { /* the views see this step's gradients (NULL: none) */
        const genc_tensor *t = p->t[z->part[k]];
        z->views.t[k]->grad = t->grad ? t->grad + z->offset[k] : NULL;
    }
    genc_optim_step(&z->o, lr);
    char at[64];
    snprintf(at, sizeof at, "step %lld (ZeRO-1 parameter all-gather)", (long long)step + 1);
    int64_t off = 0;
    for (int i = 0; i < p->n; off += genc_numel(p->t[i]), i++)
        memcpy(z->flat + off, p->t[i]->data, (size_t)genc_numel(p->t[i]) * sizeof *z->flat);
    genc_status s = genc_dist_allgather_real(ctx, z->dist, z->flat, z->lo, at);
    off = 0;
    for (int i = 0; !s && i < p->n; off += genc_numel(p->t[i]), i++)
        memcpy(p->t[i]->data, z->flat + off, (size_t)genc_numel(p->t[i]) * sizeof *z->flat);
    return s;
}

/* One moment (m or v) of every parameter, flat, gathered to rank 0 into full's buffers. */
static genc_status gather_moment(genc_ctx *ctx, genc_zero *z, genc_optim *full, bool v) {
    const genc_params *p = z->params;
    int me = genc_dist_rank(z->dist);
    int64_t at = z->lo[me];
    for (int k = 0; k < z->views.n; k++) { /* this rank's part, in place in the flat buffer */
        int64_t n = genc_numel(z->views.t[k]);
        memcpy(z->flat + at, v ? z->o.v[k] : z->o.m[k], (size_t)n * sizeof *z->flat);
        at += n;
    }
    genc_status s = genc_dist_gather_real(ctx, z->dist, z->flat, z->lo, "a checkpoint (ZeRO-1 moments to rank 0)");
    int64_t off = 0;
    for (int i = 0; !s && me == 0 && full->m && i < p->n; off += genc_numel(p->t[i]), i++) {
        genc_real *dst = v ? full->v[i] : full->m[i];
        if (dst) memcpy(dst, z->flat + off, (size_t)genc_numel(p->t[i]) * sizeof *dst);
    }
    return s;
}

genc_status genc_zero_gather(genc_ctx *ctx, genc_zero *z, genc_optim *full) {
    memset(full, 0, sizeof *full);
    bool root = genc_dist_rank(z->dist) == 0;
    genc_status s = root ? genc_optim_init(ctx, full, z->params, &z->o.cfg) : GENC_OK;
    /* every rank takes part in both gathers, whatever rank 0's allocation did */
    genc_status s1 = gather_moment(ctx, z, full, false);
    genc_status s2 = z->o.cfg.kind == GENC_OPT_ADAMW ? gather_moment(ctx, z, full, true) : GENC_OK;
    if (!s) s = s1 ? s1 : s2;
    if (root && !s) full->step = z->o.step;
    if (s && root) genc_optim_free(full);
    return s;
}
