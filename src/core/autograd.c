/* Reverse-mode autograd over the context's tape (see include/genc/autograd.h), gradient
 * buffers, parameter sets, zeroing and global-norm clipping. */
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool genc_set_grad_enabled(genc_ctx *ctx, bool enabled) {
    bool old = ctx->grad_enabled;
    ctx->grad_enabled = enabled;
    return old;
}
bool genc_grad_enabled(const genc_ctx *ctx) { return ctx->grad_enabled; }

genc_node *genc_record(genc_ctx *ctx, const char *op, genc_backward_fn backward,
                       genc_tensor *out, int n_in, genc_tensor *const *in) {
    if (ctx->prof) genc_profile_forward_op(ctx, op);
    if (!ctx->grad_enabled || !out) return NULL;
    bool any = false;
    for (int i = 0; i < n_in; i++) any |= in[i] && in[i]->requires_grad;
    if (!any) return NULL;
    genc_node *n = genc_arena_calloc(ctx, sizeof *n);
    genc_tensor **ins = n ? genc_arena_alloc(ctx, (size_t)n_in * sizeof *ins) : NULL;
    if (!ins) return NULL;
    memcpy(ins, in, (size_t)n_in * sizeof *ins);
    n->op = op;
    n->backward = backward;
    n->out = out;
    n->in = ins;
    n->n_in = n_in;
    n->prev = ctx->tape;
    ctx->tape = n;
    ctx->tape_len++;
    out->requires_grad = true;
    out->node = n;
    return n;
}

void genc_set_backward_hook(genc_ctx *ctx, genc_backward_hook fn, void *user) {
    ctx->bw_hook = fn, ctx->bw_user = user;
}

/* A released gradient buffer, its header written over its first bytes. */
typedef struct pooled {
    struct pooled *next;
    size_t bytes;
} pooled;

bool genc_set_recycle_grads(genc_ctx *ctx, bool on) {
    bool old = ctx->recycle_grads;
    ctx->recycle_grads = on;
    return old;
}

/* A pooled buffer of exactly `bytes`, taken off the list, or NULL. */
static void *pool_take(genc_ctx *ctx, size_t bytes) {
    for (pooled **pp = (pooled **)&ctx->grad_pool; *pp; pp = &(*pp)->next)
        if ((*pp)->bytes == bytes) {
            pooled *b = *pp;
            *pp = b->next;
            return b;
        }
    return NULL;
}

/* Give t's gradient (a step tensor's, arena memory) back to the pool. */
static void pool_put(genc_ctx *ctx, genc_tensor *t) {
    size_t bytes = (size_t)genc_numel(t) * sizeof(genc_real);
    if (bytes < sizeof(pooled)) return;
    pooled *b = (pooled *)(void *)t->grad;
    b->bytes = bytes, b->next = ctx->grad_pool;
    ctx->grad_pool = b;
    t->grad = NULL;
}

genc_real *genc_grad_fresh(genc_ctx *ctx, genc_tensor *t, bool *fresh) {
    *fresh = false;
    if (t->grad || t->persistent) return genc_grad(ctx, t);
    size_t bytes = (size_t)genc_numel(t) * sizeof(genc_real);
    void *b = ctx->grad_pool ? pool_take(ctx, bytes) : NULL;
    t->grad = b ? b : genc_arena_alloc(ctx, bytes);
    *fresh = t->grad != NULL;
    return t->grad;
}

genc_real *genc_grad(genc_ctx *ctx, genc_tensor *t) {
    if (t->grad) return t->grad;
    size_t bytes = (size_t)genc_numel(t) * sizeof(genc_real);
    if (t->persistent) {
        t->grad = calloc(1, bytes ? bytes : 1);
        if (!t->grad) genc_error(ctx, GENC_ENOMEM, "out of memory for the gradient of %s", t->name);
    } else {
        void *b = ctx->grad_pool ? pool_take(ctx, bytes) : NULL;
        if (b) memset(b, 0, bytes);
        t->grad = b ? b : genc_arena_calloc(ctx, bytes);
    }
    return t->grad;
}

genc_status genc_backward_with(genc_ctx *ctx, genc_tensor *out, const genc_real *seed) {
    if (!out) return genc_ctx_status(ctx) ? genc_ctx_status(ctx) : genc_error(ctx, GENC_EINVAL, "backward: no tensor");
    if (!out->requires_grad)
        return genc_error(ctx, GENC_ESTATE, "backward: the tensor does not depend on any parameter that requires a gradient");
    genc_real *g = genc_grad(ctx, out);
    if (!g) return genc_ctx_status(ctx);
    int64_t n = genc_numel(out);
    for (int64_t i = 0; i < n; i++) g[i] += seed ? seed[i] : 1;
    /* Only nodes recorded up to `out` can contribute; start from out's node. */
    if (ctx->prof) genc_profile_backward_begin(ctx);
    for (genc_node *nd = out->node; nd; nd = nd->prev) {
        if (nd->out->grad) { /* else nothing flowed into this node */
            nd->backward(ctx, nd);
            if (ctx->recycle_grads && nd->out != out && !nd->out->persistent) pool_put(ctx, nd->out);
            if (ctx->prof) genc_profile_backward_op(ctx, nd->op);
            if (genc_ctx_status(ctx)) return genc_ctx_status(ctx);
        }
        if (ctx->bw_hook) ctx->bw_hook(ctx->bw_user, nd);
    }
    return GENC_OK;
}

