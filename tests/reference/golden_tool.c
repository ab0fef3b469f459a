/* golden_tool: runs genc ops (float32) on inputs read from a safetensors file and writes
 * their outputs and gradients, for the PyTorch golden tests (tests/reference/test_golden.py
 * generates the inputs and the expected values with torch and compares).
 *
 *   golden_tool CASE IN OUT      IN: tensors "in.<name>" (F32; class targets I32)
 *                                OUT: tensors "out.<name>" (F32)
 *   golden_tool --list           the case names, one a line
 *
 * The case code below is also compiled into tests/unit/test_golden.c (which defines
 * GOLDEN_NO_MAIN and includes this file), so the same cases are checked in CI without
 * torch against the committed files in tests/reference/golden/ (inputs and expected
 * outputs in one safetensors file per case, with a .golden extension).
 *
 * Single-output cases: forward y, then backward seeded with in.dy (or from the scalar
 * loss), emitting out.y and out.grad.<input> for every input that takes a gradient. */
#include "genc/genc.h"
#include "genc/safetensors.h"
#include "genc/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*golden_emit_fn)(void *user, const char *name, const genc_real *data, int ndim,
                               const int64_t *shape);

typedef struct {
    genc_ctx *ctx;
    const genc_st *st;
    golden_emit_fn emit;
    void *user;
    genc_tensor *owned[32];
    int n_owned;
    void *heap[8];
    int n_heap;
} golden_io;

/* Persistent tensor from "in.<name>", with requires_grad (and a gradient buffer) if `grad`. */
static genc_tensor *g_in(golden_io *io, const char *name, bool grad) {
    char key[128];
    snprintf(key, sizeof key, "in.%s", name);
    const genc_st_entry *e = genc_st_find(io->st, key);
    if (!e) {
        genc_error(io->ctx, GENC_EFORMAT, "golden: input %s missing", key);
        return NULL;
    }
    if (e->ndim < 1 || e->ndim > GENC_MAX_DIMS || io->n_owned == 32) {
        genc_error(io->ctx, GENC_EFORMAT, "golden: input %s has %d dims", key, e->ndim);
        return NULL;
    }
    genc_tensor *t = grad ? genc_param_new(io->ctx, name, e->ndim, e->shape) : genc_tensor_new(io->ctx, e->ndim, e->shape);
    if (!t) return NULL;
    io->owned[io->n_owned++] = t;
    if (genc_st_read_f32(io->ctx, io->st, key, t->data, e->ndim, e->shape)) return NULL;
    return t;
}

/* Integer vector "in.<name>" as int32 (freed with the io). */
static int32_t *g_in_i32(golden_io *io, const char *name, int64_t *n) {
    char key[128];
    snprintf(key, sizeof key, "in.%s", name);
    const genc_st_entry *e = genc_st_find(io->st, key);
    if (!e || e->ndim != 1 || io->n_heap == 8) {
        genc_error(io->ctx, GENC_EFORMAT, "golden: integer vector %s missing", key);
        return NULL;
    }
    *n = e->shape[0];
    int64_t *tmp = malloc((size_t)(*n ? *n : 1) * sizeof *tmp);
    int32_t *out = malloc((size_t)(*n ? *n : 1) * sizeof *out);
    if (!tmp || !out) {
        free(tmp), free(out);
        genc_error(io->ctx, GENC_ENOMEM, "golden: out of memory");
        return NULL;
    }
    io->heap[io->n_heap++] = out;
    genc_status s = genc_st_read_i64(io->ctx, io->st, key, tmp, 1, e->shape);
    for (int64_t i = 0; !s && i < *n; i++) out[i] = (int32_t)tmp[i];
    free(tmp);
    return s ? NULL : out;
}

static void g_emit(golden_io *io, const char *name, const genc_real *data, int ndim, const int64_t *shape) {
    io->emit(io->user, name, data, ndim, shape);
}
static void g_out(golden_io *io, const char *name, const genc_tensor *t) {
    GENC_ASSERT(genc_is_contiguous(t));
    g_emit(io, name, t->data, t->ndim, t->shape);
}
static void g_grad(golden_io *io, const genc_tensor *t) {
    char key[128];
    snprintf(key, sizeof key, "grad.%s", t->name);
    GENC_ASSERT(t->grad);
    g_emit(io, key, t->grad, t->ndim, t->shape);
}

/* Emit y, backpropagate in.dy into it, emit the gradients of the given leaves. */
static genc_status g_finish(golden_io *io, genc_tensor *y, genc_tensor *const *leaves, int n) {
    if (!y) return genc_ctx_status(io->ctx);
    g_out(io, "y", y);
    genc_tensor *dy = g_in(io, "dy", false);
    if (!dy) return genc_ctx_status(io->ctx);
    if (genc_numel(dy) != genc_numel(y)) return genc_error(io->ctx, GENC_EFORMAT, "golden: dy does not fit y");
    genc_status s = genc_backward_with(io->ctx, y, dy->data);
    if (s) return s;
    for (int i = 0; i < n; i++) g_grad(io, leaves[i]);
    return GENC_OK;
}

