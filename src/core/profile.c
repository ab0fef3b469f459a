/* The step profiler (include/genc/profile.h): per-op forward and backward wall time, GEMM
 * FLOPs and arena bytes, gathered through hooks in genc_record and genc_backward_with. */
#include "core/internal.h"

#include <stdlib.h>
#include <string.h>
#define _POSIX_C_SOURCE 200809L
#include <time.h>

struct genc_profile_state {
    bool on;
    clockid_t clock;
    int n, layer;
    double last, pending_flops;
    size_t last_arena;
    genc_profile_entry e[GENC_PROFILE_MAX_OPS];
    double layer_bytes[GENC_PROFILE_MAX_LAYERS];
};

static double now_s(const struct genc_profile_state *p) {
    struct timespec ts;
    clock_gettime(p->clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The entry named `name` (pointer or text equal), added when new; the last slot takes the
 * overflow so a long tail of names never fails. */
static genc_profile_entry *entry(struct genc_profile_state *p, const char *name) {
    for (int i = 0; i < p->n; i++)
        if (p->e[i].name == name || !strcmp(p->e[i].name, name)) return &p->e[i];
    if (p->n == GENC_PROFILE_MAX_OPS) return &p->e[GENC_PROFILE_MAX_OPS - 1];
    p->e[p->n] = (genc_profile_entry){.name = name};
    return &p->e[p->n++];
}

genc_status genc_profile_start(genc_ctx *ctx, genc_profile_clock clock) {
    if (!ctx->prof && !(ctx->prof = calloc(1, sizeof *ctx->prof)))
        return genc_error(ctx, GENC_ENOMEM, "profile: out of memory");
    struct genc_profile_state *p = ctx->prof;
    memset(p, 0, sizeof *p);
    p->on = true;
    p->clock = clock == GENC_PROFILE_CPU ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    p->layer = -1;
    p->last = now_s(p);
    p->last_arena = ctx->arena_live;
    return GENC_OK;
}

void genc_profile_stop(genc_ctx *ctx) {
    if (ctx->prof) ctx->prof->on = false;
}
bool genc_profile_on(const genc_ctx *ctx) { return ctx->prof && ctx->prof->on; }
void genc_profile_free(genc_ctx *ctx) {
    free(ctx->prof);
    ctx->prof = NULL;
}

void genc_profile_mark(genc_ctx *ctx, const char *name) { genc_profile_forward_op(ctx, name); }

void genc_profile_forward_op(genc_ctx *ctx, const char *name) {
    struct genc_profile_state *p = ctx->prof;
    if (!p || !p->on) return;
    double t = now_s(p);
    /* the arena shrinks only at genc_step_reset: count what this span allocated */
    double bytes = ctx->arena_live >= p->last_arena ? (double)(ctx->arena_live - p->last_arena) : 0;
    genc_profile_entry *e = entry(p, name);
    e->fwd_s += t - p->last, e->fwd_flops += p->pending_flops, e->fwd_calls++, e->fwd_bytes += bytes;
    if (p->layer >= 0 && p->layer < GENC_PROFILE_MAX_LAYERS) p->layer_bytes[p->layer] += bytes;
    p->pending_flops = 0, p->last = t, p->last_arena = ctx->arena_live;
}

void genc_profile_backward_begin(genc_ctx *ctx) {
    struct genc_profile_state *p = ctx->prof;
    if (!p || !p->on) return;
    p->pending_flops = 0, p->last = now_s(p);
}

void genc_profile_backward_op(genc_ctx *ctx, const char *name) {
    struct genc_profile_state *p = ctx->prof;
    if (!p || !p->on) return;
    double t = now_s(p);
    genc_profile_entry *e = entry(p, name);
    e->bwd_s += t - p->last, e->bwd_flops += p->pending_flops, e->bwd_calls++;
    p->pending_flops = 0, p->last = t, p->last_arena = ctx->arena_live;
}

void genc_profile_flops(genc_ctx *ctx, double flops) {
    if (ctx->prof && ctx->prof->on) ctx->prof->pending_flops += flops;
}

void genc_profile_layer(genc_ctx *ctx, int layer) {
    if (ctx->prof && ctx->prof->on) ctx->prof->layer = layer;
}

const genc_profile_entry *genc_profile_entries(const genc_ctx *ctx, int *n) {
    *n = ctx->prof ? ctx->prof->n : 0;
    return ctx->prof ? ctx->prof->e : NULL;
}

double genc_profile_layer_bytes(const genc_ctx *ctx, int layer) {
    if (!ctx->prof || layer < 0 || layer >= GENC_PROFILE_MAX_LAYERS) return 0;
    return ctx->prof->layer_bytes[layer];
}