genc_status genc_backward(genc_ctx *ctx, genc_tensor *loss) {
    if (loss && genc_numel(loss) != 1) {
        char b[64];
        return genc_error(ctx, GENC_EINVAL, "backward: expected a scalar loss, found shape %s",
                          genc_shape_str(loss, b, sizeof b));
    }
    return genc_backward_with(ctx, loss, NULL);
}

/* ---- parameter sets ---- */

/* The loader's bound (genc_param_budget): refuse `numel` more values for `name` when they
 * would take the model past what its file holds. */
static genc_status budget_check(genc_ctx *ctx, const char *name, int64_t numel) {
    if (ctx->param_budget < 0 || numel <= ctx->param_budget - ctx->param_used) return GENC_OK;
    return genc_error(ctx, GENC_EFORMAT, "%s: the model config needs more parameter values than the file's %lld "
                      "(exceeded at \"%s\", %lld values, after %lld): the config does not match the tensors",
                      ctx->budget_label, (long long)ctx->param_budget, name, (long long)numel,
                      (long long)ctx->param_used);
}

genc_status genc_params_add(genc_ctx *ctx, genc_params *p, genc_tensor *t) {
    if (!t) return genc_ctx_status(ctx) ? genc_ctx_status(ctx) : genc_error(ctx, GENC_EINVAL, "params: no tensor");
    if (budget_check(ctx, t->name, genc_numel(t))) return genc_ctx_status(ctx);
    for (int i = 0; i < p->n; i++)
        if (t->name[0] && !strcmp(p->t[i]->name, t->name))
            return genc_error(ctx, GENC_EINVAL, "params: duplicate parameter name \"%s\"", t->name);
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 16;
        genc_tensor **nt = realloc(p->t, (size_t)cap * sizeof *nt);
        if (!nt) return genc_error(ctx, GENC_ENOMEM, "params: out of memory");
        p->t = nt;
        p->cap = cap;
    }
    p->t[p->n++] = t;
    if (ctx->param_budget >= 0) ctx->param_used += genc_numel(t);
    return GENC_OK;
}

genc_tensor *genc_params_new(genc_ctx *ctx, genc_params *p, const char *name, int ndim, const int64_t *shape) {
    if (ctx->param_budget >= 0 && ndim >= 1 && ndim <= GENC_MAX_DIMS && shape) { /* before allocating */
        int64_t n = 1;
        for (int i = 0; i < ndim && n >= 0; i++)
            n = shape[i] < 1 ? 0 : n > INT64_MAX / shape[i] ? -1 : n * shape[i];
        if (budget_check(ctx, name, n < 0 ? INT64_MAX : n)) return NULL;
    }
    genc_tensor *t = genc_param_new(ctx, name, ndim, shape);
    if (!t || genc_params_add(ctx, p, t)) {
        genc_tensor_free(t);
        return NULL;
    }
    return t;
}

void genc_params_free(genc_params *p) {
    free(p->t);
    memset(p, 0, sizeof *p);
}

void genc_params_free_all(genc_params *p) {
    for (int i = 0; i < p->n; i++) genc_tensor_free(p->t[i]);
    genc_params_free(p);
}

int64_t genc_params_numel(const genc_params *p) {
    int64_t n = 0;
    for (int i = 0; i < p->n; i++) n += genc_numel(p->t[i]);
    return n;
}

const genc_tensor *genc_params_nonfinite(const genc_params *p, int64_t *index) {
    for (int i = 0; i < p->n; i++) {
        const genc_real *d = p->t[i]->data;
        int64_t n = genc_numel(p->t[i]), bad = -1;
        for (int64_t j = 0; j < n; j++) /* branch-free: vectorises, costs a fraction of a step */
            bad = isfinite(d[j]) || bad >= 0 ? bad : j;
        if (bad >= 0) {
            if (index) *index = bad;
            return p->t[i];
        }
    }
    return NULL;
}

genc_tensor *genc_params_find(const genc_params *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->t[i]->name, name)) return p->t[i];
    return NULL;
}

void genc_zero_grad(const genc_params *p) {
    for (int i = 0; i < p->n; i++)
        if (p->t[i]->grad) memset(p->t[i]->grad, 0, (size_t)genc_numel(p->t[i]) * sizeof(genc_real));
}

double genc_clip_grad_norm(const genc_params *p, double max_norm) {
    double ss = 0;
    for (int i = 0; i < p->n; i++) {
        const genc_real *g = p->t[i]->grad;
        int64_t n = genc_numel(p->t[i]);
        for (int64_t j = 0; g && j < n; j++) ss += (double)g[j] * g[j];
    }
    double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        genc_real s = (genc_real)(max_norm / (norm + 1e-6));
        for (int i = 0; i < p->n; i++) {
            genc_real *g = p->t[i]->grad;
            int64_t n = genc_numel(p->t[i]);
            for (int64_t j = 0; g && j < n; j++) g[j] *= s;
        }
    }
    return norm;
}