static genc_status case_matmul(golden_io *io) { /* a [..., M, K] @ b [..., K, N] */
    genc_tensor *a = g_in(io, "a", true), *b = g_in(io, "b", true);
    genc_tensor *leaves[2] = {a, b};
    return g_finish(io, genc_matmul(io->ctx, a, b), leaves, 2);
}
static genc_status case_matmul_tb(golden_io *io) { /* a [..., M, K] @ b [..., N, K]^T */
    genc_tensor *a = g_in(io, "a", true), *b = g_in(io, "b", true);
    genc_tensor *leaves[2] = {a, b};
    if (!b) return genc_ctx_status(io->ctx);
    return g_finish(io, genc_matmul(io->ctx, a, genc_transpose(io->ctx, b, b->ndim - 2, b->ndim - 1)), leaves, 2);
}
static genc_status case_matmul_ta(golden_io *io) { /* a [K, M]^T @ b [K, N] */
    genc_tensor *a = g_in(io, "a", true), *b = g_in(io, "b", true);
    genc_tensor *leaves[2] = {a, b};
    return g_finish(io, genc_matmul(io->ctx, genc_transpose(io->ctx, a, 0, 1), b), leaves, 2);
}
static genc_status case_linear(golden_io *io) { /* x [..., in] W^T + b */
    genc_tensor *x = g_in(io, "x", true), *w = g_in(io, "w", true), *b = g_in(io, "b", true);
    genc_tensor *leaves[3] = {x, w, b};
    return g_finish(io, genc_linear(io->ctx, x, w, b), leaves, 3);
}
static genc_status case_softmax(golden_io *io) {
    genc_tensor *x = g_in(io, "x", true);
    return g_finish(io, genc_softmax(io->ctx, x), &x, 1);
}
static genc_status case_log_softmax(golden_io *io) {
    genc_tensor *x = g_in(io, "x", true);
    return g_finish(io, genc_log_softmax(io->ctx, x), &x, 1);
}
static genc_status case_cross_entropy(golden_io *io) { /* mean over rows, targets -100 ignored */
    genc_tensor *logits = g_in(io, "logits", true);
    int64_t n = 0;
    int32_t *targets = g_in_i32(io, "targets", &n);
    if (!logits || !targets) return genc_ctx_status(io->ctx);
    if (n != genc_numel(logits) / logits->shape[logits->ndim - 1])
        return genc_error(io->ctx, GENC_EFORMAT, "golden: targets do not fit logits");
    genc_tensor *loss = genc_cross_entropy(io->ctx, logits, targets, -100);
    if (!loss) return genc_ctx_status(io->ctx);
    g_out(io, "y", loss);
    genc_status s = genc_backward(io->ctx, loss);
    if (!s) g_grad(io, logits);
    return s;
}
static genc_status case_rmsnorm(golden_io *io) { /* eps 1e-6 */
    genc_tensor *x = g_in(io, "x", true), *w = g_in(io, "w", true);
    genc_tensor *leaves[2] = {x, w};
    return g_finish(io, genc_rmsnorm(io->ctx, x, w, 1e-6), leaves, 2);
}
static genc_status case_layernorm(golden_io *io) { /* eps 1e-5 */
    genc_tensor *x = g_in(io, "x", true), *w = g_in(io, "w", true), *b = g_in(io, "b", true);
    genc_tensor *leaves[3] = {x, w, b};
    return g_finish(io, genc_layernorm(io->ctx, x, w, b, 1e-5), leaves, 3);
}
static genc_status case_conv2d(golden_io *io) { /* stride 2, padding 1, bias */
    genc_tensor *x = g_in(io, "x", true), *w = g_in(io, "w", true), *b = g_in(io, "b", true);
    genc_tensor *leaves[3] = {x, w, b};
    return g_finish(io, genc_conv2d(io->ctx, x, w, b, 2, 1), leaves, 3);
}

/* MLP in -> hidden (ReLU) -> out, MSE against in.target, 10 AdamW steps with lr 1e-2,
 * betas (0.9, 0.999), eps 1e-8, weight decay 0.1 on the matrices and none on the biases
 * (genc's default parameter groups). Emits the step-0 output and gradients (x included),
 * the loss of every step and the parameters after the 10 steps. */
