/* Optimisers: AdamW (Loshchilov & Hutter, decoupled weight decay, bias-corrected moments,
 * in the operation order of torch.optim.AdamW) and SGD with momentum (torch.optim.SGD's
 * convention: the buffer starts as the first gradient). Parameter groups: weight decay on
 * or off per parameter. */
#include "genc/genc.h"
#include "genc/fp8.h"
#include "genc/train.h"

#include <tgmath.h>
#include <stdlib.h>
#include <string.h>

genc_optim_config genc_optim_defaults(genc_opt_kind kind) {
    genc_optim_config c = {.kind = kind, .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                           .momentum = 0.9, .weight_decay = kind == GENC_OPT_ADAMW ? 0.01 : 0};
    return c;
}

genc_status genc_optim_init(genc_ctx *ctx, genc_optim *o, const genc_params *p, const genc_optim_config *cfg) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->params = p;
    int n = p->n ? p->n : 1;
    o->m = calloc((size_t)n, sizeof *o->m);
    o->v = calloc((size_t)n, sizeof *o->v);
    o->decay = calloc((size_t)n, sizeof *o->decay);
    if (!o->m || !o->v || !o->decay) goto nomem;
    for (int i = 0; i < p->n; i++) {
        size_t bytes = (size_t)genc_numel(p->t[i]) * sizeof(genc_real);
        o->decay[i] = p->t[i]->ndim >= 2;
        o->m[i] = calloc(1, bytes);
        if (!o->m[i]) goto nomem;
        if (cfg->kind == GENC_OPT_ADAMW && !(o->v[i] = calloc(1, bytes))) goto nomem;
    }
    return GENC_OK;
nomem:
    genc_optim_free(o);
    return genc_error(ctx, GENC_ENOMEM, "optimiser: out of memory for its state");
}

void genc_optim_set_decay(genc_optim *o, int index, bool decay) { o->decay[index] = decay; }

static void adamw_update(genc_real *w, const genc_real *g, genc_real *m, genc_real *v, int64_t n,
                         const genc_optim_config *c, double lr, bool decay, int64_t t) {
    bool bf16 = c->moments_bf16;
    genc_real shrink = (genc_real)(1.0 - lr * (decay ? c->weight_decay : 0.0));
    genc_real b1 = (genc_real)c->beta1, b2 = (genc_real)c->beta2;
    genc_real step_size = (genc_real)(lr / (1.0 - pow(c->beta1, (double)t)));
    genc_real bc2_sqrt = (genc_real)sqrt(1.0 - pow(c->beta2, (double)t)), eps = (genc_real)c->eps;
#pragma omp parallel for if (n > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        w[i] *= shrink;
        m[i] = m[i] * b1 + g[i] * (1 - b1);
        v[i] = v[i] * b2 + g[i] * g[i] * (1 - b2);
        if (bf16) m[i] = genc_bf16_decode(genc_bf16_encode((float)m[i])), v[i] = genc_bf16_decode(genc_bf16_encode((float)v[i]));
        genc_real denom = sqrt(v[i]) / bc2_sqrt + eps;
        w[i] -= step_size * (m[i] / denom);
    }
}

static void sgd_update(genc_real *w, const genc_real *g, genc_real *buf, int64_t n, const genc_optim_config *c,
                       double lr, bool decay, bool first) {
    genc_real wd = (genc_real)(decay ? c->weight_decay : 0.0), mom = (genc_real)c->momentum, a = (genc_real)lr;
#pragma omp parallel for if (n > GENC_PAR_MIN) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        genc_real d = g[i] + wd * w[i];
        if (mom != 0) buf[i] = first ? d : buf[i] * mom + d, d = buf[i];
        w[i] -= a * d;
    }
}

void genc_optim_step(genc_optim *o, double lr) {
    o->step++;
    for (int i = 0; i < o->params->n; i++) {
        genc_tensor *t = o->params->t[i];
        if (!t->grad || !t->requires_grad) continue;
        int64_t n = genc_numel(t);
        if (o->cfg.kind == GENC_OPT_ADAMW)
            adamw_update(t->data, t->grad, o->m[i], o->v[i], n, &o->cfg, lr, o->decay[i], o->step);
        else
            sgd_update(t->data, t->grad, o->m[i], n, &o->cfg, lr, o->decay[i], o->step == 1);
    }
}

void genc_optim_free(genc_optim *o) {
    int n = o->params ? o->params->n : 0;
    for (int i = 0; i < n; i++) {
        if (o->m) free(o->m[i]);
        if (o->v) free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o->decay);
    memset(o, 0, sizeof *o);
}