#define GOLDEN_MLP_STEPS 10
static genc_status case_mlp_adamw(golden_io *io) {
    genc_ctx *ctx = io->ctx;
    genc_tensor *x = g_in(io, "x", true), *target = g_in(io, "target", false);
    genc_tensor *w1 = g_in(io, "w1", true), *b1 = g_in(io, "b1", true);
    genc_tensor *w2 = g_in(io, "w2", true), *b2 = g_in(io, "b2", true);
    if (genc_ctx_status(ctx)) return genc_ctx_status(ctx);
    genc_params p = {0};
    genc_tensor *ps[4] = {w1, b1, w2, b2};
    for (int i = 0; i < 4; i++)
        if (genc_params_add(ctx, &p, ps[i])) return genc_params_free(&p), genc_ctx_status(ctx);
    genc_optim_config cfg = genc_optim_defaults(GENC_OPT_ADAMW);
    cfg.lr = 1e-2, cfg.beta1 = 0.9, cfg.beta2 = 0.999, cfg.eps = 1e-8, cfg.weight_decay = 0.1;
    genc_optim o;
    if (genc_optim_init(ctx, &o, &p, &cfg)) return genc_params_free(&p), genc_ctx_status(ctx);
    genc_real losses[GOLDEN_MLP_STEPS];
    genc_status s = GENC_OK;
    for (int step = 0; step < GOLDEN_MLP_STEPS && !s; step++) {
        genc_zero_grad(&p);
        genc_tensor *h = genc_relu(ctx, genc_linear(ctx, x, w1, b1));
        genc_tensor *y = genc_linear(ctx, h, w2, b2);
        genc_tensor *loss = genc_mean_all(ctx, genc_square(ctx, genc_sub(ctx, y, target)));
        if (!loss) {
            s = genc_ctx_status(ctx);
            break;
        }
        losses[step] = loss->data[0];
        if (step == 0) g_out(io, "y", y);
        if ((s = genc_backward(ctx, loss))) break;
        if (step == 0) {
            g_grad(io, x);
            for (int i = 0; i < 4; i++) g_grad(io, ps[i]);
        }
        genc_optim_step(&o, cfg.lr);
        genc_step_reset(ctx);
    }
    if (!s) {
        int64_t n = GOLDEN_MLP_STEPS;
        g_emit(io, "loss", losses, 1, &n);
        for (int i = 0; i < 4; i++) {
            char key[128];
            snprintf(key, sizeof key, "param.%s", ps[i]->name);
            g_out(io, key, ps[i]);
        }
    }
    genc_optim_free(&o);
    genc_params_free(&p);
    return s;
}

typedef struct {
    const char *name;
    genc_status (*run)(golden_io *io);
} golden_case;

static const golden_case golden_cases[] = {
    {"matmul_batched", case_matmul},     {"matmul_bcast", case_matmul},
    {"matmul_tb", case_matmul_tb},       {"matmul_batched_tb", case_matmul_tb},
    {"matmul_ta", case_matmul_ta},       {"linear", case_linear},
    {"softmax", case_softmax},           {"log_softmax", case_log_softmax},
    {"cross_entropy", case_cross_entropy}, {"rmsnorm", case_rmsnorm},
    {"layernorm", case_layernorm},       {"conv2d", case_conv2d},
    {"mlp_adamw", case_mlp_adamw},
};
#define GOLDEN_N_CASES ((int)(sizeof golden_cases / sizeof golden_cases[0]))

/* Run one case on the inputs in `st`; every output goes to emit(). Frees what it made and
 * resets the step arena. */
static genc_status golden_run(genc_ctx *ctx, const golden_case *c, const genc_st *st, golden_emit_fn emit,
                              void *user) {
    golden_io io = {.ctx = ctx, .st = st, .emit = emit, .user = user};
    genc_status s = c->run(&io);
    if (!s && genc_ctx_status(ctx)) s = genc_ctx_status(ctx);
    genc_step_reset(ctx);
    for (int i = 0; i < io.n_owned; i++) genc_tensor_free(io.owned[i]);
    for (int i = 0; i < io.n_heap; i++) free(io.heap[i]);
    return s;
}

#ifndef GOLDEN_NO_MAIN
static const golden_case *golden_find(const char *name) {
    for (int i = 0; i < GOLDEN_N_CASES; i++)
        if (!strcmp(golden_cases[i].name, name)) return &golden_cases[i];
    return NULL;
}

static void emit_to_writer(void *user, const char *name, const genc_real *data, int ndim, const int64_t *shape) {
    char key[160];
    snprintf(key, sizeof key, "out.%s", name);
    genc_st_writer_add_f32(user, key, GENC_DT_F32, ndim, shape, data);
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (int i = 0; i < GOLDEN_N_CASES; i++) puts(golden_cases[i].name);
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: golden_tool CASE IN OUT | golden_tool --list\n");
        return 2;
    }
    const golden_case *c = golden_find(argv[1]);
    if (!c) {
        fprintf(stderr, "golden_tool: unknown case %s\n", argv[1]);
        return 2;
    }
    genc_ctx *ctx = genc_ctx_new();
    genc_st *st = NULL;
    genc_st_writer *w = NULL;
    genc_status s = genc_st_open(ctx, argv[2], &st);
    if (!s) w = genc_st_writer_new(ctx);
    if (!s && w) s = golden_run(ctx, c, st, emit_to_writer, w);
    if (!s && w) s = genc_ctx_status(ctx); /* a failed writer_add */
    if (!s && w) s = genc_st_writer_save(w, argv[3]);
    if (s || !w) fprintf(stderr, "golden_tool %s: %s\n", argv[1], genc_last_error(ctx));
    int rc = (s || !w) ? 1 : 0;
    genc_st_writer_free(w);
    genc_st_close(st);
    genc_ctx_free(ctx);
    return rc;
}
#endif
